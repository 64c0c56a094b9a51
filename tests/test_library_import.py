"""Importing: dedupe by content, idempotence, and every bad input from the issue gets its error row."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from audio_alchemy import io
from audio_alchemy.library import Library, import_paths
from conftest import music, tone


def _lib(tmp_path: Path) -> Library:
    return Library.open(tmp_path / "lib.sqlite")


def test_schema_pragmas_and_version(tmp_path):
    with _lib(tmp_path) as lib:
        assert lib.conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
        assert lib.conn.execute("PRAGMA foreign_keys").fetchone()[0] == 1
        from audio_alchemy.library.schema import SCHEMA_VERSION

        assert lib.conn.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION
        assert lib.integrity_ok()
    with _lib(tmp_path) as lib:  # reopening does not re-migrate
        assert lib.stats()["songs"] == 0


def test_migration_from_version_1(tmp_path):
    """A database made by schema version 1 is upgraded in place, keeping its rows."""
    import sqlite3

    from audio_alchemy.library.schema import MIGRATIONS, SCHEMA_VERSION

    db = tmp_path / "old.sqlite"
    conn = sqlite3.connect(db)
    conn.executescript(MIGRATIONS[0] + "; PRAGMA user_version = 1;")
    conn.execute("INSERT INTO jobs (kind) VALUES ('import')")
    conn.commit()
    conn.close()
    with Library.open(db) as lib:
        assert lib.conn.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION
        assert lib.jobs()[0]["kind"] == "import"
        lib.start_job("features")
        assert lib.jobs()[1]["status"] == "interrupted"  # no driver process recorded: it is gone


def test_same_song_two_formats_two_paths_is_one_track(tmp_path):
    src = tmp_path / "src"
    a, b = music(6.0, 44100, seed=10), music(6.0, 44100, seed=11)
    io.save(src / "a.wav", a, 44100)
    io.save(src / "a.mp3", a, 44100)
    io.save(src / "sub" / "a-copy.wav", a, 44100)
    io.save(src / "b.flac", b, 44100)
    with _lib(tmp_path) as lib:
        s = import_paths(lib, [src], workers=0, progress=False)
        assert s.failed == 0 and s.new_files == 4
        assert lib.count_tracks(0) == 2
        counts = sorted(len(lib.files(t.id)) for t in lib.tracks())
        assert counts == [1, 3]
        # importing again (twice over) changes nothing
        s2 = import_paths(lib, [src, src], workers=0, progress=False)
        assert s2.new_files == 0 and s2.unchanged == 4 and lib.count_tracks(0) == 2


def test_file_replaced_in_place_leaves_no_orphan(tmp_path):
    """A path whose content became another song: the new song takes the path, the old song (no file left, nobody's
    rating) is removed with its derived rows; a rated one is kept."""
    src = tmp_path / "src"
    with _lib(tmp_path) as lib:
        for rated in (False, True):
            io.save(src / "a.wav", music(4.0, 22050, seed=20 + 2 * rated), 22050)
            import_paths(lib, [src], workers=0, progress=False)
            old = lib.resolve(str(src / "a.wav"))
            lib.put_features(old.id, "seed", "1", {"tempo": 120.0})
            stem = lib.derived_dir("stems", "x") / f"{old.id}.vocals.flac"  # files the library made for it
            io.save(stem, music(1.0, 22050, seed=1), 22050)
            image = lib.derived_dir("images") / f"{old.id}.png"
            image.write_bytes(b"png")
            stem_id = lib.add_stem(old.id, 1, "x@1", stem, "h" * 64, 1.0, 22050, 2)
            with lib.transaction():
                lib.put_artifact(stem_id, "mel_grey_png", image)
            if rated:
                lib.add_rating(old.id, "u", 5, 4)
            io.save(src / "a.wav", music(4.0, 22050, seed=21 + 2 * rated), 22050)
            os.utime(src / "a.wav", (1, 1))  # a new mtime, so the import looks at it again
            import_paths(lib, [src], workers=0, progress=False)
            new = lib.resolve(str(src / "a.wav"))
            assert new.id != old.id
            assert (lib.track(old.id) is not None) == rated
            assert stem.exists() == rated and image.exists() == rated  # derived files go with the song
            assert (src / "a.wav").exists()  # never the user's
        assert lib.count_tracks(0) == 2  # the second new song and the rated old one


def test_the_best_copy_of_a_track_is_the_one_used(tmp_path):
    """The same music at 8 kHz mono and 44.1 kHz stereo is one track; stems and features read the 44.1 kHz file."""
    from audio_alchemy.io import resample

    x = music(6.0, 44100, seed=40)
    io.save(tmp_path / "in" / "a_low.wav", resample(x.mean(axis=0, keepdims=True), 44100, 8000), 8000)
    io.save(tmp_path / "in" / "b_high.wav", x, 44100)
    with _lib(tmp_path) as lib:
        import_paths(lib, [tmp_path / "in"], workers=0, progress=False)
        (t,) = lib.tracks(track_type=0)
        assert len(lib.files(t.id)) == 2
        assert lib.track_path(t.id).endswith("b_high.wav")


def test_demo_twice_gives_nine(demo_dir, tmp_path):
    with _lib(tmp_path) as lib:
        s = import_paths(lib, [demo_dir, demo_dir], workers=2, progress=False)
        assert s.failed == 0
        assert lib.count_tracks(0) == 9
        import_paths(lib, [demo_dir], workers=0, progress=False)
        assert lib.count_tracks(0) == 9
        assert lib.conn.execute("SELECT count(*) FROM files").fetchone()[0] == 9
        fishin = lib.resolve("Fishin")
        assert fishin.artist == "Karissa Hobbs" and abs(fishin.duration - 133.0) < 0.5


def test_truncated_wav_is_imported_with_a_warning_row(tmp_path):
    root = tmp_path / "in"
    full = io.save(root / "full.wav", music(4.0, 22050, seed=30), 22050)
    (root / "half.wav").write_bytes(full.read_bytes()[: full.stat().st_size // 2])
    full.unlink()
    with _lib(tmp_path) as lib:
        s = import_paths(lib, [root], workers=0, progress=False)
        assert (s.new_files, s.failed) == (1, 0) and len(s.warnings) == 1
        (err,) = lib.errors("import")
        assert err["kind"] == "truncated" and "half.wav" in err["message"] and "4.00 s" in err["message"]
        assert abs(lib.resolve("half").duration - 2.0) < 0.01  # what is there was imported
        import_paths(lib, [root], workers=0, progress=False)  # unchanged: skipped, the row stays
        assert [e["kind"] for e in lib.errors("import")] == ["truncated"]


def _bad_inputs(root: Path) -> dict[str, str]:
    """Make every bad input of the issue; returns {name: expected error kind or 'ok'}."""
    root.mkdir(parents=True, exist_ok=True)
    (root / "empty.wav").write_bytes(b"")
    io.save(root / "silence0.wav", np.zeros((1, 0), np.float32), 22050)  # a valid header, zero samples
    full = io.save(root / "whole.flac", music(4.0, 22050, seed=20), 22050)
    (root / "truncated.flac").write_bytes(full.read_bytes()[:200])
    mp3 = io.save(root / "whole.mp3", music(4.0, 22050, seed=21), 22050)
    (root / "truncated.mp3").write_bytes(mp3.read_bytes()[:300])
    (root / "notes.wav").write_text("definitely not a RIFF file\n" * 50)
    (root / "x.mp3").mkdir()
    (root / "loop").symlink_to(root, target_is_directory=True)
    (root / "broken.flac").symlink_to(root / "does-not-exist.flac")
    io.save(root / "tiny.wav", tone(440.0, 0.01), 22050)
    name = os.fsdecode(b"caf\xe9-latin1.wav")  # not valid UTF-8
    io.save(root / name, music(2.0, 22050, seed=22), 22050)
    io.save(root / "dup1.wav", music(2.0, 22050, seed=23), 22050)
    io.save(root / "dup2.wav", music(2.0, 22050, seed=23), 22050)
    return {
        "empty.wav": "empty_audio", "silence0.wav": "empty_audio", "notes.wav": "unsupported_format",
        "broken.flac": "not_a_file", "truncated.flac": "any", "truncated.mp3": "any",
    }


def test_bad_inputs_get_error_rows_and_batch_goes_on(tmp_path):
    root = tmp_path / "bad"
    expected = _bad_inputs(root)
    with _lib(tmp_path) as lib:
        s = import_paths(lib, [root], workers=2, progress=False)
        errors = {Path(e["item"]).name: e for e in lib.errors("import")}
        for name, kind in expected.items():
            if kind == "any":
                # a truncated file is either refused with an error row or imported with what decodes
                assert name in errors or lib.file_by_path(root / name) is not None, name
                continue
            assert name in errors, f"{name} has no error row: {sorted(errors)}"
            if kind not in ("any",):
                assert errors[name]["kind"] in (kind, "corrupt_audio", "unsupported_format"), errors[name]
            assert name in errors[name]["message"]  # the one-line message names the file
            assert "\n" not in errors[name]["message"]
        # the good ones are in, each once
        titles = {t.title for t in lib.tracks()}
        assert {"whole", "tiny"} <= titles and len(titles & {"dup1", "dup2"}) == 1  # whichever finished first
        assert any(f.path.endswith("caf\\xe9-latin1.wav") for t in lib.tracks() for f in lib.files(t.id))
        latin = lib.file_by_path(root / os.fsdecode(b"caf\xe9-latin1.wav"))
        assert latin is not None and os.path.exists(latin.fs_path)
        dup = lib.file_by_path(root / "dup1.wav")
        assert dup is not None and dup.track_id == lib.file_by_path(root / "dup2.wav").track_id
        # the symlink loop did not recurse: nothing imported twice
        paths = [r[0] for r in lib.conn.execute("SELECT path FROM files")]
        assert len(paths) == len(set(paths)) and not any("/loop/" in p for p in paths)
        assert "x.mp3" not in titles
        assert s.failed >= 4


def test_directory_named_like_audio_given_explicitly(tmp_path):
    d = tmp_path / "album.mp3"
    d.mkdir()
    io.save(d / "inner.wav", music(2.0, 22050, seed=5), 22050)
    with _lib(tmp_path) as lib:
        s = import_paths(lib, [d], workers=0, progress=False)
        assert s.new_tracks == 1 and s.failed == 0


def test_unreadable_file_gets_error_row(tmp_path):
    """A file without read permission: as root (CI) the import runs without the capabilities that bypass it."""
    import shutil

    secret = io.save(tmp_path / "in" / "secret.wav", tone(), 22050)
    io.save(tmp_path / "in" / "fine.wav", music(2.0, 22050, seed=6), 22050)
    os.chmod(secret, 0o000)
    db = tmp_path / "lib.sqlite"
    code = (
        "from audio_alchemy.library import Library, import_paths;"
        f"lib = Library.open({str(db)!r}); import_paths(lib, [{str(tmp_path / 'in')!r}], workers=0, progress=False)"
    )
    cmd = [sys.executable, "-c", code]
    if os.geteuid() == 0:
        if not shutil.which("setpriv"):
            pytest.skip("running as root without util-linux setpriv: cannot drop the capability that reads any file")
        cmd = ["setpriv", "--bounding-set", "-dac_override,-dac_read_search", *cmd]
    r = subprocess.run(cmd, capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, r.stderr
    with Library.open(db) as lib:
        errs = {Path(e["item"]).name: e for e in lib.errors("import")}
        assert "secret.wav" in errs and "permission" in errs["secret.wav"]["message"].lower()
        assert lib.count_tracks(0) == 1


def test_long_file_bounded_memory(tmp_path):
    """A 3-hour file is identified in streaming blocks: peak memory stays far below its decoded size."""
    p = tmp_path / "three-hours.flac"
    import soundfile as sf

    sr = 8000
    block = (0.3 * np.sin(2 * np.pi * 220 * np.arange(sr * 60) / sr)).astype(np.float32)
    with sf.SoundFile(str(p), "w", samplerate=sr, channels=1, format="FLAC", subtype="PCM_16") as f:
        for _ in range(180):
            f.write(block)
    code = (
        "import sys; from audio_alchemy.library.importer import identify;"
        f"r = identify({str(p)!r}); print(r['duration']);"
        # VmHWM, not ru_maxrss: the latter keeps the forking parent's high-water mark across exec
        "print(next(int(l.split()[1]) for l in open('/proc/self/status') if l.startswith('VmHWM')))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300, check=True).stdout.split()
    duration, peak_kib = float(out[0]), int(out[1])
    assert abs(duration - 3 * 3600) < 1
    decoded_mib = 3 * 3600 * sr * 4 / 2**20  # float32 mono: 330 MiB
    assert peak_kib / 1024 < min(300, decoded_mib * 0.8), f"peak RSS {peak_kib / 1024:.0f} MiB"


def test_sigkill_mid_import_then_resume(tmp_path):
    """Kill -9 the import driver mid-run; the re-run imports every file exactly once."""
    src = tmp_path / "many"
    for i in range(40):
        io.save(src / f"song{i:02d}.wav", music(2.0, 22050, seed=100 + i), 22050)
    db = tmp_path / "lib.sqlite"
    cmd = [sys.executable, "-m", "audio_alchemy.cli.main", "import", str(src), "--db", str(db), "--workers", "1"]
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    import time

    deadline = time.time() + 120
    n = 0
    while time.time() < deadline and proc.poll() is None:
        if db.exists():
            try:
                with Library.open(db, readonly=True) as lib:
                    n = lib.count_tracks(0)
            except Exception:  # noqa: BLE001 - the schema may not exist yet
                n = 0
            if n >= 5:
                break
        time.sleep(0.05)
    proc.kill()
    proc.wait()
    assert 0 < n < 40, f"kill landed at {n} tracks; the test needs a mid-run kill"
    r = subprocess.run(cmd, capture_output=True, text=True, timeout=300)
    assert r.returncode == 0, r.stderr
    with Library.open(db) as lib:
        kinds = [(j["kind"], j["status"]) for j in lib.jobs()][::-1]
        assert kinds == [("import", "interrupted"), ("import", "done")]  # the killed run is marked as such
        assert lib.count_tracks(0) == 40
        assert lib.conn.execute("SELECT count(*) FROM files").fetchone()[0] == 40
        assert lib.integrity_ok()
        names = sorted(Path(f.path).name for t in lib.tracks() for f in lib.files(t.id))
        assert names == [f"song{i:02d}.wav" for i in range(40)]


def test_ratings_are_validated(tmp_path):
    io.save(tmp_path / "s.wav", music(2.0, 22050, seed=1), 22050)
    with _lib(tmp_path) as lib:
        import_paths(lib, [tmp_path / "s.wav"], workers=0, progress=False)
        t = lib.tracks()[0]
        assert lib.add_rating(t.id, "u1", 5, 4) == pytest.approx(0.75)
        assert lib.add_rating(t.id, "u1", 2, 2) == 1.0  # the newest rating of a user replaces the older
        assert len(lib.ratings(t.id)) == 1
        with pytest.raises(ValueError):
            lib.add_rating(t.id, "u1", 5, 6)
        with pytest.raises(ValueError):
            lib.add_rating(t.id, "u1", 4, 2)
        with pytest.raises(ValueError):
            lib.add_rating(t.id, "u1", 3, 0)


def test_export_json_validates_against_schema(tmp_path):
    import jsonschema

    from audio_alchemy.library.export import export, study_schema

    io.save(tmp_path / "in" / "Some Artist - Some Song.wav", music(2.0, 22050, seed=2), 22050)
    with _lib(tmp_path) as lib:
        import_paths(lib, [tmp_path / "in"], workers=0, progress=False)
        t = lib.tracks()[0]
        stem = tmp_path / "stem.flac"
        io.save(stem, music(1.0, 22050, seed=2), 22050)
        lib.add_stem(t.id, 1, "x@1", stem, "s" * 64, 1.0, 22050, 2)
        lib.put_features(t.id, "seed", "1", {"tempo": 120.0, "key": "C", "zero_crossing_rate": 0.1, "rms_energy": 0.2,
                                             "duration": 2.0, "fundamental_freq": None})
        n = export(lib, "json", tmp_path / "out.json")
        records = json.loads((tmp_path / "out.json").read_text())
        jsonschema.validate(records, study_schema())
        assert n == 2 and records[0]["Data"]["Artist"] == "Some Artist" and records[0]["Data"]["Tempo"] == 120.0
        assert records[0]["Data"]["Key"] == 0 and records[0]["Data"]["Fundamental Frequency"] is None
        for fmt in ("csv", "parquet"):
            assert export(lib, fmt, tmp_path / f"out.{fmt}") == 2
        import pandas as pd

        df = pd.read_parquet(tmp_path / "out.parquet")
        assert df.loc[0, "tempo"] == 120.0 and df.loc[0, "track_type"] == 0
        assert f",{t.id},1," in (tmp_path / "out.csv").read_text().splitlines()[2]  # the stem's parent id, not 1.0


def test_paths_starting_with_a_tilde_are_the_users_home(tmp_path, monkeypatch):
    from audio_alchemy import io
    from audio_alchemy.library import Library, import_paths
    from conftest import music

    monkeypatch.setenv("HOME", str(tmp_path))
    io.save(tmp_path / "Music" / "a.wav", music(1.0, 22050, seed=1), 22050)
    with Library.open(tmp_path / "lib.sqlite") as lib:
        s = import_paths(lib, ["~/Music"], workers=0, progress=False)
        assert (s.new_files, s.failed) == (1, 0), s.errors


@pytest.mark.parametrize("suffix", [".wav", ".aiff"])
def test_wav_and_aiff_tags_are_imported(tmp_path, suffix):
    """An ID3 chunk (mutagen's easy interface skips it for WAV/AIFF) and RIFF/AIFF text chunks both give tags."""
    import soundfile as sf
    from mutagen.aiff import AIFF
    from mutagen.id3 import TCON, TDRC, TIT2, TPE1
    from mutagen.wave import WAVE

    x = music(1.0, 22050, seed=5)
    id3 = tmp_path / "music" / f"track01{suffix}"
    io.save(id3, x, 22050)
    f = (WAVE if suffix == ".wav" else AIFF)(id3)
    f.add_tags()
    for frame in (TIT2(text="Jóga"), TPE1(text="Björk"), TCON(text="(13)"), TDRC(text="1997-09-22")):
        f.tags.add(frame)
    f.save()
    info = tmp_path / "music" / f"track02{suffix}"
    with sf.SoundFile(info, "w", 22050, 1) as g:
        g.title, g.artist = "Le Tigre", "Deceptacon"
        g.write(music(1.0, 22050, seed=6)[0])
    expected = {("Björk", "Jóga", "Pop", 1997), ("Deceptacon", "Le Tigre", None, None)}
    if suffix == ".wav":  # a Windows editor's INFO chunk in code page 1252, not UTF-8
        import struct

        raw = io.save(tmp_path / "plain.wav", music(1.0, 22050, seed=7), 22050).read_bytes()

        def sub(cid: bytes, text: str) -> bytes:
            b = text.encode("cp1252") + b"\0"
            return cid + struct.pack("<I", len(b)) + b + b"\0" * (len(b) & 1)

        info = b"INFO" + sub(b"INAM", "Café del Mar") + sub(b"IART", "José Padilla")
        body = raw[12:] + b"LIST" + struct.pack("<I", len(info)) + info
        (tmp_path / "music" / "track03.wav").write_bytes(b"RIFF" + struct.pack("<I", 4 + len(body)) + b"WAVE" + body)
        expected.add(("José Padilla", "Café del Mar", None, None))
    with Library.open(tmp_path / "lib.sqlite") as lib:
        import_paths(lib, [tmp_path / "music"], workers=0, progress=False)
        got = {(t.artist, t.title, t.genre, t.year) for t in lib.tracks(0)}
    assert got == expected


def _open_at_once(path, barrier, results):
    barrier.wait()
    try:
        with Library.open(path) as lib:
            lib.tracks()
        results.put("ok")
    except Exception as exc:  # noqa: BLE001 - reported to the test
        results.put(f"{type(exc).__name__}: {exc}")


def test_processes_creating_one_new_library_at_once_all_succeed(tmp_path):
    """Two commands creating a library at the same moment both read schema version 0; the second used to fail with
    'table tracks already exists' (or 'database is locked')."""
    import multiprocessing as mp

    ctx = mp.get_context("spawn")
    got = []
    for k in range(3):
        barrier, results = ctx.Barrier(3), ctx.Queue()
        procs = [ctx.Process(target=_open_at_once, args=(tmp_path / f"lib{k}.sqlite", barrier, results)) for _ in range(3)]
        for p in procs:
            p.start()
        got += [results.get(timeout=60) for _ in procs]
        for p in procs:
            p.join(timeout=60)
    assert got == ["ok"] * 9, got


def test_error_rows_go_once_their_cause_is_gone(tmp_path, monkeypatch):
    """A bad file deleted, a dead symlinked folder removed, a folder given by a relative path from elsewhere:
    the next whole run over the folder leaves no stale or duplicate rows; a bad file still there keeps its row."""
    root = tmp_path / "music"
    io.save(root / "good.wav", music(1.0, 22050, seed=1), 22050)
    (root / "broken.mp3").write_bytes(b"not audio at all" * 10)
    (root / "still-broken.flac").write_bytes(b"nope" * 10)
    (tmp_path / "elsewhere").mkdir()
    os.symlink(tmp_path / "elsewhere", root / "linked")
    monkeypatch.chdir(tmp_path)
    with _lib(tmp_path) as lib:
        import_paths(lib, ["music"], workers=0, progress=False)  # relative, as typed in a shell
        before = {Path(e["item"]).name for e in lib.errors("import")}
        assert before == {"broken.mp3", "still-broken.flac", "linked"}, before
        assert all(os.path.isabs(e["item"]) for e in lib.errors("import"))
        (root / "broken.mp3").unlink()
        (root / "linked").unlink()
        monkeypatch.chdir(root)
        import_paths(lib, [".."], workers=0, progress=False)  # the same folder, from elsewhere
        assert [Path(e["item"]).name for e in lib.errors("import")] == ["still-broken.flac"]
