"""Crash-resume: SIGKILL the batch driver (a real `alchemy` subprocess) at >= 10 random points, re-run, and the
library equals that of an uninterrupted run: same rows, no duplicates, ``PRAGMA integrity_check`` ok."""

from __future__ import annotations

import importlib.util
import os
import random
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest

from audio_alchemy.library import Library, import_paths
from reliability_corpus import duplicates, mutate_corpus, snapshot, write_sources

ENV = {**os.environ, "OMP_NUM_THREADS": "1"}


def alchemy(*args: str) -> list[str]:
    return [sys.executable, "-m", "audio_alchemy.cli.main", *args]


def _progress(db: Path, stage: str) -> int:
    """Items the driver has committed so far (0 while the database does not exist yet)."""
    if not db.exists():
        return 0
    try:
        con = sqlite3.connect(f"file:{db}?mode=ro", uri=True, timeout=1)
        try:
            if stage == "import":
                q = "SELECT (SELECT count(*) FROM files) + (SELECT count(*) FROM errors WHERE stage = 'import')"
            else:
                q = f"SELECT (SELECT count(*) FROM features) + (SELECT count(*) FROM errors WHERE stage = '{stage}')"
            return con.execute(q).fetchone()[0]
        finally:
            con.close()
    except sqlite3.Error:
        return 0


def _kill(proc: subprocess.Popen) -> None:
    """kill -9 the driver, then its orphaned pool workers (they would otherwise idle until their pipe breaks)."""
    try:
        os.kill(proc.pid, signal.SIGKILL)
    except ProcessLookupError:
        pass
    proc.wait(30)
    try:
        os.killpg(proc.pid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        pass


def crash_and_resume(cmd: list[str], db: Path, stage: str, total: int, rng: random.Random, n_kills: int = 10) -> list[str]:
    """Kill ``cmd`` at a few start-up instants and at ``n_kills`` random progress counts; finish with a full run.

    Returns a log of where each kill landed. Progress-count kills land while results are being stored.
    """
    log: list[str] = []
    plan: list[tuple[str, float]] = [("time", rng.uniform(0.05, 1.5))]
    plan += [("count", c) for c in sorted(rng.sample(range(1, total - 1), n_kills))]
    for how, at in plan:
        if _progress(db, stage) >= total:
            break
        proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=ENV, start_new_session=True)
        t0 = time.monotonic()
        while proc.poll() is None and time.monotonic() - t0 < 120:
            if how == "time" and time.monotonic() - t0 >= at:
                break
            if how == "count" and _progress(db, stage) >= at:
                break
            time.sleep(0.01)
        finished = proc.poll() is not None
        _kill(proc)
        log.append(f"{how}={at:.2f}: {'finished first' if finished else 'killed'} at {_progress(db, stage)}/{total}")
    r = subprocess.run(cmd, capture_output=True, text=True, env=ENV, timeout=300)
    assert r.returncode == 0, r.stderr[-2000:]
    return log


@pytest.fixture(scope="module")
def corpus(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("resume")
    sources = write_sources(root / "music", 60, seed=11)
    mutate_corpus(sources, root / "music" / "mutated", 20, seed=5, pristine_every=1000)
    return root / "music"


@pytest.mark.slow  # ~1 min; the lead's test_library_import covers a SIGKILL resume of import in the default run
@pytest.mark.timeout(300)
def test_import_killed_at_random_points_resumes_to_identical_library(corpus, tmp_path):
    total = sum(1 for p in corpus.rglob("*") if p.is_file())
    base = tmp_path / "base.sqlite"
    with Library.open(base) as lib:  # the uninterrupted run (in-process: same code, no CLI start-up to pay)
        import_paths(lib, [corpus], workers=1, progress=False)

    db = tmp_path / "crashed.sqlite"
    log = crash_and_resume(alchemy("import", "--db", str(db), "-w", "1", str(corpus)), db, "import", total, random.Random(2026))
    kills = [line for line in log if "killed" in line]
    print("\n" + "\n".join(log))
    assert len(kills) >= 10, log
    assert duplicates(db) == {"tracks": 0, "files": 0, "errors": 0, "features": 0}
    with Library.open(db) as lib:
        assert lib.integrity_ok()
    got, want = snapshot(db), snapshot(base)
    assert len(got["files"]) + len(got["errors"]) == total
    assert got == want


def _features_crash_resume(corpus: Path, tmp_path: Path, n_kills: int, workers: str, seed: int) -> None:
    if importlib.util.find_spec("audio_alchemy.features.batch") is None:
        pytest.skip("audio_alchemy.features.batch (the features job) is not built yet")
    from reliability_features import STAGE, features_cli_args, run_default_features

    base, db = tmp_path / "base.sqlite", tmp_path / "crashed.sqlite"
    with Library.open(base) as lib:
        import_paths(lib, [corpus], workers=2, progress=False)
        total = lib.count_tracks()
        with sqlite3.connect(db) as dst:  # the same imported library for the run that gets killed
            lib.conn.backup(dst)
        run_default_features(lib, workers=2)  # the uninterrupted run
    log = crash_and_resume(alchemy(*features_cli_args(db), "-w", workers), db, STAGE, total, random.Random(seed), n_kills)
    print("\n" + "\n".join(log))
    assert len([line for line in log if "killed" in line]) >= n_kills, log
    assert duplicates(db) == {"tracks": 0, "files": 0, "errors": 0, "features": 0}
    with Library.open(db) as lib:
        assert lib.integrity_ok()
        runs = [j for j in lib.jobs(limit=1000) if j["kind"] == STAGE]
    got, want = snapshot(db), snapshot(base)
    assert len(got["features"]) + len([e for e in got["errors"] if e[0] == STAGE]) == total
    # every committed item was counted on its run's row as it was committed, killed runs included
    assert sum(j["n_done"] for j in runs) == len(got["features"]), runs
    diffs = _feature_diffs(got["features"], want["features"])
    assert not diffs, diffs[:10]
    assert got["features"] == want["features"] and got["errors"] == want["errors"]


def _feature_diffs(got: list, want: list) -> list[str]:
    """Human-readable differences between two feature snapshots: (content_hash, set, version, json)."""
    import json

    g = {(h, fs): (v, json.loads(d)) for h, fs, v, d in got}
    w = {(h, fs): (v, json.loads(d)) for h, fs, v, d in want}
    out = [f"only in one run: {k}" for k in set(g) ^ set(w)]
    for k in set(g) & set(w):
        for name in sorted(set(g[k][1]) | set(w[k][1])):
            if g[k][1].get(name) != w[k][1].get(name):
                out.append(f"{k[0][:10]} {name}: resumed {g[k][1].get(name)!r} vs uninterrupted {w[k][1].get(name)!r}")
    return out


@pytest.fixture(scope="module")
def small_corpus(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("resume-small")
    sources = write_sources(root / "music", 16, seed=12)
    mutate_corpus(sources, root / "music" / "mutated", 6, seed=6, pristine_every=1000)
    return root / "music"


@pytest.mark.timeout(300)
def test_features_killed_at_a_few_points_resumes_to_identical_results(small_corpus, tmp_path):
    """Default-run version: `alchemy features -w 0` (the driver computes too) killed at 1 instant + 3 progress counts."""
    _features_crash_resume(small_corpus, tmp_path, n_kills=3, workers="0", seed=3)


@pytest.mark.slow  # each restart pays Python + librosa start-up: ~5 min on a loaded 2-core machine
@pytest.mark.timeout(900)
def test_features_killed_at_random_points_resumes_to_identical_results(corpus, tmp_path):
    """`alchemy features -w 1` (driver + one pool worker) killed at 1 instant + 10 random progress counts."""
    _features_crash_resume(corpus, tmp_path, n_kills=10, workers="1", seed=7)
