"""Ranking metrics on hand-computed toy cases, the split protocol, and bootstrap CIs."""

import math

import numpy as np
import pytest
import scipy.sparse as sp

from audio_alchemy.recommend.evaluate import bootstrap_ci, evaluate, ranking_metrics, recommend_top_k, split, top_k


def test_metrics_hand_computed():
    # ranks 1 and 3 hit, two relevant items, k=3
    m = ranking_metrics(np.array([[1, 2, 3]]), [{1, 3}], k=3)
    dcg = 1 + 1 / math.log2(4)
    idcg = 1 + 1 / math.log2(3)
    assert m["ndcg"][0] == pytest.approx(dcg / idcg)
    assert m["recall"][0] == pytest.approx(1.0)
    assert m["precision"][0] == pytest.approx(2 / 3)
    assert m["map"][0] == pytest.approx((1 / 1 + 2 / 3) / 2)


def test_metrics_miss_and_partial():
    m = ranking_metrics(np.array([[4, 5, 6], [9, 7, 8]]), [{1}, {7, 10, 11, 12}], k=3)
    assert m["ndcg"][0] == 0 and m["recall"][0] == 0 and m["map"][0] == 0
    # second user: one hit at rank 2 of 4 relevant; ideal has 3 hits in top 3
    assert m["ndcg"][1] == pytest.approx((1 / math.log2(3)) / (1 + 1 / math.log2(3) + 1 / math.log2(4)))
    assert m["recall"][1] == pytest.approx(1 / 4)
    assert m["precision"][1] == pytest.approx(1 / 3)
    assert m["map"][1] == pytest.approx((1 / 2) / 3)


def test_perfect_ranking_scores_one():
    m = ranking_metrics(np.array([[3, 1, 2, 0]]), [{1, 2, 3}], k=4)
    assert m["ndcg"][0] == pytest.approx(1.0)
    assert m["map"][0] == pytest.approx(1.0)


def test_top_k_order():
    s = np.array([[0.1, 0.9, -np.inf, 0.5]])
    assert top_k(s, 2).tolist() == [[1, 3]]


def _random_matrix(seed=0, users=60, items=40, density=0.3):
    rng = np.random.default_rng(seed)
    X = sp.random(users, items, density=density, random_state=rng, format="csr", dtype=np.float32)
    X.data = np.ceil(X.data * 10)
    return X


def test_split_disjoint_complete_and_fixed():
    X = _random_matrix()
    tr, te = split(X, frac=0.2, min_items=5, seed=0)
    assert (tr.multiply(te)).nnz == 0                     # no test item leaks into train
    assert abs(tr + te - X).sum() == 0                    # nothing lost
    counts = np.diff(X.indptr)
    n_test = np.diff(te.indptr)
    for c, t in zip(counts, n_test):
        assert t == (max(1, round(0.2 * c)) if c >= 5 else 0)
    tr2, te2 = split(X, seed=0)
    assert (tr2 != tr).nnz == 0 and (te2 != te).nnz == 0  # seed fixed -> same split
    _, te3 = split(X, seed=1)
    assert (te3 != te).nnz > 0


def test_recommend_top_k_never_returns_training_items():
    X = _random_matrix(1)
    tr, te = split(X, seed=0)
    users = np.arange(X.shape[0])
    recs = recommend_top_k(lambda u: np.ones((len(u), X.shape[1])), tr, users, k=10)
    for u in users:
        seen = set(tr[u].indices.tolist())
        assert not seen & set(recs[u][recs[u] >= 0].tolist())


def test_evaluate_oracle_scores_perfect():
    X = _random_matrix(2)
    tr, te = split(X, seed=0)
    dense_te = te.toarray()
    res = evaluate(lambda u: dense_te[u], tr, te, k=10, n_boot=50)
    assert res.means["recall"] == pytest.approx(1.0)   # every user has <= 10 test items here
    assert res.means["ndcg"] == pytest.approx(1.0)
    lo, hi = res.ci["ndcg"]
    assert lo <= res.means["ndcg"] <= hi


def test_bootstrap_ci_contains_mean():
    v = np.random.default_rng(0).random(500)
    lo, hi = bootstrap_ci(v, n_boot=300)
    assert lo < v.mean() < hi and hi - lo < 0.1
