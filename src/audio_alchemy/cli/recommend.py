"""Recommendation commands: rate, recommend, similar, eval-recommend (also exposed as ``eval_recommend_command``)."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table

from .common import DbOption, console, err_console, esc, fail, open_library, print_json

JsonOption = Annotated[bool, typer.Option("--json", help="One JSON object per line.")]


def rate_cmd(
    track: Annotated[str, typer.Argument(help="Track id, path, or part of a title.")],
    scale: Annotated[int, typer.Option("--scale", help="Likert scale: 2, 3 or 5 points.")] = 5,
    score: Annotated[int, typer.Option("--score", help="Your rating, 1..scale.")] = ...,  # type: ignore[assignment]
    user: Annotated[str, typer.Option("--user", "-u", help="Who rates.")] = "local",
    db: DbOption = None,
) -> None:
    """Rate a track on a 2-, 3- or 5-point scale; a score outside its scale is refused."""
    from ..recommend.interactions import InteractionError, normalize_rating

    try:
        normalize_rating(scale, score)
    except InteractionError as exc:
        fail(str(exc))
    with open_library(db, create=False) as lib:
        try:
            t = lib.resolve(track)
        except KeyError as exc:
            fail(str(exc.args[0]))
        try:
            norm = lib.add_rating(t.id, user, scale, score)
        except ValueError as exc:
            fail(str(exc))
        console.print(f"rated [bold]{esc(t.label)}[/bold] {score}/{scale} for {esc(user)} (normalised {norm:.2f})",
                      highlight=False)


def _print_recs(recs, as_json: bool, title: str) -> None:
    if as_json:
        for r in recs:
            print_json(r.to_dict())
        if recs.note:
            err_console.print(f"note: {esc(recs.note)}", highlight=False)
        return
    if recs.note:
        console.print(f"[yellow]note:[/yellow] {esc(recs.note)}", highlight=False)
    table = Table("#", "id", "track", "score", "why", title=title)
    for k, r in enumerate(recs, 1):
        table.add_row(str(k), esc(r.item), esc(r.label or ""), f"{r.score:.3f}", esc(r.reason))
    console.print(table)


def recommend_cmd(
    user: Annotated[str, typer.Option("--user", "-u", help="User id (ratings/plays recorded under it).")] = "local",
    n: Annotated[int, typer.Option("-n", min=1, help="How many.")] = 10,
    genre: Annotated[str | None, typer.Option("--genre", help="Only this genre (tag, else prediction).")] = None,
    language: Annotated[str | None, typer.Option("--language", help="Only this language (tag, else prediction).")] = None,
    track_type: Annotated[str, typer.Option("--track-type", help="full (0), vocals (1) or accompaniment (2).")] = "full",
    boost: Annotated[bool, typer.Option("--boost", help="Boost matching genre/language instead of restricting to it.")] = False,
    db: DbOption = None,
    as_json: JsonOption = False,
) -> None:
    """Recommend tracks for a user from ratings, plays and the sound of the tracks; each says why."""
    from ..recommend.interactions import InteractionError
    from ..recommend.library_api import recommend_for_user
    from ..recommend.recommender import Filters

    with open_library(db, create=False) as lib:
        try:
            filters = Filters(genre=genre, language=language, track_type=track_type, mode="boost" if boost else "restrict")
            recs = recommend_for_user(lib, user, n=n, filters=filters)
        except (InteractionError, ValueError) as exc:
            fail(str(exc))
        _print_recs(recs, as_json, f"recommendations for {user}")


def similar_cmd(
    track: Annotated[str, typer.Argument(help="Track id, path, or part of a title.")],
    n: Annotated[int, typer.Option("-n", min=1, help="How many.")] = 10,
    feature_set: Annotated[str | None, typer.Option("--set", "--features", help="Feature set to compare: seed or full (default: the best stored).")] = None,
    db: DbOption = None,
    as_json: JsonOption = False,
) -> None:
    """Sound-alike tracks: cosine similarity of standardised audio features (audio alone)."""
    from ..recommend.library_api import sound_alikes

    with open_library(db, create=False) as lib:
        try:
            t = lib.resolve(track)
            recs = sound_alikes(lib, t.id, n=n, feature_set=feature_set)
        except KeyError as exc:
            fail(str(exc.args[0]) if exc.args else str(exc))
        _print_recs(recs, as_json, f"sounds like {t.label}")


def eval_recommend_command(
    data: Annotated[Path | None, typer.Option("--data", help="HetRec folder or a user,item,count CSV/TSV (default: shared listening data).")] = None,
    quick: Annotated[bool, typer.Option("--quick/--full", help="Quick: default hyper-parameters, no tuning.")] = True,
    k: Annotated[int, typer.Option("-k", help="Cut-off.")] = 10,
    seed: Annotated[int, typer.Option("--seed", help="Seed of the test holdout (validation uses seed + 1).")] = 0,
) -> None:
    """Evaluate every model under the fixed protocol (20% per-user holdout, seed fixed) and print a table."""
    os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")
    from .. import config
    from ..recommend.benchmark import run_models
    from ..recommend.evaluate import format_table
    from ..recommend.interactions import InteractionError, read_hetrec, read_interactions

    path = data or config.data_path("listening")
    if path is None:
        fail("no data: pass --data DIR (HetRec layout) or a CSV/TSV of user,item,count")
    try:
        if Path(path).is_dir():
            het = read_hetrec(path)
        else:
            het = read_interactions(path)
    except InteractionError as exc:
        fail(str(exc))
    except (UnicodeDecodeError, OSError) as exc:
        fail(f"{path}: not a HetRec folder or a text CSV/TSV of user,item,count ({exc})")
    try:
        results = run_models(het, k=k, seed=seed, tune=not quick, log=lambda s: err_console.print(s, highlight=False))
    except ValueError as exc:  # e.g. too few users with enough items for the holdout
        fail(f"{path}: {exc}")
    console.print(format_table(results), highlight=False, soft_wrap=True)


def register(app: typer.Typer) -> None:
    """Add rate, recommend, similar and eval-recommend to the root app."""
    app.command("rate")(rate_cmd)
    app.command("recommend")(recommend_cmd)
    app.command("similar")(similar_cmd)
    app.command("eval-recommend", hidden=True)(eval_recommend_command)  # also `alchemy eval recommend`
