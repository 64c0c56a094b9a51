"""yt-dlp (as a library) downloading real audio from a local server, then WAV + MP3 through audio_alchemy.io."""

from __future__ import annotations

import os

import pytest
from hypothesis import given
from hypothesis import strategies as st

from audio_alchemy.collect.download import DownloadError, DurationMismatch, _pick_entry, duration_ok, fetch_audio, safe_filename
from audio_alchemy.collect.fakeserver import FakeServer
from audio_alchemy.io import load, probe


@pytest.fixture()
def server():
    with FakeServer() as srv:
        yield srv


def test_downloads_direct_url_and_writes_wav_and_mp3(server, tmp_path):
    url = server.url + "/audio/Queen/Bohemian%20Rhapsody.wav"
    got = fetch_audio(url, tmp_path / "out", "Queen - Bohemian Rhapsody", expected_duration=3.0)
    assert got.wav.name == "Queen - Bohemian Rhapsody.wav" and got.mp3.name == "Queen - Bohemian Rhapsody.mp3"
    wav, mp3 = load(got.wav), probe(got.mp3)
    assert wav.sr == 22050 and abs(wav.duration - 3.0) < 0.01
    assert mp3.format.lower().startswith("mp3") and abs(mp3.duration - 3.0) < 0.15
    assert got.source_url == url
    assert sorted(os.listdir(tmp_path / "out")) == ["Queen - Bohemian Rhapsody.mp3", "Queen - Bohemian Rhapsody.wav"]  # no temp left


def test_wrong_length_is_refused_and_leaves_nothing(server, tmp_path):
    server.audio_stretch = 5.0  # a 15-s file for a 3-s song: the wrong video
    with pytest.raises(DurationMismatch, match="should last 3.0 s"):
        fetch_audio(server.url + "/audio/Queen/Bohemian%20Rhapsody.wav", tmp_path, "x", expected_duration=3.0)
    assert os.listdir(tmp_path) == []


def test_missing_audio_is_a_download_error(server, tmp_path):
    with pytest.raises(DownloadError, match="404"):
        fetch_audio(server.url + "/audio/Queen/No%20Such%20Song.wav", tmp_path, "x")


def test_search_result_choice_by_duration():
    info = {"entries": [{"id": "a", "duration": 3600}, {"id": "b", "duration": 245}, {"id": "c", "duration": 240}]}
    assert _pick_entry(info, 241)["id"] == "b"
    with pytest.raises(DurationMismatch):
        _pick_entry({"entries": [{"id": "a", "duration": 3600}]}, 241)
    assert _pick_entry({"entries": [{"id": "a"}]}, 241)["id"] == "a"  # unknown duration: checked after download
    assert duration_ok(250, None) and duration_ok(250, 245) and not duration_ok(400, 245)


@pytest.mark.parametrize(("name", "expected"), [
    ("AC/DC - Back in Black", "AC_DC - Back in Black"),
    ("宇多田ヒカル - 光", "宇多田ヒカル - 光"),
    ("Björk - Jóga", "Björk - Jóga"),
    ("../../etc/passwd", "_.._etc_passwd"),
    ("a\x00b\nc\td", "a b c d"),
    ("", "untitled"),
])
def test_safe_filename_examples(name, expected):
    assert safe_filename(name) == expected


@given(st.text(max_size=300))
def test_safe_filename_is_one_bounded_path_component(name):
    s = safe_filename(name)
    assert s and "/" not in s and "\\" not in s and "\x00" not in s
    assert not s.startswith(".") and len(s.encode("utf-8")) <= 120
    assert all(ord(c) >= 32 for c in s)
