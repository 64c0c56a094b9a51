"""A thin adapter over the recommend layer's library API (``audio_alchemy.recommend.library_api``).

When that module is absent the page hides the panels (:func:`capabilities`); when it is present but has
nothing to say yet (no features, no feedback) the panels show its note instead of failing.
"""

from __future__ import annotations

import importlib
import threading
from typing import Any

from ..library import Library

_cache: dict[tuple, Any] = {}
_cache_lock = threading.Lock()


def _api() -> Any | None:
    try:
        return importlib.import_module("audio_alchemy.recommend.library_api")
    except ImportError:
        return None


def capabilities() -> dict[str, bool]:
    """Which recommendation panels can be filled."""
    api = _api()
    return {
        "sound_alikes": api is not None and callable(getattr(api, "sound_alikes", None)),
        "recommendations": api is not None and callable(getattr(api, "library_recommender", None)),
    }


def _items(lib: Library, recs: Any, k: int, songs_only: bool = False) -> list[dict[str, Any]]:
    """``Recommendation`` objects (item, score, reason, label) as JSON rows with the track's tags."""
    out = []
    for r in list(recs):
        if len(out) >= k:
            break
        try:
            tid = int(getattr(r, "item", None))
        except (TypeError, ValueError):
            continue
        t = lib.track(tid)
        if t is None or (songs_only and t.track_type != 0):
            continue
        out.append({"id": tid, "score": float(r.score), "reason": getattr(r, "reason", None), "label": t.label,
                    "artist": t.artist, "title": t.title, "genre": t.genre})
    return out


def sound_alikes(lib: Library, track_id: int, k: int = 10) -> dict[str, Any] | None:
    """``{"items": [...], "note": str|None}`` of tracks that sound like ``track_id``; None without the layer."""
    api = _api()
    if api is None or not callable(getattr(api, "sound_alikes", None)):
        return None
    try:
        recs = api.sound_alikes(lib, track_id, n=k)
    except KeyError as exc:  # no features stored yet, or none for this track
        return {"items": [], "note": str(exc.args[0] if exc.args else exc)}
    return {"items": _items(lib, recs, k), "note": getattr(recs, "note", None)}


def _fingerprint(lib: Library) -> tuple:
    """What a fitted library recommender depends on: feedback, features and tracks (refit when they change)."""
    one = lambda q: lib.conn.execute(q).fetchone()  # noqa: E731
    return (str(lib.path), one("SELECT count(*), max(id) FROM ratings"), one("SELECT max(created_at) FROM ratings"),
            one("SELECT count(*), max(id) FROM plays"), one("SELECT count(*), max(computed_at) FROM features"),
            one("SELECT count(*), max(id) FROM tracks"))


def recommendations(lib: Library, user_id: str, k: int = 10) -> dict[str, Any] | None:
    """``{"items": [...], "note": str|None}`` recommended to ``user_id``; None without the layer.

    The fitted recommender is cached until the library's feedback, features or tracks change.
    """
    api = _api()
    if api is None or not callable(getattr(api, "library_recommender", None)):
        return None
    key = _fingerprint(lib)
    with _cache_lock:
        rec = _cache.get(key)
        if rec is None:
            try:
                rec = api.library_recommender(lib)
            except ValueError as exc:  # InteractionError: no ratings or plays yet
                return {"items": [], "note": str(exc)}
            _cache.clear()
            _cache[key] = rec
    recs = rec.recommend(user_id, n=4 * k)  # stems are items too; the player recommends songs
    return {"items": _items(lib, recs, k, songs_only=True), "note": getattr(recs, "note", None)}
