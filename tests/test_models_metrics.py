"""Metrics on hand-computed toy cases: scores, majority baseline, bootstrap CIs, confusion, ROC/AUC."""

import numpy as np
import pytest

from audio_alchemy.models import metrics


def test_scores_hand_computed():
    s = metrics.scores(["a", "a", "b", "b"], ["a", "b", "b", "b"], ["a", "b"])
    assert s["accuracy"] == pytest.approx(0.75)
    assert s["balanced_accuracy"] == pytest.approx((0.5 + 1.0) / 2)
    assert s["macro_precision"] == pytest.approx((1.0 + 2 / 3) / 2)
    assert s["macro_recall"] == pytest.approx((0.5 + 1.0) / 2)
    assert s["macro_f1"] == pytest.approx((2 / 3 + 0.8) / 2)


def test_balanced_accuracy_on_imbalanced_always_majority():
    y = ["en"] * 8 + ["zh"] * 2
    s = metrics.scores(y, ["en"] * 10, ["en", "zh"])
    assert s["accuracy"] == pytest.approx(0.8)
    assert s["balanced_accuracy"] == pytest.approx(0.5)
    assert s["macro_f1"] == pytest.approx((2 * 0.8 / 1.8 + 0.0) / 2)


def test_majority_baseline_uses_training_labels():
    b = metrics.majority_baseline(["a", "a", "b"], ["a", "b"])
    assert b["accuracy"] == pytest.approx(0.5)
    b2 = metrics.majority_baseline(["b", "b", "a"], ["a", "a", "a", "b"])
    assert b2["accuracy"] == pytest.approx(0.25)


def test_bootstrap_ci_brackets_estimate_and_is_degenerate_when_perfect():
    rng = np.random.default_rng(1)
    y = rng.choice(["a", "b", "c"], 200)
    pred = np.where(rng.random(200) < 0.7, y, rng.choice(["a", "b", "c"], 200))
    acc = metrics.scores(y, pred)["accuracy"]
    lo, hi = metrics.bootstrap_ci(y, pred, n_boot=300)["accuracy"]
    assert lo < acc < hi and hi - lo < 0.2
    assert metrics.bootstrap_ci(y, y, n_boot=50)["accuracy"] == (1.0, 1.0)


def test_cluster_bootstrap_is_wider_than_iid_for_correlated_groups():
    # 10 groups of 20 identical outcomes: the effective sample size is 10, not 200
    correct = np.repeat(np.arange(10) % 2 == 0, 20)
    y = np.array(["a"] * 200)
    pred = np.where(correct, "a", "b")
    iid = metrics.bootstrap_ci(y, pred, n_boot=400)["accuracy"]
    grouped = metrics.bootstrap_ci(y, pred, n_boot=400, groups=np.repeat(np.arange(10), 20))["accuracy"]
    assert grouped[1] - grouped[0] > 2 * (iid[1] - iid[0])


def test_confusion_and_roc():
    assert metrics.confusion(["a", "b", "b"], ["a", "a", "b"], ["a", "b"]) == [[1, 0], [1, 1]]
    proba = np.array([[0.9, 0.1], [0.8, 0.2], [0.3, 0.7], [0.2, 0.8]])
    roc = metrics.roc_auc(["a", "a", "b", "b"], proba, ["a", "b"])
    assert roc["macro_auc"] == pytest.approx(1.0)
    roc_bad = metrics.roc_auc(["a", "a", "b", "b"], proba[::-1], ["a", "b"])
    assert roc_bad["macro_auc"] == pytest.approx(0.0)
