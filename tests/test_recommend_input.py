"""Feedback parsing and bad input: duplicates summed, negative/non-numeric counts named by line, Likert scales,
unknown users and items, empty data."""

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from audio_alchemy.recommend.interactions import (
    InteractionError,
    UnknownItem,
    combine,
    from_plays,
    from_ratings,
    from_triples,
    normalize_rating,
    read_interactions,
)
from audio_alchemy.recommend.models import EASE, ALS, ItemKNN, Popularity
from audio_alchemy.recommend.recommender import Filters, Recommender


def test_csv_duplicates_summed(tmp_path):
    p = tmp_path / "x.csv"
    p.write_text("user,item,count\na,1,3\nb,1,1\na,1,4\na,2,2\n")
    inter = read_interactions(p)
    u, i = inter.user_index("a"), inter.item_index(1)
    assert inter.matrix[u, i] == 7
    assert inter.nnz == 3


def test_tsv_without_header_and_crlf(tmp_path):
    p = tmp_path / "x.tsv"
    p.write_bytes(b"1\t10\t5\r\n2\t10\t1\r\n")
    inter = read_interactions(p)
    assert inter.shape == (2, 1) and inter.matrix.sum() == 6


@pytest.mark.parametrize("bad,what", [("-3", "negative"), ("lots", "not a number"), ("nan", "not finite")])
def test_bad_count_names_the_line(tmp_path, bad, what):
    p = tmp_path / "x.csv"
    p.write_text(f"user,item,count\na,1,3\nb,2,{bad}\n")
    with pytest.raises(InteractionError) as e:
        read_interactions(p)
    assert f"{p}:3:" in str(e.value) and what in str(e.value) and e.value.line == 3


def test_empty_file_and_header_only(tmp_path):
    p = tmp_path / "e.csv"
    p.write_text("")
    with pytest.raises(InteractionError, match="empty"):
        read_interactions(p)
    p.write_text("user,item,count\n")
    with pytest.raises(InteractionError, match="header"):
        read_interactions(p)
    with pytest.raises(InteractionError, match="empty"):
        from_triples([], [], [])


@pytest.mark.parametrize("scale,score,expected", [(2, 1, 0.0), (2, 2, 1.0), (3, 2, 0.5), (5, 4, 0.75), (5, 1, 0.0)])
def test_likert_normalised(scale, score, expected):
    assert normalize_rating(scale, score) == pytest.approx(expected)


@pytest.mark.parametrize("scale,score", [(5, 6), (5, 0), (3, 4), (2, 3), (4, 2), (5, 2.5)])
def test_rating_outside_scale_refused(scale, score):
    with pytest.raises(InteractionError):
        normalize_rating(scale, score)


@given(st.sampled_from([2, 3, 5]), st.data())
@settings(max_examples=50, deadline=None)
def test_likert_range_property(scale, data):
    score = data.draw(st.integers(1, scale))
    x = normalize_rating(scale, score)
    assert 0.0 <= x <= 1.0
    assert (x == 0.0) == (score == 1) and (x == 1.0) == (score == scale)


def test_ratings_and_plays_combine():
    inter, dislikes = from_ratings([("u", 1, 5, 5), ("u", 2, 5, 1), {"user_id": "v", "track_id": 1, "scale": 3, "score": 3}])
    assert dislikes == {"u": {2}}
    plays = from_plays([("u", 3), ("u", 3, 200.0), ("u", 4, 2.0)], min_seconds=10)
    both = combine(plays, inter)
    u = both.user_index("u")
    assert both.matrix[u, both.item_index(3)] == 2     # two plays (one without duration)
    assert both.item_index(4) is None                   # 2-second skip dropped
    assert both.matrix[u, both.item_index(1)] == pytest.approx(2.0)


@given(st.lists(st.tuples(st.integers(0, 5), st.integers(0, 5), st.integers(0, 100)), min_size=1, max_size=40))
@settings(max_examples=50, deadline=None)
def test_from_triples_sums_property(rows):
    inter = from_triples([r[0] for r in rows], [r[1] for r in rows], [r[2] for r in rows])
    assert inter.matrix.sum() == pytest.approx(sum(r[2] for r in rows))
    for u, i, _ in rows:
        want = sum(c for uu, ii, c in rows if (uu, ii) == (u, i))
        assert inter.matrix[inter.user_index(u), inter.item_index(i)] == pytest.approx(want)


def _toy():
    users = ["a"] * 3 + ["b"] * 3 + ["c"] * 2 + ["d"] * 2
    items = [1, 2, 3, 1, 2, 4, 2, 3, 1, 4]
    return from_triples(users, items, [5, 3, 1, 2, 2, 2, 1, 1, 1, 1])


def test_unknown_user_gets_popularity_with_note():
    inter = _toy()
    rec = Recommender(EASE(lam=1.0, min_users=1), inter).fit()
    out = rec.recommend("zed", n=2)
    assert out.note and "unknown user" in out.note
    assert [r.item for r in out] == [1, 2]             # most listeners first
    assert all(r.reason == "popular with listeners" for r in out)


def test_known_user_excludes_seen_and_explains():
    inter = _toy()
    rec = Recommender(EASE(lam=1.0, min_users=1), inter, {i: {"label": f"item {i}"} for i in (1, 2, 3, 4)}).fit()
    out = rec.recommend("c", n=3)
    assert out.note is None
    assert {r.item for r in out} <= {1, 4}
    assert all(r.reason for r in out)
    assert any("like item" in r.reason for r in out)


def test_unknown_item_raises():
    rec = Recommender(ItemKNN("cosine", K=5), _toy()).fit()
    with pytest.raises(UnknownItem, match="unknown item"):
        rec.similar(99)
    assert rec.similar(1, n=2)


def test_filters_restrict_and_boost():
    inter = _toy()
    meta = {1: {"genre": "rock"}, 2: {"genre": "jazz"}, 3: {"genre": "jazz"}, 4: {"genre": "Rock", "language": "en"}}
    rec = Recommender(Popularity(), inter, meta).fit()
    out = rec.recommend("zed", n=4, filters=Filters(genre="rock"))
    assert [r.item for r in out] == [1, 4] and all("genre" in r.reason for r in out)
    out = rec.recommend("zed", n=4, filters=Filters(language="en"))
    assert [r.item for r in out] == [4]
    out = rec.recommend("zed", n=4, filters=Filters(genre="rock", mode="boost", boost=10))
    assert [r.item for r in out][:2] == [1, 4] and len(out) == 4


def test_empty_data_refused():
    import scipy.sparse as sp

    with pytest.raises(ValueError, match="empty"):
        ALS().fit(sp.csr_matrix((3, 3)))
