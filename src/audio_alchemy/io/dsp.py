"""Small pure array helpers for the decode contract: channel conversion and resampling.

Arrays are float32 with shape ``(channels, samples)``; 1-D input means one channel.
"""

from __future__ import annotations

import math
import numbers

import numpy as np
import soxr

MIN_RATE, MAX_RATE = 100, 4_000_000  # Hz: what any real file (infrasound to ultrasound) could use, and no more
MAX_UPSAMPLING = 1000  # resample refuses to multiply the samples by more: sr=1 once meant 1.5 G samples (20 GB)
MAX_CHANNELS = 64


def check_rate(sr) -> int:
    """``sr`` as an int, or ValueError: a whole number of Hz in 100 Hz..4 MHz (bools, fractions, strings refused)."""
    if isinstance(sr, bool) or not isinstance(sr, numbers.Real) or not math.isfinite(sr) or sr != int(sr):
        raise ValueError(f"sample rate must be a whole number of Hz, not {sr!r}")
    if not MIN_RATE <= int(sr) <= MAX_RATE:
        raise ValueError(f"sample rate {int(sr)} Hz is outside {MIN_RATE}..{MAX_RATE} Hz")
    return int(sr)


def check_samples(samples, max_channels: int = MAX_CHANNELS) -> np.ndarray:
    """Float audio ``(n,)`` or ``(channels, n)`` (at most ``max_channels``, n > 0) as an array, or ValueError saying
    how to fix it (PCM integers, a ``(n, channels)`` array)."""
    x = np.asarray(samples)
    if x.size == 0:
        raise ValueError("no samples")
    if not np.issubdtype(x.dtype, np.floating):
        raise ValueError(f"samples must be float in [-1, 1], not {x.dtype} (PCM integers: divide by their full scale)")
    if x.ndim == 1 or (x.ndim == 2 and x.shape[0] <= max_channels):
        return x
    hint = " (transpose a (n, channels) array)" if x.ndim == 2 and x.shape[1] <= max_channels else ""
    raise ValueError(f"samples must be (n,) or (channels, n) with at most {max_channels} channels, got shape "
                     f"{x.shape}{hint}")


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
    """Resample along the last axis with soxr; keeps the leading (channel) dimension and dtype float32.

    Rates are checked (:func:`check_rate`): a stray ``sr=1`` would otherwise ask for gigabytes."""
    sr_in, sr_out = check_rate(sr_in), check_rate(sr_out)
    if sr_out > MAX_UPSAMPLING * sr_in:
        raise ValueError(f"resampling {sr_in} Hz to {sr_out} Hz would make {sr_out // sr_in}x the samples")
    if sr_in == sr_out:
        return np.asarray(x, dtype=np.float32)
    x = np.asarray(x, dtype=np.float32)
    if x.shape[-1] == 0:
        return x.copy()
    if x.ndim == 1:
        return soxr.resample(x, sr_in, sr_out, quality=quality).astype(np.float32, copy=False)
    y = soxr.resample(np.ascontiguousarray(x.T), sr_in, sr_out, quality=quality)
    return np.ascontiguousarray(y.T, dtype=np.float32)
