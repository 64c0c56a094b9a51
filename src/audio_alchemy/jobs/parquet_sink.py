"""Batch results as a partitioned Parquet dataset, for runs too big (or too distributed) for one SQLite writer.

``--out parquet://DIR`` makes the driver append each outcome to ``DIR/stage=<stage>/part-<run>-<n>.parquet``
instead of the database; ``audio_alchemy.library.results_import.merge_results`` (``alchemy import-results DIR``)
later replays them into a library, idempotently. Each part is written to a temporary name and renamed, so a
killed run leaves only whole parts, and :meth:`ParquetSink.done_items` lets a re-run skip what is already written.

Row schema (one row per item): ``item`` (the key: a path or track id), ``ok`` (bool), ``kind`` and ``message``
(errors), ``payload`` (JSON of the result; ``bytes`` values are base64-tagged). The stage is the partition.
This module only writes and reads datasets: it knows nothing of the library (jobs sits below library in the
layering); the merge lives in ``audio_alchemy.library.results_import``.
"""

from __future__ import annotations

import base64
import json
import os
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

SCHEME = "parquet://"


def parse_out(out: str | os.PathLike | None) -> Path | None:
    """``"parquet://DIR"`` -> ``Path(DIR)``; ``None``, ``""`` or ``"db"`` -> ``None`` (write the database)."""
    if out is None or str(out) in ("", "db"):
        return None
    s = str(out)
    if not s.startswith(SCHEME):
        raise ValueError(f"unknown output {s!r}: use parquet://DIR")
    rest = s[len(SCHEME):]
    if not rest:
        raise ValueError("parquet:// needs a folder, e.g. parquet:///data/run1 or parquet://results")
    return Path(rest).expanduser()


class BadResults(ValueError):
    """A results dataset that cannot be used: not a folder, or a part file that is not readable Parquet."""


_ESCAPED = "\x00json:"  # marks a column value stored as JSON: a str that UTF-8 cannot hold (a non-UTF-8 file name)


def _column_text(s: str | None) -> str | None:
    """``s`` as Parquet can store it (UTF-8): unchanged, or JSON-escaped when it holds lone surrogates (the str
    ``os.fsdecode`` makes of a non-UTF-8 file name); :func:`_column_value` restores the same str."""
    if s is None:
        return None
    try:
        s.encode("utf-8")
        return s
    except UnicodeEncodeError:
        return _ESCAPED + json.dumps(s)


def _column_value(s: str | None) -> str | None:
    return json.loads(s[len(_ESCAPED):]) if s and s.startswith(_ESCAPED) else s


def _default(o: Any) -> Any:
    if isinstance(o, (bytes, bytearray, memoryview)):
        return {"__b64__": base64.b64encode(bytes(o)).decode("ascii")}
    if hasattr(o, "tolist"):  # numpy arrays and scalars
        return o.tolist()
    raise TypeError(f"cannot store {type(o).__name__} in a result payload")


def _hook(d: dict[str, Any]) -> Any:
    return base64.b64decode(d["__b64__"]) if len(d) == 1 and "__b64__" in d else d


def dumps(payload: Any) -> str:
    """JSON text of a result (bytes base64-tagged, numpy via ``tolist``, NaN refused; a str UTF-8 cannot hold, such
    as a non-UTF-8 file name, is written with ``\\u`` escapes that ``loads`` turns back into the same str)."""
    text = json.dumps(payload, default=_default, allow_nan=False, ensure_ascii=False)
    try:
        text.encode("utf-8")
        return text
    except UnicodeEncodeError:
        return json.dumps(payload, default=_default, allow_nan=False, ensure_ascii=True)


def loads(text: str | None) -> Any:
    return None if text is None else json.loads(text, object_hook=_hook)


def _schema():
    import pyarrow as pa

    return pa.schema([("item", pa.string()), ("ok", pa.bool_()), ("kind", pa.string()),
                      ("message", pa.string()), ("payload", pa.string())])


class ParquetSink:
    """Buffers outcomes of one stage; writes a Parquet part every ``rows_per_part`` rows or ``max_seconds`` (and at close)."""

    def __init__(self, root: str | os.PathLike, stage: str, rows_per_part: int = 2000, max_seconds: float = 60.0):
        if not stage or "/" in stage or "=" in stage:
            raise ValueError(f"bad stage name {stage!r}")
        self.root = Path(root)
        if self.root.exists() and not self.root.is_dir():
            raise BadResults(f"{self.root}: is a file; a results dataset is a folder (parquet://DIR)")
        self.stage = stage
        self.rows_per_part = max(int(rows_per_part), 1)
        self.max_seconds = max_seconds  # a part is also cut after this long, bounding the work a crash loses
        self._since = time.monotonic()
        self.dir = self.root / f"stage={stage}"
        self.dir.mkdir(parents=True, exist_ok=True)
        self.run_id = uuid.uuid4().hex[:12]
        self._rows: list[dict[str, Any]] = []
        self._parts = 0
        self.written = 0

    def add(self, item: str, ok: bool, payload: Any = None, kind: str | None = None, message: str | None = None) -> None:
        """Queue one outcome; a full buffer is flushed to a new part file."""
        self._rows.append({"item": _column_text(str(item)), "ok": bool(ok), "kind": _column_text(kind),
                           "message": _column_text(message), "payload": dumps(payload) if ok else None})
        if len(self._rows) >= self.rows_per_part or time.monotonic() - self._since >= self.max_seconds:
            self.flush()

    def add_error(self, item: str, exc: BaseException) -> None:
        """Queue a failed item: its kind (``exc.kind`` or the class name) and a one-line message naming it."""
        kind = str(getattr(exc, "kind", type(exc).__name__))
        msg = str(exc) if str(item) in str(exc) else f"{item}: {type(exc).__name__}: {exc}"
        self.add(item, False, None, kind, " ".join(msg.split()))

    def flush(self) -> Path | None:
        """Write the buffered rows as one part (temporary name, then an atomic rename)."""
        self._since = time.monotonic()
        if not self._rows:
            return None
        import pyarrow as pa
        import pyarrow.parquet as pq

        table = pa.Table.from_pylist(self._rows, schema=_schema())
        path = self.dir / f"part-{self.run_id}-{self._parts:05d}.parquet"
        tmp = path.with_name("." + path.name + ".tmp")
        pq.write_table(table, tmp, compression="zstd")
        os.replace(tmp, path)
        self._parts += 1
        self.written += len(self._rows)
        self._rows.clear()
        return path

    def close(self) -> None:
        self.flush()

    def __enter__(self) -> ParquetSink:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()  # also on KeyboardInterrupt: what finished is kept

    def done_items(self) -> set[str]:
        """Items already written by earlier runs into this stage (so a re-run can skip them)."""
        return {row["item"] for row in read_rows(self.root, self.stage, columns=["item"])}


def part_files(root: str | os.PathLike, stage: str | None = None) -> list[Path]:
    """The finished part files of a dataset (all stages, or one), in a stable order."""
    root = Path(root)
    dirs = [root / f"stage={stage}"] if stage else sorted(root.glob("stage=*"))
    return sorted(p for d in dirs if d.is_dir() for p in d.glob("part-*.parquet"))


def read_rows(root: str | os.PathLike, stage: str | None = None, columns: list[str] | None = None) -> Iterator[dict[str, Any]]:
    """Every row of the dataset (``stage`` added from the folder name), one part file in memory at a time."""
    for p in part_files(root, stage):
        st = p.parent.name.split("=", 1)[1]
        for row in _read_part(p, columns).to_pylist():
            row["stage"] = st
            for col in ("item", "kind", "message"):
                if col in row:
                    row[col] = _column_value(row[col])
            yield row


def _read_part(path: Path, columns: list[str] | None = None):
    """One part file as a table; :class:`BadResults` naming it when it is not readable Parquet (parts are written
    whole and renamed, so this is damage from outside: a copy cut short, a stray file)."""
    import pyarrow.parquet as pq

    try:
        return pq.read_table(path, columns=columns)
    except Exception as exc:  # noqa: BLE001 - pyarrow raises ArrowInvalid, OSError, ... for a damaged file
        raise _bad_part(path, exc, "its items are then computed again by a re-run") from None


def _bad_part(path: Path, exc: Exception, then: str) -> BadResults:
    return BadResults(f"{path}: not a readable Parquet part ({' '.join(str(exc).split())[:200]}); move it out of "
                      f"the dataset ({then})")


def dataset_stages(root: str | os.PathLike, stages: list[str] | None = None) -> list[str]:
    """The stages of the dataset at ``root`` that ``stages`` selects ("features" selects every "features:<set>");
    FileNotFoundError / :class:`BadResults` when it is not a results dataset or holds none of them."""
    root = Path(root)
    if not root.is_dir():
        raise FileNotFoundError(f"no results dataset at {root}")
    present = sorted(p.name.split("=", 1)[1] for p in root.glob("stage=*") if p.is_dir())
    if not present:
        raise BadResults(f"{root} is not a results dataset (no stage=<name> folders; write one with "
                         "`alchemy features --out parquet://DIR` or `alchemy identify ... --out parquet://DIR`)")
    wanted = [st for st in present if not stages or st in stages or st.split(":", 1)[0] in stages]
    if not wanted:
        raise BadResults(f"{root} has no stage {', '.join(stages or [])}; it holds {', '.join(present)}")
    return wanted


def check_parts(root: str | os.PathLike, stage: str | None = None) -> int:
    """Read every part's footer (cheap); :class:`BadResults` on the first damaged one, before anything is merged.
    Returns the number of parts."""
    import pyarrow.parquet as pq

    parts = part_files(root, stage)
    for p in parts:
        try:
            pq.read_metadata(p)
        except Exception as exc:  # noqa: BLE001
            raise _bad_part(p, exc, "then merge again") from None
    return len(parts)


# -- producing: any jobs.run batch, results to Parquet ---------------------------------------------------------------
def run_to_parquet(
    items: list[Any], fn: Callable[[Any], Any], out: str | os.PathLike, stage: str, *,
    key: Callable[[Any], str] = str, payload: Callable[[Any, Any], Any] | None = None,
    workers: int | None = None, scheduler: str | None = None, progress: bool = True, rows_per_part: int = 2000,
) -> tuple[Any, int]:
    """Run ``fn`` over the items not yet in ``out`` for ``stage`` and write every outcome there (no database).

    ``key(item)`` names an item (the ``item`` column); ``payload(item, result)`` shapes the stored result (default:
    the result itself). Returns ``(jobs.JobSummary, items skipped as already written)``; re-running resumes.
    """
    from . import run

    root = parse_out(out) if str(out).startswith(SCHEME) else Path(out)
    with ParquetSink(root, stage, rows_per_part=rows_per_part) as sink:
        done = sink.done_items()
        todo = [it for it in items if key(it) not in done]
        summary = run(
            todo, fn,
            lambda it, res: sink.add(key(it), True, payload(it, res) if payload else res),
            lambda it, exc: sink.add_error(key(it), exc),
            workers=workers, scheduler=scheduler, desc=f"{stage} -> parquet", progress=progress, label=key,
        )
    return summary, len(items) - len(todo)


__all__ = ["BadResults", "ParquetSink", "check_parts", "dataset_stages", "dumps", "loads", "parse_out", "part_files",
           "read_rows", "run_to_parquet"]
