"""The Dask back-end: identical results to the local pool, and a run that survives losing a worker mid-way."""

from __future__ import annotations

import os
import signal
import sqlite3
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

pytest.importorskip("distributed", reason="needs dask[distributed] (pip install 'audio-alchemy[scale]')")

from audio_alchemy import jobs  # noqa: E402
from audio_alchemy.library import Library, import_paths  # noqa: E402
from audio_alchemy.library import importer  # noqa: E402
from reliability_corpus import duplicates, mutate_corpus, snapshot, write_sources  # noqa: E402

ORIGINAL_IDENTIFY = importer.identify


def slow_identify(path: str, copy_to: str | None = None) -> dict:
    """The real import task, slowed down so a worker can be killed while tasks are in flight."""
    time.sleep(0.25)
    return ORIGINAL_IDENTIFY(path, copy_to=copy_to)


def square_or_fail(x: int) -> int:
    if x % 7 == 3:
        raise ValueError(f"item {x} is bad")
    return x * x


@pytest.fixture(scope="module")
def small_corpus(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("dask")
    sources = write_sources(root / "corpus", 24, seed=7)
    mutate_corpus(sources, root / "corpus" / "bad", 12, seed=3, pristine_every=1000)
    return root / "corpus"


@pytest.fixture(scope="module")
def cluster():
    """The LocalCluster `--scheduler dask` starts (workers forked from a preloaded forkserver, nannies in-process)."""
    from distributed import Client

    from audio_alchemy.jobs.dask_executor import local_cluster

    with local_cluster(2, preload=["audio_alchemy.library.importer"]) as c, Client(c, set_as_default=False) as client:
        yield c, client


def test_executor_results_errors_and_window(cluster):
    c, _ = cluster
    got, errs = {}, {}
    s = jobs.run(range(40), square_or_fail, got.__setitem__, errs.__setitem__, workers=2,
                 scheduler=c.scheduler_address, progress=False)
    assert got == {i: i * i for i in range(40) if i % 7 != 3}
    assert set(errs) == {i for i in range(40) if i % 7 == 3}
    assert all(isinstance(e, ValueError) and f"item {i}" in str(e) for i, e in errs.items())
    assert (s.done, s.failed) == (len(got), len(errs))


def test_unpicklable_task_error_keeps_kind_and_message(cluster):
    from audio_alchemy.jobs.dask_executor import _call, _portable

    class Weird(Exception):
        kind = "weird_kind"

        def __init__(self, a, b):
            super().__init__(f"{a}/{b}")

    import pickle

    e = pickle.loads(pickle.dumps(_portable(Weird(1, 2))))  # a local class: cannot be pickled by reference
    assert e.kind == "weird_kind" and "1/2" in str(e)
    ok, v = _call(lambda x: 1 / x, 0)
    assert not ok and isinstance(v, ZeroDivisionError)


@pytest.mark.timeout(180)
def test_worker_killed_mid_run_gives_identical_results(cluster, small_corpus, tmp_path, monkeypatch):
    """SIGKILL one of two Dask workers while the import runs: every item still finishes, results unchanged."""
    import cloudpickle

    c, client = cluster
    base = tmp_path / "base.sqlite"
    with Library.open(base) as lib:
        import_paths(lib, [small_corpus], workers=0, progress=False)

    cloudpickle.register_pickle_by_value(sys.modules[__name__])  # workers need not import the tests folder
    monkeypatch.setattr(importer, "identify", slow_identify)
    db = tmp_path / "dask.sqlite"
    killed: list[int] = []

    def killer() -> None:
        deadline = time.time() + 60
        while time.time() < deadline and not killed:
            time.sleep(0.1)
            try:
                con = sqlite3.connect(f"file:{db}?mode=ro", uri=True, timeout=5)
                n = con.execute("SELECT count(*) FROM files").fetchone()[0] + con.execute("SELECT count(*) FROM errors").fetchone()[0]
                con.close()
            except sqlite3.Error:
                continue
            if n >= 6:
                pids = client.run(os.getpid)
                pid = sorted(pids.values())[0]
                os.kill(pid, signal.SIGKILL)
                killed.append(pid)

    t = threading.Thread(target=killer, daemon=True)
    with Library.open(db) as lib:
        t.start()
        s = import_paths(lib, [small_corpus], workers=2, scheduler=c.scheduler_address, progress=False)
        t.join(5)
    cloudpickle.unregister_pickle_by_value(sys.modules[__name__])
    assert killed, "the worker was not killed mid-run (the run finished too fast?)"
    assert not s.interrupted
    assert s.new_files + s.failed == 36, s
    got, want = snapshot(db), snapshot(base)
    assert not [e for e in got["errors"] if e[2] == "WorkerCrashed"], "an item was blamed for the killed worker"
    assert got == want
    assert duplicates(db) == {"tracks": 0, "files": 0, "errors": 0, "features": 0}
    # the nanny replaced the dead worker (a new fork of the forkserver)
    deadline = time.time() + 20
    while len(client.scheduler_info()["workers"]) < 2 and time.time() < deadline:
        time.sleep(0.2)
    assert len(client.scheduler_info()["workers"]) == 2


@pytest.mark.timeout(180)
def test_cli_scheduler_dask_identical_to_local(small_corpus, tmp_path):
    """`alchemy import --scheduler dask` (its own LocalCluster, in a subprocess) stores what `--scheduler local` stores."""
    local = tmp_path / "local.sqlite"
    with Library.open(local) as lib:
        import_paths(lib, [small_corpus], workers=2, scheduler="local", progress=False)
    db = tmp_path / "dask.sqlite"
    r = subprocess.run([sys.executable, "-m", "audio_alchemy.cli.main", "import", "--db", str(db), "-w", "2",
                        "--scheduler", "dask", str(small_corpus)], capture_output=True, text=True,
                       env={**os.environ, "OMP_NUM_THREADS": "1"}, timeout=150)
    assert r.returncode == 0, r.stderr[-2000:]
    with Library.open(db) as lib:
        assert lib.integrity_ok()
    got, want = snapshot(db), snapshot(local)
    assert got == want
    assert len(want["files"]) >= 24 and len(want["errors"]) >= 1
