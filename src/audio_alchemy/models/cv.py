"""Cross-validation protocols: stratified, grouped, repeated, nested; out-of-fold predictions with checks.

A protocol is chosen from the data: when any group holds more than one example, folds are grouped
(StratifiedGroupKFold) so a group never straddles train and test; otherwise stratified folds.
"""

from __future__ import annotations

import warnings
from collections.abc import Callable, Iterator

import numpy as np
from sklearn.base import clone
from sklearn.model_selection import (
    GridSearchCV,
    LeaveOneOut,
    StratifiedGroupKFold,
    StratifiedKFold,
)

from .guards import check_group_folds


def groups_recur(groups) -> bool:
    """True when some group holds more than one example (then folds must be grouped)."""
    if groups is None:
        return False
    _, counts = np.unique(np.asarray(groups), return_counts=True)
    return bool((counts > 1).any())


def n_splits_for(y, groups=None, wanted: int = 5) -> int:
    """The largest fold count <= wanted that every class (or its number of groups) can fill."""
    y = np.asarray(y)
    if groups is not None and groups_recur(groups):
        g = np.asarray(groups)
        per_class = [len(np.unique(g[y == c])) for c in np.unique(y)]
    else:
        per_class = list(np.unique(y, return_counts=True)[1])
    return max(2, min(wanted, int(min(per_class))))


def folds(y, groups=None, n_splits: int = 5, repeats: int = 1, seed: int = 0) -> list[tuple[np.ndarray, np.ndarray]]:
    """(train_idx, test_idx) pairs: grouped-stratified when groups recur, else stratified; repeated with new seeds.

    Grouped folds are checked: a group never appears on both sides.
    """
    y = np.asarray(y)
    grouped = groups_recur(groups)
    n_splits = min(n_splits, n_splits_for(y, groups if grouped else None, n_splits))
    out = []
    for r in range(repeats):
        if grouped:
            cv = StratifiedGroupKFold(n_splits=n_splits, shuffle=True, random_state=seed + r)
            out.extend(cv.split(np.zeros(len(y)), y, np.asarray(groups)))
        else:
            cv = StratifiedKFold(n_splits=n_splits, shuffle=True, random_state=seed + r)
            # a one-example class is tested once and never trained on: not worth a warning per run
            with warnings.catch_warnings():
                warnings.filterwarnings("ignore", message="The least populated class", category=UserWarning)
                out.extend(cv.split(np.zeros(len(y)), y))
    if grouped:
        check_group_folds(out, groups)
    return out


def loo_folds(n: int) -> list[tuple[np.ndarray, np.ndarray]]:
    """Leave-one-out splits (the study's KNN protocol)."""
    return list(LeaveOneOut().split(np.zeros(n)))


def oof_predict(make_model: Callable[[], object], X, y, splits, fit_kw: Callable | None = None
                ) -> Iterator[tuple[int, np.ndarray, np.ndarray, np.ndarray, object]]:
    """For each split fit a fresh model on train and yield (fold, test_idx, pred, proba, model).

    ``X`` may be an array or any object indexable by an index array (e.g. a segment dataset).
    """
    y = np.asarray(y)
    for i, (tr, te) in enumerate(splits):
        model = make_model()
        model.fit(_take(X, tr), y[tr], **(fit_kw(tr) if fit_kw else {}))
        proba = model.predict_proba(_take(X, te))
        classes = np.asarray(model.classes_)
        yield i, te, classes[np.argmax(proba, axis=1)], proba, model


def _take(X, idx):
    if hasattr(X, "iloc"):
        return X.iloc[idx]
    if isinstance(X, list):
        return [X[i] for i in idx]
    return X[idx]


def nested_cv(estimator, param_grid: dict, X, y, groups=None, outer: int = 5, inner: int = 3, seed: int = 0,
              scoring: str = "accuracy", n_jobs: int = 1) -> dict:
    """Nested CV: the inner grid search picks parameters, the outer folds score them on unseen data.

    Returns the outer predictions (so the reported score is never the one used to choose), the chosen
    parameters per outer fold and the full inner sweep table of the first outer fold (for sweep plots).
    """
    X, y = np.asarray(X), np.asarray(y)
    splits = folds(y, groups, n_splits=outer, seed=seed)
    pred = np.empty(len(y), dtype=y.dtype)
    chosen, sweep = [], None
    for i, (tr, te) in enumerate(splits):
        g_tr = None if groups is None else np.asarray(groups)[tr]
        inner_splits = folds(y[tr], g_tr, n_splits=inner, seed=seed + 100 + i)
        gs = GridSearchCV(clone(estimator), param_grid, cv=inner_splits, scoring=scoring, n_jobs=n_jobs)
        gs.fit(X[tr], y[tr])
        pred[te] = gs.predict(X[te])
        chosen.append({k: (v if isinstance(v, (int, float, str, type(None))) else str(v))
                       for k, v in gs.best_params_.items()})
        if sweep is None:
            sweep = {"params": [{k: str(v) for k, v in p.items()} for p in gs.cv_results_["params"]],
                     "mean_test_score": gs.cv_results_["mean_test_score"].round(4).tolist()}
    return {"pred": pred, "chosen_params": chosen, "inner_sweep_fold0": sweep, "splits": splits}
