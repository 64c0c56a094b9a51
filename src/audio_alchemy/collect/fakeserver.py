"""A local stand-in for MusicBrainz, ListenBrainz, Last.fm and an audio host, for tests and offline demos.

Responses follow the services' documented JSON formats (MusicBrainz web service v2 ``fmt=json``;
ListenBrainz ``/1/popularity/top-recordings-for-artist``; Last.fm ``artist.getTopTracks``); the data is a
small hand-written catalogue. Audio at ``/audio/<artist>/<title>.wav`` is a generated tone as long as the
recording. Knobs: ``fail_next`` (answer N requests with 503), ``audio_delay``, ``audio_stretch``.

    python -m audio_alchemy.collect.fakeserver        # prints the base URL, serves until Ctrl-C
"""

from __future__ import annotations

import io
import json
import re
import threading
import time
import urllib.parse
import zlib
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import numpy as np


@dataclass
class FakeSong:
    title: str
    mbid: str
    length_ms: int
    listens: int
    release: str = ""


@dataclass
class FakeArtist:
    mbid: str
    name: str
    country: str | None
    area: str | None
    area_iso: str | None
    begin_area: str | None
    begin: str | None
    disambiguation: str = ""
    type: str = "Group"
    genres: list[tuple[str, int]] = field(default_factory=list)
    tags: list[tuple[str, int]] = field(default_factory=list)
    songs: list[FakeSong] = field(default_factory=list)


def _uuid(n: int, prefix: str = "00000000") -> str:
    return f"{prefix}-0000-4000-8000-{n:012d}"


QUEEN = FakeArtist(
    "0383dadf-2a4e-4d10-a46a-e9e041da8eb3", "Queen", "GB", "United Kingdom", "GB", "London", "1970",
    "UK rock group", genres=[("rock", 30), ("hard rock", 12), ("glam rock", 9)],
    tags=[("rock", 33), ("british", 20), ("classic rock", 15)],
    songs=[
        FakeSong("Bohemian Rhapsody", _uuid(1, "b1a9c0e9"), 3000, 900_000, "A Night at the Opera"),
        FakeSong("Don't Stop Me Now", _uuid(2, "b1a9c0e9"), 2500, 700_000, "Jazz"),
        FakeSong("Bohemian Rhapsody - Remastered 2011", _uuid(3, "b1a9c0e9"), 3000, 650_000, "A Night at the Opera (2011 Remaster)"),
        FakeSong("Under Pressure", _uuid(4, "b1a9c0e9"), 2000, 600_000, "Hot Space"),
        FakeSong("Another One Bites the Dust (Live at Wembley '86)", _uuid(5, "b1a9c0e9"), 2200, 550_000, "Live at Wembley '86"),
        FakeSong("Another One Bites the Dust", _uuid(6, "b1a9c0e9"), 2000, 500_000, "The Game"),
        FakeSong("Killer Queen", _uuid(7, "b1a9c0e9"), 2000, 400_000, "Sheer Heart Attack"),
        FakeSong("Somebody to Love", _uuid(8, "b1a9c0e9"), 2000, 300_000, "A Day at the Races"),
    ],
)
QUEEN_LATIFAH = FakeArtist("b9e1e5a3-0000-4000-8000-000000000001", "Queen Latifah", "US", "United States", "US",
                           "Newark", "1970", "US rapper and actress", type="Person", genres=[("hip hop", 5)])
NIRVANA_US = FakeArtist(
    "5b11f4ce-a62d-471e-81fc-a69a8278c7da", "Nirvana", "US", "United States", "US", "Aberdeen", "1987",
    "90s US grunge band", genres=[("grunge", 20)], tags=[("grunge", 25), ("rock", 10)],
    songs=[FakeSong("Smells Like Teen Spirit", _uuid(11, "c2b8d1f0"), 2000, 800_000),
           FakeSong("Come as You Are", _uuid(12, "c2b8d1f0"), 2000, 500_000)],
)
NIRVANA_UK = FakeArtist(
    "9282c8b4-ca0b-4c6b-b7e3-4f7762dfc4d6", "Nirvana", "GB", "United Kingdom", "GB", "London", "1965",
    "60s band from the UK", genres=[("psychedelic pop", 1)], tags=[("psychedelic", 2)],
    songs=[FakeSong("Rainbow Chaser", _uuid(13, "c2b8d1f0"), 2000, 9_000)],
)
BJORK = FakeArtist(
    "87c5dedd-371d-4a53-9f7f-80522fb7f3cb", "Björk", "IS", "Iceland", "IS", "Reykjavík", "1965",
    "", type="Person", genres=[("art pop", 14), ("electronic", 10)], tags=[("icelandic", 12), ("electronic", 11)],
    songs=[FakeSong("Jóga", _uuid(21, "d3c7e2a1"), 2000, 200_000), FakeSong("Army of Me", _uuid(22, "d3c7e2a1"), 2000, 190_000)],
)
UTADA = FakeArtist(
    "a1b2c3d4-0000-4000-8000-0000000000aa", "宇多田ヒカル", "JP", "Japan", "JP", "New York", "1983",
    "Japanese singer-songwriter", type="Person", genres=[("j-pop", 8)], tags=[("japanese", 6)],
    songs=[FakeSong("光", _uuid(31, "e4d6f3b2"), 2000, 120_000), FakeSong("First Love / 初恋", _uuid(32, "e4d6f3b2"), 2000, 110_000)],
)
SILENT = FakeArtist("f0f0f0f0-0000-4000-8000-000000000000", "The Silent Ones", "FI", "Finland", "FI", None, "2019",
                    "band with no recordings yet")

CATALOGUE = [QUEEN, QUEEN_LATIFAH, NIRVANA_US, NIRVANA_UK, BJORK, UTADA, SILENT]


def _artist_json(a: FakeArtist, score: int | None = None, inc: bool = False) -> dict[str, Any]:
    d: dict[str, Any] = {
        "id": a.mbid, "type": a.type, "name": a.name, "sort-name": a.name, "disambiguation": a.disambiguation,
        "life-span": {"begin": a.begin, "end": None, "ended": False},
    }
    if score is not None:
        d["score"] = score
    if a.country:
        d["country"] = a.country
    if a.area:
        d["area"] = {"id": _uuid(zlib.crc32(a.area.encode()), "a0a0a0a0"), "type": "Country", "name": a.area,
                     "sort-name": a.area, **({"iso-3166-1-codes": [a.area_iso]} if a.area_iso and inc else {})}
    if a.begin_area:
        d["begin-area"] = {"id": _uuid(zlib.crc32(a.begin_area.encode()), "b0b0b0b0"), "type": "City", "name": a.begin_area,
                           "sort-name": a.begin_area}
    d["tags"] = [{"count": c, "name": n} for n, c in a.tags]
    if inc:
        d["genres"] = [{"count": c, "disambiguation": "", "id": _uuid(i, "9e9e9e9e"), "name": n} for i, (n, c) in enumerate(a.genres)]
    return d


def _recording_json(a: FakeArtist, s: FakeSong, score: int | None = None) -> dict[str, Any]:
    d: dict[str, Any] = {
        "id": s.mbid, "title": s.title, "length": s.length_ms, "video": None, "disambiguation": "",
        "artist-credit": [{"name": a.name, "joinphrase": "", "artist": {"id": a.mbid, "name": a.name, "sort-name": a.name}}],
        "releases": [{"id": _uuid(i, "7f7f7f7f"), "title": s.release or s.title, "status": "Official"}
                     for i in range(1 + s.listens // 200_000)],
    }
    if score is not None:
        d["score"] = score
    return d


def tone_wav(seconds: float, sr: int = 22050, seed: int = 0) -> bytes:
    """A mono 16-bit WAV of a random melody (0.2-s notes, seeded) so every fake song sounds different."""
    import soundfile as sf

    rng = np.random.default_rng(seed)
    n = max(int(seconds * sr), 1)
    note = int(0.2 * sr)
    freqs = rng.uniform(150.0, 1200.0, size=n // note + 1)
    t = np.arange(n) / sr
    f = np.repeat(freqs, note)[:n]
    phase = 2 * np.pi * np.cumsum(f) / sr
    env = 0.5 + 0.5 * np.abs(np.sin(np.pi * t / 0.2))
    x = 0.3 * np.sin(phase) * env + 0.05 * np.sin(3 * phase) + 0.01 * rng.standard_normal(n)
    buf = io.BytesIO()
    sf.write(buf, x.astype(np.float32), sr, format="WAV", subtype="PCM_16")
    return buf.getvalue()


class FakeServer:
    """Threaded HTTP server on 127.0.0.1 (free port). ``log`` holds ``(monotonic time, path)`` of every request."""

    def __init__(self, catalogue: list[FakeArtist] | None = None):
        self.catalogue = catalogue or CATALOGUE
        self.log: list[tuple[float, str]] = []
        self.user_agents: list[str] = []
        self.fail_next: dict[str, int] = {}  # path prefix -> how many 503s to answer first
        self.audio_delay = 0.0
        self.audio_stretch = 1.0
        self.lastfm_key = "test-key"
        self._lock = threading.Lock()
        server = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: Any) -> None:  # quiet
                pass

            def do_GET(self) -> None:  # noqa: N802
                server._handle(self)

            def do_HEAD(self) -> None:  # noqa: N802
                server._handle(self, head=True)

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.httpd.daemon_threads = True
        self.thread = threading.Thread(target=self.httpd.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.httpd.server_port}"

    @property
    def audio_template(self) -> str:
        return self.url + "/audio/{artist}/{title}.wav"

    def start(self) -> FakeServer:
        self.thread.start()
        return self

    def stop(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()

    def __enter__(self) -> FakeServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def requests(self, prefix: str = "") -> list[tuple[float, str]]:
        with self._lock:
            return [r for r in self.log if r[1].startswith(prefix)]

    # -- routing ---------------------------------------------------------------------------------
    def _handle(self, h: BaseHTTPRequestHandler, head: bool = False) -> None:
        parts = urllib.parse.urlsplit(h.path)
        path = urllib.parse.unquote(parts.path)
        q = dict(urllib.parse.parse_qsl(parts.query))
        with self._lock:
            self.log.append((time.monotonic(), h.path))
            self.user_agents.append(h.headers.get("User-Agent", ""))
            for prefix, n in self.fail_next.items():
                if n > 0 and path.startswith(prefix):
                    self.fail_next[prefix] = n - 1
                    return self._send(h, 503, {"error": "Your requests are exceeding the allowable rate limit. Please see "
                                                        "https://musicbrainz.org/doc/MusicBrainz_API/Rate_Limiting for more information."},
                                      head, headers={"Retry-After": "0"})
        try:
            if path == "/ws/2/artist":
                return self._send(h, 200, self._artist_search(q.get("query", ""), int(q.get("limit", 25))), head)
            if m := re.fullmatch(r"/ws/2/artist/([0-9a-f-]{36})", path):
                a = self._by_mbid(m.group(1))
                return self._send(h, 200, _artist_json(a, inc=True), head) if a else self._send(h, 404, {"error": "Not Found"}, head)
            if path == "/ws/2/recording":
                return self._send(h, 200, self._recording_search(q.get("query", "")), head)
            if m := re.fullmatch(r"/ws/2/recording/([0-9a-f-]{36})", path):
                for a in self.catalogue:
                    for s in a.songs:
                        if s.mbid == m.group(1):
                            return self._send(h, 200, _recording_json(a, s), head)
                return self._send(h, 404, {"error": "Not Found"}, head)
            if m := re.fullmatch(r"/1/popularity/top-recordings-for-artist/(.+)", path):
                a = self._by_mbid(m.group(1))
                if not re.fullmatch(r"[0-9a-f-]{36}", m.group(1)):
                    return self._send(h, 400, {"code": 400, "error": f"artist_mbid: '{m.group(1)}' is not a valid uuid"}, head)
                return self._send(h, 200, self._top_recordings(a) if a else [], head)
            if path in ("/2.0/", "/2.0"):
                return self._send(h, 200, self._lastfm(q), head)
            if m := re.fullmatch(r"/audio/([^/]+)/(.+)\.wav", path):
                return self._audio(h, m.group(1), m.group(2), head)
            return self._send(h, 404, {"error": "Not Found"}, head)
        except Exception as exc:  # noqa: BLE001 - a fake server bug should show up as a 500, not a hang
            return self._send(h, 500, {"error": f"{type(exc).__name__}: {exc}"}, head)

    def _send(self, h: BaseHTTPRequestHandler, status: int, body: Any, head: bool = False,
              ctype: str = "application/json; charset=utf-8", headers: dict[str, str] | None = None) -> None:
        data = body if isinstance(body, bytes) else json.dumps(body, ensure_ascii=False).encode("utf-8")
        h.send_response(status)
        h.send_header("Content-Type", ctype)
        h.send_header("Content-Length", str(len(data)))
        for k, v in (headers or {}).items():
            h.send_header(k, v)
        h.end_headers()
        if not head:
            h.wfile.write(data)

    def _by_mbid(self, mbid: str) -> FakeArtist | None:
        return next((a for a in self.catalogue if a.mbid == mbid), None)

    def _artist_search(self, query: str, limit: int) -> dict[str, Any]:
        m = re.search(r'artist:"((?:[^"\\]|\\.)*)"', query)
        name = re.sub(r"\\(.)", r"\1", m.group(1) if m else query).casefold()
        hits = []
        for a in self.catalogue:
            n = a.name.casefold()
            if n == name:
                hits.append((100, a))
            elif name and name in n:
                hits.append((int(100 * len(name) / len(n)), a))
        hits.sort(key=lambda sa: -sa[0])
        return {"created": "2026-01-01T00:00:00.000Z", "count": len(hits), "offset": 0,
                "artists": [_artist_json(a, score=s) for s, a in hits[:limit]]}

    def _recording_search(self, query: str) -> dict[str, Any]:
        m = re.search(r"arid:([0-9a-f-]{36})", query)
        a = self._by_mbid(m.group(1)) if m else None
        recs = [_recording_json(a, s, score=100) for s in a.songs] if a else []
        return {"created": "2026-01-01T00:00:00.000Z", "count": len(recs), "offset": 0, "recordings": recs}

    def _top_recordings(self, a: FakeArtist) -> list[dict[str, Any]]:
        return [
            {"artist_mbids": [a.mbid], "artist_name": a.name, "caa_id": None, "caa_release_mbid": None,
             "length": s.length_ms, "recording_mbid": s.mbid, "recording_name": s.title,
             "release_color": None, "release_mbid": _uuid(i, "6e6e6e6e"), "release_name": s.release or s.title,
             "total_listen_count": s.listens, "total_user_count": s.listens // 20}
            for i, s in enumerate(sorted(a.songs, key=lambda s: -s.listens))
        ]

    def _lastfm(self, q: dict[str, str]) -> dict[str, Any]:
        if q.get("api_key") != self.lastfm_key:
            return {"error": 10, "message": "Invalid API key - You must be granted a valid key by last.fm"}
        if q.get("method", "").lower() != "artist.gettoptracks":
            return {"error": 3, "message": "Invalid Method - No method with that name in this package"}
        a = self._by_mbid(q["mbid"]) if q.get("mbid") else next(
            (x for x in self.catalogue if x.name.casefold() == q.get("artist", "").casefold()), None)
        if a is None:
            return {"error": 6, "message": "The artist you supplied could not be found"}
        songs = sorted(a.songs, key=lambda s: -s.listens)[: int(q.get("limit", 50))]
        tracks = [
            {"name": s.title, "playcount": str(s.listens * 3), "listeners": str(s.listens // 10), "mbid": s.mbid,
             "url": f"https://www.last.fm/music/{urllib.parse.quote(a.name)}/_/{urllib.parse.quote(s.title)}",
             "streamable": "0", "artist": {"name": a.name, "mbid": a.mbid, "url": f"https://www.last.fm/music/{urllib.parse.quote(a.name)}"},
             "image": [{"#text": "", "size": "small"}], "@attr": {"rank": str(i + 1)}}
            for i, s in enumerate(songs)
        ]
        return {"toptracks": {"track": tracks, "@attr": {"artist": a.name, "page": "1", "perPage": "50",
                                                          "totalPages": "1", "total": str(len(tracks))}}}

    def _audio(self, h: BaseHTTPRequestHandler, artist: str, title: str, head: bool) -> None:
        for a in self.catalogue:
            if a.name != artist:
                continue
            for s in a.songs:
                if s.title == title:
                    if self.audio_delay and not head:
                        time.sleep(self.audio_delay)
                    data = tone_wav(s.length_ms / 1000.0 * self.audio_stretch, seed=zlib.crc32(f"{a.mbid}/{s.mbid}".encode()))
                    return self._send(h, 200, data, head, ctype="audio/wav")
        return self._send(h, 404, {"error": "Not Found"}, head)


def main() -> None:
    with FakeServer() as srv:
        print(f"fake MusicBrainz/ListenBrainz/Last.fm/audio server at {srv.url}", flush=True)
        print(f"  alchemy collect --artists Queen --musicbrainz-url {srv.url} --listenbrainz-url {srv.url} "
              f"--audio-source '{srv.audio_template}'", flush=True)
        try:
            while True:
                time.sleep(3600)
        except KeyboardInterrupt:
            pass


if __name__ == "__main__":
    main()
