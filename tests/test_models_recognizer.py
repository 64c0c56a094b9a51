"""Recogniser: training on synthetic audio, any-length prediction, save/load round trip, the CLI contract."""

import json
from pathlib import Path

import numpy as np
import pytest
from typer.testing import CliRunner

from audio_alchemy.io import save
from audio_alchemy.models import Recognizer, from_csv
from audio_alchemy.models.classical import ClipClassifier, make_pipeline

SR = 22050


def _clip(kind: str, seconds: float, seed: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    t = np.arange(int(seconds * SR)) / SR
    if kind == "tone":
        f = rng.uniform(200, 400)
        y = 0.4 * np.sin(2 * np.pi * f * t) + 0.2 * np.sin(2 * np.pi * 2 * f * t)
    else:
        y = 0.3 * rng.standard_normal(len(t))
        y *= (np.sin(2 * np.pi * 4 * t) > 0)  # noise bursts
    return y.astype(np.float32)


@pytest.fixture
def toy_set(tmp_path) -> Path:
    rows = ["path,genre,artist"]
    for i in range(4):
        for kind in ("tone", "noise"):
            p = tmp_path / "audio" / f"{kind}{i}.wav"
            p.parent.mkdir(exist_ok=True)
            save(p, _clip(kind, 3.2 + 0.4 * i, seed=i)[None], SR)
            rows.append(f"audio/{p.name},{kind},{kind}-artist{i // 2}")
    (tmp_path / "labels.csv").write_text("\n".join(rows) + "\n")
    return tmp_path / "labels.csv"


def test_clip_classifier_votes_over_windows():
    rng = np.random.default_rng(0)
    X = [rng.normal(loc=c, size=(int(rng.integers(1, 5)), 3)) for c in (0, 0, 0, 4, 4, 4)]
    y = np.array(["a", "a", "a", "b", "b", "b"])
    clf = ClipClassifier(make_pipeline("logreg")).fit(X, y)
    assert list(clf.predict(X)) == list(y)
    proba = clf.predict_proba([rng.normal(loc=4, size=(7, 3))])
    assert proba.shape == (1, 2) and proba[0, 1] > 0.5 and np.isclose(proba.sum(), 1)


def test_train_predict_save_load_round_trip(toy_set, tmp_path):
    data = from_csv(toy_set, task="genre", group_by="artist")
    assert data.groups is not None and len(data) == 8
    rec = Recognizer.train(data, task="genre")  # the default model: packaged musicnn weights, no download
    assert rec.model == "musicnn-logreg" and rec.labels == ["noise", "tone"]
    out = rec.save(tmp_path / "m")
    meta = json.loads((out / "model.json").read_text())
    assert meta["labels"] == ["noise", "tone"] and meta["features"]["kind"] == "musicnn"
    assert {"sklearn", "torch", "numpy"} <= set(meta["versions"]) and "training_metrics" in meta
    back = Recognizer.load(out)
    for p in data.paths[:2]:
        a, b = rec.predict_file(p), back.predict_file(p)
        assert a["label"] == b["label"]
        assert a["scores"] == pytest.approx(b["scores"], abs=1e-6)
    # any length: a 1-s excerpt and a 12-s signal both work
    short = back.predict_audio(_clip("tone", 1.0, 9), SR)
    long_ = back.predict_audio(np.tile(_clip("noise", 3.0, 9), 4), SR)
    assert short[0] in back.labels and long_[0] in back.labels
    assert sum(short[1].values()) == pytest.approx(1.0, abs=1e-4)


def test_cli_train_then_predict_json(toy_set, tmp_path):
    from audio_alchemy.cli.main import app

    runner = CliRunner()
    out = tmp_path / "model"
    r = runner.invoke(app, ["train", "genre", "--labels", str(toy_set), "--out", str(out), "--model", "mfcc-logreg"])
    assert r.exit_code == 0, r.output
    assert (out / "model.json").exists()
    bad = tmp_path / "broken.wav"
    bad.write_bytes(b"RIFF not really audio")
    files = [str(toy_set.parent / "audio" / "tone0.wav"), str(toy_set.parent / "audio" / "noise1.wav"), str(bad)]
    r = runner.invoke(app, ["predict", "--model", str(out), *files, "--json"])
    assert r.exit_code == 0, r.output
    lines = [json.loads(line) for line in r.stdout.splitlines() if line.startswith("{")]
    assert len(lines) == 3
    ok = [x for x in lines if "error" not in x]
    assert [x["path"] for x in ok] == files[:2]
    for x in ok:
        assert set(x) == {"path", "label", "scores"}
        assert set(x["scores"]) == {"noise", "tone"} and x["label"] in x["scores"]
        assert sum(x["scores"].values()) == pytest.approx(1.0, abs=1e-4)
    assert [x["label"] for x in ok] == ["tone", "noise"]
    assert lines[2]["path"] == str(bad) and "error" in lines[2]


def test_cli_predict_library_stores_predictions(toy_set, tmp_path):
    from audio_alchemy.cli.main import app
    from audio_alchemy.library import Library

    runner = CliRunner()
    model = tmp_path / "model"
    assert runner.invoke(app, ["train", "genre", "--labels", str(toy_set), "--out", str(model),
                               "--model", "mfcc-logreg"]).exit_code == 0
    db = tmp_path / "lib.sqlite"
    r = runner.invoke(app, ["import", str(toy_set.parent / "audio"), "--db", str(db)])
    if r.exit_code != 0:
        pytest.skip(f"library import unavailable: {r.output[-300:]}")
    r = runner.invoke(app, ["predict", "--model", str(model), "--db", str(db)])
    assert r.exit_code == 0, r.output
    with Library.open(db) as lib:
        preds = [p for t in lib.tracks(track_type=0) for p in lib.predictions(t.id)]
    assert len(preds) == 8 and all(p["task"] == "genre" and p["label"] in ("tone", "noise") for p in preds)
    r = runner.invoke(app, ["predict", "--model", str(model), "--db", str(db)])  # a re-run skips what is done
    assert "for 0 tracks" in r.output and "8 already done" in r.output, r.output
    other = tmp_path / "model2"  # another training of the same kind is another model: it predicts too
    assert runner.invoke(app, ["train", "genre", "--labels", str(toy_set), "--out", str(other),
                               "--model", "mfcc-logreg", "--seed", "1"]).exit_code == 0
    r = runner.invoke(app, ["predict", "--model", str(other), "--db", str(db)])
    assert "for 8 tracks" in " ".join(r.output.split()), r.output
    r = runner.invoke(app, ["predict", "--model", str(other), "--db", str(db), "--track-type", "1"])
    assert "for 0 tracks" in r.output and "0 already done" in r.output, r.output  # no stems, nothing done
    # labels from the library: tags, stored predictions and ratings
    from audio_alchemy.models import from_library

    with Library.open(db) as lib:
        tracks = lib.tracks(track_type=0)
        for i, t in enumerate(tracks):
            lib.update_track(t.id, genre="tone" if "tone" in str(lib.track_path(t.id)) else "noise",
                             artist=f"a{i % 3}")
        lib.add_rating(tracks[0].id, "u", 5, 5)
        lib.add_rating(tracks[1].id, "u", 5, 1)
        tagged = from_library(lib, target="genre")
        predicted = from_library(lib, target="genre", source="predictions")
        liked = from_library(lib, source="ratings")
    assert len(tagged) == 8 and set(tagged.labels) == {"tone", "noise"} and len(set(tagged.groups)) == 3
    assert all("tone" in str(p) for p, lab in zip(tagged.paths, tagged.labels) if lab == "tone")
    assert len(predicted) == 8
    assert sorted(liked.labels.tolist()) == ["disliked", "liked"]


def test_cli_refuses_unknown_model(toy_set, tmp_path):
    from audio_alchemy.cli.main import app

    r = CliRunner().invoke(app, ["train", "genre", "--labels", str(toy_set), "--out", str(tmp_path / "m"),
                                 "--model", "nope"])
    assert r.exit_code != 0


def test_cli_evaluate_writes_report_with_baseline_and_grouped_folds(toy_set, tmp_path):
    from audio_alchemy.cli.main import app

    rep = tmp_path / "report"
    r = CliRunner().invoke(app, ["evaluate", "genre", "--labels", str(toy_set), "--group-by", "artist",
                                 "--model", "mfcc-logreg,mfcc-knn", "--report", str(rep)])
    assert r.exit_code == 0, r.output
    res = json.loads((rep / "results.json").read_text())
    assert res["grouped"] and res["group_by"] == "artist"
    for name in ("mfcc-logreg", "mfcc-knn"):
        m = res["models"][name]
        assert m["baseline_majority"]["accuracy"] <= 0.5
        lo, hi = m["ci95"]["accuracy"]
        assert 0 <= lo <= m["scores"]["accuracy"] <= hi <= 1
        assert np.asarray(m["confusion"]).sum() == 8
    html = (rep / "index.html").read_text()
    assert "majority" in html and (rep / "comparison.png").exists() and (rep / "learning_curve.png").exists()


def test_cli_evaluate_drops_repeated_rows_names_skipped_files_and_reports_what_it_scored(toy_set, tmp_path):
    """A file listed twice would be trained and tested on at once (inflating the scores): one row is kept and a
    note says so; an unreadable file is named; the report's n and fold count are the ones used; one readable class
    is a one-line error, not a traceback."""
    from audio_alchemy.cli.main import app

    rows = toy_set.read_text().splitlines()
    dup = toy_set.with_name("dup.csv")
    dup.write_text("\n".join(rows + rows[1:] + ["audio/missing.wav,tone,x"]) + "\n")
    rep = tmp_path / "rep"
    r = CliRunner().invoke(app, ["evaluate", "genre", "--labels", str(dup), "--model", "mfcc-knn", "--report", str(rep),
                                 "--no-learning-curve", "--splits", "5"])
    out = " ".join(r.output.split())
    assert r.exit_code == 0, r.output
    assert "8 repeated row(s) of the same file dropped" in out and "skipped" in out and "missing.wav" in out
    res = json.loads((rep / "results.json").read_text())
    assert res["n"] == 8 and res["n_splits"] == 4  # 4 clips per class: 4 folds, not the 5 asked for
    conflict = toy_set.with_name("conflict.csv")
    conflict.write_text("\n".join(rows + [rows[1].replace(",tone,", ",noise,")]) + "\n")
    r = CliRunner().invoke(app, ["evaluate", "genre", "--labels", str(conflict), "--report", str(tmp_path / "r2")])
    assert r.exit_code == 1 and "different genre labels" in " ".join(r.output.split()), r.output
    one = toy_set.with_name("one.csv")
    one.write_text("\n".join([rows[0]] + [x for x in rows[1:] if ",tone," in x]) + "\n")
    r = CliRunner().invoke(app, ["evaluate", "genre", "--labels", str(one), "--model", "mfcc-knn", "--report",
                                 str(tmp_path / "r3"), "--no-learning-curve"])
    assert r.exit_code == 1 and "need at least two classes" in " ".join(r.output.split()), r.output


def test_cli_a_damaged_model_directory_is_named_and_an_unknown_separator_refused(toy_set, tmp_path):
    """A cut-short estimator file, a model.json without its keys or not JSON: one line naming the file (a bare
    "Aborted." or a traceback before); `--separate bogus` is refused, not ignored."""
    import shutil

    from audio_alchemy.cli.main import app

    runner = CliRunner()
    model = tmp_path / "model"
    assert runner.invoke(app, ["train", "genre", "--labels", str(toy_set), "--out", str(model),
                               "--model", "mfcc-logreg"]).exit_code == 0
    song = toy_set.parent / "audio" / "tone0.wav"
    for name, damage, says in (("cut", lambda d: (d / "estimator.joblib").write_bytes((d / "estimator.joblib").read_bytes()[:100]),
                                "estimator.joblib: corrupt model file"),
                               ("nokeys", lambda d: (d / "model.json").write_text("{}"), "model.json: lacks task"),
                               ("nojson", lambda d: (d / "model.json").write_text("{oops"), "model.json: not valid JSON")):
        broken = tmp_path / name
        shutil.copytree(model, broken)
        damage(broken)
        r = runner.invoke(app, ["predict", "--model", str(broken), str(song)])
        assert r.exit_code == 1 and says.replace(" ", "") in "".join(r.output.split()), (name, r.output)  # wrapped
    r = runner.invoke(app, ["predict", "--model", str(model), "--separate", "bogus", str(song)])
    assert r.exit_code == 2 and "bogus" in r.output


def test_cli_bad_inputs_and_options_fail_before_work(toy_set, tmp_path):
    """Silent and blip files get an error each, not a confident label; --splits 1 and an --out that is a file are
    refused up front; an unreadable labels CSV is named."""
    from audio_alchemy.cli.main import app

    runner = CliRunner()
    model = tmp_path / "model"
    assert runner.invoke(app, ["train", "genre", "--labels", str(toy_set), "--out", str(model),
                               "--model", "mfcc-logreg"]).exit_code == 0
    silent = save(tmp_path / "silent.wav", np.zeros((1, 2 * SR), np.float32), SR)
    blip = save(tmp_path / "blip.wav", _clip("tone", 0.05, 0)[None], SR)
    r = runner.invoke(app, ["predict", "--model", str(model), "--json", str(silent), str(blip)])
    assert r.exit_code == 1, r.output
    out = [json.loads(x) for x in r.output.splitlines() if x.startswith("{")]
    assert [o.get("kind") for o in out] == ["silent_audio", "silent_audio"], r.output

    r = runner.invoke(app, ["evaluate", "genre", "--labels", str(toy_set), "--model", "mfcc-logreg", "--splits", "1",
                            "--report", str(tmp_path / "rep")])
    assert r.exit_code == 2 and "--splits" in r.output, r.output
    r = runner.invoke(app, ["train", "genre", "--labels", str(toy_set), "--out", str(silent), "--model", "mfcc-logreg"])
    assert r.exit_code == 1 and "is a file" in " ".join(r.output.split()), r.output
    bad = tmp_path / "bad.csv"
    bad.write_text('path,genre\n"a.wav,pop\n')
    r = runner.invoke(app, ["train", "genre", "--labels", str(bad), "--out", str(tmp_path / "m3")])
    assert r.exit_code == 1 and "bad.csv" in " ".join(r.output.split()), r.output



def test_api_mistakes_get_clear_errors(tmp_path):
    """A notebook user's slips: a missing file is an AudioError like io.load's, a list is not a LabeledSet, a
    filter on a column the CSV lacks names it, and a read-only library that does not exist is not a sqlite error."""
    from audio_alchemy.io import AudioError
    from audio_alchemy.library import Library
    from audio_alchemy.models import Recognizer
    from audio_alchemy.models.datasets import from_csv
    from audio_alchemy.models.featurize import file_inputs
    from audio_alchemy.models.recognizer import get_model

    with pytest.raises(AudioError, match="nope.ogg"):
        file_inputs(tmp_path / "nope.ogg", get_model("mfcc-logreg").spec)
    with pytest.raises(TypeError, match="LabeledSet"):
        Recognizer.train(["a.wav", "b.wav"], task="genre")
    csv = tmp_path / "labels.csv"
    csv.write_text("path,genre\na.wav,pop\nb.wav,rock\n")
    with pytest.raises(ValueError, match="'artist' not found"):
        from_csv(csv, task="genre", where={"artist": "X"})
    with pytest.raises(FileNotFoundError, match="no library at"):
        Library.open(tmp_path / "absent.sqlite", readonly=True)
