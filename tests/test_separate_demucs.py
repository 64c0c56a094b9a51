"""Demucs backend: the whole loading path with a tiny randomly initialised HTDemucs saved like released weights."""

from __future__ import annotations

import random

import numpy as np
import pytest

torch = pytest.importorskip("torch")
pytest.importorskip("demucs")

from demucs.apply import apply_model  # noqa: E402
from demucs.htdemucs import HTDemucs  # noqa: E402
from demucs.states import save_with_checksum  # noqa: E402

from audio_alchemy.separate import (  # noqa: E402
    DemucsSeparator, DemucsWeightsNotFound, SeparationError, get_separator, load_demucs,
)
from audio_alchemy.separate.demucs_backend import apply_demucs  # noqa: E402

SOURCES = ["drums", "bass", "other", "vocals"]


def tiny_htdemucs() -> HTDemucs:
    torch.manual_seed(0)
    return HTDemucs(sources=SOURCES, channels=4, segment=1, t_layers=1, t_heads=2, dconv_comp=2).eval()


@pytest.fixture(scope="module")
def model_dir(tmp_path_factory):
    """A demucs repo folder exactly like a user's: htdemucs.yaml + <sig>-<sha8>.th (class, kwargs, state)."""
    d = tmp_path_factory.mktemp("demucs_models")
    m = tiny_htdemucs()
    args, kwargs = m._init_args_kwargs
    save_with_checksum({"klass": HTDemucs, "args": args, "kwargs": kwargs, "state": m.state_dict()}, d / "a1b2c3d4.th")
    (d / "htdemucs.yaml").write_text("models: ['a1b2c3d4']\n")
    return d


@pytest.fixture(autouse=True)
def _no_weights_anywhere(tmp_path, monkeypatch):
    """No default model dir, empty HF and torch hub caches: only what a test passes explicitly exists."""
    monkeypatch.setenv("AUDIO_ALCHEMY_DEMUCS_DIR", str(tmp_path / "no-models"))
    monkeypatch.setenv("AUDIO_ALCHEMY_HOME", str(tmp_path / "home"))
    monkeypatch.delenv("AUDIO_ALCHEMY_MODEL_DIR", raising=False)
    monkeypatch.setenv("HF_HUB_CACHE", str(tmp_path / "hf"))
    monkeypatch.setattr("huggingface_hub.constants.HF_HUB_CACHE", str(tmp_path / "hf"), raising=False)
    monkeypatch.setattr(torch.hub, "get_dir", lambda: str(tmp_path / "torchhub"))


def test_loads_through_model_dir_like_released_weights(model_dir):
    model = load_demucs("htdemucs", model_dir)
    ref = tiny_htdemucs()
    for (k, a), (_, b) in zip(model.state_dict().items(), ref.state_dict().items(), strict=True):
        assert torch.equal(a, b), k
    sep = get_separator("auto", model_dir=model_dir)  # weights present -> auto picks Demucs
    assert isinstance(sep, DemucsSeparator)
    assert sep.id.startswith("demucs-htdemucs@")


def _save_safetensors(m: HTDemucs, path) -> None:
    """One model as the Hugging Face repos hold it: tensors, with class and init arguments in the metadata."""
    import json

    from safetensors.torch import save_file

    args, kwargs = m._init_args_kwargs
    save_file({k: v.contiguous() for k, v in m.state_dict().items()}, str(path),
              metadata={"klass": "demucs.htdemucs.HTDemucs", "args": json.dumps(list(args)), "kwargs": json.dumps(kwargs)})


def _same_as_tiny(model) -> bool:
    ref = tiny_htdemucs()
    return all(torch.equal(a, b) for a, b in zip(model.state_dict().values(), ref.state_dict().values(), strict=True))


def test_finds_weights_where_the_model_store_installs_them_in_either_layout(tmp_path, model_dir):
    """`alchemy models fetch htdemucs --offline-dir F` copies the Hugging Face files into <home>/models/htdemucs:
    separation must find them there (it used to look only in <home>/models/demucs for .th files)."""
    from audio_alchemy.separate import demucs_available

    store = tmp_path / "home" / "models" / "htdemucs"
    store.mkdir(parents=True)
    assert not demucs_available("htdemucs")
    _save_safetensors(tiny_htdemucs(), store / "a1b2c3d4.safetensors")
    (store / "htdemucs.yaml").write_text("models: ['a1b2c3d4']\n")
    assert demucs_available("htdemucs")
    assert _same_as_tiny(load_demucs("htdemucs"))
    assert isinstance(get_separator("auto"), DemucsSeparator)
    # --model-dir may name the folder that holds a <name>/ sub-folder, as for every other model
    assert _same_as_tiny(load_demucs("htdemucs", tmp_path / "home" / "models"))
    # demucs' own layout without a yaml: the bag list the demucs package ships names the signature (955717e8)
    th_only = tmp_path / "th-only"
    th_only.mkdir()
    m = tiny_htdemucs()
    args, kwargs = m._init_args_kwargs
    save_with_checksum({"klass": HTDemucs, "args": args, "kwargs": kwargs, "state": m.state_dict()},
                       th_only / "955717e8.th")
    assert demucs_available("htdemucs", th_only) and _same_as_tiny(load_demucs("htdemucs", th_only))


def test_a_folder_whose_yaml_names_a_missing_signature_is_explained(tmp_path, model_dir):
    """A hand-made folder: the yaml lists a signature whose file is not there. The error names it and the yaml; a
    custom bag in a <name>/ sub-folder of --model-dir is found like the released ones."""
    import shutil

    d = tmp_path / "custom" / "mybag"
    d.mkdir(parents=True)
    th = next(model_dir.glob("*.th"))
    shutil.copy(th, d / th.name)
    (d / "mybag.yaml").write_text("models: ['a1b2c3d4', 'deadbeef']\n")
    with pytest.raises(DemucsWeightsNotFound, match=r"mybag\.yaml lists deadbeef, but .* has no deadbeef\.safetensors"):
        get_separator("mybag", model_dir=tmp_path / "custom")
    (d / "mybag.yaml").write_text("models: ['a1b2c3d4']\n")
    assert _same_as_tiny(get_separator("mybag", model_dir=tmp_path / "custom")._model.models[0])


def test_separate_shapes_and_two_stems(model_dir):
    sep = get_separator("htdemucs", model_dir=model_dir)
    rng = np.random.default_rng(0)
    x = (0.1 * rng.standard_normal((2, 44100 * 2))).astype(np.float32)  # a 2-second song
    out = sep.separate(x, 44100)
    assert set(out) == {"vocals", "accompaniment"}
    for s in out.values():
        assert s.shape == x.shape and s.dtype == np.float32 and np.isfinite(s).all()
    # two stems = vocals + the sum of the other three sources
    mix = torch.from_numpy(x)
    ref = mix.mean(0)
    norm = ((mix - ref.mean()) / ref.std())[None]
    random.seed(1)
    sep.shifts = 1
    out = sep.separate(x, 44100)
    random.seed(1)
    est = apply_model(sep._model, norm)[0] * ref.std() + ref.mean()
    np.testing.assert_allclose(out["vocals"], est[3].numpy(), atol=1e-4)
    np.testing.assert_allclose(out["accompaniment"], est[:3].sum(0).numpy(), atol=1e-4)


def test_our_apply_matches_stock_apply_model():
    m = tiny_htdemucs()
    x = torch.randn(1, 2, int(44100 * 2.5))
    for shifts, workers in ((0, 1), (1, 2)):
        random.seed(7)
        a = apply_model(m, x, shifts=shifts)
        random.seed(7)
        b = apply_demucs(m, x, shifts=shifts, workers=workers)
        assert float((a - b).abs().max()) < 1e-4


def _loud_branches(m: HTDemucs) -> HTDemucs:
    """Random init scales the transformer (1e-4) and DConv (1e-3) branches down, hiding their errors: undo it."""
    with torch.no_grad():
        for name, p in m.named_parameters():
            if name.endswith(("gamma_1.scale", "gamma_2.scale")) or (".dconv." in name and name.endswith(".scale")):
                p.fill_(1.0)
    return m


@pytest.mark.parametrize("seconds", [2.2, 2.9, 3.7])  # even and odd chunk counts (odd tail runs alone)
def test_sdpa_attention_and_parallel_chunks_match_stock_with_full_size_branches(seconds):
    m = _loud_branches(tiny_htdemucs())
    x = torch.randn(1, 2, int(44100 * seconds), generator=torch.Generator().manual_seed(3))
    random.seed(5)
    a = apply_model(m, x)  # stock defaults: shifts=1, split, overlap 0.25, native MHA fast path
    for workers in (1, 2):
        random.seed(5)
        b = apply_demucs(m, x, workers=workers)
        assert float(a.abs().max()) > 0.05
        assert float((a - b).abs().max()) < 1e-4
    assert torch.backends.mha.get_fastpath_enabled()  # the global switch is restored


def test_missing_weights_error_says_how_to_get_them(tmp_path):
    with pytest.raises(DemucsWeightsNotFound) as e:
        get_separator("htdemucs", model_dir=tmp_path)
    msg = str(e.value)
    assert "955717e8-8726e21a.th" in msg and "https://dl.fbaipublicfiles.com/demucs/" in msg
    assert "htdemucs.yaml" in msg and "--model-dir" in msg and "hf download adefossez/HTDemucs" in msg
    with pytest.raises(DemucsWeightsNotFound):
        get_separator("mdx_extra")  # nothing in the default dir or the caches
    # auto never fails for lack of Demucs weights: Spleeter when its package is installed, else the mask network
    from audio_alchemy.separate.spleeter import spleeter_available

    assert get_separator("auto").name == ("spleeter" if spleeter_available() else "masknet")


def test_corrupt_weights_are_a_typed_error(model_dir, tmp_path):
    bad = tmp_path / "bad"
    bad.mkdir()
    (bad / "htdemucs.yaml").write_text((model_dir / "htdemucs.yaml").read_text())
    th = next(model_dir.glob("*.th"))
    (bad / th.name).write_bytes(th.read_bytes()[:-10] + b"0123456789")  # checksum no longer matches
    with pytest.raises(SeparationError, match="checksum|Invalid"):
        load_demucs("htdemucs", bad)
