"""Validation-tuned blends of cached components (row z-scores), as run_models' hybrid: components ordered by
validation NDCG (best first, weight 1), weights by tune_weights on Judge(tr_v, val); the test blend uses the
same weights on the components refit on train, scored once with Judge(train, test).

--groups plays|mainstream|items: weights tuned separately per user tercile of an activity measure computed
from the training matrix of the split being scored (tr_v for validation, train for test) -- never from held-out
data. 'items' = number of training items (degenerate here: ~97% of users have exactly 32/40).

    python bench/recommend_tried/blend.py [--extra MultVAE SLIM] [--groups plays]
"""
import argparse

import numpy as np
import scipy.sparse as sp

from common import BASE, CACHE, Judge, load, log, setup, tune_weights

ap = argparse.ArgumentParser()
ap.add_argument("--extra", nargs="*", default=[])
ap.add_argument("--groups", default="none", choices=["none", "plays", "mainstream", "items"])
ap.add_argument("--wide", action="store_true", help="weight grid up to 8 (default grid tops at 3)")
ap.add_argument("--warm", action="store_true",
                help="per group: start from the global val-tuned blend (first component) and tune adjustments")
ap.add_argument("--save", default=None, help="save the test blend to cache/<name>.blend.npy")
ap.add_argument("--only", nargs="*", default=None, help="use exactly these components")
a = ap.parse_args()

het, X, train, test, tr_v, val, jv, jt = setup()
names = a.only or (BASE + a.extra)
comps = {n: load(n) for n in names}
for n in names:
    log(f"{n}: {comps[n][2]}")
names = sorted(names, key=lambda n: -comps[n][2]["val"])


def activity(M):
    M = sp.csr_matrix(M)
    if a.groups == "plays":
        return np.asarray(M.sum(1)).ravel()
    if a.groups == "items":
        return np.diff(M.indptr).astype(float)
    pop = np.asarray((M > 0).sum(0)).ravel()
    B = (M > 0).astype(np.float64)
    return np.asarray(B @ pop).ravel() / np.maximum(np.diff(M.indptr), 1)  # mean popularity of own items


def groups(M, judge):
    if a.groups == "none":
        return [np.arange(M.shape[0])]
    act = activity(M)
    q = np.quantile(act[judge.users], [1 / 3, 2 / 3])
    g = np.digitize(act, q, right=True)
    return [np.flatnonzero(g == k) for k in range(3)]


def masked(held, rows):
    keep = np.zeros(held.shape[0], bool)
    keep[rows] = True
    return sp.csr_matrix(sp.diags(keep.astype(np.float32)) @ held)


GRID = (-0.5, -0.25, 0.0, 0.25, 0.5, 0.75, 1.0, 1.5, 2.0, 3.0) + ((4.0, 6.0, 8.0) if a.wide else ())
Gv, Gt = groups(tr_v, jv), groups(train, jt)
Hv = np.zeros(X.shape, np.float32)
Ht = np.zeros(X.shape, np.float32)
zs_v = [np.asarray(comps[n][0]) for n in names]
if a.warm:
    from common import standardize_rows
    w0, s0 = tune_weights(zs_v, jv, grid=GRID, log=log, names=names)
    log(f"global weights {dict(zip(names, w0))} val {s0:.4f}")
    gv_ = standardize_rows(sum(wi * z for wi, z in zip(w0, zs_v) if wi))
    gt_ = standardize_rows(sum(wi * np.asarray(comps[n][1]) for wi, n in zip(w0, names) if wi))
    comps["global"] = (gv_, gt_, {})
    names = ["global"] + names
    zs_v = [gv_] + zs_v
for k, (gv, gt) in enumerate(zip(Gv, Gt)):
    j = Judge(tr_v, masked(val, gv)) if a.groups != "none" else jv
    w, s = tune_weights(zs_v, j, grid=GRID, log=log, names=names)
    log(f"group {k} ({len(j.users)} val users): weights {dict(zip(names, w))} val {s:.4f}")
    for wi, n in zip(w, names):
        if wi:
            Hv[gv] += wi * zs_v[names.index(n)][gv]
            Ht[gt] += wi * np.asarray(comps[n][1][gt])
sv, st = jv.ndcg(Hv), jt.ndcg(Ht)
als = load("ALS")[2]["test"]
log(f"BLEND groups={a.groups} warm={a.warm} wide={a.wide} components={names}: val {sv:.4f} test {st:.4f} ratio to ALS (test {als:.4f}, fitted by base_components.py): {st / als:.3f}")
if a.save:
    np.save(CACHE / f"{a.save}.blend.npy", Ht)
