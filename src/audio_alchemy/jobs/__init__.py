"""One batch mechanism for every long job: tasks run in worker processes, results come back to the driver.

The driver (the calling process) is the only writer of the database: ``on_result`` and ``on_error`` run
there, one item at a time, so every committed row is whole and a killed run resumes by skipping what is
stored. Task functions must be top-level (picklable) and take one item; ``functools.partial`` adds options.
The executor is pluggable: a local process pool (default), in-process (``workers=0``), or Dask.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any, TypeVar

from .executors import Executor, SchedulerUnavailable, make_executor
from .progress import progress_bar

T = TypeVar("T")
R = TypeVar("R")


def default_workers() -> int:
    """Default worker count: the usable cores."""
    try:
        return max(len(os.sched_getaffinity(0)), 1)
    except AttributeError:  # pragma: no cover - non-Linux
        return os.cpu_count() or 1


@dataclass
class JobSummary:
    """What a batch did: counts and the first few error lines."""

    total: int = 0
    done: int = 0
    failed: int = 0
    skipped: int = 0
    interrupted: bool = False
    errors: list[str] = field(default_factory=list)
    what: str = ""  # what did the work, when the caller resolved it (e.g. the separator ``auto`` picked)

    @property
    def status(self) -> str:
        return "interrupted" if self.interrupted else "done"

    def add_failures(self, lines: list[str]) -> None:
        """Count items that failed before they could be queued (e.g. their file is gone), their lines first."""
        self.failed += len(lines)
        self.errors[:0] = lines[:20]


def run(
    items: Sequence[T] | Iterable[T],
    fn: Callable[[T], R],
    on_result: Callable[[T, R], None],
    on_error: Callable[[T, BaseException], None] | None = None,
    *,
    workers: int | None = None,
    scheduler: str | None = None,
    desc: str = "working",
    progress: bool = True,
    label: Callable[[T], str] = str,
    retries: int = 1,
) -> JobSummary:
    """Run ``fn(item)`` for every item on the chosen executor; hand each outcome to the callbacks in order of completion.

    ``on_error`` receives exceptions raised by ``fn`` (the batch goes on). A worker that dies (segfault,
    OOM kill) is replaced and its item retried ``retries`` times before being reported as an error.
    KeyboardInterrupt stops the batch: finished items stay stored, and the exception is re-raised for the CLI
    to report, carrying the summary so far (``exc.summary``, status ``interrupted``).
    """
    items = list(items)
    summary = JobSummary(total=len(items))
    if not items:
        return summary
    workers = default_workers() if workers is None else workers
    executor: Executor = make_executor(scheduler, workers)
    try:
        executor.start(fn)  # before the progress bar's thread: a single-threaded driver can fork Dask's workers
    except BaseException:
        executor.close()
        raise
    with progress_bar(desc, len(items), enabled=progress) as advance:
        try:
            for item, ok, value in executor.map_unordered(fn, items, retries=retries):
                if ok:
                    try:
                        on_result(item, value)
                    except (KeyboardInterrupt, SystemExit):
                        raise
                    except Exception as exc:  # noqa: BLE001 - storing one item failed: report it, go on
                        ok, value = False, exc
                    else:
                        summary.done += 1
                if not ok:
                    summary.failed += 1
                    if len(summary.errors) < 20:
                        name, text = label(item), str(value)
                        summary.errors.append(text if text.startswith(f"{name}: ") else f"{name}: {text}")
                    if on_error is not None:
                        on_error(item, value)
                advance(1)
        except KeyboardInterrupt as exc:
            summary.interrupted = True
            exc.summary = summary  # what was committed before the interrupt, for the caller's job row
            executor.cancel()
            raise
        finally:
            executor.close()
    return summary


__all__ = ["JobSummary", "SchedulerUnavailable", "default_workers", "run"]
