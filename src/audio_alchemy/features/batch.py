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

from .sets import FEATURE_SETS, VERSION


@dataclass(frozen=True)
class FeatureTask:
    """One unit of work, picklable: which file, which set, where images go (None = no images)."""

    track_id: int
    path: str
    track_type: int
    feature_set: str
    image_stem: str | None = None

    def __str__(self) -> str:
        return self.path


def _limit_threads() -> None:
    for var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS", "NUMBA_NUM_THREADS"):
        os.environ.setdefault(var, "1")


def _compute_one(task: FeatureTask) -> tuple[dict[str, Any], dict[str, str]]:
    """Worker side: one decode, one front end, the feature set and (optionally) the mel images."""
    _limit_threads()
    from ..io import load
    from .frontend import analyze
    from .images import save_images
    from .sets import full_features, seed_features, _json_safe

    audio = load(task.path)
    if audio.samples.size == 0:
        from ..io import EmptyAudio

        raise EmptyAudio(task.path, "no samples")
    fe = analyze(audio.samples, audio.sr)
    if task.feature_set == "seed":
        feats = _json_safe(seed_features(fe, task.track_type))
    else:
        feats = full_features(fe, audio.samples, audio.sr, task.track_type)
    arts = save_images(audio.samples, audio.sr, task.image_stem, fe=fe) if task.image_stem else {}
    return feats, arts


def pending_tasks(lib, feature_set: str = "seed", images: bool = False,
                  force: bool = False) -> tuple[list[FeatureTask], int, list[str]]:
    """Tasks for every track without ``(feature_set, VERSION)`` (all tracks with ``force``); also the skip count
    and the error lines of tracks whose files are gone (recorded as errors)."""
    if feature_set not in FEATURE_SETS:
        raise ValueError(f"unknown feature set {feature_set!r}; choose one of {FEATURE_SETS}")
    done = set() if force else lib.tracks_with_features(feature_set, VERSION)
    img_dir = lib.derived_dir("images") if images else None
    tasks, skipped, missing = [], 0, []
    for t in lib.tracks():
        has_images = images and {"mel_grey_png", "mel_viridis_png", "mel_npz"} <= set(lib.artifacts(t.id))
        if t.id in done and (not images or has_images):
            skipped += 1
            continue
        path = lib.track_path(t.id)
        if path is None:
            missing.append(lib.record_missing_file(f"features:{feature_set}", t.id))
            continue
        stem = str(Path(img_dir) / f"{t.id}") if img_dir is not None else None
        tasks.append(FeatureTask(t.id, path, int(t.track_type), feature_set, stem))
    return tasks, skipped, missing


def run_features(lib, feature_set: str = "seed", images: bool = False, workers: int | None = None,
                 scheduler: str | None = None, progress: bool = True, force: bool = False, out: str | None = None):
    """Compute ``feature_set`` for every track not done yet; store rows/artifacts; return the JobSummary.

    ``out="parquet://DIR"`` writes the results (features and per-file errors) to a Parquet dataset instead of the
    database; ``alchemy import-results DIR`` merges them later. A re-run skips tracks already in ``DIR``.
    """
    from .. import jobs
    from ..jobs.parquet_sink import parse_out, run_to_parquet

    to_parquet = parse_out(out) is not None  # a bad --out fails here, before any work
    tasks, skipped, missing = pending_tasks(lib, feature_set, images, force)
    stage = f"features:{feature_set}"
    if to_parquet:
        hashes = {t.id: t.content_hash for t in lib.tracks()}  # lets the merge find the track in any library copy
        summary, written = run_to_parquet(
            tasks, _compute_one, out, stage, key=lambda t: t.path, workers=workers,
            scheduler=scheduler, progress=progress,
            payload=lambda t, r: {"track_id": t.track_id, "content_hash": hashes.get(t.track_id), "feature_set":
                                  t.feature_set, "version": VERSION, "data": r[0], "artifacts": r[1]})
        summary.skipped = skipped + written
        summary.add_failures(missing)
        return summary
    job_id = lib.start_job(stage, {"feature_set": feature_set, "version": VERSION, "images": images},
                           total=len(tasks))

    def on_result(task: FeatureTask, value) -> None:
        feats, arts = value
        with lib.transaction():
            lib.put_features(task.track_id, task.feature_set, VERSION, feats, arts)
            lib.clear_error(stage, task.path)

    def on_error(task: FeatureTask, exc: BaseException) -> None:
        kind = getattr(exc, "kind", type(exc).__name__)
        lib.record_error(stage, task.path, kind, str(exc) if task.path in str(exc) else f"{task.path}: {exc}",
                         job_id)

    return lib.run_job(job_id, lambda: jobs.run(tasks, _compute_one, on_result, on_error, workers=workers,
                                                scheduler=scheduler, desc=f"features {feature_set}", progress=progress),
                       missing, skipped)
