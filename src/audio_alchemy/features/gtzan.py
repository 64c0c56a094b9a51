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

import numpy as np

COLUMNS = (
    ["length", "chroma_stft_mean", "chroma_stft_var", "rms_mean", "rms_var", "spectral_centroid_mean",
     "spectral_centroid_var", "spectral_bandwidth_mean", "spectral_bandwidth_var", "rolloff_mean", "rolloff_var",
     "zero_crossing_rate_mean", "zero_crossing_rate_var", "harmony_mean", "harmony_var", "perceptr_mean",
     "perceptr_var", "tempo"]
    + [f"mfcc{i}_{s}" for i in range(1, 21) for s in ("mean", "var")]
)


def hpss_shares(magnitude: np.ndarray, kernel: int = 31, power: float = 2.0, time_step: int = 1,
                ) -> tuple[np.ndarray, np.ndarray]:
    """librosa.decompose.hpss soft masks ``(frames, bins)`` for the harmonic and percussive parts.

    Median filters: harmonic along time, percussive along frequency (kernel 31), masks
    ``H^p / (H^p + P^p)`` with p = 2, as librosa.
    """
    from scipy.ndimage import median_filter

    harm = median_filter(magnitude, size=(kernel, 1), mode="reflect")
    perc = median_filter(magnitude, size=(1, kernel), mode="reflect")
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
