"""Classification metrics with bootstrap confidence intervals, a majority baseline and ROC/AUC.

Everything takes label arrays (and optionally a (n, classes) probability matrix) and returns plain
dicts/floats, so a report is ``json.dumps(summary(...))``.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from sklearn import metrics as skm


def _from_confusion(cm: np.ndarray) -> dict[str, float]:
    """All scores from a (k, k) confusion matrix (rows true, columns predicted); absent classes score 0."""
    tp = np.diag(cm).astype(float)
    true_n = cm.sum(axis=1).astype(float)
    pred_n = cm.sum(axis=0).astype(float)
    with np.errstate(divide="ignore", invalid="ignore"):
        prec = np.where(pred_n > 0, tp / pred_n, 0.0)
        rec = np.where(true_n > 0, tp / true_n, 0.0)
        f1 = np.where(prec + rec > 0, 2 * prec * rec / (prec + rec), 0.0)
    present = true_n > 0
    seen = present | (pred_n > 0)  # macro averages over labels that occur (as sklearn with labels=None)
    if not seen.any():
        seen = np.ones_like(seen)
    return {
        "accuracy": float(tp.sum() / max(cm.sum(), 1)),
        "balanced_accuracy": float(rec[present].mean()) if present.any() else 0.0,
        "macro_precision": float(prec[seen].mean()),
        "macro_recall": float(rec[seen].mean()),
        "macro_f1": float(f1[seen].mean()),
    }


def _codes(y_true: np.ndarray, y_pred: np.ndarray, labels: Sequence) -> tuple[np.ndarray, np.ndarray, int]:
    index = {c: i for i, c in enumerate(labels)}
    k = len(labels)
    t = np.array([index.get(v, k) for v in y_true.tolist()])
    p = np.array([index.get(v, k) for v in y_pred.tolist()])
    return t, p, k


def _cm(t: np.ndarray, p: np.ndarray, k: int) -> np.ndarray:
    """Confusion counts over labels 0..k-1 (codes == k, i.e. outside ``labels``, are dropped)."""
    keep = (t < k) & (p < k)
    return np.bincount(t[keep] * k + p[keep], minlength=k * k).reshape(k, k)


def _scores(y_true: np.ndarray, y_pred: np.ndarray, labels: Sequence) -> dict[str, float]:
    t, p, k = _codes(y_true, y_pred, labels)
    out = _from_confusion(_cm(t, p, k))
    out["accuracy"] = float(np.mean(y_true == y_pred)) if len(y_true) else 0.0
    return out


def scores(y_true, y_pred, labels: Sequence | None = None) -> dict[str, float]:
    """Accuracy, balanced accuracy and macro precision/recall/F1 over the labels that occur in y_true or y_pred."""
    y_true, y_pred = np.asarray(y_true), np.asarray(y_pred)
    labels = sorted(set(y_true) | set(y_pred)) if labels is None else list(labels)
    return _scores(y_true, y_pred, labels)


def bootstrap_ci(y_true, y_pred, labels: Sequence | None = None, n_boot: int = 1000, alpha: float = 0.05,
                 seed: int = 0, groups=None) -> dict[str, tuple[float, float]]:
    """Percentile bootstrap (1-alpha) intervals for every metric of :func:`scores`.

    With ``groups``, whole groups are resampled (cluster bootstrap), which is honest when examples of
    one group are correlated.
    """
    y_true, y_pred = np.asarray(y_true), np.asarray(y_pred)
    labels = sorted(set(y_true) | set(y_pred)) if labels is None else list(labels)
    rng = np.random.default_rng(seed)
    if groups is None:
        units = [np.array([i]) for i in range(len(y_true))]
    else:
        groups = np.asarray(groups)
        units = [np.flatnonzero(groups == g) for g in np.unique(groups)]
    t, p, k = _codes(y_true, y_pred, labels)
    correct = y_true == y_pred
    draws: dict[str, list[float]] = {}
    for _ in range(n_boot):
        pick = rng.integers(0, len(units), len(units))
        idx = np.concatenate([units[i] for i in pick])
        res = _from_confusion(_cm(t[idx], p[idx], k))
        res["accuracy"] = float(correct[idx].mean())
        for name, v in res.items():
            draws.setdefault(name, []).append(v)
    lo, hi = 100 * alpha / 2, 100 * (1 - alpha / 2)
    return {k: (float(np.percentile(v, lo)), float(np.percentile(v, hi))) for k, v in draws.items()}


def majority_baseline(y_train, y_test) -> dict[str, float]:
    """Scores of always predicting the most frequent training label (ties: first in sorted order)."""
    vals, counts = np.unique(np.asarray(y_train), return_counts=True)
    guess = vals[np.argmax(counts)]
    y_test = np.asarray(y_test)
    return scores(y_test, np.full(len(y_test), guess, dtype=y_test.dtype), sorted(set(y_test) | {guess}))


def confusion(y_true, y_pred, labels: Sequence) -> list[list[int]]:
    """Confusion matrix as nested lists, rows = true label, columns = predicted, in ``labels`` order."""
    return skm.confusion_matrix(y_true, y_pred, labels=list(labels)).tolist()


def roc_auc(y_true, proba: np.ndarray, labels: Sequence) -> dict:
    """One-vs-rest ROC curves and AUC per class plus the macro AUC; classes absent from y_true are skipped."""
    y_true = np.asarray(y_true)
    out: dict = {"per_class": {}, "curves": {}}
    for j, c in enumerate(labels):
        pos = y_true == c
        if pos.all() or not pos.any():
            continue
        fpr, tpr, _ = skm.roc_curve(pos, proba[:, j])
        out["per_class"][str(c)] = float(skm.auc(fpr, tpr))
        out["curves"][str(c)] = {"fpr": fpr.round(4).tolist(), "tpr": tpr.round(4).tolist()}
    vals = list(out["per_class"].values())
    out["macro_auc"] = float(np.mean(vals)) if vals else float("nan")
    return out


def summary(y_true, y_pred, labels: Sequence, proba: np.ndarray | None = None, groups=None,
            n_boot: int = 1000, seed: int = 0) -> dict:
    """All numbers of one evaluation: scores, their CIs, confusion matrix, ROC/AUC (when proba given)."""
    out = {
        "n": int(len(y_true)),
        "labels": [str(x) for x in labels],
        "scores": scores(y_true, y_pred, labels),
        "ci95": bootstrap_ci(y_true, y_pred, labels, n_boot=n_boot, seed=seed, groups=groups),
        "confusion": confusion(y_true, y_pred, labels),
    }
    if proba is not None:
        out["roc"] = roc_auc(y_true, proba, labels)
    return out
