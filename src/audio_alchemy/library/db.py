"""The library database: one SQLite file (WAL, foreign keys, migrations) behind a small typed API.

Only one process writes (the batch driver); readers (the web player) may run at the same time thanks to WAL.
"""

from __future__ import annotations

import json
import os
import sqlite3
import stat
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import quote

from .. import config
from ..io.errors import AudioError, ChangedFile, MissingFile
from .run_lock import exclusive_run
from .schema import check_readable, migrate

TRACK_TYPES = {0: "full", 1: "vocals", 2: "accompaniment"}
LIKERT_SCALES = (2, 3, 5)


def display_path(p: str | os.PathLike | bytes) -> str:
    """A printable, UTF-8-safe form of a path (undecodable bytes become backslash escapes)."""
    raw = os.fsencode(p)
    return raw.decode("utf-8", "backslashreplace")


@dataclass
class Track:
    """One row of ``tracks``: a song (track_type 0) or one of its stems (1 vocals, 2 accompaniment)."""

    id: int
    content_hash: str
    track_type: int = 0
    parent_id: int | None = None
    separator: str | None = None
    duration: float | None = None
    sample_rate: int | None = None
    channels: int | None = None
    artist: str | None = None
    title: str | None = None
    album: str | None = None
    genre: str | None = None
    year: int | None = None
    language: str | None = None
    country: str | None = None
    extra: dict[str, Any] = field(default_factory=dict)
    added_at: str | None = None

    @property
    def type_name(self) -> str:
        return TRACK_TYPES.get(self.track_type, str(self.track_type))

    @property
    def label(self) -> str:
        """"Artist – Title" where known, for listings."""
        name = " – ".join(x for x in (self.artist, self.title) if x) or f"track {self.id}"
        return name if self.track_type == 0 else f"{name} [{self.type_name}]"

    def to_dict(self) -> dict[str, Any]:
        d = self.__dict__.copy()
        d["type_name"] = self.type_name
        return d


@dataclass
class FileRow:
    """One row of ``files``: a path on disk holding audio of a track."""

    id: int
    track_id: int
    path: str
    raw_path: bytes
    format: str | None
    role: str
    size: int | None
    mtime: float | None
    audio_hash: str | None
    source_path: str | None = None

    @property
    def fs_path(self) -> str:
        """The exact path to open (round-trips non-UTF-8 names)."""
        return os.fsdecode(self.raw_path)

    def state(self) -> str:
        """``ok``; ``missing``; or ``changed``: its size, or for a file the user keeps (not our ``--copy``) its
        modification time, differs from what import recorded: edited, shortened or replaced since, so it may no
        longer hold the track's audio."""
        try:
            st = os.stat(self.fs_path)
        except OSError:
            return "missing"
        if not stat.S_ISREG(st.st_mode):
            return "missing"
        if self.size is not None and st.st_size != self.size:
            return "changed"
        if self.role == "original" and self.source_path is None and self.mtime is not None \
                and abs(st.st_mtime - self.mtime) > 1e-6:
            return "changed"
        return "ok"


_TRACK_COLS = (
    "id, content_hash, track_type, parent_id, separator, duration, sample_rate, channels, artist, title, "
    "album, genre, year, language, country, extra, added_at"
)
_FILE_COLS = "id, track_id, path, raw_path, format, role, size, mtime, audio_hash, source_path"


def _connect_readonly(path: Path) -> sqlite3.Connection:
    """A read-only connection. In a folder we cannot write, SQLite cannot make the WAL index it needs, so the file
    is opened ``immutable``; that would silently skip changes still in a ``-wal`` file, so those are refused."""
    base = f"file:{quote(str(path))}?mode=ro"
    if os.access(path.parent, os.W_OK):
        return sqlite3.connect(base, uri=True, timeout=60.0, isolation_level=None, check_same_thread=False)
    wal = Path(f"{path}-wal")
    if wal.exists() and wal.stat().st_size > 0:
        raise sqlite3.OperationalError(
            f"{wal} holds changes not yet merged into the library, and they cannot be read without write access "
            f"to {path.parent}: open the library once with write access")
    return sqlite3.connect(base + "&immutable=1", uri=True, timeout=60.0, isolation_level=None, check_same_thread=False)


def _enable_wal(conn: sqlite3.Connection, wait: float = 60.0) -> None:
    """``PRAGMA journal_mode = WAL``. While another process creates the same new library, SQLite answers this one
    "database is locked" at once (its busy timeout does not apply here), so it is retried for up to ``wait`` s."""
    deadline = time.monotonic() + wait
    while True:
        try:
            conn.execute("PRAGMA journal_mode = WAL")
            return
        except sqlite3.OperationalError as exc:
            if "locked" not in str(exc) or time.monotonic() > deadline:
                raise
            time.sleep(0.05)


def process_alive(pid: int | None) -> bool:
    """Whether a process with this id still exists on this machine (None: unknown, treated as gone)."""
    if not pid:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _track(row: sqlite3.Row | tuple) -> Track:
    vals = list(row)
    vals[15] = json.loads(vals[15]) if vals[15] else {}
    return Track(*vals)


def no_singing(predictions: list[dict[str, Any]]) -> dict[str, Any] | None:
    """The ``voice`` prediction among a track's ``predictions`` when it says ``instrumental`` (nobody sings, so a
    language label means little), else None."""
    return next((p for p in predictions if p["task"] == "voice" and p["label"] == "instrumental"), None)


class Library:
    """An open library database. Use :meth:`open`; close with :meth:`close` or a ``with`` block."""

    def __init__(self, conn: sqlite3.Connection, path: Path, readonly: bool = False):
        self.conn = conn
        self.path = path
        self.readonly = readonly

    # -- lifecycle ---------------------------------------------------------------------------------
    @classmethod
    def open(cls, path: str | Path | None = None, readonly: bool = False, create: bool = True) -> Library:
        """Open (creating and migrating if needed) the database at ``path`` (default: the library home).

        ``create=False``: a missing file raises :class:`FileNotFoundError` instead of becoming a new empty
        library (a mistyped path). ``readonly``: never write (no migration, no journal files), which also works
        in a folder this user cannot write."""
        path = (Path(path) if path else config.default_db_path()).absolute()  # stored derived paths stay absolute
        if (readonly or not create) and not path.exists():  # read-only cannot create one either
            raise FileNotFoundError(f"no library at {path} (`alchemy import FOLDER` creates one)")
        if (readonly or not create) and path.is_file() and path.stat().st_size == 0:  # SQLite would make one silently
            raise FileNotFoundError(f"no library at {path}: the file is empty (`alchemy import FOLDER --db {path}` "
                                    "makes it one)")
        if readonly:
            conn = _connect_readonly(path)
        else:
            path.parent.mkdir(parents=True, exist_ok=True)
            conn = sqlite3.connect(str(path), timeout=60.0, isolation_level=None, check_same_thread=False)
        try:
            conn.execute("PRAGMA busy_timeout = 60000")
            conn.execute("PRAGMA foreign_keys = ON")
            if readonly:
                check_readable(conn)
            else:
                _enable_wal(conn)
                conn.execute("PRAGMA synchronous = NORMAL")
                migrate(conn)
        except BaseException:
            conn.close()
            raise
        return cls(conn, path, readonly)

    def close(self) -> None:
        self.conn.close()

    def __enter__(self) -> Library:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    @property
    def home(self) -> Path:
        """The folder beside the database where derived files (stems, images, copies) are kept."""
        return self.path.parent

    def exclusive(self, stage: str):
        """Context manager: this process is the only one running ``stage`` on this library while it is held
        (another raises :class:`~audio_alchemy.library.run_lock.RunInProgress` at once instead of redoing the work)."""
        return exclusive_run(self.path, stage)

    def derived_dir(self, *parts: str) -> Path:
        d = self.home.joinpath("derived", *parts)
        d.mkdir(parents=True, exist_ok=True)
        return d

    @contextmanager
    def transaction(self) -> Iterator[sqlite3.Connection]:
        """``BEGIN IMMEDIATE`` ... ``COMMIT`` (rolled back on error): one atomic write. Inside another transaction
        it simply joins it (the outer one commits or rolls back the whole)."""
        if self.conn.in_transaction:
            yield self.conn
            return
        self.conn.execute("BEGIN IMMEDIATE")
        try:
            yield self.conn
        except BaseException:
            self.conn.execute("ROLLBACK")
            raise
        self.conn.execute("COMMIT")

    def integrity_ok(self) -> bool:
        return self.conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"

    # -- tracks ------------------------------------------------------------------------------------
    def tracks(self, track_type: int | None = None, parent_id: int | None = None) -> list[Track]:
        """All tracks, optionally of one type or under one parent, ordered by id."""
        q, args = f"SELECT {_TRACK_COLS} FROM tracks WHERE 1=1", []
        if track_type is not None:
            q += " AND track_type = ?"
            args.append(track_type)
        if parent_id is not None:
            q += " AND parent_id = ?"
            args.append(parent_id)
        return [_track(r) for r in self.conn.execute(q + " ORDER BY id", args)]

    def track(self, track_id: int) -> Track | None:
        r = self.conn.execute(f"SELECT {_TRACK_COLS} FROM tracks WHERE id = ?", (track_id,)).fetchone()
        return _track(r) if r else None

    def count_tracks(self, track_type: int | None = None) -> int:
        if track_type is None:
            return self.conn.execute("SELECT count(*) FROM tracks").fetchone()[0]
        return self.conn.execute("SELECT count(*) FROM tracks WHERE track_type = ?", (track_type,)).fetchone()[0]

    def resolve(self, ref: str | int) -> Track:
        """A track from an id, a file path, or a unique case-insensitive title/artist substring."""
        s = str(ref).strip()
        if s.isdigit() and (t := self.track(int(s))):
            return t
        row = self.conn.execute("SELECT track_id FROM files WHERE raw_path = ?", (os.fsencode(os.path.abspath(s)),)).fetchone()
        if row:
            return self.track(row[0])  # type: ignore[return-value]
        # matched in Python: casefold handles non-ASCII titles (SQLite's lower() does not) and "%"/"_" are literal
        needle = s.casefold()
        rows = self.conn.execute(f"SELECT {_TRACK_COLS} FROM tracks WHERE track_type = 0").fetchall()
        tracks = [_track(r) for r in rows]
        names = [((t.title or "").casefold(), f"{t.artist or ''} - {t.title or ''}".casefold(),
                  t.label.casefold(), f"{t.artist or ''} {t.title or ''}".casefold()) for t in tracks]
        exact = [t for t, n in zip(tracks, names) if needle in n[:3]]  # "Love" picks "Love" over "Love Song"
        found = exact or [t for t, n in zip(tracks, names) if needle in n[0] or needle in n[3]]
        if len(found) == 1:
            return found[0]
        if not found:
            raise KeyError(f"no track matches {s!r} (give an id from `alchemy ls`, a path or part of a title)")
        shown = "; ".join(f"{t.id}: {t.label}" for t in found[:5]) + ("; ..." if len(found) > 5 else "")
        raise KeyError(f"{len(found)} tracks match {s!r} ({shown}); be more specific or use an id")

    def find_by_hash(self, content_hash: str) -> int | None:
        r = self.conn.execute("SELECT id FROM tracks WHERE content_hash = ?", (content_hash,)).fetchone()
        if r:
            return r[0]
        r = self.conn.execute("SELECT track_id FROM files WHERE audio_hash = ? LIMIT 1", (content_hash,)).fetchone()
        return r[0] if r else None

    def candidates_by_duration(self, duration: float, tolerance: float) -> list[tuple[int, bytes | None, float]]:
        """(id, fingerprint, duration) of full-mix tracks whose duration is within ``tolerance`` seconds."""
        return self.conn.execute(
            "SELECT id, fingerprint, duration FROM tracks WHERE track_type = 0 AND duration BETWEEN ? AND ?",
            (duration - tolerance, duration + tolerance),
        ).fetchall()

    def add_track(self, content_hash: str, **cols: Any) -> int:
        """Insert a track row (inside the caller's transaction) and return its id."""
        extra = cols.pop("extra", None)
        cols["extra"] = json.dumps(extra) if extra else None
        names = ["content_hash", *cols]
        cur = self.conn.execute(
            f"INSERT INTO tracks ({', '.join(names)}) VALUES ({', '.join('?' * len(names))})",
            [content_hash, *cols.values()],
        )
        return int(cur.lastrowid)

    def update_track(self, track_id: int, **cols: Any) -> None:
        """Set columns of a track (e.g. genre/country from enrichment); ``extra`` is merged, not replaced."""
        if "extra" in cols:
            t = self.track(track_id)
            merged = dict(t.extra if t else {})
            merged.update(cols.pop("extra") or {})
            cols["extra"] = json.dumps(merged)
        if cols:
            sets = ", ".join(f"{k} = ?" for k in cols)
            self.conn.execute(f"UPDATE tracks SET {sets} WHERE id = ?", [*cols.values(), track_id])

    def stems(self, track_id: int) -> dict[int, Track]:
        """The stem tracks of a song, by track_type (newest separator wins when there are several)."""
        return {t.track_type: t for t in self.tracks(parent_id=track_id)}

    def find_stem(self, parent_id: int, track_type: int, separator: str) -> int | None:
        r = self.conn.execute(
            "SELECT id FROM tracks WHERE parent_id = ? AND track_type = ? AND separator = ?",
            (parent_id, track_type, separator),
        ).fetchone()
        return r[0] if r else None

    def add_stem(
        self, parent_id: int, track_type: int, separator: str, path: str | Path, content_hash: str,
        duration: float, sample_rate: int, channels: int,
    ) -> int:
        """Record a stem (1 vocals, 2 accompaniment) made by ``separator`` from ``parent_id``; idempotent."""
        if track_type not in (1, 2):
            raise ValueError("a stem is track_type 1 (vocals) or 2 (accompaniment)")
        with self.transaction():
            existing = self.find_stem(parent_id, track_type, separator)
            if existing:
                return existing
            parent = self.track(parent_id)
            if parent is None:
                raise KeyError(f"no track {parent_id}")
            tid = self.add_track(
                f"{content_hash}:{parent_id}:{track_type}:{separator}",
                parent_id=parent_id, track_type=track_type, separator=separator, duration=duration,
                sample_rate=sample_rate, channels=channels, artist=parent.artist, title=parent.title,
                album=parent.album, genre=parent.genre, year=parent.year, language=parent.language,
                country=parent.country,
            )
            self.add_file(tid, path, role="stem", audio_hash=content_hash)
        return tid

    # -- files -------------------------------------------------------------------------------------
    def file_by_path(self, path: str | os.PathLike) -> FileRow | None:
        r = self.conn.execute(f"SELECT {_FILE_COLS} FROM files WHERE raw_path = ?", (os.fsencode(path),)).fetchone()
        return FileRow(*r) if r else None

    def file_by_source(self, path: str | os.PathLike) -> FileRow | None:
        r = self.conn.execute(f"SELECT {_FILE_COLS} FROM files WHERE source_path = ?", (display_path(path),)).fetchone()
        return FileRow(*r) if r else None

    def files(self, track_id: int) -> list[FileRow]:
        return [FileRow(*r) for r in self.conn.execute(f"SELECT {_FILE_COLS} FROM files WHERE track_id = ? ORDER BY id", (track_id,))]

    def add_file(
        self, track_id: int, path: str | os.PathLike, role: str = "original", fmt: str | None = None,
        size: int | None = None, mtime: float | None = None, audio_hash: str | None = None,
        source_path: str | None = None,
    ) -> int:
        """Insert (or update) the file row for ``path`` (inside the caller's transaction)."""
        raw = os.fsencode(path)
        if fmt is None:
            fmt = Path(os.fsdecode(raw)).suffix.lstrip(".").lower() or None
        cur = self.conn.execute(
            "INSERT INTO files (track_id, path, raw_path, format, role, size, mtime, audio_hash, source_path) "
            "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT(raw_path) DO UPDATE SET track_id = excluded.track_id, "
            "format = excluded.format, role = excluded.role, size = excluded.size, mtime = excluded.mtime, "
            "audio_hash = excluded.audio_hash RETURNING id",
            (track_id, display_path(raw), raw, fmt, role, size, mtime, audio_hash, source_path),
        )
        return int(cur.fetchone()[0])

    def track_path(self, track_id: int, prefer: tuple[str, ...] = ("wav", "flac")) -> str | None:
        """The best intact file of a track (present, unchanged since import): a lossless one if present (the largest
        of its kind: for PCM that is the highest rate, channel count and bit depth of the same music), else the
        first intact one."""
        rows = [f for f in self.files(track_id) if f.state() == "ok"]
        if not rows:
            return None
        for fmt in prefer:
            same = [f for f in rows if f.format == fmt]
            if same:
                return max(same, key=lambda f: f.size or 0).fs_path
        return rows[0].fs_path

    # -- features, artifacts, predictions ----------------------------------------------------------
    def put_features(self, track_id: int, feature_set: str, version: str, data: dict[str, Any],
                     artifacts: dict[str, str | Path] | None = None) -> None:
        """Store (replace) one feature set of a track as JSON (NaN refused: use None), plus the files the same
        computation wrote (``artifacts``: ``{kind: path}``, e.g. mel images)."""
        blob = json.dumps(data, allow_nan=False)
        self.conn.execute(
            "INSERT INTO features (track_id, feature_set, version, data) VALUES (?, ?, ?, ?) "
            "ON CONFLICT(track_id, feature_set) DO UPDATE SET version = excluded.version, data = excluded.data, "
            "computed_at = strftime('%Y-%m-%dT%H:%M:%fZ', 'now')",
            (track_id, feature_set, version, blob),
        )
        for kind, path in (artifacts or {}).items():
            self.put_artifact(track_id, kind, path)

    def get_features(self, track_id: int, feature_set: str, version: str | None = None) -> dict[str, Any] | None:
        q, args = "SELECT data FROM features WHERE track_id = ? AND feature_set = ?", [track_id, feature_set]
        if version is not None:
            q += " AND version = ?"
            args.append(version)
        r = self.conn.execute(q, args).fetchone()
        return json.loads(r[0]) if r else None

    def feature_sets(self, track_id: int) -> dict[str, dict[str, Any]]:
        return {fs: json.loads(d) for fs, d in self.conn.execute("SELECT feature_set, data FROM features WHERE track_id = ?", (track_id,))}

    def tracks_with_features(self, feature_set: str, version: str | None = None) -> set[int]:
        q, args = "SELECT track_id FROM features WHERE feature_set = ?", [feature_set]
        if version is not None:
            q += " AND version = ?"
            args.append(version)
        return {r[0] for r in self.conn.execute(q, args)}

    def put_artifact(self, track_id: int, kind: str, path: str | Path) -> None:
        self.conn.execute(
            "INSERT INTO artifacts (track_id, kind, path) VALUES (?, ?, ?) "
            "ON CONFLICT(track_id, kind) DO UPDATE SET path = excluded.path",
            (track_id, kind, str(path)),
        )

    def artifacts(self, track_id: int) -> dict[str, str]:
        return dict(self.conn.execute("SELECT kind, path FROM artifacts WHERE track_id = ?", (track_id,)).fetchall())

    def put_prediction(self, track_id: int, task: str, model: str, label: str | None, scores: dict[str, float]) -> None:
        self.conn.execute(
            "INSERT INTO predictions (track_id, task, model, label, scores) VALUES (?, ?, ?, ?, ?) "
            "ON CONFLICT(track_id, task, model) DO UPDATE SET label = excluded.label, scores = excluded.scores, "
            "created_at = strftime('%Y-%m-%dT%H:%M:%fZ', 'now')",
            (track_id, task, model, label, json.dumps(scores, allow_nan=False)),
        )

    def drop_if_orphaned(self, track_id: int) -> bool:
        """Delete a song left without any file, with its stems, features and predictions, unless someone rated
        or played it (their data is kept; the track then lists 0 files). Returns whether it was deleted."""
        if self.files(track_id) or self.ratings(track_id) or self.conn.execute(
                "SELECT 1 FROM plays WHERE track_id = ? LIMIT 1", (track_id,)).fetchone():
            return False
        derived = self._derived_files(track_id)
        if self.conn.execute("DELETE FROM tracks WHERE id = ? AND track_type = 0", (track_id,)).rowcount == 0:
            return False
        for path in derived:  # rows are gone; a file left behind by a rollback is only re-made when needed
            path.unlink(missing_ok=True)
        return True

    def _derived_files(self, track_id: int) -> list[Path]:
        """Files the library made for a song and its stems (stem audio, images, arrays), never the user's:
        only paths inside ``<home>/derived``."""
        root = (self.home / "derived").resolve()
        ids = [track_id] + [r[0] for r in self.conn.execute("SELECT id FROM tracks WHERE parent_id = ?", (track_id,))]
        paths = []
        for tid in ids:
            paths += [Path(f.fs_path) for f in self.files(tid) if f.role == "stem"]
            paths += [Path(p) for p in self.artifacts(tid).values()]
        return [p for p in paths if p.resolve().is_relative_to(root)]

    def tracks_with_prediction(self, task: str, model: str) -> set[int]:
        """Tracks that already have a ``task`` prediction by ``model`` (what a re-run may skip)."""
        return {r[0] for r in self.conn.execute("SELECT track_id FROM predictions WHERE task = ? AND model = ?",
                                                (task, model))}

    def predictions(self, track_id: int) -> list[dict[str, Any]]:
        rows = self.conn.execute(
            "SELECT task, model, label, scores, created_at FROM predictions WHERE track_id = ? ORDER BY task, created_at DESC",
            (track_id,),
        ).fetchall()
        return [{"task": t, "model": m, "label": lab, "scores": json.loads(s or "{}"), "created_at": c} for t, m, lab, s, c in rows]

    # -- ratings and plays -------------------------------------------------------------------------
    def add_rating(self, track_id: int, user_id: str, scale: int, score: int) -> float:
        """Store a Likert rating (2-, 3- or 5-point); returns it normalised to [0, 1]. Out-of-scale is refused."""
        if scale not in LIKERT_SCALES:
            raise ValueError(f"scale must be one of {LIKERT_SCALES}, got {scale}")
        if not isinstance(score, int) or not 1 <= score <= scale:
            raise ValueError(f"score must be an integer from 1 to {scale} on a {scale}-point scale, got {score}")
        if not str(user_id).strip():
            raise ValueError("user id must not be empty")
        if self.track(track_id) is None:
            raise KeyError(f"no track {track_id}")
        norm = (score - 1) / (scale - 1)
        self.conn.execute(
            "INSERT INTO ratings (track_id, user_id, scale, score, normalized) VALUES (?, ?, ?, ?, ?) "
            "ON CONFLICT(track_id, user_id) DO UPDATE SET scale = excluded.scale, score = excluded.score, "
            "normalized = excluded.normalized, created_at = strftime('%Y-%m-%dT%H:%M:%fZ', 'now')",
            (track_id, str(user_id), scale, score, norm),
        )
        return norm

    def ratings(self, track_id: int | None = None) -> list[dict[str, Any]]:
        q = "SELECT track_id, user_id, scale, score, normalized, created_at FROM ratings"
        rows = self.conn.execute(q + (" WHERE track_id = ?" if track_id is not None else ""), (() if track_id is None else (track_id,))).fetchall()
        keys = ("track_id", "user_id", "scale", "score", "normalized", "created_at")
        return [dict(zip(keys, r, strict=True)) for r in rows]

    def add_play(self, track_id: int, user_id: str = "local", seconds: float | None = None) -> None:
        """Record one listen; ValueError for an empty user id or ``seconds`` that is negative or not finite."""
        if not str(user_id).strip():
            raise ValueError("user id must not be empty")
        if seconds is not None and not 0 <= float(seconds) < float("inf"):
            raise ValueError(f"seconds must be a finite number >= 0, got {seconds}")
        self.conn.execute("INSERT INTO plays (track_id, user_id, seconds) VALUES (?, ?, ?)", (track_id, str(user_id), seconds))

    def plays(self) -> list[dict[str, Any]]:
        rows = self.conn.execute("SELECT track_id, user_id, seconds, at FROM plays ORDER BY id").fetchall()
        return [dict(zip(("track_id", "user_id", "seconds", "at"), r, strict=True)) for r in rows]

    # -- jobs and errors ---------------------------------------------------------------------------
    def start_job(self, kind: str, params: dict[str, Any] | None = None, total: int = 0) -> int:
        """Record a new batch run (and mark runs whose driver process is gone as interrupted)."""
        self._mark_dead_jobs()
        cur = self.conn.execute(
            "INSERT INTO jobs (kind, params, n_total, pid) VALUES (?, ?, ?, ?)",
            (kind, json.dumps(params or {}, default=str), total, os.getpid()),
        )
        return int(cur.lastrowid)

    def _mark_dead_jobs(self) -> None:
        """Runs still marked running whose driver process is gone (kill -9) were interrupted."""
        if self.readonly:
            return
        for jid, pid in self.conn.execute("SELECT id, pid FROM jobs WHERE status = 'running'").fetchall():
            if not process_alive(pid):
                self.conn.execute("UPDATE jobs SET status = 'interrupted' WHERE id = ?", (jid,))

    def job_progress(self, job_id: int | None, done: int = 0, failed: int = 0) -> None:
        """Count finished items on a running job's row as they are committed, so `alchemy jobs` shows progress
        during a run and the true counts after a kill -9 (call inside the item's own transaction)."""
        if job_id is not None:
            self.conn.execute("UPDATE jobs SET n_done = n_done + ?, n_failed = n_failed + ? WHERE id = ?",
                              (done, failed, job_id))

    def fail_item(self, stage: str, item: str, kind: str, message: str, job_id: int | None) -> None:
        """One item of a job failed: its error row and the job's failed count, in one transaction."""
        with self.transaction():
            self.record_error(stage, item, kind, message, job_id)
            self.job_progress(job_id, failed=1)

    def finish_job(self, job_id: int, status: str, done: int, failed: int, skipped: int = 0) -> None:
        self.conn.execute(
            "UPDATE jobs SET status = ?, n_done = ?, n_failed = ?, n_skipped = ?, "
            "finished_at = strftime('%Y-%m-%dT%H:%M:%fZ', 'now') WHERE id = ?",
            (status, done, failed, skipped, job_id),
        )

    def run_job(self, job_id: int, batch: Callable[[], Any], missing: list[str] | None = None, skipped: int = 0):
        """Run ``batch`` (a :func:`audio_alchemy.jobs.run` call) and record its outcome on the job row, also when
        Ctrl-C stops it (the row then says ``interrupted`` with what was committed). ``missing``: error lines of
        items that could not even be queued (their source file is gone), counted as failed."""
        summary = None
        try:
            summary = batch()
        except KeyboardInterrupt as exc:
            summary = getattr(exc, "summary", None)  # attached by jobs.run
            raise
        except Exception:
            self.finish_job(job_id, "failed", 0, 0, skipped)  # the batch itself could not run (e.g. no scheduler)
            raise
        finally:
            if summary is not None:
                summary.skipped = skipped
                summary.add_failures(missing or [])
                self.finish_job(job_id, summary.status, summary.done, summary.failed, skipped)
        return summary

    def file_problem(self, track_id: int) -> AudioError:
        """Why a track has no intact file (:meth:`track_path` is None): :class:`ChangedFile` or
        :class:`MissingFile`, naming the file it had."""
        files = self.files(track_id)
        for f in files:
            if f.state() == "changed":
                try:
                    now = os.stat(f.fs_path).st_size
                except OSError:
                    now = None
                what = (f"{f.size} bytes then, {now} now" if now != f.size else
                        "same size, newer modification time: edited in place, or touched or copied without its times")
                return ChangedFile(f.path, f"changed since import ({what}; track {track_id}); import it again to use "
                                           "what it holds now")
        return MissingFile(files[0].path if files else f"track {track_id}",
                           f"file not found (track {track_id}); restore it or re-import its folder")

    def record_missing_file(self, stage: str, track_id: int) -> str:
        """Record that a track has no intact file (:meth:`file_problem`); returns the one-line error."""
        exc = self.file_problem(track_id)
        self.record_error(stage, exc.path, exc.kind, str(exc))
        return str(exc)

    def jobs(self, limit: int = 20) -> list[dict[str, Any]]:
        self._mark_dead_jobs()
        cols = ("id", "kind", "params", "started_at", "finished_at", "status", "n_total", "n_done", "n_failed", "n_skipped")
        rows = self.conn.execute(f"SELECT {', '.join(cols)} FROM jobs ORDER BY id DESC LIMIT ?", (limit,)).fetchall()
        return [dict(zip(cols, r, strict=True)) for r in rows]

    def record_error(self, stage: str, item: str, kind: str, message: str, job_id: int | None = None) -> None:
        """Record (or refresh) the error of one item in one stage; the one-line message names the item.

        Non-UTF-8 file names are stored in their printable form (:func:`display_path`), as ``files.path`` is."""
        item, message = display_path(item), display_path(message)
        self.conn.execute(
            "INSERT INTO errors (stage, item, kind, message, job_id) VALUES (?, ?, ?, ?, ?) "
            "ON CONFLICT(stage, item) DO UPDATE SET kind = excluded.kind, message = excluded.message, "
            "job_id = excluded.job_id, at = strftime('%Y-%m-%dT%H:%M:%fZ', 'now')",
            (stage, item, kind, " ".join(message.split()), job_id),
        )

    def clear_error(self, stage: str, item: str) -> None:
        self.conn.execute("DELETE FROM errors WHERE stage = ? AND item = ?", (stage, display_path(item)))

    def clear_file_errors(self, path: str) -> None:
        """Forget every stage's "file gone / changed" row about ``path``: it has just been imported as it is now."""
        self.conn.execute("DELETE FROM errors WHERE item = ? AND kind IN ('missing_file', 'changed_file')",
                          (display_path(path),))

    def errors(self, stage: str | None = None) -> list[dict[str, Any]]:
        cols = ("stage", "item", "kind", "message", "job_id", "at")
        # "features" also selects "features:seed", "features:full"
        q = f"SELECT {', '.join(cols)} FROM errors" + (" WHERE stage = ? OR substr(stage, 1, ?) = ?" if stage else "")
        args = (stage, len(stage) + 1, stage + ":") if stage else ()
        return [dict(zip(cols, r, strict=True)) for r in self.conn.execute(q + " ORDER BY id", args)]

    def stats(self) -> dict[str, int]:
        """Counts for summaries: tracks by type, files, feature rows, predictions, ratings, errors."""
        one = lambda q: self.conn.execute(q).fetchone()[0]  # noqa: E731
        return {
            "songs": self.count_tracks(0),
            "vocals": self.count_tracks(1),
            "accompaniment": self.count_tracks(2),
            "files": one("SELECT count(*) FROM files"),
            "features": one("SELECT count(*) FROM features"),
            "predictions": one("SELECT count(*) FROM predictions"),
            "ratings": one("SELECT count(*) FROM ratings"),
            "errors": one("SELECT count(*) FROM errors"),
        }


