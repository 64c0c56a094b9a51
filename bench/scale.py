"""Scale-out benchmark: one batch job on N clips with 1 and 2 local workers and on a Dask LocalCluster of 2 workers.

Prints throughput per configuration, ``dask_overhead_vs_local: <ratio>`` (Dask LocalCluster wall time over the
local 2-process pool wall time, both including their start-up; goal <= 1.2) and a fitted model of throughput vs
workers for a larger cluster, with its assumptions.

With ``--repeat R`` the configurations run round-robin (R rounds of local-1, local-2, dask-2, dask-2-warm), so a
load change on this shared machine hits all of them; each line reports the median, and every round's walls and
ratio are printed too. Every run is a fresh interpreter (as one CLI run is): no pool, forkserver or Dask thread
is left from an earlier configuration, so every start-up is cold; the wall is measured inside it around the job,
after its imports (``distributed`` included). The Dask clusters (``dask-2`` and the pre-started one of
``dask-2-warm``) are built by ``audio_alchemy.jobs.dask_executor.local_cluster``, exactly as ``--scheduler dask``
builds them. The driver's import of ``distributed`` is measured apart in a fresh interpreter and added in
``dask_overhead_vs_local_with_import``.

Job: the features job (``audio_alchemy.features.batch.run_features``) when it exists, else the import job
(decode + hash + fingerprint + tags in the workers, one SQLite writer in the driver); the first line says which.
Clips: the GTZAN subset in ``$AUDIO_ALCHEMY_DATA/genre`` (15-20 s each), else synthetic 10-s clips.

    python bench/scale.py                 # N=60
    python bench/scale.py --n 100 --job features --repeat 3
    python bench/scale.py --n 100 --job import
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from functools import partial
from pathlib import Path

os.environ.setdefault("OMP_NUM_THREADS", "1")

from audio_alchemy import config, io, jobs  # noqa: E402
from audio_alchemy.library import Library  # noqa: E402
from audio_alchemy.library.importer import identify, import_paths, scan, store  # noqa: E402


def clips(n: int, folder: Path) -> list[Path]:
    """N input files: GTZAN clips when the data is present, else synthetic notes (10 s, 22.05 kHz)."""
    genre = config.data_path("genre", "audio")
    if genre is not None:
        found = sorted(genre.rglob("*.ogg"))
        if len(found) >= n:
            return found[:n]
    import numpy as np

    folder.mkdir(parents=True, exist_ok=True)
    out = []
    for i in range(n):
        rng = np.random.default_rng(i)
        t = np.arange(10 * 22050) / 22050
        x = sum(np.sin(2 * np.pi * 110 * 2 ** (rng.integers(0, 36) / 12) * t) * rng.uniform(0.1, 0.3) for _ in range(4))
        p = folder / f"clip{i:04d}.wav"
        io.save(p, (x / 1.3)[np.newaxis].astype("float32"), 22050)
        out.append(p)
    return out


def run_import(files: list[Path], db: Path, workers: int, scheduler: str) -> dict[str, float]:
    """The import job as ``import_paths`` runs it, with the driver's write time measured separately."""
    write = 0.0
    with Library.open(db) as lib:
        def on_result(path, rec):
            nonlocal write
            t = time.perf_counter()
            store(lib, rec)
            write += time.perf_counter() - t

        t0 = time.perf_counter()
        s = jobs.run(scan(files).files, partial(identify), on_result, None, workers=workers, scheduler=scheduler, progress=False)
        wall = time.perf_counter() - t0
    assert s.done == len(files), s
    return {"wall": wall, "write": write}


def run_features_job(files: list[Path], db: Path, workers: int, scheduler: str) -> dict[str, float]:
    """The features job (import first, untimed, in-process), timed as a whole."""
    from audio_alchemy.features import batch

    with Library.open(db) as lib:
        import_paths(lib, files, workers=0, progress=False)
        t0 = time.perf_counter()
        batch.run_features(lib, workers=workers, scheduler=scheduler, progress=False)
        wall = time.perf_counter() - t0
    return {"wall": wall, "write": float("nan")}


def run_one(name: str, workers: int, sched: str, r: int, job: str, listing: Path) -> None:
    """One configuration in this (fresh) process; prints its measurements as one JSON line. ``tcp`` starts a
    2-worker LocalCluster first (its start-up measured apart) and runs the job on it through its address."""
    import distributed  # noqa: F401 - imported before timing, in every configuration alike

    files = [Path(p) for p in listing.read_text().splitlines()]
    runner = run_features_job if job == "features" else run_import
    db = listing.parent / f"{name}-{r}.sqlite"
    if sched != "tcp":
        out = runner(files, db, workers, sched)
    else:
        from distributed import Client

        from audio_alchemy.jobs.dask_executor import local_cluster

        t0 = time.perf_counter()
        with local_cluster(workers) as c, Client(c, set_as_default=False) as cl:
            cl.wait_for_workers(workers)
            startup = time.perf_counter() - t0
            out = runner(files, db, workers, c.scheduler_address)
        out["startup"] = startup
    print(json.dumps(out))


def main() -> None:
    if "--one" in sys.argv:  # internal: one configuration, run by main() in a fresh interpreter
        ap = argparse.ArgumentParser()
        ap.add_argument("--one", nargs=4)
        ap.add_argument("--job")
        ap.add_argument("--files", type=Path)
        a = ap.parse_args()
        name, w, sched, r = a.one
        run_one(name, int(w), sched, int(r), a.job, a.files)
        return
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--n", type=int, default=60, help="number of clips")
    ap.add_argument("--job", choices=("auto", "features", "import"), default="auto")
    ap.add_argument("--repeat", type=int, default=1, help="runs per configuration (the median is reported)")
    args = ap.parse_args()
    has_features = importlib.util.find_spec("audio_alchemy.features.batch") is not None
    job = ("features" if has_features else "import") if args.job == "auto" else args.job
    runner = run_features_job if job == "features" else run_import
    tmp = Path(tempfile.mkdtemp(prefix="bench-scale-"))
    files = clips(args.n, tmp / "clips")
    seconds = sum(io.probe(f).duration for f in files)
    print(f"job: {job}; clips: {len(files)} ({seconds:.0f} s of audio) from {files[0].parent.parent.name}; "
          f"cores: {len(os.sched_getaffinity(0))}; load average: {os.getloadavg()[0]:.1f}")

    configs = [("local-1", 1, "local"), ("local-2", 2, "local"), ("dask-2", 2, "dask"), ("dask-2-warm", 2, "tcp")]
    walls: dict[str, list[float]] = {name: [] for name, _, _ in configs}
    writes: dict[str, list[float]] = {name: [] for name in walls}
    startups: list[float] = []
    listing = tmp / "files.txt"
    listing.write_text("\n".join(str(f) for f in files))

    for r in range(args.repeat):  # round-robin, so load changes on this shared machine hit every configuration
        for name, w, sched in configs:
            # a fresh interpreter per run, as one `alchemy features` run: nothing (pool, forkserver, Dask threads)
            # is left over from an earlier configuration; the wall is measured inside it, after its imports
            out = subprocess.run([sys.executable, __file__, "--one", name, str(w), sched, str(r), "--job", job,
                                  "--files", str(listing)], capture_output=True, text=True)
            if out.returncode != 0:
                sys.exit(f"{name} failed:\n{out.stderr[-3000:]}")
            x = json.loads(out.stdout.strip().splitlines()[-1])
            walls[name].append(x["wall"])
            writes[name].append(x["write"])
            if "startup" in x:
                startups.append(x["startup"])
        print(f"  round {r + 1}: " + ", ".join(f"{k} {v[-1]:.2f} s" for k, v in walls.items())
              + f"; dask-2/local-2 {walls['dask-2'][-1] / walls['local-2'][-1]:.2f}; load {os.getloadavg()[0]:.1f}")

    res = {k: {"wall": statistics.median(v), "write": statistics.median(writes[k])} for k, v in walls.items()}
    for name, w, sched in configs:
        wall = res[name]["wall"]
        print(f"{name:11s} workers={w} scheduler={sched:5s} wall {wall:7.2f} s  throughput "
              f"{len(files) / wall:6.2f} clips/s ({seconds / wall:6.1f} s of audio per s)")
    startup = statistics.median(startups)
    ratio = res["dask-2"]["wall"] / res["local-2"]["wall"]
    print(f"dask_cluster_startup_s: {startup:.2f}")
    print(f"dask_overhead_vs_local: {ratio:.2f}  (dask-2 wall / local-2 wall, both including start-up; goal <= 1.2)")
    print(f"dask_overhead_vs_local_warm: {res['dask-2-warm']['wall'] / res['local-2']['wall']:.2f}  "
          "(an already running 2-worker cluster via tcp:// / local-2 including its pool start-up)")
    # this process imported distributed once, before the rounds: a CLI run pays that import too (measured apart)
    imp = [float(subprocess.run([sys.executable, "-c", "import time; t = time.perf_counter(); import distributed; "
                                 "print(time.perf_counter() - t)"], capture_output=True, text=True, check=True).stdout)
           for _ in range(3)]
    imp_s = statistics.median(imp)
    print(f"driver_import_distributed_s: {imp_s:.2f}  (fresh interpreter, median of 3; not in the dask-2 wall above)")
    print(f"dask_overhead_vs_local_with_import: {(res['dask-2']['wall'] + imp_s) / res['local-2']['wall']:.2f}  "
          "(dask-2 wall + the driver's import of distributed, as one `alchemy ... --scheduler dask` run pays it)")
    print(f"load average at the end: {os.getloadavg()[0]:.1f} (1 min), {os.getloadavg()[1]:.1f} (5 min)")

    # model: T(W) = N / (s + N * max(c / (W * e), w)) with c the per-clip task time on one worker, e the parallel
    # efficiency per added worker measured here, w the driver's per-clip write time, s the cluster start-up.
    n = len(files)
    c = res["local-1"]["wall"] / n
    speedup = res["local-1"]["wall"] / res["local-2"]["wall"]
    eff = min(speedup / 2, 1.0)
    w = res["local-2"]["write"] / n if job == "import" else 0.005
    print(f"model: per-clip task {c * 1000:.0f} ms on one worker; 2-worker speed-up {speedup:.2f} (efficiency {eff:.2f}); "
          f"driver write {w * 1000:.1f} ms/clip{' (measured)' if job == 'import' else ' (assumed)'}; start-up {startup:.1f} s")
    print("assumptions: every worker is a core like these; audio is read from storage that keeps up "
          "(each worker reads ~" f"{os.path.getsize(files[0]) / c / 1e6:.2f} MB/s); the single SQLite writer is the only "
          "shared resource (use --out parquet:// beyond its rate); efficiency stays at the 2-worker value; 50,000 clips")
    big = 50_000
    for workers in (1, 2, 8, 32, 128, 512):
        per_clip = max(c / (workers * eff) if workers > 1 else c, w)
        t = startup + big * per_clip
        bound = "writer-bound" if per_clip == w else "compute-bound"
        print(f"  workers={workers:4d}: {1 / per_clip:8.1f} clips/s, 50,000 clips in {t / 3600:6.2f} h ({bound})")


if __name__ == "__main__":
    main()
