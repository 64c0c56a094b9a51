"""The LocalCluster behind `--scheduler dask` runs tasks in the environment a local pool worker has: no
MALLOC_TRIM_THRESHOLD_ (it made the features task 1.5-2x slower), one BLAS/OpenMP thread, driver env untouched."""

from __future__ import annotations

import os

import pytest

pytest.importorskip("distributed", reason="needs dask[distributed] (pip install 'audio-alchemy[scale]')")


def worker_env(_: object) -> dict[str, str | None]:
    return {k: os.environ.get(k) for k in ("MALLOC_TRIM_THRESHOLD_", "OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS")}


@pytest.mark.timeout(120)
def test_dask_workers_have_no_malloc_trim_threshold_and_driver_env_is_kept():
    from audio_alchemy import jobs

    before = dict(os.environ)
    got: list[dict] = []
    s = jobs.run([0, 1], worker_env, lambda _, v: got.append(v), workers=1, scheduler="dask", progress=False)
    assert s.done == 2
    assert got[0] == {"MALLOC_TRIM_THRESHOLD_": None, "OMP_NUM_THREADS": "1", "OPENBLAS_NUM_THREADS": "1"}
    assert dict(os.environ) == before  # the nanny writes its settings into os.environ; later local pools would inherit


def worker_parent(_: object = None) -> dict:
    import psutil

    parent = psutil.Process(os.getppid())
    return {"cmd": " ".join(parent.cmdline()), "threads": parent.num_threads(), "ppid": parent.ppid()}


@pytest.mark.timeout(120)
def test_dask_workers_are_forked_from_a_preloaded_single_threaded_forkserver():
    """Workers are forks of a single-threaded forkserver, never of this threaded driver: either the stock one (a
    fresh interpreter that preloads distributed and NumPy) or, when the driver had no other threads, a fork of the
    driver (jobs.zygote)."""
    from distributed import Client

    from audio_alchemy.jobs.dask_executor import local_cluster

    with local_cluster(2) as c, Client(c, set_as_default=False) as cl:
        cl.wait_for_workers(2)
        got = cl.run(worker_parent)
    assert len(got) == 2
    for parent in got.values():
        assert parent["threads"] == 1, parent
        stock = "multiprocessing.forkserver" in parent["cmd"] and "'distributed'" in parent["cmd"]
        assert stock or parent["ppid"] == os.getpid(), parent


ZYGOTE_SCRIPT = """
import json, os, sys
from distributed import Client
from audio_alchemy.jobs.dask_executor import local_cluster

def probe(_=None):
    import psutil
    from threadpoolctl import threadpool_info
    parent = psutil.Process(os.getppid())
    return {"grandparent": parent.ppid(), "parent_threads": parent.num_threads(),
            "omp": os.environ.get("OMP_NUM_THREADS"), "malloc": os.environ.get("MALLOC_TRIM_THRESHOLD_"),
            "blas_threads": [i["num_threads"] for i in threadpool_info()]}

if __name__ == "__main__":
    import numpy  # the driver's BLAS is loaded with its default thread count before the fork
    with local_cluster(2) as c, Client(c, set_as_default=False) as cl:
        cl.wait_for_workers(2)
        out = {"driver": os.getpid(), "workers": list(cl.run(probe).values()),
               "sum": cl.submit(lambda n: float(numpy.arange(n).sum()), 10).result()}
    print(json.dumps(out))
"""


@pytest.mark.timeout(120)
def test_single_threaded_driver_forks_its_own_forkserver(tmp_path):
    """A CLI-like driver (no other threads yet) becomes its workers' forkserver's parent: workers start without
    imports, still with one BLAS/OpenMP thread each and no MALLOC_TRIM_THRESHOLD_."""
    import json
    import subprocess
    import sys

    script = tmp_path / "driver.py"
    script.write_text(ZYGOTE_SCRIPT)
    env = {k: v for k, v in os.environ.items() if k not in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS")}
    run = subprocess.run([sys.executable, str(script)], capture_output=True, text=True, timeout=110, env=env)
    assert run.returncode == 0, run.stderr[-2000:]
    out = json.loads(run.stdout.strip().splitlines()[-1])
    assert out["sum"] == 45.0
    assert len(out["workers"]) == 2
    for w in out["workers"]:
        assert w["grandparent"] == out["driver"], w  # worker -> forked server -> this driver
        assert w["parent_threads"] == 1
        assert w["omp"] == "1" and w["malloc"] is None
        assert all(n == 1 for n in w["blas_threads"]), w


@pytest.mark.timeout(150)
def test_features_on_forked_dask_workers_equal_local(tmp_path):
    """The features job on `--scheduler dask` (workers forked from the forkserver; run alone, it preloads the
    features stack) stores exactly the rows the local spawned pool stores."""
    from reliability_corpus import snapshot, write_sources

    from audio_alchemy.features.batch import run_features
    from audio_alchemy.library import Library, import_paths

    write_sources(tmp_path / "corpus", 8, seed=11)
    dbs = {}
    for sched in ("local", "dask"):
        db = dbs[sched] = tmp_path / f"{sched}.sqlite"
        with Library.open(db) as lib:
            import_paths(lib, [tmp_path / "corpus"], workers=0, progress=False)
            s = run_features(lib, workers=2, scheduler=sched, progress=False)
        assert s.failed == 0 and s.done == 8, s
    got, want = snapshot(dbs["dask"]), snapshot(dbs["local"])
    assert len(want["features"]) == 8
    assert got == want
