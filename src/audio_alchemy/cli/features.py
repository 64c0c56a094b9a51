"""Feature commands: ``alchemy features`` (one file or the whole library), ``alchemy compare``, ``alchemy convert``."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from ..jobs import SchedulerUnavailable
from .common import (DbOption, SchedulerOption, WorkersOption, console, err_console, esc, exit_if_nothing_done, fail,
                     interrupted, open_library, print_errors, print_json)


def features_cmd(
    file: Annotated[Path | None, typer.Argument(help="One audio file: print its features (no library). Omit for the library job.")] = None,
    feature_set: Annotated[str, typer.Option("--set", help="Feature set: seed (the study's Table 1) or full.")] = "seed",
    images: Annotated[bool, typer.Option("--images", help="Also write log-mel .npz and grey/viridis PNGs.")] = False,
    out: Annotated[str | None, typer.Option("--out", help="Library job: parquet://DIR writes the results to a Parquet "
                                            "dataset (merge with `alchemy import-results DIR`) instead of the database. "
                                            "With FILE and --images: image file stem (default beside the file).")] = None,
    track_type: Annotated[int, typer.Option("--track-type", min=0, max=2, help="With FILE: 0 full mix, 1 vocals, 2 accompaniment.")] = 0,
    workers: WorkersOption = None,
    scheduler: SchedulerOption = "local",
    as_json: Annotated[bool, typer.Option("--json", help="Machine-readable output.")] = False,
    force: Annotated[bool, typer.Option("--force", help="Recompute tracks that already have this set.")] = False,
    db: DbOption = None,
) -> None:
    """Compute features: for FILE print them (JSON); without FILE, for every library track not done yet (resumable)."""
    from ..features import FEATURE_SETS

    if feature_set not in FEATURE_SETS:
        fail(f"unknown feature set {feature_set!r}; choose one of {', '.join(FEATURE_SETS)}")
    if file is not None:
        _one_file(file, feature_set, images, Path(out) if out else None, track_type, as_json)
        return
    from ..features.batch import run_features
    from ..jobs.parquet_sink import BadResults, parse_out

    try:
        root = parse_out(out)
    except ValueError as exc:
        fail(str(exc))
    with open_library(db, create=False) as lib:
        try:
            s = run_features(lib, feature_set=feature_set, images=images, workers=workers, scheduler=scheduler,
                             progress=not as_json, force=force, out=out)
        except KeyboardInterrupt:
            interrupted()
        except (SchedulerUnavailable, BadResults) as exc:
            fail(str(exc))
        if as_json:
            print_json({"feature_set": feature_set, "total": s.total, "done": s.done, "failed": s.failed,
                        "skipped": s.skipped, "status": s.status, "errors": s.errors})
            return
        console.print(f"features [bold]{feature_set}[/bold]: {s.done} computed, {s.skipped} already done, "
                      f"[{'red' if s.failed else 'green'}]{s.failed} error(s)[/]")
        if root is not None:
            console.print(f"results written to {root}. Merge with: alchemy import-results {root}")
        print_errors(s.errors)
    exit_if_nothing_done(s.failed, s.done, s.skipped)


def _one_file(file: Path, feature_set: str, images: bool, out: Path | None, track_type: int, as_json: bool) -> None:
    from ..features.images import save_images
    from ..features.sets import analyse_file
    from ..io import AudioError

    try:
        feats, audio, fe = analyse_file(file, feature_set, track_type)
    except AudioError as exc:
        fail(str(exc))
    if "analysed_seconds" in feats:
        _note_cut(file, feats["duration"])
    if images:
        stem = out if out is not None else file.with_suffix("")
        try:
            feats["images"] = save_images(audio.samples, audio.sr, stem, fe=fe)
        except OSError as exc:
            fail(f"cannot write the images {stem}.*: {exc.strerror or exc}")
    print_json(feats)  # single file: always JSON (--json accepted for symmetry)


def _note_cut(file: Path, seconds: float) -> None:
    from ..features.sets import MAX_ANALYSIS_SECONDS

    def mmss(t: float) -> str:
        return f"{int(t // 60)}:{int(t % 60):02d}"

    err_console.print(f"[yellow]note:[/yellow] {esc(str(file))} lasts {mmss(seconds)}; only its first "
                      f"{mmss(MAX_ANALYSIS_SECONDS)} are analysed (memory grows with length)", highlight=False)


def compare_cmd(
    a: Annotated[Path, typer.Argument(help="Reference file (e.g. the WAV).")],
    b: Annotated[Path | None, typer.Argument(help="Other version (e.g. the MP3); omitted: A is encoded to MP3 and compared.")] = None,
    plot: Annotated[Path | None, typer.Option("--plot", help="Save the dB-vs-frequency plot here (PNG).")] = None,
    bitrate: Annotated[int, typer.Option("--bitrate", min=32, max=320,
                                         help="kbit/s when B is omitted and A is encoded to MP3.")] = 192,
    as_json: Annotated[bool, typer.Option("--json", help="Machine-readable output.")] = False,
) -> None:
    """Spectral similarity of two versions of a recording (the study's WAV-vs-MP3 check), per-band dB and cutoff."""
    from ..features.compare import compare_arrays, plot as plot_cmp
    from ..features.sets import MAX_ANALYSIS_SECONDS as most  # bounded memory: a long file's first 15 min
    from ..features.sets import whole_duration_if_cut
    from ..io import AudioError, encode_mp3, load

    try:
        aa = load(a, duration=most)
        if b is None:
            import tempfile

            with tempfile.TemporaryDirectory() as d:
                p = Path(d) / "encoded.mp3"
                p.write_bytes(encode_mp3(aa.samples, aa.sr, bitrate=bitrate))
                bb = load(p)
            label_b = f"MP3 {bitrate} kbit/s"
        else:
            bb = load(b, duration=most)
            label_b = b.name
        for path, x in ((a, aa), (b, bb)):
            if path is not None and (whole := whole_duration_if_cut(path, x, most)) is not None:
                _note_cut(path, whole)
    except AudioError as exc:
        fail(str(exc))
    c = compare_arrays(aa.samples, aa.sr, bb.samples, bb.sr)
    if plot is not None:
        plot_cmp(c, plot, a.name, label_b)
    if as_json:
        d = c.summary()
        d["plot"] = str(plot) if plot else None
        print_json(d)
        return
    console.print(f"histogram similarity [bold]{c.histogram_similarity:.4f}[/bold] "
                  f"(cosine {c.cosine_similarity:.4f}), analysed at {c.sr} Hz")
    bands = [f"{k} Hz {v:+.2f}" for k, v in c.band_db_diff.items() if v is not None]
    console.print("per octave band, B - A (dB): " + (", ".join(bands) or "none: no band has sound in both files "
                                                      "(is one of them silent?)"))
    kept = f"none (B kept the compared band, up to {c.sr / 2:.0f} Hz: the lower file's Nyquist frequency)"
    console.print(f"cutoff: {'%.0f Hz' % c.cutoff_hz if c.cutoff_hz else kept}")
    if plot is not None:
        console.print(f"plot: {plot}")


def convert_cmd(
    src: Annotated[Path, typer.Argument(help="Input audio file.")],
    dst: Annotated[Path, typer.Argument(help="Output file; the format follows the suffix (.wav, .flac, .ogg, .mp3).")],
    bitrate: Annotated[int, typer.Option("--bitrate", min=32, max=320,
                                         help="MP3 kbit/s (32-320; LAME rounds to a standard rate).")] = 192,
) -> None:
    """Convert between WAV, FLAC, OGG and MP3 (decode, then encode; LAME for MP3)."""
    from ..io import AudioError, load, probe, save

    try:
        audio = load(src)
        out = save(dst, audio.samples, audio.sr, bitrate=bitrate)
        written = probe(out)  # what the file holds: MP3 resamples rates it cannot carry (e.g. 96 kHz -> 44.1 kHz)
    except (AudioError, ValueError) as exc:
        fail(str(exc))
    console.print(f"wrote {esc(out)} ({audio.duration:.1f} s, {written.sample_rate} Hz, {written.channels} ch)",
                  highlight=False)


def register(app: typer.Typer) -> None:
    app.command("features")(features_cmd)
    app.command("compare")(compare_cmd)
    app.command("convert")(convert_cmd)
