"""Artist metadata from the MusicBrainz JSON web service (v2): id, country/area, begin year, genres, tags.

Name search returns scored candidates; :func:`pick_artist` chooses the best one (score, exact name, tag
weight as a popularity proxy), says when the name is ambiguous, and lets a caller-supplied ``choose``
hook (``--interactive``) decide instead. Every request goes through :class:`~.http.PoliteClient`
(1 request/second to MusicBrainz, cached on disk).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from typing import Any

from .http import PoliteClient

MUSICBRAINZ_URL = "https://musicbrainz.org"
MUSICBRAINZ_INTERVAL = 1.0  # seconds between requests: https://musicbrainz.org/doc/MusicBrainz_API/Rate_Limiting
AMBIGUITY_MARGIN = 10  # candidates within this many score points of the best one count as rivals


class ArtistNotFound(LookupError):
    """No MusicBrainz artist matches the name."""

    kind = "artist_not_found"


@dataclass
class Artist:
    """One MusicBrainz artist, flattened: ``country`` is the ISO code (or the area name when there is none)."""

    mbid: str
    name: str
    score: int = 0
    sort_name: str | None = None
    type: str | None = None
    country: str | None = None
    area: str | None = None
    begin_area: str | None = None
    begin_year: int | None = None
    disambiguation: str = ""
    genres: list[str] = field(default_factory=list)
    tags: list[str] = field(default_factory=list)
    tag_weight: int = 0

    @property
    def genre(self) -> str | None:
        """The main genre: the most voted MusicBrainz genre, else the most voted tag."""
        return (self.genres or self.tags or [None])[0]

    def describe(self) -> str:
        """``Name (GB, 1970, British rock band)`` for reports and prompts."""
        bits = [b for b in (self.country or self.area, str(self.begin_year) if self.begin_year else None, self.disambiguation) if b]
        return f"{self.name} ({', '.join(bits)})" if bits else self.name

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass
class ArtistMatch:
    """The outcome of resolving a name: the chosen artist, all candidates, and whether the name was ambiguous."""

    query: str
    artist: Artist | None
    candidates: list[Artist]
    ambiguous: bool = False
    note: str = ""


@dataclass
class Recording:
    """A MusicBrainz recording as the collector needs it; ``length`` in seconds (None when unknown)."""

    mbid: str
    title: str
    length: float | None = None
    releases: int = 0
    disambiguation: str = ""
    video: bool = False


def _votes(items: Sequence[dict[str, Any]] | None) -> list[tuple[str, int]]:
    """``[{"name", "count"}, ...]`` sorted by votes (desc), then name; entries without a name dropped."""
    out = [(str(t.get("name", "")).strip(), int(t.get("count") or 0)) for t in (items or [])]
    return sorted([o for o in out if o[0]], key=lambda nc: (-nc[1], nc[0]))


def parse_artist(d: dict[str, Any]) -> Artist:
    """An :class:`Artist` from a search hit or a lookup document of the JSON web service."""
    area = d.get("area") or {}
    begin_area = d.get("begin-area") or {}
    country = d.get("country") or next(iter(area.get("iso-3166-1-codes") or []), None) or area.get("name")
    begin = (d.get("life-span") or {}).get("begin") or ""
    m = re.match(r"(\d{4})", begin)
    tags = _votes(d.get("tags"))
    genres = _votes(d.get("genres"))
    return Artist(
        mbid=d["id"], name=d.get("name", ""), score=int(d.get("score") or 0), sort_name=d.get("sort-name"),
        type=d.get("type"), country=country, area=area.get("name"), begin_area=begin_area.get("name"),
        begin_year=int(m.group(1)) if m else None, disambiguation=d.get("disambiguation") or "",
        genres=[g for g, _ in genres], tags=[t for t, _ in tags], tag_weight=sum(c for _, c in tags),
    )


def parse_recording(d: dict[str, Any]) -> Recording:
    """A :class:`Recording` from a recording search hit or lookup (``length`` is in milliseconds there)."""
    length = d.get("length")
    return Recording(
        mbid=d["id"], title=d.get("title", ""), length=(length / 1000.0) if length else None,
        releases=len(d.get("releases") or []), disambiguation=d.get("disambiguation") or "", video=bool(d.get("video")),
    )


def _fold(s: str) -> str:
    return " ".join(s.casefold().split())


def pick_artist(query: str, candidates: list[Artist], choose: Callable[[str, list[Artist]], Artist | None] | None = None) -> ArtistMatch:
    """Choose among search candidates: best score, then exact name, then tag votes; report ambiguity.

    The name is ambiguous when another candidate is within ``AMBIGUITY_MARGIN`` points of the best score
    and also carries the queried name. ``choose(query, rivals)`` (e.g. an interactive prompt) is asked only then.
    """
    if not candidates:
        return ArtistMatch(query, None, [], note=f"no MusicBrainz artist matches {query!r}")
    q = _fold(query)
    ranked = sorted(enumerate(candidates), key=lambda ia: (-ia[1].score, _fold(ia[1].name) != q, -ia[1].tag_weight, ia[0]))
    ordered = [a for _, a in ranked]
    best = ordered[0]
    rivals = [a for a in ordered if a.score >= best.score - AMBIGUITY_MARGIN and _fold(a.name) == _fold(best.name)]
    if len(rivals) < 2:
        return ArtistMatch(query, best, ordered, note=f"{best.describe()} [score {best.score}]")
    chosen = best
    how = "best score, then most tag votes"
    if choose is not None:
        picked = choose(query, rivals)
        if picked is not None:
            chosen, how = picked, "chosen interactively"
    others = "; ".join(a.describe() for a in rivals if a is not chosen)
    note = f"{len(rivals)} artists match {query!r}: took {chosen.describe()} ({how}); others: {others}"
    return ArtistMatch(query, chosen, ordered, ambiguous=True, note=note)


class MusicBrainz:
    """Typed access to the few MusicBrainz endpoints the collector uses (``base_url`` points tests at a fake)."""

    def __init__(self, client: PoliteClient, base_url: str = MUSICBRAINZ_URL, interval: float = MUSICBRAINZ_INTERVAL):
        self.client = client
        self.base_url = base_url.rstrip("/")
        client.set_interval(self.base_url, interval)

    def _get(self, path: str, **params: Any) -> Any:
        return self.client.get_json(f"{self.base_url}/ws/2/{path}", {**params, "fmt": "json"}, allow_404=True)

    def search_artists(self, name: str, limit: int = 10) -> list[Artist]:
        """Scored candidates for a name (Lucene query on the artist name and its aliases)."""
        body = self._get("artist", query=f'artist:"{_lucene_escape(name)}" OR alias:"{_lucene_escape(name)}"', limit=limit) or {}
        return [parse_artist(a) for a in body.get("artists") or []]

    def artist(self, mbid: str) -> Artist:
        """Full artist lookup with genres and tags (``inc=genres+tags``)."""
        body = self._get(f"artist/{mbid}", inc="genres+tags")
        if not body:
            raise ArtistNotFound(f"no MusicBrainz artist {mbid}")
        return parse_artist(body)

    def resolve(self, name: str, choose: Callable[[str, list[Artist]], Artist | None] | None = None) -> ArtistMatch:
        """Search a name, pick the best candidate (see :func:`pick_artist`), then look it up for genres and tags."""
        match = pick_artist(name, self.search_artists(name), choose)
        if match.artist is not None:
            full = self.artist(match.artist.mbid)
            full.score = match.artist.score
            match.artist = full
        return match

    def recordings(self, artist_mbid: str, limit: int = 100) -> list[Recording]:
        """Recordings credited to the artist (``query=arid:MBID``), videos left out."""
        body = self._get("recording", query=f"arid:{artist_mbid}", limit=limit) or {}
        return [r for r in (parse_recording(d) for d in body.get("recordings") or []) if not r.video]

    def recording(self, mbid: str) -> Recording | None:
        """One recording by id (for its length), or None when MusicBrainz does not know it."""
        body = self._get(f"recording/{mbid}")
        return parse_recording(body) if body else None


_LUCENE_SPECIAL = re.compile(r'([+\-!(){}\[\]^"~*?:\\/]|&&|\|\|)')


def _lucene_escape(s: str) -> str:
    """Escape Lucene query syntax so a name like ``AC/DC`` or ``"Weird Al"`` is searched literally."""
    return _LUCENE_SPECIAL.sub(r"\\\1", s)
