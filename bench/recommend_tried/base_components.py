"""Fit the existing blend components as run_models does (grids of the bench; ALS/DLAE/EASE fixed at the values
the bench chose on validation, documented in docs/recommend.md) and cache val/test scores."""
import time

import numpy as np
from threadpoolctl import threadpool_limits

from common import (ALS, DLAE, EASE, ContentKNN, ItemKNN, RP3beta, UserKNN, friends_graph, item_tag_matrix, log,
                    save, setup, tune)

threadpool_limits(1)
het, X, train, test, tr_v, val, jv, jt = setup()
users = np.arange(X.shape[0])


def run(name, make, grid):
    t0 = time.perf_counter()
    if len([1 for v in grid.values() if len(v) > 1]):
        p, s, S_val = tune(make, grid, tr_v, jv, log, name)
    else:
        p = {k: v[0] for k, v in grid.items()}
        S_val = make(**p).fit(tr_v).score(users)
        s = jv.ndcg(S_val)
    m = make(**p).fit(train)
    S = m.score(users)
    t = jt.ndcg(S)
    log(f"{name}: {p} val {s:.4f} test {t:.4f} fit {m.fit_seconds:.1f}s ({time.perf_counter() - t0:.0f}s)")
    save(name, S_val, S, {"params": p, "val": s, "test": t, "fit_s": m.fit_seconds})


run("item-kNN", lambda K, K1, B: ItemKNN("bm25", K=K, K1=K1, B=B), {"K": [100, 300], "K1": [1.2], "B": [0.1, 0.25, 0.5]})
run("ALS", lambda: ALS(32, 0.3, 1.0, iterations=15, weighting="bm25"), {})
run("RP3beta", lambda beta: RP3beta(1.0, beta, K=200), {"beta": [0.0, 0.3, 0.5]})
run("EASE", lambda: EASE(3000.0), {})
run("DLAE", lambda: DLAE(0.33, 3.0, weighting="unorm"), {})
run("user-kNN", lambda: UserKNN(50), {})
G = friends_graph(het)
run("friends", lambda: UserKNN(graph=G), {})
T_val = item_tag_matrix(het, exclude_pairs=test + val)
T_test = item_tag_matrix(het, exclude_pairs=test)
t0 = time.perf_counter()
S_v = ContentKNN(T_val, K=100, reason="similar tags").fit(tr_v).score(users)
m = ContentKNN(T_test, K=100, reason="similar tags").fit(train)
S_t = m.score(users)
log(f"tags: val {jv.ndcg(S_v):.4f} test {jt.ndcg(S_t):.4f} fit {m.fit_seconds:.1f}s")
save("tags", S_v, S_t, {"params": {}, "val": jv.ndcg(S_v), "test": jt.ndcg(S_t), "fit_s": m.fit_seconds})
