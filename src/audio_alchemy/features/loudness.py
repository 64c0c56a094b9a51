"""Loudness: integrated loudness (ITU-R BS.1770-4) and loudness range (EBU Tech 3342), vectorised.

Measured on the original channels at the original rate (a downmix would change the number). The
K-weighting coefficients are pyloudnorm's (for any sample rate); the gating is our own vectorised
version of pyloudnorm's loop (same blocks: 400 ms, 75 % overlap), about 5x faster, and the K-weighted
signal is shared with the loudness range.
"""

from __future__ import annotations

from functools import lru_cache

import numpy as np


@lru_cache(maxsize=8)
def _k_sos(sr: int) -> np.ndarray:
    import pyloudnorm

    meter = pyloudnorm.Meter(sr)
    rows = []
    for f in meter._filters.values():  # high_shelf then high_pass (BS.1770 pre-filter + RLB)
        b, a = np.asarray(f.b, float), np.asarray(f.a, float)
        rows.append(np.r_[b / a[0], a / a[0]])
    return np.array(rows)


class KWeighted:
    """The K-weighted signal reduced to what loudness needs: the cumulative channel-summed power.

    ``c[i]`` = sum over channels (weights 1: L, R, C) and samples ``< i`` of the K-weighted square,
    float64, so any block's mean square is one subtraction.
    """

    def __init__(self, samples: np.ndarray, sr: int):
        from scipy.signal import sosfilt

        x = np.atleast_2d(np.asarray(samples, dtype=np.float32))
        kw = sosfilt(_k_sos(sr).astype(np.float32), x, axis=1)  # float32 is ample for loudness (< 0.01 LU)
        p = np.einsum("cn,cn->n", kw, kw).astype(np.float64)
        self.c = np.concatenate([[0.0], np.cumsum(p)])
        self.n = x.shape[1]
        self.sr = sr


def k_weighted(samples: np.ndarray, sr: int) -> KWeighted:
    """K-weighting of ``(c, n)`` or ``(n,)`` samples (shared by integrated loudness and loudness range)."""
    return KWeighted(samples, sr)


def _block_power(kw: KWeighted, sr: int, block: float, step: float) -> np.ndarray:
    """Channel-summed mean square per block ``(n_blocks,)``."""
    n_block, n_step = int(round(block * sr)), int(round(step * sr))
    if kw.n < n_block:
        return np.zeros(0)
    starts = np.arange(0, kw.n - n_block + 1, n_step)
    return (kw.c[starts + n_block] - kw.c[starts]) / n_block


def _lufs(power: np.ndarray) -> np.ndarray:
    with np.errstate(divide="ignore"):
        return -0.691 + 10 * np.log10(power)


def integrated_lufs(samples: np.ndarray, sr: int, kw: KWeighted | None = None) -> float | None:
    """Integrated loudness (LUFS) with the -70 LUFS absolute and -10 LU relative gates; None if < 0.4 s or silent."""
    kw = k_weighted(samples, sr) if kw is None else kw
    z = _block_power(kw, sr, 0.4, 0.1)
    z = z[_lufs(z) > -70.0]
    if z.size == 0:
        return None
    rel = _lufs(np.mean(z)) - 10.0
    z = z[_lufs(z) > rel]
    return float(_lufs(np.mean(z))) if z.size else None


def loudness_range(samples: np.ndarray, sr: int, kw: KWeighted | None = None) -> float | None:
    """Loudness range (LU): 95th minus 10th percentile of gated 3-s short-term loudness (EBU Tech 3342).

    Gates: absolute -70 LUFS, then relative -20 LU below the power mean. None for clips shorter than 3 s.
    """
    kw = k_weighted(samples, sr) if kw is None else kw
    z = _block_power(kw, sr, 3.0, 0.1)
    st = _lufs(z)
    keep = st > -70.0
    if not np.any(keep):
        return None
    rel = _lufs(np.mean(z[keep])) - 20.0
    st = st[keep & (st > rel)]
    if st.size == 0:
        return None
    return float(np.percentile(st, 95) - np.percentile(st, 10))
