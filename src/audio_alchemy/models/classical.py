"""Classical classifiers as scikit-learn Pipelines (scaling and optional selection fitted inside each fold),
the study's sweep grids, and a clip-level wrapper that trains on windows and votes per clip.
"""

from __future__ import annotations

import numpy as np
from sklearn.base import BaseEstimator, ClassifierMixin, clone
from sklearn.calibration import CalibratedClassifierCV
from sklearn.ensemble import HistGradientBoostingClassifier, RandomForestClassifier
from sklearn.feature_selection import SelectKBest, f_classif
from sklearn.linear_model import LogisticRegression
from sklearn.neighbors import KNeighborsClassifier
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import StandardScaler
from sklearn.svm import SVC
from threadpoolctl import threadpool_limits

CLASSIFIERS = ("logreg", "rf", "svm-linear", "svm-rbf", "knn", "gb")

# The study's sweeps (SEED.md), as scikit-learn grids over the pipeline's "clf" step.
STUDY_GRIDS = {
    "knn": {"clf__n_neighbors": list(range(1, 16)), "clf__weights": ["uniform", "distance"], "clf__p": [1, 2]},
    "rf": {"clf__n_estimators": [10, 50, 100, 200], "clf__max_depth": [None, 5, 10, 15],
           "clf__min_samples_split": [2, 5, 10], "clf__min_samples_leaf": [1, 2, 4]},
}
# Small grids for the other families (nested CV), chosen to stay cheap on 2 cores.
SMALL_GRIDS = {
    "logreg": {"clf__C": [0.01, 0.1, 1.0]},
    "svm-linear": {"clf__estimator__C": [0.01, 0.1, 1.0]},
    "svm-rbf": {"clf__estimator__C": [1.0, 10.0]},
    "knn": {"clf__n_neighbors": [5, 15], "clf__weights": ["distance"]},
    "rf": {"clf__n_estimators": [300], "clf__max_depth": [None, 10]},
    "gb": {"clf__learning_rate": [0.1], "clf__max_iter": [100]},
}


def make_classifier(name: str, seed: int = 0, **params):
    """A bare classifier by family name (all expose predict_proba)."""
    if name == "logreg":
        return LogisticRegression(C=params.get("C", 0.1), max_iter=2000)
    if name == "rf":
        return RandomForestClassifier(n_estimators=params.get("n_estimators", 300), random_state=seed, n_jobs=1)
    if name in ("svm-linear", "svm-rbf"):  # Platt-calibrated probabilities (SVC(probability=True) is deprecated)
        svc = (SVC(kernel="linear", C=params.get("C", 0.1)) if name == "svm-linear"
               else SVC(kernel="rbf", C=params.get("C", 10.0), gamma="scale"))
        return CalibratedClassifierCV(svc, ensemble=False, cv=3)
    if name == "knn":
        return KNeighborsClassifier(n_neighbors=params.get("n_neighbors", 15), weights=params.get("weights", "distance"))
    if name == "gb":
        return HistGradientBoostingClassifier(max_iter=params.get("max_iter", 100), random_state=seed)
    raise ValueError(f"unknown classifier {name!r}; choose from {CLASSIFIERS}")


def make_pipeline(name: str, select_k: int | None = None, seed: int = 0, **params) -> Pipeline:
    """StandardScaler -> (SelectKBest(f_classif, k) | passthrough) -> classifier, all fitted per fold."""
    select = SelectKBest(f_classif, k=select_k) if select_k else "passthrough"
    return Pipeline([("scale", StandardScaler()), ("select", select),
                     ("clf", make_classifier(name, seed=seed, **params))])


class ClipClassifier(ClassifierMixin, BaseEstimator):
    """Train a pipeline on windows (every window inherits its clip's label); predict a clip by the mean of
    its windows' probabilities.

    ``fit(X, y)`` takes X as a list of (windows, d) arrays, one per clip; so does ``predict_proba``.
    """

    def __init__(self, estimator=None, max_windows: int | None = None, seed: int = 0):
        self.estimator = estimator
        self.max_windows = max_windows
        self.seed = seed

    def _stack(self, X, y=None):
        rng = np.random.default_rng(self.seed)
        rows, labels = [], []
        for i, m in enumerate(X):
            m = np.asarray(m)
            if self.max_windows and len(m) > self.max_windows:
                m = m[np.sort(rng.choice(len(m), self.max_windows, replace=False))]
            rows.append(m)
            if y is not None:
                labels.extend([y[i]] * len(m))
        return np.concatenate(rows), (np.asarray(labels) if y is not None else None)

    def fit(self, X, y):
        with threadpool_limits(1):  # small problems: 2 BLAS/OpenMP threads were 15x slower here under load
            return self._fit(X, y)

    def _fit(self, X, y):
        Xs, ys = self._stack(X, np.asarray(y))
        self.estimator_ = clone(self.estimator if self.estimator is not None else make_pipeline("logreg"))
        clf = getattr(self.estimator_, "named_steps", {}).get("clf", self.estimator_)
        if isinstance(clf, KNeighborsClassifier) and clf.n_neighbors > len(ys):
            clf.set_params(n_neighbors=len(ys))  # tiny training sets (learning curves, toy data)
        self.estimator_.fit(Xs, ys)
        self.classes_ = np.asarray(self.estimator_.classes_)
        return self

    def predict_proba(self, X):
        with threadpool_limits(1):
            return np.stack([self.estimator_.predict_proba(np.asarray(m)).mean(axis=0) for m in X])

    def predict(self, X):
        return self.classes_[np.argmax(self.predict_proba(X), axis=1)]
