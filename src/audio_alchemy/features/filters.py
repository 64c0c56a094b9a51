"""Filterbanks in plain numpy, numerically equal to librosa's (tested), so the fast path never imports librosa.

Why: ``import librosa.filters`` costs about 2 s of CPU per process (it pulls in scipy.signal and numba
stencils), which every batch worker would pay before its first track.
"""

from __future__ import annotations

import numpy as np

_F_SP = 200.0 / 3
_MIN_LOG_HZ = 1000.0
_MIN_LOG_MEL = _MIN_LOG_HZ / _F_SP
_LOGSTEP = np.log(6.4) / 27.0


def hz_to_mel(f) -> np.ndarray:
    """Slaney mel scale (librosa default, htk=False)."""
    f = np.asanyarray(f, dtype=np.float64)
    mel = f / _F_SP
    log_t = f >= _MIN_LOG_HZ
    return np.where(log_t, _MIN_LOG_MEL + np.log(np.maximum(f, 1e-300) / _MIN_LOG_HZ) / _LOGSTEP, mel)


def mel_to_hz(m) -> np.ndarray:
    m = np.asanyarray(m, dtype=np.float64)
    f = _F_SP * m
    return np.where(m >= _MIN_LOG_MEL, _MIN_LOG_HZ * np.exp(_LOGSTEP * (m - _MIN_LOG_MEL)), f)


def mel(sr: int, n_fft: int, n_mels: int = 128, fmin: float = 0.0, fmax: float | None = None) -> np.ndarray:
    """Slaney-normalised triangular mel filterbank ``(n_mels, 1 + n_fft // 2)`` float32 (librosa.filters.mel)."""
    fmax = sr / 2.0 if fmax is None else fmax
    fftfreqs = np.linspace(0, sr / 2.0, 1 + n_fft // 2)
    mel_f = mel_to_hz(np.linspace(hz_to_mel(fmin), hz_to_mel(fmax), n_mels + 2))
    fdiff = np.diff(mel_f)
    ramps = np.subtract.outer(mel_f, fftfreqs)
    lower = -ramps[:-2] / fdiff[:-1, None]
    upper = ramps[2:] / fdiff[1:, None]
    weights = np.maximum(0, np.minimum(lower, upper))
    weights *= (2.0 / (mel_f[2 : n_mels + 2] - mel_f[:n_mels]))[:, None]
    return weights.astype(np.float32)


def chroma(sr: int, n_fft: int, tuning: float = 0.0, n_chroma: int = 12, ctroct: float = 5.0,
           octwidth: float = 2.0) -> np.ndarray:
    """Chroma filterbank ``(n_chroma, 1 + n_fft // 2)`` float32 (librosa.filters.chroma defaults, base C)."""
    frequencies = np.linspace(0, sr, n_fft, endpoint=False)[1:]
    a440 = 440.0 * 2.0 ** (tuning / n_chroma)
    frqbins = n_chroma * np.log2(frequencies / (a440 / 16))
    frqbins = np.concatenate(([frqbins[0] - 1.5 * n_chroma], frqbins))
    binwidthbins = np.concatenate((np.maximum(frqbins[1:] - frqbins[:-1], 1.0), [1]))
    D = np.subtract.outer(frqbins, np.arange(0, n_chroma, dtype="d")).T
    half = np.round(float(n_chroma) / 2)
    D = np.remainder(D + half + 10 * n_chroma, n_chroma) - half
    wts = np.exp(-0.5 * (2 * D / np.tile(binwidthbins, (n_chroma, 1))) ** 2)
    norms = np.sqrt((wts**2).sum(axis=0, keepdims=True))
    wts = np.where(norms > np.finfo(wts.dtype).tiny, wts / np.where(norms > 0, norms, 1), wts)
    wts *= np.tile(np.exp(-0.5 * (((frqbins / n_chroma - ctroct) / octwidth) ** 2)), (n_chroma, 1))
    wts = np.roll(wts, -3 * (n_chroma // 12), axis=0)
    return np.ascontiguousarray(wts[:, : int(1 + n_fft / 2)], dtype=np.float32)


def transition_local_triangle(n_states: int, width: int) -> np.ndarray:
    """Row-normalised local transition matrix with a triangular window of odd ``width``, no wrap
    (librosa.sequence.transition_local(n_states, width, window="triangle", wrap=False))."""
    if width % 2 == 0 or width < 1:
        raise ValueError(f"width must be odd and positive, got {width}")
    half = width // 2
    n = np.arange(1, (width + 1) // 2 + 1)
    w = np.concatenate([2.0 * n / (width + 1), (2.0 * n / (width + 1))[-2::-1]])
    i = np.arange(n_states)
    d = i[None, :] - i[:, None]  # column minus row
    T = np.where(np.abs(d) <= half, w[np.clip(d + half, 0, width - 1)], 0.0)
    return T / T.sum(axis=1, keepdims=True)
