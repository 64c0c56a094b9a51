"""Fuzzing the import (and features, when that job exists) with 1,000+ mutated audio files.

The batch must never crash; every file ends up as exactly one of: a file row of a track, or an error row
naming it. Files with no decodable audio must be error rows; unmodified clips must be tracks.
"""

from __future__ import annotations

import importlib.util
import time

import pytest

from audio_alchemy.library import Library, import_paths
from audio_alchemy.library.db import display_path
from reliability_corpus import duplicates, mutate_corpus, write_sources

N_FILES = 1000


@pytest.fixture(scope="module")
def corpus(tmp_path_factory):
    root = tmp_path_factory.mktemp("fuzz")
    sources = write_sources(root / "sources", 40, seed=1)
    samples = mutate_corpus(sources, root / "corpus", N_FILES, seed=20260101)
    return root, samples


@pytest.fixture(scope="module")
def imported(corpus):
    """The corpus imported once (local pool, 2 workers): (database path, summary, seconds)."""
    root, _ = corpus
    db = root / "lib.sqlite"
    with Library.open(db) as lib:
        t0 = time.perf_counter()
        s = import_paths(lib, [root / "corpus"], workers=2, progress=False)
    return db, s, time.perf_counter() - t0


@pytest.mark.timeout(240)
def test_import_survives_1000_mutated_files(corpus, imported):
    root, samples = corpus
    assert len(samples) >= 1000
    db, s, elapsed = imported
    with Library.open(db) as lib:
        assert not s.interrupted
        errors = {e["item"]: e for e in lib.errors("import")}
        files = {r[0] for r in lib.conn.execute("SELECT raw_path FROM files")}
        unclassified, both, bad_ok, good_lost = [], [], [], []
        for smp in samples:
            has_file = bytes(smp.path.as_posix(), "utf-8") in files
            err = errors.get(display_path(smp.path))
            if has_file and err and err["kind"] != "truncated":
                both.append(smp)  # an imported file carries a row only to warn that its header promised more
            if err and err["kind"] == "truncated":
                assert has_file, f"a truncation warning on a file that was not imported: {err}"
            if not has_file and not err:
                unclassified.append(smp)
            if smp.must_fail and not err:
                bad_ok.append(smp)
            if smp.pristine and not has_file:
                good_lost.append((smp, err))
            if err:
                assert smp.path.name in err["message"], f"error row does not name its file: {err}"
                assert err["kind"] != "WorkerCrashed", f"a worker died on {smp.path.name}: {err}"
        assert not unclassified, f"{len(unclassified)} files neither imported nor in errors: {unclassified[:3]}"
        assert not both, f"{len(both)} files both imported and in errors (not as a truncation warning): {both[:3]}"
        assert not bad_ok, f"{len(bad_ok)} undecodable files have no error row: {bad_ok[:3]}"
        assert not good_lost, f"{len(good_lost)} pristine clips not imported: {good_lost[:3]}"
        assert s.new_files + s.failed == len(samples)
        assert lib.integrity_ok()
        n_err = len(errors)
        print(f"\nfuzz import: {len(samples)} files, {len(samples) - n_err} imported, {n_err} error rows, "
              f"{lib.count_tracks(0)} tracks, {elapsed:.1f} s")
        assert 0 < n_err < len(samples)
        # a second run over the same folder is a no-op: nothing re-imported, errors not duplicated
        s2 = import_paths(lib, [root / "corpus"], workers=0, progress=False)
        assert s2.new_files == 0 and len(lib.errors("import")) == n_err
        assert duplicates(db) == {"tracks": 0, "files": 0, "errors": 0, "features": 0}


@pytest.mark.timeout(240)
def test_features_survive_mutated_files(corpus, imported):
    """Every imported track (including mutated files that still decode) gets features or an error row."""
    if importlib.util.find_spec("audio_alchemy.features.batch") is None:
        pytest.skip("audio_alchemy.features.batch (the features job) is not built yet")
    from reliability_features import STAGE, run_default_features

    db, _, _ = imported
    with Library.open(db) as lib:
        tracks = lib.tracks()
        t0 = time.perf_counter()
        feature_set = run_default_features(lib, workers=2)
        elapsed = time.perf_counter() - t0
        have = lib.tracks_with_features(feature_set)
        errs = {e["item"]: e for e in lib.errors(STAGE)}
        missing, both = [], []
        for t in tracks:
            paths = {f.path for f in lib.files(t.id)} | {f"track {t.id}"}
            err = paths & set(errs)
            if t.id not in have and not err:
                missing.append(t.id)
            if t.id in have and err:
                both.append(t.id)
        assert not missing, f"{len(missing)} tracks with neither features nor an error row: {missing[:5]}"
        assert not both, f"{len(both)} tracks with features and a stale error row: {both[:5]}"
        assert not [e for e in errs.values() if e["kind"] == "WorkerCrashed"], "a worker died during features"
        assert len(have) > 0 and lib.integrity_ok()
        print(f"\nfuzz features: {len(tracks)} tracks, {len(have)} with features, {len(errs)} error rows, {elapsed:.1f} s")
    assert duplicates(db) == {"tracks": 0, "files": 0, "errors": 0, "features": 0}
