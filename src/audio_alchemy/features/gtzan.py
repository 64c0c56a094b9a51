"""The GTZAN-style 58-number vector with the column names of ``data/genre/features_30_sec.csv``.

Definitions follow librosa defaults (how the public table was made): chroma_stft, rms, spectral
centroid/bandwidth/rolloff, zero-crossing rate, HPSS harmonic/percussive signals, tempo, 20 MFCCs —
each as mean and variance over frames. ``length`` is the number of samples at 22.05 kHz.
``harmony_*``/``perceptr_*`` are computed from librosa's HPSS soft masks on the shared STFT without an
inverse STFT: the harmonic (percussive) waveform's variance is the signal variance times the masked
share of spectral energy, its mean the signal mean times the masked share at 0 Hz (an approximation
documented here; within a few per cent of the inverse-STFT values on music).
"""

from __future__ import annotations

import numba
import numpy as np

HPSS_DB_STEP = 0.25  # dB: quantisation of the log-magnitude for the HPSS median filters

COLUMNS = (
    ["length", "chroma_stft_mean", "chroma_stft_var", "rms_mean", "rms_var", "spectral_centroid_mean",
     "spectral_centroid_var", "spectral_bandwidth_mean", "spectral_bandwidth_var", "rolloff_mean", "rolloff_var",
     "zero_crossing_rate_mean", "zero_crossing_rate_var", "harmony_mean", "harmony_var", "perceptr_mean",
     "perceptr_var", "tempo"]
    + [f"mfcc{i}_{s}" for i in range(1, 21) for s in ("mean", "var")]
)


def _median_rows(q: np.ndarray, k: int, n_levels: int) -> np.ndarray:
    """Row-wise median filter: the histogram kernel, or scipy for rows shorter than the window.

    (With a window many times the row length, scipy's repeated reflection differs from ours at a few
    points; such clips are under a second long, so exactness there is cheaper than speed.)
    """
    if q.shape[1] < k:
        from scipy.ndimage import median_filter

        return median_filter(q, size=(1, k), mode="reflect")
    return _running_median_rows_q(q, k, n_levels)


@numba.njit(cache=True)
def _running_median_rows_q(q, k, n_levels):  # pragma: no cover - numba
    """Median filter of width ``k`` (odd) along each row of small integers (0..n_levels-1), 'reflect' edges.

    Huang's histogram algorithm: O(1) per step plus the (short) walk of the median pointer.
    """
    R, N = q.shape
    h = k // 2
    out = np.empty_like(q)
    p = np.empty(N + 2 * h, dtype=q.dtype)
    hist = np.zeros(n_levels, dtype=np.int64)
    for r in range(R):
        row = q[r]
        for i in range(N + 2 * h):
            j = i - h
            while j < 0 or j >= N:
                if j < 0:
                    j = -j - 1
                if j >= N:
                    j = 2 * N - j - 1
            p[i] = row[j]
        hist[:] = 0
        for i in range(k):
            hist[p[i]] += 1
        m = 0
        lt = 0
        while lt + hist[m] <= h:
            lt += hist[m]
            m += 1
        out[r, 0] = m
        for i in range(1, N):
            o = p[i - 1]
            v = p[i - 1 + k]
            hist[o] -= 1
            if o < m:
                lt -= 1
            hist[v] += 1
            if v < m:
                lt += 1
            while lt > h:
                m -= 1
                lt -= hist[m]
            while lt + hist[m] <= h:
                lt += hist[m]
                m += 1
            out[r, i] = m
    return out


def hpss_shares(magnitude: np.ndarray, kernel: int = 31, power: float = 2.0, time_step: int = 1,
                ) -> tuple[np.ndarray, np.ndarray]:
    """librosa.decompose.hpss soft masks ``(frames, bins)`` for the harmonic and percussive parts.

    Median filters: harmonic along time, percussive along frequency (kernel 31), masks
    ``H^p / (H^p + P^p)`` with p = 2, as librosa; medians taken on the log-magnitude quantised to
    ``HPSS_DB_STEP`` (exact up to that step, about 10x faster than scipy.ndimage.median_filter).
    """
    # medians commute with monotonic maps: filter the log-magnitude quantised in HPSS_DB_STEP steps
    # over the 128 dB below the maximum with an O(1) histogram median, then map back.
    step, levels = HPSS_DB_STEP, int(round(128 / HPSS_DB_STEP))
    ref = float(magnitude.max()) if magnitude.size else 0.0
    if ref <= 0:
        half = np.full(magnitude.shape, 0.5, dtype=np.float32)
        return half, half
    with np.errstate(divide="ignore"):
        db = 20 * np.log10(np.maximum(magnitude, ref * 1e-12) / ref)
    q = np.clip(np.round((db + (levels - 1) * step) / step), 0, levels - 1).astype(np.int16)
    harm_q = _median_rows(np.ascontiguousarray(q.T), kernel, levels).T  # along time
    perc_q = _median_rows(q, kernel, levels)  # along frequency
    floor = (levels - 1) * step

    def back(x):
        m = 10 ** ((x.astype(np.float32) * step - floor) / 20)
        return np.where(x > 0, m, 0.0)

    harm, perc = back(harm_q), back(perc_q)
    hp, pp = harm**power, perc**power
    tot = hp + pp
    ok = tot > np.finfo(np.float32).tiny
    mask_h = np.where(ok, hp / np.where(ok, tot, 1.0), 0.5)
    return mask_h, 1.0 - mask_h


def gtzan_vector(y: np.ndarray, power: np.ndarray, magnitude: np.ndarray, chroma: np.ndarray, rms: np.ndarray,
                 zcr: np.ndarray, centroid: np.ndarray, bandwidth: np.ndarray, rolloff: np.ndarray,
                 mfcc20: np.ndarray, tempo: float | None) -> dict:
    """The 58 GTZAN numbers from already computed frame features (shapes ``(frames, ...)``)."""
    out: dict[str, float | None] = {"length": int(len(y))}

    def mv(name, x):
        x = np.asarray(x, dtype=np.float64)
        out[f"{name}_mean"] = float(x.mean()) if x.size else None
        out[f"{name}_var"] = float(x.var()) if x.size else None

    mv("chroma_stft", chroma)
    mv("rms", rms)
    mv("spectral_centroid", centroid)
    mv("spectral_bandwidth", bandwidth)
    mv("rolloff", rolloff)
    mv("zero_crossing_rate", zcr)
    mask_h, mask_p = hpss_shares(magnitude)
    total = float(power.sum(dtype=np.float64))
    y64 = np.asarray(y, dtype=np.float64)
    var_y = float(y64.var()) if y64.size else 0.0
    mean_y = float(y64.mean()) if y64.size else 0.0
    dc = float(magnitude[:, 0].sum(dtype=np.float64))
    for name, m in (("harmony", mask_h), ("perceptr", mask_p)):
        share = float((power * (m * m)).sum(dtype=np.float64)) / total if total > 0 else 0.0
        dc_share = float((magnitude[:, 0] * m[:, 0]).sum(dtype=np.float64)) / dc if dc > 0 else 0.0
        out[f"{name}_mean"] = mean_y * dc_share
        out[f"{name}_var"] = var_y * share
    out["tempo"] = tempo
    means, vars_ = mfcc20.mean(axis=0, dtype=np.float64), mfcc20.var(axis=0, dtype=np.float64)
    for i in range(mfcc20.shape[1]):
        out[f"mfcc{i + 1}_mean"] = float(means[i])
        out[f"mfcc{i + 1}_var"] = float(vars_[i])
    return {k: out.get(k) for k in COLUMNS}
