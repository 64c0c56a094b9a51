"""The player's JSON API and audio streaming through FastAPI's TestClient: ranges, caching, 404s, traversal,
bounded bodies, ratings and plays persisted in the library."""

from __future__ import annotations

import pytest

pytest.importorskip("fastapi")
pytest.importorskip("httpx")

from fastapi.testclient import TestClient  # noqa: E402

from audio_alchemy.library import Library  # noqa: E402
from audio_alchemy.web import create_app  # noqa: E402
from audio_alchemy.web import media, recs  # noqa: E402
from audio_alchemy.web.sample import make_sample_library  # noqa: E402
from audio_alchemy.web.server import exposure_warning, is_loopback, url_for  # noqa: E402


@pytest.fixture(scope="module")
def db(tmp_path_factory):
    return make_sample_library(tmp_path_factory.mktemp("weblib"), seconds=2.0, n_songs=2)


@pytest.fixture(scope="module")
def client(db):
    with TestClient(create_app(db)) as c:
        yield c


def wav_bytes(db) -> bytes:
    with Library.open(db) as lib:
        return open(media.source_file(lib, 1), "rb").read()


# -- listing and detail ----------------------------------------------------------------------------------
def test_list_search_sort(client):
    r = client.get("/api/tracks")
    assert r.status_code == 200
    body = r.json()
    assert body["total"] == 2 and [t["title"] for t in body["items"]] == ["Glass Harmonica", "Minor Drift"]
    assert all(t["stems"] == ["vocals", "accompaniment"] for t in body["items"])
    desc = client.get("/api/tracks", params={"sort": "title", "order": "desc"}).json()["items"]
    assert [t["title"] for t in desc] == ["Minor Drift", "Glass Harmonica"]
    hits = client.get("/api/tracks", params={"q": "oscill drift"}).json()
    assert hits["total"] == 1 and hits["items"][0]["artist"] == "The Oscillators"
    assert client.get("/api/tracks", params={"q": "100%_"}).json()["total"] == 0  # LIKE wildcards are literal
    assert client.get("/api/tracks", params={"sort": "content_hash; DROP TABLE tracks"}).status_code == 422
    assert client.get("/api/tracks", params={"limit": 100000}).status_code == 422
    assert client.get("/api/tracks", params={"q": "x" * 500}).status_code == 422


def test_detail_lists_everything(client):
    d = client.get("/api/tracks/1").json()
    assert d["track"]["title"] == "Glass Harmonica"
    assert set(d["stems"]) == {"vocals", "accompaniment"}
    assert set(d["audio"]) == {"original", "wav", "mp3", "vocals", "accompaniment"}
    assert d["sources"]["mix"] == 1 and d["sources"]["vocals"] != 1
    assert d["features"]["sample"]["duration"] == pytest.approx(2.0)
    assert d["predictions"][0]["task"] == "genre"
    assert {i["kind"] for i in d["images"]} == {"mel_viridis_png", "mel_grey_png"}
    assert all("/" not in f["name"] for f in d["files"])  # names only, never paths
    stem = client.get(f"/api/tracks/{d['sources']['vocals']}").json()
    assert stem["parent"]["id"] == 1 and stem["track"]["type_name"] == "vocals"


@pytest.mark.parametrize("url", ["/api/tracks/999", "/api/tracks/0", "/api/tracks/-5", f"/api/tracks/{2**70}",
                                 "/api/tracks/999/audio/wav", "/api/tracks/999/images/mel_viridis_png",
                                 "/api/tracks/999/ratings", "/api/tracks/1/audio/flac", "/api/tracks/1/images/nope"])
def test_unknown_ids_and_kinds_are_404(client, url):
    assert client.get(url).status_code == 404


def test_stem_has_no_stems(client):
    vocals_id = client.get("/api/tracks/1").json()["sources"]["vocals"]
    assert client.get(f"/api/tracks/{vocals_id}/audio/vocals").status_code == 404
    assert client.get(f"/api/tracks/{vocals_id}/audio/wav").status_code == 200


@pytest.mark.parametrize("raw", [
    "/api/tracks/1/audio/..%2F..%2F..%2Fetc%2Fpasswd",
    "/api/tracks/1/audio/%2Fetc%2Fpasswd",
    "/api/tracks/1/images/..%2F..%2Flibrary.sqlite",
    "/api/tracks/1/images/%2E%2E",
    "/static/..%2Fapp.py",
    "/static/%2E%2E%2F%2E%2E%2Fconfig.py",
    "/static/..%5Capp.py",
    "/api/tracks/1%2F..%2F2/audio/wav",
    "/static/../web/app.py",
])
def test_traversal_is_404(client, raw):
    r = client.get(raw)
    assert r.status_code == 404, (raw, r.status_code)
    assert b"import" not in r.content and b"root:" not in r.content


def test_static_and_docs(client):
    page = client.get("/")
    assert page.status_code == 200 and b"spectrogram" in page.content
    assert b"http://" not in page.content and b"https://" not in page.content  # no CDN
    for name in ("app.js", "style.css", "viridis.js"):
        r = client.get(f"/static/{name}")
        assert r.status_code == 200 and b"https://" not in r.content
    assert client.get("/static/nope.js").status_code == 404
    spec = client.get("/openapi.json").json()
    assert "/api/tracks/{track_id}/audio/{variant}" in spec["paths"]
    assert client.get("/docs").status_code == 200


def test_security_headers(client):
    r = client.get("/api/info")
    assert r.headers["x-content-type-options"] == "nosniff"
    assert "default-src 'self'" in r.headers["content-security-policy"]
    assert r.json()["stats"]["songs"] == 2


def test_host_header_pinned_when_asked(db):
    with TestClient(create_app(db, allowed_hosts=["127.0.0.1", "localhost"]), base_url="http://127.0.0.1") as c:
        assert c.get("/api/info").status_code == 200
        assert c.get("/api/info", headers={"host": "evil.example"}).status_code == 400


# -- audio streaming ---------------------------------------------------------------------------------------
def test_full_file_and_ranges(client, db):
    data = wav_bytes(db)
    size = len(data)
    full = client.get("/api/tracks/1/audio/original")
    assert full.status_code == 200 and full.content == data
    assert full.headers["accept-ranges"] == "bytes" and full.headers["content-type"] == "audio/wav"
    assert full.headers["etag"] and full.headers["last-modified"]

    r = client.get("/api/tracks/1/audio/original", headers={"Range": "bytes=0-99"})
    assert r.status_code == 206 and r.content == data[:100]
    assert r.headers["content-range"] == f"bytes 0-99/{size}" and r.headers["content-length"] == "100"

    r = client.get("/api/tracks/1/audio/original", headers={"Range": "bytes=-1000"})  # suffix
    assert r.status_code == 206 and r.content == data[-1000:]
    assert r.headers["content-range"] == f"bytes {size - 1000}-{size - 1}/{size}"

    r = client.get("/api/tracks/1/audio/original", headers={"Range": f"bytes={size - 10}-"})  # open-ended
    assert r.status_code == 206 and r.content == data[-10:]

    r = client.get("/api/tracks/1/audio/original", headers={"Range": f"bytes=100-{size * 2}"})  # clipped
    assert r.status_code == 206 and r.content == data[100:]

    for bad in (f"bytes={size}-", f"bytes={size + 5}-{size + 10}", "bytes=-0"):
        r = client.get("/api/tracks/1/audio/original", headers={"Range": bad})
        assert r.status_code == 416, bad
        assert r.headers["content-range"] == f"bytes */{size}"

    r = client.get("/api/tracks/1/audio/original", headers={"Range": "bytes=0-1,5-6"})  # multi: whole file
    assert r.status_code == 200 and len(r.content) == size
    r = client.get("/api/tracks/1/audio/original", headers={"Range": "lines=1-2"})
    assert r.status_code == 200


def test_large_ranges_are_streamed(client, db, monkeypatch):
    from audio_alchemy.web import app as app_mod

    monkeypatch.setattr(app_mod, "INLINE_LIMIT", 1000)
    data = wav_bytes(db)
    r = client.get("/api/tracks/1/audio/original", headers={"Range": "bytes=10-"})
    assert r.status_code == 206 and r.content == data[10:]


def test_caching_and_head(client):
    first = client.get("/api/tracks/1/audio/wav", headers={"Range": "bytes=0-9"})
    etag, lm = first.headers["etag"], first.headers["last-modified"]
    assert client.get("/api/tracks/1/audio/wav", headers={"If-None-Match": etag}).status_code == 304
    assert client.get("/api/tracks/1/audio/wav", headers={"If-Modified-Since": lm}).status_code == 304
    stale = client.get("/api/tracks/1/audio/wav", headers={"Range": "bytes=0-9", "If-Range": '"other"'})
    assert stale.status_code == 200  # changed since the client's copy: the whole file
    fresh = client.get("/api/tracks/1/audio/wav", headers={"Range": "bytes=0-9", "If-Range": etag})
    assert fresh.status_code == 206
    head = client.head("/api/tracks/1/audio/wav", headers={"Range": "bytes=0-9"})
    assert head.status_code == 206 and head.headers["content-length"] == "10" and head.content == b""


def test_mp3_made_once_and_cached(client, db):
    r = client.get("/api/tracks/2/audio/mp3")
    assert r.status_code == 200 and r.headers["content-type"] == "audio/mpeg"
    assert r.content[:3] == b"ID3" or (r.content[0] == 0xFF and r.content[1] & 0xE0 == 0xE0)
    with Library.open(db) as lib:
        cached = list((lib.home / "derived" / "web" / "mp3").glob("2-*.mp3"))
    assert len(cached) == 1
    again = client.get("/api/tracks/2/audio/mp3")
    assert again.headers["etag"] == r.headers["etag"] and again.content == r.content
    assert client.get("/api/tracks/2/audio/wav").status_code == 200  # the WAV original is served as is


def test_images(client):
    r = client.get("/api/tracks/1/images/mel_viridis_png")
    assert r.status_code == 200 and r.headers["content-type"] == "image/png" and r.content[:8] == b"\x89PNG\r\n\x1a\n"


# -- ratings and plays -------------------------------------------------------------------------------------
def test_ratings_persist(client, db):
    r = client.post("/api/tracks/2/ratings", json={"user_id": "ada", "scale": 5, "score": 4})
    assert r.status_code == 201 and r.json()["normalized"] == pytest.approx(0.75)
    r = client.post("/api/tracks/2/ratings", json={"user_id": "bob", "scale": 2, "score": 2})
    assert r.status_code == 201 and r.json()["normalized"] == 1.0
    with Library.open(db) as lib:
        got = {(x["user_id"], x["scale"], x["score"]) for x in lib.ratings(2)}
    assert {("ada", 5, 4), ("bob", 2, 2)} <= got
    assert {x["user_id"] for x in client.get("/api/tracks/2/ratings").json()} >= {"ada", "bob"}


@pytest.mark.parametrize("body", [{"scale": 4, "score": 1}, {"scale": 3, "score": 4}, {"scale": 5, "score": 0},
                                  {"scale": 5, "score": 6}, {"scale": 2, "score": 1.5}, {"scale": 5},
                                  {"scale": 5, "score": 3, "user_id": "u" * 65}, {"scale": 5, "score": 3, "user_id": ""},
                                  {"scale": 5, "score": True}, {"scale": 5, "score": 4.0}, {"scale": 5.0, "score": 4},
                                  {"scale": 5, "score": 3, "user_id": "   "}])
def test_out_of_scale_is_422(client, body):
    assert client.post("/api/tracks/1/ratings", json=body).status_code == 422


@pytest.mark.parametrize("path,text", [("ratings", '{"scale": 5, "score": NaN}'), ("ratings", '{"scale": 5, "score": 1e400}'),
                                       ("plays", '{"seconds": Infinity}'), ("plays", '{"seconds": -Infinity}')])
def test_non_finite_json_numbers_are_422_not_500(client, path, text):
    """FastAPI's default 422 echoes the input, and NaN/Infinity there could not be encoded (a 500)."""
    r = client.post(f"/api/tracks/1/{path}", content=text, headers={"content-type": "application/json"})
    assert r.status_code == 422, r.text
    assert r.json()["detail"][0]["loc"][-1] in ("score", "seconds")


def test_rating_unknown_track_404(client):
    assert client.post("/api/tracks/999/ratings", json={"scale": 5, "score": 3}).status_code == 404


def test_bodies_are_bounded(client):
    big = '{"scale": 5, "score": 3, "user_id": "' + "x" * 100_000 + '"}'
    r = client.post("/api/tracks/1/ratings", content=big, headers={"content-type": "application/json"})
    assert r.status_code == 413

    def chunks():  # no Content-Length: counted as it arrives
        for _ in range(100):
            yield b"x" * 1024

    r = client.post("/api/tracks/1/ratings", content=chunks(), headers={"content-type": "application/json"})
    assert r.status_code == 413


def test_plays_persist(client, db):
    assert client.post("/api/tracks/1/plays", json={"user_id": "ada", "seconds": 1.5}).status_code == 201
    assert client.post("/api/tracks/1/plays", json={"seconds": -1}).status_code == 422
    r = client.post("/api/tracks/1/plays", json={"user_id": "  "})  # as ratings refuse it
    assert r.status_code == 422 and "must not be empty" in r.json()["detail"][0]["msg"]  # the usual 422 shape
    with Library.open(db) as lib:
        assert any(p["track_id"] == 1 and p["user_id"] == "ada" and p["seconds"] == 1.5 for p in lib.plays())


def test_recommend_panels_follow_capabilities(client):
    caps = client.get("/api/info").json()["capabilities"]
    assert caps == recs.capabilities()
    r = client.get("/api/tracks/1/similar")
    assert r.status_code == (200 if caps["sound_alikes"] else 501)
    if r.status_code == 200:
        assert isinstance(r.json()["items"], list)
    r = client.get("/api/recommendations", params={"user_id": "ada"})
    assert r.status_code == (200 if caps["recommendations"] else 501)
    if r.status_code == 200:
        assert all(client.get(f"/api/tracks/{i['id']}").json()["track"]["track_type"] == 0 for i in r.json()["items"])


# -- server helpers and CLI ---------------------------------------------------------------------------------
def test_loopback_and_warning():
    assert is_loopback("127.0.0.1") and is_loopback("::1") and is_loopback("localhost") and is_loopback("127.8.0.1")
    assert not is_loopback("0.0.0.0") and not is_loopback("192.168.1.4")
    assert exposure_warning("127.0.0.1", 8000) is None
    assert "WARNING" in exposure_warning("0.0.0.0", 8000)
    assert url_for("127.0.0.1", 8123) == "http://127.0.0.1:8123/" and url_for("::1", 80) == "http://[::1]:80/"


def test_cli_serve_registered():
    from typer.testing import CliRunner

    from audio_alchemy.cli.main import app

    out = CliRunner().invoke(app, ["serve", "--help"])
    assert out.exit_code == 0 and "--host" in out.output and "--port" in out.output


def test_multi_worker_config_uses_env_factory(db, monkeypatch):
    from audio_alchemy.web import server

    monkeypatch.delenv(server.DB_ENV, raising=False)  # restored after the test (make_config sets them)
    monkeypatch.delenv(server.HOST_ENV, raising=False)
    cfg = server.make_config(db, "127.0.0.1", server.free_port(), workers=2)
    assert cfg.workers == 2 and cfg.factory and cfg.app == "audio_alchemy.web.server:app_from_env"
    app = server.app_from_env()  # what each worker process builds
    with TestClient(app, base_url="http://127.0.0.1") as c:
        assert c.get("/api/tracks").json()["total"] == 2


def test_a_file_changed_since_import_is_not_served(tmp_path):
    """The player applies the batch commands' rule: a source file rewritten after import is not this track's audio."""
    import os

    import numpy as np

    from audio_alchemy.io import save

    db = make_sample_library(tmp_path, seconds=2.0, n_songs=1)
    with Library.open(db) as lib:
        path = media.source_file(lib, 1)
    with TestClient(create_app(db)) as c:
        assert c.get("/api/tracks/1/audio/original").status_code == 200
        st = os.stat(path)
        save(path, np.zeros((1, 22050), np.float32), 22050)
        os.utime(path, ns=(st.st_atime_ns, st.st_mtime_ns + 10**9))
        assert c.get("/api/tracks/1/audio/original").status_code == 404
        files = c.get("/api/tracks/1").json()["files"]
        assert [f["state"] for f in files if f["role"] == "original"] == ["changed"]


def test_many_requests_for_one_new_mp3_leave_other_routes_free(tmp_path, monkeypatch):
    """45 listeners ask for an MP3 that must first be made: one thread makes it while they wait on the event loop,
    so a synchronous route still answers at once. (Each request used to hold one of the 40 pool threads waiting
    on the file's lock, and every synchronous route queued behind the conversion.)"""
    import threading
    import time

    import httpx

    uvicorn = pytest.importorskip("uvicorn")
    from audio_alchemy.web import media
    from audio_alchemy.web.server import free_port, make_config

    real_save = media.save

    def slow_save(*args, **kwargs):  # a conversion that outlasts the test's 0.5 s, however fast the encoder
        time.sleep(3.0)
        return real_save(*args, **kwargs)

    monkeypatch.setattr(media, "save", slow_save)

    db = make_sample_library(tmp_path, seconds=60.0, n_songs=1)
    port = free_port()
    srv = uvicorn.Server(make_config(db, "127.0.0.1", port))
    threading.Thread(target=srv.run, daemon=True).start()
    while not srv.started:
        time.sleep(0.05)
    base = f"http://127.0.0.1:{port}"
    try:
        done: dict[int, tuple[int, float]] = {}

        def listen(i: int) -> None:
            r = httpx.get(f"{base}/api/tracks/1/audio/mp3", headers={"Range": "bytes=0-99"}, timeout=120)
            done[i] = (r.status_code, time.monotonic())

        listeners = [threading.Thread(target=listen, args=(i,)) for i in range(45)]
        for t in listeners:
            t.start()
        time.sleep(0.5)
        r = httpx.post(f"{base}/api/tracks/1/plays", json={"user_id": "ada"}, timeout=120)  # a synchronous route
        answered = time.monotonic()
        for t in listeners:
            t.join(120)
        assert r.status_code == 201
        assert sorted(s for s, _ in done.values()) == [206] * 45
        assert answered < min(t for _, t in done.values()), "the play was recorded only after the MP3 was made"
        assert len(list((tmp_path / "derived" / "web" / "mp3").glob("*.mp3"))) == 1  # made once
    finally:
        srv.should_exit = True
