"""Benchmark: the study-style reference (one librosa call per feature, pyin) vs the fast ``seed`` set, same clips, one run.

    python bench/features.py [--quick] [--clips N] [--no-library] [--workers 2]

Clips: ``$AUDIO_ALCHEMY_DATA/genre`` and ``demo`` (synthetic audio when absent). Threads are pinned to 1
for the single-core measurements. Both paths get the same decoded samples; the reference gets them as the
study did (mono, 22.05 kHz). JIT warm-up (numba in librosa and in our code) runs first and is reported
separately. Prints per-stage times, x real time, the ``full`` set's x real time per core, the library job's
rate with ``--workers`` processes, and LAST ``speedup_vs_seed_reference: <N>x`` (reference feature time /
fast seed feature time, decode excluded on both sides; the end-to-end ratio including decode is printed
just before it). Single-core times are CPU seconds (``time.process_time``) of this one-thread process, so
other jobs on a shared machine disturb them less than wall time; the library rate is wall time.
"""

from __future__ import annotations

import os

for _v in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS", "NUMBA_NUM_THREADS", "VECLIB_MAXIMUM_THREADS"):
    os.environ[_v] = "1"

import argparse  # noqa: E402
import shutil  # noqa: E402
import sys  # noqa: E402
import tempfile  # noqa: E402
import time  # noqa: E402
from pathlib import Path  # noqa: E402

import numpy as np  # noqa: E402


CLOCK = time.process_time  # CPU seconds of this (single-threaded) process: robust to other load on shared machines


def clips(quick: bool, n_max: int | None) -> list[tuple[str, np.ndarray, int, float]]:
    """(name, samples (c, n), sr, decode seconds) for the chosen clips; synthetic when no data."""
    from audio_alchemy.config import data_path
    from audio_alchemy.io import load

    paths: list[Path] = []
    genre = data_path("genre")
    demo = data_path("demo")
    if genre is not None:
        by_genre = sorted((genre / "audio").glob("*/*.ogg"))
        if quick:
            paths += [p for p in by_genre if p.name.endswith(".00000.ogg")][:3]
        else:
            paths += by_genre[:: max(1, len(by_genre) // 20)]
    if demo is not None and not quick:
        paths += sorted(p for p in demo.iterdir() if p.suffix in (".ogg", ".mp3"))[:3]
    if n_max:
        paths = paths[:n_max]
    out = []
    total = 0.0
    for p in paths:
        t0 = time.perf_counter()
        a = load(p, duration=20.0 if quick else 30.0)
        dt = time.perf_counter() - t0
        if quick and total + a.duration > 59.0:
            break
        total += a.duration
        out.append((p.name, a.samples, a.sr, dt))
    if not out:
        from audio_alchemy.synth import __name__ as _  # noqa: F401  (optional helper, not required)

        rng = np.random.default_rng(0)
        sr = 22050
        for i in range(3):
            t = np.arange(15 * sr) / sr
            tone = 0.3 * np.sin(2 * np.pi * (110 * 2 ** (i / 12)) * t) * (1 + np.sin(2 * np.pi * 2 * t)) / 2
            out.append((f"synthetic{i}", (tone + 0.01 * rng.standard_normal(len(t))).astype(np.float32)[None], sr, 0.0))
    return out


def fmt_stages(t: dict) -> str:
    return ", ".join(f"{k} {v * 1000:.0f} ms" for k, v in sorted(t.items(), key=lambda kv: -kv[1]))


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="a few clips, < 60 s of audio")
    ap.add_argument("--clips", type=int, default=None)
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--no-library", action="store_true", help="skip the library-job measurement")
    ap.add_argument("--repeat", type=int, default=3, help="fast path: best of N per clip (noise on shared machines)")
    args = ap.parse_args()

    import librosa

    from audio_alchemy.features import extract
    from audio_alchemy.features.frontend import to_analysis_rate
    from audio_alchemy.features.reference import SR, reference_seed

    data = clips(args.quick, args.clips)
    audio_s = sum(s.shape[-1] / sr for _, s, sr, _ in data)
    print(f"clips: {len(data)}, {audio_s:.1f} s of audio; threads pinned to 1")

    t0 = time.perf_counter()
    warm = (0.1 * np.sin(2 * np.pi * 220 * np.arange(3 * SR) / SR)).astype(np.float32)
    reference_seed(warm, SR)
    extract(warm, SR, "seed")
    extract(warm, SR, "full")
    print(f"warm-up (JIT compile/caches, excluded): {time.perf_counter() - t0:.1f} s")

    ref_t: dict = {}
    fast_t: dict = {}
    full_t: dict = {}
    ref_total = fast_total = full_total = 0.0
    decode_total = sum(d for *_, d in data)
    agree = {"key": 0, "tempo": 0, "n": 0}
    f0_rel = []
    for name, samples, sr, _ in data:
        y = to_analysis_rate(samples, sr)  # what librosa.load(sr=22050) gives (mono, soxr HQ)
        t1 = CLOCK()
        ref = reference_seed(y, SR, timings=ref_t)
        dt_ref = CLOCK() - t1
        best = np.inf
        for _ in range(args.repeat):
            tt: dict = {}
            t1 = CLOCK()
            fast = extract(samples, sr, "seed", timings=tt)
            dt = CLOCK() - t1
            if dt < best:
                best, best_t = dt, tt
        for k, v in best_t.items():
            fast_t[k] = fast_t.get(k, 0.0) + v
        best_full = np.inf
        for _ in range(max(1, args.repeat - 1)):
            tt = {}
            t1 = CLOCK()
            extract(samples, sr, "full", timings=tt)
            dt = CLOCK() - t1
            if dt < best_full:
                best_full, best_full_t = dt, tt
        for k, v in best_full_t.items():
            full_t[k] = full_t.get(k, 0.0) + v
        ref_total += dt_ref
        fast_total += best
        full_total += best_full
        dur = samples.shape[-1] / sr
        agree["n"] += 1
        agree["key"] += ref["key"] == fast["key"]
        if ref["tempo"] and fast["tempo"]:
            agree["tempo"] += abs(fast["tempo"] / ref["tempo"] - 1) <= 0.04
        if ref["fundamental_freq"] and fast["fundamental_freq"]:
            f0_rel.append(abs(fast["fundamental_freq"] / ref["fundamental_freq"] - 1))
        print(f"  {name:32s} {dur:5.1f} s  reference {dt_ref:6.2f} s ({dur / dt_ref:5.1f}x rt)  "
              f"seed {best * 1000:6.1f} ms ({dur / best:6.0f}x rt)  full {best_full * 1000:6.1f} ms "
              f"({dur / best_full:5.0f}x rt)  key {ref['key']}/{fast['key']} tempo {ref['tempo']:.1f}/"
              f"{fast['tempo'] or float('nan'):.1f} f0 {ref['fundamental_freq'] or float('nan'):.1f}/"
              f"{fast['fundamental_freq'] or float('nan'):.1f}")
    print(f"reference stages: {fmt_stages(ref_t)}")
    print(f"fast seed stages: {fmt_stages(fast_t)}")
    print(f"fast full stages: {fmt_stages(full_t)}")
    print(f"agreement: key {agree['key']}/{agree['n']}, tempo within 4% {agree['tempo']}/{agree['n']}, "
          f"fundamental_freq median rel. diff {np.median(f0_rel) * 100 if f0_rel else float('nan'):.1f}%")
    print(f"reference (study-style seed): {audio_s / ref_total:.1f}x real time on one core")
    print(f"fast seed: {audio_s / fast_total:.0f}x real time on one core")
    print(f"fast full: {audio_s / full_total:.0f}x real time per core")

    if not args.no_library:
        try:
            rate = library_rate(data, args.workers)
            print(f"library job (seed, --workers {args.workers}, decode + features + DB): {rate:.0f}x real time wall")
        except Exception as exc:  # noqa: BLE001 - the library is optional for this bench
            print(f"library job: skipped ({type(exc).__name__}: {exc})")

    ref_e2e = ref_total + decode_total
    fast_e2e = fast_total + decode_total
    print(f"end_to_end_speedup_incl_decode: {ref_e2e / fast_e2e:.0f}x (decode {decode_total:.2f} s both sides)")
    print(f"speedup_vs_seed_reference: {ref_total / fast_total:.0f}x")
    return 0


def library_rate(data, workers: int) -> float:
    """Seconds of audio per wall second for ``run_features`` over a temporary library of the clips."""
    from audio_alchemy.features.batch import run_features
    from audio_alchemy.io import save
    from audio_alchemy.library import Library, import_paths

    tmp = Path(tempfile.mkdtemp(prefix="aa-bench-"))
    try:
        files = []
        for i, (name, samples, sr, _) in enumerate(data):
            files.append(str(save(tmp / "audio" / f"{i:03d}.flac", samples, sr)))
        total = sum(s.shape[-1] / sr for _, s, sr, _ in data)
        import resource

        def cpu() -> float:
            r = [resource.getrusage(w) for w in (resource.RUSAGE_SELF, resource.RUSAGE_CHILDREN)]
            return sum(x.ru_utime + x.ru_stime for x in r)

        with Library.open(tmp / "lib.sqlite") as lib:
            import_paths(lib, files, workers=0, progress=False)
            t0, c0 = time.perf_counter(), cpu()
            s = run_features(lib, "seed", workers=workers, progress=False)
            dt, dc = time.perf_counter() - t0, cpu() - c0
            if s.failed:
                print(f"  library job errors: {s.errors[:3]}")
        print(f"  library job: {len(files)} tracks, {total:.0f} s audio, wall {dt:.1f} s, CPU (driver + workers, "
              f"incl. worker start-up) {dc:.1f} s = {total / dc:.0f}x real time per CPU second")
        return total / dt
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
