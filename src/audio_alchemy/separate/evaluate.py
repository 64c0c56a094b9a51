"""Separation quality: SDR per track and median over a folder of reference stems.

Metric: BSS-eval SDR computed with ``fast_bss_eval.bss_eval_sources`` (time-invariant 512-tap
distortion filter over the span of both references, as BSS-eval v4 / museval do; no permutation search),
per channel and averaged over channels, over the whole excerpt (museval would take the median of 1-s frames;
on 7-s previews the two agree within a few tenths of a dB). Folder layout: one sub-folder per track with
``mixture.*``, ``vocals.*``, ``accompaniment.*`` (as ``$AUDIO_ALCHEMY_DATA/stems``).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

STEM_NAMES = ("vocals", "accompaniment")
_SUFFIXES = (".flac", ".wav", ".ogg", ".mp3")


def sdr(references: np.ndarray, estimates: np.ndarray, filter_length: int = 512) -> np.ndarray:
    """SDR in dB of each source: ``references``/``estimates`` ``(sources, channels, n)`` -> ``(sources,)``.

    Channels are scored separately and averaged. A source whose reference is silent gets NaN.
    """
    import torch

    ref = np.asarray(references, dtype=np.float64)
    est = np.asarray(estimates, dtype=np.float64)
    if ref.shape != est.shape:
        raise ValueError(f"references {ref.shape} and estimates {est.shape} differ in shape")
    out = np.full(ref.shape[0], np.nan)
    # torch 2.13's multi-threaded MKL LU fails inside bss_eval's solve ("DLASWP parameter 6 was incorrect") and
    # yields NaN whenever torch runs more than one thread; the solves are small, so run them on one thread.
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        per_channel = _sdr_per_channel(ref, est, filter_length)
    finally:
        torch.set_num_threads(threads)
    if per_channel:
        with np.errstate(all="ignore"):
            import warnings

            with warnings.catch_warnings():
                warnings.simplefilter("ignore", RuntimeWarning)
                out = np.nanmean(per_channel, axis=0)
    return out


def _sdr_per_channel(ref: np.ndarray, est: np.ndarray, filter_length: int) -> list[np.ndarray]:
    """BSS-eval SDR ``(sources,)`` per channel of ``(sources, channels, n)`` float64 arrays (silent sources NaN)."""
    import fast_bss_eval
    import torch  # fast_bss_eval 0.1.4's NumPy backend breaks on NumPy 2 (linalg.solve); its torch one works

    per_channel = []
    for c in range(ref.shape[1]):
        live = np.flatnonzero(np.sum(ref[:, c] ** 2, axis=-1) > 1e-8)  # silent references make BSS-eval singular
        if live.size == 0:
            continue
        row = np.full(ref.shape[0], np.nan)
        try:
            s, _, _ = fast_bss_eval.bss_eval_sources(torch.from_numpy(ref[live, c]), torch.from_numpy(est[live, c]),
                                                     filter_length=filter_length, compute_permutation=False)
            row[live] = s.numpy()
        except RuntimeError:  # torch.linalg.LinAlgError: degenerate (e.g. linearly dependent) references
            pass
        per_channel.append(row)
    return per_channel


@dataclass
class TrackScore:
    track: str
    vocals_db: float
    accompaniment_db: float
    seconds: float = 0.0


@dataclass
class EvalReport:
    """Per-track SDRs plus medians; ``baseline_*`` is the mixture used as the estimate of each stem."""

    model: str
    tracks: list[TrackScore] = field(default_factory=list)
    baseline: list[TrackScore] = field(default_factory=list)

    @property
    def vocals_median(self) -> float:
        return float(np.nanmedian([t.vocals_db for t in self.tracks]))

    @property
    def accompaniment_median(self) -> float:
        return float(np.nanmedian([t.accompaniment_db for t in self.tracks]))

    @property
    def baseline_vocals_median(self) -> float:
        return float(np.nanmedian([t.vocals_db for t in self.baseline]))

    @property
    def baseline_accompaniment_median(self) -> float:
        return float(np.nanmedian([t.accompaniment_db for t in self.baseline]))


def _find(folder: Path, stem: str) -> Path:
    for suf in _SUFFIXES:
        p = folder / f"{stem}{suf}"
        if p.exists():
            return p
    raise FileNotFoundError(f"{folder}: no {stem}.(flac|wav|ogg|mp3)")


def track_folders(stems_dir: str | Path) -> list[Path]:
    """Sub-folders of ``stems_dir`` that hold a mixture and both reference stems, sorted by name."""
    root = Path(stems_dir)
    if not root.is_dir():
        raise FileNotFoundError(f"stems folder not found: {root}")
    out = []
    for d in sorted(p for p in root.iterdir() if p.is_dir()):
        try:
            for s in ("mixture",) + STEM_NAMES:
                _find(d, s)
        except FileNotFoundError:
            continue
        out.append(d)
    return out


def evaluate_folder(
    separator,
    stems_dir: str | Path,
    limit: int | None = None,
    on_track: Callable[[TrackScore], None] | None = None,
) -> EvalReport:
    """Separate every track's mixture with ``separator`` and score both stems against the references."""
    from audio_alchemy.io import load

    report = EvalReport(model=f"{separator.name}@{separator.version}")
    for d in track_folders(stems_dir)[:limit]:
        mix = load(_find(d, "mixture"))
        refs = np.stack([load(_find(d, s), sr=mix.sr).samples for s in STEM_NAMES])
        n = min(refs.shape[-1], mix.n)
        t0 = time.perf_counter()
        out = separator.separate(mix.samples[:, :n], mix.sr)
        secs = time.perf_counter() - t0
        est = np.stack([out[s][:, :n] for s in STEM_NAMES])
        v, a = sdr(refs[..., :n], est)
        score = TrackScore(d.name, float(v), float(a), secs)
        mixest = np.stack([mix.samples[:, :n]] * 2)
        bv, ba = sdr(refs[..., :n], mixest)
        report.tracks.append(score)
        report.baseline.append(TrackScore(d.name, float(bv), float(ba)))
        if on_track:
            on_track(score)
    return report
