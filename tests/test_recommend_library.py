"""Library-facing recommendation: sound-alikes from stored features, ratings/plays as feedback, the CLI."""

import numpy as np
import pytest
import typer
from typer.testing import CliRunner

from audio_alchemy.library import Library
from audio_alchemy.recommend.interactions import InteractionError
from audio_alchemy.recommend.library_api import library_interactions, library_recommender, sound_alikes
from audio_alchemy.recommend.recommender import Filters


def _make_library(path, with_feedback=True):
    lib = Library.open(path)
    rng = np.random.default_rng(0)
    centers = {"rock": rng.normal(0, 1, 8), "jazz": rng.normal(0, 1, 8) + 3}
    ids = {}
    for k in range(10):
        genre = "rock" if k < 5 else "jazz"
        tid = lib.add_track(f"hash{k}", artist=f"A{k}", title=f"T{k}", genre=genre, language="en" if k % 2 else "fr")
        vec = centers[genre] + rng.normal(0, 0.1, 8)
        lib.put_features(tid, "summary", "1", {"mfcc_mean": vec[:6].tolist(), "tempo": float(vec[6]), "rms": float(vec[7])})
        ids[k] = tid
    if with_feedback:
        lib.add_rating(ids[0], "ann", 5, 5)
        lib.add_rating(ids[1], "ann", 3, 3)
        lib.add_rating(ids[6], "ann", 2, 1)      # dislike
        lib.add_play(ids[2], "bob")
        lib.add_play(ids[2], "bob")
        lib.add_play(ids[7], "bob")
    return lib, ids


def test_sound_alikes_same_genre_cluster(tmp_path):
    lib, ids = _make_library(tmp_path / "lib.sqlite")
    out = sound_alikes(lib, ids[0], n=4)
    assert len(out) == 4
    assert {r.item for r in out} <= {ids[k] for k in range(1, 5)}    # the other rock tracks sound closest
    assert all("similar sound" in r.reason for r in out)
    assert ids[0] not in {r.item for r in out}
    assert [r.item for r in sound_alikes(lib, "A0 - T0", n=4)] == [r.item for r in out]  # a title, as the CLI


def test_sound_alikes_unknown_track(tmp_path):
    lib, _ = _make_library(tmp_path / "lib.sqlite")
    with pytest.raises(KeyError):
        sound_alikes(lib, 999)
    with pytest.raises(KeyError, match="no track matches"):
        sound_alikes(lib, "no such title")
    with pytest.raises(ValueError, match="at least 1"):
        sound_alikes(lib, "A0 - T0", n=-1)  # once all but the last, by slicing


def test_library_recommender_content_and_filters(tmp_path):
    lib, ids = _make_library(tmp_path / "lib.sqlite")
    inter, dislikes = library_interactions(lib)
    assert dislikes == {"ann": {ids[6]}}
    rec = library_recommender(lib)
    out = rec.recommend("ann", n=3)
    assert out and all(r.item not in (ids[0], ids[1], ids[6]) for r in out)
    assert out[0].item in {ids[k] for k in range(2, 5)}              # rock, like what ann liked
    assert all(r.reason for r in out)
    jazz = rec.recommend("ann", n=10, filters=Filters(genre="jazz"))
    assert jazz and all(rec.item_meta[r.item]["genre"] == "jazz" for r in jazz) and ids[6] not in {r.item for r in jazz}
    fr = rec.recommend("ann", n=10, filters=Filters(language="fr"))
    assert all(rec.item_meta[r.item]["language"] == "fr" for r in fr)
    unknown = rec.recommend("nobody", n=2)
    assert unknown.note and "unknown user" in unknown.note and len(unknown) == 2


def test_library_without_feedback_is_a_clear_error(tmp_path):
    lib, _ = _make_library(tmp_path / "lib.sqlite", with_feedback=False)
    with pytest.raises(InteractionError, match="no ratings or plays"):
        library_recommender(lib)


def test_cli_rate_recommend_similar(tmp_path):
    from audio_alchemy.cli.recommend import register

    db = tmp_path / "lib.sqlite"
    lib, ids = _make_library(db, with_feedback=False)
    lib.close()
    app = typer.Typer()
    register(app)
    runner = CliRunner()
    r = runner.invoke(app, ["rate", str(ids[0]), "--scale", "5", "--score", "6", "--db", str(db)])
    assert r.exit_code != 0 and "outside" in r.output
    r = runner.invoke(app, ["rate", str(ids[0]), "--scale", "5", "--score", "4", "--user", "cli", "--db", str(db)])
    assert r.exit_code == 0, r.output
    r = runner.invoke(app, ["recommend", "--user", "cli", "-n", "3", "--db", str(db), "--json"])
    assert r.exit_code == 0, r.output
    assert len([ln for ln in r.stdout.splitlines() if ln.startswith("{")]) == 3
    r = runner.invoke(app, ["similar", str(ids[5]), "-n", "2", "--db", str(db)])
    assert r.exit_code == 0 and "similar sound" in r.output
    r = runner.invoke(app, ["recommend", "--user", "cli", "--genre", "jazz", "--db", str(db)])
    assert r.exit_code == 0 and "genre jazz" in r.output
    # the spellings other commands use: --set for the feature set, 0/1/2 for the track type
    a = runner.invoke(app, ["similar", str(ids[5]), "-n", "2", "--set", "summary", "--db", str(db), "--json"])
    b = runner.invoke(app, ["similar", str(ids[5]), "-n", "2", "--features", "summary", "--db", str(db), "--json"])
    assert a.exit_code == 0 and a.stdout == b.stdout, a.output
    a = runner.invoke(app, ["recommend", "--user", "cli", "--track-type", "0", "--db", str(db), "--json"])
    b = runner.invoke(app, ["recommend", "--user", "cli", "--track-type", "full", "--db", str(db), "--json"])
    assert a.exit_code == 0 and a.stdout == b.stdout, a.output
    for bad in ("7", "99999999999999999999", "vocal"):
        r = runner.invoke(app, ["recommend", "--user", "cli", "--track-type", bad, "--db", str(db)])
        assert r.exit_code == 1 and "use 0, 1, 2 or one of" in " ".join(r.output.split()), (bad, r.output)


def test_cli_eval_recommend_on_a_small_csv(tmp_path):
    from audio_alchemy.cli.recommend import register

    rng = np.random.default_rng(0)
    lines = ["user,item,count"]
    for u in range(40):
        taste = rng.integers(0, 2)
        for i in rng.choice(np.arange(15) + 15 * taste, size=8, replace=False):
            lines.append(f"u{u},{i},{rng.integers(1, 20)}")
    p = tmp_path / "plays.csv"
    p.write_text("\n".join(lines) + "\n")
    app = typer.Typer()
    register(app)
    r = CliRunner().invoke(app, ["eval-recommend", "--data", str(p)])
    assert r.exit_code == 0, r.output
    for name in ("popularity", "ALS", "EASE", "hybrid"):
        assert name in r.stdout
    bad = tmp_path / "bad.csv"
    bad.write_text("user,item,count\na,1,-2\n")
    r = CliRunner().invoke(app, ["eval-recommend", "--data", str(bad)])
    assert r.exit_code != 0 and "bad.csv:2" in r.output


def test_recommend_for_user_from_library_feedback(tmp_path):
    from audio_alchemy.recommend.library_api import feedback_users, recommend_for_user

    lib, ids = _make_library(tmp_path / "lib.sqlite")
    assert list(feedback_users(lib)) == ["ann", "bob"]          # 3 ratings vs 3 plays: ties sorted by name
    recs = recommend_for_user(lib, "ann", n=3)
    assert recs.note is None and len(recs) == 3
    got = {r.item for r in recs}
    assert not got & {ids[0], ids[1], ids[6]}                   # neither rated nor disliked tracks come back
    assert all(r.reason for r in recs)
    unknown = recommend_for_user(lib, "nobody", n=2)
    assert unknown.note and "unknown user" in unknown.note      # popularity fallback, said out loud
    lib.add_rating(ids[3], "cleo", 5, 3)                        # only a middling rating: not unknown, not a like
    cleo = recommend_for_user(lib, "cleo", n=9)
    assert "liked nothing yet" in cleo.note and ids[3] not in {r.item for r in cleo}
    lib.close()


def test_reasons_only_claim_evidence_that_exists(tmp_path):
    """An item no liked track points to is a weak match, never "listeners of what you like also like it"."""
    from audio_alchemy.recommend.library_api import recommend_for_user
    from audio_alchemy.recommend.models import Hybrid

    lib, ids = _make_library(tmp_path / "lib.sqlite")
    recs = recommend_for_user(lib, "ann", n=10)
    rec = library_recommender(lib)
    u = rec.data.user_index("ann")
    for r in recs:
        j = rec.data.item_index(r.item)
        raw = {c.reason: c.score([u])[0, j] for c in rec.model.components}
        if r.reason.startswith(Hybrid.WEAK_REASON):
            assert all(v <= 0 for v in raw.values()), (r, raw)
        else:
            claimed = next(k for k in raw if r.reason.startswith(k))
            assert raw[claimed] > 0, (r, raw)
    lib.close()


def test_recommend_for_user_without_any_feedback_says_so(tmp_path):
    from audio_alchemy.recommend.library_api import recommend_for_user

    lib, _ = _make_library(tmp_path / "lib.sqlite", with_feedback=False)
    recs = recommend_for_user(lib, "ann", n=5)
    assert len(recs) == 0 and "no ratings or plays" in recs.note
    lib.close()
