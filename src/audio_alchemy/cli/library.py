"""Library commands: import, ls, info, errors, jobs, export."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table

from ..jobs import SchedulerUnavailable
from ..library import Library, import_paths, no_singing
from ..library.export import export as export_library
from .common import (DbOption, SchedulerOption, WorkersOption, console, esc, exit_if_nothing_done, fail, interrupted,
                     open_library, print_errors, print_json)


def import_cmd(
    paths: Annotated[list[Path], typer.Argument(help="Files or folders (folders are searched recursively).")],
    copy: Annotated[bool, typer.Option("--copy", help="Copy files into the library home instead of referencing them.")] = False,
    db: DbOption = None,
    workers: WorkersOption = None,
    scheduler: SchedulerOption = "local",
) -> None:
    """Import audio files (wav, flac, mp3, ogg, opus, m4a, aiff): dedupe by content, read tags. Re-running resumes."""
    if not any(os.path.lexists(os.path.expanduser(p)) for p in paths):  # a typo must not leave an empty library
        fail(f"nothing to import: {', '.join(str(p) for p in paths)}: no such file or directory")
    with open_library(db) as lib:
        try:
            s = import_paths(lib, [str(p) for p in paths], copy=copy, workers=workers, scheduler=scheduler)
        except KeyboardInterrupt:
            interrupted()
        except SchedulerUnavailable as exc:
            fail(str(exc))
        report_import(s, lib)
    exit_if_nothing_done(s.failed, s.new_files, s.unchanged)


def report_import(s, lib: Library) -> None:
    console.print(
        f"imported [bold]{s.new_files}[/bold] file(s): {s.new_tracks} new track(s), "
        f"{s.new_files - s.new_tracks} added to known tracks; {s.unchanged} already in the library; "
        f"[{'red' if s.failed else 'green'}]{s.failed} error(s)[/]"
        + (f", [yellow]{len(s.warnings)} warning(s)[/]" if s.warnings else "") + f". Library: {lib.count_tracks(0)} songs."
    )
    print_errors(s.errors)
    print_errors(s.warnings, mark="[yellow]![/yellow]")


def ls_cmd(
    db: DbOption = None,
    as_json: Annotated[bool, typer.Option("--json", help="One JSON object per line.")] = False,
    stems: Annotated[bool, typer.Option("--stems/--songs", help="Also list stem tracks.")] = False,
) -> None:
    """List the tracks of the library."""
    with open_library(db, create=False, write=False) as lib:
        tracks = lib.tracks() if stems else lib.tracks(track_type=0)
        if as_json:
            for t in tracks:
                d = t.to_dict()
                d.pop("fingerprint", None)
                d["path"] = lib.track_path(t.id)
                print_json(d)
            return
        table = Table("id", "type", "artist", "title", "genre", "duration", "files", *(["separator"] if stems else []))
        for t in tracks:
            table.add_row(str(t.id), t.type_name, esc(t.artist or ""), esc(t.title or ""), esc(t.genre or ""),
                          f"{t.duration:.1f} s" if t.duration else "", str(len(lib.files(t.id))),
                          *([esc(t.separator or "")] if stems else []))
        console.print(table)


def info_cmd(track: Annotated[str, typer.Argument(help="Track id, path, or part of a title.")], db: DbOption = None,
             as_json: Annotated[bool, typer.Option("--json", help="Machine-readable output.")] = False) -> None:
    """Everything the library knows about one track: tags, files, stems, features, predictions, ratings."""
    with open_library(db, create=False, write=False) as lib:
        try:
            t = lib.resolve(track)
        except KeyError as exc:
            fail(str(exc.args[0]))
        info = t.to_dict()
        info["files"] = [{"path": f.path, "format": f.format, "role": f.role, "size": f.size} for f in lib.files(t.id)]
        info["stems"] = {v.type_name: v.id for v in lib.stems(t.id).values()}
        info["features"] = lib.feature_sets(t.id)
        info["artifacts"] = lib.artifacts(t.id)
        info["predictions"] = lib.predictions(t.id)
        info["ratings"] = lib.ratings(t.id)
        if as_json:
            print_json(info)
            return
        console.print(f"[bold]{esc(t.label)}[/bold]  (id {t.id}, {t.type_name})", highlight=False)
        for k in ("album", "genre", "year", "language", "country", "duration", "sample_rate", "channels", "content_hash"):
            if info.get(k) not in (None, ""):
                v = info[k]
                console.print(f"  {k:13s} {round(v, 3) if isinstance(v, float) else esc(v)}", highlight=False)
        for f in info["files"]:
            console.print(f"  file          {esc(f['path'])} ({f['format']}, {f['role']})", highlight=False)
        for name, sid in info["stems"].items():
            stem = lib.track(sid)
            console.print(esc(f"  stem          {name}: track {sid} ({stem.separator if stem else '?'})"),
                          highlight=False)
        for fs, data in info["features"].items():
            scalars = {k: v for k, v in data.items() if isinstance(v, (int, float, str)) and not isinstance(v, bool)}
            shown = ", ".join(f"{k}={v:.4g}" if isinstance(v, float) else f"{k}={v}" for k, v in list(scalars.items())[:12])
            console.print(esc(f"  features[{fs}] {shown}{' ...' if len(scalars) > 12 else ''}"), highlight=False)
        sung = no_singing(info["predictions"]) is None
        for p in info["predictions"]:
            prob = p["scores"].get(p["label"]) if isinstance(p["scores"], dict) else None
            note = " - but no singing found, so this means little" if p["task"] == "language" and not sung else ""
            console.print(esc(f"  predicted     {p['task']}: {p['label']}"
                              + (f" {prob:.2f}" if isinstance(prob, (int, float)) else "") + f" ({p['model']}){note}"),
                          highlight=False)
        for r in info["ratings"]:
            console.print(esc(f"  rating        {r['score']}/{r['scale']} by {r['user_id']}"), highlight=False)


def errors_cmd(db: DbOption = None, stage: Annotated[str | None, typer.Option(help="Only this stage (import, features, ...).")] = None,
               as_json: Annotated[bool, typer.Option("--json", help="Machine-readable output.")] = False) -> None:
    """Per-file errors recorded by batch jobs (one line each, naming the file)."""
    with open_library(db, create=False, write=False) as lib:
        rows = lib.errors(stage)
        if as_json:
            for r in rows:
                print_json(r)
            return
        if not rows:
            console.print("no errors recorded")
        for r in rows:
            console.print(f"[red]{esc(r['stage'])}[/red] {esc(r['kind'])}: {esc(r['message'])}", highlight=False)


def jobs_cmd(db: DbOption = None, as_json: Annotated[bool, typer.Option("--json", help="One JSON object per line.")] = False) -> None:
    """Recent batch jobs with their status and counts (newest first)."""
    with open_library(db, create=False, write=False) as lib:
        if as_json:
            for j in lib.jobs():
                print_json(j)
            return
        table = Table("id", "kind", "status", "started", "total", "done", "failed", "skipped")
        for j in lib.jobs():
            table.add_row(*(str(j[k]) for k in ("id", "kind", "status", "started_at", "n_total", "n_done", "n_failed", "n_skipped")))
        console.print(table)


def export_cmd(
    fmt: Annotated[str, typer.Option("--format", "-f", help="json (the study's schema) | csv | parquet")] = "json",
    out: Annotated[Path | None, typer.Option("--out", "-o", help="Output file (default: library.<format>).")] = None,
    db: DbOption = None,
) -> None:
    """Export the library: JSON in the study's per-song schema, or CSV/Parquet with one row per track."""
    if fmt not in ("json", "csv", "parquet"):
        fail(f"unknown format {fmt!r}: use json, csv or parquet")
    out = out if out is not None else Path(f"library.{fmt}")
    if out.is_dir():
        fail(f"{out} is a folder: give a file name, e.g. -o {out / ('library.' + fmt)}")
    blocking = next((p for p in out.absolute().parents if p.exists()), None)
    if blocking is not None and not blocking.is_dir():  # mkdir would say only "File exists"
        fail(f"cannot write {out}: {blocking} is a file, not a folder")
    with open_library(db, create=False, write=False) as lib:
        try:
            n = export_library(lib, fmt, out)
        except OSError as exc:
            fail(f"cannot write {out}: {exc.strerror or exc}")
    console.print(f"wrote {n} record(s) to {esc(out)}", highlight=False)


def register(app: typer.Typer) -> None:
    app.command("import")(import_cmd)
    app.command("ls")(ls_cmd)
    app.command("info")(info_cmd)
    app.command("errors")(errors_cmd)
    app.command("jobs")(jobs_cmd)
    app.command("export")(export_cmd)
