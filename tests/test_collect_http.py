"""The polite HTTP client against a local fake server: rate limit, cache, retries, User-Agent, secrets."""

from __future__ import annotations

import json

import pytest

from audio_alchemy.collect.fakeserver import QUEEN, FakeServer
from audio_alchemy.collect.http import HttpError, PoliteClient, build_url, redact, user_agent
from audio_alchemy.collect.musicbrainz import MusicBrainz


@pytest.fixture()
def server():
    with FakeServer() as srv:
        yield srv


def test_musicbrainz_requests_are_at_least_one_second_apart(server, tmp_path):
    client = PoliteClient(cache_dir=tmp_path / "cache")
    mb = MusicBrainz(client, server.url)  # default interval: 1 request per second
    match = mb.resolve("Queen")  # search + lookup
    mb.recordings(match.artist.mbid)
    sent = [t for t, url, _ in client.request_log if "/ws/2/" in url]
    assert len(sent) == 3
    gaps = [b - a for a, b in zip(sent, sent[1:])]
    assert min(gaps) >= 1.0, gaps
    seen = [t for t, _ in server.requests("/ws/2/")]  # as the server saw them (allowing network jitter)
    assert min(b - a for a, b in zip(seen, seen[1:])) >= 0.9


def test_second_run_is_served_from_the_cache(server, tmp_path):
    first = PoliteClient(cache_dir=tmp_path / "cache")
    body = MusicBrainz(first, server.url, interval=0.0).resolve("Queen")
    n = len(server.log)
    assert n == 2
    again = PoliteClient(cache_dir=tmp_path / "cache")  # a new process would start like this
    body2 = MusicBrainz(again, server.url, interval=0.0).resolve("Queen")
    assert len(server.log) == n and again.request_log == []
    assert body2.artist == body.artist


def test_retries_503_with_backoff_then_succeeds(server, tmp_path):
    sleeps: list[float] = []
    client = PoliteClient(cache_dir=None, backoff=0.5, sleep=sleeps.append)
    server.fail_next["/ws/2/artist"] = 2
    mb = MusicBrainz(client, server.url, interval=0.0)
    hits = mb.search_artists("Queen")
    assert hits and hits[0].name == "Queen"
    assert [s for _, _, s in client.request_log] == [503, 503, 200]
    assert sleeps == [0.5, 1.0]  # exponential backoff (Retry-After: 0 does not shorten it)


def test_gives_up_after_retries_with_a_typed_error(server):
    client = PoliteClient(cache_dir=None, retries=2, backoff=0.0, sleep=lambda s: None)
    server.fail_next["/ws/2/artist"] = 10
    with pytest.raises(HttpError) as err:
        MusicBrainz(client, server.url, interval=0.0).search_artists("Queen")
    assert err.value.status == 503 and "rate limit" in str(err.value)
    assert len(client.request_log) == 3


def test_connection_refused_is_retried_then_reported():
    client = PoliteClient(cache_dir=None, retries=1, backoff=0.0, sleep=lambda s: None, timeout=2)
    with pytest.raises(HttpError, match="connection failed"):
        client.get_json("http://127.0.0.1:9/ws/2/artist", {"query": "x"})  # port 9 (discard) is closed
    assert len(client.request_log) == 2


def test_user_agent_names_application_version_and_contact(server, monkeypatch):
    monkeypatch.delenv("AUDIO_ALCHEMY_CONTACT", raising=False)
    client = PoliteClient(cache_dir=None, contact="me@example.org")
    client.get_json(server.url + "/ws/2/artist", {"query": "Queen", "fmt": "json"})
    ua = server.user_agents[-1]
    assert ua.startswith("audio-alchemy/") and "( me@example.org )" in ua
    assert "set AUDIO_ALCHEMY_CONTACT" in user_agent(None)


def test_api_keys_never_reach_cache_files(server, tmp_path):
    client = PoliteClient(cache_dir=tmp_path)
    client.get_json(server.url + "/2.0/", {"method": "artist.gettoptracks", "artist": "Queen", "api_key": "test-key", "format": "json"})
    files = list(tmp_path.rglob("*.json"))
    assert len(files) == 1
    text = files[0].read_text(encoding="utf-8")
    assert "test-key" not in text and "api_key=%2A%2A%2A" in json.loads(text)["url"]


def test_build_url_is_order_independent_and_redact_hides_secrets():
    assert build_url("http://h/x", {"b": 1, "a": "é"}) == build_url("http://h/x", {"a": "é", "b": 1})
    assert "secret" not in redact("http://h/x?api_key=secret&artist=Queen")
    assert QUEEN.name in redact("http://h/x?artist=Queen")
