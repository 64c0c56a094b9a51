"""Genre benchmark: repeated stratified CV on the 100 GTZAN clips of data/genre.

    python bench/genre.py [--repeats 3] [--splits 5] [--models musicnn-logreg,mfcc-svm-rbf,...] [--no-excerpts]

Prints ``genre_accuracy: <x>`` for the default model (musicnn-logreg: pretrained musicnn embeddings of
3-s windows, logistic regression, mean vote per clip), every model family with 95% bootstrap CIs beside
the majority baseline measured in the same run, and the default model on 2-s / 5-s excerpts of the
held-out clips (models are judged on excerpts of other clips, so this is the number closer to that).

Protocol notes: the 100 clips carry no artist labels, so folds are stratified by genre only; GTZAN
artists recur within a genre (Sturm 2013), so these CV numbers are optimistic for unseen artists.
Features are cached under $AUDIO_ALCHEMY_HOME/cache/models (a first run computes them: ~1000 musicnn
windows). Threads are capped at 2.
"""

from __future__ import annotations

import argparse
import os
import sys
import time

os.environ.setdefault("OMP_NUM_THREADS", "2")
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")  # small matrices: one BLAS thread is much faster

import numpy as np  # noqa: E402

from audio_alchemy.config import data_path  # noqa: E402
from audio_alchemy.models import cv, from_csv, metrics  # noqa: E402
from audio_alchemy.models.evaluate import evaluate_models  # noqa: E402
from audio_alchemy.models.recognizer import DEFAULT_MODELS, extract, get_model  # noqa: E402

FAMILIES = ["musicnn-logreg", "musicnn-svm-linear", "musicnn-svm-rbf", "musicnn-knn", "musicnn-rf", "musicnn-gb",
            "mfcc-logreg", "mfcc-svm-rbf", "mfcc-knn", "mfcc-rf", "mfcc-gb"]


def excerpt_eval(data, model: str, seconds: float, n_splits: int, seed: int) -> dict:
    """Train on whole training-fold clips; test on one excerpt of ``seconds`` from the middle of each held-out clip."""
    from audio_alchemy.io import load
    from audio_alchemy.models.featurize import load_rate, segment_inputs

    mdef = get_model(model)
    mats, keep = extract(data, mdef.spec)
    y = data.labels[keep]
    rate = load_rate(mdef.spec)
    ex = []
    for i in keep:
        a = load(data.paths[i], sr=rate, mono=True).samples[0]
        n = int(seconds * rate)
        s = max(0, (len(a) - n) // 2)
        ex.append(segment_inputs(a[s:s + n], rate, mdef.spec))
    pred = np.empty(len(y), dtype=object)
    for tr, te in cv.folds(y, None, n_splits=n_splits, seed=seed):
        m = mdef.make(seed).fit([mats[i] for i in tr], y[tr])
        pred[te] = m.predict([ex[i] for i in te])
    pred = pred.astype(str)
    return {"scores": metrics.scores(y, pred), "ci95": metrics.bootstrap_ci(y, pred, n_boot=1000)}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--splits", type=int, default=5)
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--models", default=",".join(FAMILIES))
    ap.add_argument("--cnn", action="store_true", help="also the CNN on log-mel windows (1 repeat, slow)")
    ap.add_argument("--no-excerpts", action="store_true")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--report", help="also write the HTML/JSON report to this folder")
    args = ap.parse_args()
    root = data_path("genre")
    if root is None:
        sys.exit("needs $AUDIO_ALCHEMY_DATA/genre (../shared/data); not present")
    import torch

    torch.set_num_threads(2)
    data = from_csv(root / "labels.csv", task="genre")
    default = DEFAULT_MODELS["genre"]
    names = [m for m in args.models.split(",") if m]
    if default not in names:
        names.insert(0, default)
    t0 = time.perf_counter()
    print(f"# {len(data)} clips, {len(data.classes)} genres; {args.splits}-fold stratified CV x {args.repeats} repeats "
          "(no artist labels: not grouped)", flush=True)
    res = evaluate_models(data, names, n_splits=args.splits, repeats=args.repeats, seed=args.seed,
                          log=lambda s: print("#", s, flush=True))
    if args.cnn:
        res_cnn = evaluate_models(data, ["cnn-mel"], n_splits=args.splits, repeats=1, seed=args.seed,
                                  log=lambda s: print("#", s, flush=True))
        res["models"].update(res_cnn["models"])
    base = res["models"][default]["baseline_majority"]["accuracy"]
    print(f"\n{'model':<22} {'accuracy':>8} {'95% CI':>15} {'macro-F1':>8} {'bal.acc':>8} {'vs majority':>11}")
    for name, r in res["models"].items():
        s, ci = r["mean_over_repeats"], r["ci95"]["accuracy"]
        print(f"{name:<22} {s['accuracy']:8.3f}   [{ci[0]:.3f}, {ci[1]:.3f}] {s['macro_f1']:8.3f} "
              f"{s['balanced_accuracy']:8.3f} {s['accuracy'] / max(base, 1e-9):10.1f}x")
    print(f"{'majority baseline':<22} {base:8.3f}")
    if not args.no_excerpts:
        for sec in (2.0, 5.0):
            e = excerpt_eval(data, default, sec, args.splits, args.seed)
            ci = e["ci95"]["accuracy"]
            print(f"{default} on {sec:.0f}-s excerpts of held-out clips: accuracy {e['scores']['accuracy']:.3f} "
                  f"[{ci[0]:.3f}, {ci[1]:.3f}], macro-F1 {e['scores']['macro_f1']:.3f}", flush=True)
    if args.report:
        from audio_alchemy.models.report import write_report

        print(f"# report: {write_report(res, args.report, title='genre benchmark (data/genre, 100 clips)')}")
    acc = res["models"][default]["mean_over_repeats"]["accuracy"]
    print(f"# total {time.perf_counter() - t0:.0f}s")
    print(f"genre_accuracy: {acc:.4f}")


if __name__ == "__main__":
    main()
