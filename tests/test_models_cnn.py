"""The small CNN: learns a separable toy problem, is deterministic under a seed, reports training time."""

import numpy as np
import torch

from audio_alchemy.models.cnn import STUDY_SWEEP, CNNClassifier, augment, sweep_grid
from audio_alchemy.models.featurize import FeatureSpec, segment_inputs


def _toy(n_clips=24, seed=0):
    rng = np.random.default_rng(seed)
    X, y = [], []
    for i in range(n_clips):
        lab = i % 2
        w = rng.normal(0, 0.3, size=(int(rng.integers(1, 4)), 24, 16)).astype(np.float32)
        if lab:
            w[:, :, :8] += 2.0  # energy in the low bands
        else:
            w[:, :, 8:] += 2.0
        X.append(w)
        y.append(["low", "high"][lab])
    return X, np.array(y)


def test_cnn_learns_and_is_deterministic():
    torch.set_num_threads(1)
    X, y = _toy()
    kw = dict(filters=(8, 16), max_epochs=10, patience=10, batch_size=8, lr=3e-3, seed=3)
    a = CNNClassifier(**kw).fit(X, y)
    Xt, yt = _toy(seed=1)
    assert np.mean(a.predict(Xt) == yt) >= 0.8
    assert a.train_seconds_ > 0 and 1 <= a.epochs_ <= 10 and len(a.history_) == a.epochs_
    b = CNNClassifier(**kw).fit(X, y)
    np.testing.assert_allclose(a.predict_proba(Xt), b.predict_proba(Xt), atol=1e-6)


def test_augment_keeps_shapes_and_soft_targets():
    gen = torch.Generator().manual_seed(0)
    x = torch.randn(6, 1, 20, 12)
    xa, yt = augment(x.clone(), torch.tensor([0, 1, 2, 0, 1, 2]), 3, gen)
    assert xa.shape == x.shape and yt.shape == (6, 3)
    assert torch.allclose(yt.sum(dim=1), torch.ones(6))


def test_study_sweep_has_54_combinations():
    grid = sweep_grid()
    assert len(grid) == 3 * 2 * 3 * 3 == 54
    assert {"filters", "kernel", "dropout", "lr"} == set(grid[0]) == set(STUDY_SWEEP)


def test_image_inputs_are_the_studys_grey_and_viridis():
    y = (0.3 * np.sin(2 * np.pi * 440 * np.arange(22050 * 2) / 22050)).astype(np.float32)
    grey = segment_inputs(y, 22050, FeatureSpec("grey"))
    vir = segment_inputs(y, 22050, FeatureSpec("viridis"))
    assert grey.shape == (1, 1, 128, 128) and vir.shape == (1, 3, 128, 128)
    assert 0 <= grey.min() and grey.max() <= 1 and 0 <= vir.min() and vir.max() <= 1
