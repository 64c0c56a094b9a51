"""Parquet results: `alchemy identify --out parquet://DIR` + `alchemy import-results DIR` equals `alchemy import`."""

from __future__ import annotations

from functools import partial

import pytest

from audio_alchemy.jobs.parquet_sink import ParquetSink, dumps, loads, parse_out, read_rows, run_to_parquet
from audio_alchemy.library import Library, import_paths
from audio_alchemy.library.db import display_path
from audio_alchemy.library.importer import identify, scan
from audio_alchemy.library.results_import import merge_results
from reliability_corpus import duplicates, mutate_corpus, snapshot, write_sources


@pytest.fixture(scope="module")
def corpus(tmp_path_factory):
    root = tmp_path_factory.mktemp("pq")
    sources = write_sources(root / "music", 18, seed=4)
    mutate_corpus(sources, root / "music" / "bad", 10, seed=8, pristine_every=1000)
    return root / "music"


def test_parse_out_and_payload_round_trip():
    assert parse_out(None) is None and parse_out("") is None
    assert str(parse_out("parquet:///data/run1")) == "/data/run1"
    with pytest.raises(ValueError):
        parse_out("s3://bucket/x")
    obj = {"fp": b"\x00\xffabc", "x": [1.5, None], "s": "é"}
    assert loads(dumps(obj)) == obj


def test_parts_are_whole_and_resume_skips_written_items(tmp_path):
    with ParquetSink(tmp_path / "ds", "demo", rows_per_part=3) as sink:
        for i in range(7):
            sink.add(f"item{i}", i % 3 != 0, {"v": i}, None if i % 3 else "bad", None if i % 3 else f"item{i}: bad")
    rows = list(read_rows(tmp_path / "ds"))
    assert len(rows) == 7 and len(list((tmp_path / "ds" / "stage=demo").glob("part-*.parquet"))) == 3
    assert not list((tmp_path / "ds").rglob(".*.tmp"))
    summary, skipped = run_to_parquet([f"item{i}" for i in range(10)], str.upper, tmp_path / "ds", "demo",
                                      workers=0, progress=False)
    assert skipped == 7 and summary.done == 3
    assert sorted(r["item"] for r in read_rows(tmp_path / "ds", "demo")) == sorted(f"item{i}" for i in range(10))


@pytest.mark.timeout(180)
def test_identify_to_parquet_then_merge_equals_direct_import(corpus, tmp_path):
    direct = tmp_path / "direct.sqlite"
    with Library.open(direct) as lib:
        import_paths(lib, [corpus], workers=0, progress=False)

    out = tmp_path / "results"
    summary, _ = run_to_parquet(scan([corpus]).files, partial(identify), f"parquet://{out}", "import",
                                key=display_path, workers=2, progress=False)
    assert summary.done + summary.failed == 28 and summary.failed >= 1
    merged = tmp_path / "merged.sqlite"
    with Library.open(merged) as lib:
        s = merge_results(lib, out)
        assert s.stored["import"] == summary.done and s.errors["import"] == summary.failed and not s.skipped
        merge_results(lib, out)  # merging twice changes nothing
        assert lib.integrity_ok()
    assert duplicates(merged) == {"tracks": 0, "files": 0, "errors": 0, "features": 0}
    got, want = snapshot(merged), snapshot(direct)
    assert got == want


@pytest.mark.timeout(180)
def test_cli_identify_and_import_results(corpus, tmp_path):
    from typer.testing import CliRunner

    from audio_alchemy.cli.main import app

    out, db = tmp_path / "res", tmp_path / "lib.sqlite"
    runner = CliRunner()
    r = runner.invoke(app, ["identify", "--out", f"parquet://{out}", "-w", "2", str(corpus)])
    assert r.exit_code == 0, r.output
    r = runner.invoke(app, ["identify", "--out", f"parquet://{out}", "-w", "0", str(corpus)])
    assert r.exit_code == 0 and "28 already in" in " ".join(r.output.split()), r.output
    r = runner.invoke(app, ["import-results", str(out), "--db", str(db)])
    assert r.exit_code == 0 and "import: stored" in r.output, r.output
    with Library.open(db) as lib:
        assert len(lib.errors("import")) >= 1 and lib.count_tracks(0) >= 18
    r = runner.invoke(app, ["identify", "--out", str(out), str(corpus)])
    assert r.exit_code != 0 and "parquet://" in r.output
    r = runner.invoke(app, ["import-results", str(tmp_path / "nothing"), "--db", str(db)])
    assert r.exit_code != 0 and "no results dataset" in r.output


@pytest.mark.timeout(240)
def test_features_to_parquet_then_merge_equals_direct_features(corpus, tmp_path):
    """The features job's tasks written to Parquet and merged give the rows `run_features` writes directly."""
    import importlib.util
    import sqlite3

    if importlib.util.find_spec("audio_alchemy.features.batch") is None:
        pytest.skip("audio_alchemy.features.batch (the features job) is not built yet")
    from audio_alchemy.features import batch

    direct, merged, out = tmp_path / "direct.sqlite", tmp_path / "merged.sqlite", tmp_path / "res"
    with Library.open(direct) as lib:
        import_paths(lib, [corpus], workers=0, progress=False)
        with sqlite3.connect(merged) as dst:
            lib.conn.backup(dst)
        batch.run_features(lib, feature_set="seed", workers=0, progress=False)  # in-process: no worker start-up to pay
    with Library.open(merged) as lib:
        tasks, _ = batch.pending_tasks(lib, "seed")
        hashes = {t.id: t.content_hash for t in lib.tracks()}
        s, _ = run_to_parquet(
            tasks, partial(batch._compute_one), f"parquet://{out}", "features:seed", key=lambda t: t.path,
            payload=lambda t, r: {"track_id": t.track_id, "content_hash": hashes[t.track_id], "feature_set": t.feature_set,
                                  "version": batch.VERSION, "data": r[0], "artifacts": r[1]},
            workers=0, progress=False)
        m = merge_results(lib, out)
        assert m.stored.get("features:seed", 0) == s.done and not m.skipped
        assert lib.integrity_ok()
    got, want = snapshot(merged), snapshot(direct)
    assert got["features"] == want["features"] and len(got["features"]) > 0
    assert [e[:3] for e in got["errors"]] == [e[:3] for e in want["errors"]]


def test_non_utf8_names_damaged_parts_and_folders_that_are_not_datasets(tmp_path):
    """A non-UTF-8 file name is written and read back as the same str (it used to fail the whole part, losing every
    result in it); a damaged part file stops the merge with one error naming it, before anything is stored; a folder
    that is not a results dataset, a stage it does not hold, and a file given as the dataset are refused."""
    import os

    from typer.testing import CliRunner

    from audio_alchemy.cli.main import app
    from audio_alchemy.jobs.parquet_sink import BadResults

    odd = os.fsdecode(b"/music/caf\xe9.ogg")
    with ParquetSink(tmp_path / "ds", "demo") as sink:
        sink.add(odd, True, {"path": odd})
        sink.add("/music/ok.ogg", True, {"path": "ok"})
        sink.add_error(odd, ValueError("no audio"))
    rows = list(read_rows(tmp_path / "ds"))
    assert [r["item"] for r in rows] == [odd, "/music/ok.ogg", odd]
    assert loads(rows[0]["payload"]) == {"path": odd} and odd in rows[2]["message"]

    db = tmp_path / "lib.sqlite"
    Library.open(db).close()
    bad = tmp_path / "ds" / "stage=demo" / "part-zzz-00009.parquet"
    bad.write_bytes(b"garbage")
    with Library.open(db) as lib, pytest.raises(BadResults, match="part-zzz-00009"):
        merge_results(lib, tmp_path / "ds")
    with pytest.raises(BadResults, match="part-zzz-00009"):
        run_to_parquet(["a"], str.upper, tmp_path / "ds", "demo", workers=0, progress=False)

    runner = CliRunner()
    (tmp_path / "plain").mkdir()
    (tmp_path / "plain" / "a.wav").write_bytes(b"x")
    for args, says in ((["import-results", str(tmp_path / "plain")], "is not a results dataset"),
                       (["import-results", str(tmp_path / "ds"), "--stage", "bogus"], "has no stage bogus"),
                       (["identify", str(tmp_path / "plain"), "--out", f"parquet://{tmp_path / 'plain' / 'a.wav'}"],
                        "is a file")):
        r = runner.invoke(app, [*args, "--db", str(tmp_path / "new.sqlite")] if args[0] == "import-results" else args)
        assert r.exit_code == 1 and says in " ".join(r.output.split()), (args, r.output)
    assert not (tmp_path / "new.sqlite").exists()
    # every file failing is exit 1, as for `alchemy import`; a missing path counts as an error
    (tmp_path / "bad.mp3").write_bytes(b"not audio at all")
    r = runner.invoke(app, ["identify", str(tmp_path / "bad.mp3"), str(tmp_path / "nope.wav"), "-w", "0",
                            "--out", f"parquet://{tmp_path / 'idbad'}"])
    assert r.exit_code == 1 and "2 error(s)" in r.output, r.output
