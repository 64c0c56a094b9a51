"""Importing files into the library: scan folders, identify each file's audio in a worker, record it once.

Workers decode and fingerprint (the slow part); the driver alone writes, deciding per file whether it is a
new track, another file of a known track (same samples, or the same song in another format), or already
imported (same path, size and mtime: skipped without decoding, which is what makes a re-run resume).
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path
from typing import Any

from .. import jobs
from ..io import AUDIO_SUFFIXES, AudioError, probe, stream
from .db import Library, display_path
from .fingerprint import MATCH_THRESHOLD, IdentityBuilder, fingerprint_similarity, from_blob, to_blob
from .tags import guess_from_filename, read_tags

STAGE = "import"


@dataclass
class ScanResult:
    """Files to import, and paths that could not even be listed (each with a one-line reason)."""

    files: list[str] = field(default_factory=list)
    problems: list[tuple[str, str, str]] = field(default_factory=list)  # (path, kind, message)


def scan(paths: Iterable[str | os.PathLike]) -> ScanResult:
    """Expand folders recursively (audio suffixes only; symlink loops cannot recurse); explicit files are kept as given.

    A directory named like audio (``x.mp3/``) is walked as a folder; a missing path is reported.
    """
    res = ScanResult()
    seen: set[str] = set()

    def add(p: str) -> None:
        ap = os.path.abspath(p)
        if ap not in seen:
            seen.add(ap)
            res.files.append(ap)

    for p in paths:
        p = os.path.expanduser(os.fspath(p))  # "~/Music" from Python as from a shell
        if os.path.isdir(p):
            for root, dirs, names in os.walk(p, followlinks=False, onerror=lambda e: res.problems.append(
                    (display_path(os.path.abspath(e.filename or p)), "not_a_file", f"cannot list folder: {e.strerror}"))):
                dirs.sort()
                for name in sorted(names):
                    full = os.path.join(root, name)
                    if Path(name).suffix.lower() in AUDIO_SUFFIXES:
                        add(full)
                for d in dirs:  # a symlink to a folder is not followed by os.walk; report it if it is audio-named
                    full = os.path.abspath(os.path.join(root, d))
                    if os.path.islink(full):
                        res.problems.append((display_path(full), "not_a_file", "symlinked folder not followed (avoids loops)"))
        elif os.path.lexists(p):
            add(p)
        else:
            res.problems.append((display_path(os.path.abspath(p)), "not_a_file", "no such file or directory"))
    return res


def identify(path: str, copy_to: str | None = None) -> dict[str, Any]:
    """Worker task: probe, stream-decode (bounded memory), hash, fingerprint and read tags of one file."""
    info = probe(path)
    ident = IdentityBuilder(info.sample_rate, info.channels)
    for block in stream(path, block_seconds=20.0, info=info):
        ident.update(block)
    result = ident.finish()
    if result.frames == 0:
        from ..io import EmptyAudio

        raise EmptyAudio(path, "no audio samples decoded")
    st = os.stat(path)
    tags = read_tags(path)
    dest = None
    if copy_to:
        suffix = Path(path).suffix.lower()
        dest = os.path.join(copy_to, result.content_hash[:2], result.content_hash + suffix)
        if not os.path.exists(dest):
            os.makedirs(os.path.dirname(dest), exist_ok=True)
            tmp = dest + ".part"
            shutil.copyfile(path, tmp)
            os.replace(tmp, dest)
    warning = None
    declared = info.declared_frames
    if declared is None and info.format == "mp3" and info.frames > result.frames + max(info.sample_rate // 2,
                                                                                        info.frames // 100):
        declared = info.frames  # its Xing/Info header's frame count (encoder delay and padding: some slack)
    if declared and declared > result.frames:
        promised = declared / info.sample_rate
        warning = (f"{display_path(path)}: truncated: its header promises {promised:.2f} s, the file holds "
                   f"{result.duration:.2f} s; imported what is there")
    return {
        "warning": warning,
        "path": path, "format": Path(path).suffix.lstrip(".").lower() or info.format, "size": st.st_size,
        "mtime": st.st_mtime, "content_hash": result.content_hash, "fingerprint": to_blob(result.fingerprint),
        "duration": result.duration, "sample_rate": info.sample_rate, "channels": info.channels, "tags": tags,
        "copy": dest,
    }


@dataclass
class ImportSummary:
    """Outcome of :func:`import_paths`."""

    new_tracks: int = 0
    new_files: int = 0
    unchanged: int = 0
    failed: int = 0
    interrupted: bool = False
    errors: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)  # imported with a caveat (e.g. a truncated WAV)
    track_ids: list[int] = field(default_factory=list)


def _match(lib: Library, rec: dict[str, Any]) -> int | None:
    """The track this file belongs to: same decoded samples, or a fingerprint match within the duration window."""
    tid = lib.find_by_hash(rec["content_hash"])
    if tid is not None:
        return tid
    fp = from_blob(rec["fingerprint"])
    if len(fp) < 4:
        return None
    tol = max(0.5, 0.01 * rec["duration"])
    best, best_sim = None, MATCH_THRESHOLD
    for cid, cblob, _dur in lib.candidates_by_duration(rec["duration"], tol):
        sim = fingerprint_similarity(fp, from_blob(cblob))
        if sim >= best_sim:
            best, best_sim = cid, sim
    return best


def store(lib: Library, rec: dict[str, Any], extra_tags: dict[str, Any] | None = None, job_id: int | None = None) -> tuple[int, bool]:
    """Record one identified file in one transaction; returns (track id, whether the track is new)."""
    tags = {**guess_from_filename(rec["path"]), **rec["tags"], **(extra_tags or {})}
    path = rec["copy"] or rec["path"]
    with lib.transaction():
        before = lib.file_by_path(path)  # this path's track until now (a file edited in place may change track)
        tid = _match(lib, rec)
        new = tid is None
        if new:
            cols = {k: tags.get(k) for k in ("artist", "title", "album", "genre", "year", "language", "country")}
            other = {k: v for k, v in tags.items() if k not in cols}
            tid = lib.add_track(
                rec["content_hash"], fingerprint=rec["fingerprint"], duration=rec["duration"],
                sample_rate=rec["sample_rate"], channels=rec["channels"], extra=other or None, **cols,
            )
        else:
            t = lib.track(tid)
            fill = {k: tags[k] for k in ("artist", "title", "album", "genre", "year", "language", "country")
                    if t is not None and getattr(t, k) in (None, "") and tags.get(k)}
            if fill:
                lib.update_track(tid, **fill)
        lib.add_file(tid, path, fmt=rec["format"], size=rec["size"], mtime=rec["mtime"],
                     audio_hash=rec["content_hash"], source_path=display_path(rec["path"]) if rec["copy"] else None)
        if before is not None and before.track_id != tid:
            lib.drop_if_orphaned(before.track_id)
        if rec.get("warning"):  # imported, but the user should know: one row in `alchemy errors`
            lib.record_error(STAGE, display_path(rec["path"]), "truncated", rec["warning"], job_id)
        else:
            lib.clear_error(STAGE, display_path(rec["path"]))
        lib.clear_file_errors(path)
        lib.job_progress(job_id, done=1)
    return tid, new


def _unchanged(lib: Library, path: str) -> int | None:
    """The track id if this path is already imported with the same size and mtime (no need to decode again)."""
    row = lib.file_by_path(path) or lib.file_by_source(path)
    if row is None:
        return None
    try:
        st = os.stat(path)
    except OSError:
        return None
    if row.size == st.st_size and row.mtime is not None and abs(row.mtime - st.st_mtime) < 1e-6:
        return row.track_id
    return None


def import_paths(
    lib: Library,
    paths: Sequence[str | os.PathLike],
    *,
    copy: bool = False,
    workers: int | None = None,
    scheduler: str | None = None,
    progress: bool = True,
    tags: dict[str, Any] | None = None,
    exclusive: bool = True,
) -> ImportSummary:
    """Import files and folders; resumable and idempotent. Bad files get an error row and the batch goes on.

    ``exclusive``: hold the library's ``import`` lock (two imports at once would decode the same new files twice);
    False for a caller importing files only it knows of (``collect``, its fresh downloads), which must not wait for
    or be refused by a long import of other folders."""
    if not exclusive:
        return _import_paths(lib, paths, copy, workers, scheduler, progress, tags)
    with lib.exclusive(STAGE):
        return _import_paths(lib, paths, copy, workers, scheduler, progress, tags)


def _import_paths(lib: Library, paths: Sequence[str | os.PathLike], copy: bool, workers: int | None,
                  scheduler: str | None, progress: bool, tags: dict[str, Any] | None) -> ImportSummary:
    summary = ImportSummary()
    scanned = scan(paths)
    todo: list[str] = []
    for p in scanned.files:
        tid = _unchanged(lib, p)
        if tid is None:
            todo.append(p)
        else:
            summary.unchanged += 1
            summary.track_ids.append(tid)
    # total: what this run works on (as for every job); files already imported are its skipped count
    job_id = lib.start_job(STAGE, {"paths": [display_path(p) for p in paths], "copy": copy},
                           total=len(todo) + len(scanned.problems))
    failed: set[str] = set()  # error items of this run: every other row under the scanned paths is stale
    for p, kind, msg in scanned.problems:
        lib.record_error(STAGE, p, kind, f"{p}: {msg}", job_id)
        failed.add(p)
        summary.failed += 1
        summary.errors.append(f"{p}: {msg}")
    copy_to = str(lib.home / "media") if copy else None

    def on_result(path: str, rec: dict[str, Any]) -> None:
        tid, new = store(lib, rec, tags, job_id)
        if rec.get("warning"):
            summary.warnings.append(rec["warning"])
        summary.new_tracks += int(new)
        summary.new_files += 1
        summary.track_ids.append(tid)

    def on_error(path: str, exc: BaseException) -> None:
        item = display_path(path)
        kind = getattr(exc, "kind", type(exc).__name__)
        msg = str(exc) if isinstance(exc, AudioError) else f"{item}: {type(exc).__name__}: {exc}"
        lib.fail_item(STAGE, item, kind, msg, job_id)
        failed.add(item)
        summary.failed += 1
        summary.errors.append(" ".join(msg.split()))

    status = "interrupted"
    try:
        res = jobs.run(todo, partial(identify, copy_to=copy_to), on_result, on_error, workers=workers,
                       scheduler=scheduler, desc="import", progress=progress, label=display_path)
        status = res.status
    finally:
        lib.finish_job(job_id, status, summary.new_files, summary.failed, summary.unchanged)
    if status == "done":
        _clear_stale_errors(lib, paths, failed)
    return summary


def _clear_stale_errors(lib: Library, paths: Sequence[str | os.PathLike], failed: set[str]) -> None:
    """After a whole run over ``paths``, forget the import error rows under them that this run did not raise
    again: the bad file was deleted or fixed, the folder became readable, the symlink went away. (Truncation
    warnings stay: they describe a file that imported, and its re-import clears them.)"""
    roots = [display_path(os.path.abspath(os.path.expanduser(os.fspath(p)))) for p in paths]
    with lib.transaction():
        for e in lib.errors(STAGE):
            item = e["item"]
            if e["stage"] == STAGE and e["kind"] != "truncated" and item not in failed and any(
                    item == r or item.startswith(r.rstrip(os.sep) + os.sep) for r in roots):
                lib.clear_error(STAGE, item)
