"""Which file on disk answers a request for a track's audio or image: ids and enumerated variants in, paths out.

Nothing here takes a path from a request, so a request can only ever reach files the library lists (or the
WAV/MP3 copies this module derives from them into ``<library home>/derived/web``).
"""

from __future__ import annotations

import os
import threading
from dataclasses import dataclass
from email.utils import formatdate
from pathlib import Path

from ..io import load, save
from ..library import Library, Track

VARIANTS = ("original", "wav", "mp3", "vocals", "accompaniment")
STEM_TYPES = {"vocals": 1, "accompaniment": 2}
MP3_BITRATE = 128  # kbit/s: a common streaming rate, low enough that the MP3 low-pass shows in the curves

AUDIO_TYPES = {
    "wav": "audio/wav", "flac": "audio/flac", "mp3": "audio/mpeg", "ogg": "audio/ogg", "oga": "audio/ogg",
    "opus": "audio/ogg", "m4a": "audio/mp4", "mp4": "audio/mp4", "aac": "audio/aac", "aif": "audio/aiff",
    "aiff": "audio/aiff", "webm": "audio/webm",
}
IMAGE_TYPES = {".png": "image/png", ".jpg": "image/jpeg", ".jpeg": "image/jpeg", ".webp": "image/webp"}


class NotFound(LookupError):
    """The track, variant or file does not exist (the web layer answers 404 with this message)."""


class NeedsDerivation(Exception):
    """The WAV/MP3 asked for must be made first (slow: the web layer does it off the event loop)."""


@dataclass(frozen=True)
class ServedFile:
    """A regular file to send: where, its media type, and the validators for caching."""

    path: str
    media_type: str
    size: int
    mtime: float

    @property
    def etag(self) -> str:
        return f'"{self.size:x}-{int(self.mtime * 1e6):x}"'

    @property
    def last_modified(self) -> str:
        return formatdate(self.mtime, usegmt=True)


def served_file(path: str, media_type: str) -> ServedFile:
    """Stat ``path``; only an existing regular file qualifies."""
    try:
        st = os.stat(path)
    except OSError as exc:
        raise NotFound("file missing on disk") from exc
    if not os.path.isfile(path):
        raise NotFound("not a regular file")
    return ServedFile(path, media_type, st.st_size, st.st_mtime)


_locks: dict[tuple, threading.Lock] = {}
_locks_guard = threading.Lock()


def _lock_for(key: tuple) -> threading.Lock:
    with _locks_guard:
        return _locks.setdefault(key, threading.Lock())


def _existing_files(lib: Library, track_id: int):
    """The track's files that are on disk and unchanged since import (a changed file is not this track's audio)."""
    return [f for f in lib.files(track_id) if f.state() == "ok"]


def source_file(lib: Library, track_id: int) -> str | None:
    """The file a track came from: its original (or library copy), else any existing file (stems)."""
    files = _existing_files(lib, track_id)
    for role in ("original", "copy", "stem"):
        for f in files:
            if f.role == role:
                return f.fs_path
    return files[0].fs_path if files else None


def derived_path(lib: Library, track: Track, fmt: str) -> Path:
    """Where the web layer caches a track's WAV/MP3 (keyed by content hash, so a changed track gets a new file)."""
    safe_hash = "".join(c for c in track.content_hash if c.isalnum())[:16]
    return lib.derived_dir("web", fmt) / f"{track.id}-{safe_hash}.{fmt}"


def ensure_format(lib: Library, track: Track, fmt: str, derive: bool = True) -> str:
    """A file of ``track`` in ``fmt`` ("wav" or "mp3"): one the library has, else a cached conversion made now.

    Both the WAV and the MP3 are decoded from the same source file, so the two curves compare the codec only.
    """
    for f in _existing_files(lib, track.id):
        if f.format == fmt:
            return f.fs_path
    out = derived_path(lib, track, fmt)
    if out.is_file():
        return str(out)
    if not derive:
        raise NeedsDerivation(str(out))
    src = source_file(lib, track.id)
    if src is None:
        raise NotFound(f"track {track.id} has no audio file on disk")
    with _lock_for((str(out),)):
        if not out.is_file():  # another request may have made it while we waited
            audio = load(src)
            save(out, audio.samples, audio.sr, bitrate=MP3_BITRATE)
    return str(out)


def audio_file(lib: Library, track_id: int, variant: str, derive: bool = True) -> ServedFile:
    """The file answering ``variant`` of ``track_id`` (see :data:`VARIANTS`); :class:`NotFound` otherwise.

    With ``derive=False`` a missing WAV/MP3 conversion raises :class:`NeedsDerivation` instead of being made.
    """
    if variant not in VARIANTS:
        raise NotFound(f"unknown variant {variant!r}; one of {', '.join(VARIANTS)}")
    track = lib.track(track_id)
    if track is None:
        raise NotFound(f"no track {track_id}")
    if variant in STEM_TYPES:
        stem = lib.stems(track_id).get(STEM_TYPES[variant])
        if stem is None:
            raise NotFound(f"track {track_id} has no {variant} stem")
        path = source_file(lib, stem.id)
    elif variant == "original":
        path = source_file(lib, track_id)
    else:
        path = ensure_format(lib, track, variant, derive)
    if path is None:
        raise NotFound(f"track {track_id} has no {variant} file on disk")
    fmt = Path(path).suffix.lstrip(".").lower()
    return served_file(path, AUDIO_TYPES.get(fmt, "application/octet-stream"))


def image_file(lib: Library, track_id: int, kind: str) -> ServedFile:
    """An image artifact (e.g. ``mel_viridis_png``) of a track, looked up by kind in the artifacts table."""
    if len(kind) > 64 or not kind.replace("_", "").isalnum():
        raise NotFound("unknown artifact kind")
    if lib.track(track_id) is None:
        raise NotFound(f"no track {track_id}")
    path = lib.artifacts(track_id).get(kind)
    if path is None:
        raise NotFound(f"track {track_id} has no {kind} artifact")
    media_type = IMAGE_TYPES.get(Path(path).suffix.lower())
    if media_type is None:
        raise NotFound(f"artifact {kind} is not an image")
    return served_file(path, media_type)


def image_kinds(artifacts: dict[str, str]) -> list[str]:
    """The artifact kinds that are images (served by the web layer)."""
    return [k for k, p in sorted(artifacts.items()) if Path(p).suffix.lower() in IMAGE_TYPES]
