"""Entry point of ``alchemy``: builds the root Typer app from every area's command module."""

from __future__ import annotations

import importlib
import importlib.util

import typer

from .. import __version__

# One module per area; each defines register(app). Listed in data-flow order so --help reads naturally.
AREAS = ("library", "collect", "separate", "features", "recognize", "models", "recommend", "evaluation", "serve", "scale", "demo")

app = typer.Typer(
    name="alchemy",
    help="Audio Alchemy: stems, features, genre and language recognition, recommendations and a player for your music library.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)


def _version(value: bool) -> None:
    if value:
        typer.echo(f"audio-alchemy {__version__}")
        raise typer.Exit()


@app.callback()
def _root(version: bool = typer.Option(False, "--version", callback=_version, is_eager=True, help="Show the version.")) -> None:
    """Audio Alchemy command line."""


def _register_areas() -> None:
    for area in AREAS:
        name = f"{__package__}.{area}"
        if importlib.util.find_spec(name) is None:
            continue  # that area is not built yet
        importlib.import_module(name).register(app)


_register_areas()


def main() -> None:
    app()


if __name__ == "__main__":
    main()
