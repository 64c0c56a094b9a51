"""Separation quality of the offline backend on $AUDIO_ALCHEMY_DATA/stems (39 MUSDB18 test previews).

    python bench/separation.py --quick                 # masknet (the default offline backend), all 39 tracks
    python bench/separation.py --backends masknet,hpss,repet
    python bench/separation.py --quick --mask-power 1.2 --swap   # masknet inference options (not the default)
    python bench/separation.py --quick --weights a.pt,b.pt       # masknet with these weight files only

Prints ``vocals_sdr_median_db: <x>`` and ``accompaniment_sdr_median_db: <y>`` for the first backend, with the
baseline measured in the same run: the mixture itself used as the estimate of each stem. SDR: fast_bss_eval
``bss_eval_sources`` (512-tap distortion filter, per channel, averaged; see audio_alchemy.separate.evaluate).
The mask network never saw these tracks (trained on stems-train, validated on held-out train artists).
"""

from __future__ import annotations

import argparse
import os
import sys
import time

os.environ.setdefault("OMP_NUM_THREADS", "2")


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--quick", action="store_true", help="the default offline backend only")
    ap.add_argument("--backends", default="masknet", help="comma-separated separator names")
    ap.add_argument("--limit", type=int, default=None, help="only the first N tracks")
    ap.add_argument("--stems", default=None, help="stems folder (default: $AUDIO_ALCHEMY_DATA/stems)")
    ap.add_argument("--mask-power", type=float, default=None, help="masknet: mask power (default: its own)")
    ap.add_argument("--swap", action="store_true", help="masknet: average with a left/right-swapped pass")
    ap.add_argument("--weights", default=None, help="masknet: comma-separated weight files (default: all shipped)")
    args = ap.parse_args(argv)

    from audio_alchemy.config import data_path
    from audio_alchemy.separate import get_separator
    from audio_alchemy.separate.evaluate import evaluate_folder

    folder = args.stems or data_path("stems")
    if folder is None:
        print("needs $AUDIO_ALCHEMY_DATA/stems (../shared/data); not present", file=sys.stderr)
        return 2
    names = ["masknet"] if args.quick else args.backends.split(",")
    first = None
    for name in names:
        opts = {"power": args.mask_power, "swap_channels": args.swap} if name == "masknet" else {}
        if name == "masknet" and args.weights:
            opts["weights"] = args.weights.split(",")
        sep = get_separator(name, **opts)
        t0 = time.perf_counter()
        rep = evaluate_folder(sep, folder, limit=args.limit)
        secs = time.perf_counter() - t0
        sep_secs = sum(t.seconds for t in rep.tracks)
        print(f"# {rep.model}: {len(rep.tracks)} tracks, separation {sep_secs:.1f} s, total with scoring {secs:.1f} s")
        print(f"#   vocals SDR median {rep.vocals_median:.2f} dB, accompaniment {rep.accompaniment_median:.2f} dB")
        first = first or rep
    print(f"backend: {first.model}")
    print(f"vocals_sdr_median_db: {first.vocals_median:.2f}")
    print(f"accompaniment_sdr_median_db: {first.accompaniment_median:.2f}")
    print(f"baseline_mixture_vocals_sdr_median_db: {first.baseline_vocals_median:.2f}")
    print(f"baseline_mixture_accompaniment_sdr_median_db: {first.baseline_accompaniment_median:.2f}")
    print(f"vocals_gain_over_mixture_db: {first.vocals_median - first.baseline_vocals_median:.2f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
