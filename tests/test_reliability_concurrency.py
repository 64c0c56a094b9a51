"""Concurrent readers: the web player (its TestClient) and a separate reader process query the library while a
batch import writes it (WAL). No request fails and no "database is locked" reaches a user."""

from __future__ import annotations

import random
import subprocess
import sys
import textwrap
import threading
import time

import pytest

from audio_alchemy.library import Library, import_paths
from reliability_corpus import mutate_corpus, write_sources

READER = textwrap.dedent("""
    import sys, time, json
    from audio_alchemy.library import Library
    db, stop = sys.argv[1], sys.argv[2]
    import os
    n = fails = 0
    msgs = []
    while not os.path.exists(stop):
        try:
            lib = Library.open(db, readonly=True)
            try:
                for t in lib.tracks(track_type=0)[-20:]:
                    lib.files(t.id); lib.feature_sets(t.id); lib.track_path(t.id)
                lib.stats(); lib.errors("import")
            finally:
                lib.close()
            n += 1
        except Exception as exc:
            fails += 1
            msgs.append(f"{type(exc).__name__}: {exc}")
        time.sleep(0.005)
    print(json.dumps({"reads": n, "fails": fails, "msgs": msgs[:5]}))
""")


@pytest.mark.timeout(180)
def test_web_and_reader_process_during_batch_import(tmp_path):
    fastapi_testclient = pytest.importorskip("fastapi.testclient", reason="needs fastapi (the [web] extra)")
    try:
        from audio_alchemy.web import create_app
    except ImportError:
        pytest.skip("audio_alchemy.web (issue F) is not importable")
    corpus = tmp_path / "music"
    sources = write_sources(corpus, 80, seed=21)
    mutate_corpus(sources, corpus / "bad", 40, seed=9, pristine_every=1000)
    db = tmp_path / "lib.sqlite"
    Library.open(db).close()
    stop = tmp_path / "stop"
    reader = subprocess.Popen([sys.executable, "-c", READER, str(db), str(stop)], stdout=subprocess.PIPE, text=True)

    app = create_app(db)
    results: dict[str, list] = {"status": [], "exc": []}
    done = threading.Event()

    def web_user() -> None:
        rng = random.Random(0)
        with fastapi_testclient.TestClient(app) as client:
            while not done.is_set():
                try:
                    r = client.get("/api/tracks")
                    results["status"].append(("GET /api/tracks", r.status_code, r.text[:200] if r.status_code >= 400 else ""))
                    items = r.json()
                    items = items.get("items", items.get("tracks", [])) if isinstance(items, dict) else items
                    if items:
                        tid = rng.choice(items)["id"]
                        r = client.get(f"/api/tracks/{tid}")
                        results["status"].append(("GET track", r.status_code, r.text[:200] if r.status_code >= 400 else ""))
                        r = client.post(f"/api/tracks/{tid}/ratings", json={"user_id": "u1", "scale": 5, "score": rng.randint(1, 5)})
                        results["status"].append(("POST rating", r.status_code, r.text[:200] if r.status_code >= 400 else ""))
                        r = client.post(f"/api/tracks/{tid}/plays", json={"user_id": "u1"})
                        results["status"].append(("POST play", r.status_code, r.text[:200] if r.status_code >= 400 else ""))
                    r = client.get("/api/info")
                    results["status"].append(("GET /api/info", r.status_code, r.text[:200] if r.status_code >= 400 else ""))
                except Exception as exc:  # noqa: BLE001 - any exception here is a failure surfaced to a user
                    results["exc"].append(f"{type(exc).__name__}: {exc}")

    t = threading.Thread(target=web_user, daemon=True)
    t.start()
    try:
        with Library.open(db) as lib:
            s = import_paths(lib, [corpus], workers=2, progress=False)
    finally:
        time.sleep(0.3)
        done.set()
        t.join(30)
        stop.touch()
        out, _ = reader.communicate(timeout=60)
    import json

    rd = json.loads(out.strip().splitlines()[-1])
    bad = [x for x in results["status"] if x[1] >= 500 or "locked" in x[2]]
    assert not results["exc"], results["exc"][:5]
    assert not bad, bad[:5]
    assert rd["fails"] == 0, rd
    assert len(results["status"]) > 20 and rd["reads"] > 20, (len(results["status"]), rd)
    posted = [x for x in results["status"] if x[0].startswith("POST")]
    assert posted and all(x[1] == 201 for x in posted), posted[:5]  # the player's own writes went through too
    assert s.new_files >= 80
    with Library.open(db) as lib:
        assert lib.integrity_ok()
        assert lib.count_tracks(0) > 0
    print(f"\nweb requests during the import: {len(results['status'])}, reader-process passes: {rd['reads']}, failures: 0")


HOLDER = textwrap.dedent("""
    import sys, time, os
    from pathlib import Path
    from audio_alchemy.library.run_lock import exclusive_run
    with exclusive_run(Path(sys.argv[1]), sys.argv[2]):
        Path(sys.argv[3]).touch()
        time.sleep(120)
""")


def _hold(db, stage, tmp_path):
    ready = tmp_path / f"ready-{stage.replace(':', '-')}"
    p = subprocess.Popen([sys.executable, "-c", HOLDER, str(db), stage, str(ready)])
    for _ in range(600):
        if ready.exists():
            return p
        time.sleep(0.05)
    p.kill()
    pytest.fail("the lock holder did not start")


@pytest.mark.timeout(180)
def test_a_second_run_of_a_stage_is_refused_and_a_killed_holder_frees_it(tmp_path):
    """Two `features` runs on one library would compute the same tracks twice: the second is refused at once,
    naming the holder's pid; once the holder is killed (-9) the stage runs (the kernel dropped the lock)."""
    from typer.testing import CliRunner

    from audio_alchemy.cli.main import app
    from audio_alchemy.features import VERSION
    from audio_alchemy.features.batch import run_features
    from audio_alchemy.library import RunInProgress

    write_sources(tmp_path / "music", 2, seed=3)
    db = tmp_path / "lib.sqlite"
    with Library.open(db) as lib:
        import_paths(lib, [tmp_path / "music"], workers=0, progress=False)
    holder = _hold(db, "features:seed", tmp_path)
    try:
        with Library.open(db) as lib:
            with pytest.raises(RunInProgress, match=rf"another 'features:seed' run .* \(pid {holder.pid}\)"):
                run_features(lib, "seed", workers=0, progress=False)
            assert lib.tracks_with_features("seed", VERSION) == set()
            assert run_features(lib, "full", workers=0, progress=False).done == 2  # another set is another stage
        res = CliRunner().invoke(app, ["features", "--db", str(db), "--workers", "0"])
        assert res.exit_code == 1 and f"pid {holder.pid}" in " ".join(res.output.split()), res.output
    finally:
        holder.kill()
        holder.wait()
    with Library.open(db) as lib:
        assert run_features(lib, "seed", workers=0, progress=False).done == 2


def test_the_lock_file_is_never_a_foreign_file_and_ends_with_its_run(tmp_path):
    """Whatever sits where a lock file goes (a file of the user's, a folder, a symlink) is refused with one clear error
    and left as it was; a symlinked database shares its target's locks; a child forked during a run (a worker pool,
    Dask's fork server) does not keep the lock after the run."""
    import os

    from audio_alchemy.library.run_lock import RunLockError, exclusive_run, lock_path

    db = tmp_path / "lib.sqlite"
    Library.open(db).close()
    victim = tmp_path / "notes.txt"
    victim.write_text("my notes, not a pid")
    lock = lock_path(db, "import")
    for kind in ("file", "folder", "symlink"):
        if kind == "file":
            lock.write_bytes(victim.read_bytes())
        elif kind == "folder":
            lock.unlink()
            lock.mkdir()
        else:
            lock.rmdir()
            lock.symlink_to(victim)
        with pytest.raises(RunLockError, match=str(lock)):
            with exclusive_run(db, "import"):
                pass
        assert victim.read_text() == "my notes, not a pid"
    lock.unlink()
    (tmp_path / "link").mkdir()
    (tmp_path / "link" / "other-name.sqlite").symlink_to(db)
    assert lock_path(tmp_path / "link" / "other-name.sqlite", "import") == lock

    with exclusive_run(db, "features:seed"):
        child = os.fork()
        if child == 0:  # a forked worker outliving the run
            time.sleep(5)
            os._exit(0)
    try:  # free again although the child still lives (once it has run its fork handler: allow it a moment)
        for attempt in range(50):
            try:
                with exclusive_run(db, "features:seed"):
                    break
            except RunLockError:
                if attempt == 49:
                    raise
                time.sleep(0.1)
    finally:
        os.kill(child, 9)
        os.waitpid(child, 0)
