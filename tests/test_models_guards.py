"""Leakage guards: identifier-like / label-ordered columns are refused; groups never straddle folds."""

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from audio_alchemy.config import data_path
from audio_alchemy.models import cv
from audio_alchemy.models.guards import LeakageError, check_feature_columns, check_group_folds, identifier_like


@pytest.mark.parametrize("name", ["artist_enc", "song_name_enc", "track_id", "id", "Artist", "song_title", "path",
                                  "filename", "genre", "group_id", "speaker_or_artist", "userid"])
def test_identifier_like_names_refused(name):
    assert identifier_like(name)
    with pytest.raises(LeakageError):
        check_feature_columns(["tempo", name])


@pytest.mark.parametrize("name", ["tempo", "mfcc_mean", "spectral_centroid_mean", "zero_crossing_rate",
                                  "rms_energy", "fundamental_freq", "chroma_stft_var", "harmony_mean"])
def test_audio_feature_names_accepted(name):
    assert not identifier_like(name)


def test_label_ordered_codes_refused_even_with_innocent_name():
    rng = np.random.default_rng(0)
    labels = np.repeat(["pop", "rock", "jazz", "edm"], 5)
    code = np.arange(20).astype(float)  # numbered while walking the table genre by genre
    audio = rng.standard_normal(20)
    df = pd.DataFrame({"x1": code, "tempo": audio})
    with pytest.raises(LeakageError, match="monotone"):
        check_feature_columns(list(df.columns), df, labels)
    check_feature_columns(["tempo"], df[["tempo"]], labels)  # fine


def test_study_genre_csv_codes_refused():
    seed = data_path("seed")
    if seed is None:
        pytest.skip("needs $AUDIO_ALCHEMY_DATA/seed (../shared/data); not present")
    df = pd.read_csv(seed / "N_audio_features_parallel_output_encoded.csv")
    with pytest.raises(LeakageError):
        check_feature_columns(["tempo", "artist_enc"], df[["tempo", "artist_enc"]], df.genre.to_numpy())
    # renamed, the artist codes are still caught by the label-order check
    renamed = df[["artist_enc"]].rename(columns={"artist_enc": "x"})
    with pytest.raises(LeakageError, match="monotone"):
        check_feature_columns(["x"], renamed, df.genre.to_numpy())


def test_check_group_folds_detects_straddling_group():
    groups = np.array(["a", "a", "b", "b"])
    with pytest.raises(LeakageError):
        check_group_folds([(np.array([0, 2]), np.array([1, 3]))], groups)
    check_group_folds([(np.array([0, 1]), np.array([2, 3]))], groups)


@settings(max_examples=15, deadline=None)
@given(st.integers(0, 10_000), st.integers(2, 4), st.integers(2, 5))
def test_group_never_in_two_folds(seed, n_classes, n_splits):
    rng = np.random.default_rng(seed)
    n_groups = n_classes * n_splits * 2
    group_label = rng.integers(0, n_classes, n_groups)
    group_label[:n_classes * n_splits] = np.repeat(np.arange(n_classes), n_splits)  # every class fills the folds
    sizes = rng.integers(1, 4, n_groups)
    groups = np.repeat(np.arange(n_groups), sizes)
    y = np.repeat(group_label, sizes)
    splits = cv.folds(y, groups, n_splits=n_splits, repeats=2, seed=seed)
    for tr, te in splits:
        assert not set(groups[tr]) & set(groups[te])
        assert len(np.intersect1d(tr, te)) == 0
    # each repeat covers every example exactly once as test
    k = len(splits) // 2
    assert sorted(np.concatenate([te for _, te in splits[:k]]).tolist()) == list(range(len(y)))


def test_language_folds_keep_group_id_together():
    lang = data_path("language")
    if lang is None:
        pytest.skip("needs $AUDIO_ALCHEMY_DATA/language (../shared/data); not present")
    from audio_alchemy.models import from_csv

    data = from_csv(lang / "labels.csv", task="language", group_by="group_id")
    splits = cv.folds(data.labels, data.groups, n_splits=5, repeats=2)
    for tr, te in splits:
        assert not set(data.groups[tr]) & set(data.groups[te])
