"""Synthetic truths: tone f0 and strongest bin, click-track tempo, C-major cadence key/mode, -23 LUFS tone."""

from __future__ import annotations

import numpy as np
import pytest

from audio_alchemy.features import extract

SR = 22050


def tone(freq=440.0, seconds=3.0, sr=SR, amp=0.5):
    t = np.arange(int(seconds * sr)) / sr
    return (amp * np.sin(2 * np.pi * freq * t)).astype(np.float32)


def test_440_tone_f0_and_strongest_bin():
    f = extract(tone(), SR)
    assert f["fundamental_freq"] == pytest.approx(440.0, abs=1.0)
    assert abs(f["freq_e_1"] - 440.0) <= SR / 2048  # within one STFT bin
    assert f["key"] == "A"


def click_track(bpm=120.0, seconds=20.0, sr=SR):
    y = np.zeros(int(seconds * sr), np.float32)
    n = np.arange(256)
    click = (np.exp(-n / 30) * np.sin(2 * np.pi * 1500 * n / sr)).astype(np.float32)
    for t in np.arange(0, seconds - 0.1, 60.0 / bpm):
        i = int(round(t * sr))
        y[i : i + 256] += click
    return y


def test_click_track_120_bpm():
    assert extract(click_track(), SR)["tempo"] == pytest.approx(120.0, abs=1.0)


def cadence(sr=SR):
    # I - IV - V - I in C major, 1 s per chord, harmonic tones
    chords = [[60, 64, 67, 72], [60, 65, 69, 72], [59, 62, 67, 74], [48, 60, 64, 67]]
    t = np.arange(sr) / sr
    env = np.minimum(1, 10 * t) * np.exp(-1.5 * t)
    out = []
    for _ in range(2):
        for ch in chords:
            x = np.zeros(sr)
            for m in ch:
                f = 440 * 2 ** ((m - 69) / 12)
                for h in (1, 2, 3):
                    x += np.sin(2 * np.pi * f * h * t) / h
            out.append(0.1 * env * x)
    return np.concatenate(out).astype(np.float32)


def test_c_major_cadence_key_and_mode():
    f = extract(cadence(), SR, "full")
    assert f["key_name"] == "C" and f["mode"] == "major", (f["key_name"], f["mode"], f["key_confidence"])
    assert f["key"] == "C"


def test_minus_23_lufs_reference_tone():
    sr = 48000
    # 997 Hz sine in one channel at -20 dBFS RMS*sqrt2 ... BS.1770: a 0 dBFS 1 kHz sine reads -3.01 LUFS
    x = tone(997.0, 10.0, sr, amp=10 ** ((-23 + 3.0103) / 20))
    f = extract(x, sr, "full")
    assert f["loudness_lufs"] == pytest.approx(-23.0, abs=0.1)
    stereo = np.stack([x, x]) * 10 ** (-3.0103 / 20)  # same loudness split over two channels
    assert extract(stereo, sr, "full")["loudness_lufs"] == pytest.approx(-23.0, abs=0.1)
