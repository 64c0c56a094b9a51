"""Spectral features from the shared front end (time-major arrays, see ``frontend``).

All functions take precomputed spectra, never audio, so one STFT feeds them all. Definitions follow
librosa (the study's and GTZAN's tool) so the numbers are comparable.
"""

from __future__ import annotations

from functools import lru_cache

import numpy as np
import scipy.fft


def top_energy_bins(power: np.ndarray, freqs: np.ndarray, k: int = 3) -> list[tuple[float | None, float]]:
    """The study's ``freq_e_1..k``: the ``k`` STFT bins with the highest total energy over time.

    ``power`` (frames, bins). Returns ``[(hz, energy), ...]`` strongest first, energy = sum over frames of
    ``|X|**2`` (what the study stored); ``hz`` is None when the signal has no energy at all.
    """
    energy = power.sum(axis=0, dtype=np.float64)
    top = np.argsort(energy, kind="stable")[::-1][:k]
    silent = not np.any(energy > 0)
    return [(None if silent else float(freqs[i]), float(energy[i])) for i in top]


@lru_cache(maxsize=8)
def dct_matrix(n_in: int, n_out: int) -> np.ndarray:
    """Orthonormal DCT-II as a ``(n_in, n_out)`` matrix (scipy.fft.dct type 2, norm='ortho')."""
    return np.ascontiguousarray(scipy.fft.dct(np.eye(n_in), type=2, norm="ortho", axis=1)[:, :n_out].astype(np.float32))


def mfcc(mel_db: np.ndarray, n_mfcc: int = 13) -> np.ndarray:
    """MFCCs ``(frames, n_mfcc)`` from a dB mel spectrogram ``(frames, n_mels)`` — librosa.feature.mfcc."""
    return mel_db @ dct_matrix(mel_db.shape[1], n_mfcc)


def centroid(mag: np.ndarray, freqs: np.ndarray) -> np.ndarray:
    """Spectral centroid per frame (Hz), librosa definition on the magnitude spectrum ``(frames, bins)``."""
    norm = mag.sum(axis=1)
    return (mag @ freqs) / np.where(norm > 0, norm, np.finfo(np.float32).tiny)


def bandwidth(mag: np.ndarray, freqs: np.ndarray, cent: np.ndarray | None = None) -> np.ndarray:
    """Spectral bandwidth (p=2) per frame, librosa definition: sqrt(sum(S_norm * (f - centroid)**2))."""
    cent = centroid(mag, freqs) if cent is None else cent
    norm = mag.sum(axis=1)
    norm = np.where(norm > 0, norm, np.finfo(np.float32).tiny)
    # sum S (f - c)^2 = sum S f^2 - 2 c sum S f + c^2 sum S
    s_f2 = mag @ (freqs * freqs)
    s_f = mag @ freqs
    var = (s_f2 - 2 * cent * s_f + cent * cent * mag.sum(axis=1)) / norm
    return np.sqrt(np.maximum(var, 0.0))


def rolloff(mag: np.ndarray, freqs: np.ndarray, roll_percent: float = 0.85) -> np.ndarray:
    """Frequency below which ``roll_percent`` of each frame's magnitude lies (librosa.feature.spectral_rolloff)."""
    cum = np.cumsum(mag, axis=1, dtype=np.float64)
    thresh = roll_percent * cum[:, -1:]
    idx = np.argmax(cum >= thresh, axis=1)
    out = freqs[idx]
    out[cum[:, -1] <= 0] = 0.0
    return out


def flatness(power: np.ndarray, amin: float = 1e-10) -> np.ndarray:
    """Spectral flatness per frame: geometric / arithmetic mean of the power spectrum (librosa, power=2)."""
    S = np.maximum(power, amin)
    gmean = np.exp(np.mean(np.log(S), axis=1))
    return gmean / np.mean(S, axis=1)


def contrast(mag: np.ndarray, sr: int, n_fft: int, n_bands: int = 6, fmin: float = 200.0,
             quantile: float = 0.02) -> np.ndarray:
    """Spectral contrast ``(frames, n_bands + 1)`` in dB, librosa's octave bands (peak vs valley quantile)."""
    freqs = np.arange(mag.shape[1]) * (sr / n_fft)
    octa = np.zeros(n_bands + 2)
    octa[1:] = fmin * (2.0 ** np.arange(0, n_bands + 1))
    out = np.zeros((mag.shape[0], n_bands + 1), dtype=np.float32)
    for k, (f_low, f_high) in enumerate(zip(octa[:-1], octa[1:])):
        current = (freqs >= f_low) & (freqs <= f_high)
        idx = np.flatnonzero(current)
        if k > 0:
            idx = np.r_[idx[0] - 1, idx]
        if k == n_bands:
            idx = idx[:-1] if False else np.arange(idx[0], mag.shape[1])
        sub = np.sort(mag[:, idx], axis=1)
        n_q = max(int(np.rint(quantile * len(idx))), 1)
        valley = sub[:, :n_q].mean(axis=1)
        peak = sub[:, -n_q:].mean(axis=1)
        out[:, k] = 10 * np.log10(np.maximum(peak, 1e-10)) - 10 * np.log10(np.maximum(valley, 1e-10))
    return out
