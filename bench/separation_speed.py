"""Demucs htdemucs on CPU: stock ``demucs.apply.apply_model`` defaults vs our path, same input, one run.

    python bench/separation_speed.py --quick        # 30 s of stereo 44.1 kHz audio
    python bench/separation_speed.py --seconds 60

The model is ``HTDemucs`` built with the released htdemucs configuration (dconv_mode=3, bottom_channels=512,
t_layers=5, segment 7.8 s; 41.98 M parameters) and RANDOM weights: the same compute as the released model,
no download. Stock = ``apply_model(model, mix)`` with its defaults (shifts=1, split, overlap 0.25) inside
``torch.no_grad`` on the default torch threads, as the demucs CLI runs it. Ours =
``audio_alchemy.separate.demucs_backend.apply_demucs(..., workers=2)`` (the default path of ``DemucsSeparator``):
the same shift draw (same ``random`` seed), chunks, weights and accumulation, under ``inference_mode``, with
attention through torch's SDPA flash kernel instead of the native MHA fast path, and two chunks in flight at a
time on one intra-op thread each. Outputs must agree to max abs diff < 1e-4 (only float rounding differs).

The machine is shared: the two paths alternate (``--repeat``), medians are reported, and each run prints its
wall time, its process CPU time and the 1-min load average before/after. ``--approx-overlap X`` also times our
path with a smaller overlap (an APPROXIMATE mode: different output) and prints its SDR against the stock output.
"""

from __future__ import annotations

import argparse
import math
import os
import random
import resource
import statistics
import sys
import time
from fractions import Fraction


def build_htdemucs():
    from demucs.htdemucs import HTDemucs

    return HTDemucs(sources=["drums", "bass", "other", "vocals"], samplerate=44100, segment=Fraction(39, 5),
                    dconv_mode=3, bottom_channels=512, t_layers=5)


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--quick", action="store_true", help="30 s input")
    ap.add_argument("--seconds", type=float, default=60.0)
    ap.add_argument("--workers", type=int, default=2, help="chunks in flight in our path")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--ours-first", action="store_true", help="time our path first (checks for order bias)")
    ap.add_argument("--repeat", type=int, default=1, help="alternate the two paths N times; report medians")
    ap.add_argument("--no-sdpa", action="store_true", help="ablation: keep torch's native MHA fast path")
    ap.add_argument("--approx-overlap", type=float, default=None,
                    help="also time our path with this overlap (approximate mode; SDR vs stock printed)")
    args = ap.parse_args(argv)
    seconds = 30.0 if args.quick else args.seconds

    import torch
    from demucs.apply import apply_model

    from audio_alchemy.separate.demucs_backend import apply_demucs

    torch.manual_seed(args.seed)
    model = build_htdemucs().eval()
    n_params = sum(p.numel() for p in model.parameters())
    gen = torch.Generator().manual_seed(args.seed)
    mix = (torch.randn(1, 2, int(seconds * 44100), generator=gen) * 0.1)
    threads = torch.get_num_threads()
    print(f"# HTDemucs released config, random weights: {n_params / 1e6:.2f} M parameters; input {seconds:g} s "
          f"stereo 44.1 kHz; torch {torch.__version__}, {threads} threads")
    with torch.no_grad():  # warm-up (allocator, oneDNN primitives), counted for neither path
        model(mix[..., :int(7.8 * 44100)])

    def timed(label, fn):
        random.seed(args.seed)
        load0 = os.getloadavg()[0]
        t0, c0 = time.perf_counter(), time.process_time()
        out = fn()
        secs, cpu = time.perf_counter() - t0, time.process_time() - c0
        print(f"# {label}: {secs:.1f} s wall ({secs / seconds:.2f}x real time), {cpu:.1f} s CPU, "
              f"load {load0:.1f} -> {os.getloadavg()[0]:.1f}", flush=True)
        return out, secs

    def run_stock():
        with torch.no_grad():
            return timed("stock apply_model defaults", lambda: apply_model(model, mix))

    ours_label = (f"ours (inference_mode, {'native MHA' if args.no_sdpa else 'SDPA attention'}, "
                  f"{args.workers} chunks in flight)")

    def run_ours():
        return timed(ours_label, lambda: apply_demucs(model, mix, shifts=1, overlap=0.25, workers=args.workers,
                                                      sdpa=not args.no_sdpa))

    def run_approx():
        return timed(f"ours, APPROXIMATE overlap {args.approx_overlap:g}",
                     lambda: apply_demucs(model, mix, shifts=1, overlap=args.approx_overlap, workers=args.workers,
                                          sdpa=not args.no_sdpa))

    times_stock, times_ours, times_approx = [], [], []
    approx = None
    for _ in range(max(args.repeat, 1)):  # alternate so that a change in machine load hits both paths
        order = [run_ours, run_stock] if args.ours_first else [run_stock, run_ours]
        if args.approx_overlap is not None:
            order.append(run_approx)
        for run in order:
            res, t = run()
            if run is run_stock:
                stock = res
                times_stock.append(t)
            elif run is run_ours:
                ours = res
                times_ours.append(t)
            else:
                approx = res
                times_approx.append(t)
    t_stock, t_ours = statistics.median(times_stock), statistics.median(times_ours)

    diff = float((stock - ours).abs().max())
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"# peak RSS of the process {peak:.0f} MB (both paths)")
    print(f"max_abs_diff: {diff:.3g}")
    print(f"outputs_agree: {diff < 1e-4}")
    print(f"demucs_default_seconds: {t_stock:.2f}")
    print(f"ours_seconds: {t_ours:.2f}")
    print(f"load_average_1min_at_end: {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores")
    if approx is not None:
        err = float(((stock - approx) ** 2).sum())
        sdr = 10 * math.log10(float((stock ** 2).sum()) / max(err, 1e-30))
        t_approx = statistics.median(times_approx)
        print(f"approx_overlap_{args.approx_overlap:g}_max_abs_diff: {float((stock - approx).abs().max()):.3g}")
        print(f"approx_overlap_{args.approx_overlap:g}_sdr_vs_stock_db: {sdr:.1f}")
        print(f"approx_overlap_{args.approx_overlap:g}_seconds: {t_approx:.2f}")
        print(f"approx_overlap_{args.approx_overlap:g}_speedup_vs_demucs_default: {t_stock / t_approx:.2f}x "
              "(APPROXIMATE: different output)")
    print(f"speedup_vs_demucs_default: {t_stock / t_ours:.2f}x")
    return 0 if diff < 1e-4 else 1


if __name__ == "__main__":
    sys.exit(main())
