"""One batch run per (library, stage) at a time, so a second terminal or a cron job cannot repeat the work.

An OS file lock (``flock``) on a small file beside the database (the real one, symlinks resolved): the kernel
releases it when the holder exits, also after kill -9, so a crashed run never leaves a stale lock behind. Forked
children (worker pools, Dask's fork server) close their inherited copy at once, so the lock ends with the run
that took it. The file gets the database's permissions, so users who share a library share its locks. Where
``fcntl`` does not exist (Windows) runs are not serialised; they stay correct, only duplicate work is possible.
"""

from __future__ import annotations

import os
import stat
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

try:
    import fcntl
except ImportError:  # pragma: no cover - Windows
    fcntl = None

_HELD: set[int] = set()  # descriptors of the locks this process holds


def _close_inherited() -> None:
    """In a forked child: drop the parent's lock descriptors (the lock stays the parent's, and ends with its run)."""
    for fd in list(_HELD):
        try:
            os.close(fd)
        except OSError:
            pass
    _HELD.clear()


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_close_inherited)


class RunLockError(RuntimeError):
    """The stage's lock file cannot be used (a folder or a foreign file in its place, no permission)."""


class RunInProgress(RunLockError):
    """Another process is running the same stage on the same library."""


def lock_path(db_path: Path, stage: str) -> Path:
    """The lock file of ``stage`` for the database at ``db_path`` (``library.sqlite.features-seed.lock``)."""
    db_path = Path(db_path).resolve()
    safe = "".join(c if c.isalnum() else "-" for c in stage)
    return db_path.with_name(f"{db_path.name}.{safe}.lock")


def _open(path: Path, mode: int) -> tuple[int, bool]:
    """``(descriptor, writable)`` of the lock file, never following a symlink; read-only when another user made
    it and this one may not write it (``flock`` works on either)."""
    flags = os.O_CREAT | getattr(os, "O_NOFOLLOW", 0)
    try:
        return os.open(path, flags | os.O_RDWR, mode), True
    except PermissionError:
        if not path.exists():
            raise
        return os.open(path, getattr(os, "O_NOFOLLOW", 0) | os.O_RDONLY), False


@contextmanager
def exclusive_run(db_path: Path, stage: str) -> Iterator[None]:
    """Hold the lock of ``stage`` while the body runs; :class:`RunInProgress` (naming the holder's pid) at once
    when another process holds it, :class:`RunLockError` when the lock file cannot be used."""
    if fcntl is None:
        yield
        return
    path = lock_path(db_path, stage)
    try:  # the database's read/write bits: users who share a library share its locks
        mode = stat.S_IMODE(os.stat(Path(db_path).resolve()).st_mode) & 0o666
    except OSError:
        mode = 0o644
    try:
        fd, writable = _open(path, mode)
    except OSError as exc:
        raise RunLockError(f"cannot use the lock file {path} of '{stage}' runs: {exc.strerror or exc}; "
                           "remove or fix it (it only ever holds a process id)") from None
    try:
        st = os.fstat(fd)
        head = os.pread(fd, 64, 0)
        if not stat.S_ISREG(st.st_mode) or st.st_size > 32 or (head.strip() and not head.strip().isdigit()):
            raise RunLockError(f"{path} is in the way of the lock of '{stage}' runs: it is not a lock file "
                               "(which only ever holds a process id); move it away")
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = head.decode("ascii", "replace").strip() or "unknown"
            raise RunInProgress(f"another '{stage}' run on library {db_path} is in progress (pid {holder}); "
                                "wait for it to finish or stop it, then run this again (it resumes)") from None
        if writable:
            if st.st_uid == os.getuid() and stat.S_IMODE(st.st_mode) != mode:
                os.fchmod(fd, mode)  # the umask narrowed it when it was created
            os.ftruncate(fd, 0)
            os.pwrite(fd, str(os.getpid()).encode("ascii"), 0)
        _HELD.add(fd)
        yield
    finally:
        _HELD.discard(fd)
        os.close(fd)  # closing the descriptor releases the lock
