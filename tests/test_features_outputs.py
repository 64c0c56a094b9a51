"""Images (deterministic, fixed size), WAV-vs-MP3 comparison, the library batch job and the CLI."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from audio_alchemy.features.compare import compare_arrays, plot
from audio_alchemy.features.images import DB_RANGE, IMAGE_SIZE, save_images
from audio_alchemy.io import encode_mp3, save

SR = 22050


def music(seconds=4.0, sr=44100, seed=0):
    rng = np.random.default_rng(seed)
    t = np.arange(int(seconds * sr)) / sr
    x = sum(np.sin(2 * np.pi * f * t) / (i + 1) for i, f in enumerate([220, 440, 660, 3000, 9000, 15000]))
    return (0.1 * x + 0.01 * rng.standard_normal(len(t))).astype(np.float32)


def test_images_are_deterministic_with_fixed_size(tmp_path):
    from PIL import Image

    x = music(3.0, SR)
    a = save_images(x, SR, tmp_path / "a")
    b = save_images(x, SR, tmp_path / "b")
    for kind in ("mel_grey_png", "mel_viridis_png"):
        assert Path(a[kind]).read_bytes() == Path(b[kind]).read_bytes()
        im = Image.open(a[kind])
        assert im.size == IMAGE_SIZE
        assert im.mode == ("L" if kind == "mel_grey_png" else "RGB")
    z = np.load(a["mel_npz"])
    assert z["log_mel"].shape[0] == 128 and z["log_mel"].max() == 0 and z["log_mel"].min() >= DB_RANGE[0]


def test_compare_identical_and_mp3(tmp_path):
    x = music()
    same = compare_arrays(x, 44100, x, 44100)
    assert same.histogram_similarity == pytest.approx(1.0) and same.cutoff_hz is None
    from audio_alchemy.io import load

    res = {}
    for kbps in (64, 192):
        mp3 = tmp_path / f"x{kbps}.mp3"
        mp3.write_bytes(encode_mp3(x[None], 44100, bitrate=kbps))
        b = load(mp3)
        res[kbps] = compare_arrays(x, 44100, b.samples, b.sr)
    c = res[64]
    assert res[192].histogram_similarity > 0.9
    assert res[192].histogram_similarity > c.histogram_similarity
    assert c.cutoff_hz is not None and 12000 < c.cutoff_hz < 18000  # LAME 64 kbit/s mono low-passes near 16 kHz
    assert res[192].cutoff_hz is None or res[192].cutoff_hz > c.cutoff_hz
    assert abs(c.band_db_diff["1000"]) < 1.0
    out = plot(c, tmp_path / "cmp.png")
    assert out.stat().st_size > 1000


def test_compare_ignores_an_mp3_encoders_added_silence(tmp_path):
    """An MP3 without the LAME info tag decodes with ~35 ms of encoder delay and padding around a 200-ms tone: that
    silence must not show up as a level drop in every band (the band difference is the codec's real energy change)."""
    from audio_alchemy.io import load

    t = np.arange(8820) / 44100
    x = (0.5 * np.sin(2 * np.pi * 1000 * t)).astype(np.float32)
    mp3 = tmp_path / "short.mp3"
    mp3.write_bytes(encode_mp3(x[None], 44100, bitrate=192))
    b = load(mp3)
    assert b.n == x.size  # ours carries the tag, so the decoder trims; an untagged file decodes like this:
    untagged = np.pad(b.samples, ((0, 0), (1105, 627)))  # LAME's delay, and padding to whole 1152-sample frames
    c = compare_arrays(x, 44100, untagged, b.sr)
    energy_db = 10 * np.log10(float(np.square(b.samples, dtype=np.float64).sum()) / float(np.square(x, dtype=np.float64).sum()))
    assert abs(c.band_db_diff["1000"] - energy_db) < 0.2, (c.band_db_diff, energy_db)  # was 1.2 dB off before trimming


def test_compare_finds_a_lowpass_cutoff():
    from scipy.signal import butter, sosfiltfilt

    x = music(3.0)
    y = sosfiltfilt(butter(12, 5000, fs=44100, output="sos"), x).astype(np.float32)
    c = compare_arrays(x, 44100, y, 44100)
    assert c.cutoff_hz == pytest.approx(5000, rel=0.25)


def test_compare_finds_the_cut_of_a_low_bitrate_mp3_of_real_music(demo_dir, tmp_path):
    """At 32 kbit/s LAME low-passes near 5.5 kHz, and its noise floor sits near the recordings' quiet highs: those
    bins must not count as "kept" (the orchestral dance and a trumpet solo were reported as uncut before)."""
    from audio_alchemy.io import load

    src = next(demo_dir.glob("Hungarian_Dance*"))
    a = load(src, duration=30)
    mp3 = tmp_path / "32k.mp3"
    mp3.write_bytes(encode_mp3(a.samples, a.sr, bitrate=32))
    b = load(mp3)
    c = compare_arrays(a.samples, a.sr, b.samples, b.sr)
    assert c.cutoff_hz is not None and 3000 < c.cutoff_hz < 8000, c.cutoff_hz
    assert c.band_db_diff["8000"] < -20


def test_compare_silence():
    """Two silences have the same (empty) spectrum; silence against music shares nothing."""
    z = np.zeros(44100, np.float32)
    assert compare_arrays(z, 44100, z, 22050).histogram_similarity == 1.0
    assert compare_arrays(z, 44100, music(1.0), 44100).histogram_similarity == 0.0


@pytest.fixture()
def small_library(tmp_path):
    from audio_alchemy.library import Library, import_paths

    files = []
    for i, f0 in enumerate([220.0, 330.0]):
        t = np.arange(3 * SR) / SR
        files.append(str(save(tmp_path / f"t{i}.wav", (0.3 * np.sin(2 * np.pi * f0 * t)).astype(np.float32), SR)))
    lib = Library.open(tmp_path / "lib.sqlite")
    import_paths(lib, files, workers=0, progress=False)
    yield lib, files
    lib.close()


def test_batch_stores_resumes_and_records_errors(small_library):
    from audio_alchemy.features import VERSION
    from audio_alchemy.features.batch import run_features

    lib, files = small_library
    s = run_features(lib, "seed", images=True, workers=0, progress=False)
    assert (s.done, s.failed) == (2, 0)
    for t in lib.tracks():
        f = lib.get_features(t.id, "seed", VERSION)
        assert f is not None and f["track_type"] == t.track_type
        assert {"mel_grey_png", "mel_viridis_png", "mel_npz"} <= set(lib.artifacts(t.id))
    again = run_features(lib, "seed", images=True, workers=0, progress=False)
    assert (again.done, again.skipped) == (0, 2)
    Path(files[0]).write_bytes(b"not audio at all" * 100)  # corrupt one file after import
    s = run_features(lib, "full", workers=0, progress=False)
    assert (s.done, s.failed) == (1, 1)
    errs = lib.errors("features:full")
    assert len(errs) == 1 and files[0] in errs[0]["message"]


def test_cli_single_file_compare_convert(tmp_path):
    from typer.testing import CliRunner

    from audio_alchemy.cli.main import app

    wav = save(tmp_path / "a.wav", music(2.0, SR), SR)
    r = CliRunner().invoke(app, ["features", str(wav), "--json"])
    assert r.exit_code == 0, r.output
    f = json.loads(r.stdout)
    assert f["duration"] == pytest.approx(2.0) and "fundamental_freq" in f
    mp3 = tmp_path / "a.mp3"
    r = CliRunner().invoke(app, ["convert", str(wav), str(mp3)])
    assert r.exit_code == 0 and mp3.stat().st_size > 0, r.output
    r = CliRunner().invoke(app, ["compare", str(wav), str(mp3), "--json", "--plot", str(tmp_path / "p.png")])
    assert r.exit_code == 0, r.output
    d = json.loads(r.stdout)
    assert d["histogram_similarity"] > 0.9 and (tmp_path / "p.png").exists()
    r = CliRunner().invoke(app, ["features", str(tmp_path / "missing.wav")])
    assert r.exit_code != 0


def test_jit_warm_up_runs_in_the_driver_before_parallel_workers(small_library, monkeypatch):
    """Two worker processes must never compile numba functions at once (their cache writes collide and later
    loads segfault): the driver compiles first, whenever two or more workers could run."""
    from audio_alchemy import jobs
    from audio_alchemy.features import batch

    lib, _ = small_library
    calls = []
    monkeypatch.setattr(batch, "warm_up", lambda fs, images=False: calls.append(("warm_up", fs, images)))

    def fake_run(tasks, fn, on_result, on_error, workers=None, **kw):
        calls.append(("run", workers))
        return jobs.JobSummary(total=len(tasks))

    monkeypatch.setattr(jobs, "run", fake_run)
    batch.run_features(lib, "full", images=True, workers=2, progress=False)
    assert calls == [("warm_up", "full", True), ("run", 2)]
    calls.clear()
    batch.run_features(lib, "full", workers=0, progress=False)  # in-process: nothing to protect
    batch.run_features(lib, "full", workers=1, progress=False)  # one worker compiles alone
    assert calls == [("run", 0), ("run", 1)]


def test_warm_up_computes_each_set():
    from audio_alchemy.features.batch import warm_up

    for fs, images in (("seed", False), ("full", True)):
        warm_up(fs, images)  # raises if any stage fails on its synthetic clip


def test_two_libraries_in_one_folder_keep_their_own_images(tmp_path):
    """Both number their first track 1 and share <folder>/derived/images: B's images once replaced A's."""
    from audio_alchemy.features.batch import run_features
    from audio_alchemy.io import save
    from audio_alchemy.library import Library, import_paths

    arts = {}
    for name, seed in (("a", 1), ("b", 2)):
        save(tmp_path / f"music-{name}" / "song.wav", music(3.0, 22050, seed=seed), 22050)
        with Library.open(tmp_path / f"{name}.sqlite") as lib:
            import_paths(lib, [tmp_path / f"music-{name}"], workers=0, progress=False)
            run_features(lib, "seed", images=True, workers=0, progress=False)
            arts[name] = lib.artifacts(1)
    assert arts["a"]["mel_grey_png"] != arts["b"]["mel_grey_png"]
    a_png, b_png = (Path(arts[n]["mel_grey_png"]).read_bytes() for n in "ab")
    assert a_png != b_png  # A's file still holds A's image
