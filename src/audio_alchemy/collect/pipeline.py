"""The collector: artist names -> MusicBrainz metadata -> top songs -> audio (WAV + MP3) -> library rows.

Planning (metadata, top lists) runs in this process, one polite request at a time; downloads run through
:func:`audio_alchemy.jobs.run` and the driver alone writes the database. Progress lives in the table
``collect_songs`` (created here with ``CREATE TABLE IF NOT EXISTS``): a song whose row says ``done`` and whose
track still has a file is skipped, so a killed run resumes where it stopped; failures are recorded per song
with ``Library.record_error(stage="collect")`` and the batch goes on.

>>> from audio_alchemy.collect import collect
>>> collect(lib, ["Queen"], top=5)                  # doctest: +SKIP
"""

from __future__ import annotations

import shutil
import sqlite3
import time
import urllib.parse
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path
from typing import Any

from .. import config, jobs
from ..library import Library, import_paths
from ..library.importer import identify
from .download import DEFAULT_SEARCH, fetch_audio, is_url, safe_filename
from .http import PoliteClient
from .musicbrainz import MUSICBRAINZ_INTERVAL, MUSICBRAINZ_URL, Artist, ArtistMatch, MusicBrainz
from .toplists import LASTFM_URL, LISTENBRAINZ_INTERVAL, LISTENBRAINZ_URL, LastFm, ListenBrainz, TopTrack, title_key, top_tracks

STAGE = "collect"

SCHEMA = """
CREATE TABLE IF NOT EXISTS collect_songs (
    artist_mbid    TEXT NOT NULL,
    song_key       TEXT NOT NULL,
    artist         TEXT,
    title          TEXT,
    rank           INTEGER,
    recording_mbid TEXT,
    length         REAL,
    status         TEXT NOT NULL DEFAULT 'todo',   -- todo | done | failed
    track_id       INTEGER,
    wav_path       TEXT,
    mp3_path       TEXT,
    source_url     TEXT,
    message        TEXT,
    updated_at     TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now')),
    PRIMARY KEY (artist_mbid, song_key)
);
"""

Chooser = Callable[[str, list[Artist]], Artist | None]


@dataclass
class Sources:
    """The web services a run talks to, sharing one polite client (base URLs overridable for mirrors and tests)."""

    client: PoliteClient
    musicbrainz: MusicBrainz
    listenbrainz: ListenBrainz | None
    lastfm: LastFm | None = None

    @classmethod
    def create(cls, cache_dir: str | Path | None = None, *, client: PoliteClient | None = None,
               musicbrainz_url: str = MUSICBRAINZ_URL, listenbrainz_url: str | None = LISTENBRAINZ_URL,
               lastfm_key: str | None = None, lastfm_url: str = LASTFM_URL, listenbrainz_token: str | None = None,
               musicbrainz_interval: float = MUSICBRAINZ_INTERVAL, listenbrainz_interval: float = LISTENBRAINZ_INTERVAL,
               lastfm_interval: float = 0.25, contact: str | None = None) -> Sources:
        """Build the clients; ``cache_dir`` defaults to ``<library home>/cache/http``.

        Lower the intervals only for your own mirror (or a test server): the public services ask for them.
        """
        if client is None:
            client = PoliteClient(cache_dir=Path(cache_dir) if cache_dir else config.home() / "cache" / "http", contact=contact)
        mb = MusicBrainz(client, musicbrainz_url, interval=musicbrainz_interval)
        lb = (ListenBrainz(client, listenbrainz_url, token=listenbrainz_token, interval=listenbrainz_interval)
              if listenbrainz_url else None)
        fm = LastFm(client, lastfm_key, lastfm_url, interval=lastfm_interval) if lastfm_key else None
        return cls(client, mb, lb, fm)


@dataclass
class PlannedSong:
    """One song to collect, with the artist it belongs to and where it stands."""

    artist: Artist
    track: TopTrack
    status: str = "todo"  # todo | done | failed
    track_id: int | None = None
    message: str = ""

    @property
    def key(self) -> str:
        return title_key(self.track.title)

    @property
    def label(self) -> str:
        return f"{self.artist.name} – {self.track.title}"


@dataclass
class ArtistPlan:
    """What was found for one requested name: the match (with its ambiguity note) and the songs."""

    query: str
    match: ArtistMatch | None = None
    songs: list[PlannedSong] = field(default_factory=list)
    error: str | None = None

    @property
    def artist(self) -> Artist | None:
        return self.match.artist if self.match else None


@dataclass
class CollectResult:
    """Outcome of :func:`collect`: the plan plus counts of songs downloaded, skipped (already done) and failed."""

    plans: list[ArtistPlan]
    downloaded: int = 0
    skipped: int = 0
    failed: int = 0
    errors: list[str] = field(default_factory=list)
    track_ids: list[int] = field(default_factory=list)
    interrupted: bool = False

    def to_dict(self) -> dict[str, Any]:
        return {
            "artists": [
                {"query": p.query, "error": p.error, "note": p.match.note if p.match else "",
                 "artist": p.artist.to_dict() if p.artist else None,
                 "songs": [{**s.track.to_dict(), "status": s.status, "track_id": s.track_id, "message": s.message} for s in p.songs]}
                for p in self.plans
            ],
            "downloaded": self.downloaded, "skipped": self.skipped, "failed": self.failed, "errors": self.errors,
        }


# -- state -----------------------------------------------------------------------------------------
def ensure_schema(lib: Library) -> None:
    """Create the collector's progress table if it is missing (idempotent)."""
    lib.conn.executescript(SCHEMA)


def song_states(lib: Library | None) -> dict[tuple[str, str], tuple[str, int | None]]:
    """``(artist_mbid, song_key) -> (status, track_id)`` for every song a previous run touched (empty without a table)."""
    if lib is None:
        return {}
    try:
        rows = lib.conn.execute("SELECT artist_mbid, song_key, status, track_id FROM collect_songs").fetchall()
    except sqlite3.OperationalError:
        return {}
    return {(a, k): (s, t) for a, k, s, t in rows}


def _save_song(lib: Library, song: PlannedSong, **cols: Any) -> None:
    t = song.track
    base = {"artist": song.artist.name, "title": t.title, "rank": t.rank, "recording_mbid": t.recording_mbid, "length": t.length}
    base.update(cols)
    names = list(base)
    lib.conn.execute(
        f"INSERT INTO collect_songs (artist_mbid, song_key, {', '.join(names)}) VALUES (?, ?, {', '.join('?' * len(names))}) "
        f"ON CONFLICT(artist_mbid, song_key) DO UPDATE SET {', '.join(f'{n} = excluded.{n}' for n in names)}, "
        "updated_at = strftime('%Y-%m-%dT%H:%M:%fZ', 'now')",
        [song.artist.mbid, song.key, *base.values()],
    )


def _is_done(lib: Library | None, state: tuple[str, int | None] | None) -> bool:
    if lib is None or state is None or state[0] != "done" or state[1] is None:
        return False
    return lib.track(state[1]) is not None and lib.track_path(state[1]) is not None


# -- planning --------------------------------------------------------------------------------------
def plan(artists: Sequence[str], sources: Sources, top: int = 5, choose: Chooser | None = None,
         lib: Library | None = None) -> list[ArtistPlan]:
    """Resolve each name and list its top songs (network only, through the polite client); marks songs already done."""
    states = song_states(lib)
    plans: list[ArtistPlan] = []
    for query in artists:
        p = ArtistPlan(query)
        plans.append(p)
        try:
            p.match = sources.musicbrainz.resolve(query, choose)
            if p.artist is None:
                p.error = p.match.note
                continue
            a = p.artist
            tracks = top_tracks(a.mbid, a.name, top, listenbrainz=sources.listenbrainz, lastfm=sources.lastfm,
                                musicbrainz=sources.musicbrainz)
        except Exception as exc:  # noqa: BLE001 - one artist's failure must not stop the others
            p.error = f"{type(exc).__name__}: {exc}"
            continue
        if not tracks:
            p.error = f"no recordings found for {a.describe()}"
        for t in tracks:
            song = PlannedSong(a, t)
            if _is_done(lib, states.get((a.mbid, song.key))):
                song.status, song.track_id = "done", states[(a.mbid, song.key)][1]
            plans[-1].songs.append(song)
    return plans


# -- download (worker side) ------------------------------------------------------------------------
def source_for(song: PlannedSong, search: str = DEFAULT_SEARCH) -> str:
    """The yt-dlp input for a song: the search template filled in (URL-quoted when the template is a URL)."""
    fields = {"artist": song.artist.name, "title": song.track.title, "recording_mbid": song.track.recording_mbid or ""}
    if is_url(search):
        fields = {k: urllib.parse.quote(v, safe="") for k, v in fields.items()}
    return search.format(**fields)


def fetch_song(job: dict[str, Any], ydl_opts: dict[str, Any] | None = None) -> dict[str, Any]:
    """Worker task: download one song and write its WAV and MP3 (no database access here)."""
    got = fetch_audio(job["source"], job["out_dir"], job["stem"], job["length"], ydl_opts=ydl_opts)
    return {"wav": str(got.wav), "mp3": str(got.mp3), "duration": got.duration, "source_url": got.source_url,
            "source_title": got.source_title}


def song_tags(song: PlannedSong) -> dict[str, Any]:
    """The metadata imported with a song's files: library columns plus collection details (to ``tracks.extra``)."""
    a, t = song.artist, song.track
    return {
        "artist": a.name, "title": t.title, "genre": a.genre, "country": a.country,
        "collect_rank": t.rank, "top_source": t.source, "listens": t.listens, "artist_mbid": a.mbid,
        "recording_mbid": t.recording_mbid, "area": a.area, "begin_area": a.begin_area, "artist_begin_year": a.begin_year,
        "artist_genres": a.genres[:10], "artist_tags": a.tags[:10],
    }


# -- the whole run ---------------------------------------------------------------------------------
def collect(
    lib: Library | None,
    artists: Sequence[str],
    top: int = 5,
    audio: bool = True,
    dry_run: bool = False,
    *,
    sources: Sources | None = None,
    musicbrainz_url: str = MUSICBRAINZ_URL,
    listenbrainz_url: str | None = LISTENBRAINZ_URL,
    lastfm_key: str | None = None,
    lastfm_url: str = LASTFM_URL,
    listenbrainz_token: str | None = None,
    choose: Chooser | None = None,
    out_dir: str | Path | None = None,
    search: str = DEFAULT_SEARCH,
    workers: int = 1,
    ydl_opts: dict[str, Any] | None = None,
    progress: bool = False,
    on_plan: Callable[[list[ArtistPlan]], None] | None = None,
) -> CollectResult:
    """Collect the ``top`` songs of each artist into the library; resumable and idempotent.

    ``dry_run`` only plans (metadata requests, cached) and writes nothing; ``audio=False`` records the plan
    in ``collect_songs`` without downloading. Files go to ``out_dir`` (default ``<library home>/collection``).
    ``on_plan`` sees the plan before downloads start (the CLI prints it there).
    """
    home = lib.home if lib is not None else config.home()
    if sources is None:
        sources = Sources.create(home / "cache" / "http", musicbrainz_url=musicbrainz_url, listenbrainz_url=listenbrainz_url,
                                 lastfm_key=lastfm_key, lastfm_url=lastfm_url, listenbrainz_token=listenbrainz_token)
    plans = plan(artists, sources, top, choose, lib)
    result = CollectResult(plans)
    if on_plan is not None:
        on_plan(plans)
    if dry_run or lib is None:
        result.skipped = sum(s.status == "done" for p in plans for s in p.songs)
        for p in plans:  # an artist that could not be looked up fails the dry run too
            if p.error:
                result.failed += 1
                result.errors.append(f"{p.query}: {p.error}")
        return result

    ensure_schema(lib)
    job_id = lib.start_job(STAGE, {"artists": list(artists), "top": top, "audio": audio},
                           total=sum(s.status != "done" for p in plans for s in p.songs) if audio else 0)
    for p in plans:
        item = f"artist:{p.query}"
        if p.error:
            kind = "no_recordings" if p.artist else "artist_not_found"
            lib.record_error(STAGE, item, kind, f"{p.query}: {p.error}", job_id)
            result.failed += 1
            result.errors.append(f"{p.query}: {p.error}")
        else:
            lib.clear_error(STAGE, item)
        for s in p.songs:
            if s.status != "done" and not _known(lib, s):
                _save_song(lib, s, status="todo")
    todo = [s for p in plans for s in p.songs if s.status != "done"]
    result.skipped = sum(s.status == "done" for p in plans for s in p.songs)
    result.track_ids.extend(s.track_id for p in plans for s in p.songs if s.status == "done" and s.track_id)
    if not audio:
        lib.finish_job(job_id, "done", 0, result.failed, result.skipped)
        return result

    root = Path(out_dir) if out_dir else home / "collection"
    by_item: dict[int, PlannedSong] = {}
    jobs_in: list[dict[str, Any]] = []
    for i, s in enumerate(todo):
        by_item[i] = s
        jobs_in.append({"i": i, "source": source_for(s, search), "out_dir": str(root / safe_filename(s.artist.name)),
                        "stem": f"{s.artist.name} - {s.track.title}", "length": s.track.length, "label": s.label})

    for d in {j["out_dir"] for j in jobs_in}:
        remove_stale_downloads(d)

    def on_result(job: dict[str, Any], got: dict[str, Any]) -> None:
        s = by_item[job["i"]]
        tags = song_tags(s)
        tags.update(source_url=got["source_url"], source_title=got["source_title"])
        summary = import_paths(lib, [got["wav"]], workers=0, progress=False, tags=tags, exclusive=False)
        if not summary.track_ids:
            _fail(s, job, RuntimeError("; ".join(summary.errors) or "import failed"))
            return
        tid = summary.track_ids[0]
        # the MP3 is an encoding of the same WAV: attach it to that track (no fingerprint guess needed)
        mp3 = identify(got["mp3"])
        cols = {k: tags[k] for k in ("genre", "country") if tags.get(k)}
        extra = {k: v for k, v in tags.items() if k not in ("artist", "title", "genre", "country") and v not in (None, [], "")}
        with lib.transaction():
            lib.add_file(tid, got["mp3"], fmt="mp3", size=mp3["size"], mtime=mp3["mtime"], audio_hash=mp3["content_hash"])
            lib.update_track(tid, **cols, extra=extra)
            _save_song(lib, s, status="done", track_id=tid, wav_path=got["wav"], mp3_path=got["mp3"],
                       source_url=got["source_url"], message=None)
            lib.clear_error(STAGE, s.label)
        s.status, s.track_id = "done", tid
        result.downloaded += 1
        result.track_ids.append(tid)

    def _fail(s: PlannedSong, job: dict[str, Any], exc: BaseException) -> None:
        kind = getattr(exc, "kind", type(exc).__name__)
        msg = f"{s.label}: {exc}"
        lib.record_error(STAGE, s.label, kind, msg, job_id)
        _save_song(lib, s, status="failed", message=" ".join(str(exc).split())[:500])
        s.status, s.message = "failed", str(exc)
        result.failed += 1
        result.errors.append(" ".join(msg.split()))

    def on_error(job: dict[str, Any], exc: BaseException) -> None:
        _fail(by_item[job["i"]], job, exc)

    status = "interrupted"
    try:
        jobs.run(jobs_in, partial(fetch_song, ydl_opts=ydl_opts), on_result, on_error, workers=workers,
                 desc="collect", progress=progress, label=lambda j: j["label"])
        status = "done"
    except KeyboardInterrupt:
        result.interrupted = True
        raise
    finally:
        lib.finish_job(job_id, status, result.downloaded, result.failed, result.skipped)
    return result


def remove_stale_downloads(folder: str | Path, older_than: float = 3600.0) -> int:
    """Delete ``.dl-*`` temporary download folders a killed run left behind (only old ones: another run may be active)."""
    n = 0
    for d in Path(folder).glob(".dl-*"):
        try:
            if d.is_dir() and time.time() - d.stat().st_mtime > older_than:
                shutil.rmtree(d, ignore_errors=True)
                n += 1
        except OSError:
            continue
    return n


def _known(lib: Library, s: PlannedSong) -> bool:
    return lib.conn.execute("SELECT 1 FROM collect_songs WHERE artist_mbid = ? AND song_key = ?", (s.artist.mbid, s.key)).fetchone() is not None


__all__ = ["ArtistPlan", "CollectResult", "PlannedSong", "Sources", "collect", "ensure_schema", "fetch_song", "plan",
           "remove_stale_downloads", "song_states", "song_tags", "source_for"]
