"""Collection commands: ``alchemy collect`` (artists -> top songs -> WAV + MP3 in the library) and ``alchemy enrich``."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table

from ..collect import Artist, Sources, collect, enrich
from ..collect.download import DEFAULT_SEARCH
from ..collect.http import CONTACT_ENV, PoliteClient, contact_info
from ..collect.musicbrainz import MUSICBRAINZ_URL
from ..collect.pipeline import ArtistPlan, CollectResult, source_for
from ..collect.toplists import LASTFM_URL, LISTENBRAINZ_URL
from ..library import Library
from .common import (DbOption, console, err_console, exit_if_nothing_done, fail, interrupted, open_library, print_errors,
                     print_json)

MusicBrainzUrl = Annotated[str, typer.Option("--musicbrainz-url", help="MusicBrainz server (a mirror, or a local fake for tests).")]
IntervalOption = Annotated[
    float | None,
    typer.Option("--request-interval", help="Seconds between requests to each service (default: MusicBrainz 1.0, "
                 "ListenBrainz 0.5, Last.fm 0.25). Lower it only for your own mirror.", show_default=False),
]
ContactOption = Annotated[
    str | None,
    typer.Option("--contact", envvar=CONTACT_ENV, help="Email or URL put in the User-Agent so MusicBrainz can reach you.",
                 show_default=False),
]
InteractiveOption = Annotated[bool, typer.Option("--interactive", "-i", help="Ask which artist is meant when a name is ambiguous.")]


def read_artists(values: list[str]) -> list[str]:
    """Artist names from arguments: an existing file contributes one name per line (blank lines and # comments skipped)."""
    names: list[str] = []
    for v in values:
        if os.path.isfile(v):
            for line in Path(v).read_text(encoding="utf-8").splitlines():
                line = line.strip()
                if line and not line.startswith("#"):
                    names.append(line)
        elif v.strip():
            names.append(v.strip())
    seen: set[str] = set()
    return [n for n in names if not (n.casefold() in seen or seen.add(n.casefold()))]


def choose_interactively(query: str, rivals: list[Artist]) -> Artist | None:
    """Prompt on the terminal: list the candidates for an ambiguous name and read a number (0 = skip the artist)."""
    err_console.print(f"[yellow]{len(rivals)} artists are called {query!r}:[/yellow]", highlight=False)
    for i, a in enumerate(rivals, 1):
        err_console.print(f"  {i}. {a.describe()}  [dim]{a.mbid} score {a.score}[/dim]", highlight=False)
    n = typer.prompt("which one? (0 to skip)", default=1, type=int, err=True)
    if n == 0:
        return None
    return rivals[min(max(n, 1), len(rivals)) - 1]


def _print_plan(plans: list[ArtistPlan], search: str, audio: bool) -> None:
    for p in plans:
        a = p.artist
        if a is None:
            console.print(f"[red]✗ {p.query}[/red]: {p.error}", highlight=False)
            continue
        where = ", ".join(x for x in (a.country, a.area if a.area != a.country else None) if x)
        console.print(
            f"[bold]{a.name}[/bold] — {where or 'country unknown'}"
            f"{f', since {a.begin_year}' if a.begin_year else ''}; genre [cyan]{a.genre or 'unknown'}[/cyan]"
            f" [dim]{a.mbid}[/dim]", highlight=False)
        if p.match and p.match.ambiguous:
            console.print(f"  [yellow]ambiguous:[/yellow] {p.match.note}", highlight=False)
        if p.error:
            console.print(f"  [red]✗[/red] {p.error}", highlight=False)
            continue
        table = Table("#", "title", "length", "listens", "source", "status", "would fetch" if audio else "", box=None, pad_edge=False)
        for s in p.songs:
            t = s.track
            merged = f" [dim](+{len(t.merged)} version{'s' if len(t.merged) > 1 else ''} merged)[/dim]" if t.merged else ""
            table.add_row(str(t.rank), t.title + merged, f"{t.length:.0f} s" if t.length else "?",
                          f"{t.listens:,}" if t.listens is not None else "", t.source,
                          "[green]done[/green]" if s.status == "done" else s.status,
                          source_for(s, search) if audio and s.status != "done" else "")
        console.print(table)


def collect_cmd(
    artists: Annotated[list[str] | None, typer.Option("--artists", "-a", help="An artist name or a file with one name per line (repeatable).", show_default=False)] = None,
    more: Annotated[list[str] | None, typer.Argument(help="More artist names or files.", show_default=False)] = None,
    top: Annotated[int, typer.Option("--top", min=1, max=100, help="Songs per artist.")] = 5,
    audio: Annotated[bool, typer.Option("--audio/--no-audio", help="Download audio (WAV + MP3), or only record metadata.")] = True,
    dry_run: Annotated[bool, typer.Option("--dry-run", help="Show what would be fetched; write nothing, download nothing.")] = False,
    interactive: InteractiveOption = False,
    lastfm_key: Annotated[str | None, typer.Option("--lastfm-key", envvar="LASTFM_API_KEY", help="Use Last.fm artist.getTopTracks with this API key.", show_default=False)] = None,
    listenbrainz_token: Annotated[str | None, typer.Option("--listenbrainz-token", envvar="LISTENBRAINZ_TOKEN", help="ListenBrainz user token, if the server asks for one.", show_default=False)] = None,
    musicbrainz_url: MusicBrainzUrl = MUSICBRAINZ_URL,
    listenbrainz_url: Annotated[str, typer.Option("--listenbrainz-url", help="ListenBrainz API server.")] = LISTENBRAINZ_URL,
    lastfm_url: Annotated[str, typer.Option("--lastfm-url", help="Last.fm API endpoint.")] = LASTFM_URL,
    audio_source: Annotated[str, typer.Option("--audio-source", help="yt-dlp input per song: a search like 'ytsearch3:{artist} - {title}' or a URL template with {artist} {title} {recording_mbid}.")] = DEFAULT_SEARCH,
    out: Annotated[Path | None, typer.Option("--out", help="Folder for the WAV/MP3 files (default: <folder of the library database>/collection).", show_default=False)] = None,
    workers: Annotated[int, typer.Option("--workers", "-w", min=0, help="Parallel downloads (0 = in this process).")] = 1,
    request_interval: IntervalOption = None,
    contact: ContactOption = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print the plan and outcome as JSON.")] = False,
    db: DbOption = None,
) -> None:
    """Collect artists' top songs: MusicBrainz metadata (genre, country), ListenBrainz/Last.fm top list, audio as WAV + MP3.

    Polite (1 request/s to MusicBrainz, cached responses, retries) and resumable: re-running skips what is done.
    Downloading may be restricted by a site's terms; it is your responsibility (see docs/collect.md).
    """
    names = read_artists(list(artists or []) + list(more or []))
    if not names:
        fail("give artists: --artists NAME or --artists FILE (one name per line)")
    if musicbrainz_url == MUSICBRAINZ_URL and not contact_info(contact):
        err_console.print(f"[yellow]note:[/yellow] set --contact or ${CONTACT_ENV} (your email or URL): MusicBrainz asks "
                          "clients to identify themselves.", highlight=False)
    lib: Library | None = None
    db_path = Path(db) if db else None
    try:
        if dry_run:
            from .. import config

            path = db_path or config.default_db_path()
            lib = Library.open(path, readonly=True) if path.exists() else None
            home = path.parent
        else:
            lib = Library.open(db_path)
            home = lib.home
    except Exception as exc:  # noqa: BLE001
        fail(f"cannot open library {db or ''}: {exc}")
    iv = {} if request_interval is None else {"musicbrainz_interval": request_interval, "listenbrainz_interval": request_interval,
                                             "lastfm_interval": request_interval}
    client = PoliteClient(cache_dir=home / "cache" / "http", contact=contact)
    sources = Sources.create(client=client, musicbrainz_url=musicbrainz_url, listenbrainz_url=listenbrainz_url,
                             lastfm_key=lastfm_key, lastfm_url=lastfm_url, listenbrainz_token=listenbrainz_token, **iv)
    try:
        result = collect(lib, names, top=top, audio=audio, dry_run=dry_run, sources=sources,
                         choose=choose_interactively if interactive else None, out_dir=out, search=audio_source,
                         workers=workers, progress=not as_json, on_plan=None if as_json else (lambda p: _print_plan(p, audio_source, audio)))
    except KeyboardInterrupt:
        interrupted()
    finally:
        if lib is not None:
            lib.close()
    _report(result, dry_run, audio, as_json, len(client.request_log))


def _report(r: CollectResult, dry_run: bool, audio: bool, as_json: bool, n_requests: int) -> None:
    """Print the outcome; exit 1 when something failed and nothing was (or would be) collected."""
    songs = [s for p in r.plans for s in p.songs]
    todo = sum(s.status != "done" for s in songs)
    if as_json:
        print_json({**r.to_dict(), "dry_run": dry_run, "requests": n_requests})
    elif dry_run:
        what = "download" if audio else "record"
        console.print(f"dry run: would {what} [bold]{todo}[/bold] song(s) of {sum(p.artist is not None for p in r.plans)} "
                      f"artist(s); {len(songs) - todo} already collected; [{'red' if r.failed else 'green'}]"
                      f"{r.failed} failed[/]; {n_requests} metadata request(s) made (rest cached).")
    else:
        console.print(
            f"collected [bold]{r.downloaded}[/bold] song(s); {r.skipped} already done; "
            f"[{'red' if r.failed else 'green'}]{r.failed} failed[/]; {n_requests} metadata request(s) "
            "(audio downloads not counted)."
        )
        shown = {f"{p.query}: {p.error}" for p in r.plans if p.error}  # the plan above printed these already
        print_errors([e for e in r.errors if e not in shown])
    exit_if_nothing_done(r.failed, todo if dry_run or not audio else r.downloaded, r.skipped)


def enrich_cmd(
    db: DbOption = None,
    overwrite: Annotated[bool, typer.Option("--overwrite", help="Replace genre/country already set (default: fill only empty ones).")] = False,
    interactive: InteractiveOption = False,
    musicbrainz_url: MusicBrainzUrl = MUSICBRAINZ_URL,
    request_interval: Annotated[float | None, typer.Option(
        "--request-interval", help="Seconds between MusicBrainz requests (default 1.0). Lower it only for your own "
        "mirror.", show_default=False)] = None,
    contact: ContactOption = None,
) -> None:
    """Fill artist genre and country of tracks already in the library from MusicBrainz (no download)."""
    with open_library(db, create=False) as lib:
        client = PoliteClient(cache_dir=lib.home / "cache" / "http", contact=contact)
        kw = {} if request_interval is None else {"musicbrainz_interval": request_interval}
        sources = Sources.create(client=client, musicbrainz_url=musicbrainz_url, listenbrainz_url=None, **kw)

        def show(name: str, artist: Artist | None, note: str) -> None:
            if artist is None:
                console.print(f"[red]✗[/red] {name}: {note}", highlight=False)
            else:
                console.print(f"{name} → {artist.describe()}: genre [cyan]{artist.genre or '?'}[/cyan], "
                              f"country [cyan]{artist.country or '?'}[/cyan]", highlight=False)

        try:
            s = enrich(lib, sources=sources, overwrite=overwrite, choose=choose_interactively if interactive else None, on_artist=show)
        except KeyboardInterrupt:
            interrupted()
        console.print(f"enriched [bold]{s.updated}[/bold] track(s) from {s.artists} artist(s); {s.not_found} artist(s) not found; "
                      f"[{'red' if s.errors else 'green'}]{len(s.errors)} error(s)[/]; {len(client.request_log)} web request(s).")
        for line in s.errors[:10]:
            err_console.print(f"  [red]✗[/red] {line}", highlight=False)


def register(app: typer.Typer) -> None:
    app.command("collect")(collect_cmd)
    app.command("enrich")(enrich_cmd)
