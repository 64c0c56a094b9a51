"""Sung-language benchmark on data/language (194 clips, 9 languages, singing + paired speech).

    python bench/language.py [--repeats 3] [--splits 5] [--entries musicnn-logreg,mfcc-logreg,...]

Prints ``language_macro_f1: <x>`` for the default entry (mfcc-logreg: timbre statistics of 3-s windows,
logistic regression, mean vote per clip; it measured above the musicnn embeddings here): out-of-fold macro-F1 with folds grouped by
``group_id`` (a song's singing, technique and speech versions never straddle train and test), mean over
repeats, with a 95% cluster-bootstrap CI and the majority baseline measured in the same run.

Second protocol, "group_id + speaker": groups are merged wherever a named singer recurs (only the
English GTSinger singers, the CSD singer and LibriSpeech readers are named; every other language has
"GTSinger singer (unspecified)", so speaker grouping is only meaningful for English there). With 1-3
singers per language, the classifier may still learn voices: read these numbers as a smoke test.

Extending: append an :class:`Entry` to ``ENTRIES``. An entry turns the data set into one input per
clip (``features``) and gives a factory of an estimator with ``fit(list, y)`` / ``predict_proba(list)``
/ ``classes_``. A pretrained zero-shot model (e.g. Whisper language ID, added by a later session) is an
entry whose features are its per-language probabilities and whose estimator ignores training (or
calibrates on it).
"""

from __future__ import annotations

import argparse
from pathlib import Path
import os
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass

os.environ.setdefault("OMP_NUM_THREADS", "2")
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")  # small matrices: one BLAS thread is much faster

import numpy as np  # noqa: E402

from audio_alchemy.config import data_path  # noqa: E402
from audio_alchemy.models import cv, from_csv, metrics  # noqa: E402
from audio_alchemy.models.recognizer import DEFAULT_MODELS, extract, get_model  # noqa: E402


@dataclass
class Entry:
    """One benchmarked model: per-clip inputs from the data set, and an estimator factory."""

    name: str
    features: Callable  # (LabeledSet) -> (list of per-clip inputs, kept index array)
    make: Callable[[int], object]  # seed -> estimator with fit(list, y), predict_proba(list), classes_
    note: str = ""


def registry_entry(model: str) -> Entry:
    """An entry for a named model of audio_alchemy.models (features cached per file)."""
    mdef = get_model(model)
    return Entry(model, lambda data: extract(data, mdef.spec), mdef.make, mdef.about)


ENTRIES: list[Entry] = [registry_entry(m) for m in (
    "mfcc-logreg", "mfcc-svm-rbf", "mfcc-rf", "musicnn-logreg", "musicnn-svm-linear", "musicnn-svm-rbf",
    "musicnn-rf", "mttnn-logreg")]


def speaker_groups(df) -> np.ndarray:
    """Union of group_id and named speakers (union-find): clips sharing either end up in one group."""
    parent: dict[str, str] = {}

    def find(a):
        while parent.setdefault(a, a) != a:
            parent[a] = parent[parent[a]]
            a = parent[a]
        return a

    for g, s in zip(df.group_id.astype(str), df.speaker_or_artist.astype(str)):
        find("g:" + g)
        if "unspecified" not in s:
            parent[find("g:" + g)] = find("s:" + s)
    return np.array([find("g:" + g) for g in df.group_id.astype(str)])


def run_entry(entry: Entry, data, groups, n_splits: int, repeats: int, seed: int, cache: dict) -> dict:
    key = entry.features
    if key not in cache:
        cache[key] = entry.features(data)
    mats, keep = cache[key]
    y = data.labels[keep]
    g = groups[keep]
    kinds = data.meta["kind"].to_numpy()[keep]
    classes = sorted(set(y))
    splits = cv.folds(y, g, n_splits=n_splits, repeats=repeats, seed=seed)
    k = len(splits) // repeats
    per_rep, preds, base = [], [], []
    t0 = time.perf_counter()
    for r in range(repeats):
        pred = np.empty(len(y), dtype=object)
        bp = np.empty(len(y), dtype=object)
        for tr, te in splits[r * k:(r + 1) * k]:
            m = entry.make(seed + r)
            m.fit([mats[i] for i in tr], y[tr])
            pred[te] = m.predict([mats[i] for i in te])
            vals, cnt = np.unique(y[tr], return_counts=True)
            bp[te] = vals[np.argmax(cnt)]
        pred, bp = pred.astype(str), bp.astype(str)
        per_rep.append(metrics.scores(y, pred, classes))
        preds.append(pred)
        base.append(bp)
    P, Y, G = np.concatenate(preds), np.tile(y, repeats), np.tile(g, repeats)
    K = np.tile(kinds, repeats)
    out = {m: float(np.mean([s[m] for s in per_rep])) for m in per_rep[0]}
    out["ci95"] = metrics.bootstrap_ci(Y, P, classes, n_boot=1000, groups=G)
    out["majority"] = metrics.scores(Y, np.concatenate(base), classes)
    out["by_kind"] = {kd: metrics.scores(Y[K == kd], P[K == kd], classes)["macro_f1"] for kd in np.unique(K)}
    out["seconds"] = time.perf_counter() - t0
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--splits", type=int, default=5)
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--entries", default=",".join(e.name for e in ENTRIES))
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--whisper", action=argparse.BooleanOptionalAction, default=None,
                    help="also run bench/language_whisper.py (default: when the Whisper base weights are present)")
    args = ap.parse_args()
    root = data_path("language")
    if root is None:
        sys.exit("needs $AUDIO_ALCHEMY_DATA/language (../shared/data); not present")
    import torch

    torch.set_num_threads(2)
    data = from_csv(root / "labels.csv", task="language", group_by="group_id")
    default = DEFAULT_MODELS["language"]
    wanted = args.entries.split(",")
    entries = [e for e in ENTRIES if e.name in wanted]
    entries += [registry_entry(n) for n in wanted if n not in {e.name for e in ENTRIES}]
    if default not in {e.name for e in entries}:
        entries.insert(0, registry_entry(default))
    t0 = time.perf_counter()
    protocols = {"group_id": data.groups, "group_id+speaker": speaker_groups(data.meta)}
    print(f"# {len(data)} clips, {len(data.classes)} languages; {args.splits}-fold StratifiedGroupKFold x "
          f"{args.repeats} repeats", flush=True)
    cache: dict = {}
    results: dict = {}
    for proto, groups in protocols.items():
        print(f"\n## folds grouped by {proto} ({len(np.unique(groups))} groups)")
        print(f"{'entry':<22} {'macro-F1':>8} {'95% CI':>15} {'accuracy':>8} {'singing F1':>10} {'speech F1':>9} "
              f"{'majority F1':>11}")
        for e in entries:
            r = run_entry(e, data, groups, args.splits, args.repeats, args.seed, cache)
            results[(proto, e.name)] = r
            ci = r["ci95"]["macro_f1"]
            print(f"{e.name:<22} {r['macro_f1']:8.3f}   [{ci[0]:.3f}, {ci[1]:.3f}] {r['accuracy']:8.3f} "
                  f"{r['by_kind'].get('singing', float('nan')):10.3f} {r['by_kind'].get('speech', float('nan')):9.3f} "
                  f"{r['majority']['macro_f1']:11.3f}", flush=True)
    print(f"# total {time.perf_counter() - t0:.0f}s; chance macro-F1 for 9 balanced classes ~0.11")
    classical = results[("group_id", default)]["macro_f1"]
    whisper = args.whisper
    if whisper is None:
        from audio_alchemy.models import store

        whisper = store.status("whisper-base").state == "present"
    if not whisper:
        print(f"language_macro_f1: {classical:.4f}")
        return
    # the Whisper-based models (issue I): their bench prints per-model lines and the final language_macro_f1
    print(f"classical_language_macro_f1: {classical:.4f}\n\n## Whisper-based models (bench/language_whisper.py)",
          flush=True)
    import subprocess

    sys.exit(subprocess.call([sys.executable, str(Path(__file__).with_name("language_whisper.py"))]))


if __name__ == "__main__":
    main()
