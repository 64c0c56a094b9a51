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


DB_ENV, HOST_ENV = "AUDIO_ALCHEMY_WEB_DB", "AUDIO_ALCHEMY_WEB_HOST"


def _allowed_hosts(host: str) -> list[str] | None:
    return ["127.0.0.1", "localhost", "[::1]", "::1", host] if is_loopback(host) else None


def app_from_env():
    """App factory for uvicorn worker processes (``--workers N``): the database and host come from the environment."""
    from .app import create_app

    return create_app(os.environ.get(DB_ENV) or None, allowed_hosts=_allowed_hosts(os.environ.get(HOST_ENV, "127.0.0.1")))


def make_config(db_path: str | os.PathLike | None, host: str = "127.0.0.1", port: int = 8000, log_level: str = "warning",
                workers: int = 1):
    """A ``uvicorn.Config`` for the player (Host header pinned to loopback names when bound to loopback).

    ``workers`` > 1 runs that many processes (Python serves one core per process; SQLite WAL lets them all read).
    """
    import uvicorn

    from .app import create_app

    common = dict(host=host, port=port, log_level=log_level, access_log=False, timeout_keep_alive=30,
                  limit_concurrency=1000, h11_max_incomplete_event_size=16 * 1024)
    if workers > 1:
        create_app(db_path)  # create/migrate the database once, before the workers start
        os.environ[DB_ENV] = str(Path(db_path).resolve()) if db_path else ""
        os.environ[HOST_ENV] = host
        return uvicorn.Config(f"{__name__}:app_from_env", factory=True, workers=workers, **common)
    return uvicorn.Config(create_app(db_path, allowed_hosts=_allowed_hosts(host)), **common)


def _check_bindable(host: str, port: int) -> None:
    """Raise OSError (port in use, address not ours) before announcing a URL; uvicorn itself would sys.exit."""
    import socket

    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    with socket.socket(family, socket.SOCK_STREAM) as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # as uvicorn does: TIME_WAIT is no conflict
        sock.bind((host, port))


def serve(db_path: str | os.PathLike | Path | None = None, host: str = "127.0.0.1", port: int = 8000,
          log_level: str = "warning", announce: bool = True, workers: int = 1) -> None:
    """Serve the player for the library at ``db_path`` until interrupted; prints the URL (and a warning off loopback)."""
    import uvicorn

    config = make_config(db_path, host, port, log_level, workers)
    _check_bindable(host, port)
    warning = exposure_warning(host, port)
    if warning:
        print(warning, file=sys.stderr, flush=True)
    if announce:
        print(f"Audio Alchemy player: {url_for(host, port)}  (API docs: {url_for(host, port)}docs; Ctrl+C to stop)", flush=True)
    if workers > 1:
        from uvicorn.supervisors import Multiprocess

        sock = config.bind_socket()
        Multiprocess(config, sockets=[sock]).run()
    else:
        uvicorn.Server(config).run()
