"""The library-wide features job: every track (songs and stems) lacking ``(feature_set, VERSION)`` gets it.

Runs on ``audio_alchemy.jobs.run``: workers decode and compute (``_compute_one``, top-level and picklable),
the calling process alone writes the database (features row, image artifacts, errors). Resumable: tracks
already stored with this set and version are skipped; a failed file is recorded in ``errors`` (stage
``features:<set>``) with its typed kind and the batch goes on; a later success clears the error.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from ..io.errors import error_line
from .sets import FEATURE_SETS, VERSION


@dataclass(frozen=True)
class FeatureTask:
    """One unit of work, picklable: which file, which set, where images go (None = no images)."""

    track_id: int
    path: str
    track_type: int
    feature_set: str
    image_stem: str | None = None
    problem: Exception | None = None  # the track has no intact file: the task fails with this (file gone/changed)

    def __str__(self) -> str:
        return self.path


def _limit_threads() -> None:
    for var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS", "NUMBA_NUM_THREADS"):
        os.environ.setdefault(var, "1")


def _compute_one(task: FeatureTask) -> tuple[dict[str, Any], dict[str, str]]:
    """Worker side: one decode, one front end, the feature set and (optionally) the mel images."""
    _limit_threads()
    from .images import save_images
    from .sets import analyse_file

    if task.problem is not None:
        raise task.problem
    feats, audio, fe = analyse_file(task.path, task.feature_set, task.track_type)
    arts = save_images(audio.samples, audio.sr, task.image_stem, fe=fe) if task.image_stem else {}
    return feats, arts


def warm_up(feature_set: str, images: bool = False) -> None:
    """Compile, or load from numba's on-disk cache, every JIT function ``feature_set`` uses, in this process.

    Why: numba's cache is not safe against two processes compiling the same function at the same time. On a
    fresh install the first parallel run had both workers compile librosa's ``peak_pick`` at once and write
    mismatched cache entries; every later process that loaded them crashed (segfault). Run before worker
    processes start, so they only ever read the cache. About 8 s the first time, well under 1 s afterwards.
    """
    import tempfile

    from .frontend import analyze
    from .images import save_images
    from .sets import full_features, seed_features

    sr = 44100
    t = np.arange(3 * sr) / sr
    clicks = (np.sin(2 * np.pi * 2 * t) > 0.99).astype(np.float64)  # onsets and beats to find
    x = np.stack([0.1 * np.sin(2 * np.pi * 220 * t) + 0.3 * clicks,
                  0.1 * np.sin(2 * np.pi * 330 * t) + 0.3 * clicks]).astype(np.float32)
    fe = analyze(x, sr)
    seed_features(fe, 0)
    if feature_set == "full":
        full_features(fe, x, sr, 0)
    if images:
        with tempfile.TemporaryDirectory() as d:
            save_images(x, sr, str(Path(d) / "warm"), fe=fe)


def _parallel_processes(tasks: list, workers: int | None, scheduler: str | None) -> bool:
    """Whether :func:`audio_alchemy.jobs.run` may have two worker processes compiling at once for these tasks."""
    from .. import jobs

    n = jobs.default_workers() if workers is None else workers
    return len(tasks) > 1 and (n > 1 or scheduler not in (None, "local"))


def pending_tasks(lib, feature_set: str = "seed", images: bool = False,
                  force: bool = False) -> tuple[list[FeatureTask], int]:
    """Tasks for every track without ``(feature_set, VERSION)`` (all tracks with ``force``), and the skip count.

    A track whose file is gone or changed gets a task that fails with that error, so that it reaches whichever
    sink the run writes to (the database, or Parquet without touching the database)."""
    if feature_set not in FEATURE_SETS:
        raise ValueError(f"unknown feature set {feature_set!r}; choose one of {FEATURE_SETS}")
    done = set() if force else lib.tracks_with_features(feature_set, VERSION)
    img_dir = lib.derived_dir("images") if images else None
    tasks, skipped = [], 0
    for t in lib.tracks():
        has_images = images and {"mel_grey_png", "mel_viridis_png", "mel_npz"} <= set(lib.artifacts(t.id))
        if t.id in done and (not images or has_images):
            skipped += 1
            continue
        # id and content, as stems are named: two libraries sharing a folder never overwrite each other's images
        stem = str(Path(img_dir) / f"{t.id}-{t.content_hash[:16]}") if img_dir else None
        path = lib.track_path(t.id)
        if path is None:
            problem = lib.file_problem(t.id)
            tasks.append(FeatureTask(t.id, problem.path, int(t.track_type), feature_set, stem, problem))
            continue
        tasks.append(FeatureTask(t.id, path, int(t.track_type), feature_set, stem))
    return tasks, skipped


def run_features(lib, feature_set: str = "seed", images: bool = False, workers: int | None = None,
                 scheduler: str | None = None, progress: bool = True, force: bool = False, out: str | None = None):
    """Compute ``feature_set`` for every track not done yet; store rows/artifacts; return the JobSummary.

    ``out="parquet://DIR"`` writes the results (features and per-file errors) to a Parquet dataset instead of the
    database; ``alchemy import-results DIR`` merges them later. A re-run skips tracks already in ``DIR``.
    """
    from ..jobs.parquet_sink import parse_out

    to_parquet = parse_out(out) is not None  # a bad --out fails here, before any work
    stage = f"features:{feature_set}"
    with lib.exclusive(stage):  # a second run of this set on this library would redo the same tracks
        return _run_features(lib, stage, feature_set, images, workers, scheduler, progress, force, out, to_parquet)


def _run_features(lib, stage: str, feature_set: str, images: bool, workers: int | None, scheduler: str | None,
                  progress: bool, force: bool, out: str | None, to_parquet: bool):
    from .. import jobs
    from ..jobs.parquet_sink import run_to_parquet

    tasks, skipped = pending_tasks(lib, feature_set, images, force)
    if _parallel_processes(tasks, workers, scheduler):
        warm_up(feature_set, images)
    if to_parquet:
        hashes = {t.id: t.content_hash for t in lib.tracks()}  # lets the merge find the track in any library copy
        summary, written = run_to_parquet(
            tasks, _compute_one, out, stage, key=lambda t: t.path, workers=workers,
            scheduler=scheduler, progress=progress,
            payload=lambda t, r: {"track_id": t.track_id, "content_hash": hashes.get(t.track_id), "feature_set":
                                  t.feature_set, "version": VERSION, "data": r[0], "artifacts": r[1]})
        summary.skipped = skipped + written
        return summary
    job_id = lib.start_job(stage, {"feature_set": feature_set, "version": VERSION, "images": images},
                           total=len(tasks))

    def on_result(task: FeatureTask, value) -> None:
        feats, arts = value
        with lib.transaction():
            lib.put_features(task.track_id, task.feature_set, VERSION, feats, arts)
            lib.clear_error(stage, task.path)
            lib.job_progress(job_id, done=1)

    def on_error(task: FeatureTask, exc: BaseException) -> None:
        kind = getattr(exc, "kind", type(exc).__name__)
        lib.fail_item(stage, task.path, kind, error_line(task.path, exc), job_id)

    return lib.run_job(job_id, lambda: jobs.run(tasks, _compute_one, on_result, on_error, workers=workers,
                                                scheduler=scheduler, desc=f"features {feature_set}", progress=progress),
                       skipped=skipped)
