"""Train the offline vocal mask network (``audio_alchemy.separate.masknet``) on MUSDB18 train previews.

    python scripts/train_separator.py --minutes 20 --threads 1 --out src/audio_alchemy/separate/weights/masknet.pt

The shipped separator averages the masks of every ``weights/masknet*.pt`` (an ensemble); a new member is a run
with another ``--seed`` saved as ``weights/masknet_<name>.pt``. Compare ensembles on the validation artists only.

Data: ``$AUDIO_ALCHEMY_DATA/stems-train`` (94 tracks, vocals.ogg + accompaniment.ogg, 22.05 kHz stereo).
Validation: whole artists held out (a fixed hash split of artist names, ``--val-frac``), scored by SDR with the
same inference code the package uses; the best checkpoint on validation is kept. ``stems/`` (the test set)
is never read here. Augmentation: vocals and accompaniment from different tracks remixed at random gains,
random crops and channel swaps.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import math
import random
import sys
import time
from pathlib import Path

import numpy as np
import soundfile as sf
import torch

from audio_alchemy.config import data_path
from audio_alchemy.separate import masknet
from audio_alchemy.separate.evaluate import sdr


def artist(track: str) -> str:
    return track.split(" - ")[0].strip().lower()


def load_tracks(root: Path) -> list[tuple[str, np.ndarray, np.ndarray]]:
    out = []
    for d in sorted(p for p in root.iterdir() if p.is_dir()):
        v, sr1 = sf.read(d / "vocals.ogg", dtype="float32", always_2d=True)
        a, sr2 = sf.read(d / "accompaniment.ogg", dtype="float32", always_2d=True)
        assert sr1 == sr2 == masknet.SR, (d, sr1, sr2)
        n = min(len(v), len(a))
        out.append((d.name, np.ascontiguousarray(v[:n].T), np.ascontiguousarray(a[:n].T)))
    return out


def split(tracks, val_frac: float):
    """Hold out whole artists (hash of the artist name), about ``val_frac`` of the tracks."""
    def h(name: str) -> float:
        return int(hashlib.sha1(artist(name).encode()).hexdigest()[:8], 16) / 0xFFFFFFFF

    val = [t for t in tracks if h(t[0]) < val_frac]
    train = [t for t in tracks if h(t[0]) >= val_frac]
    return train, val


def rms(x: np.ndarray):
    """Root-mean-square level of an array (all channels), in the array's float type."""
    return np.sqrt(np.mean(x ** 2))


def random_gain(rng: random.Random, db: float) -> float:
    """A linear gain drawn uniformly in [-db, +db] decibels."""
    return 10 ** (rng.uniform(-db, db) / 20)


def load_extra_vocals(root: Path, level: float) -> tuple[list[np.ndarray], int]:
    """Unaccompanied singing (``labels.csv`` rows of kind ``singing``, e.g. ``$AUDIO_ALCHEMY_DATA/language``) as
    extra vocal sources: mono, resampled to the network's rate, scaled to RMS ``level`` (that of the training
    vocals), duplicated to stereo (a centred voice).

    Returns the clips and the first STFT bin above their original Nyquist (16 kHz clips hold nothing above
    8 kHz, so the loss ignores the bins above it for them)."""
    import csv

    from audio_alchemy.io import load, probe

    clips, nyquist = [], masknet.SR / 2
    with open(root / "labels.csv", newline="", encoding="utf-8") as f:
        rows = [r for r in csv.DictReader(f) if r.get("kind", "singing") == "singing"]
    for r in rows:
        path = root / r["path"]
        nyquist = min(nyquist, probe(path).sample_rate / 2)
        x = load(path, sr=masknet.SR, mono=True).samples[0]
        x = x * (level / (rms(x) + 1e-8))
        clips.append(np.ascontiguousarray(np.stack([x, x]), dtype=np.float32))
    return clips, int(nyquist / (masknet.SR / masknet.N_FFT))


def load_extra_accompaniment(paths: list[Path], level: float) -> list[np.ndarray]:
    """Instrumental recordings (no voice anywhere in them) as extra accompaniment: stereo at the network's rate,
    scaled to RMS ``level`` (that of the training accompaniments)."""
    from audio_alchemy.io import load, to_channels

    clips = []
    for path in paths:
        x = to_channels(load(path, sr=masknet.SR).samples, 2)
        clips.append(np.ascontiguousarray(x * (level / (rms(x) + 1e-8)), dtype=np.float32))
    return clips


def random_offset(x: np.ndarray, length: int, rng: random.Random) -> int:
    """A random start for a ``length``-sample crop of ``x`` (channels, n)."""
    return rng.randrange(0, max(x.shape[1] - length, 1))


def crop(x: np.ndarray, off: int, length: int) -> np.ndarray:
    """``x[:, off:off + length]``, zero-padded at the end to ``length`` samples."""
    seg = x[:, off:off + length]
    return np.pad(seg, ((0, 0), (0, length - seg.shape[1]))) if seg.shape[1] < length else seg


def make_batch(train, batch: int, length: int, rng: random.Random, remix_p: float,
               extras: list[np.ndarray] = (), extra_p: float = 0.0,
               extra_acc: list[np.ndarray] = (), extra_acc_p: float = 0.0):
    """``batch`` random (vocals, accompaniment) crops, shape (batch, 2, length) each, and a bool per example
    that is True when its vocals came from ``extras`` (band-limited singing; see :func:`load_extra_vocals`).

    Remixed examples take their accompaniment from ``extra_acc`` (instrumental recordings) with probability
    ``extra_acc_p``. Without extras the random draws are those of the shipped members' recipe."""
    vs, as_, from_extra = [], [], []

    def other_accompaniment():
        if extra_acc and rng.random() < extra_acc_p:
            return extra_acc[rng.randrange(len(extra_acc))]
        return None

    for _ in range(batch):
        if extras and rng.random() < extra_p:
            v = extras[rng.randrange(len(extras))]
            seg = crop(v, random_offset(v, length, rng), length) * random_gain(rng, 6)
            a = other_accompaniment()
            if a is None:
                a = train[rng.randrange(len(train))][2]
            acc = crop(a, random_offset(a, length, rng), length) * random_gain(rng, 6)
            vs.append(seg); as_.append(acc[::-1] if rng.random() < 0.5 else acc); from_extra.append(True)
            continue
        i = rng.randrange(len(train))
        j = rng.randrange(len(train)) if rng.random() < remix_p else i
        acc = other_accompaniment() if i != j else None
        srcs = []
        for k, idx in enumerate((i, j)):
            x = acc if k == 1 and acc is not None else train[idx][1 + k]
            off = random_offset(x, length, rng)
            if i == j and k == 1:
                off = off_v  # keep natural mixtures time-aligned
            if k == 0:
                off_v = off
            seg = crop(x, off, length) * random_gain(rng, 6 if i != j else 3)
            if rng.random() < 0.5:
                seg = seg[::-1]
            srcs.append(seg)
        vs.append(srcs[0]); as_.append(srcs[1]); from_extra.append(False)
    v = torch.from_numpy(np.ascontiguousarray(np.stack(vs), dtype=np.float32))
    a = torch.from_numpy(np.ascontiguousarray(np.stack(as_), dtype=np.float32))
    return v, a, torch.tensor(from_extra)


def l1_loss(model, v, a, window, limited=None, cutoff_bin: int = masknet.N_BINS, memory_format=None):
    """Magnitude L1 of the masked vocals and the residual accompaniment against their references; examples
    flagged in ``limited`` (band-limited vocals) are not scored at bins >= ``cutoff_bin``. ``memory_format``:
    the layout the network's input is given in (the model's own, see ``--layout``)."""
    V, A = masknet.stft(v, window).abs(), masknet.stft(a, window).abs()
    spec = masknet.stft(v + a, window)[:, :, :masknet.N_BINS]
    X = spec.abs()
    mask = model(masknet.model_input(model, spec).contiguous(memory_format=memory_format or torch.contiguous_format))
    err = (mask * X - V[:, :, :masknet.N_BINS]).abs() + ((1 - mask) * X - A[:, :, :masknet.N_BINS]).abs()
    if limited is None or not bool(limited.any()):
        return err.mean()
    weight = torch.ones(err.shape[0], 1, err.shape[2], 1)
    weight[limited, :, cutoff_bin:] = 0.0
    return (err * weight).sum() / (weight.sum() * err.shape[1] * err.shape[3])


def snr_loss(model, v, a, window):
    """Minus the mean waveform SNR (dB) of vocals and accompaniment = mix - vocals, per example and channel."""
    mix = v + a
    spec = masknet.stft(mix, window)
    mask = masknet.predict_mask(model, spec)
    est_v = masknet.istft(spec * mask, window, mix.shape[-1])
    floor = 1e-3 * mix.pow(2).sum(-1)  # -30 dB of the mix: a silent reference cannot dominate the loss

    def snr(ref, est):
        return 10 * torch.log10((ref.pow(2).sum(-1) + floor) / ((ref - est).pow(2).sum(-1) + floor))

    return -(snr(v, est_v) + snr(a, mix - est_v)).mean() / 2


def val_scores(model, val, power: float = 1.0, swap_channels: bool = False) -> list[float]:
    """Vocals SDR of each validation track, separated with the package's own inference code."""
    scores = []
    for _, v, a in val:
        mix = v + a
        est_v = masknet.separate_22k(model, mix, power=power, swap_channels=swap_channels)
        scores.append(sdr(np.stack([v, a]), np.stack([est_v, mix - est_v]))[0])
    return scores


def validate(model, val, powers=(1.0,), statistic: str = "median") -> dict[float, float]:
    """Vocals SDR over the validation tracks per mask power: their median (the bench's statistic) or mean."""
    model.eval()
    reduce = np.nanmedian if statistic == "median" else np.nanmean
    res = {p: float(reduce(val_scores(model, val, power=p))) for p in powers}
    model.train()
    return res


def snapshot(model) -> dict:
    """A detached copy of the model's state (parameters and BatchNorm statistics)."""
    return {k: t.detach().clone() for k, t in model.state_dict().items()}


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--data", type=Path, default=None, help="stems-train folder (default: $AUDIO_ALCHEMY_DATA/stems-train)")
    ap.add_argument("--out", type=Path, default=masknet.DEFAULT_WEIGHTS)
    ap.add_argument("--minutes", type=float, default=90.0, help="wall-time cap for training")
    ap.add_argument("--cpu-minutes", type=float, default=20.0, help="CPU-time budget (process time) for training")
    ap.add_argument("--max-steps", type=int, default=0,
                    help="stop after N steps (0 = time budgets only); with --max-steps the run is reproducible")
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--layout", choices=("nhwc", "nchw"), default="nhwc",
                    help="memory layout of the network while training: nhwc (channels-last, about 1.3x more steps "
                         "per CPU-minute, same maths) or nchw (PyTorch's default, the layout the members up to "
                         "masknet_12.pt were trained in)")
    ap.add_argument("--batch", type=int, default=16)
    ap.add_argument("--frames", type=int, default=128, help="training crop in STFT frames")
    ap.add_argument("--lr", type=float, default=1e-3)
    ap.add_argument("--channels", default="16,32,64,128,128")
    ap.add_argument("--inputs", choices=tuple(masknet.INPUTS), default="lr",
                    help="network input: lr = left/right magnitudes; lrms = plus mid/side (8 of the 9 shipped members)")
    ap.add_argument("--val-frac", type=float, default=0.1)
    ap.add_argument("--val-every", type=int, default=100)
    ap.add_argument("--remix-p", type=float, default=0.7)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--extra-vocals", type=Path, default=None,
                    help="a folder with labels.csv of unaccompanied singing (e.g. $AUDIO_ALCHEMY_DATA/language) mixed "
                         "over random training accompaniments as extra examples")
    ap.add_argument("--extra-p", type=float, default=0.3, help="share of examples whose vocals come from --extra-vocals")
    ap.add_argument("--extra-accompaniment", type=Path, nargs="+", default=[],
                    help="instrumental recordings (no voice at all) used as the accompaniment of remixed examples")
    ap.add_argument("--extra-acc-p", type=float, default=0.3,
                    help="share of remixed examples whose accompaniment comes from --extra-accompaniment")
    ap.add_argument("--init", type=Path, default=None,
                    help="start from these weights (a masknet*.pt) instead of a fresh network: fine-tuning")
    ap.add_argument("--loss", choices=("l1", "snr"), default="l1",
                    help="l1: magnitude L1 of both stems (the recipe of the shipped members); snr: minus the "
                         "waveform SNR in dB of vocals and accompaniment after the inverse STFT, the quantity "
                         "SDR scores (a -30 dB floor relative to the mix keeps silent crops finite)")
    ap.add_argument("--select", choices=("median", "mean"), default="median",
                    help="validation statistic that picks the checkpoint: the median over the 19 tracks is what "
                         "the bench reports but jumps by a dB between checkpoints; the mean is steadier")
    ap.add_argument("--ema", type=float, default=0.0,
                    help="keep an exponential moving average of the weights (and BatchNorm statistics) with this "
                         "decay, e.g. 0.995, and validate and save the average instead of the raw weights (0 = off)")
    args = ap.parse_args(argv)

    torch.set_num_threads(args.threads)
    torch.manual_seed(args.seed)
    rng = random.Random(args.seed)
    root = args.data or data_path("stems-train")
    if root is None:
        print("needs $AUDIO_ALCHEMY_DATA/stems-train (../shared/data); not present", file=sys.stderr)
        return 2
    tracks = load_tracks(root)
    train, val = split(tracks, args.val_frac)
    print(f"train {len(train)} tracks, validation {len(val)} tracks ({sorted({artist(t[0]) for t in val})})", flush=True)

    level = float(np.median([rms(v) for _, v, _ in train]))
    extras, cutoff = load_extra_vocals(args.extra_vocals, level) if args.extra_vocals else ([], masknet.N_BINS)
    if extras:
        print(f"extra vocals: {len(extras)} clips ({sum(x.shape[1] for x in extras) / masknet.SR / 60:.1f} min), "
              f"scored below bin {cutoff}", flush=True)
    acc_level = float(np.median([rms(a) for _, _, a in train]))
    extra_acc = load_extra_accompaniment(args.extra_accompaniment, acc_level)
    if extra_acc:
        print(f"extra accompaniment: {len(extra_acc)} recordings "
              f"({sum(x.shape[1] for x in extra_acc) / masknet.SR / 60:.1f} min)", flush=True)
    window = torch.hann_window(masknet.N_FFT)
    if args.init is not None:
        model, _ = masknet.load_weights(args.init)
        channels = tuple(model.config["channels"])
    else:
        channels = tuple(int(c) for c in args.channels.split(","))
        model = masknet.build_model(channels, inputs=args.inputs)
        # Initialise the input normalisation from the training mixtures' log-magnitude statistics.
        with torch.no_grad():
            mags = [masknet.stft(torch.from_numpy(v + a), window).abs()[:, :masknet.N_BINS] for _, v, a in train[:20]]
            logm = torch.log(torch.cat(mags, dim=-1) + 1e-4)
            model.in_shift.copy_(logm.mean(dim=(0, 2)).view(1, 1, -1, 1))
            model.in_scale.copy_((1.0 / (logm.std(dim=(0, 2)) + 1e-3)).view(1, 1, -1, 1))
    memory_format = torch.channels_last if args.layout == "nhwc" else torch.contiguous_format
    model = model.to(memory_format=memory_format)
    nparams = sum(p.numel() for p in model.parameters())
    print(f"model channels={channels} params={nparams / 1e6:.2f} M", flush=True)

    opt = torch.optim.Adam(model.parameters(), lr=args.lr)
    # Validation SDR of the raw weights swings by +-1 dB between checkpoints; an average of the recent weights
    # is smoother and the checkpoint chosen on validation is then less of a lucky draw.
    ema = (torch.optim.swa_utils.AveragedModel(model, multi_avg_fn=torch.optim.swa_utils.get_ema_multi_avg_fn(args.ema),
                                               use_buffers=True) if args.ema else None)
    scored = ema.module if ema is not None else model
    length = (args.frames - 1) * masknet.HOP
    budget = args.minutes * 60
    cpu_budget = args.cpu_minutes * 60
    t0, c0 = time.time(), time.process_time()
    best, best_state, step, history = -math.inf, None, 0, []
    score_key = f"val_vocals_sdr_{args.select}_db"  # metadata name of the validation score
    if args.init is not None:  # fine-tuning keeps the starting weights unless validation improves on them
        best = validate(model, val, statistic=args.select)[1.0]
        best_state = snapshot(model)
        print(f"start: val vocals SDR {args.select} {best:.2f} dB ({args.init})", flush=True)
    model.train()
    while True:
        frac = max((time.time() - t0) / budget, (time.process_time() - c0) / cpu_budget,
                   step / args.max_steps if args.max_steps else 0.0)
        if frac >= 1.0:
            break
        lr = args.lr * (0.1 + 0.9 * 0.5 * (1 + math.cos(math.pi * frac)))
        for g in opt.param_groups:
            g["lr"] = lr
        v, a, limited = make_batch(train, args.batch, length, rng, args.remix_p, extras, args.extra_p,
                                      extra_acc, args.extra_acc_p)
        if args.loss == "snr":
            loss = snr_loss(model, v, a, window)
        else:
            loss = l1_loss(model, v, a, window, limited, cutoff, memory_format)
        opt.zero_grad()
        loss.backward()
        opt.step()
        if ema is not None:
            ema.update_parameters(model)
        step += 1
        if step % args.val_every == 0:
            score = validate(scored, val, statistic=args.select)[1.0]
            cpu = time.process_time() - c0
            history.append({"step": step, "seconds": round(time.time() - t0), "cpu_seconds": round(cpu),
                            "loss": float(loss.detach()), "val_vocals_sdr": score})
            print(f"step {step} t={time.time() - t0:.0f}s cpu={cpu:.0f}s loss={float(loss.detach()):.4f} lr={lr:.2e} "
                  f"val vocals SDR {args.select} {score:.2f} dB", flush=True)
            if score > best:
                best = score
                best_state = snapshot(scored)
                partial = {"recipe": "scripts/train_separator.py (in progress)", "steps": step,
                           score_key: score, "mask_power": 1.0, "history": history}
                args.out.parent.mkdir(parents=True, exist_ok=True)
                masknet.save_weights(scored, args.out, partial)  # usable even if training is stopped early
    if best_state is None:
        best_state = model.state_dict()
    model.load_state_dict(best_state)
    powers = validate(model, val, powers=(1.0, 1.5, 2.0), statistic=args.select)
    power = max(powers, key=powers.get)
    print(f"best val vocals SDR {best:.2f} dB; mask power sweep {powers} -> {power}", flush=True)
    meta = {
        "recipe": "scripts/train_separator.py", "args": {k: str(v) for k, v in vars(args).items()},
        "train_tracks": len(train), "val_tracks": [t[0] for t in val], "steps": step,
        score_key: powers[power], "mask_power": power, "history": history,
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    masknet.save_weights(model, args.out, meta)
    print(json.dumps({k: meta[k] for k in (score_key, "mask_power", "steps")}))
    print(f"saved {args.out} ({args.out.stat().st_size / 1e6:.1f} MB)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
