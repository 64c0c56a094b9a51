"""Variants of the Whisper log-probability head on data/language, scored like bench/language_whisper.py.

    python bench/language_whisper.py              # first: computes and caches Whisper's outputs
    python scripts/language_head_variants.py      # then: heads on the 9 candidates vs all languages, C grids

Out-of-fold macro-F1 (GroupKFold(5) by ``group_id``) of a standardised logistic regression on Whisper's
log-probabilities of both views (whole clip, vocal windows): the 9 candidate languages, the 20 most probable
languages, or all 99; then the nested selection (inner GroupKFold(4) in each training fold) over C grids.
"""

from __future__ import annotations

import csv
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "bench"))

import language_whisper as bench  # noqa: E402

from audio_alchemy.config import data_path  # noqa: E402


def head(c: float):
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    return make_pipeline(StandardScaler(), LogisticRegression(C=c, max_iter=5000))


def main() -> int:
    from sklearn.model_selection import GroupKFold

    root = data_path("language")
    if root is None:
        print("needs $AUDIO_ALCHEMY_DATA/language (../shared/data); not present", file=sys.stderr)
        return 2
    rows = list(csv.DictReader(open(root / "labels.csv", encoding="utf-8")))
    LZ, LR, _, langs, *_ = bench.whisper_outputs(rows, root, "base", True, None, ("zero", "repeat"))
    y = np.array([r["language"] for r in rows])
    g = np.array([r["group_id"] for r in rows])

    def restricted(lp):
        return np.maximum(bench.wl.restrict(lp, langs, bench.LANGS)[0], -30.0)

    top = np.argsort(-(np.exp(LZ).mean(0) + np.exp(LR).mean(0)))[:20]
    inputs = {"9 candidates": np.hstack([restricted(LZ), restricted(LR)]),
              "20 most probable": np.hstack([np.maximum(LZ, -30)[:, top], np.maximum(LR, -30)[:, top]]),
              f"all {LZ.shape[1]}": np.hstack([np.maximum(LZ, -30), np.maximum(LR, -30)])}
    grid = (0.03, 0.1, 0.3, 1.0, 3.0, 10.0)
    for name, X in inputs.items():
        scores = []
        for c in grid:
            p = np.empty(len(y), dtype=object)
            for tr, te in GroupKFold(5).split(X, y, g):
                p[te] = head(c).fit(X[tr], y[tr]).predict(X[te])
            scores.append(f"C={c:g} {bench.macro_f1(y, p.astype(str)):.3f}")
        print(f"{name:18s} " + "  ".join(scores))

    def nested(cands: dict) -> tuple[float, list[str]]:
        p = np.empty(len(y), dtype=object)
        chosen = []
        for tr, te in GroupKFold(5).split(y, y, g):
            inner = {}
            for key, (X, c) in cands.items():
                pi = np.empty(len(tr), dtype=object)
                for itr, ite in GroupKFold(4).split(tr, y[tr], g[tr]):
                    pi[ite] = head(c).fit(X[tr[itr]], y[tr[itr]]).predict(X[tr[ite]])
                inner[key] = bench.macro_f1(y[tr], pi.astype(str))
            pick = max(inner, key=inner.get)
            chosen.append(pick)
            X, c = cands[pick]
            p[te] = head(c).fit(X[tr], y[tr]).predict(X[te])
        return bench.macro_f1(y, p.astype(str)), chosen

    X9 = inputs["9 candidates"]
    for label, cs in (("bench's C grid 0.03-1", grid[:4]), ("C grid 0.03-10", grid)):
        f, chosen = nested({f"C={c:g}": (X9, c) for c in cs})
        print(f"nested over heads on the 9 candidates, {label}: {f:.3f} (chosen: {', '.join(chosen)})")
    return 0


if __name__ == "__main__":
    import argparse

    argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter).parse_args()
    sys.exit(main())
