"""Offline separator speed: the shipped mask-network ensemble in channels-last layout vs plain NCHW, one run.

    python bench/masknet_speed.py            # 30 s of stereo noise at 22.05 kHz, 1 thread
    python bench/masknet_speed.py --seconds 60 --threads 2

Both paths run ``masknet.separate_22k`` on the same input with the same weights; the baseline converts the
loaded models and their input back to contiguous NCHW (PyTorch's default layout, as before the change).
Prints the time of each (best of ``--repeat``), the max abs difference of the vocal stems, and last a line
``speedup_vs_nchw: <N>x``. Not a test.
"""

from __future__ import annotations

import argparse
import time


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--seconds", type=float, default=30.0)
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--repeat", type=int, default=3)
    args = ap.parse_args(argv)

    import numpy as np
    import torch

    from audio_alchemy.separate import masknet

    torch.set_num_threads(args.threads)
    models = [masknet.load_weights(f)[0] for f in masknet.default_weight_files()]
    x = (np.random.default_rng(0).standard_normal((2, int(args.seconds * masknet.SR))) * 0.1).astype(np.float32)

    def best(fn):
        fn()  # warm-up: oneDNN primitives for this shape
        times = []
        for _ in range(args.repeat):
            t0 = time.perf_counter()
            out = fn()
            times.append(time.perf_counter() - t0)
        return min(times), out

    t_cl, v_cl = best(lambda: masknet.separate_22k(models, x))
    for mod in models:
        mod.to(memory_format=torch.contiguous_format)
    original = torch.Tensor.contiguous

    def nchw(self, memory_format=torch.contiguous_format):  # the input layout predict_mask asks for -> NCHW
        return original(self)

    torch.Tensor.contiguous = nchw
    try:
        t_base, v_base = best(lambda: masknet.separate_22k(models, x))
    finally:
        torch.Tensor.contiguous = original
    print(f"# {len(models)} members, {args.seconds:g} s stereo at 22.05 kHz, {args.threads} thread(s), "
          f"torch {torch.__version__}")
    print(f"# NCHW (baseline): {t_base:.2f} s ({args.seconds / t_base:.0f}x real time)")
    print(f"# channels-last (shipped): {t_cl:.2f} s ({args.seconds / t_cl:.0f}x real time)")
    print(f"max_abs_diff_vocals: {float(np.abs(v_cl - v_base).max()):.2e}")
    print(f"speedup_vs_nchw: {t_base / t_cl:.2f}x")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
