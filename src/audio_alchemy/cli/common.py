"""Options and helpers shared by every command module."""

from __future__ import annotations

import json
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.markup import escape

from ..library import Library

console = Console()
err_console = Console(stderr=True)

DbOption = Annotated[
    Path | None,
    typer.Option("--db", help="Library database file (default: $AUDIO_ALCHEMY_HOME/library.sqlite).", show_default=False),
]
WorkersOption = Annotated[
    int | None, typer.Option("--workers", "-w", min=0, help="Worker processes (default: number of cores; 0 = in-process).")
]
def _check_scheduler(value: str | None) -> str | None:
    if value is not None and value not in ("local", "inline", "dask") and "://" not in value:
        raise typer.BadParameter(f"{value!r}: use local, dask or tcp://HOST:8786")
    return value


SchedulerOption = Annotated[
    str, typer.Option("--scheduler", callback=_check_scheduler,
                      help="local (process pool), dask (LocalCluster) or tcp://HOST:8786.")
]


@contextmanager
def open_library(db: Path | None) -> Iterator[Library]:
    """Open the library for a command; a clear message instead of a traceback when that fails."""
    try:
        lib = Library.open(db)
    except Exception as exc:  # noqa: BLE001
        fail(f"cannot open library {db or ''}: {exc}")
    try:
        yield lib
    finally:
        lib.close()


def fail(message: str, code: int = 1) -> None:
    """Print one red error line and exit."""
    err_console.print(f"[red]error:[/red] {escape(message)}", highlight=False)
    raise typer.Exit(code)


def esc(value: Any) -> str:
    """``str(value)`` with rich markup escaped: titles, paths and messages may contain ``[...]``."""
    return escape(str(value))


def print_json(obj: Any) -> None:
    """Machine-readable output on stdout (no colour, no wrapping)."""
    sys.stdout.write(json.dumps(obj, ensure_ascii=False, default=str) + "\n")


def print_errors(errors: list[str], shown: int = 10, mark: str = "[red]✗[/red]") -> None:
    """The first few per-item error (or warning, with another ``mark``) lines of a batch, then a pointer to
    `alchemy errors`."""
    for line in errors[:shown]:
        err_console.print(f"  {mark} {escape(line)}", highlight=False)
    if len(errors) > shown:
        err_console.print(f"  ... and {len(errors) - shown} more: see `alchemy errors`")


def interrupted() -> None:
    err_console.print("[yellow]interrupted[/yellow]: finished items are saved; run the same command again to resume.")
    raise typer.Exit(130)
