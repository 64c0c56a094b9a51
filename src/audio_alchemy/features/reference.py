"""The study's Table 1 features computed the way the study did: one librosa call per feature, pyin C2..C7.

Slow on purpose (about 1.7x real time per core): it is the yardstick the fast path (``sets.extract``) is
tested and benchmarked against, never used in production. Keys are the same as the fast ``seed`` set.
"""

from __future__ import annotations

import time
from pathlib import Path

import numpy as np

SR = 22050
KEY_NAMES = ("C", "C#", "D", "D#", "E", "F", "F#", "G", "G#", "A", "A#", "B")


def load_reference(path: str | Path, sr: int = SR) -> np.ndarray:
    """Decode like the study: ``librosa.load(path, sr=22050)`` (mono, soxr_hq)."""
    import librosa

    y, _ = librosa.load(str(path), sr=sr)
    return y


def reference_seed(y: np.ndarray, sr: int = SR, track_type: int = 0, timings: dict | None = None,
                   return_frames: bool = False) -> dict:
    """Table 1 of the study from mono ``y`` (n,), each feature its own librosa call, exactly as the study did.

    ``timings`` (optional dict) receives seconds per stage; ``return_frames`` adds ``_f0``/``_voiced``
    frame arrays (for agreement tests).
    """
    import librosa

    t = timings if timings is not None else {}

    def stage(name, fn):
        t0 = time.process_time()
        out = fn()
        t[name] = t.get(name, 0.0) + time.process_time() - t0
        return out

    y = np.asarray(y, dtype=np.float32)
    f0, voiced, _ = stage("pyin", lambda: librosa.pyin(
        y, fmin=librosa.note_to_hz("C2"), fmax=librosa.note_to_hz("C7"), sr=sr))
    fundamental = float(np.nanmean(f0)) if np.any(voiced) else None

    def freq_e():
        S = np.abs(librosa.stft(y)) ** 2
        energy = S.sum(axis=1)
        freqs = librosa.fft_frequencies(sr=sr)
        top = np.argsort(energy)[::-1][:3]
        return [(float(freqs[i]), float(energy[i])) for i in top]

    top = stage("stft_freq_e", freq_e)
    chroma = stage("chroma", lambda: librosa.feature.chroma_stft(y=y, sr=sr))
    key = KEY_NAMES[int(np.argmax(chroma.mean(axis=1)))]
    duration = stage("duration", lambda: float(librosa.get_duration(y=y, sr=sr)))
    zcr = stage("zcr", lambda: float(np.mean(librosa.feature.zero_crossing_rate(y))))
    mfcc = stage("mfcc", lambda: librosa.feature.mfcc(y=y, sr=sr, n_mfcc=13))
    tempo, _beats = stage("beat_track", lambda: librosa.beat.beat_track(y=y, sr=sr))
    rms = stage("rms", lambda: float(np.mean(librosa.feature.rms(y=y))))

    out = {
        "fundamental_freq": fundamental,
        "key": key,
        "duration": duration,
        "zero_crossing_rate": zcr,
        "mfcc_mean": float(np.mean(mfcc)),
        "mfcc_std": float(np.std(mfcc)),
        "tempo": float(np.atleast_1d(tempo)[0]),
        "rms_energy": rms,
        "track_type": int(track_type),
    }
    for k, (f, e) in enumerate(top, 1):
        out[f"freq_e_{k}"] = f
        out[f"freq_e_{k}_energy"] = e
    if return_frames:
        out["_f0"] = np.where(voiced, f0, np.nan)
        out["_voiced"] = voiced
    return out


def reference_seed_file(path: str | Path, track_type: int = 0, timings: dict | None = None) -> dict:
    """``reference_seed`` on a file decoded like the study (decode time goes to ``timings['decode']``)."""
    t0 = time.perf_counter()
    y = load_reference(path)
    if timings is not None:
        timings["decode"] = timings.get("decode", 0.0) + time.perf_counter() - t0
    return reference_seed(y, SR, track_type=track_type, timings=timings)
