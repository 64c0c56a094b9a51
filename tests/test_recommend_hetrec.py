"""A small integration run on the Last.fm HetRec data (skipped when the shared data is absent)."""

import numpy as np
import pytest

from audio_alchemy import config
from audio_alchemy.recommend.benchmark import item_tag_matrix
from audio_alchemy.recommend.evaluate import evaluate, split
from audio_alchemy.recommend.interactions import read_hetrec
from audio_alchemy.recommend.models import ItemKNN, Popularity
from audio_alchemy.recommend.recommender import Recommender


@pytest.fixture(scope="module")
def het():
    folder = config.data_path("listening")
    if folder is None:
        pytest.skip("needs $AUDIO_ALCHEMY_DATA/listening (../shared/data); not present")
    return read_hetrec(folder)


def test_hetrec_layout(het):
    L = het.listens
    assert L.shape == (1892, 17632) and L.nnz == 92834
    assert L.matrix.sum() == pytest.approx(69_183_975, rel=1e-6)
    assert het.tag_names and any("é" in v or "ö" in v or "ü" in v for v in het.tag_names.values())  # latin-1 decoded
    assert het.artist_names[1] == "MALICE MIZER"


def test_hetrec_protocol_no_leak_and_models_beat_popularity(het):
    X = het.listens.matrix
    train, test = split(X, seed=0)
    assert train.multiply(test).nnz == 0 and train.nnz + test.nnz == X.nnz
    pop = Popularity().fit(train)
    knn = ItemKNN("bm25", K=50).fit(train)
    sub_test = test.copy().tolil()
    sub_test[400:, :] = 0
    sub_test = sub_test.tocsr()
    r_pop = evaluate(lambda u: pop.score(u), train, sub_test, n_boot=50)
    r_knn = evaluate(lambda u: knn.score(u), train, sub_test, n_boot=50)
    assert r_pop.n_users == int((np.diff(sub_test.indptr) > 0).sum()) > 350   # users with >= 5 artists
    assert 0.03 < r_pop.means["ndcg"] < 0.15
    assert r_knn.means["ndcg"] > r_pop.means["ndcg"] * 1.5


def test_hetrec_tags_stripped_of_heldout_pairs(het):
    X = het.listens.matrix
    _, test = split(X, seed=0)
    full = item_tag_matrix(het)
    stripped = item_tag_matrix(het, exclude_pairs=test)
    assert stripped.sum() < full.sum()


def test_hetrec_recommender_facade(het):
    rec = Recommender(ItemKNN("bm25", K=50), het.listens, {a: {"label": n} for a, n in het.artist_names.items()}).fit()
    out = rec.recommend(2, n=5)
    seen = set(het.listens.item_ids[j] for j in het.listens.matrix[het.listens.user_index(2)].indices)
    assert len(out) == 5 and not seen & {r.item for r in out}
    assert all("like" in r.reason for r in out)
    assert rec.similar(289, n=3)            # Britney Spears has neighbours
