"""Merge a Parquet results dataset (written by a batch with ``--out parquet://DIR``) into a library; idempotent.

Backs ``alchemy import-results DIR``. The dataset format (``DIR/stage=<stage>/part-*.parquet``, one row per item)
belongs to :mod:`audio_alchemy.jobs.parquet_sink`, which writes and reads it; this module is the library side:
one handler per stage stores a successful row exactly as the driver would have stored it directly.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..jobs.parquet_sink import check_parts, dataset_stages, loads, read_rows
from .db import Library
from .importer import store


@dataclass
class MergeSummary:
    """What :func:`merge_results` did, per stage: results stored, error rows recorded, rows that could not be merged."""

    stored: dict[str, int] = field(default_factory=dict)
    errors: dict[str, int] = field(default_factory=dict)
    skipped: list[str] = field(default_factory=list)


def _merge_import(lib: Library, row: dict[str, Any]) -> None:
    """Payload: the import task's record (``importer.identify``), stored as ``alchemy import`` stores it."""
    store(lib, loads(row["payload"]))


def _merge_features(lib: Library, row: dict[str, Any]) -> None:
    """Payload ``{track_id, content_hash?, feature_set, version, data, artifacts?}``; the content hash wins (it
    finds the track in another copy of the library), artifacts are ``{kind: path}`` on shared storage."""
    p = loads(row["payload"])
    tid = lib.find_by_hash(p["content_hash"]) if p.get("content_hash") else p.get("track_id")
    if tid is None or lib.track(tid) is None:
        raise KeyError(f"no track for {row['item']} in this library (import the audio first)")
    with lib.transaction():
        lib.put_features(tid, p["feature_set"], p["version"], p["data"], p.get("artifacts"))


HANDLERS: dict[str, Callable[[Library, dict[str, Any]], None]] = {"import": _merge_import, "features": _merge_features}


def register_handler(stage: str, handler: Callable[[Library, dict[str, Any]], None]) -> None:
    """Teach :func:`merge_results` a new stage: ``handler(lib, row)`` stores one successful row."""
    HANDLERS[stage] = handler


def merge_results(lib: Library, root: str | os.PathLike, stages: list[str] | None = None) -> MergeSummary:
    """Replay a Parquet results dataset into ``lib``; idempotent.

    Successful rows go through the stage's handler (the same code the driver uses when it writes the database
    directly), failed rows become error rows; a row that cannot be merged is recorded as a ``merge`` error.
    """
    root = Path(root)
    wanted = dataset_stages(root, stages)
    for st in wanted:
        check_parts(root, st)  # a damaged part stops the merge before anything is written
    summary = MergeSummary()
    for row in (r for st in wanted for r in read_rows(root, st)):
        st = row["stage"]
        handler = HANDLERS.get(st) or HANDLERS.get(st.split(":", 1)[0])  # "features:seed" -> "features"
        if handler is None:
            summary.skipped.append(f"{row['item']}: no merge handler for stage {st!r}")
            continue
        if row["ok"]:
            try:
                handler(lib, row)
            except Exception as exc:  # noqa: BLE001 - one bad row never stops the merge
                lib.record_error("merge", f"{st}:{row['item']}", type(exc).__name__, f"{row['item']}: {exc}")
                summary.skipped.append(f"{row['item']}: {exc}")
                continue
            lib.clear_error(st, row["item"])
            lib.clear_error("merge", f"{st}:{row['item']}")  # it could not be merged before (its track was missing)
            summary.stored[st] = summary.stored.get(st, 0) + 1
        else:
            lib.record_error(st, row["item"], row["kind"] or "error", row["message"] or row["item"])
            summary.errors[st] = summary.errors.get(st, 0) + 1
    return summary


__all__ = ["HANDLERS", "MergeSummary", "merge_results", "register_handler"]
