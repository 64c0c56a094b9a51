"""A small CPU-friendly CNN (PyTorch) on log-mel windows or on the study's grey/viridis images.

Trained on windows with early stopping on a validation split of whole clips, augmentation (time shift,
gain, mixup, SpecAugment masks) and fixed seeds; a clip is predicted by the mean of its windows'
probabilities, like :class:`~audio_alchemy.models.classical.ClipClassifier`. The study's sweep
(:data:`STUDY_SWEEP`) is available through :func:`sweep` but not run by default (it is 54 trainings).
"""

from __future__ import annotations

import itertools
import time

import numpy as np
import torch
from sklearn.base import BaseEstimator, ClassifierMixin
from torch import nn
from torch.nn import functional as F

STUDY_SWEEP = {"filters": [(32, 64), (64, 128), (32, 64, 128)], "kernel": [3, 5], "dropout": [0.2, 0.3, 0.5],
               "lr": [1e-2, 1e-3, 1e-4]}


class SmallCNN(nn.Module):
    """Conv(k×k)-BN-ReLU-MaxPool blocks, then global mean+max pooling, dropout and a linear layer."""

    def __init__(self, in_ch: int, n_classes: int, filters=(32, 64), kernel: int = 3, dropout: float = 0.3):
        super().__init__()
        layers, c = [], in_ch
        for f in filters:
            layers += [nn.Conv2d(c, f, kernel, padding=kernel // 2), nn.BatchNorm2d(f), nn.ReLU(), nn.MaxPool2d(2)]
            c = f
        self.body = nn.Sequential(*layers)
        self.drop = nn.Dropout(dropout)
        self.head = nn.Linear(2 * c, n_classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h = self.body(x)
        h = torch.cat([h.mean(dim=(2, 3)), h.amax(dim=(2, 3))], dim=1)
        return self.head(self.drop(h))


def _as_4d(x: np.ndarray) -> np.ndarray:
    """(w, T, F) mel -> (w, 1, T, F); images (w, C, H, W) unchanged."""
    return x[:, None] if x.ndim == 3 else x


def augment(xb: torch.Tensor, yb: torch.Tensor, n_classes: int, gen: torch.Generator, mixup: float = 0.2
            ) -> tuple[torch.Tensor, torch.Tensor]:
    """Time shift (roll), gain (offset in log space), SpecAugment (one time + one frequency mask), mixup.

    Returns augmented inputs and soft targets (b, n_classes).
    """
    b, _, t, f = xb.shape
    shift = int(torch.randint(0, t, (1,), generator=gen))
    xb = torch.roll(xb, shifts=shift, dims=2)
    xb = xb + (torch.rand(b, 1, 1, 1, generator=gen) - 0.5) * 0.3
    for dim, size in ((2, t), (3, f)):
        w = int(torch.randint(0, max(1, size // 8), (1,), generator=gen))
        s = int(torch.randint(0, max(1, size - w), (1,), generator=gen))
        idx = [slice(None)] * 4
        idx[dim] = slice(s, s + w)
        xb[tuple(idx)] = xb.mean()
    yt = F.one_hot(yb, n_classes).float()
    if mixup > 0:
        lam = float(np.random.default_rng(int(torch.randint(0, 2**31, (1,), generator=gen))).beta(mixup, mixup))
        perm = torch.randperm(b, generator=gen)
        xb = lam * xb + (1 - lam) * xb[perm]
        yt = lam * yt + (1 - lam) * yt[perm]
    return xb, yt


class CNNClassifier(ClassifierMixin, BaseEstimator):
    """sklearn-style clip classifier: ``fit(list of (w, ...) window arrays, y)``; predict by mean vote."""

    def __init__(self, filters=(32, 64), kernel: int = 3, dropout: float = 0.3, lr: float = 1e-3,
                 max_epochs: int = 40, patience: int = 6, batch_size: int = 32, val_fraction: float = 0.15,
                 augment: bool = True, seed: int = 0, max_seconds: float = 600.0, threads: int | None = None):
        self.filters = filters
        self.kernel = kernel
        self.dropout = dropout
        self.lr = lr
        self.max_epochs = max_epochs
        self.patience = patience
        self.batch_size = batch_size
        self.val_fraction = val_fraction
        self.augment = augment
        self.seed = seed
        self.max_seconds = max_seconds
        self.threads = threads

    def _windows(self, X, idx, y=None):
        xs = [_as_4d(np.asarray(X[i], dtype=np.float32)) for i in idx]
        ys = None if y is None else np.concatenate([[y[i]] * len(x) for i, x in zip(idx, xs)])
        return np.concatenate(xs), ys

    def fit(self, X, y):
        if self.threads:
            torch.set_num_threads(self.threads)
        torch.manual_seed(self.seed)
        gen = torch.Generator().manual_seed(self.seed)
        rng = np.random.default_rng(self.seed)
        y = np.asarray(y).astype(str)
        self.classes_ = np.unique(y)
        yi = np.searchsorted(self.classes_, y)
        # validation split of whole clips, stratified
        val = []
        for c in range(len(self.classes_)):
            idx = np.flatnonzero(yi == c)
            k = int(round(self.val_fraction * len(idx))) if len(idx) > 2 else 0
            val.extend(rng.choice(idx, k, replace=False))
        val = np.asarray(sorted(val), dtype=int)
        tr = np.setdiff1d(np.arange(len(y)), val)
        Xtr, ytr = self._windows(X, tr, yi)
        in_ch = Xtr.shape[1]
        self.net_ = SmallCNN(in_ch, len(self.classes_), tuple(self.filters), self.kernel, self.dropout)
        opt = torch.optim.Adam(self.net_.parameters(), lr=self.lr, weight_decay=1e-4)
        Xtr_t, ytr_t = torch.from_numpy(Xtr), torch.from_numpy(ytr.astype(np.int64))
        best, best_state, bad, t0 = -1.0, None, 0, time.perf_counter()
        self.history_ = []
        for epoch in range(self.max_epochs):
            self.net_.train()
            perm = torch.randperm(len(Xtr_t), generator=gen)
            for s in range(0, len(perm), self.batch_size):
                bi = perm[s:s + self.batch_size]
                xb, yb = Xtr_t[bi].clone(), ytr_t[bi]
                if self.augment:
                    xb, yt = augment(xb, yb, len(self.classes_), gen)
                else:
                    yt = F.one_hot(yb, len(self.classes_)).float()
                loss = torch.sum(-yt * F.log_softmax(self.net_(xb), dim=1), dim=1).mean()
                opt.zero_grad()
                loss.backward()
                opt.step()
            score = float(np.mean(self.predict([X[i] for i in val]) == y[val])) if len(val) else -float(loss.detach())
            self.history_.append({"epoch": epoch, "loss": float(loss.detach()), "val_accuracy": score})
            if score > best:
                best, bad = score, 0
                best_state = {k: v.clone() for k, v in self.net_.state_dict().items()}
            else:
                bad += 1
            if bad >= self.patience or time.perf_counter() - t0 > self.max_seconds:
                break
        if best_state is not None:
            self.net_.load_state_dict(best_state)
        self.best_val_accuracy_ = best
        self.train_seconds_ = round(time.perf_counter() - t0, 1)
        self.epochs_ = len(self.history_)
        return self

    def predict_proba(self, X):
        self.net_.eval()
        out = []
        with torch.inference_mode():
            for m in X:
                x = torch.from_numpy(_as_4d(np.asarray(m, dtype=np.float32)))
                out.append(torch.softmax(self.net_(x), dim=1).mean(dim=0).numpy())
        return np.stack(out)

    def predict(self, X):
        return self.classes_[np.argmax(self.predict_proba(X), axis=1)]


def sweep_grid(grid: dict | None = None) -> list[dict]:
    """All parameter combinations of the study's CNN sweep (or another grid of CNNClassifier params)."""
    grid = grid or STUDY_SWEEP
    keys = list(grid)
    return [dict(zip(keys, vals)) for vals in itertools.product(*(grid[k] for k in keys))]


def sweep(X, y, groups=None, grid: dict | None = None, n_splits: int = 3, seed: int = 0, **fixed) -> list[dict]:
    """Cross-validated accuracy of every combination of ``grid`` (default: the study's 54). Slow: opt in."""
    from . import cv

    y = np.asarray(y)
    out = []
    for params in sweep_grid(grid):
        accs, secs = [], []
        for tr, te in cv.folds(y, groups, n_splits=n_splits, seed=seed):
            m = CNNClassifier(seed=seed, **params, **fixed).fit([X[i] for i in tr], y[tr])
            accs.append(float(np.mean(m.predict([X[i] for i in te]) == y[te])))
            secs.append(m.train_seconds_)
        out.append({**{k: str(v) for k, v in params.items()}, "accuracy": float(np.mean(accs)),
                    "train_seconds": float(np.sum(secs))})
    return out
