"""The library's SQLite schema as an ordered list of migrations; ``user_version`` records how far a file is."""

from __future__ import annotations

import sqlite3

MIGRATIONS: list[str] = [
    # 1: the first schema
    """
    CREATE TABLE tracks (
        id            INTEGER PRIMARY KEY,
        content_hash  TEXT NOT NULL UNIQUE,          -- sha256 of the decoded PCM of the first file seen
        fingerprint   BLOB,                          -- coarse spectral fingerprint (float16) for format-robust dedupe
        parent_id     INTEGER REFERENCES tracks(id) ON DELETE CASCADE,
        track_type    INTEGER NOT NULL DEFAULT 0 CHECK (track_type IN (0, 1, 2)),  -- 0 full, 1 vocals, 2 accompaniment
        separator     TEXT,                          -- for stems: model name and version that made them
        duration      REAL,
        sample_rate   INTEGER,
        channels      INTEGER,
        artist        TEXT,
        title         TEXT,
        album         TEXT,
        genre         TEXT,
        year          INTEGER,
        language      TEXT,
        country       TEXT,
        extra         TEXT,                          -- JSON: other tags (top rank, MusicBrainz ids, ...)
        added_at      TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now'))
    );
    CREATE UNIQUE INDEX tracks_stem_key ON tracks(parent_id, track_type, separator) WHERE parent_id IS NOT NULL;
    CREATE INDEX tracks_duration ON tracks(duration);

    CREATE TABLE files (
        id          INTEGER PRIMARY KEY,
        track_id    INTEGER NOT NULL REFERENCES tracks(id) ON DELETE CASCADE,
        path        TEXT NOT NULL,                   -- display form (undecodable bytes backslash-escaped)
        raw_path    BLOB NOT NULL UNIQUE,            -- os.fsencode(path): exact, for non-UTF-8 names
        source_path TEXT,                            -- with --copy: where the file came from
        format      TEXT,
        role        TEXT NOT NULL DEFAULT 'original',   -- original | copy | wav | mp3 | stem
        size        INTEGER,
        mtime       REAL,
        audio_hash  TEXT,
        added_at    TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now'))
    );
    CREATE INDEX files_track ON files(track_id);

    CREATE TABLE features (
        track_id     INTEGER NOT NULL REFERENCES tracks(id) ON DELETE CASCADE,
        feature_set  TEXT NOT NULL,
        version      TEXT NOT NULL,
        data         TEXT NOT NULL,                 -- JSON object
        computed_at  TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now')),
        PRIMARY KEY (track_id, feature_set)
    );

    CREATE TABLE artifacts (
        track_id  INTEGER NOT NULL REFERENCES tracks(id) ON DELETE CASCADE,
        kind      TEXT NOT NULL,                    -- mel_npz | mel_grey_png | mel_viridis_png | mp3 | ...
        path      TEXT NOT NULL,
        created_at TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now')),
        PRIMARY KEY (track_id, kind)
    );

    CREATE TABLE predictions (
        track_id  INTEGER NOT NULL REFERENCES tracks(id) ON DELETE CASCADE,
        task      TEXT NOT NULL,                    -- genre | language | ...
        model     TEXT NOT NULL,
        label     TEXT,
        scores    TEXT,                             -- JSON {label: probability}
        created_at TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now')),
        PRIMARY KEY (track_id, task, model)
    );

    CREATE TABLE ratings (
        id          INTEGER PRIMARY KEY,
        track_id    INTEGER NOT NULL REFERENCES tracks(id) ON DELETE CASCADE,
        user_id     TEXT NOT NULL,
        scale       INTEGER NOT NULL CHECK (scale IN (2, 3, 5)),
        score       INTEGER NOT NULL CHECK (score BETWEEN 1 AND scale),
        normalized  REAL NOT NULL,                  -- (score - 1) / (scale - 1), in [0, 1]
        created_at  TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now')),
        UNIQUE (track_id, user_id)
    );

    CREATE TABLE plays (
        id        INTEGER PRIMARY KEY,
        track_id  INTEGER NOT NULL REFERENCES tracks(id) ON DELETE CASCADE,
        user_id   TEXT NOT NULL,
        seconds   REAL,
        at        TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now'))
    );

    CREATE TABLE jobs (
        id           INTEGER PRIMARY KEY,
        kind         TEXT NOT NULL,
        params       TEXT,
        started_at   TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now')),
        finished_at  TEXT,
        status       TEXT NOT NULL DEFAULT 'running',  -- running | done | interrupted | failed
        n_total      INTEGER DEFAULT 0,
        n_done       INTEGER DEFAULT 0,
        n_failed     INTEGER DEFAULT 0,
        n_skipped    INTEGER DEFAULT 0
    );

    CREATE TABLE errors (
        id          INTEGER PRIMARY KEY,
        stage       TEXT NOT NULL,                  -- import | features | separate | ...
        item        TEXT NOT NULL,                  -- the file path or track id the stage worked on
        kind        TEXT NOT NULL,                  -- error class, e.g. corrupt_audio
        message     TEXT NOT NULL,
        job_id      INTEGER REFERENCES jobs(id) ON DELETE SET NULL,
        at          TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now')),
        UNIQUE (stage, item)
    );
    """,
    # 2: remember which process runs a job, so a killed run can be marked interrupted later
    """
    ALTER TABLE jobs ADD COLUMN pid INTEGER;
    """,
]

SCHEMA_VERSION = len(MIGRATIONS)


def _version(conn: sqlite3.Connection) -> int:
    """The schema version; refuses a database that belongs to another application (judged by its tables, whatever
    its ``user_version``) or is newer than this package."""
    version = conn.execute("PRAGMA user_version").fetchone()[0]
    tables = [r[0] for r in conn.execute(
        "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%' ORDER BY name")]
    if tables and not {"tracks", "files"} <= set(tables):
        raise RuntimeError(f"not an Audio Alchemy library: it holds another application's tables "
                           f"({', '.join(tables[:5])}{', ...' if len(tables) > 5 else ''}); choose another --db")
    if version > SCHEMA_VERSION:
        raise RuntimeError(
            f"database schema version {version} is newer than this audio-alchemy ({SCHEMA_VERSION}); upgrade the package"
        )
    return version


def check_readable(conn: sqlite3.Connection) -> None:
    """For a read-only connection: the database must already be a library of this schema version."""
    version = _version(conn)
    if version == 0:
        raise RuntimeError("empty database, not a library yet")
    if version < SCHEMA_VERSION:
        raise RuntimeError(f"library schema version {version} needs an upgrade to {SCHEMA_VERSION}, which needs "
                           "write access: open it once with write permission")


def migrate(conn: sqlite3.Connection) -> int:
    """Apply the migrations a database has not seen yet, each in one transaction; returns the version.

    Two processes opening a new library at once both see version 0: each step takes the write lock first
    (``BEGIN IMMEDIATE``), so the second waits, then fails on tables that now exist; it rolls back and, finding
    the version moved on, carries on from there instead of failing.
    """
    version = _version(conn)
    while version < SCHEMA_VERSION:
        try:
            conn.executescript(f"BEGIN IMMEDIATE; {MIGRATIONS[version]}; PRAGMA user_version = {version + 1}; COMMIT;")
        except sqlite3.OperationalError:
            if conn.in_transaction:
                conn.execute("ROLLBACK")
            if _version(conn) <= version:  # nobody else migrated it: a real error
                raise
        version = _version(conn)
    return version
