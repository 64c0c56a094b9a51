"""Parquet results: `alchemy identify --out parquet://DIR` + `alchemy import-results DIR` equals `alchemy import`."""

from __future__ import annotations

import os
import subprocess
import sys
from functools import partial

import pytest

from audio_alchemy.jobs.parquet_sink import ParquetSink, dumps, loads, merge_results, parse_out, read_rows, run_to_parquet
from audio_alchemy.library import Library, import_paths
from audio_alchemy.library.db import display_path
from audio_alchemy.library.importer import identify, scan
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
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    out, db = tmp_path / "res", tmp_path / "lib.sqlite"
    cmd = [sys.executable, "-m", "audio_alchemy.cli.main"]
    r = subprocess.run([*cmd, "identify", "--out", f"parquet://{out}", "-w", "2", str(corpus)], capture_output=True, text=True, env=env, timeout=150)
    assert r.returncode == 0, r.stderr[-2000:]
    r2 = subprocess.run([*cmd, "identify", "--out", f"parquet://{out}", "-w", "2", str(corpus)], capture_output=True, text=True, env=env, timeout=150)
    assert r2.returncode == 0 and "28 already in" in " ".join(r2.stdout.split()), r2.stdout
    r = subprocess.run([*cmd, "import-results", str(out), "--db", str(db)], capture_output=True, text=True, env=env, timeout=150)
    assert r.returncode == 0, r.stderr[-2000:]
    assert "import: stored" in r.stdout
    with Library.open(db) as lib:
        assert len(lib.errors("import")) >= 1 and lib.count_tracks(0) >= 18
    r = subprocess.run([*cmd, "identify", "--out", str(out), str(corpus)], capture_output=True, text=True, env=env, timeout=60)
    assert r.returncode != 0 and "parquet://" in r.stderr
