"""Options and helpers shared by every command module."""

from __future__ import annotations

import json
import os
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.markup import escape

from ..config import default_db_path
from ..io.errors import error_line  # noqa: F401 - re-exported for the command modules
from ..library import Library, RunLockError

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
def open_library(db: Path | None, create: bool = True, write: bool = True) -> Iterator[Library]:
    """Open the library for a command; a clear message instead of a traceback when that fails.

    ``create=False``: no new empty library for a mistyped path (only commands that add music create one).
    ``write=False`` (commands that only read): a library this user cannot write is still readable."""
    path = (db or default_db_path()).absolute()
    readonly = not write and path.exists() and not (os.access(path, os.W_OK) and os.access(path.parent, os.W_OK))
    try:
        lib = Library.open(path, create=create, readonly=readonly)
    except FileNotFoundError as exc:
        fail(str(exc))
    except Exception as exc:  # noqa: BLE001
        fail(f"cannot open library {path}: {_why(path, exc)}")
    try:
        yield lib
    except RunLockError as exc:  # another run of the stage, or its lock file unusable
        fail(str(exc))
    finally:
        lib.close()


def _why(path: Path, exc: Exception) -> str:
    """The cause in words a user can act on (SQLite says only "unable to open database file")."""
    home = next((p for p in (path.parent, *path.parent.parents) if p.exists()), None)
    if home is not None and not home.is_dir():
        return f"{home} is a file, not a folder"
    if home is not None and not os.access(home, os.W_OK):
        return f"{exc} (folder {home} is not writable)"
    return str(exc)


def check_out_dir(out: Path, option: str = "--out") -> None:
    """A model/report folder to write: refuse an existing file before any work is done."""
    if out.exists() and not out.is_dir():
        fail(f"{option} {out}: is a file; a folder is written there")


def fail(message: str, code: int = 1) -> None:
    """Print one red error line and exit."""
    err_console.print(f"[red]error:[/red] {escape(message)}", highlight=False)
    raise typer.Exit(code)


def esc(value: Any) -> str:
    """``str(value)`` with rich markup escaped: titles, paths and messages may contain ``[...]``."""
    return escape(str(value))


def print_json(obj: Any) -> None:
    """Machine-readable output on stdout (no colour, no wrapping), always valid UTF-8.

    A non-UTF-8 file name is a str with lone surrogates (``os.fsdecode``); such a line is written with ``\\u``
    escapes instead, which ``json.loads`` turns back into the same str (and ``os.fsencode`` into the bytes)."""
    text = json.dumps(obj, ensure_ascii=False, default=str)
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        text = json.dumps(obj, ensure_ascii=True, default=str)
    sys.stdout.write(text + "\n")


def print_errors(errors: list[str], shown: int = 10, mark: str = "[red]✗[/red]") -> None:
    """The first few per-item error (or warning, with another ``mark``) lines of a batch, then a pointer to
    `alchemy errors`."""
    for line in errors[:shown]:
        err_console.print(f"  {mark} {escape(line)}", highlight=False)
    if len(errors) > shown:
        err_console.print(f"  ... and {len(errors) - shown} more: see `alchemy errors`")


def exit_if_nothing_done(failed: int, done: int, skipped: int) -> None:
    """Batch commands exit 1 when items failed and none was done now or before (scripts notice), else 0: partial
    failures are listed, recorded (`alchemy errors`) and retried by the next run."""
    if failed and not (done or skipped):
        raise typer.Exit(1)


def interrupted() -> None:
    err_console.print("[yellow]interrupted[/yellow]: finished items are saved; run the same command again to resume.")
    raise typer.Exit(130)
