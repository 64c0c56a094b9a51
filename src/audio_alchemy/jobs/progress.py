"""A rich progress bar with count, rate and ETA on stderr (silent when disabled or not a terminal)."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn, TimeRemainingColumn


@contextmanager
def progress_bar(desc: str, total: int, enabled: bool = True) -> Iterator[Callable[[int], None]]:
    """Yield ``advance(n)``; renders ``desc [bar] done/total rate elapsed ETA``."""
    console = Console(stderr=True)
    if not enabled or not console.is_terminal:
        yield lambda n: None
        return
    columns = (
        TextColumn("[bold]{task.description}"), BarColumn(), MofNCompleteColumn(),
        TextColumn("[cyan]{task.fields[rate]}"), TimeElapsedColumn(),
        TextColumn("ETA"), TimeRemainingColumn(),
    )
    with Progress(*columns, console=console, transient=False) as prog:
        task = prog.add_task(desc, total=total, rate="")

        def advance(n: int) -> None:
            prog.advance(task, n)
            t = prog.tasks[task]
            if t.speed:
                prog.update(task, rate=f"{t.speed:.2f} items/s")

        yield advance
