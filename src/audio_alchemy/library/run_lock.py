"""One batch run per (library, stage) at a time, so a second terminal or a cron job cannot repeat the work.

An OS file lock (``flock``) on a small file beside the database: the kernel releases it when the holder exits,
also after kill -9, so a crashed run never leaves a stale lock behind. Where ``fcntl`` does not exist (Windows)
runs are not serialised; they stay correct, only duplicate work is possible there.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

try:
    import fcntl
except ImportError:  # pragma: no cover - Windows
    fcntl = None


class RunInProgress(RuntimeError):
    """Another process is running the same stage on the same library."""


def lock_path(db_path: Path, stage: str) -> Path:
    """The lock file of ``stage`` for the database at ``db_path`` (``library.sqlite.features-seed.lock``)."""
    safe = "".join(c if c.isalnum() else "-" for c in stage)
    return db_path.with_name(f"{db_path.name}.{safe}.lock")


@contextmanager
def exclusive_run(db_path: Path, stage: str) -> Iterator[None]:
    """Hold the lock of ``stage`` while the body runs; :class:`RunInProgress` (naming the holder's pid) at once
    when another process holds it."""
    if fcntl is None:
        yield
        return
    path = lock_path(db_path, stage)
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = os.pread(fd, 32, 0).decode("ascii", "replace").strip() or "unknown"
            raise RunInProgress(f"another '{stage}' run on library {db_path} is in progress (pid {holder}); "
                                "wait for it to finish or stop it, then run this again (it resumes)") from None
        os.ftruncate(fd, 0)
        os.pwrite(fd, str(os.getpid()).encode("ascii"), 0)
        yield
    finally:
        os.close(fd)  # closing the descriptor releases the lock
