"""Small pure array helpers for the decode contract: channel conversion and resampling.

Arrays are float32 with shape ``(channels, samples)``; 1-D input means one channel.
"""

from __future__ import annotations

import numpy as np
import soxr


def as_2d(x: np.ndarray) -> np.ndarray:
    """View ``(n,)`` as ``(1, n)``; pass ``(c, n)`` through."""
    x = np.asarray(x)
    if x.ndim == 1:
        return x[np.newaxis, :]
    if x.ndim != 2:
        raise ValueError(f"expected (channels, samples) or (samples,), got shape {x.shape}")
    return x


def to_mono(x: np.ndarray) -> np.ndarray:
    """Average channels: ``(c, n) -> (n,)``; ``(n,)`` is returned as is."""
    x = np.asarray(x)
    return x if x.ndim == 1 else x.mean(axis=0, dtype=np.float32)


def to_channels(x: np.ndarray, channels: int) -> np.ndarray:
    """Convert to ``channels`` channels: mono is duplicated, more channels are averaged down to mono first."""
    x = as_2d(x)
    if x.shape[0] == channels:
        return x
    mono = x.mean(axis=0, dtype=np.float32)
    return np.repeat(mono[np.newaxis, :], channels, axis=0)


def resample(x: np.ndarray, sr_in: int, sr_out: int, quality: str = "HQ") -> np.ndarray:
    """Resample along the last axis with soxr; keeps the leading (channel) dimension and dtype float32."""
    if sr_in == sr_out:
        return np.asarray(x, dtype=np.float32)
    x = np.asarray(x, dtype=np.float32)
    if x.shape[-1] == 0:
        return x.copy()
    if x.ndim == 1:
        return soxr.resample(x, sr_in, sr_out, quality=quality).astype(np.float32, copy=False)
    y = soxr.resample(np.ascontiguousarray(x.T), sr_in, sr_out, quality=quality)
    return np.ascontiguousarray(y.T, dtype=np.float32)
