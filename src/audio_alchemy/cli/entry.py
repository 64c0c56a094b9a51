"""The ``alchemy`` executable's entry point: loads the command line, then runs it.

Why a module of its own: loading the command modules and building the command tree takes ~0.3 s, and a Ctrl-C
in that window used to print a Python traceback. Here it exits 130 with one line, as a Ctrl-C during a batch
does."""

from __future__ import annotations

import sys


def main() -> None:
    try:
        from .main import app

        app()  # Typer builds the command tree here (another ~0.1 s) before click takes over Ctrl-C
    except KeyboardInterrupt:
        sys.stderr.write("interrupted\n")
        raise SystemExit(130) from None
