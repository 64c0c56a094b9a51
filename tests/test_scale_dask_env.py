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


def worker_parent(_: object = None) -> list[str]:
    import psutil

    return psutil.Process(os.getppid()).cmdline()


@pytest.mark.timeout(120)
def test_dask_workers_are_forked_from_a_preloaded_forkserver():
    """Workers are forks of multiprocessing's forkserver (a fresh single-threaded process, not this threaded
    driver) that preloads distributed and NumPy, so no worker imports them itself."""
    from distributed import Client

    from audio_alchemy.jobs.dask_executor import local_cluster

    with local_cluster(2) as c, Client(c, set_as_default=False) as cl:
        cl.wait_for_workers(2)
        got = cl.run(worker_parent)
    assert len(got) == 2
    for cmd in got.values():
        text = " ".join(cmd)
        assert "multiprocessing.forkserver" in text and "'distributed'" in text and "'numpy'" in text, text[:300]


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
