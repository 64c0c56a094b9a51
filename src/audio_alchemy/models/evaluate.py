"""The CV protocol for named models on a labelled set: out-of-fold predictions, metrics with CIs beside a
majority baseline, confusion matrices, ROC/AUC, learning curves.

Folds are grouped whenever a group recurs (artist, song, group_id); otherwise stratified. Every fit —
scaling, selection, classifier — happens inside the training folds.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence

import numpy as np

from . import cv, metrics
from .datasets import LabeledSet
from .recognizer import extract, get_model


def _oof(make: Callable, mats: list, y: np.ndarray, splits, classes: list[str]) -> tuple[np.ndarray, np.ndarray]:
    """Out-of-fold predictions and probabilities (columns in ``classes`` order) over one set of splits."""
    pred = np.empty(len(y), dtype=object)
    proba = np.zeros((len(y), len(classes)))
    for _, te, p, pr, model in cv.oof_predict(make, mats, y, splits):
        pred[te] = p
        cols = [classes.index(str(c)) for c in model.classes_]
        proba[np.ix_(te, cols)] = pr
    return pred.astype(str), proba


def evaluate_models(data: LabeledSet, models: Sequence[str], n_splits: int = 5, repeats: int = 1, seed: int = 0,
                    n_boot: int = 1000, use_cache: bool = True, learning_curve_model: str | None = None,
                    log: Callable[[str], None] = lambda s: None) -> dict:
    """Cross-validate every named model on ``data``; returns a JSON-ready dict of all numbers."""
    classes = data.classes
    feats: dict[str, tuple[list, np.ndarray]] = {}
    results: dict = {"n": len(data), "classes": classes, "group_by": data.group_by,
                     "grouped": cv.groups_recur(data.groups), "n_splits": n_splits, "repeats": repeats,
                     "seed": seed, "models": {}}
    for name in models:
        mdef = get_model(name)
        key = mdef.spec.key()
        if key not in feats:
            t = time.perf_counter()
            feats[key] = extract(data, mdef.spec, use_cache=use_cache,
                                 on_error=lambda path, exc: log(f"skipped {path}: {' '.join(str(exc).split())}"))
            log(f"features {mdef.spec.kind}{' ' + str(mdef.spec.params) if mdef.spec.params else ''}: "
                f"{time.perf_counter() - t:.1f}s")
        mats, keep = feats[key]
        y = data.labels[keep]
        if len(np.unique(y)) < 2:
            raise ValueError(f"need at least two classes with readable audio to cross-validate; got "
                             f"{len(y)} readable example(s) of {', '.join(np.unique(y)) or 'no class'}")
        groups = None if data.groups is None else data.groups[keep]
        unit = groups if cv.groups_recur(groups) else np.arange(len(y))
        splits = cv.folds(y, groups, n_splits=n_splits, repeats=repeats, seed=seed)
        k = len(splits) // repeats
        results["n"], results["n_splits"] = int(len(y)), k  # what was evaluated (fewer folds when a class is small)
        t0 = time.perf_counter()
        per_repeat, preds, probas, base_pred = [], [], [], []
        for r in range(repeats):
            sp = splits[r * k:(r + 1) * k]
            pred, proba = _oof(lambda: mdef.make(seed + r), mats, y, sp, classes)
            per_repeat.append(metrics.scores(y, pred, classes))
            preds.append(pred)
            probas.append(proba)
            bp = np.empty(len(y), dtype=object)
            for tr, te in sp:
                vals, cnt = np.unique(y[tr], return_counts=True)
                bp[te] = vals[np.argmax(cnt)]
            base_pred.append(bp.astype(str))
        seconds = time.perf_counter() - t0
        y_all = np.tile(y, repeats)
        units_all = np.tile(unit, repeats)
        summ = metrics.summary(y_all, np.concatenate(preds), classes, proba=np.concatenate(probas),
                               groups=units_all, n_boot=n_boot, seed=seed)
        summ["confusion"] = metrics.confusion(y, preds[0], classes)  # first repeat: counts of real clips
        summ["per_repeat"] = per_repeat
        summ["mean_over_repeats"] = {m: float(np.mean([s[m] for s in per_repeat])) for m in per_repeat[0]}
        summ["baseline_majority"] = metrics.scores(y_all, np.concatenate(base_pred), classes)
        summ["cv_seconds"] = round(seconds, 1)
        summ["n_examples"] = int(len(y))
        summ["about"] = mdef.about
        results["models"][name] = summ
        s = summ["mean_over_repeats"]
        ci = summ["ci95"]
        log(f"{name}: acc {s['accuracy']:.3f} [{ci['accuracy'][0]:.3f}, {ci['accuracy'][1]:.3f}] "
            f"macro-F1 {s['macro_f1']:.3f} [{ci['macro_f1'][0]:.3f}, {ci['macro_f1'][1]:.3f}] "
            f"(majority acc {summ['baseline_majority']['accuracy']:.3f}) {seconds:.0f}s")
    if learning_curve_model:
        mdef = get_model(learning_curve_model)
        mats, keep = feats.get(mdef.spec.key()) or extract(data, mdef.spec, use_cache=use_cache)
        results["learning_curve"] = learning_curve(mdef.make, mats, data.labels[keep],
                                                   None if data.groups is None else data.groups[keep],
                                                   n_splits=n_splits, seed=seed)
        results["learning_curve"]["model"] = learning_curve_model
    return results


def learning_curve(make: Callable, mats: list, y: np.ndarray, groups=None, fractions=(0.2, 0.4, 0.6, 0.8, 1.0),
                   n_splits: int = 5, seed: int = 0) -> dict:
    """Accuracy on held-out folds when training on growing (stratified) fractions of each training fold."""
    rng = np.random.default_rng(seed)
    splits = cv.folds(y, groups, n_splits=n_splits, seed=seed)
    out = {"fractions": list(fractions), "train_sizes": [], "test_accuracy": [], "test_accuracy_sd": [],
           "train_accuracy": []}
    for f in fractions:
        accs, tr_accs, sizes = [], [], []
        for tr, te in splits:
            sub = []
            for c in np.unique(y[tr]):
                idx = tr[y[tr] == c]
                sub.extend(rng.choice(idx, max(1, int(round(f * len(idx)))), replace=False))
            sub = np.asarray(sorted(sub))
            if len(np.unique(y[sub])) < 2:
                continue
            m = make(seed)
            m.fit([mats[i] for i in sub], y[sub])
            accs.append(float(np.mean(m.predict([mats[i] for i in te]) == y[te])))
            tr_accs.append(float(np.mean(m.predict([mats[i] for i in sub]) == y[sub])))
            sizes.append(len(sub))
        out["train_sizes"].append(float(np.mean(sizes)))
        out["test_accuracy"].append(float(np.mean(accs)))
        out["test_accuracy_sd"].append(float(np.std(accs)))
        out["train_accuracy"].append(float(np.mean(tr_accs)))
    return out
