"""The PyTorch port of musicnn reproduces the TensorFlow graph (recorded reference; live TF when installed)."""

import importlib.util
import os
from pathlib import Path

import numpy as np
import pytest

from audio_alchemy.models.embeddings import musicnn

REF = Path(__file__).parent / "data" / "models_musicnn_reference.npz"


@pytest.mark.parametrize("model", musicnn.MODELS)
def test_port_matches_recorded_tf_outputs(model):
    z = np.load(REF)
    out = musicnn.embed_patches(z["input"], model)
    for key in ("penultimate", "taggram", "mean_pool", "max_pool"):
        ref = z[f"{model}/{key}"]
        assert out[key].shape == ref.shape
        np.testing.assert_allclose(out[key], ref, rtol=1e-4, atol=1e-3 * max(1.0, float(np.abs(ref).max()) / 100))


@pytest.mark.skipif(importlib.util.find_spec("tensorflow") is None or importlib.util.find_spec("musicnn") is None,
                    reason="TensorFlow + musicnn not installed: the recorded reference test covers the port")
def test_port_matches_live_tensorflow():
    import sys

    sys.path.insert(0, str(Path(__file__).parents[1] / "scripts"))
    import convert_musicnn

    mdir = Path(importlib.util.find_spec("musicnn").origin).parent
    batch = convert_musicnn.reference_batch(seed=3)
    ref = convert_musicnn.tf_outputs(mdir, "MSD_musicnn", batch)
    out = musicnn.embed_patches(batch, "MSD_musicnn")
    np.testing.assert_allclose(out["penultimate"], ref["penultimate"], rtol=1e-4, atol=1e-3)


def test_any_length_gives_at_least_one_patch_and_repeat_pads():
    sr = 16000
    t = np.arange(int(0.7 * sr)) / sr
    y = (0.3 * np.sin(2 * np.pi * 330 * t)).astype(np.float32)
    mel = musicnn.log_mel(y, sr)
    p = musicnn.patches(mel)
    assert p.shape == (1, musicnn.PATCH_FRAMES, musicnn.N_MELS)
    np.testing.assert_array_equal(p[0, : len(mel)], mel)
    np.testing.assert_array_equal(p[0, len(mel): 2 * len(mel)], mel)  # repeated, not zeros
    emb = musicnn.embed(y, sr)
    assert emb.shape == (1, 200) and np.isfinite(emb).all()


def test_log_mel_has_no_float16_overflow():
    sr = 16000
    loud = np.ones(sr * 3, dtype=np.float32)  # DC at full scale: huge mel power in the lowest band
    mel = musicnn.log_mel(loud, sr)
    assert np.isfinite(mel).all()


def test_later_patches_get_their_own_embedding():
    # musicnn's extractor() bug repeated the first patch's penultimate for later batches
    rng = np.random.default_rng(0)
    batch = rng.standard_normal((10, musicnn.PATCH_FRAMES, musicnn.N_MELS)).astype(np.float32)
    out = musicnn.embed_patches(batch, chunk=4)["penultimate"]
    assert not np.allclose(out[0], out[-1])
    single = musicnn.embed_patches(batch[-1:])["penultimate"]
    np.testing.assert_allclose(out[-1], single[0], atol=1e-4)


def test_missing_weights_error_is_clear(monkeypatch, tmp_path):
    monkeypatch.setattr(musicnn, "WEIGHTS_DIR", tmp_path)
    musicnn.load_model.cache_clear()
    try:
        with pytest.raises(musicnn.WeightsMissing, match="convert_musicnn"):
            musicnn.load_model("MSD_musicnn")
    finally:
        musicnn.load_model.cache_clear()
    assert os.path.exists(musicnn.WEIGHTS_DIR)
