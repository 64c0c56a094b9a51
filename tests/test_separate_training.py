"""The mask network's training script: its losses and a short fine-tuning run on generated stems."""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

torch = pytest.importorskip("torch")

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "scripts"))

import train_separator  # noqa: E402

from audio_alchemy.separate import masknet  # noqa: E402


class ConstantMask(torch.nn.Module):
    """A stand-in network whose mask is ``value`` everywhere (same input/output contract as the U-Net)."""

    def __init__(self, value: float) -> None:
        super().__init__()
        self.value = value
        self.config = {"inputs": "lr"}

    def forward(self, mag):
        return torch.full_like(mag, self.value)


def _stems(seed: int, n: int = 3 * masknet.SR) -> tuple[torch.Tensor, torch.Tensor]:
    rng = np.random.default_rng(seed)
    t = np.arange(n) / masknet.SR
    v = np.stack([0.3 * np.sin(2 * np.pi * 330 * t), 0.25 * np.sin(2 * np.pi * 330 * t)])
    a = 0.1 * rng.standard_normal((2, n))
    return torch.from_numpy(v[None].astype(np.float32)), torch.from_numpy(a[None].astype(np.float32))


def test_snr_loss_is_minus_the_snr_of_both_stems():
    v, a = _stems(0)
    window = torch.hann_window(masknet.N_FFT)
    mix = (v + a).numpy()[0].astype(np.float64)
    floor = 1e-3 * (mix**2).sum(-1)

    def snr(ref, est):
        return 10 * np.log10(((ref**2).sum(-1) + floor) / (((ref - est) ** 2).sum(-1) + floor))

    for value in (0.0, 0.5, 1.0):  # a constant mask m gives vocals = m * mix (the STFT round trip is exact)
        got = float(train_separator.snr_loss(ConstantMask(value), v, a, window))
        est = value * mix
        want = -(snr(v.numpy()[0], est) + snr(a.numpy()[0], mix - est)).mean() / 2
        assert got == pytest.approx(want, abs=1e-3)


def test_snr_loss_stays_finite_on_silent_vocals():
    v, a = _stems(1)
    loss = train_separator.snr_loss(ConstantMask(0.3), torch.zeros_like(v), a, torch.hann_window(masknet.N_FFT))
    assert torch.isfinite(loss)
    # with no vocals, the best mask is 0: then both stems are exact and the loss is at its floor-limited minimum
    best = train_separator.snr_loss(ConstantMask(0.0), torch.zeros_like(v), a, torch.hann_window(masknet.N_FFT))
    assert float(best) < float(loss)


def test_fine_tuning_with_ema_writes_loadable_weights_and_keeps_the_start_unless_validation_improves(tmp_path):
    data = tmp_path / "stems-train"
    for i in range(6):  # artist names chosen so the artist-hash split holds some out at --val-frac 0.5
        v, a = _stems(10 + i, n=2 * masknet.SR)
        d = data / f"Artist{i} - Song"
        d.mkdir(parents=True)
        sf.write(d / "vocals.ogg", v.numpy()[0].T, masknet.SR)
        sf.write(d / "accompaniment.ogg", a.numpy()[0].T, masknet.SR)
    train, val = train_separator.split(train_separator.load_tracks(data), 0.5)
    assert train and val
    start = tmp_path / "start.pt"
    model = masknet.build_model((4, 4, 4, 4, 4))
    masknet.save_weights(model, start, {})
    out = tmp_path / "tuned.pt"
    args = ["--data", str(data), "--init", str(start), "--loss", "snr", "--ema", "0.9", "--select", "mean",
            "--max-steps", "2", "--val-every", "1", "--batch", "2", "--frames", "64", "--val-frac", "0.5",
            "--out", str(out)]
    assert train_separator.main(args) == 0
    tuned, meta = masknet.load_weights(out)
    assert meta["steps"] == 2 and "val_vocals_sdr_mean_db" in meta
    start_score = train_separator.validate(masknet.load_weights(start)[0], val, statistic="mean")[1.0]
    assert meta["val_vocals_sdr_mean_db"] >= start_score - 1e-6  # never saves worse than where it started
    assert tuned.config["channels"] == [4, 4, 4, 4, 4]


def test_mid_side_input_network_round_trips_and_sees_the_side_channel(tmp_path):
    model = masknet.build_model((4, 4, 4, 4, 4), inputs="lrms").eval()
    masknet.save_weights(model, tmp_path / "m.pt", {})
    loaded, _ = masknet.load_weights(tmp_path / "m.pt")
    assert loaded.config["inputs"] == "lrms"
    v, a = _stems(2, n=masknet.SR)
    spec = masknet.stft((v + a)[0], torch.hann_window(masknet.N_FFT))[None]
    feats = masknet.model_input(loaded, spec)
    assert feats.shape == (1, 4) + spec.shape[2:]
    centred = masknet.model_input(loaded, spec[:, :1].expand(-1, 2, -1, -1))  # L = R: no side, mid = L
    assert float(centred[:, 3].abs().max()) == 0.0 and torch.allclose(centred[:, 2], centred[:, 0])
    with torch.inference_mode():
        mask = masknet.predict_mask(loaded, spec)
    assert mask.shape == spec.shape and float(mask.min()) >= 0.0 and float(mask.max()) <= 1.0


def test_extra_vocals_are_band_limited_centred_and_scored_only_below_their_nyquist(tmp_path):
    n = 2 * 16000
    t = np.arange(n) / 16000
    (tmp_path / "de").mkdir()
    sf.write(tmp_path / "de" / "sung.ogg", 0.5 * np.sin(2 * np.pi * 220 * t), 16000)
    sf.write(tmp_path / "de" / "spoken.ogg", 0.5 * np.sin(2 * np.pi * 150 * t), 16000)
    (tmp_path / "labels.csv").write_text("path,kind\nde/sung.ogg,singing\nde/spoken.ogg,speech\n")
    clips, cutoff = train_separator.load_extra_vocals(tmp_path, level=0.05)
    assert len(clips) == 1  # speech rows are not vocals of a song
    assert cutoff == int(8000 / (masknet.SR / masknet.N_FFT))  # 16 kHz clip: nothing above 8 kHz
    assert np.array_equal(clips[0][0], clips[0][1])  # centred voice
    assert np.sqrt(np.mean(clips[0] ** 2)) == pytest.approx(0.05, rel=1e-3)

    v, a = _stems(3, n=2 * masknet.SR)
    train = [("x", v.numpy()[0], a.numpy()[0])]
    import random

    vb, ab, limited = train_separator.make_batch(train, 4, 64 * masknet.HOP, random.Random(0), 0.7, clips, 1.0)
    assert limited.all() and vb.shape == ab.shape == (4, 2, 64 * masknet.HOP)
    assert torch.equal(vb[:, 0], vb[:, 1])

    # The weighted loss equals the plain L1 restricted to bins below the cut-off for flagged examples.
    model = ConstantMask(0.5)
    window = torch.hann_window(masknet.N_FFT)
    full = train_separator.l1_loss(model, vb, ab, window)
    assert float(train_separator.l1_loss(model, vb, ab, window, limited, masknet.N_BINS)) == pytest.approx(float(full))
    X = masknet.stft(vb + ab, window)[:, :, :cutoff].abs()
    V = masknet.stft(vb, window)[:, :, :cutoff].abs()
    A = masknet.stft(ab, window)[:, :, :cutoff].abs()
    expected = ((0.5 * X - V).abs() + (0.5 * X - A).abs()).mean()
    got = train_separator.l1_loss(model, vb, ab, window, limited, cutoff)
    assert float(got) == pytest.approx(float(expected), rel=1e-5)


def test_extra_accompaniment_replaces_remixed_accompaniments_at_the_training_level(tmp_path):
    t = np.arange(3 * 44100) / 44100
    sf.write(tmp_path / "organ.ogg", 0.4 * np.sin(2 * np.pi * 97 * t), 44100)  # mono, 44.1 kHz
    (clip,) = train_separator.load_extra_accompaniment([tmp_path / "organ.ogg"], level=0.02)
    assert clip.shape == (2, 3 * masknet.SR) and np.sqrt(np.mean(clip ** 2)) == pytest.approx(0.02, rel=1e-3)
    v, a = _stems(4, n=2 * masknet.SR)
    train = [("x", v.numpy()[0], a.numpy()[0]), ("y", v.numpy()[0] * 0, a.numpy()[0] * 0)]
    import random

    _, acc, _ = train_separator.make_batch(train, 8, 32 * masknet.HOP, random.Random(1), 1.0, (), 0.0, [clip * 0 + 1], 1.0)
    remixed = [k for k in range(8) if float(acc[k].abs().min()) > 0.4]  # the constant clip, at +-6 dB
    assert remixed and all(torch.allclose(acc[k], acc[k].flatten()[0]) for k in remixed)
