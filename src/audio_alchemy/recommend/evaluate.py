"""The fixed offline protocol: per-user random holdout, top-k excluding training items, ranking metrics with CIs.

Protocol (documented, seed fixed): every user with at least ``min_items`` items gets ``round(frac * n)`` of
them (at least 1) moved to the test set, chosen uniformly at random with ``numpy.random.default_rng(seed)``;
users with fewer items keep everything in train. Validation for tuning is carved from train the same way
(``split(train, seed=seed + 1)``), so test is never seen while tuning. Each model ranks all items that have
at least one training interaction, excluding the user's training items, and the top ``k`` are scored against
the held-out items (binary relevance). Held-out items that never occur in train stay in the denominators:
they are misses every model shares.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Callable

import numpy as np
import scipy.sparse as sp

METRICS = ("ndcg", "recall", "precision", "map")


def split(X: sp.spmatrix, frac: float = 0.2, min_items: int = 5, seed: int = 0) -> tuple[sp.csr_matrix, sp.csr_matrix]:
    """Per-user random holdout: returns (train, test) with the same shape, disjoint, summing to ``X``."""
    X = sp.csr_matrix(X, dtype=np.float32)
    X.sum_duplicates()
    X.eliminate_zeros()
    n_users = X.shape[0]
    counts = np.diff(X.indptr)
    rows = np.repeat(np.arange(n_users), counts)
    rng = np.random.default_rng(seed)
    keys = rng.random(X.nnz)
    order = np.lexsort((keys, rows))               # within each row, a random permutation
    rank = np.empty(X.nnz, dtype=np.int64)
    rank[order] = np.arange(X.nnz) - X.indptr[rows[order]]
    n_test = np.where(counts >= min_items, np.maximum(1, np.rint(frac * counts)), 0).astype(np.int64)
    is_test = rank < n_test[rows]
    coo = X.tocoo()
    train = sp.csr_matrix((coo.data[~is_test], (coo.row[~is_test], coo.col[~is_test])), shape=X.shape)
    test = sp.csr_matrix((coo.data[is_test], (coo.row[is_test], coo.col[is_test])), shape=X.shape)
    return train, test


def top_k(scores: np.ndarray, k: int) -> np.ndarray:
    """Indices of the ``k`` largest scores per row, best first; -inf entries are never preferred to finite ones."""
    k = min(k, scores.shape[1])
    part = np.argpartition(-scores, k - 1, axis=1)[:, :k]
    s = np.take_along_axis(scores, part, axis=1)
    return np.take_along_axis(part, np.argsort(-s, axis=1, kind="stable"), axis=1)


def ranking_metrics(recs: np.ndarray, relevant: list[set] | sp.csr_matrix, k: int = 10) -> dict[str, np.ndarray]:
    """Per-user NDCG@k, Recall@k, Precision@k, MAP@k for top-k lists ``recs`` (n_users, >= k), binary relevance.

    NDCG: DCG with 1/log2(rank+1) gains over the ideal DCG of min(|rel|, k) hits. Recall: hits / |rel|.
    Precision: hits / k. MAP@k: sum of precision@i at each hit i, divided by min(|rel|, k).
    Entries of ``recs`` equal to -1 are empty slots (no item).
    """
    if sp.issparse(relevant):
        rel_sets = [set(relevant.indices[relevant.indptr[u]:relevant.indptr[u + 1]].tolist()) for u in range(relevant.shape[0])]
    else:
        rel_sets = [set(r) for r in relevant]
    n = len(rel_sets)
    recs = np.asarray(recs)[:, :k]
    hits = np.zeros((n, k), dtype=bool)
    for u in range(n):
        rs = rel_sets[u]
        if rs:
            hits[u] = [int(i) in rs for i in recs[u]]
    n_rel = np.array([len(r) for r in rel_sets], dtype=np.float64)
    disc = 1.0 / np.log2(np.arange(2, k + 2))
    dcg = (hits * disc).sum(1)
    idcg = np.array([disc[: int(min(m, k))].sum() for m in n_rel])
    with np.errstate(divide="ignore", invalid="ignore"):
        ndcg = np.where(idcg > 0, dcg / idcg, 0.0)
        recall = np.where(n_rel > 0, hits.sum(1) / n_rel, 0.0)
        prec_at = np.cumsum(hits, axis=1) / np.arange(1, k + 1)
        ap = np.where(n_rel > 0, (prec_at * hits).sum(1) / np.minimum(n_rel, k), 0.0)
    return {"ndcg": ndcg, "recall": recall, "precision": hits.sum(1) / k, "map": ap}


def bootstrap_ci(values: np.ndarray, n_boot: int = 1000, alpha: float = 0.05, seed: int = 0) -> tuple[float, float]:
    """Percentile bootstrap CI of the mean over users."""
    values = np.asarray(values, dtype=np.float64)
    if len(values) == 0:
        return (float("nan"), float("nan"))
    rng = np.random.default_rng(seed)
    means = np.empty(n_boot)
    for b0 in range(0, n_boot, 100):  # chunks keep memory small for many users
        b1 = min(n_boot, b0 + 100)
        idx = rng.integers(0, len(values), size=(b1 - b0, len(values)))
        means[b0:b1] = values[idx].mean(1)
    return float(np.quantile(means, alpha / 2)), float(np.quantile(means, 1 - alpha / 2))


@dataclass
class EvalResult:
    """Means, bootstrap CIs, per-user metric arrays, and catalogue-level numbers for one model."""

    name: str
    k: int
    n_users: int
    means: dict[str, float]
    ci: dict[str, tuple[float, float]]
    per_user: dict[str, np.ndarray] = field(repr=False)
    coverage: float = float("nan")          # share of recommendable items that appear in any top-k list
    arp: float = float("nan")               # average recommendation popularity (share of train users per item)
    tail_share: float = float("nan")        # share of recommended slots outside the 20% most popular items
    fit_seconds: float = float("nan")

    def row(self) -> dict:
        r = {"model": self.name}
        for m in METRICS:
            r[f"{m}@{self.k}"] = self.means[m]
            r[f"{m}_ci"] = self.ci[m]
        r.update(coverage=self.coverage, arp=self.arp, tail_share=self.tail_share, fit_s=self.fit_seconds)
        return r


def recommend_top_k(
    score_fn: Callable[[np.ndarray], np.ndarray],
    train: sp.csr_matrix,
    users: np.ndarray,
    k: int = 10,
    batch: int = 1024,
) -> np.ndarray:
    """Top-k per user from ``score_fn(user_rows) -> (len, n_items)`` scores, excluding training items and items
    with no training interaction at all."""
    train = sp.csr_matrix(train)
    known = np.asarray((train > 0).sum(0)).ravel() > 0
    out = np.full((len(users), k), -1, dtype=np.int64)
    for b in range(0, len(users), batch):
        uu = users[b : b + batch]
        s = np.array(score_fn(uu), dtype=np.float64, copy=True)
        s[:, ~known] = -np.inf
        sub = train[uu]
        r = np.repeat(np.arange(len(uu)), np.diff(sub.indptr))
        s[r, sub.indices] = -np.inf
        top = top_k(s, k)
        top[~np.isfinite(np.take_along_axis(s, top, axis=1))] = -1
        out[b : b + batch] = top
    return out


def evaluate(
    score_fn: Callable[[np.ndarray], np.ndarray],
    train: sp.csr_matrix,
    test: sp.csr_matrix,
    k: int = 10,
    name: str = "model",
    n_boot: int = 1000,
    seed: int = 0,
) -> EvalResult:
    """Score every user with test items under the protocol; metrics with bootstrap CIs plus coverage/popularity."""
    test = sp.csr_matrix(test)
    users = np.flatnonzero(np.diff(test.indptr) > 0)
    if len(users) == 0:
        raise ValueError("no user has held-out items: nothing to evaluate")
    recs = recommend_top_k(score_fn, train, users, k)
    per = ranking_metrics(recs, test[users], k)
    pop = np.asarray((sp.csr_matrix(train) > 0).sum(0)).ravel().astype(np.float64)
    known = pop > 0
    valid = recs[recs >= 0]
    coverage = len(np.unique(valid)) / max(1, int(known.sum()))
    share = pop / max(1, train.shape[0])
    arp = float(np.mean([share[r[r >= 0]].mean() for r in recs if (r >= 0).any()])) if valid.size else float("nan")
    order = np.argsort(-pop[known])
    head_n = max(1, int(round(0.2 * known.sum())))
    head = np.zeros(len(pop), dtype=bool)
    head[np.flatnonzero(known)[order[:head_n]]] = True
    tail_share = float((~head[valid]).mean()) if valid.size else float("nan")
    means = {m: float(v.mean()) for m, v in per.items()}
    ci = {m: bootstrap_ci(v, n_boot=n_boot, seed=seed) for m, v in per.items()}
    return EvalResult(name, k, len(users), means, ci, per, coverage, arp, tail_share)


def format_table(results: list[EvalResult]) -> str:
    """A plain-text table, one row per model: metrics with 95% CIs, coverage, ARP, tail share, fit time."""
    if not results:
        return "(no results)"
    k = results[0].k
    head = f"{'model':<26} {'NDCG@'+str(k):>21} {'Recall@'+str(k):>21} {'Prec@'+str(k):>8} {'MAP@'+str(k):>8} {'cover':>6} {'ARP':>6} {'tail':>5} {'fit s':>6}"
    lines = [head, "-" * len(head)]
    for r in results:
        m, c = r.means, r.ci
        lines.append(
            f"{r.name:<26} {m['ndcg']:.4f} [{c['ndcg'][0]:.3f},{c['ndcg'][1]:.3f}] "
            f"{m['recall']:.4f} [{c['recall'][0]:.3f},{c['recall'][1]:.3f}] {m['precision']:8.4f} {m['map']:8.4f} "
            f"{r.coverage:6.3f} {r.arp:6.3f} {r.tail_share:5.2f} {r.fit_seconds:6.1f}"
        )
    return "\n".join(lines)
