"""Run the player with uvicorn: ``serve(db_path, host, port)``; loopback by default, loud when it is not."""

from __future__ import annotations

import ipaddress
import os
import socket
import sys
from pathlib import Path

LOOPBACK_NAMES = ("localhost", "127.0.0.1", "::1")


def is_loopback(host: str) -> bool:
    """True when ``host`` only listens on this machine (127.0.0.0/8, ::1, localhost)."""
    if host in LOOPBACK_NAMES:
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def exposure_warning(host: str, port: int) -> str | None:
    """The warning to print when ``host`` exposes the library to the network (None on loopback)."""
    if is_loopback(host):
        return None
    return (f"WARNING: the player is bound to {host}:{port}, which is reachable from other machines. It has no "
            "authentication: anyone who can reach this port can list, stream and rate your whole library. "
            "Use --host 127.0.0.1 unless you trust the network.")


def url_for(host: str, port: int) -> str:
    """The URL to open in a browser for a server bound to ``host``:``port``."""
    shown = "127.0.0.1" if host in ("0.0.0.0", "", "localhost") else ("localhost" if host == "::" else host)
    if ":" in shown:
        shown = f"[{shown}]"
    return f"http://{shown}:{port}/"


def free_port(host: str = "127.0.0.1") -> int:
    """A TCP port that is free right now on ``host`` (for tests and benches)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind((host, 0))
        return s.getsockname()[1]


def make_config(db_path: str | os.PathLike | None, host: str = "127.0.0.1", port: int = 8000, log_level: str = "warning"):
    """A ``uvicorn.Config`` for the player (Host header pinned to loopback names when bound to loopback)."""
    import uvicorn

    from .app import create_app

    allowed = None
    if is_loopback(host):
        allowed = ["127.0.0.1", "localhost", "[::1]", "::1", host]
    app = create_app(db_path, allowed_hosts=allowed)
    return uvicorn.Config(app, host=host, port=port, log_level=log_level, access_log=False,
                          timeout_keep_alive=30, limit_concurrency=1000, h11_max_incomplete_event_size=16 * 1024)


def serve(db_path: str | os.PathLike | Path | None = None, host: str = "127.0.0.1", port: int = 8000,
          log_level: str = "warning", announce: bool = True) -> None:
    """Serve the player for the library at ``db_path`` until interrupted; prints the URL (and a warning off loopback)."""
    import uvicorn

    config = make_config(db_path, host, port, log_level)
    warning = exposure_warning(host, port)
    if warning:
        print(warning, file=sys.stderr, flush=True)
    if announce:
        print(f"Audio Alchemy player: {url_for(host, port)}  (API docs: {url_for(host, port)}docs; Ctrl+C to stop)", flush=True)
    uvicorn.Server(config).run()
