"""Named feature sets and the one entry point :func:`extract`.

``extract(samples, sr, feature_set="seed"|"full", track_type=0) -> dict`` of JSON-able values (floats,
ints, str, lists, nested dicts); undefined values are ``None``, never NaN. One resample to 22.05 kHz
mono, one STFT (2048/512) and one 128-band mel feed everything.

Keys of ``seed`` (the study's Table 1; definitions in ``../shared/SEED.md``):

=====================  =====================================================================
fundamental_freq       mean f0 (Hz) over voiced frames, pYIN model C2..C7 (None: nothing voiced)
freq_e_1..3            frequency (Hz) of the 1st..3rd STFT bin by total energy over time (None: silence)
freq_e_1..3_energy     that bin's total energy, sum over frames of ``|X|**2`` (what the study stored)
key                    strongest mean chroma bin, "C".."B" (None: no tonal energy)
duration               seconds (samples at 22.05 kHz / 22050)
zero_crossing_rate     mean frame zero-crossing rate
mfcc_mean, mfcc_std    mean / std over all 13 MFCCs x frames
tempo                  BPM, librosa's beat-tracker tempo estimate (None: silence or < 2 s)
rms_energy             mean frame RMS
track_type             0 full mix, 1 vocals, 2 accompaniment (passed in)
feature_version        version of these definitions (``VERSION``)
=====================  =====================================================================

``full`` adds: ``mean``, ``variance``, ``skewness``, ``kurtosis`` (waveform), ``loudness_lufs``
(BS.1770 integrated), ``loudness_range_lu`` (EBU 3342), ``energy`` (mean power of the mono signal),
``energy_db``, ``danceability`` (DFA, 0..1), ``key_name``/``mode``/``key_index``/``mode_index``/
``key_confidence`` (Krumhansl-Kessler), ``tuning``, ``spectral_centroid_mean/var``,
``spectral_bandwidth_mean/var``, ``spectral_rolloff_mean/var``, ``spectral_flatness_mean/var``,
``spectral_contrast_mean`` (7 list), ``chroma_mean``/``chroma_var`` (12 lists, C..B),
``mfcc20_mean``/``mfcc20_var`` (20 lists), ``zero_crossing_rate_var``, ``rms_var``, ``onset_rate``
(per s), ``beat_times`` (s list), ``voiced_fraction``, ``duration_ms``, and ``gtzan`` (dict with the
58 columns of ``features_30_sec.csv``, see :mod:`.gtzan`).
"""

from __future__ import annotations

import time
from typing import Any

import numpy as np

from ..io.dsp import check_rate, check_samples
from . import pitch, rhythm, spectral, stats, tonal
from .frontend import Frontend, analyze

VERSION = "1"
FEATURE_SETS = ("seed", "full")


class _Timer:
    def __init__(self, timings: dict | None):
        self.t = timings
        self.last = time.process_time()

    def __call__(self, name: str) -> None:
        if self.t is not None:
            now = time.process_time()
            self.t[name] = self.t.get(name, 0.0) + now - self.last
            self.last = now


def seed_features(fe: Frontend, track_type: int = 0, timings: dict | None = None, keep: dict | None = None) -> dict:
    """The study's Table 1 from a front end (see module docstring for keys)."""
    tick = _Timer(timings)
    y = fe.y
    power = fe.power
    tick("stft")
    f0, voiced = pitch.pyin_lite(y, fe.sr)
    tick("f0")
    top = spectral.top_energy_bins(power, fe.freqs, 3)
    tick("freq_e")
    tuning = tonal.estimate_tuning(power, fe.sr, fe.n_fft)
    chroma = tonal.chroma(power, fe.sr, fe.n_fft, tuning)
    key = tonal.key_from_chroma(chroma)
    tick("chroma")
    mel_db = fe.mel_db
    mfcc = spectral.mfcc(mel_db, 20 if keep is not None else 13)
    m13 = mfcc[:, :13]
    tick("mel_mfcc")
    zcr = stats.zcr_frames(y, fe.n_fft, fe.hop)
    rms = stats.rms_frames(y, fe.n_fft, fe.hop)
    tick("zcr_rms")
    oenv = rhythm.onset_envelope(mel_db, fe.n_fft, fe.hop)
    bpm = rhythm.tempo(oenv, fe.sr, fe.hop)
    tick("tempo")
    out = {
        "fundamental_freq": pitch.mean_f0(f0, voiced),
        "key": key,
        "duration": len(y) / fe.sr,
        "zero_crossing_rate": stats.finite_or_none(zcr.mean()) if zcr.size else None,
        "mfcc_mean": stats.finite_or_none(m13.mean(dtype=np.float64)),
        "mfcc_std": stats.finite_or_none(m13.std(dtype=np.float64)),
        "tempo": bpm,
        "rms_energy": stats.finite_or_none(rms.mean()) if rms.size else None,
        "track_type": int(track_type),
    }
    for k, (hz, e) in enumerate(top, 1):
        out[f"freq_e_{k}"] = hz
        out[f"freq_e_{k}_energy"] = e
    out["feature_version"] = VERSION
    if keep is not None:
        keep.update(f0=f0, voiced=voiced, chroma=chroma, tuning=tuning, mfcc=mfcc, zcr=zcr, rms=rms, oenv=oenv)
    return out


def full_features(fe: Frontend, samples: np.ndarray, sr: int, track_type: int = 0,
                  timings: dict | None = None) -> dict:
    """``seed`` plus the study's planned JSON fields and more (see module docstring)."""
    from . import gtzan, loudness

    keep: dict = {}
    out = seed_features(fe, track_type, timings, keep)
    tick = _Timer(timings)
    y = fe.y
    out.update(stats.moments(y))
    tick("moments")
    kw = loudness.k_weighted(samples, sr)
    out["loudness_lufs"] = loudness.integrated_lufs(samples, sr, kw)
    out["loudness_range_lu"] = loudness.loudness_range(samples, sr, kw)
    tick("loudness")
    energy = float(np.mean(np.square(y, dtype=np.float64))) if len(y) else 0.0
    out["energy"] = energy
    out["energy_db"] = 10 * np.log10(energy) if energy > 0 else None
    out["danceability"] = rhythm.danceability(y, fe.sr)
    tick("danceability")
    out.update({("key_name" if k == "key" else k): v for k, v in tonal.key_mode(keep["chroma"]).items()})
    out["tuning"] = keep["tuning"]
    mag = fe.magnitude
    cent = spectral.centroid(mag, fe.freqs)
    bw = spectral.bandwidth(mag, fe.freqs, cent)
    roll = spectral.rolloff(mag, fe.freqs)
    flat = spectral.flatness(fe.power)
    contrast = spectral.contrast(mag, fe.sr, fe.n_fft)
    tick("spectral")
    for name, x in (("spectral_centroid", cent), ("spectral_bandwidth", bw), ("spectral_rolloff", roll),
                    ("spectral_flatness", flat)):
        out[f"{name}_mean"] = stats.finite_or_none(np.mean(x)) if len(x) else None
        out[f"{name}_var"] = stats.finite_or_none(np.var(x)) if len(x) else None
    out["spectral_contrast_mean"] = [round(float(v), 6) for v in contrast.mean(axis=0)]
    cm, cv = stats.mean_var(keep["chroma"])
    out["chroma_mean"] = [stats.finite_or_none(v) for v in cm]
    out["chroma_var"] = [stats.finite_or_none(v) for v in cv]
    mm, mv = stats.mean_var(keep["mfcc"])
    out["mfcc20_mean"] = [stats.finite_or_none(v) for v in mm]
    out["mfcc20_var"] = [stats.finite_or_none(v) for v in mv]
    out["zero_crossing_rate_var"] = stats.finite_or_none(np.var(keep["zcr"]))
    out["rms_var"] = stats.finite_or_none(np.var(keep["rms"]))
    oenv = keep["oenv"]
    out["onset_rate"] = rhythm.onset_rate(oenv, fe.sr, fe.hop)
    out["beat_times"] = rhythm.beat_times(oenv, out["tempo"], fe.sr, fe.hop)
    tick("onsets_beats")
    out["voiced_fraction"] = float(np.mean(keep["voiced"])) if len(keep["voiced"]) else 0.0
    out["duration_ms"] = int(round(out["duration"] * 1000))
    out["gtzan"] = gtzan.gtzan_vector(y, fe.power, mag, keep["chroma"], keep["rms"], keep["zcr"], cent, bw, roll,
                                      keep["mfcc"], out["tempo"])
    tick("gtzan_hpss")
    return _json_safe(out)


def _json_safe(obj):
    if isinstance(obj, dict):
        return {k: _json_safe(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [_json_safe(v) for v in obj]
    if isinstance(obj, (np.floating, float)):
        return stats.finite_or_none(obj)
    if isinstance(obj, np.integer):
        return int(obj)
    return obj


def extract(samples: np.ndarray, sr: int, feature_set: str = "seed", track_type: int = 0,
            timings: dict | None = None) -> dict:
    """Compute a named feature set for ``samples`` ``(c, n)`` or ``(n,)`` float at rate ``sr``.

    Raises ValueError for an unknown set, empty, integer or wrongly shaped input, or an implausible rate.
    ``timings`` (optional) gets seconds per stage.
    """
    _check_set(feature_set)
    x = check_samples(samples)
    sr = check_rate(sr)
    return _compute(x, sr, feature_set, track_type, timings)[0]


def _check_set(feature_set: str) -> None:
    if feature_set not in FEATURE_SETS:
        raise ValueError(f"unknown feature set {feature_set!r}; choose one of {FEATURE_SETS}")


def _compute(x: np.ndarray, sr: int, feature_set: str, track_type: int, timings: dict | None) -> tuple[dict, Frontend]:
    """The set's features of checked samples, and the front end they came from (images reuse it)."""
    t0 = time.perf_counter()
    fe = analyze(x, sr)
    if timings is not None:
        timings["resample"] = timings.get("resample", 0.0) + time.perf_counter() - t0
    if feature_set == "seed":
        return _json_safe(seed_features(fe, track_type, timings)), fe
    return full_features(fe, x, sr, track_type, timings), fe


MAX_ANALYSIS_SECONDS = 15 * 60.0  # analysis memory grows with length: ~75 MB (seed) / ~190 MB (full) per minute


def analyse_file(path, feature_set: str = "seed", track_type: int = 0, timings: dict | None = None,
                 max_seconds: float | None = MAX_ANALYSIS_SECONDS) -> tuple[dict, Any, Frontend]:
    """``(features, audio, front end)`` of ``path``: one decode (native rate) of at most ``max_seconds``.

    A longer file (a DJ mix, an audiobook) is analysed over its first ``max_seconds`` only, so memory stays
    bounded (a 1-hour file once needed 4 GB for ``seed`` and 11 GB for ``full``); its features then say so:
    ``analysed_seconds`` is set and ``duration`` is still the whole file's. io errors propagate typed.
    """
    from ..io import load

    _check_set(feature_set)  # before the decode
    t0 = time.perf_counter()
    audio = load(path, duration=max_seconds)  # raises EmptyAudio when nothing decodes
    if timings is not None:
        timings["decode"] = timings.get("decode", 0.0) + time.perf_counter() - t0
    feats, fe = _compute(audio.samples, audio.sr, feature_set, track_type, timings)
    if (whole := whole_duration_if_cut(path, audio, max_seconds)) is not None:
        feats["analysed_seconds"] = round(audio.duration, 3)
        feats["duration"] = round(whole, 3)
        if "duration_ms" in feats:
            feats["duration_ms"] = int(round(whole * 1000))
    return feats, audio, fe


def whole_duration_if_cut(path, audio, max_seconds: float | None) -> float | None:
    """The whole file's duration when ``audio``, decoded from ``path`` with ``duration=max_seconds``, holds only its
    start; None when it holds all of it."""
    from ..io import probe

    if max_seconds is None or audio.duration < max_seconds - 0.05:
        return None
    whole = probe(path).duration
    return whole if whole > audio.duration + 0.05 else None


def extract_file(path, feature_set: str = "seed", track_type: int = 0, timings: dict | None = None,
                 max_seconds: float | None = MAX_ANALYSIS_SECONDS) -> dict:
    """The features of :func:`analyse_file` alone (io errors propagate typed)."""
    return analyse_file(path, feature_set, track_type, timings, max_seconds)[0]
