"""Tags read with mutagen's easy interface: artist, title, album, genre, year, language (all optional)."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

FIELDS = ("artist", "title", "album", "genre", "date", "language")


def read_tags(path: str | Path) -> dict[str, Any]:
    """The tags mutagen can read (empty dict when none or the file is not taggable); never raises."""
    try:
        import mutagen

        f = mutagen.File(str(path), easy=True)
    except Exception:  # noqa: BLE001 - tags are optional; a broken tag block must not fail an import
        return {}
    if f is None or not getattr(f, "tags", None):
        return {}
    out: dict[str, Any] = {}
    for key in FIELDS:
        try:
            val = f.tags.get(key)
        except Exception:  # noqa: BLE001
            val = None
        if val:
            text = str(val[0] if isinstance(val, list) else val).strip()
            if text:
                out[key] = text
    if "date" in out:
        m = re.match(r"(\d{4})", out.pop("date"))
        if m:
            out["year"] = int(m.group(1))
    return out


def guess_from_filename(path: str | Path) -> dict[str, str]:
    """"Artist - Title.ext" file names give artist and title when tags are missing."""
    stem = Path(path).stem.encode("utf-8", "surrogateescape").decode("utf-8", "replace")  # non-UTF-8 names
    for suffix in (".hq",):
        stem = stem.removesuffix(suffix)
    fs = stem.split("__")
    if len(fs) >= 3 and fs[0].isdigit():  # freesound downloads: "<id>__<user>__<title>"
        return {"artist": fs[1].strip(), "title": " ".join(fs[2:]).replace("-", " ").replace("_", " ").strip()}
    parts = re.split(r"\s*(?:_-_| - | – )\s*", stem, maxsplit=1)
    if len(parts) == 2 and parts[0] and parts[1]:
        return {"artist": parts[0].replace("_", " ").strip(), "title": parts[1].replace("_", " ").strip()}
    return {"title": stem.replace("_", " ").strip()}
