"""Separation commands: ``alchemy separate`` (library stems) and ``alchemy eval-separation`` (SDR on a stems folder)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from .common import (DbOption, WorkersOption, console, esc, exit_if_nothing_done, fail, interrupted,
                     open_library, print_errors, print_json)

ModelOption = Annotated[
    str, typer.Option("--model", "-m", help="auto (Demucs htdemucs if its weights are on disk, else spleeter if "
                      "installed, else masknet), spleeter, masknet/offline, repet, hpss, htdemucs, htdemucs_ft, "
                      "mdx_extra, ...")
]
ModelDirOption = Annotated[
    Path | None, typer.Option("--model-dir", help="Folder with Demucs weights (<name>.yaml + <sig>-<sha8>.th) "
                                        "or the Spleeter 2stems files.")
]


def separate_cmd(
    model: ModelOption = "auto",
    model_dir: ModelDirOption = None,
    workers: WorkersOption = None,
    device: Annotated[str, typer.Option(help="auto, cpu or cuda.")] = "auto",
    db: DbOption = None,
) -> None:
    """Split every song into vocals + accompaniment stems (track types 1 and 2); re-running skips done songs."""
    if device not in ("auto", "cpu", "cuda") and not device.startswith("cuda:"):
        fail(f"unknown device {device!r}: use auto, cpu, cuda or cuda:N")
    from ..separate import SeparationError
    from ..separate.batch import run_separation

    with open_library(db, create=False) as lib:
        try:
            summary = run_separation(lib, model=model, workers=workers, model_dir=model_dir, device=device)
        except KeyboardInterrupt:
            interrupted()
        except SeparationError as exc:
            fail(str(exc))
    console.print(f"separated {summary.done}, already done {summary.skipped}, failed {summary.failed} "
                  f"(separator {esc(summary.what)})", highlight=False)
    print_errors(summary.errors)
    exit_if_nothing_done(summary.failed, summary.done, summary.skipped)


def eval_separation_cmd(
    stems: Annotated[Path | None, typer.Option("--stems", help="Folder of tracks with mixture/vocals/accompaniment "
                                               "files (default: $AUDIO_ALCHEMY_DATA/stems).")] = None,
    model: ModelOption = "auto",
    model_dir: ModelDirOption = None,
    limit: Annotated[int | None, typer.Option(min=1, help="Only the first N tracks.")] = None,
    json_out: Annotated[bool, typer.Option("--json", help="Machine-readable output.")] = False,
) -> None:
    """SDR (BSS-eval, fast_bss_eval) per track and median, for vocals and accompaniment, with the mixture baseline."""
    from ..config import data_path
    from ..separate import SeparationError, get_separator
    from ..separate.evaluate import evaluate_folder

    folder = stems or data_path("stems")
    if folder is None or not Path(folder).is_dir():
        fail(f"stems folder not found: {folder or '$AUDIO_ALCHEMY_DATA/stems'}")
    try:
        sep = get_separator(model, model_dir=model_dir)
    except SeparationError as exc:
        fail(str(exc))
    rep = evaluate_folder(sep, folder, limit=limit,
                          on_track=None if json_out else lambda t: console.print(
                              f"{t.track[:50]:50s} vocals {t.vocals_db:6.2f} dB  accompaniment {t.accompaniment_db:6.2f} dB",
                              highlight=False))
    if not rep.tracks:
        fail(f"{folder}: no track folders with mixture, vocals and accompaniment files (the layout of "
             "$AUDIO_ALCHEMY_DATA/stems)")
    if json_out:
        print_json({"model": rep.model, "metric": "SDR dB (fast_bss_eval bss_eval_sources, 512 taps)",
                    "vocals_sdr_median_db": rep.vocals_median, "accompaniment_sdr_median_db": rep.accompaniment_median,
                    "mixture_baseline": {"vocals": rep.baseline_vocals_median,
                                         "accompaniment": rep.baseline_accompaniment_median},
                    "tracks": [t.__dict__ for t in rep.tracks]})
        return
    console.print(f"[bold]{rep.model}[/bold] on {len(rep.tracks)} tracks: vocals SDR median {rep.vocals_median:.2f} dB, "
                  f"accompaniment {rep.accompaniment_median:.2f} dB  (mixture as estimate: vocals "
                  f"{rep.baseline_vocals_median:.2f} dB, accompaniment {rep.baseline_accompaniment_median:.2f} dB)")


def register(app: typer.Typer) -> None:
    app.command("separate")(separate_cmd)
    app.command("eval-separation", hidden=True)(eval_separation_cmd)  # also `alchemy eval separation`
