"""DLAE's closed form, the diagonal-ridge inverse behind it, and the BM25/unit-norm confidence transforms."""

import numpy as np
import scipy.sparse as sp

from audio_alchemy.recommend.models import DLAE, _ridge_inverse, weigh


def _data(users, items, seed=0):
    return sp.random(users, items, density=0.25, random_state=seed, format="csr", dtype=np.float64) * 10


def test_ridge_inverse_matches_numpy_for_scalar_and_diagonal_ridge():
    rng = np.random.default_rng(0)
    for X in (_data(30, 60), _data(90, 20, seed=1)):   # Woodbury path (users < items) and the direct path
        G = (X.T @ X).toarray().astype(np.float64)
        for lam in (3.0, rng.uniform(0.5, 2.0, X.shape[1])):
            want = np.linalg.inv(G + np.diag(np.broadcast_to(lam, (X.shape[1],))))
            np.testing.assert_allclose(_ridge_inverse(X, lam), want, atol=1e-10)


def test_dlae_equals_its_definition():
    X = _data(40, 25, seed=2)
    m = DLAE(p=0.5, lam=2.0, min_users=1, weighting="none").fit(X)
    Xd = X.toarray().astype(np.float64)
    G = Xd.T @ Xd
    L = np.diag(1.0 * np.diag(G) + 2.0)            # p / (1 - p) = 1
    np.testing.assert_allclose(m.B, np.linalg.solve(G + L, G), atol=1e-5)
    np.testing.assert_allclose(m.score([0, 3]), Xd[[0, 3]] @ m.B, rtol=1e-4, atol=1e-5)
    S = m.item_similarity()
    assert np.all(np.diag(S) == 0)


def test_weightings_keep_the_pattern_and_normalise():
    X = _data(20, 30, seed=3)
    for kind in ("bm25", "unorm"):
        W = weigh(X, kind)
        assert W.nnz == X.nnz and np.all(W.data > 0)
        assert (abs(W) > 0).toarray().tolist() == (abs(X) > 0).toarray().tolist()
    norms = np.sqrt(np.asarray(weigh(X, "unorm").multiply(weigh(X, "unorm")).sum(1)).ravel())
    np.testing.assert_allclose(norms[np.diff(X.indptr) > 0], 1.0, rtol=1e-5)
