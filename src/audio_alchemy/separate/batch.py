"""The library separation job: every song (track_type 0) gets a vocals (1) and an accompaniment (2) stem.

Workers decode and separate (``_separate_one``, top-level and picklable) and write the two stem files (FLAC,
the song's rate and channels) under ``<library home>/derived/stems/<separator>/``; the calling process alone
writes the database (``Library.add_stem``). Cached by (song content hash, separator name, version): a song
whose two stems by this separator version exist is skipped, so re-running does nothing and an interrupted run
resumes. A bad file is recorded in ``errors`` (stage ``separate``) and the batch goes on.
Long files are separated window by window straight from disk to disk (:func:`separate_file`), so memory stays
bounded whatever the length.
"""

from __future__ import annotations

import functools
import hashlib
import os
import re
import tempfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ..io.errors import error_line
from .base import STEMS, Separator
from .registry import get_separator
from .voice import energy_ratio_db, vocal_to_mix_db, voice_probability

STAGE = "separate"
TRACK_TYPES = {"vocals": 1, "accompaniment": 2}
STREAM_ABOVE_SECONDS = 900.0  # files longer than this are separated window by window (bounded memory)


@dataclass(frozen=True)
class SeparationTask:
    """One unit of work, picklable: which song, where its stems go, which separator builds them."""

    track_id: int
    path: str
    content_hash: str
    out_dir: str
    model: str
    model_dir: str | None
    device: str
    threads: int

    def __str__(self) -> str:
        return self.path


_SEPARATORS: dict[tuple, Separator] = {}


def _separator(model: str, model_dir: str | None, device: str, threads: int) -> Separator:
    """One separator per worker process (models load once, not once per song)."""
    key = (model, model_dir, device)
    if key not in _SEPARATORS:
        import torch

        torch.set_num_threads(max(threads, 1))
        _SEPARATORS[key] = get_separator(model, model_dir=model_dir, device=device)
    return _SEPARATORS[key]


def _safe(name: str) -> str:
    return re.sub(r"[^A-Za-z0-9._-]+", "_", name)


def _file_hash(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def separate_file(sep: Separator, path: str | Path, out: dict[str, Path], window_seconds: float = 120.0,
                  context_seconds: float = 5.0) -> dict[str, float | int]:
    """Separate the audio file ``path`` into ``out[stem]`` FLAC files without holding it in memory.

    Windows of ``window_seconds`` are decoded with ``context_seconds`` of audio on each side, separated,
    and their centres written one after another. Returns ``{"duration", "sample_rate", "channels"}``.
    """
    import soundfile as sf

    from audio_alchemy.io import EmptyAudio, load, probe

    info = probe(path)
    sr, ch = info.sample_rate, info.channels
    tmp = {s: Path(tempfile.mkstemp(dir=out[s].parent, prefix=f".part-{os.getpid()}-", suffix=".flac")[1])
           for s in STEMS}  # the writer's pid in the name: remove_stale_parts knows whose it is
    written = 0
    energy = {"vocals": 0.0, "mix": 0.0}
    try:
        files = {s: sf.SoundFile(os.fsencode(tmp[s]), "w", sr, ch, subtype="PCM_16", format="FLAC") for s in STEMS}
        try:
            start = 0.0
            while True:
                lo = max(start - context_seconds, 0.0)
                try:
                    a = load(path, offset=lo, duration=window_seconds + (start - lo) + context_seconds)
                except EmptyAudio:
                    break
                head = int(round((start - lo) * sr))
                if a.n <= head:
                    break
                stems = sep.separate(a.samples, a.sr)
                core = min(int(round(window_seconds * sr)), a.n - head)
                for s in STEMS:
                    files[s].write(np.clip(stems[s][:, head:head + core], -1.0, 1.0).T)
                energy["vocals"] += float(np.sum(np.square(stems["vocals"][:, head:head + core], dtype=np.float64)))
                energy["mix"] += float(np.sum(np.square(a.samples[:, head:head + core], dtype=np.float64)))
                written += core
                if a.n < head + int(round((window_seconds + context_seconds) * sr)) - 1:
                    break  # reached the end of the file
                start += window_seconds
        finally:
            for f in files.values():
                f.close()
        if written == 0:
            raise EmptyAudio(path, "no audio samples decoded")
        for s in STEMS:
            os.replace(tmp[s], out[s])
    finally:
        for p in tmp.values():
            if p.exists():
                p.unlink()
    return {"duration": written / sr, "sample_rate": sr, "channels": ch,
            "vocal_db": energy_ratio_db(energy["vocals"], energy["mix"])}


def _separate_one(task: SeparationTask) -> dict:
    """Worker side: decode, separate, write both stems; returns paths, hashes and the audio description."""
    from audio_alchemy.io import load, probe, save

    sep = _separator(task.model, task.model_dir, task.device, task.threads)
    out_dir = Path(task.out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    base = f"{task.track_id}-{task.content_hash[:16]}"
    out = {s: out_dir / f"{base}.{s}.flac" for s in STEMS}
    info = probe(task.path)
    if info.duration > STREAM_ABOVE_SECONDS:
        desc = separate_file(sep, task.path, out)
    else:
        audio = load(task.path)
        stems = sep.separate(audio.samples, audio.sr)
        for s in STEMS:
            save(out[s], stems[s], audio.sr)
        desc = {"duration": audio.duration, "sample_rate": audio.sr, "channels": audio.channels,
                "vocal_db": vocal_to_mix_db(stems["vocals"], audio.samples)}
    return {"separator": sep.id, "paths": {s: str(p) for s, p in out.items()},
            "hashes": {s: _file_hash(p) for s, p in out.items()}, **desc}


VOICE_TASK = "voice"


def store_voice(lib, track_id: int, separator_id: str, vocal_db: float) -> None:
    """Store whether the song has singing (task ``voice``: ``vocals`` or ``instrumental``) from its vocal stem's
    share of the energy, when ``separator_id``'s curve was measured (:mod:`audio_alchemy.separate.voice`)."""
    p = voice_probability(vocal_db, separator_id)
    if p is not None:
        lib.put_prediction(track_id, VOICE_TASK, f"vocal-stem-energy ({separator_id})",
                           "vocals" if p >= 0.5 else "instrumental", {"vocals": p, "instrumental": 1.0 - p})


def remove_stale_parts(folder: Path) -> int:
    """Delete the half-written stems (``.part-<pid>-*.flac``) of writers that are gone (kill -9 leaves them);
    a running writer's, in another process, are kept. Returns how many were removed."""
    from ..library.db import process_alive

    removed = 0
    for p in Path(folder).glob(".part-*.flac"):
        pid = p.name.split("-")[1]
        if pid.isdigit() and not process_alive(int(pid)):
            p.unlink(missing_ok=True)
            removed += 1
    return removed


def pending_tasks(lib, sep: Separator, model: str, model_dir: str | None = None, device: str = "auto",
                  workers: int = 1, track_ids: list[int] | None = None) -> tuple[list[SeparationTask], int, list[str]]:
    """Tasks for every song lacking a vocals or accompaniment stem by ``sep.id``; also the skip count and the
    error lines of songs whose files are gone (recorded as errors)."""
    out_dir = lib.derived_dir("stems", _safe(sep.id))
    cores = max(os.cpu_count() or 1, 1)
    threads = max(cores // max(workers, 1), 1)
    tasks, skipped, missing = [], 0, []
    wanted = set(track_ids) if track_ids else None
    for t in lib.tracks(track_type=0):
        if wanted is not None and t.id not in wanted:
            continue
        have = [lib.find_stem(t.id, tt, sep.id) for tt in TRACK_TYPES.values()]
        if all(have) and all(lib.track_path(h) for h in have):
            skipped += 1
            continue
        path = lib.track_path(t.id)
        if path is None:
            missing.append(lib.record_missing_file(STAGE, t.id))
            continue
        tasks.append(SeparationTask(t.id, path, t.content_hash, str(out_dir), model, model_dir, device, threads))
    return tasks, skipped, missing


def run_separation(lib, model: str = "auto", workers: int | None = None, model_dir: str | Path | None = None,
                   device: str = "auto", scheduler: str | None = None, progress: bool = True,
                   track_ids: list[int] | None = None):
    """Separate every song not yet separated by this model/version; store stems as tracks 1 and 2.

    ``model`` as :func:`~audio_alchemy.separate.get_separator` (``auto``: Demucs htdemucs when its weights
    are on disk, else Spleeter when installed, else the offline mask network). Returns the
    :class:`audio_alchemy.jobs.JobSummary`.
    """
    model_dir = str(model_dir) if model_dir else None
    sep = get_separator(model, model_dir=model_dir, device=device)  # fails early (e.g. missing weights)
    with lib.exclusive(STAGE):  # a second run on this library would separate the same songs again
        return _run_separation(lib, sep, model, workers, model_dir, device, scheduler, progress, track_ids)


def _run_separation(lib, sep: Separator, model: str, workers: int | None, model_dir: str | None, device: str,
                    scheduler: str | None, progress: bool, track_ids: list[int] | None):
    from audio_alchemy import jobs

    concrete, model_dir = sep.rebuild_args(model_dir)  # what workers build: the separator the driver resolved
    n_workers = jobs.default_workers() if workers is None else workers
    if hasattr(sep, "model_name") or n_workers <= 1:
        n_workers = 0  # Demucs: one in-process model on every core beats several processes competing for them
    remove_stale_parts(lib.derived_dir("stems", _safe(sep.id)))  # what a kill -9 left half-written
    tasks, skipped, missing = pending_tasks(lib, sep, concrete, model_dir, device, max(n_workers, 1), track_ids)
    if len(tasks) <= 1:
        n_workers = 0
    if n_workers > 1 and sep.uses_numba:  # numba's cache breaks when two workers compile at once: compile here
        sep.separate(np.random.default_rng(0).standard_normal((2, 3 * sep.sample_rate)).astype(np.float32) * 0.1,
                     sep.sample_rate)
    if n_workers == 0:
        _SEPARATORS[(concrete, model_dir, device)] = sep  # reuse the already loaded model in-process
    job_id = lib.start_job(STAGE, {"model": model, "separator": sep.id, "model_dir": model_dir},
                           total=len(tasks) + len(missing))

    def on_result(task: SeparationTask, value: dict) -> None:
        with lib.transaction():
            for stem, tt in TRACK_TYPES.items():
                lib.add_stem(task.track_id, tt, value["separator"], value["paths"][stem], value["hashes"][stem],
                             duration=value["duration"], sample_rate=value["sample_rate"], channels=value["channels"])
            store_voice(lib, task.track_id, value["separator"], value["vocal_db"])
            lib.clear_error(STAGE, task.path)
            lib.job_progress(job_id, done=1)

    def on_error(task: SeparationTask, exc: BaseException) -> None:
        kind = getattr(exc, "kind", type(exc).__name__)
        lib.fail_item(STAGE, task.path, kind, error_line(task.path, exc), job_id)

    summary = lib.run_job(job_id, lambda: jobs.run(tasks, functools.partial(_separate_one), on_result, on_error,
                                                   workers=n_workers, scheduler=scheduler,
                                                   desc=f"separate ({sep.id})", progress=progress),
                          missing, skipped)
    summary.what = sep.id
    return summary
