"""``alchemy demo``: the whole pipeline on the demo songs ($AUDIO_ALCHEMY_DATA/demo, else synthetic ones), then the
player."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table

from ..library import RunLockError
from .common import WorkersOption, console, err_console, fail, interrupted


def demo_cmd(
    db: Annotated[Path | None, typer.Option("--db", help="Demo database (default: $AUDIO_ALCHEMY_HOME/demo/library.sqlite).")] = None,
    workers: WorkersOption = None,
    serve: Annotated[bool, typer.Option("--serve/--no-serve", help="Start the player at the end.")] = True,
    host: Annotated[str, typer.Option(help="Player address (loopback by default).")] = "127.0.0.1",
    port: Annotated[int, typer.Option(min=1, max=65535, help="Player port.")] = 8000,
) -> None:
    """Build a library from the demo songs ($AUDIO_ALCHEMY_DATA/demo, else four synthetic ones) and run every stage:
    import, stems, features, predictions, recommendations; then start the player. Re-running resumes."""
    from ..demo import _available, run_demo

    try:
        res = run_demo(db, workers=workers, log=lambda m: err_console.print(m, highlight=False))
    except KeyboardInterrupt:
        interrupted()
    except RunLockError as exc:  # another import is running on this library, or its lock file is unusable
        fail(str(exc))
    table = Table("stage", "status", "time", "detail", title=f"Audio Alchemy demo — {res.db_path}")
    colour = {"done": "green", "skipped": "yellow", "failed": "red"}
    for s in res.stages:
        table.add_row(s.name, f"[{colour[s.status]}]{s.status}[/]", f"{s.seconds:.1f} s" if s.seconds else "", s.detail)
    console.print(table)
    console.print(f"source: {res.source}", highlight=False)
    for h in res.highlights:
        console.print(f"• {h}", highlight=False)
    console.print(f"explore: alchemy ls --db {res.db_path}  |  alchemy export --db {res.db_path} -f json -o demo.json")
    if serve and _available("audio_alchemy.web.server"):
        from ..web.server import serve as run_server

        run_server(res.db_path, host=host, port=port)
    if any(s.status == "failed" for s in res.stages):
        raise typer.Exit(1)


def register(app: typer.Typer) -> None:
    app.command("demo")(demo_cmd)
