"""Scale-out commands: identify files into a Parquet results dataset (no database), and merge such a dataset.

For a run too big for one SQLite writer (or spread over many machines): ``alchemy identify --out parquet://DIR``
on the cluster's client, then ``alchemy import-results DIR`` wherever the library lives.
"""

from __future__ import annotations

from functools import partial
from pathlib import Path
from typing import Annotated

import typer

from ..jobs import SchedulerUnavailable
from ..jobs.parquet_sink import BadResults, dataset_stages, parse_out, run_to_parquet
from ..library.results_import import merge_results
from .common import (DbOption, SchedulerOption, WorkersOption, console, err_console, exit_if_nothing_done, fail,
                     interrupted, open_library)

OutOption = Annotated[str, typer.Option("--out", help="Results dataset: parquet://DIR (partitioned Parquet, mergeable).")]


def identify_cmd(
    paths: Annotated[list[Path], typer.Argument(help="Files or folders (folders are searched recursively).")],
    out: OutOption,
    workers: WorkersOption = None,
    scheduler: SchedulerOption = "local",
) -> None:
    """Decode, hash, fingerprint and tag audio files on the workers; write the results to Parquet (no database).

    Re-running with the same --out skips files already written. Merge with `alchemy import-results DIR`.
    """
    from ..library.db import display_path
    from ..library.importer import identify, scan

    try:
        root = parse_out(out)
    except ValueError as exc:
        fail(str(exc))
    if root is None:
        fail("--out must be parquet://DIR (use `alchemy import` to write the library directly)")
    scanned = scan(paths)
    for p, kind, msg in scanned.problems:
        err_console.print(f"  [red]✗[/red] {p}: {msg}", highlight=False)
    try:
        s, skipped = run_to_parquet(scanned.files, partial(identify), out, "import", key=display_path,
                                    workers=workers, scheduler=scheduler)
    except KeyboardInterrupt:
        interrupted()
    except (SchedulerUnavailable, BadResults) as exc:
        fail(str(exc))
    failed = s.failed + len(scanned.problems)  # unreadable folders and missing paths count, as in `alchemy import`
    console.print(f"identified [bold]{s.done}[/bold] file(s), [{'red' if failed else 'green'}]{failed} error(s)[/], "
                  f"{skipped} already in {root}. Merge with: alchemy import-results {root}")
    exit_if_nothing_done(failed, s.done, skipped)


def import_results_cmd(
    directory: Annotated[Path, typer.Argument(help="A results dataset written with --out parquet://DIR.")],
    db: DbOption = None,
    stage: Annotated[list[str] | None, typer.Option("--stage", help="Only these stages (import, features = every features:<set>, features:seed, ...).")] = None,
) -> None:
    """Merge a Parquet results dataset into the library (idempotent: merging twice stores the same results again; only their timestamps change)."""
    try:
        dataset_stages(directory, stage or None)  # before a library is created for it
    except (FileNotFoundError, BadResults) as exc:
        fail(str(exc))
    with open_library(db) as lib:
        try:
            s = merge_results(lib, directory, stages=stage or None)
        except (FileNotFoundError, BadResults) as exc:
            fail(str(exc))
        except KeyboardInterrupt:
            interrupted()
        for st in sorted(set(s.stored) | set(s.errors)):
            console.print(f"{st}: stored [bold]{s.stored.get(st, 0)}[/bold] result(s), "
                          f"recorded {s.errors.get(st, 0)} error row(s)")
        if s.skipped:
            err_console.print(f"[yellow]{len(s.skipped)} row(s) could not be merged[/yellow] (recorded as `merge` "
                              "errors; they are merged by a later run once their tracks are in the library):",
                              highlight=False)
        for line in s.skipped[:10]:
            err_console.print(f"  [yellow]skipped[/yellow] {line}", highlight=False)
        if len(s.skipped) > 10:
            err_console.print(f"  ... and {len(s.skipped) - 10} more (see `alchemy errors --stage merge`)")
        console.print(f"Library: {lib.count_tracks(0)} songs.")


def register(app: typer.Typer) -> None:
    app.command("identify")(identify_cmd)
    app.command("import-results")(import_results_cmd)
