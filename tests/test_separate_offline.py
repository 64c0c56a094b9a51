"""Offline separators and the Separator contract: bad input, chunking, SDR on real MUSDB previews."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from audio_alchemy.separate import SeparationError, Separator, get_separator
from audio_alchemy.separate.base import _crossfade_weights, chunk_spans
from audio_alchemy.separate.evaluate import sdr

from conftest import data_or_skip, music


class HalfSeparator(Separator):
    """A pure function (vocals = x / 2) that records the longest window it was given."""

    name, version, sample_rate = "half", "1", 1000
    residual_accompaniment = False
    chunk_seconds, context_seconds = 10.0, 1.0

    def __init__(self):
        self.longest = 0
        self.calls = 0

    def _separate_stereo(self, x):
        self.longest = max(self.longest, x.shape[1])
        self.calls += 1
        return x / 2, x / 2


@settings(max_examples=60, deadline=None)
@given(n=st.integers(1, 5000), chunk=st.integers(50, 1000), context=st.integers(0, 100))
def test_chunk_spans_cover_and_crossfades_sum_to_one(n, chunk, context):
    total = np.zeros(n)
    for a, b, fin, fout in chunk_spans(n, chunk, context):
        assert 0 <= a < b <= n
        assert b - a <= chunk + 6 * context + chunk  # bounded window
        total[a:b] += _crossfade_weights(b - a, fin, fout)
    np.testing.assert_allclose(total, 1.0, atol=1e-5)


def test_long_input_is_processed_in_bounded_chunks():
    sep = HalfSeparator()
    x = np.random.default_rng(0).standard_normal((2, 1000 * 95)).astype(np.float32)  # 95 s at 1 kHz
    out = sep.separate(x, 1000)
    assert sep.calls >= 9 and sep.longest <= 1000 * 13
    np.testing.assert_allclose(out["vocals"], x / 2, atol=1e-6)  # cross-fades are seamless
    np.testing.assert_allclose(out["accompaniment"], x / 2, atol=1e-6)


@pytest.fixture(scope="module")
def masknet():
    return get_separator("masknet")


def test_masknet_contract_and_stems_sum_to_input(masknet):
    x = music(seconds=3.0, sr=44100, seed=1)
    x[1] *= 0.7
    out = masknet.separate(x, 44100)
    assert out["vocals"].shape == x.shape and out["vocals"].dtype == np.float32
    np.testing.assert_allclose(out["vocals"] + out["accompaniment"], x, atol=1e-5)
    assert masknet.id.startswith("masknet@1-")


def test_mono_input_gives_mono_stems(masknet):
    x = music(seconds=2.0, sr=22050, seed=2, channels=1)
    out = masknet.separate(x, 22050)
    assert out["vocals"].shape == (1, x.shape[1])
    out1d = masknet.separate(x[0], 22050)  # (n,) is one channel too
    np.testing.assert_allclose(out1d["vocals"], out["vocals"], atol=1e-6)


def test_8khz_input_is_resampled_and_back(masknet):
    x = music(seconds=2.0, sr=8000, seed=3)
    out = masknet.separate(x, 8000)
    assert out["vocals"].shape == x.shape and np.isfinite(out["vocals"]).all()
    assert np.abs(out["vocals"]).max() > 0


def test_short_song_and_silence(masknet):
    for n in (1, 100, 44100 * 2):  # one sample, a click, a 2-second song
        x = music(seconds=n / 44100 + 1e-6, sr=44100, seed=4)[:, :n] if n > 1 else np.full((2, 1), 0.3, np.float32)
        out = masknet.separate(x, 44100)
        assert out["vocals"].shape == x.shape and np.isfinite(out["vocals"]).all()
    silent = np.zeros((2, 44100), np.float32)
    out = masknet.separate(silent, 44100)
    assert not out["vocals"].any() and not out["accompaniment"].any()


def test_bad_input_is_a_typed_error(masknet):
    with pytest.raises(SeparationError):
        masknet.separate(np.zeros((2, 0), np.float32), 44100)
    with pytest.raises(SeparationError):
        masknet.separate(np.zeros((2, 10, 3), np.float32), 44100)
    with pytest.raises(SeparationError):
        masknet.separate(np.zeros((2, 10), np.float32), 0)
    x = music(seconds=1.0, sr=22050, seed=5)
    x[0, 100] = np.nan
    assert np.isfinite(masknet.separate(x, 22050)["vocals"]).all()


def test_sdr_metric_properties():
    rng = np.random.default_rng(0)
    v, a = rng.standard_normal((2, 2, 22050))
    refs = np.stack([v, a])
    assert (sdr(refs, refs) > 60).all()
    mix = np.stack([v + a, v + a])
    assert abs(sdr(refs, mix)[0]) < 1.0  # equal-power mixture as estimate: about 0 dB
    assert np.isnan(sdr(np.stack([v, 0 * a]), refs)[1])  # silent reference -> NaN, not a crash


def test_masknet_beats_the_mixture_on_real_previews(masknet):
    """On 3 MUSDB test previews (never used for training) the mask network's vocals beat 2.5 dB SDR median."""
    from audio_alchemy.separate.evaluate import evaluate_folder

    rep = evaluate_folder(masknet, data_or_skip("stems"), limit=3)
    assert rep.vocals_median > 2.5, rep.tracks
    assert rep.vocals_median > rep.baseline_vocals_median + 5
    assert rep.accompaniment_median > rep.baseline_accompaniment_median


@pytest.mark.slow  # librosa's numba kernels compile on first use
@pytest.mark.parametrize("name", ["hpss", "repet"])
def test_classic_backends_run(name):
    pytest.importorskip("librosa")
    x = music(seconds=5.0, sr=22050, seed=6)
    out = get_separator(name).separate(x, 22050)
    np.testing.assert_allclose(out["vocals"] + out["accompaniment"], x, atol=1e-5)


def test_masknet_ensemble_averages_member_masks():
    """An ensemble of two copies of one network gives that network's output; the separator loads lists."""
    from audio_alchemy.separate import masknet as mn
    from audio_alchemy.separate.offline import MaskNetSeparator

    model, _ = mn.load_weights(mn.DEFAULT_WEIGHTS)
    rng = np.random.default_rng(3)
    x = (0.1 * rng.standard_normal((2, 22050))).astype(np.float32)
    single = mn.separate_22k(model, x)
    assert np.allclose(mn.separate_22k([model, model], x), single, atol=1e-5)
    one = MaskNetSeparator(weights=mn.DEFAULT_WEIGHTS).separate(x, 22050)["vocals"]
    two = MaskNetSeparator(weights=[mn.DEFAULT_WEIGHTS, mn.DEFAULT_WEIGHTS]).separate(x, 22050)["vocals"]
    assert np.allclose(one, two, atol=1e-5)
    assert MaskNetSeparator().weights == mn.default_weight_files()


def test_masknet_swap_pass_makes_separation_channel_symmetric():
    """With the left/right-swap pass, swapping the input's channels swaps the output's (equivariance, which one
    pass alone does not have), and the stems still sum to the mix."""
    from audio_alchemy.separate import masknet as mn
    from audio_alchemy.separate.offline import MaskNetSeparator

    model, _ = mn.load_weights(mn.DEFAULT_WEIGHTS)
    rng = np.random.default_rng(5)
    x = (0.1 * rng.standard_normal((2, 22050))).astype(np.float32)
    x[0] *= 3  # make the channels clearly different
    sw = mn.separate_22k(model, x, swap_channels=True)
    np.testing.assert_allclose(mn.separate_22k(model, x[::-1].copy(), swap_channels=True), sw[::-1], atol=1e-5)
    plain = mn.separate_22k(model, x)
    assert not np.allclose(mn.separate_22k(model, x[::-1].copy()), plain[::-1], atol=1e-5)
    sep = MaskNetSeparator(weights=mn.DEFAULT_WEIGHTS, power=1.2, swap_channels=True)
    out = sep.separate(x, 22050)
    np.testing.assert_allclose(out["vocals"] + out["accompaniment"], x, atol=1e-5)
    assert sep.version.endswith("-p1.2-swap") and sep.power == 1.2


def test_sdr_is_finite_when_torch_runs_two_threads():
    """torch's multi-threaded MKL LU returned NaN inside bss_eval; sdr must not depend on the thread count."""
    import torch

    from audio_alchemy.separate.evaluate import sdr

    rng = np.random.default_rng(5)
    ref = rng.standard_normal((2, 2, 22050))
    est = ref + 0.1 * rng.standard_normal(ref.shape)  # about 20 dB
    before = torch.get_num_threads()
    torch.set_num_threads(2)
    try:
        got = sdr(ref, est)
        assert torch.get_num_threads() == 2
    finally:
        torch.set_num_threads(before)
    assert np.all(np.isfinite(got)) and np.all(np.abs(got - 20) < 1.5), got
