"""`alchemy features --out parquet://DIR` + `alchemy import-results DIR` stores what `alchemy features` stores directly;
and the jobs layer stays below the library (it never imports it)."""

from __future__ import annotations

import ast
import sqlite3
from pathlib import Path

import pytest

from audio_alchemy.library import Library, import_paths
from reliability_corpus import duplicates, snapshot, write_sources

JOBS_DIR = Path(__file__).resolve().parents[1] / "src" / "audio_alchemy" / "jobs"


def _imports(path: Path) -> set[str]:
    """Every module a source file imports (``from ..library import x`` in jobs/ reads as ``audio_alchemy.library``)."""
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            found.update(a.name for a in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = "audio_alchemy" if node.level == 2 else "audio_alchemy.jobs" if node.level == 1 else ""
            found.add(".".join(p for p in (base, node.module or "") if p))
    return found


def test_jobs_layer_never_imports_the_library():
    offenders = {p.name: sorted(m for m in _imports(p) if m.startswith("audio_alchemy.")
                                and not m.startswith(("audio_alchemy.jobs", "audio_alchemy.config")))
                 for p in JOBS_DIR.glob("*.py")}
    assert {k: v for k, v in offenders.items() if v} == {}


@pytest.mark.timeout(180)
def test_cli_features_to_parquet_then_import_results_equals_direct(tmp_path):
    from typer.testing import CliRunner

    from audio_alchemy.cli.main import app

    music = tmp_path / "music"
    sources = write_sources(music, 8, seed=11)
    direct, merged, out = tmp_path / "direct.sqlite", tmp_path / "merged.sqlite", tmp_path / "res"
    with Library.open(direct) as lib:
        import_paths(lib, [music], workers=0, progress=False)
        assert lib.count_tracks(0) == 8
        with sqlite3.connect(merged) as dst:
            lib.conn.backup(dst)
    sources[3].write_bytes(b"\x00garbage, not audio any more" * 40)  # imported fine, broken by features time

    runner = CliRunner()
    r = runner.invoke(app, ["features", "--db", str(direct), "-w", "0", "--json"])
    assert r.exit_code == 0, r.output

    r = runner.invoke(app, ["features", "--db", str(merged), "-w", "2", "--out", f"parquet://{out}"])
    assert r.exit_code == 0, r.output
    text = " ".join(r.output.split())
    assert "7 computed" in text and "1 error(s)" in text and "import-results" in text, r.output
    before = snapshot(merged)
    assert before["features"] == [] and before["errors"] == []  # parquet mode leaves the database alone
    r = runner.invoke(app, ["features", "--db", str(merged), "-w", "0", "--out", f"parquet://{out}"])
    assert r.exit_code == 0 and "0 computed, 8 already done" in " ".join(r.output.split()), r.output  # resumes

    r = runner.invoke(app, ["import-results", str(out), "--db", str(merged)])
    assert r.exit_code == 0 and "features:seed: stored 7" in " ".join(r.output.split()), r.output
    r = runner.invoke(app, ["import-results", str(out), "--db", str(merged)])  # idempotent
    assert r.exit_code == 0, r.output

    got, want = snapshot(merged), snapshot(direct)
    assert len(want["features"]) == 7
    assert got["features"] == want["features"]
    assert [e[:3] for e in got["errors"]] == [e[:3] for e in want["errors"]]
    assert len(want["errors"]) == 1 and want["errors"][0][1] == str(sources[3])
    assert duplicates(merged) == {"tracks": 0, "files": 0, "errors": 0, "features": 0}

    r = runner.invoke(app, ["features", "--db", str(merged), "--out", "s3://bucket/x"])
    assert r.exit_code != 0 and "parquet://" in r.output
