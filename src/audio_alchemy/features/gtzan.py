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

COLUMNS = (
    ["length", "chroma_stft_mean", "chroma_stft_var", "rms_mean", "rms_var", "spectral_centroid_mean",
     "spectral_centroid_var", "spectral_bandwidth_mean", "spectral_bandwidth_var", "rolloff_mean", "rolloff_var",
     "zero_crossing_rate_mean", "zero_crossing_rate_var", "harmony_mean", "harmony_var", "perceptr_mean",
     "perceptr_var", "tempo"]
    + [f"mfcc{i}_{s}" for i in range(1, 21) for s in ("mean", "var")]
)


@numba.njit(cache=True)
def _running_median_rows(x, k):  # pragma: no cover - numba
    """Median filter of width ``k`` (odd) along each row, scipy.ndimage 'reflect' edges, O(k) per step.

    Our own because scipy.ndimage.median_filter took 10x longer on a (650, 1025) spectrogram.
    """
    R, N = x.shape
    h = k // 2
    out = np.empty_like(x)
    win = np.empty(k, dtype=x.dtype)
    p = np.empty(N + 2 * h, dtype=x.dtype)
    for r in range(R):
        row = x[r]
        for i in range(N + 2 * h):
            j = i - h
            while j < 0 or j >= N:  # half-sample symmetric reflection: d c b a | a b c d | d c b a
                if j < 0:
                    j = -j - 1
                if j >= N:
                    j = 2 * N - j - 1
            p[i] = row[j]
        for i in range(k):
            win[i] = p[i]
        win.sort()
        out[r, 0] = win[h]
        for i in range(1, N):
            old = p[i - 1]
            new = p[i - 1 + k]
            # remove old
            pos = np.searchsorted(win, old)
            for m in range(pos, k - 1):
                win[m] = win[m + 1]
            # insert new into win[0:k-1]
            q = np.searchsorted(win[: k - 1], new)
            for m in range(k - 1, q, -1):
                win[m] = win[m - 1]
            win[q] = new
            out[r, i] = win[h]
    return out


def hpss_shares(magnitude: np.ndarray, kernel: int = 31, power: float = 2.0, time_step: int = 1,
                ) -> tuple[np.ndarray, np.ndarray]:
    """librosa.decompose.hpss soft masks ``(frames, bins)`` for the harmonic and percussive parts.

    Median filters: harmonic along time, percussive along frequency (kernel 31), masks
    ``H^p / (H^p + P^p)`` with p = 2, as librosa.
    """
    mag = np.ascontiguousarray(magnitude, dtype=np.float32)
    harm = _running_median_rows(np.ascontiguousarray(mag.T), kernel).T  # along time
    perc = _running_median_rows(mag, kernel)  # along frequency
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
