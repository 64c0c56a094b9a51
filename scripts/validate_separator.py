"""Score mask-network weight files, alone and as an ensemble, on the training script's validation artists.

    python scripts/validate_separator.py                      # every shipped weights/masknet*.pt
    python scripts/validate_separator.py a.pt b.pt c.pt       # any files
    python scripts/validate_separator.py --power 1,1.2 --swap # the ensemble with inference options
    python scripts/validate_separator.py --subsets a.pt b.pt c.pt d.pt   # each file and every ensemble of them

Validation = the artists ``scripts/train_separator.py`` holds out of ``stems-train`` (``stems/``, the test
set, is never read), so choosing ensemble members here does not touch the numbers of ``bench/separation.py``.
Prints the median and mean vocals SDR per file and for the ensemble (masks averaged, as the separator does);
``--subsets`` scores each file alone and every ensemble of two or more of them (``--max-size``: at most N) from
each member's masks computed once, best vocals mean first (declare the criterion before you look).
"""

from __future__ import annotations

import argparse
import itertools
import os
import sys
from pathlib import Path

os.environ.setdefault("OMP_NUM_THREADS", "2")

import numpy as np  # noqa: E402

sys.path.insert(0, str(Path(__file__).resolve().parent))

import train_separator  # noqa: E402

from audio_alchemy.config import data_path  # noqa: E402
from audio_alchemy.separate import masknet  # noqa: E402


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("weights", nargs="*", type=Path, help="weight files (default: the shipped ensemble)")
    ap.add_argument("--val-frac", type=float, default=0.1, help="as in train_separator.py")
    ap.add_argument("--power", default="1", help="comma list of mask powers to score the ensemble with, e.g. 1,1.2")
    ap.add_argument("--swap", action="store_true", help="also score the ensemble with the left/right-swap pass")
    ap.add_argument("--subsets", action="store_true", help="score each file and every ensemble of them")
    ap.add_argument("--max-size", type=int, default=0, help="--subsets: only ensembles of at most N members")
    args = ap.parse_args(argv)
    root = data_path("stems-train")
    if root is None:
        print("needs $AUDIO_ALCHEMY_DATA/stems-train (../shared/data); not present", file=sys.stderr)
        return 2
    files = args.weights or masknet.default_weight_files()
    models = [masknet.load_weights(p)[0] for p in files]
    _, val = train_separator.split(train_separator.load_tracks(root), args.val_frac)
    if args.subsets:
        return score_subsets([p.name for p in files], models, val, args.max_size or len(models))
    entries = [(p.name, m, 1.0, False) for p, m in zip(files, models)]
    if len(models) > 1:
        for power in (float(v) for v in args.power.split(",")):
            for swap in (False, True) if args.swap else (False,):
                tag = (f", power {power:g}" if power != 1 else "") + (", L/R swap" if swap else "")
                entries.append((f"ensemble of {len(models)}{tag}", models, power, swap))
    for name, model, power, swap in entries:
        scores = train_separator.val_scores(model, val, power=power, swap_channels=swap)
        print(f"{name:40s} validation vocals SDR median {np.nanmedian(scores):.2f} dB, mean {np.nanmean(scores):.2f} dB "
              f"({len(scores)} tracks)")
    return 0


def score_subsets(names: list[str], models: list, val, max_size: int) -> int:
    """Vocals/accompaniment SDR of every member alone and every subset of 2+ members (masks averaged)."""
    import torch

    from audio_alchemy.separate.evaluate import sdr

    window = torch.hann_window(masknet.N_FFT)
    tracks = []  # per validation track: (references, mix, its STFT, each member's mask)
    with torch.inference_mode():
        for _, v, a in val:
            mix = v + a
            spec = masknet.stft(torch.from_numpy(mix), window)
            tracks.append((np.stack([v, a]), mix, spec, [masknet.predict_mask(m, spec[None])[0] for m in models]))
        rows = []
        for k in range(1, min(max_size, len(models)) + 1):
            for subset in itertools.combinations(range(len(models)), k):
                scores = []
                for refs, mix, spec, masks in tracks:
                    mask = sum(masks[i] for i in subset) / len(subset)
                    est = masknet.istft(spec * mask, window, mix.shape[-1]).numpy()
                    scores.append(sdr(refs, np.stack([est, mix - est])))
                s = np.array(scores)
                rows.append((np.nanmean(s[:, 0]), np.nanmedian(s[:, 0]), np.nanmedian(s[:, 1]), np.nanmean(s[:, 1]),
                             " + ".join(names[i] for i in subset)))
    print(f"{'vocals mean':>11} {'median':>7} | {'accomp. median':>14} {'mean':>6} | members ({len(val)} tracks)")
    for mean, med, amed, amean, name in sorted(rows, reverse=True):
        print(f"{mean:11.2f} {med:7.2f} | {amed:14.2f} {amean:6.2f} | {name}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
