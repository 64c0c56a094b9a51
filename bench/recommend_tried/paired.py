"""Paired bootstrap over test users of NDCG@10 between two saved test blends (cache/<a>.blend.npy, <b>).
    python bench/recommend_tried/paired.py final hybrid"""
import sys

import numpy as np

from common import CACHE, setup

het, X, train, test, tr_v, val, jv, jt = setup()


a, b = (jt.ndcg_per_user(np.load(CACHE / f"{n}.blend.npy")) for n in sys.argv[1:3])
d = a - b
rng = np.random.default_rng(0)
boot = np.array([d[rng.integers(0, len(d), len(d))].mean() for _ in range(2000)])
print(f"{sys.argv[1]} {a.mean():.4f} vs {sys.argv[2]} {b.mean():.4f}: diff {d.mean():+.4f}, 95% CI "
      f"[{np.quantile(boot, 0.025):+.4f}, {np.quantile(boot, 0.975):+.4f}] over {len(d)} users")
