"""``alchemy eval separation|recommend``: the evaluation commands of each area under one group."""

from __future__ import annotations

import typer

from .recommend import eval_recommend_command
from .separate import eval_separation_cmd


def register(app: typer.Typer) -> None:
    group = typer.Typer(help="Measure a component on a reference data set (separation SDR, recommendation NDCG...).",
                        no_args_is_help=True)
    group.command("separation")(eval_separation_cmd)
    group.command("recommend")(eval_recommend_command)
    app.add_typer(group, name="eval")
