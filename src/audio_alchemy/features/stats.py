"""Summary statistics of waveforms and feature tracks (float64 accumulation, JSON-safe floats)."""

from __future__ import annotations

import math

import numpy as np


def finite_or_none(x) -> float | None:
    """A Python float, or None for NaN/inf/None — JSON never sees NaN."""
    if x is None:
        return None
    x = float(x)
    return x if math.isfinite(x) else None


def moments(x: np.ndarray) -> dict:
    """Mean, variance (ddof 0), skewness and excess kurtosis (Fisher), as scipy.stats defaults; None when undefined."""
    x = np.asarray(x, dtype=np.float64).ravel()
    if x.size == 0:
        return {"mean": None, "variance": None, "skewness": None, "kurtosis": None}
    m = x.mean()
    d = x - m
    d2 = d * d
    m2 = d2.mean()
    if m2 <= 1e-30:
        return {"mean": finite_or_none(m), "variance": finite_or_none(m2), "skewness": None, "kurtosis": None}
    m3 = (d2 * d).mean()
    m4 = (d2 * d2).mean()
    return {"mean": finite_or_none(m), "variance": finite_or_none(m2), "skewness": finite_or_none(m3 / m2**1.5),
            "kurtosis": finite_or_none(m4 / m2**2 - 3.0)}


def mean_var(x: np.ndarray, axis: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Mean and variance (ddof 0) along ``axis``, float64."""
    x = np.asarray(x, dtype=np.float64)
    if x.shape[axis] == 0:
        shape = list(x.shape)
        del shape[axis]
        return np.full(shape, np.nan), np.full(shape, np.nan)
    return x.mean(axis=axis), x.var(axis=axis)


def framed_sums(x: np.ndarray, frame_length: int, hop: int) -> np.ndarray:
    """Sum of ``x`` over centred frames (already padded input, ``(n - frame_length) // hop + 1`` frames) via cumsum."""
    c = np.concatenate([[0.0], np.cumsum(x, dtype=np.float64)])
    starts = np.arange(0, len(x) - frame_length + 1, hop)
    return c[starts + frame_length] - c[starts]


def rms_frames(y: np.ndarray, frame_length: int = 2048, hop: int = 512) -> np.ndarray:
    """librosa.feature.rms(y) per frame (centred, zero padded).

    When ``frame_length`` is a multiple of ``hop`` each frame's energy is the sum of ``frame_length // hop``
    consecutive hop-block energies, so the signal is squared and summed once (no cumulative sum).
    """
    y = np.asarray(y, dtype=np.float32)
    n_frames = 1 + len(y) // hop
    if frame_length % hop:
        yp = np.pad(y, frame_length // 2)
        return np.sqrt(np.maximum(framed_sums(yp.astype(np.float64) ** 2, frame_length, hop) / frame_length, 0.0))
    k = frame_length // hop
    n_blocks = n_frames + k - 1
    yp = np.zeros(n_blocks * hop, dtype=np.float32)
    h = frame_length // 2
    m = min(len(y), len(yp) - h)
    yp[h : h + m] = y[:m]
    blocks = np.einsum("ij,ij->i", yp.reshape(n_blocks, hop), yp.reshape(n_blocks, hop)).astype(np.float64)
    c = np.concatenate([[0.0], np.cumsum(blocks)])
    sums = c[k : k + n_frames] - c[:n_frames]
    return np.sqrt(np.maximum(sums / frame_length, 0.0))


def zcr_frames(y: np.ndarray, frame_length: int = 2048, hop: int = 512, threshold: float = 1e-10) -> np.ndarray:
    """librosa.feature.zero_crossing_rate(y) per frame (centred, edge padded), from the sparse crossing positions.

    A crossing at sample i (sign of i differs from i - 1, |x| <= threshold counts as positive) belongs to
    every frame whose samples s+1 .. s+L-1 include i; counts come from two binary searches per frame.
    """
    y = np.asarray(y)
    h = frame_length // 2
    n_frames = 1 + len(y) // hop
    if len(y) == 0:
        return np.zeros(n_frames)
    neg = y < -threshold
    # crossings inside y (index in padded coordinates = i + h); edge padding adds none
    pos = np.flatnonzero(neg[1:] != neg[:-1]) + 1 + h
    starts = np.arange(n_frames) * hop
    counts = np.searchsorted(pos, starts + frame_length, side="left") - np.searchsorted(pos, starts + 1, side="left")
    return counts / frame_length
