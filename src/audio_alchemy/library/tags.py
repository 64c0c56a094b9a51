"""Tags: artist, title, album, genre, year, language (all optional), from mutagen and WAV/AIFF text chunks."""

from __future__ import annotations

import os
import re
from pathlib import Path
from typing import Any

FIELDS = ("artist", "title", "album", "genre", "date", "language")


# mutagen's easy interface does not cover the ID3 chunk of WAV and AIFF files: their frames are read by id
_ID3_FRAMES = {"artist": "TPE1", "title": "TIT2", "album": "TALB", "genre": "TCON", "date": "TDRC", "language": "TLAN"}
_RIFF_SUFFIXES = {".wav", ".wave", ".aif", ".aiff"}


def _mutagen_tags(path: str | Path) -> dict[str, str]:
    try:
        import mutagen
        from mutagen.id3 import ID3

        f = mutagen.File(str(path), easy=True)
    except Exception:  # noqa: BLE001 - tags are optional; a broken tag block must not fail an import
        return {}
    if f is None or not getattr(f, "tags", None):
        return {}
    raw_id3 = isinstance(f.tags, ID3)
    out: dict[str, str] = {}
    for key in FIELDS:
        try:
            if raw_id3:
                frame = f.tags.get(_ID3_FRAMES[key])
                val = (frame.genres if key == "genre" else frame.text) if frame is not None else None
            else:
                val = f.tags.get(key)
        except Exception:  # noqa: BLE001
            val = None
        if val:
            text = str(val[0] if isinstance(val, list) else val).strip()
            if text:
                out[key] = text
    return out


_INFO_IDS = {b"INAM": "title", b"IART": "artist", b"IPRD": "album", b"IGNR": "genre", b"ICRD": "date"}


def _text(raw: bytes) -> str:
    """A tag's bytes as text: UTF-8, else Windows-1252 (what most WAV editors on Windows wrote)."""
    raw = raw.split(b"\0", 1)[0]
    try:
        return raw.decode("utf-8").strip()
    except UnicodeDecodeError:
        return raw.decode("cp1252", errors="replace").strip()


def _wav_info(path: str | Path, max_chunks: int = 1000) -> dict[str, str]:
    """The LIST/INFO chunk of a RIFF WAV, read directly (libsndfile would decode non-UTF-8 text to U+FFFD)."""
    out: dict[str, str] = {}
    with open(path, "rb") as f:
        head = f.read(12)
        if len(head) < 12 or head[:4] != b"RIFF" or head[8:12] != b"WAVE":
            return out
        for _ in range(max_chunks):
            hdr = f.read(8)
            if len(hdr) < 8:
                break
            cid, size = hdr[:4], int.from_bytes(hdr[4:], "little")
            if cid == b"LIST" and f.read(4) == b"INFO":
                body = f.read(min(size - 4, 1 << 20))
                i = 0
                while i + 8 <= len(body):
                    sid, n = body[i:i + 4], int.from_bytes(body[i + 4:i + 8], "little")
                    if sid in _INFO_IDS and (text := _text(body[i + 8:i + 8 + n])):
                        out[_INFO_IDS[sid]] = text
                    i += 8 + n + (n & 1)
                break
            f.seek(size + (size & 1) - (4 if cid == b"LIST" else 0), os.SEEK_CUR)
    return out


def _riff_info(path: str | Path) -> dict[str, str]:
    """WAV LIST/INFO and AIFF text chunks (INAM, IART, NAME, AUTH, ...), which mutagen does not read."""
    try:
        if Path(path).suffix.lower() in (".wav", ".wave"):
            return _wav_info(path)
        import soundfile as sf

        with sf.SoundFile(str(path)) as f:
            got = {"title": f.title, "artist": f.artist, "album": f.album, "genre": f.genre, "date": f.date}
    except Exception:  # noqa: BLE001 - tags are optional
        return {}
    return {k: v.strip() for k, v in got.items() if v and v.strip()}


def read_tags(path: str | Path) -> dict[str, Any]:
    """The tags mutagen can read, plus RIFF INFO chunks of WAV/AIFF (empty dict when none); never raises."""
    out: dict[str, Any] = _mutagen_tags(path)
    if Path(path).suffix.lower() in _RIFF_SUFFIXES:
        out = {**_riff_info(path), **out}  # ID3 wins where both name a field
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
