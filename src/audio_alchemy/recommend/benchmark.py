"""Run every model under the fixed protocol, tuning on validation only; used by ``bench/recommend.py`` and
``alchemy eval-recommend``.

Tuning never sees the test split: hyper-parameters and hybrid weights are chosen on a validation split carved
from train with the same protocol (seed + 1), then each model is refitted on the whole train split with the
chosen settings and scored once on test. Side information (HetRec tag assignments) is always stripped of
every held-out (user, artist) pair of the split being scored, so a tag cannot reveal a held-out listen.
"""

from __future__ import annotations

import itertools
import time
from typing import Callable

import numpy as np
import scipy.sparse as sp

from .evaluate import EvalResult, evaluate, split
from .interactions import HetRec, Interactions, item_tag_matrix
from .models import ALS, BPR, DLAE, EASE, ContentKNN, ItemKNN, Model, Popularity, RP3beta, UserKNN, standardize_rows

Log = Callable[[str], None]


def _quiet(_: str) -> None:
    pass


# ----------------------------------------------------------------------------- side information


def user_tag_pairs(het: HetRec) -> sp.csr_matrix:
    """Users x artists, 1 where the user tagged the artist (aligned with ``het.listens``)."""
    L = het.listens
    a = het.tag_assignments
    if a is None or len(a) == 0:
        return sp.csr_matrix(L.matrix.shape, dtype=np.float32)
    r, c = [], []
    for u, i, _t in a:
        uu, ii = L._user_index.get(int(u)), L._item_index.get(int(i))
        if uu is not None and ii is not None:
            r.append(uu)
            c.append(ii)
    T = sp.csr_matrix((np.ones(len(r), np.float32), (r, c)), shape=L.matrix.shape)
    T.data[:] = 1.0
    return T


def without_pairs(M: sp.csr_matrix, held: sp.spmatrix) -> sp.csr_matrix:
    """``M`` with every entry at a held-out (user, item) pair removed."""
    M = sp.csr_matrix(M, copy=True)
    M = M - M.multiply(sp.csr_matrix(held) > 0)
    M = sp.csr_matrix(M)
    M.eliminate_zeros()
    return M


def friends_graph(het: HetRec) -> sp.csr_matrix | None:
    """Users x users friendship adjacency aligned with ``het.listens`` (None when absent)."""
    if het.friends is None or len(het.friends) == 0:
        return None
    L = het.listens
    r, c = [], []
    for u, f in het.friends:
        a, b = L._user_index.get(int(u)), L._user_index.get(int(f))
        if a is not None and b is not None:
            r.append(a)
            c.append(b)
    n = L.matrix.shape[0]
    G = sp.csr_matrix((np.ones(len(r), np.float32), (r, c)), shape=(n, n))
    G = G.maximum(G.T)
    G.data[:] = 1.0
    return sp.csr_matrix(G)


# ----------------------------------------------------------------------------- fast validation metric


class Judge:
    """Vectorised NDCG@k on one split: masks (training items, never-seen items) and relevance precomputed,
    so tuning loops cost one argpartition per call."""

    def __init__(self, train: sp.csr_matrix, held: sp.csr_matrix, k: int = 10):
        self.k = k
        train, held = sp.csr_matrix(train), sp.csr_matrix(held)
        self.users = np.flatnonzero(np.diff(held.indptr) > 0)
        known = np.asarray((train > 0).sum(0)).ravel() > 0
        sub = train[self.users]
        self.mask_rows = np.repeat(np.arange(len(self.users)), np.diff(sub.indptr))
        self.mask_cols = sub.indices
        self.unknown = ~known
        self.rel = (held[self.users] > 0).toarray()
        n_rel = self.rel.sum(1)
        disc = 1.0 / np.log2(np.arange(2, k + 2))
        self.disc = disc
        self.idcg = np.array([disc[: min(int(m), k)].sum() for m in n_rel])

    def ndcg(self, scores: np.ndarray) -> float:
        return float(self.ndcg_per_user(scores).mean())

    def ndcg_per_user(self, scores: np.ndarray) -> np.ndarray:
        """NDCG@k of each user with held-out items (``self.users``), for paired comparisons."""
        s = np.array(scores[self.users], dtype=np.float32, copy=True)
        s[:, self.unknown] = -np.inf
        s[self.mask_rows, self.mask_cols] = -np.inf
        part = np.argpartition(-s, self.k - 1, axis=1)[:, : self.k]
        order = np.argsort(-np.take_along_axis(s, part, axis=1), axis=1, kind="stable")
        top = np.take_along_axis(part, order, axis=1)
        hits = np.take_along_axis(self.rel, top, axis=1)
        return (hits * self.disc).sum(1) / self.idcg


# ----------------------------------------------------------------------------- tuning


def tune(make: Callable[..., Model], grid: dict[str, list], train: sp.csr_matrix, judge: Judge,
         log: Log = _quiet, label: str = "") -> tuple[dict, float, np.ndarray]:
    """Grid search on the validation split: (best params, best validation NDCG@k, that model's scores)."""
    best, best_p, best_s = -1.0, None, None
    users = np.arange(train.shape[0])
    keys = list(grid)
    for values in itertools.product(*(grid[k_] for k_ in keys)):
        p = dict(zip(keys, values))
        m = make(**p).fit(train)
        S = m.score(users)
        s = judge.ndcg(S)
        log(f"  tune {label} {p}: val NDCG@{judge.k} {s:.4f} (fit {m.fit_seconds:.1f} s)")
        if s > best:
            best, best_p, best_s = s, p, S
    return best_p, best, best_s


def tune_weights(zs: list[np.ndarray], judge: Judge, grid=(-0.5, -0.25, 0.0, 0.25, 0.5, 0.75, 1.0, 1.5, 2.0, 3.0), rounds: int = 2,
                 log: Log = _quiet, names: list[str] | None = None) -> tuple[list[float], float]:
    """Coordinate ascent over blend weights of per-user z-scored component scores, on validation only.

    The first component's weight is fixed at 1 (the scale is arbitrary); each other weight is set in turn to
    the grid value that maximises validation NDCG@k, for up to ``rounds`` sweeps. Negative weights are allowed:
    subtracting a little of a popularity-leaning component (user-kNN, EASE) de-biases the blend.
    """
    w = [1.0] + [0.0] * (len(zs) - 1)
    acc = zs[0].copy()
    best = judge.ndcg(acc)
    for _ in range(rounds):
        changed = False
        for j in range(1, len(zs)):
            base = acc - w[j] * zs[j]
            for g in grid:
                if g == w[j]:
                    continue
                s = judge.ndcg(base + g * zs[j])
                if s > best + 1e-5:
                    best, changed = s, True
                    w[j] = g
            acc = base + w[j] * zs[j]
        log(f"  blend weights {dict(zip(names or range(len(w)), w))}: val NDCG@{judge.k} {best:.4f}")
        if not changed:
            break
    return w, best


# ----------------------------------------------------------------------------- the run


def run_models(data: HetRec | Interactions, k: int = 10, seed: int = 0, tune: bool = True, log: Log = _quiet,
               n_boot: int = 1000, extras: dict | None = None) -> list[EvalResult]:
    """Every model on one dataset under the protocol, then the hybrid blend of them.

    With ``tune`` each model's hyper-parameters come from a small grid scored on validation; the hybrid's blend
    weights are always fitted on validation. Returns one :class:`EvalResult` per model on test, hybrid last.
    ``extras`` (a dict) receives side results: the chosen parameters and weights, and the
    "exclude tagged artists" variant of the hybrid (reported apart, see bench/recommend.py).
    """
    extras = {} if extras is None else extras
    het = data if isinstance(data, HetRec) else None
    inter = het.listens if het else data
    X = inter.matrix
    if X.nnz == 0:
        raise ValueError("no interactions: the data is empty")
    train, test = split(X, seed=seed)
    tr_v, val = split(train, seed=seed + 1)
    if test.nnz == 0 or val.nnz == 0:
        raise ValueError(f"too little data to evaluate: the protocol holds out items of users with at least 5 items "
                         f"(twice, for validation and test), and {X.shape[0]} user(s) and {X.nnz} interaction(s) "
                         "leave nothing to score")
    judge_v = Judge(tr_v, val, k)
    has_tags = het is not None and het.tag_assignments is not None and len(het.tag_assignments) > 0
    G = friends_graph(het) if het is not None else None
    users = np.arange(X.shape[0])
    results: list[EvalResult] = []
    val_scores: dict[str, np.ndarray] = {}
    test_scores: dict[str, np.ndarray] = {}
    chosen: dict[str, dict] = {}
    tune_fn = globals()["tune"]

    def run(name, make, grid, default, blend=True, refine=None):
        t0 = time.perf_counter()
        if tune and grid:
            p, s, S_val = tune_fn(make, grid, tr_v, judge_v, log, name)
            if refine:  # second stage: the refine keys around the first stage's best
                p2, s2, S2 = tune_fn(make, {**{k_: [v] for k_, v in p.items()}, **refine}, tr_v, judge_v, log, name)
                if s2 > s:
                    p, s, S_val = p2, s2, S2
        else:
            p = default
            S_val = make(**p).fit(tr_v).score(users)
            s = judge_v.ndcg(S_val)
        chosen[name] = p
        model = make(**p).fit(train)
        S = model.score(users)
        r = evaluate(lambda u: S[u], train, test, k=k, name=name, n_boot=n_boot, seed=seed)
        r.fit_seconds = model.fit_seconds
        results.append(r)
        if blend:
            val_scores[name] = standardize_rows(S_val)
            test_scores[name] = standardize_rows(S)
        log(f"{name}: {p} val NDCG@{k} {s:.4f}, test NDCG@{k} {r.means['ndcg']:.4f} ({time.perf_counter() - t0:.0f} s)")

    run("popularity", lambda: Popularity(), None, {}, blend=False)
    run("item-kNN BM25", lambda K, K1, B: ItemKNN("bm25", K=K, K1=K1, B=B),
        {"K": [100, 300], "K1": [1.2], "B": [0.1, 0.25, 0.5]}, {"K": 100, "K1": 1.2, "B": 0.75})
    # ALS: confidence transform (log1p or BM25 of log1p) x factors x regularisation first (few factors won on
    # this data; BM25 beat log1p on validation), then alpha and iterations around the best
    run("ALS", lambda factors, regularization, alpha, weighting, iterations=15:
        ALS(factors, regularization, alpha, iterations=iterations, weighting=weighting),
        {"factors": [16, 32, 64], "regularization": [0.3, 1.0, 3.0], "alpha": [1.0], "weighting": ["log1p", "bm25"]},
        {"factors": 64, "regularization": 0.01, "alpha": 1.0, "weighting": "log1p"},
        refine={"alpha": [0.5, 2.0], "iterations": [15, 30]})
    run("BPR", lambda factors, learning_rate: BPR(factors, learning_rate), None, {"factors": 64, "learning_rate": 0.01},
        blend=False)
    run("RP3beta", lambda beta: RP3beta(1.0, beta, K=200), {"beta": [0.0, 0.3, 0.5]}, {"beta": 0.3})
    run("EASE", lambda lam: EASE(lam), {"lam": [1000.0, 3000.0, 6000.0]}, {"lam": 3000.0})
    run("DLAE", lambda p, lam: DLAE(p, lam, weighting="unorm"), {"p": [0.33, 0.5], "lam": [0.3, 1.0, 3.0]},
        {"p": 0.5, "lam": 1.0})
    run("user-kNN", lambda K: UserKNN(K), None, {"K": 50})
    if G is not None:
        run("friends (social)", lambda: UserKNN(graph=G), None, {})
    if has_tags:
        # artist tag profiles, stripped of the held-out pairs of the split they are scored on
        T_val = item_tag_matrix(het, exclude_pairs=test + val)
        T_test = item_tag_matrix(het, exclude_pairs=test)
        t0 = time.perf_counter()
        m_v = ContentKNN(T_val, K=100, reason="similar tags").fit(tr_v)
        S_v = m_v.score(users)
        m_t = ContentKNN(T_test, K=100, reason="similar tags").fit(train)
        S_t = m_t.score(users)
        r = evaluate(lambda u: S_t[u], train, test, k=k, name="content (artist tags)", n_boot=n_boot, seed=seed)
        r.fit_seconds = m_t.fit_seconds
        results.append(r)
        val_scores["content (artist tags)"] = standardize_rows(S_v)
        test_scores["content (artist tags)"] = standardize_rows(S_t)
        log(f"content (artist tags): val NDCG@{k} {judge_v.ndcg(S_v):.4f}, test NDCG@{k} {r.means['ndcg']:.4f} ({time.perf_counter() - t0:.0f} s)")

    # hybrid: the strongest single model on validation first (weight 1), the others blended in on validation
    names = sorted(val_scores, key=lambda n: -judge_v.ndcg(val_scores[n]))
    w, s = tune_weights([val_scores[n] for n in names], judge_v, log=log, names=names)
    chosen["hybrid"] = dict(zip(names, w))
    H = sum(wi * test_scores[n] for wi, n in zip(w, names) if wi)
    r = evaluate(lambda u: H[u], train, test, k=k, name="hybrid (val-tuned blend)", n_boot=n_boot, seed=seed)
    r.fit_seconds = sum(x.fit_seconds for x in results if x.name in names)
    results.append(r)
    log(f"hybrid: weights {chosen['hybrid']} val NDCG@{k} {s:.4f}, test NDCG@{k} {r.means['ndcg']:.4f}")
    extras["params"] = chosen
    if has_tags:
        # Variant reported apart: also never recommend artists the user has tagged (they know them). The tags of
        # held-out pairs were stripped, so this filter can never remove a test item: it partly exploits how the
        # holdout is built, which is why it is not counted as a model result.
        Tt = without_pairs(user_tag_pairs(het), test)
        H2 = np.array(H, copy=True)
        coo = Tt.tocoo()
        H2[coo.row, coo.col] = -np.inf
        extras["hybrid_exclude_tagged"] = evaluate(lambda u: H2[u], train, test, k=k, name="hybrid, tagged artists excluded",
                                                   n_boot=n_boot, seed=seed)
    return results
