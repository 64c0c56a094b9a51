"""The library commands end to end through the real ``alchemy`` entry point."""

from __future__ import annotations

import json
import os

import jsonschema
import pytest
import numpy as np
from typer.testing import CliRunner

from audio_alchemy import io
from audio_alchemy.cli.main import app
from audio_alchemy.library.export import study_schema
from conftest import music

runner = CliRunner()


def test_import_ls_info_errors_export(tmp_path):
    src = tmp_path / "music"
    io.save(src / "Alpha Band - First Song.wav", music(3.0, 22050, seed=1), 22050)
    io.save(src / "Alpha Band - First Song.mp3", music(3.0, 22050, seed=1), 22050)
    io.save(src / "Beta - Second.flac", music(3.0, 22050, seed=2), 22050)
    (src / "broken.ogg").write_bytes(b"OggS" + bytes(100))
    db = str(tmp_path / "lib.sqlite")

    r = runner.invoke(app, ["import", str(src), "--db", db, "--workers", "0"])
    assert r.exit_code == 0, r.output
    assert "2 new track(s)" in r.output and "1 error(s)" in r.output

    r = runner.invoke(app, ["ls", "--db", db, "--json"])
    rows = [json.loads(line) for line in r.output.splitlines()]
    assert sorted(x["artist"] for x in rows) == ["Alpha Band", "Beta"]

    r = runner.invoke(app, ["info", "First Song", "--db", db, "--json"])
    info = json.loads(r.output)
    assert {f["format"] for f in info["files"]} == {"wav", "mp3"}

    r = runner.invoke(app, ["info", "no such song", "--db", db])
    assert r.exit_code == 1 and "no track matches" in r.output

    r = runner.invoke(app, ["errors", "--db", db, "--json"])
    errs = [json.loads(line) for line in r.output.splitlines()]
    assert len(errs) == 1 and errs[0]["item"].endswith("broken.ogg") and "broken.ogg" in errs[0]["message"]

    out = tmp_path / "lib.json"
    r = runner.invoke(app, ["export", "--db", db, "-f", "json", "-o", str(out)])
    assert r.exit_code == 0, r.output
    records = json.loads(out.read_text())
    jsonschema.validate(records, study_schema())
    mix = next(x for x in records if x["Data"]["Song Title"] == "First Song")
    assert mix["AudioFile"]["wav_link"].endswith(".wav") and mix["AudioFile"]["mp3_link"].endswith(".mp3")

    r = runner.invoke(app, ["export", "--db", db, "-f", "xml", "-o", str(out)])
    assert r.exit_code == 1 and "unknown format" in r.output


def test_version_and_help():
    assert "audio-alchemy" in runner.invoke(app, ["--version"]).output
    r = runner.invoke(app, ["--help"])
    for cmd in ("import", "ls", "info", "errors", "export", "demo"):
        assert cmd in r.output


def test_awkward_names_titles_and_missing_files(tmp_path):
    """Non-UTF-8 names, rich-markup-like titles and vanished files: every command still answers, errors name files."""
    import os
    import shutil

    src = tmp_path / "music"
    io.save(src / "Song [remix].wav", music(2.0, 22050, seed=3), 22050)
    io.save(src / "Love.wav", music(2.0, 22050, seed=4), 22050)
    io.save(src / "Love Song.wav", music(2.0, 22050, seed=5), 22050)
    io.save(src / "100 Percent.wav", music(2.0, 22050, seed=6), 22050)
    io.save(tmp_path / "tmp.wav", music(2.0, 22050, seed=7), 22050)
    shutil.move(str(tmp_path / "tmp.wav"), os.fsencode(str(src)) + b"/bad\xff\xfename.wav")
    io.save(src / "gone.wav", music(2.0, 22050, seed=8), 22050)
    db = str(tmp_path / "lib.sqlite")
    assert runner.invoke(app, ["import", str(src), "--db", db, "--workers", "0"]).exit_code == 0
    os.remove(src / "gone.wav")

    r = runner.invoke(app, ["ls", "--db", db])
    assert r.exit_code == 0 and "Song [remix]" in r.output, r.output
    r = runner.invoke(app, ["ls", "--db", db, "--json"])
    rows = [json.loads(line) for line in r.stdout_bytes.decode("utf-8").splitlines()]  # strict UTF-8, even so
    assert os.fsencode(src) + b"/bad\xff\xfename.wav" in {os.fsencode(row["path"]) for row in rows if row["path"]}
    r = runner.invoke(app, ["info", "remix", "--db", db])
    assert r.exit_code == 0 and "Song [remix].wav" in r.output.replace("\n", ""), r.output
    assert runner.invoke(app, ["info", "Love", "--db", db, "--json"]).exit_code == 0  # exact title beats "Love Song"
    r = runner.invoke(app, ["info", "100%", "--db", db, "--json"])
    assert r.exit_code == 1 and "no track matches" in r.output  # % is literal, not a wildcard
    r = runner.invoke(app, ["info", "love s", "--db", db, "--json"])
    assert json.loads(r.output)["title"] == "Love Song"

    r = runner.invoke(app, ["features", "--db", db, "--workers", "0"])
    assert r.exit_code == 0, r.output
    assert "5 computed" in r.output and "1 error(s)" in r.output.replace("\n", " "), r.output
    r = runner.invoke(app, ["errors", "--db", db, "--stage", "features", "--json"])
    errs = [json.loads(line) for line in r.output.splitlines()]
    assert [e["kind"] for e in errs] == ["missing_file"] and errs[0]["item"].endswith("gone.wav")
    r = runner.invoke(app, ["jobs", "--db", db, "--json"])
    job = json.loads(r.output.splitlines()[0])
    assert (job["status"], job["n_done"], job["n_failed"]) == ("done", 5, 1), job

    for fmt in ("csv", "parquet", "json"):
        out = tmp_path / f"lib.{fmt}"
        r = runner.invoke(app, ["export", "--db", db, "-f", fmt, "-o", str(out)])
        assert r.exit_code == 0 and out.stat().st_size > 0, r.output
    assert "bad\\xff\\xfename.wav" in (tmp_path / "lib.csv").read_text()
    r = runner.invoke(app, ["export", "--db", db, "-f", "csv", "-o", str(tmp_path)])
    assert r.exit_code == 1 and "is a folder" in " ".join(r.output.split())


def test_file_changed_after_import_is_not_used_until_reimported(tmp_path):
    """A file shortened after import no longer holds the track's audio: batches record a changed_file error
    naming it instead of computing on it; importing it again makes it usable."""
    src = tmp_path / "music"
    io.save(src / "a.wav", music(3.0, 22050, seed=1), 22050)
    io.save(src / "b.wav", music(3.0, 22050, seed=2), 22050)
    db = str(tmp_path / "lib.sqlite")
    assert runner.invoke(app, ["import", str(src), "--db", db, "--workers", "0"]).exit_code == 0
    io.save(src / "b.wav", music(3.0, 22050, seed=2)[:, :22050], 22050)  # now 1 s long

    r = runner.invoke(app, ["features", "--db", db, "--workers", "0"])
    assert r.exit_code == 0 and "1 computed" in r.output, r.output
    errs = [json.loads(x) for x in runner.invoke(app, ["errors", "--db", db, "--json"]).output.splitlines()]
    assert [e["kind"] for e in errs] == ["changed_file"], errs
    assert errs[0]["item"].endswith("b.wav") and "changed since import" in errs[0]["message"], errs

    assert runner.invoke(app, ["import", str(src), "--db", db, "--workers", "0"]).exit_code == 0
    r = runner.invoke(app, ["features", "--db", db, "--workers", "0"])
    assert r.exit_code == 0 and "1 computed" in r.output, r.output
    rows = [json.loads(x) for x in runner.invoke(app, ["ls", "--db", db, "--json"]).output.splitlines()]
    assert sorted(round(t["duration"], 2) for t in rows) == [1.0, 3.0], rows


def test_bad_options_are_one_line_errors(tmp_path):
    """Wrong values are refused with a message, not a traceback or a silent default."""
    import socket

    db = str(tmp_path / "lib.sqlite")
    cases = [
        (["features", "--db", db, "--scheduler", "bogus"], "use local, dask"),
        (["separate", "--db", db, "--device", "tpu"], "unknown device"),
        (["recommend", "--db", db, "-n", "0"], "-n"),
        (["convert", "a.wav", "b.mp3", "--bitrate", "7"], "--bitrate"),
        (["eval", "separation", "--stems", str(tmp_path)], "no track folders"),
        (["export", "--db", db, "-o", str(tmp_path)], "is a folder"),
    ]
    for args, expected in cases:
        r = runner.invoke(app, args)
        assert r.exit_code != 0 and expected in " ".join(r.output.split()), (args, r.output)
        assert "Traceback" not in r.output
    r = runner.invoke(app, ["serve", "--db", db])
    assert r.exit_code == 1 and "no library at" in " ".join(r.output.split()), r.output
    from audio_alchemy.library import Library

    Library.open(db).close()
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        r = runner.invoke(app, ["serve", "--db", db, "--port", str(busy.getsockname()[1])])
        assert r.exit_code == 1 and "cannot serve" in r.output and "player:" not in r.output


def test_db_option_never_creates_or_adopts_a_foreign_database(tmp_path, monkeypatch):
    """Read-only commands refuse a missing library instead of creating one; another application's SQLite file is
    refused, not given our tables; a relative --db stores absolute stem paths, usable from any folder."""
    import sqlite3

    other = tmp_path / "other.sqlite"
    with sqlite3.connect(other) as c:
        c.execute("CREATE TABLE customers (id)")
    r = runner.invoke(app, ["ls", "--db", str(other)])
    assert r.exit_code == 1 and "not an Audio Alchemy library" in " ".join(r.output.split()), r.output
    with sqlite3.connect(other) as c:
        assert [x[0] for x in c.execute("SELECT name FROM sqlite_master WHERE type='table'")] == ["customers"]
    for cmd in (["ls"], ["errors"], ["jobs"], ["info", "x"], ["export", "-f", "csv", "-o", str(tmp_path / "x.csv")]):
        r = runner.invoke(app, [*cmd, "--db", str(tmp_path / "typo" / "lib.sqlit")])
        assert r.exit_code == 1 and "no library at" in " ".join(r.output.split()), (cmd, r.output)
    assert not (tmp_path / "typo").exists()
    r = runner.invoke(app, ["import", str(tmp_path / "Muisc"), "--db", str(tmp_path / "new" / "lib.sqlite")])
    assert r.exit_code == 1 and "nothing to import" in r.output and not (tmp_path / "new").exists(), r.output

    io.save(tmp_path / "music" / "a.wav", music(2.0, 22050, seed=1), 22050)
    monkeypatch.chdir(tmp_path)
    assert runner.invoke(app, ["import", "music", "--db", "rel/lib.sqlite", "-w", "0"]).exit_code == 0
    assert runner.invoke(app, ["separate", "--model", "offline", "--db", "rel/lib.sqlite", "-w", "0"]).exit_code == 0
    monkeypatch.chdir("/")
    rows = [json.loads(x) for x in runner.invoke(app, ["ls", "--stems", "--json", "--db",
                                                       str(tmp_path / "rel" / "lib.sqlite")]).output.splitlines()]
    assert len(rows) == 3 and all(r["path"] and os.path.isabs(r["path"]) and os.path.exists(r["path"]) for r in rows)


def test_file_edited_in_place_with_the_same_size_counts_as_changed(tmp_path):
    """Same size, other audio (a rewritten file): its modification time gives it away."""
    import os

    p = io.save(tmp_path / "music" / "a.wav", music(2.0, 22050, seed=1), 22050)
    db = str(tmp_path / "lib.sqlite")
    assert runner.invoke(app, ["import", str(p.parent), "--db", db, "-w", "0"]).exit_code == 0
    st = os.stat(p)
    io.save(p, np.zeros((2, 44100), np.float32), 22050)
    os.utime(p, (st.st_atime, st.st_mtime + 5))
    assert os.stat(p).st_size == st.st_size
    r = runner.invoke(app, ["features", "--db", db, "-w", "0"])
    assert r.exit_code == 1 and "0 computed" in r.output, r.output  # nothing could be done: scripts notice
    assert "changed since import" in runner.invoke(app, ["errors", "--db", db]).output


def test_foreign_databases_mistyped_paths_and_stale_read_only_copies(tmp_path, monkeypatch):
    """Another application's SQLite file is refused whatever its user_version; commands that work on an existing
    library refuse a path that holds none; a library read from a folder we cannot write is refused while its -wal
    file holds changes the read would miss, and read as it is otherwise."""
    import sqlite3

    from audio_alchemy.library import db as dbmod

    for version in (1, 2, 3):
        other = tmp_path / f"other{version}.sqlite"
        with sqlite3.connect(other) as c:
            c.execute("CREATE TABLE settings (k, v)")
            c.execute(f"PRAGMA user_version = {version}")
        for cmd in (["ls"], ["import", str(tmp_path)]):
            r = runner.invoke(app, [*cmd, "--db", str(other)])
            assert r.exit_code == 1 and "not an Audio Alchemy library" in " ".join(r.output.split()), (version, r.output)

    typo = tmp_path / "typo" / "lib.sqlite"
    for cmd in (["separate", "--model", "offline"], ["features"], ["recommend", "--user", "x"], ["similar", "1"]):
        r = runner.invoke(app, [*cmd, "--db", str(typo)])
        assert r.exit_code == 1 and "no library at" in " ".join(r.output.split()), (cmd, r.output)
    assert not typo.parent.exists()
    empty = tmp_path / "empty.sqlite"  # `touch`ed: SQLite would happily turn it into a library
    empty.touch()
    for cmd in (["ls"], ["features"], ["rate", "1", "--scale", "5", "--score", "4"], ["serve"]):
        r = runner.invoke(app, [*cmd, "--db", str(empty)])
        assert r.exit_code == 1 and "the file is empty" in " ".join(r.output.split()), (cmd, r.output)
    assert empty.stat().st_size == 0

    io.save(tmp_path / "music" / "a.wav", music(2.0, 22050, seed=1), 22050)
    lib_db = tmp_path / "lib" / "lib.sqlite"
    assert runner.invoke(app, ["import", str(tmp_path / "music"), "--db", str(lib_db), "-w", "0"]).exit_code == 0
    writer = sqlite3.connect(lib_db)  # an open connection keeps a committed write in the -wal file
    writer.execute("PRAGMA wal_autocheckpoint = 0")
    writer.execute("UPDATE tracks SET title = 'fresh'")
    writer.commit()
    real_access = os.access
    monkeypatch.setattr(dbmod.os, "access", lambda p, mode: False if str(p) == str(lib_db.parent) and mode == os.W_OK
                        else real_access(p, mode))
    from audio_alchemy.library import Library

    with pytest.raises(sqlite3.OperationalError, match="-wal holds changes"):
        Library.open(lib_db, readonly=True)
    writer.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    writer.close()
    with Library.open(lib_db, readonly=True) as lib:
        assert [t.title for t in lib.tracks()] == ["fresh"]


def test_ctrl_c_while_the_command_line_loads_prints_no_traceback(tmp_path):
    """The installed ``alchemy`` script: a SIGINT at any moment of start-up ends it with a line, not a traceback."""
    import shutil
    import signal
    import subprocess
    import sys
    import time
    from pathlib import Path

    exe = Path(sys.executable).with_name("alchemy")
    exe = str(exe) if exe.exists() else shutil.which("alchemy")
    if exe is None:
        pytest.skip("the `alchemy` script is not installed (pip install -e .)")
    for delay in (0.05, 0.08, 0.11, 0.14, 0.17, 0.2, 0.25):
        p = subprocess.Popen([exe, "ls", "--db", str(tmp_path / "none.sqlite")], stderr=subprocess.PIPE, text=True,
                             stdout=subprocess.DEVNULL)
        time.sleep(delay)
        p.send_signal(signal.SIGINT)
        _, err = p.communicate(timeout=60)
        # the window this covers: loading our command modules, Typer and click (the interpreter's own start-up,
        # before any of our code, can still be hit on a loaded machine: such a traceback names none of them)
        ours = any(k in err for k in ("audio_alchemy", "typer", "click"))
        assert not ("Traceback" in err and ours), f"SIGINT after {delay} s:\n{err}"
