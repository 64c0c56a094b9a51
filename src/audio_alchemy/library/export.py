"""Export the library: JSON in the study's per-song schema, or one row per track as CSV / Parquet."""

from __future__ import annotations

import json
import math
from importlib import resources
from pathlib import Path
from typing import Any

from .db import Library, Track, display_path, no_singing

KEY_NAMES = ("C", "C#", "D", "D#", "E", "F", "F#", "G", "G#", "A", "A#", "B")


def study_schema() -> dict[str, Any]:
    """The JSON Schema the JSON export validates against (``library/study_schema.json``)."""
    return json.loads(resources.files(__package__).joinpath("study_schema.json").read_text())


def _num(v: Any) -> float | None:
    if isinstance(v, bool) or v is None:
        return None
    try:
        f = float(v)
    except (TypeError, ValueError):
        return None
    return f if math.isfinite(f) else None


def _first(d: dict[str, Any], *keys: str) -> Any:
    for k in keys:
        if d.get(k) is not None:
            return d[k]
    return None


def _features(lib: Library, t: Track) -> dict[str, Any]:
    """All stored feature sets of a track merged (``full`` over ``seed``)."""
    merged: dict[str, Any] = {}
    sets = lib.feature_sets(t.id)
    for name in ("seed", "full"):
        merged.update(sets.get(name, {}))
    return merged


def _links(lib: Library, t: Track) -> dict[str, Any]:
    files = lib.files(t.id)
    first = {fmt: next((f.path for f in files if f.format == fmt), None) for fmt in ("wav", "mp3")}
    arts = lib.artifacts(t.id)
    return {
        "yt_link": (t.extra or {}).get("yt_link") or (t.extra or {}).get("source_url"),
        "wav_link": first["wav"] or arts.get("wav"),
        "mp3_link": first["mp3"] or arts.get("mp3"),
        "other_links": [f.path for f in files if f.path not in first.values()],  # a second WAV too
    }


def study_record(lib: Library, t: Track) -> dict[str, Any]:
    """One track in the study's JSON shape; fields not computed yet are null."""
    f = _features(lib, t)
    key = _first(f, "key_index", "key_pitch_class")
    key_name = _first(f, "key_name", "key")
    if key is None and key_name in KEY_NAMES:
        key = KEY_NAMES.index(key_name)
    if key_name not in KEY_NAMES:
        key_name = KEY_NAMES[int(key)] if isinstance(key, int) and 0 <= key < 12 else None
    mode_name = _first(f, "mode_name", "mode")
    mode_name = mode_name if mode_name in ("major", "minor") else None
    arts = lib.artifacts(t.id)
    lang = t.language
    preds = lib.predictions(t.id)
    # a predicted language for a song its vocal stem says nobody sings in is noise: leave it out (tags still count)
    sung = no_singing(preds) is None
    for p in preds:
        if p["task"] == "language" and not lang and sung:
            lang = p["label"]
    dur = _num(_first(f, "duration")) or t.duration
    zcr = _num(_first(f, "zero_crossing_rate"))
    return {
        "TrackId": t.id,
        "TrackType": t.track_type,
        "ParentId": t.parent_id,
        "AudioFile": _links(lib, t),
        "Region": t.country,
        "Data": {
            "Artist": t.artist,
            "Song Title": t.title,
            "Genre": t.genre,
            "Mean": _num(_first(f, "waveform_mean", "mean")),
            "Variance": _num(_first(f, "waveform_variance", "variance")),
            "Skewness": _num(_first(f, "waveform_skewness", "skewness")),
            "Kurtosis": _num(_first(f, "waveform_kurtosis", "kurtosis")),
            "Zero Crossing Rate": zcr,
            "RMS Energy": _num(_first(f, "rms_energy")),
            "Loudness": _num(_first(f, "loudness_lufs", "integrated_loudness", "loudness")),
            "Energy": _num(_first(f, "energy")),
            "Tempo": _num(_first(f, "tempo")),
            "Danceability": _num(_first(f, "danceability")),
            "Key": int(key) if isinstance(key, (int, float)) and key is not None else None,
            "Key Name": key_name,
            "Mode": None if mode_name is None else int(mode_name == "major"),
            "Mode Name": mode_name,
            "Mel-Spectrogram": arts.get("mel_npz"),
            "Duration (ms)": None if dur is None else round(dur * 1000.0, 3),
            "Language": lang,
            "Fundamental Frequency": _num(_first(f, "fundamental_freq")),
            "MFCC Mean": _num(_first(f, "mfcc_mean")),
            "MFCC Std": _num(_first(f, "mfcc_std")),
        },
    }


def flat_row(lib: Library, t: Track) -> dict[str, Any]:
    """One track as a flat row: identity and tags, then every scalar feature (lists are left out)."""
    row: dict[str, Any] = {
        "track_id": t.id, "parent_id": t.parent_id, "track_type": t.track_type, "separator": t.separator,
        "artist": t.artist, "title": t.title, "album": t.album, "genre": t.genre, "year": t.year,
        "language": t.language, "country": t.country, "duration": t.duration, "sample_rate": t.sample_rate,
        "channels": t.channels, "path": (p := lib.track_path(t.id)) and display_path(p),  # UTF-8 for CSV/Parquet
    }
    for k, v in _features(lib, t).items():
        if isinstance(v, (int, float, str, bool)) or v is None:
            row.setdefault(k, v)
    for p in lib.predictions(t.id):
        row.setdefault(f"pred_{p['task']}", p["label"])
    return row


def export(lib: Library, fmt: str, out: str | Path) -> int:
    """Write the whole library to ``out`` as json | csv | parquet; returns the number of records."""
    import pandas as pd

    tracks = lib.tracks()
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    if fmt == "json":
        records = [study_record(lib, t) for t in tracks]
        out.write_text(json.dumps(records, indent=2, ensure_ascii=False, allow_nan=False))
        return len(records)
    df = pd.DataFrame([flat_row(lib, t) for t in tracks])
    for col in ("parent_id", "year", "sample_rate", "channels"):  # ids and counts stay integers beside nulls
        if col in df and pd.api.types.is_numeric_dtype(df[col]) and (df[col].dropna() % 1 == 0).all():
            df[col] = df[col].astype("Int64")
    if fmt == "csv":
        df.to_csv(out, index=False)
    elif fmt == "parquet":
        df.to_parquet(out, index=False)
    else:
        raise ValueError(f"unknown export format {fmt!r}: use json, csv or parquet")
    return len(df)
