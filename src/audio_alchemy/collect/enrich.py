"""Library enrichment without download: fill artist genre and country of tracks already in the library.

Tracks are grouped by artist name (from their tags); each artist is resolved once with the same MusicBrainz
code the collector uses (polite, cached), and the genre/country columns are filled where empty (all of them
with ``overwrite=True``). Details (MBID, area, tags) go to ``tracks.extra``.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from ..library import Library
from .musicbrainz import Artist, MusicBrainz
from .pipeline import Chooser, Sources

STAGE = "enrich"


@dataclass
class EnrichSummary:
    """Counts of :func:`enrich`: artists looked up, tracks updated, artists not found, per-artist notes."""

    artists: int = 0
    updated: int = 0
    unchanged: int = 0
    not_found: int = 0
    notes: list[str] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)


def _artist_key(name: str) -> str:
    return " ".join(name.casefold().split())


def enrich(lib: Library, *, sources: Sources | None = None, musicbrainz_url: str | None = None, overwrite: bool = False,
           choose: Chooser | None = None, on_artist: Callable[[str, Artist | None, str], None] | None = None) -> EnrichSummary:
    """Fill genre/country of full-mix tracks from their artist's MusicBrainz entry; failures recorded per artist."""
    if sources is None:
        kw: dict[str, Any] = {"listenbrainz_url": None}
        if musicbrainz_url:
            kw["musicbrainz_url"] = musicbrainz_url
        sources = Sources.create(lib.home / "cache" / "http", **kw)
    mb: MusicBrainz = sources.musicbrainz
    groups: dict[str, list] = {}
    names: dict[str, str] = {}
    for t in lib.tracks(track_type=0):
        if not t.artist or (not overwrite and t.genre and t.country):
            continue
        k = _artist_key(t.artist)
        groups.setdefault(k, []).append(t)
        names.setdefault(k, t.artist.strip())
    summary = EnrichSummary()
    for k, tracks in groups.items():
        name = names[k]
        item = f"artist:{name}"
        summary.artists += 1
        try:
            mbid = next((t.extra.get("artist_mbid") for t in tracks if t.extra.get("artist_mbid")), None)
            if mbid:
                artist, note = mb.artist(mbid), "by MBID from the track's tags"
            else:
                match = mb.resolve(name, choose)
                artist, note = match.artist, match.note
        except Exception as exc:  # noqa: BLE001 - one artist's failure must not stop the others
            lib.record_error(STAGE, item, getattr(exc, "kind", type(exc).__name__), f"{name}: {exc}")
            summary.errors.append(f"{name}: {exc}")
            continue
        if on_artist is not None:
            on_artist(name, artist, note)
        if artist is None:
            summary.not_found += 1
            lib.record_error(STAGE, item, "artist_not_found", f"{name}: {note}")
            continue
        summary.notes.append(f"{name}: {note}")
        with lib.transaction():
            for t in tracks:
                cols = {}
                if artist.genre and (overwrite or not t.genre):
                    cols["genre"] = artist.genre
                if artist.country and (overwrite or not t.country):
                    cols["country"] = artist.country
                if not cols:
                    summary.unchanged += 1
                    continue
                extra = {"artist_mbid": artist.mbid, "area": artist.area, "artist_begin_year": artist.begin_year,
                         "artist_genres": artist.genres[:10], "artist_tags": artist.tags[:10]}
                lib.update_track(t.id, **cols, extra={k2: v for k2, v in extra.items() if v not in (None, [])})
                summary.updated += 1
            lib.clear_error(STAGE, item)
    return summary
