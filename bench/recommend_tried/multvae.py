"""Mult-VAE (Liang et al. 2018) on CPU, tuned on validation (fit on tr_v, Judge(tr_v, val)); the chosen config
(including the epoch count picked by validation) is refit on train and scored on test once.

    python bench/recommend_tried/multvae.py
"""
import itertools
import json
import sys
import time

import numpy as np
import scipy.sparse as sp
import torch
import torch.nn as nn
import torch.nn.functional as F

from common import CACHE, log, save, setup

torch.set_num_threads(1)


class MultVAE(nn.Module):
    def __init__(self, n_items, hidden, latent, dropout):
        super().__init__()
        self.enc = nn.Linear(n_items, hidden)
        self.mu = nn.Linear(hidden, latent)
        self.lv = nn.Linear(hidden, latent)
        self.dec1 = nn.Linear(latent, hidden)
        self.dec2 = nn.Linear(hidden, n_items)
        self.drop = nn.Dropout(dropout)
        for m in (self.enc, self.mu, self.lv, self.dec1, self.dec2):
            nn.init.xavier_uniform_(m.weight)
            nn.init.normal_(m.bias, std=0.001)

    def forward(self, x):
        h = F.normalize(x, dim=1)
        h = self.drop(h)
        h = torch.tanh(self.enc(h))
        mu, lv = self.mu(h), self.lv(h)
        z = mu + torch.randn_like(mu) * torch.exp(0.5 * lv) if self.training else mu
        out = self.dec2(torch.tanh(self.dec1(z)))
        return out, mu, lv


def transform(X, kind):
    X = sp.csr_matrix(X, dtype=np.float32, copy=True)
    if kind == "binary":
        X.data[:] = 1.0
    elif kind == "log1p":
        X.data = np.log1p(X.data).astype(np.float32)
    return X


def fit_score(Xtrain, kind, hidden, latent, beta_cap, epochs, judge=None, eval_every=10, seed=0, lr=1e-3, wd=0.0,
              batch=128, dropout=0.5, anneal_epochs=None, min_users=2):
    """Train; if judge is given, return {epoch: val ndcg} and the best scores; else scores after `epochs`."""
    torch.manual_seed(seed)
    rng = np.random.default_rng(seed)
    cols = np.flatnonzero(np.asarray((Xtrain > 0).sum(0)).ravel() >= min_users)
    Xt = transform(Xtrain, kind)[:, cols]
    dense = torch.tensor(Xt.toarray())
    n_users, n_items = dense.shape
    model = MultVAE(n_items, hidden, latent, dropout)
    opt = torch.optim.Adam(model.parameters(), lr=lr, weight_decay=wd)
    steps_per_epoch = int(np.ceil(n_users / batch))
    anneal_steps = (anneal_epochs or epochs) * steps_per_epoch
    step = 0
    hist, best, best_S = {}, -1.0, None

    def scores():
        model.eval()
        with torch.no_grad():
            out = torch.cat([F.log_softmax(model(dense[i:i + 512])[0], 1) for i in range(0, n_users, 512)]).numpy()
        model.train()
        S = np.empty((n_users, Xtrain.shape[1]), np.float32)
        S[:] = out.min(1, keepdims=True) - 1.0
        S[:, cols] = out
        return S

    t0 = time.perf_counter()
    for ep in range(1, epochs + 1):
        perm = rng.permutation(n_users)
        for b in range(0, n_users, batch):
            xb = dense[perm[b:b + batch]]
            logits, mu, lv = model(xb)
            nll = -(F.log_softmax(logits, 1) * xb).sum(1).mean()
            kl = (-0.5 * (1 + lv - mu ** 2 - lv.exp()).sum(1)).mean()
            beta = min(beta_cap, beta_cap * step / anneal_steps)
            loss = nll + beta * kl
            opt.zero_grad()
            loss.backward()
            opt.step()
            step += 1
        if judge is not None and (ep % eval_every == 0 or ep == epochs):
            S = scores()
            s = judge.ndcg(S)
            hist[ep] = s
            if s > best:
                best, best_S = s, S
    fit_s = time.perf_counter() - t0
    if judge is not None:
        return hist, best_S, fit_s
    return scores(), fit_s


if __name__ == "__main__":
    het, X, train, test, tr_v, val, jv, jt = setup()
    quick = "--quick" in sys.argv
    # a first run (lr 3e-3, 100 epochs) peaked at epoch <= 10 (val 0.1548) and then overfitted: 1.9k users only.
    # So: lr 1e-3, 40 epochs, validation every 2 epochs; beta reaches its cap at epoch 20 (same schedule on refit).
    E = 40
    kw = dict(batch=256, lr=1e-3, anneal_epochs=20)
    grid = [  # (input, hidden, latent, beta_cap, weight_decay)
        ("log1p", 600, 200, 0.2, 0.0), ("log1p", 200, 64, 0.2, 0.0), ("binary", 600, 200, 0.2, 0.0),
        ("log1p", 600, 200, 0.2, 1e-4),
    ]
    results = []
    best = (-1, None, None, None)
    for kind, h, l, bc, wd in grid:
        hist, S, fs = fit_score(tr_v, kind, h, l, bc, E, judge=jv, eval_every=2, wd=wd, **kw)
        ep = max(hist, key=hist.get)
        log(f"MultVAE {kind} [{h}-{l}-{h}] beta {bc} wd {wd}: best val {hist[ep]:.4f} at epoch {ep} ({fs:.0f}s); "
            + " ".join(f"{e}:{v:.4f}" for e, v in hist.items()))
        results.append(dict(kind=kind, hidden=h, latent=l, beta=bc, wd=wd, epoch=ep, val=hist[ep], fit_s=fs))
        if hist[ep] > best[0]:
            best = (hist[ep], dict(kind=kind, hidden=h, latent=l, beta_cap=bc, wd=wd, epochs=ep), S, fs)
        if quick:
            break
    s_val, p, S_val, _ = best
    log(f"chosen on val: {p} val {s_val:.4f}; refit on train")
    S_test, fs = fit_score(train, p["kind"], p["hidden"], p["latent"], p["beta_cap"], p["epochs"], wd=p["wd"], **kw)
    t = jt.ndcg(S_test)
    log(f"MultVAE test NDCG@10 {t:.4f} (fit {fs:.0f}s)")
    save("MultVAE", S_val, S_test, {"params": p, "val": s_val, "test": t, "fit_s": fs})
    json.dump(results, open(CACHE / "multvae_grid.json", "w"), indent=1)
