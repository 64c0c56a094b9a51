"""Recognition commands (stable contract): train, predict, evaluate, study reproduce.

    alchemy train genre|language --labels CSV [--target COL] [--group-by COL] [--model NAME] --out DIR
    alchemy predict --model DIR FILE... --json          # one {"path","label","scores"} per line
    alchemy predict --model DIR                         # library tracks -> predictions table
    alchemy evaluate genre|language --labels CSV [--group-by COL] [--model NAME|all] --report DIR
    alchemy study reproduce
"""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Annotated

import typer

from .common import (DbOption, check_out_dir, console, err_console, error_line, esc, exit_if_nothing_done, fail,
                     interrupted, open_library, print_errors, print_json)

TASKS = ("genre", "language")
# evaluated by --model all (the CNN is included but time-boxed; see models/cnn.py)
ALL_MODELS = ("musicnn-logreg", "musicnn-svm-linear", "musicnn-svm-rbf", "musicnn-knn", "musicnn-rf", "musicnn-gb",
              "mfcc-logreg", "mfcc-svm-rbf", "mfcc-rf", "mfcc-knn", "mfcc-gb", "cnn-mel")

TaskArg = Annotated[str, typer.Argument(help="genre or language (any other name works with --target).")]
LabelsOpt = Annotated[Path | None, typer.Option("--labels", help="CSV with a 'path' column (relative to the CSV) and a label column.",
                                                exists=True, dir_okay=False)]
FromLibOpt = Annotated[bool, typer.Option("--from-library", help="Labels from the library's tags instead of a CSV (--db).")]
TargetOpt = Annotated[str | None, typer.Option("--target", help="Label column (default: the task name).")]
GroupOpt = Annotated[str | None, typer.Option("--group-by", help="Column whose values must not straddle folds (artist, group_id...).")]


ModelDirOpt = Annotated[Path | None, typer.Option("--model-dir", help="Folder with pretrained weights (offline use).")]
def _check_separate(value: str | None) -> str | None:
    """``--separate``: auto, none or a separator name (an unknown one used to fall back to the mix silently)."""
    if value is None or value in ("auto", "none"):
        return value
    from ..separate import available_separators
    from ..separate.registry import ALIASES

    if value not in available_separators() and value not in ALIASES:
        raise typer.BadParameter(f"{value!r}: use auto, none or one of {', '.join(available_separators())}")
    return value


SeparateOpt = Annotated[str | None, typer.Option(
    "--separate", callback=_check_separate, help="Whisper language model input: auto (Demucs vocal stem when its weights are present, else "
    "the mix: the offline separator measured worse, see docs/models.md), none (the mix), or a separator name "
    "(spleeter, masknet, htdemucs). Default: auto for training, the model's stored setting for predict.")]


def _load_set(labels: Path | None, task: str, target: str | None, group_by: str | None,
              from_library: bool = False, db: Path | None = None):
    from ..models.datasets import from_csv, from_library as lib_set

    if from_library:
        with open_library(db, create=False) as lib:
            data = lib_set(lib, target=target or task, group_by=group_by or "artist")
        if len(data) == 0:
            fail(f"no library tracks have a {target or task} tag")
        return data
    if labels is None:
        fail("pass --labels CSV (or --from-library)")
    try:
        data = from_csv(labels, target=target, group_by=group_by, task=task)
    except ValueError as exc:
        fail(str(exc))
    for note in data.notes:
        err_console.print(f"[yellow]note:[/yellow] {esc(note)}", highlight=False)
    return data


def train_cmd(
    task: TaskArg,
    out: Annotated[Path, typer.Option("--out", help="Model directory to write.")],
    labels: LabelsOpt = None,
    target: TargetOpt = None,
    group_by: GroupOpt = None,
    model: Annotated[str | None, typer.Option("--model", help="Model name, e.g. musicnn-svm-rbf, mfcc-rf, cnn-mel "
                                              "(default: musicnn-logreg; for language the Whisper model when "
                                              "its weights are present).")] = None,
    seed: Annotated[int, typer.Option("--seed", help="Random seed (folds, model initialisation).")] = 0,
    from_library: FromLibOpt = False,
    model_dir: ModelDirOpt = None,
    separate: SeparateOpt = None,
    db: DbOption = None,
) -> None:
    """Train on every row of the labels CSV (or tagged library tracks) and save a self-contained model directory.

    `alchemy train language --model whisper` fits the Whisper-based language model (needs the Whisper
    weights: see `alchemy models list`); the classical models are the study's baseline.
    """
    check_out_dir(out)  # before training, not after
    from ..models.recognizer import Recognizer

    if task == "language" and model is None and labels is not None and not from_library and whisper_available(model_dir):
        console.print("language: Whisper base weights found, training the Whisper-based model "
                      "(the study's classical baseline: --model mfcc-logreg)")
        model = "whisper"
    if model in ("whisper", "whisper-base") and task == "language":
        _train_whisper(labels, out, target, model_dir, separate or "auto")
        return
    data = _load_set(labels, task, target, group_by, from_library, db)
    errors: list[str] = []
    t0 = time.perf_counter()
    try:
        rec = Recognizer.train(data, task=task, model=model, seed=seed,
                               on_error=lambda p, e: errors.append(error_line(p, e)))
    except ValueError as exc:
        fail(str(exc))
    rec.save(out)
    print_errors(errors, shown=len(errors), mark="[yellow]skipped[/yellow]")
    m = rec.info["training_metrics"]
    console.print(f"trained [bold]{rec.model}[/bold] for {task} on {rec.info['n_examples']} files "
                  f"({len(rec.labels)} labels) in {time.perf_counter() - t0:.1f}s; "
                  f"training accuracy {m['resubstitution_accuracy']:.3f} (not a test score; use `alchemy evaluate`) "
                  f"-> {out}", highlight=False)


def whisper_available(model_dir: Path | None = None) -> bool:
    """Whether the Whisper base weights can be loaded without a download (then it is the default language model)."""
    try:
        from ..models import store

        return store.status("whisper-base", model_dir=model_dir).state == "present"
    except Exception:  # noqa: BLE001 - any problem locating it means: not available, use the classical model
        return False


def _train_whisper(labels: Path | None, out: Path, target: str | None, model_dir: Path | None,
                   separate: str = "auto") -> None:
    from ..models import store
    from ..models import whisper_language as wl

    if labels is None:
        fail("--labels CSV is required for the Whisper language model")
    console.print(f"input (separate={separate}): {wl.resolve_separator(separate, model_dir)[1]}", highlight=False)
    try:
        path = wl.train_language_model(
            labels, out, target=target or "language", model_dir=model_dir, separate=separate,
            on_skip=lambda line: print_errors([line], mark="[yellow]skipped[/yellow]"))
    except (store.ModelMissing, store.ModelCorrupt, wl.WhisperUnavailable, ValueError) as exc:
        fail(str(exc))
    console.print(f"trained the Whisper language model -> {path}", highlight=False)


def predict_cmd(
    model: Annotated[Path, typer.Option("--model", help="Model directory written by `alchemy train`.")],
    files: Annotated[list[Path] | None, typer.Argument(help="Audio files; none = every library track.")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="One JSON object per line.")] = False,
    track_type: Annotated[int, typer.Option("--track-type", min=0, max=2, help="Library tracks: 0 full mix, 1 vocals, 2 accompaniment.")] = 0,
    model_dir: ModelDirOpt = None,
    separate: SeparateOpt = None,
    db: DbOption = None,
    force: Annotated[bool, typer.Option("--force", help="Library: predict tracks this model already did, too.")] = False,
) -> None:
    """Predict files (printed), or every library track not yet predicted by this model (stored; resumable)."""
    from ..models import store
    from ..models import whisper_language as wl
    from ..models.recognizer import load_model

    try:
        rec = load_model(model, model_dir=model_dir, separate=separate)
        if isinstance(rec, wl.WhisperRecognizer):
            rec.detector.check()  # weights load now: one clear error, not one per file
    except (FileNotFoundError, ValueError, store.ModelMissing, store.ModelCorrupt, wl.WhisperUnavailable) as exc:
        fail(str(exc))
    if hasattr(rec, "input_description") and not as_json:
        trained = rec.detector.trained_input
        console.print(f"{rec.model}: Whisper hears the {rec.input_description}"
                      + (f" (its head was trained on the {trained})"
                         if trained and trained.split(" (")[0] != rec.input_description.split(" (")[0] else ""),
                      highlight=False)
    if files:
        failed = 0
        for r in rec.predict_files(files):
            if "error" in r:
                failed += 1
                print_errors([error_line(r["path"], r["error"])])
                if as_json:
                    print_json(r)
                continue
            if as_json:
                print_json(r)
            else:
                top = sorted(r["scores"].items(), key=lambda kv: -kv[1])[:3]
                console.print(f"{esc(r['path'])}\t[bold]{esc(r['label'])}[/bold]\t"
                              + "  ".join(f"{k} {v:.2f}" for k, v in top)
                              + (f"\tinput: {r['input']}" if "input" in r else ""), highlight=False)
        exit_if_nothing_done(failed, len(files) - failed, 0)
        return
    from ..models.library_predict import predict_library

    with open_library(db, create=False) as lib:
        try:
            s = predict_library(lib, rec, track_type=track_type, force=force,
                                on_result=(lambda t, r: print_json({"track_id": t.id, **r})) if as_json else None)
        except KeyboardInterrupt:
            interrupted()
        console.print(f"stored {rec.task} predictions for {s.done} tracks ({s.failed} failed, {s.skipped} already "
                      "done; --force redoes them)", highlight=False)
        if s.instrumental:
            console.print(f"{s.instrumental} of them look instrumental (their vocal stems hold no singing: task "
                          "'voice' in `alchemy info`), so their language labels mean little", highlight=False)
    exit_if_nothing_done(s.failed, s.done, s.skipped)


def evaluate_cmd(
    task: TaskArg,
    report: Annotated[Path, typer.Option("--report", help="Folder for index.html, plots and results.json.")],
    labels: LabelsOpt = None,
    target: TargetOpt = None,
    group_by: GroupOpt = None,
    model: Annotated[str, typer.Option("--model", help="Model name, comma-separated names, or 'all' (the 12 models of "
                                       "the comparison: musicnn-*, mfcc-* and cnn-mel; the others by name).")] = "musicnn-logreg",
    splits: Annotated[int, typer.Option("--splits", min=2, help="Folds (at least 2).")] = 5,
    repeats: Annotated[int, typer.Option("--repeats", min=1, help="Repeats of the CV with new shuffles.")] = 1,
    learning_curve: Annotated[bool, typer.Option("--learning-curve/--no-learning-curve", help="Also plot accuracy against training-set size (first model).")] = True,
    seed: Annotated[int, typer.Option("--seed", help="Random seed (folds, model initialisation).")] = 0,
    from_library: FromLibOpt = False,
    db: DbOption = None,
) -> None:
    """Cross-validate models (grouped folds when groups recur) and write an HTML + JSON report."""
    check_out_dir(report, "--report")
    from ..models.evaluate import evaluate_models
    from ..models.recognizer import get_model, model_registry
    from ..models.report import write_report

    data = _load_set(labels, task, target, group_by, from_library, db)
    names = list(ALL_MODELS) if model == "all" else [m.strip() for m in model.split(",") if m.strip()]
    for n in names:
        try:
            get_model(n)
        except ValueError as exc:
            fail(str(exc))
    if model == "all":
        others = sorted(set(model_registry()) - set(names))
        console.print(f"'all': {len(names)} models ({', '.join(names)}); not included, give them by name: "
                      f"{', '.join(others)}", highlight=False)
    try:
        res = evaluate_models(data, names, n_splits=splits, repeats=repeats, seed=seed,
                              learning_curve_model=names[0] if learning_curve else None,
                              log=lambda s: console.print(s, highlight=False))
    except ValueError as exc:
        fail(str(exc))
    res["task"] = task
    html = write_report(res, report, title=f"{task} recognition: {labels or 'library'}")
    console.print(f"report: {html}", highlight=False)


study_app = typer.Typer(help="The original study's experiments on data/seed.", no_args_is_help=True)


@study_app.command("reproduce")
def study_reproduce_cmd(
    seed_dir: Annotated[Path | None, typer.Option("--seed-dir", help="Folder of the study's CSVs (default: $AUDIO_ALCHEMY_DATA/seed).")] = None,
    full_sweep: Annotated[bool, typer.Option("--full-sweep", help="The study's full 144-point RF grid (slow).")] = False,
    as_json: Annotated[bool, typer.Option("--json", help="Print the rows as JSON too.")] = False,
    out: Annotated[Path | None, typer.Option("--out", help="Write rows to this JSON file.")] = None,
) -> None:
    """Study way vs right way vs the study's reported numbers, side by side."""
    from ..config import data_path
    from ..models.study import reproduce

    seed_dir = seed_dir or data_path("seed")
    if seed_dir is None or not Path(seed_dir).is_dir():
        fail(f"the study's CSVs were not found in {seed_dir}" if seed_dir else
             "the study's CSVs were not found: pass --seed-dir or set AUDIO_ALCHEMY_DATA")
    res = reproduce(Path(seed_dir), full_sweep=full_sweep, log=lambda s: typer.echo(s))
    if out:
        out.write_text(json.dumps(res, indent=1, default=str))
    if as_json:
        print_json(res)


def register(app: typer.Typer) -> None:
    """Add train, predict, evaluate and study to the root app."""
    app.command("train")(train_cmd)
    app.command("predict")(predict_cmd)
    app.command("evaluate")(evaluate_cmd)
    app.add_typer(study_app, name="study")
