"""Score mask-network weight files, alone and as an ensemble, on the training script's validation artists.

    python scripts/validate_separator.py                      # every shipped weights/masknet*.pt
    python scripts/validate_separator.py a.pt b.pt c.pt       # any files
    python scripts/validate_separator.py --power 1,1.2 --swap # the ensemble with inference options

Validation = the artists ``scripts/train_separator.py`` holds out of ``stems-train`` (``stems/``, the test
set, is never read), so choosing ensemble members here does not touch the numbers of ``bench/separation.py``.
Prints the median and mean vocals SDR per file and for the ensemble (masks averaged, as the separator does).
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

os.environ.setdefault("OMP_NUM_THREADS", "2")

import numpy as np  # noqa: E402

sys.path.insert(0, str(Path(__file__).resolve().parent))

import train_separator  # noqa: E402

from audio_alchemy.config import data_path  # noqa: E402
from audio_alchemy.separate import masknet  # noqa: E402


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("weights", nargs="*", type=Path, help="weight files (default: the shipped ensemble)")
    ap.add_argument("--val-frac", type=float, default=0.1, help="as in train_separator.py")
    ap.add_argument("--power", default="1", help="comma list of mask powers to score the ensemble with, e.g. 1,1.2")
    ap.add_argument("--swap", action="store_true", help="also score the ensemble with the left/right-swap pass")
    args = ap.parse_args(argv)
    root = data_path("stems-train")
    if root is None:
        print("needs $AUDIO_ALCHEMY_DATA/stems-train (../shared/data); not present", file=sys.stderr)
        return 2
    files = args.weights or masknet.default_weight_files()
    models = [masknet.load_weights(p)[0] for p in files]
    _, val = train_separator.split(train_separator.load_tracks(root), args.val_frac)
    entries = [(p.name, m, 1.0, False) for p, m in zip(files, models)]
    if len(models) > 1:
        for power in (float(v) for v in args.power.split(",")):
            for swap in (False, True) if args.swap else (False,):
                tag = (f", power {power:g}" if power != 1 else "") + (", L/R swap" if swap else "")
                entries.append((f"ensemble of {len(models)}{tag}", models, power, swap))
    for name, model, power, swap in entries:
        scores = train_separator.val_scores(model, val, power=power, swap_channels=swap)
        print(f"{name:40s} validation vocals SDR median {np.nanmedian(scores):.2f} dB, mean {np.nanmean(scores):.2f} dB "
              f"({len(scores)} tracks)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
