"""``alchemy serve``: the web player on the library (loopback by default)."""

from __future__ import annotations

from typing import Annotated

import typer

from ..config import default_db_path
from .common import DbOption, fail, open_library


def serve_cmd(
    host: Annotated[str, typer.Option("--host", help="Address to bind; anything but loopback exposes your library.")] = "127.0.0.1",
    port: Annotated[int, typer.Option("--port", min=1, max=65535, help="TCP port.")] = 8000,
    db: DbOption = None,
    log_level: Annotated[str, typer.Option("--log-level", help="uvicorn log level.")] = "warning",
    workers: Annotated[int, typer.Option("--workers", "-w", min=1, max=64, help="Server processes (one core each).")] = 1,
) -> None:
    """Serve the player: browse, play (WAV/MP3, stems), live spectrum and spectrogram, features, ratings."""
    try:
        from ..web.server import serve
    except ImportError as exc:
        fail(f"the web player needs the 'web' extra (pip install 'audio-alchemy[web]'): {exc}")
    path = (db or default_db_path()).absolute()
    with open_library(path, create=False):  # a mistyped or empty --db would otherwise serve a new, empty library
        pass
    try:
        serve(path, host=host, port=port, log_level=log_level, workers=workers)
    except OSError as exc:
        fail(f"cannot serve on {host}:{port}: {exc}")
    except KeyboardInterrupt:
        pass


def register(app: typer.Typer) -> None:
    app.command("serve")(serve_cmd)
