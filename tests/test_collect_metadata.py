"""Artist resolution and top lists against the fake services: ambiguity, Unicode, no recordings, version merging."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from audio_alchemy.collect import Sources
from audio_alchemy.collect.fakeserver import BJORK, NIRVANA_UK, NIRVANA_US, QUEEN, SILENT, UTADA, FakeServer
from audio_alchemy.collect.http import PoliteClient
from audio_alchemy.collect.musicbrainz import Artist, parse_artist, pick_artist
from audio_alchemy.collect.toplists import LastFmError, TopTrack, base_title, dedupe, title_key, top_tracks

FAST = {"musicbrainz_interval": 0.0, "listenbrainz_interval": 0.0, "lastfm_interval": 0.0}


@pytest.fixture()
def server():
    with FakeServer() as srv:
        yield srv


@pytest.fixture()
def sources(server, tmp_path):
    return Sources.create(client=PoliteClient(cache_dir=tmp_path / "cache"), musicbrainz_url=server.url,
                          listenbrainz_url=server.url, **FAST)


def test_artist_metadata_country_area_begin_year_genres_tags(sources):
    m = sources.musicbrainz.resolve("queen")  # case does not matter
    a = m.artist
    assert not m.ambiguous
    assert (a.mbid, a.name, a.country, a.area, a.begin_area, a.begin_year) == (QUEEN.mbid, "Queen", "GB", "United Kingdom", "London", 1970)
    assert a.genre == "rock" and a.genres[:2] == ["rock", "hard rock"] and "british" in a.tags
    assert [c.name for c in m.candidates] == ["Queen", "Queen Latifah"]  # the partial match ranks lower


def test_ambiguous_name_takes_best_and_reports_it(sources):
    m = sources.musicbrainz.resolve("Nirvana")
    assert m.ambiguous and m.artist.mbid == NIRVANA_US.mbid  # equal scores: more tag votes wins
    assert "2 artists match 'Nirvana'" in m.note and "60s band from the UK" in m.note


def test_interactive_hook_chooses_among_rivals(sources):
    asked = []

    def choose(query, rivals):
        asked.append((query, [r.mbid for r in rivals]))
        return next(r for r in rivals if r.country == "GB")

    m = sources.musicbrainz.resolve("Nirvana", choose)
    assert asked == [("Nirvana", [NIRVANA_US.mbid, NIRVANA_UK.mbid])]
    assert m.artist.mbid == NIRVANA_UK.mbid and m.artist.begin_year == 1965 and "chosen interactively" in m.note
    assert sources.musicbrainz.resolve("Queen", choose).artist.name == "Queen" and len(asked) == 1  # not asked when clear


def test_unicode_names_round_trip(sources):
    for fake in (BJORK, UTADA):
        a = sources.musicbrainz.resolve(fake.name).artist
        assert a.mbid == fake.mbid and a.name == fake.name
    tracks = top_tracks(UTADA.mbid, UTADA.name, 5, listenbrainz=sources.listenbrainz, musicbrainz=sources.musicbrainz)
    assert [t.title for t in tracks] == ["光", "First Love / 初恋"]


def test_unknown_artist_and_artist_without_recordings(sources):
    m = sources.musicbrainz.resolve("Nobody Here At All")
    assert m.artist is None and "no MusicBrainz artist" in m.note
    a = sources.musicbrainz.resolve(SILENT.name).artist
    assert top_tracks(a.mbid, a.name, 5, listenbrainz=sources.listenbrainz, musicbrainz=sources.musicbrainz) == []


def test_listenbrainz_top_list_merges_live_and_remastered_versions(sources):
    tracks = top_tracks(QUEEN.mbid, "Queen", 5, listenbrainz=sources.listenbrainz, musicbrainz=sources.musicbrainz)
    assert [t.title for t in tracks] == ["Bohemian Rhapsody", "Don't Stop Me Now", "Under Pressure",
                                         "Another One Bites the Dust", "Killer Queen"]
    assert [t.rank for t in tracks] == [1, 2, 3, 4, 5]
    assert tracks[0].merged == ["Bohemian Rhapsody - Remastered 2011"] and tracks[0].listens == 900_000 + 650_000
    assert tracks[3].merged == ["Another One Bites the Dust (Live at Wembley '86)"]
    assert tracks[0].length == 3.0 and tracks[0].source == "listenbrainz"


def test_lastfm_with_key_and_lengths_from_musicbrainz(server, tmp_path):
    src = Sources.create(client=PoliteClient(cache_dir=None), musicbrainz_url=server.url, listenbrainz_url=server.url,
                         lastfm_key="test-key", lastfm_url=server.url + "/2.0/", **FAST)
    tracks = top_tracks(QUEEN.mbid, "Queen", 3, listenbrainz=src.listenbrainz, lastfm=src.lastfm, musicbrainz=src.musicbrainz)
    assert [t.source for t in tracks] == ["lastfm"] * 3
    assert [t.title for t in tracks] == ["Bohemian Rhapsody", "Don't Stop Me Now", "Under Pressure"]
    assert tracks[1].length == 2.5  # Last.fm has no length: looked up on MusicBrainz by recording id
    assert not server.requests("/1/popularity")  # ListenBrainz not needed
    bad = Sources.create(client=PoliteClient(cache_dir=None), musicbrainz_url=server.url, lastfm_key="wrong",
                         lastfm_url=server.url + "/2.0/", **FAST)
    with pytest.raises(LastFmError, match="Invalid API key"):
        top_tracks(QUEEN.mbid, "Queen", 3, lastfm=bad.lastfm)


def test_musicbrainz_fallback_when_listenbrainz_knows_nothing(server, tmp_path):
    src = Sources.create(client=PoliteClient(cache_dir=None), musicbrainz_url=server.url, listenbrainz_url=None, **FAST)
    tracks = top_tracks(QUEEN.mbid, "Queen", 3, musicbrainz=src.musicbrainz)
    assert tracks and all(t.source == "musicbrainz-releases" for t in tracks)
    assert tracks[0].title == "Bohemian Rhapsody"  # on the most releases


def test_parse_artist_from_search_hit_without_country_uses_area():
    a = parse_artist({"id": "x", "name": "N", "score": 90, "area": {"name": "Lagos"}, "life-span": {"begin": "1999-05"}})
    assert (a.country, a.begin_year, a.genre) == ("Lagos", 1999, None)


def test_pick_artist_exact_name_beats_equal_score_partial():
    cands = [Artist("1", "Queen Latifah", score=100), Artist("2", "Queen", score=100)]
    assert pick_artist("Queen", cands).artist.mbid == "2"


@pytest.mark.parametrize(("title", "base"), [
    ("Bohemian Rhapsody - Remastered 2011", "Bohemian Rhapsody"),
    ("Killer Queen (2011 Remaster)", "Killer Queen"),
    ("We Will Rock You [Live at Wembley '86]", "We Will Rock You"),
    ("Don't Stop Me Now - 2011 Mono Remaster", "Don't Stop Me Now"),
    ("Love of My Life", "Love of My Life"),
    ("Live and Let Die", "Live and Let Die"),  # a title that starts with "Live" is not a live version
])
def test_base_title(title, base):
    assert base_title(title) == base


def test_dedupe_by_recording_id_and_title_key():
    ts = [TopTrack("Song", "A", recording_mbid="r1", listens=5), TopTrack("Other", "A", recording_mbid="r1", listens=3),
          TopTrack("SONG (Live)", "A", listens=2), TopTrack("Third", "A", listens=1)]
    out = dedupe(ts)
    assert [(t.title, t.rank, t.listens) for t in out] == [("Song", 1, 10), ("Third", 2, 1)]


@given(st.text(max_size=60))
def test_title_key_is_stable_under_case_and_version_markers(title):
    assert title_key(title) == title_key(title.upper()) or title.upper().casefold() != title.casefold()
    assert title_key(base_title(title)) == title_key(title)
