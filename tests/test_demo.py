"""`alchemy demo` on a machine without the shared data: the synthetic library goes through every stage."""

from __future__ import annotations

from typer.testing import CliRunner

from audio_alchemy.cli.main import app


def test_demo_without_shared_data_uses_the_synthetic_library(tmp_path, monkeypatch):
    monkeypatch.setenv("AUDIO_ALCHEMY_DATA", str(tmp_path / "no-data-here"))
    db = tmp_path / "demo.sqlite"
    r = CliRunner().invoke(app, ["demo", "--no-serve", "--db", str(db), "--workers", "0"])
    assert r.exit_code == 0, r.output
    assert "synthetic songs generated" in " ".join(r.output.split())  # rich wraps lines
    out = " ".join(r.output.split())
    assert "scripted example" in out and "recommended for demo-listener:" in out  # labelled, never silent
    from audio_alchemy.library import Library

    with Library.open(db) as lib:
        st = lib.stats()
        assert st["songs"] == 4 and st["errors"] == 0
        assert st["vocals"] == 4 and st["accompaniment"] == 4  # every song a triplicate
        assert st["features"] >= 12  # the seed set on all three track types at least
        songs = {t.title: t for t in lib.tracks(track_type=0)}
        assert songs["Copper Sunrise"].genre == "Pop"
        assert lib.artifacts(songs["Copper Sunrise"].id).get("mel_viridis_png")
    # a second run resumes: nothing new is imported
    r2 = CliRunner().invoke(app, ["demo", "--no-serve", "--db", str(db), "--workers", "0"])
    assert r2.exit_code == 0 and "0 new files, 4 already there" in " ".join(r2.output.split())
