"""Tonal features from the shared power spectrum: tuning, chroma, key (the study's rule) and key + mode.

``chroma`` reproduces ``librosa.feature.chroma_stft(y, sr)`` including its tuning estimate (piptrack
between 150 and 4000 Hz, 0.01-semitone histogram), restricted to the bins piptrack reads, so it costs
a small fraction of the librosa call.
"""

from __future__ import annotations

from functools import lru_cache

import numpy as np

from .frontend import N_FFT, SR

KEY_NAMES = ("C", "C#", "D", "D#", "E", "F", "F#", "G", "G#", "A", "A#", "B")

# Krumhansl-Kessler probe-tone profiles (Krumhansl 1990), index 0 = tonic.
KRUMHANSL_MAJOR = np.array([6.35, 2.23, 3.48, 2.33, 4.38, 4.09, 2.52, 5.19, 2.39, 3.66, 2.29, 2.88])
KRUMHANSL_MINOR = np.array([6.33, 2.68, 3.52, 5.38, 2.60, 3.53, 2.54, 4.75, 3.98, 2.69, 3.34, 3.17])


def estimate_tuning(power: np.ndarray, sr: int = SR, n_fft: int = N_FFT, fmin: float = 150.0,
                    fmax: float = 4000.0, threshold: float = 0.1, resolution: float = 0.01) -> float:
    """Tuning deviation in fractions of a semitone, as ``librosa.estimate_tuning(S=power)`` (piptrack)."""
    freqs = np.arange(power.shape[1]) * (sr / n_fft)
    band = np.flatnonzero((freqs >= fmin) & (freqs < fmax))
    if len(band) == 0 or power.shape[0] == 0:
        return 0.0
    lo, hi = max(band[0] - 1, 0), min(band[-1] + 2, power.shape[1])
    S = power[:, lo:hi]
    ref = threshold * power.max(axis=1, keepdims=True)
    Sm = np.where(S > ref, S, 0.0)
    # interior bins of the slice = the band (neighbours included on both sides)
    c, left, right = Sm[:, 1:-1], Sm[:, :-2], Sm[:, 2:]
    peak = (c > left) & (c >= right)
    Sc, Sl, Sr = S[:, 1:-1], S[:, :-2], S[:, 2:]
    t, k = np.nonzero(peak)
    if len(t) == 0:
        return 0.0
    a, cc, b = Sl[t, k], Sc[t, k], Sr[t, k]
    avg = 0.5 * (b - a)
    shift = 2 * cc - b - a
    shift = avg / (shift + (np.abs(shift) < np.finfo(np.float32).tiny))
    dskew = 0.5 * avg * shift
    bins = (lo + 1 + k).astype(np.float64)
    pitch = (bins + shift) * (sr / n_fft)
    mag = cc + dskew
    keep = pitch > 0
    if not np.any(keep):
        return 0.0
    pitch, mag = pitch[keep], mag[keep]
    pitch = pitch[mag >= np.median(mag)]
    octs = np.log2(pitch / (440.0 / 16))
    residual = np.mod(12 * octs, 1.0)
    residual[residual >= 0.5] -= 1.0
    edges = np.linspace(-0.5, 0.5, int(np.ceil(1.0 / resolution)) + 1)
    counts, _ = np.histogram(residual, edges)
    return float(edges[int(np.argmax(counts))])


@lru_cache(maxsize=64)
def _chroma_basis(sr: int, n_fft: int, tuning: float) -> np.ndarray:
    from .filters import chroma as chroma_filters

    return np.ascontiguousarray(chroma_filters(sr, n_fft, tuning).T)


def chroma(power: np.ndarray, sr: int = SR, n_fft: int = N_FFT, tuning: float | None = None) -> np.ndarray:
    """Chromagram ``(frames, 12)``, each frame max-normalised (librosa.feature.chroma_stft defaults)."""
    if tuning is None:
        tuning = estimate_tuning(power, sr, n_fft)
    raw = power @ _chroma_basis(sr, n_fft, round(float(tuning), 2))
    peak = raw.max(axis=1, keepdims=True)
    ok = peak > np.finfo(np.float32).tiny
    return np.where(ok, raw / np.where(ok, peak, 1.0), raw)


def key_from_chroma(chroma_frames: np.ndarray) -> str | None:
    """The study's key: name of the strongest mean chroma bin; None when there is no tonal energy."""
    mean = chroma_frames.mean(axis=0) if len(chroma_frames) else np.zeros(12)
    if not np.any(mean > 0):
        return None
    return KEY_NAMES[int(np.argmax(mean))]


def key_mode(chroma_frames: np.ndarray) -> dict:
    """Key, mode and confidence by Krumhansl-Kessler profile correlation with the mean chroma.

    Returns ``{"key": "C", "mode": "major"|"minor", "key_index": 0..11, "mode_index": 1 major/0 minor,
    "key_confidence": r}`` where ``r`` is the Pearson correlation of the winning profile (-1..1);
    all None for silence.
    """
    mean = chroma_frames.mean(axis=0) if len(chroma_frames) else np.zeros(12)
    if not np.any(mean > 0) or np.ptp(mean) == 0:
        return {"key": None, "mode": None, "key_index": None, "mode_index": None, "key_confidence": None}
    best = (-2.0, 0, "major")
    x = (mean - mean.mean()) / mean.std()
    for mode, prof in (("major", KRUMHANSL_MAJOR), ("minor", KRUMHANSL_MINOR)):
        for tonic in range(12):
            p = np.roll(prof, tonic)
            p = (p - p.mean()) / p.std()
            r = float(np.mean(x * p))
            if r > best[0]:
                best = (r, tonic, mode)
    r, tonic, mode = best
    return {"key": KEY_NAMES[tonic], "mode": mode, "key_index": tonic, "mode_index": 1 if mode == "major" else 0,
            "key_confidence": round(r, 4)}
