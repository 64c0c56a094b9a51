"""An artist's top songs: ListenBrainz popularity (no key), Last.fm ``artist.getTopTracks`` (with a key), or,
as a last resort, MusicBrainz recordings ranked by how many releases carry them.

Every source yields :class:`TopTrack` rows in popularity order; :func:`dedupe` merges versions of one song
(live, remastered, mono, radio edit, the same title twice) so the top five are five different songs.
"""

from __future__ import annotations

import re
from dataclasses import asdict, dataclass, field
from typing import Any

from .http import HttpError, PoliteClient
from .musicbrainz import MusicBrainz

LISTENBRAINZ_URL = "https://api.listenbrainz.org"
LASTFM_URL = "https://ws.audioscrobbler.com/2.0/"
LISTENBRAINZ_INTERVAL = 0.5  # ListenBrainz publishes its limits in X-RateLimit headers; half a second stays well inside


@dataclass
class TopTrack:
    """One song of an artist's top list. ``length`` in seconds (None when the source does not say)."""

    title: str
    artist: str
    rank: int = 0
    recording_mbid: str | None = None
    release: str | None = None
    length: float | None = None
    listens: int | None = None
    source: str = ""
    merged: list[str] = field(default_factory=list)  # titles of the versions merged into this one

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


# Version markers in brackets or after a dash: "(Live at Wembley)", "- Remastered 2011", "[Mono]", "(2011 Remaster)".
_VERSION_WORDS = (
    r"live|remaster(?:ed)?|re-?master(?:ed)?|mono|stereo|single version|album version|radio edit|edit|"
    r"demo|acoustic|version|mix|remix|deluxe|bonus track|take \d+|bbc session|session|instrumental|mtv unplugged|unplugged"
)
_BRACKETED = re.compile(r"\s*[\(\[][^\)\]]*\b(?:" + _VERSION_WORDS + r")\b[^\)\]]*[\)\]]", re.IGNORECASE)
_DASHED = re.compile(r"\s+[-–—]\s+[^-–—]*\b(?:" + _VERSION_WORDS + r")\b.*$", re.IGNORECASE)
_LIVE = re.compile(r"\blive\b", re.IGNORECASE)


def base_title(title: str) -> str:
    """The song title without version markers: ``"Bohemian Rhapsody - Remastered 2011"`` -> ``"Bohemian Rhapsody"``."""
    t = _DASHED.sub("", _BRACKETED.sub("", title)).strip()
    return t or title.strip()


def title_key(title: str) -> str:
    """A comparison key for song identity: base title, case-folded, punctuation and spacing removed."""
    b = base_title(title)
    return re.sub(r"[\W_]+", "", b.casefold().replace("&", "and")) or " ".join(b.split()).casefold()


def is_variant(title: str) -> bool:
    """True when the title carries a version marker (live, remaster, edit...)."""
    return base_title(title) != title.strip() or bool(_LIVE.search(title))


def dedupe(tracks: list[TopTrack], top: int | None = None) -> list[TopTrack]:
    """Merge versions of one song (same recording id or same :func:`title_key`), keep popularity order, re-rank.

    The group takes its most popular position; its title is the plain studio title (a version without
    markers when one is present, else the base title); listen counts are summed.
    """
    groups: dict[str, list[TopTrack]] = {}
    order: list[str] = []
    by_mbid: dict[str, str] = {}
    for t in tracks:
        key = by_mbid.get(t.recording_mbid or "") or title_key(t.title)
        if key not in groups:
            groups[key] = []
            order.append(key)
        groups[key].append(t)
        if t.recording_mbid:
            by_mbid[t.recording_mbid] = key
    out: list[TopTrack] = []
    for key in order:
        g = groups[key]
        plain = [t for t in g if not is_variant(t.title)]
        rep = plain[0] if plain else g[0]
        counts = [t.listens for t in g if t.listens is not None]
        merged = TopTrack(
            title=rep.title if plain else base_title(rep.title), artist=rep.artist, recording_mbid=rep.recording_mbid,
            release=rep.release, length=rep.length or next((t.length for t in g if t.length), None),
            listens=sum(counts) if counts else None, source=rep.source,
            merged=[t.title for t in g if t is not rep],
        )
        out.append(merged)
    for i, t in enumerate(out, 1):
        t.rank = i
    return out[:top] if top else out


class ListenBrainz:
    """``/1/popularity/top-recordings-for-artist/<mbid>``: recordings by total listen count (no key needed).

    ``token`` (optional) is sent as ``Authorization: Token <token>`` for deployments that ask for one.
    """

    def __init__(self, client: PoliteClient, base_url: str = LISTENBRAINZ_URL, token: str | None = None,
                 interval: float = LISTENBRAINZ_INTERVAL):
        self.client = client
        self.base_url = base_url.rstrip("/")
        self.token = token
        client.set_interval(self.base_url, interval)

    def top_recordings(self, artist_mbid: str, artist_name: str = "") -> list[TopTrack]:
        headers = {"Authorization": f"Token {self.token}"} if self.token else None
        body = self.client.get_json(f"{self.base_url}/1/popularity/top-recordings-for-artist/{artist_mbid}",
                                    headers=headers, allow_404=True) or []
        out = []
        for d in body if isinstance(body, list) else []:
            if not d.get("recording_name"):
                continue
            length = d.get("length")
            out.append(TopTrack(
                title=d["recording_name"], artist=d.get("artist_name") or artist_name, recording_mbid=d.get("recording_mbid"),
                release=d.get("release_name"), length=length / 1000.0 if length else None,
                listens=d.get("total_listen_count"), source="listenbrainz",
            ))
        out.sort(key=lambda t: -(t.listens or 0))  # documented as ordered; sorted again to be sure
        return out


class LastFmError(RuntimeError):
    """Last.fm answered with an error document (``{"error": N, "message": ...}``)."""

    kind = "lastfm"


class LastFm:
    """``artist.getTopTracks`` (needs the user's API key): tracks by play count; lengths come from MusicBrainz."""

    def __init__(self, client: PoliteClient, api_key: str, base_url: str = LASTFM_URL, interval: float = 0.25):
        self.client = client
        self.api_key = api_key
        self.base_url = base_url
        client.set_interval(self.base_url, interval)

    def top_tracks(self, artist_name: str, artist_mbid: str | None = None, limit: int = 50) -> list[TopTrack]:
        params: dict[str, Any] = {"method": "artist.gettoptracks", "api_key": self.api_key, "format": "json",
                                  "limit": limit, "autocorrect": 1}
        params.update({"mbid": artist_mbid} if artist_mbid else {"artist": artist_name})
        body = self.client.get_json(self.base_url, params) or {}
        if "error" in body:
            if artist_mbid and body.get("error") == 6:  # Last.fm may not know the MBID: retry by name
                return self.top_tracks(artist_name, None, limit)
            raise LastFmError(f"Last.fm error {body.get('error')}: {body.get('message', '')}")
        tracks = (body.get("toptracks") or {}).get("track") or []
        if isinstance(tracks, dict):  # a single result comes as an object, not a list
            tracks = [tracks]
        out = []
        for d in tracks:
            if not d.get("name"):
                continue
            try:
                plays = int(d.get("playcount") or 0)
            except ValueError:
                plays = None
            out.append(TopTrack(title=d["name"], artist=(d.get("artist") or {}).get("name") or artist_name,
                                recording_mbid=d.get("mbid") or None, listens=plays, source="lastfm"))
        return out


def from_musicbrainz(mb: MusicBrainz, artist_mbid: str, artist_name: str) -> list[TopTrack]:
    """Fallback when no popularity source knows the artist: recordings ranked by the number of releases carrying them."""
    recs = sorted(mb.recordings(artist_mbid), key=lambda r: -r.releases)
    return [TopTrack(title=r.title, artist=artist_name, recording_mbid=r.mbid, length=r.length, listens=None,
                     source="musicbrainz-releases") for r in recs]


def top_tracks(artist_mbid: str, artist_name: str, top: int = 5, *, listenbrainz: ListenBrainz | None = None,
               lastfm: LastFm | None = None, musicbrainz: MusicBrainz | None = None) -> list[TopTrack]:
    """The artist's ``top`` songs, de-duplicated: Last.fm when configured, else ListenBrainz, else MusicBrainz.

    Missing lengths are filled from MusicBrainz recordings (by id) for the duration check.
    """
    raw: list[TopTrack] = []
    if lastfm is not None:
        raw = lastfm.top_tracks(artist_name, artist_mbid)
    if not raw and listenbrainz is not None:
        try:
            raw = listenbrainz.top_recordings(artist_mbid, artist_name)
        except HttpError as exc:
            if exc.status not in (400, 401, 403):  # an endpoint that wants a token falls through to MusicBrainz
                raise
    if not raw and musicbrainz is not None:
        raw = from_musicbrainz(musicbrainz, artist_mbid, artist_name)
    tracks = dedupe(raw, top)
    if musicbrainz is not None:
        for t in tracks:
            if t.length is None and t.recording_mbid:
                rec = musicbrainz.recording(t.recording_mbid)
                t.length = rec.length if rec else None
    return tracks
