"""The whole collector against the local fake services: library rows, resume (also after a kill), failures, CLI, enrich."""

from __future__ import annotations

import os
import signal
import sqlite3
import subprocess
import sys
import time

import pytest
from typer.testing import CliRunner

from audio_alchemy.cli.main import app
from audio_alchemy.collect import PoliteClient, Sources, collect, enrich
from audio_alchemy.collect.fakeserver import FakeServer
from audio_alchemy.collect.pipeline import song_states
from audio_alchemy.io import save
from audio_alchemy.library import Library, import_paths

FAST = {"musicbrainz_interval": 0.0, "listenbrainz_interval": 0.0}


@pytest.fixture()
def server():
    with FakeServer() as srv:
        yield srv


def _sources(server, cache):
    return Sources.create(client=PoliteClient(cache_dir=cache), musicbrainz_url=server.url, listenbrainz_url=server.url, **FAST)


def test_full_run_fills_library_and_rerun_skips_everything(server, tmp_path):
    lib = Library.open(tmp_path / "lib" / "library.sqlite")
    src = _sources(server, tmp_path / "cache")
    r = collect(lib, ["Queen", "Björk", "The Silent Ones"], top=3, sources=src, search=server.audio_template, workers=0)
    assert (r.downloaded, r.skipped, r.failed) == (5, 0, 1)
    songs = lib.tracks(track_type=0)
    assert [(t.artist, t.title, t.genre, t.country, t.extra["collect_rank"]) for t in songs] == [
        ("Queen", "Bohemian Rhapsody", "rock", "GB", 1), ("Queen", "Don't Stop Me Now", "rock", "GB", 2),
        ("Queen", "Under Pressure", "rock", "GB", 3), ("Björk", "Jóga", "art pop", "IS", 1), ("Björk", "Army of Me", "art pop", "IS", 2),
    ]
    t = songs[0]
    assert t.extra["area"] == "United Kingdom" and t.extra["artist_begin_year"] == 1970 and t.extra["top_source"] == "listenbrainz"
    for s in songs:
        files = lib.files(s.id)
        assert sorted(f.format for f in files) == ["mp3", "wav"] and all(os.path.exists(f.fs_path) for f in files)
    assert any("Björk - Jóga.wav" in f.path for f in lib.files(songs[3].id))
    errs = lib.errors("collect")
    assert [(e["item"], e["kind"]) for e in errs] == [("artist:The Silent Ones", "no_recordings")]

    n_req = len(server.log)
    src2 = _sources(server, tmp_path / "cache")
    r2 = collect(lib, ["Queen", "Björk"], top=3, sources=src2, search=server.audio_template, workers=0)
    assert (r2.downloaded, r2.skipped, r2.failed) == (0, 5, 0)
    assert len(server.log) == n_req  # metadata from the cache, no audio fetched
    assert lib.count_tracks(0) == 5
    lib.close()


def test_collect_is_not_refused_while_an_import_of_other_folders_runs(server, tmp_path):
    """Collect imports only its own fresh downloads: a long `alchemy import` holding the library's import lock must
    not make it download every song and then fail it."""
    lib = Library.open(tmp_path / "lib" / "library.sqlite")
    with lib.exclusive("import"):  # what a running `alchemy import` holds
        r = collect(lib, ["Queen"], top=2, sources=_sources(server, tmp_path / "cache"), search=server.audio_template,
                    workers=0)
    assert (r.downloaded, r.failed) == (2, 0), r.errors
    lib.close()


def test_dry_run_writes_nothing_and_no_audio_records_plan(server, tmp_path):
    lib = Library.open(tmp_path / "library.sqlite")
    r = collect(lib, ["Queen"], top=2, dry_run=True, sources=_sources(server, tmp_path / "c"), search=server.audio_template)
    assert [s.track.title for s in r.plans[0].songs] == ["Bohemian Rhapsody", "Don't Stop Me Now"]
    assert lib.count_tracks() == 0 and lib.jobs() == [] and song_states(lib) == {}
    assert not server.requests("/audio")
    r = collect(lib, ["Queen"], top=2, audio=False, sources=_sources(server, tmp_path / "c"))
    assert sorted(s for s, _ in song_states(lib).values()) == ["todo", "todo"] and lib.count_tracks() == 0
    lib.close()


def test_failed_download_is_recorded_and_retried_next_run(server, tmp_path):
    lib = Library.open(tmp_path / "library.sqlite")
    bad = server.url + "/audio/{artist}/{title}-missing.wav"
    r = collect(lib, ["Queen"], top=2, sources=_sources(server, tmp_path / "c"), search=bad, workers=0)
    assert r.failed == 2 and r.downloaded == 0
    assert {e["item"] for e in lib.errors("collect")} == {"Queen – Bohemian Rhapsody", "Queen – Don't Stop Me Now"}
    r = collect(lib, ["Queen"], top=2, sources=_sources(server, tmp_path / "c"), search=server.audio_template, workers=0)
    assert r.downloaded == 2 and lib.errors("collect") == []
    lib.close()


def test_resume_after_kill_completes_without_duplicates(server, tmp_path):
    db = tmp_path / "lib" / "library.sqlite"
    server.audio_delay = 0.3
    cmd = [sys.executable, "-m", "audio_alchemy.cli.main", "collect", "--artists", "Queen", "--top", "4", "--db", str(db),
           "--musicbrainz-url", server.url, "--listenbrainz-url", server.url, "--audio-source", server.audio_template,
           "--request-interval", "0", "--workers", "0"]
    env = {**os.environ, "AUDIO_ALCHEMY_HOME": str(tmp_path / "home"), "AUDIO_ALCHEMY_CONTACT": "test@example.org"}
    proc = subprocess.Popen(cmd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    deadline = time.monotonic() + 60
    done = 0
    while time.monotonic() < deadline and proc.poll() is None:
        try:
            with sqlite3.connect(f"file:{db}?mode=ro", uri=True, timeout=5) as c:
                done = c.execute("SELECT count(*) FROM collect_songs WHERE status = 'done'").fetchone()[0]
        except sqlite3.OperationalError:
            done = 0
        if done >= 1:
            break
        time.sleep(0.05)
    assert proc.poll() is None, f"finished before it could be killed: {proc.stderr.read().decode()[-500:]}"
    proc.send_signal(signal.SIGKILL)
    proc.wait(10)
    server.audio_delay = 0.0
    with Library.open(db) as lib:
        assert 1 <= lib.count_tracks(0) < 4
        before = len(server.requests("/audio"))
        r = collect(lib, ["Queen"], top=4, sources=_sources(server, db.parent / "cache" / "http"), search=server.audio_template,
                    workers=0)
        assert r.skipped >= 1 and r.downloaded + r.skipped == 4 and r.failed == 0
        titles = [t.title for t in lib.tracks(track_type=0)]
        assert len(titles) == 4 == len(set(titles))
        assert len(server.requests("/audio")) - before <= 2 * r.downloaded  # only unfinished songs (yt-dlp asks twice each)
        assert all(s == "done" for s, _ in song_states(lib).values())
        assert len({f.path for t in lib.tracks() for f in lib.files(t.id)}) == 8


def test_cli_dry_run_prints_plan_and_full_run_fills_library(server, tmp_path, monkeypatch):
    monkeypatch.setenv("AUDIO_ALCHEMY_HOME", str(tmp_path / "home"))
    monkeypatch.setenv("AUDIO_ALCHEMY_CONTACT", "test@example.org")
    db = tmp_path / "home" / "library.sqlite"
    args = ["collect", "--artists", "Queen", "--musicbrainz-url", server.url, "--listenbrainz-url", server.url,
            "--audio-source", server.audio_template, "--request-interval", "0", "--workers", "0", "--top", "2"]
    runner = CliRunner()
    res = runner.invoke(app, [*args, "--dry-run"])
    assert res.exit_code == 0, res.output
    assert "Queen" in res.output and "Bohemian Rhapsody" in res.output and "rock" in res.output and "GB" in res.output
    assert "dry run: would download 2 song(s)" in res.output
    assert not db.exists()
    res = runner.invoke(app, args)
    assert res.exit_code == 0, res.output
    assert "collected 2 song(s)" in res.output
    with Library.open(db) as lib:
        assert [(t.title, t.genre, t.country) for t in lib.tracks(0)] == [("Bohemian Rhapsody", "rock", "GB"), ("Don't Stop Me Now", "rock", "GB")]
    res = runner.invoke(app, [*args, "--dry-run"])
    assert "0 song(s)" in res.output and "2 already collected" in res.output
    offline = [a if a != server.url else "http://127.0.0.1:9" for a in args]  # nothing listens there
    for extra in (["--dry-run"], ["--dry-run", "--json"], []):
        res = runner.invoke(app, [*offline[:2], "Nobody Known", *offline[3:], *extra])
        text = " ".join(res.output.split())
        assert res.exit_code == 1 and ("1 failed" in text or '"failed": 1' in text), (extra, res.output)
        if "--json" not in extra:
            assert text.count("Nobody Known:") == 1, res.output  # the plan names the failed artist; the summary does not repeat it


def test_enrich_fills_genre_and_country_of_existing_tracks(server, tmp_path):
    import numpy as np

    folder = tmp_path / "music"
    rng = np.random.default_rng(0)
    for name in ("Nirvana - Come as You Are", "Björk - Jóga", "Unknown Band - Song"):
        save(folder / f"{name}.wav", 0.1 * rng.standard_normal((1, 22050)).astype("float32"), 22050)
    lib = Library.open(tmp_path / "library.sqlite")
    import_paths(lib, [folder], workers=0, progress=False)
    s = enrich(lib, sources=_sources(server, tmp_path / "c"))
    assert (s.artists, s.updated, s.not_found) == (3, 2, 1)
    got = {t.artist: (t.genre, t.country, t.extra.get("artist_mbid")) for t in lib.tracks(0)}
    assert got["Nirvana"][:2] == ("grunge", "US") and got["Björk"][:2] == ("art pop", "IS")
    assert got["Unknown Band"] == (None, None, None)
    assert [e["item"] for e in lib.errors("enrich")] == ["artist:Unknown Band"]
    assert enrich(lib, sources=_sources(server, tmp_path / "c")).artists == 1  # only the one still missing
    lib.close()


def test_cli_interactive_choice_and_enrich_command(server, tmp_path, monkeypatch):
    monkeypatch.setenv("AUDIO_ALCHEMY_HOME", str(tmp_path / "home"))
    monkeypatch.setenv("AUDIO_ALCHEMY_CONTACT", "test@example.org")
    common = ["--musicbrainz-url", server.url, "--request-interval", "0"]
    runner = CliRunner()
    res = runner.invoke(app, ["collect", "--artists", "Nirvana", "--dry-run", "--interactive", "--listenbrainz-url", server.url,
                              *common], input="2\n")
    assert res.exit_code == 0, res.output
    assert "2 artists are called 'Nirvana'" in res.output and "Rainbow Chaser" in res.output  # the UK band's song
    assert "chosen interactively" in res.output

    import numpy as np

    save(tmp_path / "in" / "Björk - Army of Me.wav", 0.1 * np.random.default_rng(1).standard_normal((1, 22050)).astype("float32"), 22050)
    db = tmp_path / "home" / "library.sqlite"
    assert runner.invoke(app, ["import", str(tmp_path / "in"), "--db", str(db), "--workers", "0"]).exit_code == 0
    res = runner.invoke(app, ["enrich", "--db", str(db), *common])
    assert res.exit_code == 0, res.output
    assert "enriched 1 track(s)" in res.output and "art pop" in res.output
