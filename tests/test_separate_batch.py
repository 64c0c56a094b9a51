"""The library separation job: stems stored as tracks 1/2 linked to the song, cached, resumable, errors recorded."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from typer.testing import CliRunner

from audio_alchemy.io import load, save
from audio_alchemy.library import Library, import_paths
from audio_alchemy.separate import batch
from audio_alchemy.separate.base import Separator

from conftest import music


@pytest.fixture
def lib(tmp_path):
    songs = tmp_path / "songs"
    for i in range(2):
        save(songs / f"song{i}.wav", music(seconds=2.0, sr=22050, seed=10 + i), 22050)
    lib = Library.open(tmp_path / "lib" / "library.sqlite")
    import_paths(lib, [songs], workers=0, progress=False)
    yield lib
    lib.close()


def test_run_separation_stores_triplicates_and_caches(lib):
    s1 = batch.run_separation(lib, model="masknet", workers=0, progress=False)
    assert (s1.done, s1.failed) == (2, 0)
    songs = lib.tracks(track_type=0)
    assert len(songs) == 2 and len(lib.tracks(track_type=1)) == 2 and len(lib.tracks(track_type=2)) == 2
    for song in songs:
        stems = lib.stems(song.id)
        assert set(stems) == {1, 2}
        assert stems[1].separator.startswith("masknet@1-") and stems[1].parent_id == song.id
        mix = load(lib.track_path(song.id))
        voc, acc = (load(lib.track_path(stems[t].id)) for t in (1, 2))
        assert voc.samples.shape == mix.samples.shape and voc.sr == mix.sr
        np.testing.assert_allclose(voc.samples + acc.samples, mix.samples, atol=2e-4)  # 16-bit FLAC stems
    folder = Path(lib.track_path(stems[1].id)).parent
    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()
    (folder / f".part-{dead.pid}-abc.flac").write_bytes(b"half a stem")  # a writer killed by kill -9
    (folder / f".part-{os.getpid()}-def.flac").write_bytes(b"being written")  # a live writer's
    s2 = batch.run_separation(lib, model="masknet", workers=0, progress=False)  # cached: nothing to do
    assert (s2.done, s2.skipped) == (0, 2)
    assert len(lib.tracks(track_type=1)) == 2
    assert sorted(p.name for p in folder.glob(".part-*")) == [f".part-{os.getpid()}-def.flac"]


def test_bad_file_is_recorded_and_the_batch_goes_on(lib, tmp_path):
    song = lib.tracks(track_type=0)[0]
    path = lib.track_path(song.id)
    good, st = Path(path).read_bytes(), os.stat(path)
    with open(path, "r+b") as f:  # bit rot in the header, same size and time: decoding fails for this one song
        f.write(b"garbage!" * 8)
    os.utime(path, ns=(st.st_atime_ns, st.st_mtime_ns))
    s = batch.run_separation(lib, model="masknet", workers=0, progress=False)
    assert (s.done, s.failed) == (1, 1)
    errs = lib.errors("separate")
    assert len(errs) == 1 and path in errs[0]["message"] and errs[0]["kind"] != "changed_file"
    # fixing the file and re-running resumes: only the failed song is separated
    Path(path).write_bytes(good)
    os.utime(path, ns=(st.st_atime_ns, st.st_mtime_ns))
    s = batch.run_separation(lib, model="masknet", workers=0, progress=False)
    assert (s.done, s.skipped, s.failed) == (1, 1, 0) and not lib.errors("separate")


class Half(Separator):
    name, version, sample_rate = "half", "1", 22050
    residual_accompaniment = False

    def _separate_stereo(self, x):
        return x / 2, x / 2


def test_separate_file_streams_windows_to_disk(tmp_path):
    x = music(seconds=12.0, sr=22050, seed=3)
    src = save(tmp_path / "long.flac", x, 22050)
    out = {s: tmp_path / f"{s}.flac" for s in ("vocals", "accompaniment")}
    desc = batch.separate_file(Half(), src, out, window_seconds=2.5, context_seconds=0.5)
    assert desc["sample_rate"] == 22050 and abs(desc["duration"] - 12.0) < 1e-3
    v = load(out["vocals"]).samples
    ref = load(src).samples / 2
    assert v.shape == ref.shape
    np.testing.assert_allclose(v, ref, atol=1e-4)


def test_cli_separate_and_eval(lib, tmp_path):
    from audio_alchemy.cli.main import app

    r = CliRunner().invoke(app, ["separate", "--model", "masknet", "--workers", "0", "--db", str(lib.path)])
    assert r.exit_code == 0, r.output
    assert "separated 2" in r.output and "(separator masknet@1-" in r.output.replace("\n", "")
    r = CliRunner().invoke(app, ["info", "1", "--db", str(lib.path)])
    assert "vocals: track" in r.output and "(masknet@1-" in r.output
    stems = tmp_path / "stems" / "t1"
    v, a = music(seconds=2.0, sr=22050, seed=1), music(seconds=2.0, sr=22050, seed=2) * 0.5
    for name, arr in (("vocals", v), ("accompaniment", a), ("mixture", v + a)):
        save(stems / f"{name}.wav", arr, 22050)
    r = CliRunner().invoke(app, ["eval-separation", "--stems", str(tmp_path / "stems"), "--model", "masknet", "--json"])
    assert r.exit_code == 0, r.output
    import json

    rep = json.loads(r.output.strip().splitlines()[-1])
    assert rep["tracks"][0]["track"] == "t1" and np.isfinite(rep["vocals_sdr_median_db"])
    r = CliRunner().invoke(app, ["separate", "--model", "htdemucs", "--model-dir", str(tmp_path), "--db", str(lib.path)])
    assert r.exit_code == 1 and "hf download" in r.output + str(r.stderr if r.stderr_bytes else "")


_RSS_SCRIPT = """
import resource, sys
from audio_alchemy.separate import get_separator
from audio_alchemy.separate.batch import separate_file
from pathlib import Path
src, out = Path(sys.argv[1]), Path(sys.argv[2])
desc = separate_file(get_separator("masknet"), src, {s: out / f"{s}.flac" for s in ("vocals", "accompaniment")})
print(desc["duration"], resource.getrusage(resource.RUSAGE_SELF).ru_maxrss // 1024)
"""


def _long_file_rss(tmp_path, seconds: int) -> tuple[float, int]:
    """Separate a ``seconds``-long 8 kHz file from disk to disk in a fresh process; return (duration, peak MB)."""
    import subprocess
    import sys

    import soundfile as sf

    src = tmp_path / "long.flac"
    sr = 8000
    with sf.SoundFile(str(src), "w", sr, 2, subtype="PCM_16", format="FLAC") as f:
        block = music(seconds=60.0, sr=sr, seed=5).T * 0.5
        for _ in range(seconds // 60):
            f.write(block)
    r = subprocess.run([sys.executable, "-c", _RSS_SCRIPT, str(src), str(tmp_path)], capture_output=True, text=True,
                       check=True)
    dur, rss = r.stdout.split()
    return float(dur), int(rss)


@pytest.mark.slow
def test_one_hour_file_in_bounded_memory(tmp_path):
    """A 1-hour file is separated window by window: peak memory stays far below the decoded song's size x 3."""
    dur, rss = _long_file_rss(tmp_path, 3600)
    assert abs(dur - 3600) < 1
    assert rss < 1500, f"peak RSS {rss} MB"


def test_jit_backends_compile_in_the_driver_before_parallel_workers(lib, monkeypatch):
    """repet/hpss run librosa's numba code: the driver runs them once before two or more workers start (two
    processes compiling at once break numba's cache), and torch backends skip that."""
    from audio_alchemy import jobs
    from audio_alchemy.separate.offline import HpssVocalSeparator

    calls = []

    class Recording(HpssVocalSeparator):
        def separate(self, samples, sr):
            calls.append(("separate", samples.shape[1] / sr))
            return super().separate(samples, sr)

    def fake_run(tasks, fn, on_result, on_error, workers=None, **kw):
        calls.append(("run", workers))
        return jobs.JobSummary(total=len(tasks))

    monkeypatch.setattr(batch, "get_separator", lambda *a, **k: Recording())
    monkeypatch.setattr(jobs, "run", fake_run)
    batch.run_separation(lib, model="hpss", workers=2, progress=False)
    assert calls == [("separate", 3.0), ("run", 2)]
    calls.clear()
    batch.run_separation(lib, model="hpss", workers=0, progress=False)
    assert calls == [("run", 0)]
