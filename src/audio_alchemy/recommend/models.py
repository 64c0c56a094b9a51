"""Recommender models behind one small interface: ``fit(X)``, ``score(users, X)``, ``similar(item, n)``.

``X`` is a users x items ``scipy.sparse.csr_matrix`` of feedback weights (see :mod:`.interactions`). Every
model works on row/column indices; :class:`~audio_alchemy.recommend.recommender.Recommender` maps external
ids, filters and explains. Item-based models (item-kNN, EASE, RP3beta, content) fold in any history row, so
they also score users that were not in the fitted matrix. Matrix factorisation and neighbourhoods come from
``implicit`` (0.7); EASE and RP3beta are a few lines of numpy/scipy because no well-kept library ships them.
"""

from __future__ import annotations

import os
import time
import warnings
from typing import Sequence

import numpy as np
import scipy.sparse as sp

WEIGHTINGS = ("none", "binary", "log1p", "bm25", "unorm")


def weigh(X: sp.spmatrix, kind: str = "log1p") -> sp.csr_matrix:
    """Confidence transform of raw counts: 'none' (as is), 'binary' (1 per pair), 'log1p' (log(1 + count)),
    'bm25' (BM25 of the log1p counts, K1 1.2, B 0.75: rare items up, long histories down; ``implicit``'s
    ``bm25_weight``) or 'unorm' (log1p, each user's row scaled to unit L2 norm)."""
    X = sp.csr_matrix(X, dtype=np.float32, copy=True)
    if kind == "none":
        return X
    if kind == "binary":
        X.data[:] = 1.0
    elif kind == "log1p":
        X.data = np.log1p(X.data).astype(np.float32)
    elif kind == "bm25":
        from implicit.nearest_neighbours import bm25_weight

        X.data = np.log1p(X.data).astype(np.float32)
        X = sp.csr_matrix(bm25_weight(X, K1=1.2, B=0.75), dtype=np.float32)
    elif kind == "unorm":
        X.data = np.log1p(X.data).astype(np.float32)
        norms = np.sqrt(np.asarray(X.multiply(X).sum(1)).ravel())
        X = sp.csr_matrix(sp.diags(1.0 / np.maximum(norms, 1e-12)) @ X, dtype=np.float32)
    else:
        raise ValueError(f"unknown weighting {kind!r}; choose one of {WEIGHTINGS}")
    X.eliminate_zeros()
    return X


def _one_blas_thread():
    """Context manager limiting BLAS to one thread (``implicit`` asks for it; it parallelises itself)."""
    try:
        from threadpoolctl import threadpool_limits

        return threadpool_limits(1, "blas")
    except Exception:  # pragma: no cover - threadpoolctl missing
        import contextlib

        return contextlib.nullcontext()


def _threads() -> int:
    return int(os.environ.get("AUDIO_ALCHEMY_THREADS", "0")) or min(2, os.cpu_count() or 1)


class Model:
    """Base class. Subclasses set ``name``/``reason`` and implement ``_fit`` and ``score``.

    ``reason`` is the default explanation of a recommendation ("similar users", "similar sound", ...).
    """

    name = "model"
    reason = "recommended"
    item_based = False        # True when scores come from an item x item matrix (explainable by a seen item)

    def __init__(self, weighting: str = "log1p"):
        self.weighting = weighting
        self.X: sp.csr_matrix | None = None
        self.fit_seconds = float("nan")

    def fit(self, X: sp.spmatrix) -> "Model":
        """Fit on a users x items matrix of raw feedback (the model applies its own weighting)."""
        X = sp.csr_matrix(X)
        if X.nnz == 0:
            raise ValueError("cannot fit a recommender on empty data (no interactions)")
        t0 = time.perf_counter()
        self.X = weigh(X, self.weighting)
        self._fit(self.X)
        self.fit_seconds = time.perf_counter() - t0
        return self

    def _fit(self, X: sp.csr_matrix) -> None:
        raise NotImplementedError

    def _rows(self, users: np.ndarray, X: sp.spmatrix | None) -> sp.csr_matrix:
        if X is None:
            return self.X[np.asarray(users)]
        return weigh(sp.csr_matrix(X)[np.asarray(users)], self.weighting)

    def score(self, users: Sequence[int], X: sp.spmatrix | None = None) -> np.ndarray:
        """Dense scores (len(users), n_items); histories from ``X`` (raw counts) or the fitted matrix."""
        raise NotImplementedError

    def item_similarity(self) -> sp.csr_matrix | np.ndarray | None:
        """Item x item similarity used for ``similar`` and explanations, when the model has one."""
        return None

    def similar(self, item: int, n: int = 10) -> list[tuple[int, float]]:
        """The ``n`` items most similar to ``item`` (never itself), best first."""
        S = self.item_similarity()
        if S is None:
            raise NotImplementedError(f"{self.name} has no item similarity")
        row = np.asarray(S[item].todense()).ravel() if sp.issparse(S) else np.asarray(S[item], dtype=np.float64).copy()
        row = row.astype(np.float64)
        row[item] = -np.inf
        order = np.argsort(-row, kind="stable")[:n]
        return [(int(j), float(row[j])) for j in order if np.isfinite(row[j]) and row[j] > 0]


# --------------------------------------------------------------------------- popularity


class Popularity(Model):
    """Most listened items (count of users); the fallback for unknown users."""

    name = "popularity"
    reason = "popular with listeners"

    def __init__(self):
        super().__init__("binary")

    def _fit(self, X):
        self.pop = np.asarray(X.sum(0), dtype=np.float64).ravel()

    def score(self, users, X=None):
        return np.tile(self.pop, (len(users), 1))


# --------------------------------------------------------------------------- item-kNN (implicit)


class ItemKNN(Model):
    """Item-item neighbourhood from ``implicit.nearest_neighbours``: 'cosine', 'tfidf' or 'bm25' (K1, B)."""

    name = "item-kNN"
    reason = "listeners of what you like also like it"
    item_based = True

    def __init__(self, similarity: str = "bm25", K: int = 100, K1: float = 1.2, B: float = 0.75, weighting: str = "log1p"):
        super().__init__(weighting)
        self.similarity, self.K, self.K1, self.B = similarity, K, K1, B
        self.name = f"item-kNN {similarity}"

    def _fit(self, X):
        from implicit.nearest_neighbours import BM25Recommender, CosineRecommender, TFIDFRecommender

        if self.similarity == "bm25":
            m = BM25Recommender(K=self.K, K1=self.K1, B=self.B, num_threads=_threads())
        elif self.similarity == "cosine":
            m = CosineRecommender(K=self.K, num_threads=_threads())
        elif self.similarity == "tfidf":
            m = TFIDFRecommender(K=self.K, num_threads=_threads())
        else:
            raise ValueError(f"unknown similarity {self.similarity!r}")
        with warnings.catch_warnings():  # implicit converts its own BM25/cosine weights to CSR and warns about it
            warnings.simplefilter("ignore")
            m.fit(X, show_progress=False)
        self.S = sp.csr_matrix(m.similarity, dtype=np.float32)

    def score(self, users, X=None):
        return np.asarray((self._rows(users, X) @ self.S).todense())

    def item_similarity(self):
        return self.S


# --------------------------------------------------------------------------- matrix factorisation (implicit)


class ALS(Model):
    """Implicit-feedback ALS (Hu, Koren, Volinsky 2008) from ``implicit``; confidence 1 + alpha * weight."""

    name = "ALS"
    reason = "listeners with similar taste like it"

    def __init__(self, factors: int = 64, regularization: float = 0.01, alpha: float = 1.0, iterations: int = 15,
                 weighting: str = "log1p", seed: int = 0):
        super().__init__(weighting)
        self.factors, self.regularization, self.alpha, self.iterations, self.seed = factors, regularization, alpha, iterations, seed

    def _fit(self, X):
        from implicit.cpu.als import AlternatingLeastSquares

        with _one_blas_thread():
            m = AlternatingLeastSquares(factors=self.factors, regularization=self.regularization, alpha=self.alpha,
                                        iterations=self.iterations, random_state=self.seed, num_threads=_threads(),
                                        calculate_training_loss=False)
            m.fit(X, show_progress=False)
        self._keep(m)

    def _keep(self, m):
        """Keep a fitted ``implicit`` model and its factors as dense arrays (users x k, items x k)."""
        self.model = m
        self.U = np.asarray(m.user_factors)
        self.V = np.asarray(m.item_factors)

    def _user_factors(self, users, X):
        if X is None:
            return self.U[np.asarray(users)]
        rows = self._rows(users, X)
        with _one_blas_thread():
            return np.asarray(self.model.recalculate_user(np.arange(rows.shape[0]), rows))

    def score(self, users, X=None):
        return self._user_factors(users, X) @ self.V.T

    def item_similarity(self):
        V = self.V / np.maximum(np.linalg.norm(self.V, axis=1, keepdims=True), 1e-12)
        return _LazyRows(V)


class BPR(ALS):
    """Bayesian personalised ranking (Rendle et al. 2009) from ``implicit``."""

    name = "BPR"

    def __init__(self, factors: int = 64, learning_rate: float = 0.01, regularization: float = 0.01, iterations: int = 100,
                 weighting: str = "binary", seed: int = 0):
        Model.__init__(self, weighting)
        self.factors, self.learning_rate, self.regularization, self.iterations, self.seed = factors, learning_rate, regularization, iterations, seed

    def _fit(self, X):
        from implicit.cpu.bpr import BayesianPersonalizedRanking

        m = BayesianPersonalizedRanking(factors=self.factors, learning_rate=self.learning_rate,
                                        regularization=self.regularization, iterations=self.iterations,
                                        random_state=self.seed, num_threads=_threads())
        m.fit(X, show_progress=False)
        self._keep(m)

    def _user_factors(self, users, X):
        if X is None:
            return self.U[np.asarray(users)]
        # BPR has no closed-form fold-in: use the mean factor of the user's items (a cheap approximation).
        rows = self._rows(users, X)
        rows = sp.diags(1.0 / np.maximum(rows.sum(1).A.ravel(), 1e-12)) @ rows
        return np.asarray(rows @ self.V)


class _LazyRows:
    """Rows of V V^T on demand (a dense item x item matrix would not fit at scale)."""

    def __init__(self, V):
        self.V = V

    def __getitem__(self, i):
        return self.V @ self.V[i]


# --------------------------------------------------------------------------- EASE


class EASE(Model):
    """EASE^R (Steck 2019): closed-form item-item ridge regression with a zero diagonal.

    B = -P / diag(P), P = (X^T X + lambda I)^-1, over items with at least ``min_users`` users (others score 0).
    Memory is O(items^2) and time O(items^3): a 10k-item model is 0.8 GB in float64; prune the catalogue
    (``min_users``) or use item-kNN/ALS beyond that.
    """

    name = "EASE"
    reason = "listeners of what you like also like it"
    item_based = True

    def __init__(self, lam: float = 3000.0, min_users: int = 2, weighting: str = "log1p"):
        super().__init__(weighting)
        self.lam, self.min_users = lam, min_users

    def _columns(self, X) -> sp.csr_matrix:
        """Keep the items with at least ``min_users`` users (``self.cols``); returns those columns of ``X``."""
        n_users = np.asarray((X > 0).sum(0)).ravel()
        self.cols = np.flatnonzero(n_users >= self.min_users)
        self.n_items = X.shape[1]
        return X[:, self.cols]

    def _fit(self, X):
        P = _ridge_inverse(self._columns(X), self.lam)
        B = P / (-np.diag(P))
        B[np.diag_indices_from(B)] = 0.0
        self.B = B.astype(np.float32)

    def score(self, users, X=None):
        rows = self._rows(users, X)[:, self.cols]
        out = np.zeros((rows.shape[0], self.n_items), dtype=np.float32)
        out[:, self.cols] = rows @ self.B
        return out

    def item_similarity(self):
        S = np.zeros((self.n_items, self.n_items), dtype=np.float32) if self.n_items <= 20000 else None
        if S is None:
            raise NotImplementedError("EASE similar() on a catalogue over 20k items")
        S[np.ix_(self.cols, self.cols)] = self.B
        return S


class DLAE(EASE):
    """DLAE (Steck 2020, "Autoencoders that don't overfit towards the identity"): EASE's closed form with
    dropout-denoising instead of the zero-diagonal constraint. B = (G + L)^-1 G = I - (G + L)^-1 L with
    G = X^T X and L = diag(p / (1 - p) * diag(G) + lambda); ``p`` is the dropout rate. Same cost as EASE."""

    name = "DLAE"

    def __init__(self, p: float = 0.5, lam: float = 1.0, min_users: int = 2, weighting: str = "unorm"):
        Model.__init__(self, weighting)
        self.p, self.lam, self.min_users = p, lam, min_users

    def _fit(self, X):
        Xc = self._columns(X)
        g = np.asarray(Xc.multiply(Xc).sum(0), dtype=np.float64).ravel()
        lam = self.p / (1.0 - self.p) * g + self.lam
        P = _ridge_inverse(Xc, lam)
        B = -P * lam[None, :]
        B[np.diag_indices_from(B)] += 1.0
        self.B = B.astype(np.float32)

    def item_similarity(self):
        S = super().item_similarity()
        np.fill_diagonal(S, 0.0)
        return S


def _ridge_inverse(X: sp.csr_matrix, lam: float | np.ndarray) -> np.ndarray:
    """(X^T X + L)^-1 (items x items) for L = lam I (scalar) or diag(lam) (a vector, positive). With fewer users
    than items, the Woodbury identity L^-1 - L^-1 X^T (I + X L^-1 X^T)^-1 X L^-1 inverts a users x users matrix
    instead: about 5x fewer flops on HetRec (1.9k users, 7k items). Measured against np.linalg.inv in tests."""
    n_users, n_items = X.shape
    l_diag = np.broadcast_to(np.asarray(lam, dtype=np.float64), (n_items,))
    inv_l = 1.0 / l_diag
    if n_users < n_items:
        Xd = X.toarray().astype(np.float64)
        XL = Xd * inv_l[None, :]
        K = XL @ Xd.T
        K[np.diag_indices_from(K)] += 1.0
        P = -(XL.T @ np.linalg.solve(K, XL))
        P[np.diag_indices_from(P)] += inv_l
        return P
    G = np.asarray((X.T @ X).todense(), dtype=np.float64)
    G[np.diag_indices_from(G)] += l_diag
    return np.linalg.inv(G)


# --------------------------------------------------------------------------- RP3beta


class RP3beta(Model):
    """RP3beta (Paudel et al. 2017): 3-step random walk user->item->user->item, popularity-penalised by
    item_degree^beta, rows of the item x item matrix cut to the ``K`` strongest. Graph-based, few parameters."""

    name = "RP3beta"
    reason = "listeners of what you like also like it"
    item_based = True

    def __init__(self, alpha: float = 1.0, beta: float = 0.5, K: int = 200, weighting: str = "log1p"):
        super().__init__(weighting)
        self.alpha, self.beta, self.K = alpha, beta, K

    def _fit(self, X):
        Xa = X.copy()
        Xa.data = np.power(Xa.data, self.alpha)
        Pui = sp.diags(1.0 / np.maximum(np.asarray(Xa.sum(1)).ravel(), 1e-12)) @ Xa          # users x items
        XT = sp.csr_matrix(Xa.T)
        Piu = sp.diags(1.0 / np.maximum(np.asarray(XT.sum(1)).ravel(), 1e-12)) @ XT          # items x users
        deg = np.asarray((X > 0).sum(0)).ravel().astype(np.float64)
        W = sp.csr_matrix(Piu @ Pui)
        W = W @ sp.diags(np.power(np.maximum(deg, 1.0), -self.beta))
        W.setdiag(0.0)
        W.eliminate_zeros()
        self.S = _keep_top_k_rows(sp.csr_matrix(W, dtype=np.float32), self.K)

    def score(self, users, X=None):
        return np.asarray((self._rows(users, X) @ self.S).todense())

    def item_similarity(self):
        return self.S


def _keep_top_k_rows(W: sp.csr_matrix, K: int) -> sp.csr_matrix:
    """Keep the K largest entries of each row of a CSR matrix."""
    W = sp.csr_matrix(W)
    indptr, indices, data = [0], [], []
    for r in range(W.shape[0]):
        a, b = W.indptr[r], W.indptr[r + 1]
        d, ix = W.data[a:b], W.indices[a:b]
        if b - a > K:
            sel = np.argpartition(-d, K - 1)[:K]
            d, ix = d[sel], ix[sel]
        indices.append(ix)
        data.append(d)
        indptr.append(indptr[-1] + len(ix))
    return sp.csr_matrix((np.concatenate(data) if data else [], np.concatenate(indices) if indices else [], indptr), shape=W.shape)


# --------------------------------------------------------------------------- user neighbourhoods (incl. social)


class UserKNN(Model):
    """User-user neighbourhood: cosine between users' histories, or a given user x user graph (e.g. friends).

    Scores are the similarity-weighted sum of the ``K`` nearest users' rows.
    """

    name = "user-kNN"
    reason = "similar users like it"

    def __init__(self, K: int = 50, graph: sp.spmatrix | None = None, shrink: float = 0.0, weighting: str = "log1p"):
        super().__init__(weighting)
        self.K, self.graph, self.shrink = K, graph, shrink
        if graph is not None:
            self.name, self.reason = "friends", "your friends listen to it"

    def _fit(self, X):
        if self.graph is not None:
            G = sp.csr_matrix(self.graph, dtype=np.float32)
            self.G = sp.diags(1.0 / np.maximum(np.asarray(G.sum(1)).ravel(), 1e-12)) @ G
        else:
            norms = np.sqrt(np.asarray(X.multiply(X).sum(1)).ravel())
            Xn = sp.diags(1.0 / np.maximum(norms, 1e-12)) @ X
            S = sp.csr_matrix(Xn @ Xn.T)
            S.setdiag(0.0)
            S.eliminate_zeros()
            self.G = _keep_top_k_rows(S, self.K)

    def score(self, users, X=None):
        if X is not None:
            rows = self._rows(users, X)
            norms = np.sqrt(np.asarray(self.X.multiply(self.X).sum(1)).ravel())
            rn = np.sqrt(np.asarray(rows.multiply(rows).sum(1)).ravel())
            S = (sp.diags(1.0 / np.maximum(rn, 1e-12)) @ rows) @ (sp.diags(1.0 / np.maximum(norms, 1e-12)) @ self.X).T
            S = _keep_top_k_rows(sp.csr_matrix(S), self.K)
            return np.asarray((S @ self.X).todense())
        return np.asarray((self.G[np.asarray(users)] @ self.X).todense())


# --------------------------------------------------------------------------- content


class ContentKNN(Model):
    """Content-based: items are vectors (audio features, embeddings, tag profiles); cosine similarity
    between them, ``K`` neighbours per item. Works for items nobody has played yet (cold start), since the
    similarity never looks at the interactions."""

    name = "content"
    reason = "similar sound"
    item_based = True

    def __init__(self, features: np.ndarray | sp.spmatrix, K: int = 100, standardize: bool = True, weighting: str = "log1p",
                 reason: str = "similar sound"):
        super().__init__(weighting)
        self.features, self.K, self.standardize, self.reason = features, K, standardize, reason
        self.S = content_similarity(features, K, standardize)

    def _fit(self, X):
        if self.S.shape[0] != X.shape[1]:
            raise ValueError(f"content features cover {self.S.shape[0]} items, interactions {X.shape[1]}")

    def score(self, users, X=None):
        return np.asarray((self._rows(users, X) @ self.S).todense())

    def item_similarity(self):
        return self.S


def standardized(features) -> np.ndarray:
    """Columns to z-scores (NaN/missing -> 0 = the column mean), clipped to +-5 so one outlier cannot dominate."""
    F = np.asarray(features, dtype=np.float64)
    F = np.where(np.isfinite(F), F, np.nan)
    with np.errstate(all="ignore"):
        mu = np.nanmean(F, axis=0) if len(F) else np.zeros(F.shape[1])
        sd = np.nanstd(F, axis=0) if len(F) else np.ones(F.shape[1])
    mu, sd = np.nan_to_num(mu), np.nan_to_num(sd)
    return np.nan_to_num(np.clip((F - mu) / np.where(sd > 1e-12, sd, 1.0), -5.0, 5.0))


def content_similarity(features, K: int = 100, standardize: bool = True) -> sp.csr_matrix:
    """Cosine similarity between item vectors (rows), kept to the K nearest per item; zero rows stay isolated.

    Dense features are standardised per column first (so loudness in dB does not drown out spectral ratios);
    sparse features (e.g. tag counts) get TF-IDF weighting instead.
    """
    if sp.issparse(features):
        F = sp.csr_matrix(features, dtype=np.float32)
        df = np.asarray((F > 0).sum(0)).ravel()
        idf = np.log((1 + F.shape[0]) / (1 + df)) + 1.0
        F = F.copy()
        F.data = np.log1p(F.data)
        F = F @ sp.diags(idf.astype(np.float32))
        norms = np.sqrt(np.asarray(F.multiply(F).sum(1)).ravel())
        F = sp.diags(1.0 / np.maximum(norms, 1e-12)) @ F
        S = sp.csr_matrix(F @ F.T)
    else:
        F = standardized(features) if standardize else np.nan_to_num(np.asarray(features, dtype=np.float64))
        norms = np.linalg.norm(F, axis=1, keepdims=True)
        F = F / np.maximum(norms, 1e-12)
        S = sp.csr_matrix((F @ F.T).astype(np.float32))
    S.setdiag(0.0)
    S.data = np.maximum(S.data, 0.0)   # anti-similar items are not "similar sound"
    S.eliminate_zeros()
    return _keep_top_k_rows(S, K)


# --------------------------------------------------------------------------- hybrid


class Hybrid(Model):
    """Weighted blend of fitted component models: score = sum_m w_m * z_m, where z_m is model m's score
    standardised per user over the catalogue (mean 0, std 1), so weights compare like with like.

    The weights are tuned on the validation split only (see bench/recommend.py, ``tune_weights``).
    """

    name = "hybrid"
    reason = "recommended"

    def __init__(self, components: Sequence[Model], weights: Sequence[float], name: str | None = None):
        super().__init__("none")
        if len(components) != len(weights) or not components:
            raise ValueError("one weight per component, at least one component")
        self.components, self.weights = list(components), [float(w) for w in weights]
        if name:
            self.name = name
        self.item_based = any(c.item_based for c in components)

    def fit(self, X):
        t0 = time.perf_counter()
        self.X = sp.csr_matrix(X, dtype=np.float32)
        for c in self.components:
            if c.X is None or c.X.shape != X.shape:
                c.fit(X)
        self.fit_seconds = time.perf_counter() - t0 + sum(c.fit_seconds for c in self.components)
        return self

    def component_scores(self, users, X=None) -> list[np.ndarray]:
        return [standardize_rows(c.score(users, X)) for c in self.components]

    def score(self, users, X=None):
        out = None
        for w, z in zip(self.weights, self.component_scores(users, X)):
            if w == 0:
                continue
            out = w * z if out is None else out + w * z
        return out if out is not None else np.zeros((len(users), self.X.shape[1]))

    WEAK_REASON = "a weak match: nothing you like points to it strongly"

    def main_reason(self, users, item, X=None) -> str:
        """The reason of the component contributing most to ``item``'s score for one user, among the components
        with evidence for it (a raw score above zero); none has any: :attr:`WEAK_REASON`."""
        rows = [c.score([users], X) for c in self.components]  # once each: standardised below as score() does
        raw = [r[0, item] for r in rows]
        contrib = [w * standardize_rows(r)[0, item] for w, r in zip(self.weights, rows)]
        backed = [k for k in range(len(raw)) if raw[k] > 0 and self.weights[k] > 0]
        if not backed:
            return self.WEAK_REASON
        return self.components[max(backed, key=lambda k: contrib[k])].reason

    def item_similarity(self):
        for c in self.components:
            if c.item_similarity() is not None:
                return c.item_similarity()
        return None


def standardize_rows(S: np.ndarray) -> np.ndarray:
    """Per-row z-score (rows with zero spread become zeros)."""
    S = np.asarray(S, dtype=np.float32)
    mu = S.mean(1, keepdims=True)
    sd = S.std(1, keepdims=True)
    return (S - mu) / np.where(sd > 1e-12, sd, 1.0)
