"""Re-fit the Mult-VAE config chosen on validation by multvae.py and cache its scores as softmax probabilities
(instead of log-softmax) for blending: log-softmax rows have a long negative tail, so their row z-scores compress
the top and the blend weight ran to the grid edge. Same seeds, same schedule.

    python bench/recommend_tried/multvae_prob.py
"""
import numpy as np

from common import load, log, save, setup
from multvae import fit_score

het, X, train, test, tr_v, val, jv, jt = setup()
p = load("MultVAE")[2]["params"]
kw = dict(batch=256, lr=1e-3, anneal_epochs=20, wd=p["wd"])
S_val, fv = fit_score(tr_v, p["kind"], p["hidden"], p["latent"], p["beta_cap"], p["epochs"], **kw)
S_test, ft = fit_score(train, p["kind"], p["hidden"], p["latent"], p["beta_cap"], p["epochs"], **kw)
v, t = jv.ndcg(S_val), jt.ndcg(S_test)
log(f"MultVAE {p} val {v:.4f} test {t:.4f} (fit {ft:.0f}s); cached as probabilities")
save("MultVAE-p", np.exp(S_val), np.exp(S_test), {"params": p, "val": v, "test": t, "fit_s": ft})
