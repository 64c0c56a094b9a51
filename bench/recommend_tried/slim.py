"""SLIM ElasticNet (Ning & Karypis 2011) with a neighbourhood prefilter: for each item j (>= 2 users), a
positive ElasticNet regresses column j on its K most co-occurring items (cosine of the weighted columns; j
itself excluded), over all users. Tuned on validation (fit on tr_v, Judge(tr_v, val)); the chosen setting is
refit on train and scored on test once.

    python bench/recommend_tried/slim.py
"""
import sys
import time
import warnings

import numpy as np
import scipy.sparse as sp
from sklearn.exceptions import ConvergenceWarning
from sklearn.linear_model import ElasticNet
from threadpoolctl import threadpool_limits

from common import log, save, setup
from audio_alchemy.recommend.models import weigh

threadpool_limits(1)
warnings.simplefilter("ignore", ConvergenceWarning)


def fit_slim(Xraw, weighting="log1p", alpha=1e-3, l1_ratio=0.1, K=200, min_users=2):
    t0 = time.perf_counter()
    X = weigh(Xraw, weighting)
    n_items = X.shape[1]
    cols = np.flatnonzero(np.asarray((X > 0).sum(0)).ravel() >= min_users)
    Xc = sp.csc_matrix(X[:, cols])
    norms = np.sqrt(np.asarray(Xc.multiply(Xc).sum(0)).ravel())
    Xn = Xc @ sp.diags(1.0 / np.maximum(norms, 1e-12))
    C = (Xn.T @ Xn).tocsr()
    C.setdiag(0.0)
    C.eliminate_zeros()
    Xd = Xc.toarray()
    rows, colsB, vals = [], [], []
    en = ElasticNet(alpha=alpha, l1_ratio=l1_ratio, positive=True, fit_intercept=False, copy_X=False,
                    precompute=False, selection="random", max_iter=100, tol=1e-4, random_state=0)
    for j in range(len(cols)):
        a, b = C.indptr[j], C.indptr[j + 1]
        nb, d = C.indices[a:b], C.data[a:b]
        if len(nb) == 0:
            continue
        if len(nb) > K:
            nb = nb[np.argpartition(-d, K - 1)[:K]]
        y = Xd[:, j]
        users = np.flatnonzero((Xd[:, nb] > 0).any(1) | (y > 0))  # other rows are all zero: no effect on the fit
        A = np.asfortranarray(Xd[np.ix_(users, nb)])
        # keep sklearn's 1/(2n) loss scaling over all users so alpha means the same for every item
        scale = np.sqrt(len(users) / Xd.shape[0])
        en.fit(A * scale, y[users] * scale)
        w = en.coef_
        nz = w > 0
        rows.append(nb[nz])
        colsB.append(np.full(nz.sum(), j))
        vals.append(w[nz])
    B = sp.csr_matrix((np.concatenate(vals), (np.concatenate(rows), np.concatenate(colsB))),
                      shape=(len(cols), len(cols)), dtype=np.float32)
    S = np.zeros((X.shape[0], n_items), np.float32)
    S[:, cols] = np.asarray((sp.csr_matrix(Xc) @ B).todense())
    return S, time.perf_counter() - t0, B.nnz


if __name__ == "__main__":
    het, X, train, test, tr_v, val, jv, jt = setup()
    # first grid (log1p alpha 1e-4/1e-3/1e-2, l1 0.1/0.5; binary 1e-3; unorm 1e-4) favoured unorm and larger alpha
    grid = [("unorm", a, l1, 200) for a in (1e-5, 3e-5, 1e-4, 3e-4, 1e-3) for l1 in (0.01, 0.1)]
    grid += [("log1p", a, 0.1, 200) for a in (0.03, 0.1, 0.3)] + [("binary", a, 0.1, 200) for a in (0.01, 0.03, 0.1)]
    grid += [("unorm", 1e-4, 0.1, 500), ("unorm", 1e-4, 0.1, 100)]
    if "--quick" in sys.argv:
        grid = grid[:1]
    best = (-1, None, None)
    for wt, a, l1, K in grid:
        S, fs, nnz = fit_slim(tr_v, wt, a, l1, K)
        s = jv.ndcg(S)
        log(f"SLIM {wt} alpha {a} l1 {l1} K {K}: val {s:.4f} (fit {fs:.0f}s, {nnz} weights)")
        if s > best[0]:
            best = (s, dict(weighting=wt, alpha=a, l1_ratio=l1, K=K), S)
    s_val, p, S_val = best
    log(f"chosen on val: {p} val {s_val:.4f}; refit on train")
    S_test, fs, nnz = fit_slim(train, **p)
    t = jt.ndcg(S_test)
    log(f"SLIM test NDCG@10 {t:.4f} (fit {fs:.0f}s)")
    save("SLIM", S_val, S_test, {"params": p, "val": s_val, "test": t, "fit_s": fs})
