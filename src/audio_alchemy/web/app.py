"""The player's web app: a JSON API over the library (OpenAPI at ``/docs``), audio streaming with HTTP ranges,
images, and the static page in ``static/``.

>>> from audio_alchemy.web import create_app
>>> app = create_app("library.sqlite")   # run with uvicorn, or audio_alchemy.web.server.serve(...)

Security model: requests name tracks by integer id and audio by an enumerated variant, never by path, so
only files the library lists (and WAV/MP3 copies derived from them) can be read; static files are a fixed
list read at start-up; request bodies are bounded; every response carries ``nosniff`` and a same-origin CSP.
"""

from __future__ import annotations

import asyncio
import os
import threading
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Annotated, Any, Literal

from fastapi import Body, FastAPI, HTTPException, Path as PathParam, Query, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import FileResponse, JSONResponse, Response, StreamingResponse
from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator
from starlette.concurrency import run_in_threadpool
from starlette.middleware.trustedhost import TrustedHostMiddleware

from .. import __version__
from ..library import LIKERT_SCALES, Library
from . import media, recs
from .ranges import RangeNotSatisfiable, parse_range

STATIC_DIR = Path(__file__).with_name("static")
MAX_BODY_BYTES = 64 * 1024  # JSON bodies are tiny: a rating or a play
INLINE_LIMIT = 1 << 20  # ranges up to 1 MiB are read at once; longer ones are streamed in chunks
CHUNK = 256 * 1024
SORTS = {
    "id": "t.id", "title": "lower(t.title)", "artist": "lower(t.artist)", "album": "lower(t.album)",
    "genre": "lower(t.genre)", "year": "t.year", "duration": "t.duration", "added": "t.added_at",
}
SECURITY_HEADERS = [
    (b"x-content-type-options", b"nosniff"),
    (b"referrer-policy", b"no-referrer"),
    (b"x-frame-options", b"DENY"),
    (b"content-security-policy",
     b"default-src 'self'; img-src 'self' data:; media-src 'self'; style-src 'self' 'unsafe-inline'; "
     b"script-src 'self'; connect-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'none'"),
]
STATIC_TYPES = {".html": "text/html; charset=utf-8", ".js": "text/javascript; charset=utf-8",
                ".css": "text/css; charset=utf-8", ".png": "image/png", ".svg": "image/svg+xml", ".ico": "image/x-icon"}


class _Guard:
    """ASGI middleware: refuse request bodies over ``limit`` bytes (413) and add security headers."""

    def __init__(self, app: Any, limit: int = MAX_BODY_BYTES):
        self.app, self.limit = app, limit

    async def __call__(self, scope: dict, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        for name, value in scope.get("headers", ()):
            if name == b"content-length":
                try:
                    too_big = int(value) > self.limit
                except ValueError:
                    too_big = True
                if too_big:
                    await _send_plain(send, 413, b"request body too large")
                    return
        seen = 0
        started = rejected = False

        async def limited_receive() -> dict:
            nonlocal seen, rejected
            if rejected:
                return {"type": "http.disconnect"}
            msg = await receive()
            if msg["type"] == "http.request":
                seen += len(msg.get("body", b""))
                if seen > self.limit:
                    rejected = True
                    if not started:
                        await _send_plain(send, 413, b"request body too large")
                    return {"type": "http.disconnect"}  # the app stops reading; its response is dropped
            return msg

        async def send_with_headers(msg: dict) -> None:
            nonlocal started
            if rejected:
                return
            if msg["type"] == "http.response.start":
                started = True
                msg = dict(msg)
                msg["headers"] = list(msg.get("headers", ())) + SECURITY_HEADERS
            await send(msg)

        try:
            await self.app(scope, limited_receive, send_with_headers)
        except Exception:
            if not rejected:
                raise


async def _send_plain(send: Any, status: int, body: bytes) -> None:
    await send({"type": "http.response.start", "status": status,
                "headers": [(b"content-type", b"text/plain; charset=utf-8"), (b"content-length", str(len(body)).encode()),
                            *SECURITY_HEADERS]})
    await send({"type": "http.response.body", "body": body})


class _Libraries:
    """One :class:`Library` connection per thread (SQLite connections are not shared across threads)."""

    def __init__(self, db_path: Path):
        self.db_path = db_path
        self._local = threading.local()
        self._all: list[Library] = []
        self._guard = threading.Lock()

    def get(self) -> Library:
        lib = getattr(self._local, "lib", None)
        if lib is None:
            lib = Library.open(self.db_path)
            self._local.lib = lib
            with self._guard:
                self._all.append(lib)
        return lib

    def close(self) -> None:
        with self._guard:
            for lib in self._all:
                try:
                    lib.close()
                except Exception:  # noqa: BLE001 - closing from another thread may be refused; the process ends anyway
                    pass
            self._all.clear()


class RatingIn(BaseModel):
    """A Likert rating: ``score`` from 1 to ``scale`` on a 2-, 3- or 5-point scale (JSON integers only: not
    ``true``, not ``4.0``)."""

    model_config = ConfigDict(strict=True)
    user_id: str = Field("local", min_length=1, max_length=64)
    scale: Literal[2, 3, 5]
    score: int = Field(ge=1, le=5)

    @field_validator("scale", mode="before")
    @classmethod
    def _integer_scale(cls, v: Any) -> Any:
        if isinstance(v, bool) or not isinstance(v, int):  # a Literal would take 5.0 and true == 1
            raise ValueError("scale must be the integer 2, 3 or 5")
        return v

    @model_validator(mode="after")
    def _score_in_scale(self) -> RatingIn:
        if self.score > self.scale:
            raise ValueError(f"score must be from 1 to {self.scale} on a {self.scale}-point scale")
        return self


class PlayIn(BaseModel):
    """One listen of a track, optionally with how many seconds were heard."""

    model_config = ConfigDict(strict=True)
    user_id: str = Field("local", min_length=1, max_length=64)
    seconds: float | None = Field(None, ge=0, le=24 * 3600)


TrackId = Annotated[int, PathParam(description="Track id (from /api/tracks)")]
MAX_ID = 2**62  # larger integers do not fit SQLite's INTEGER; like any unknown id they are 404


def _etag_matches(header: str | None, etag: str) -> bool:
    if not header:
        return False
    if header.strip() == "*":
        return True
    tags = [t.strip().removeprefix("W/") for t in header.split(",")]
    return etag in tags


def file_response(request: Request, f: media.ServedFile, cache: str = "private, max-age=3600") -> Response:
    """Send ``f`` honouring ``Range`` (206/416), ``If-Range``, ``If-None-Match`` / ``If-Modified-Since`` (304)."""
    headers = {"accept-ranges": "bytes", "etag": f.etag, "last-modified": f.last_modified, "cache-control": cache}
    inm = request.headers.get("if-none-match")
    if _etag_matches(inm, f.etag) or (inm is None and request.headers.get("if-modified-since") == f.last_modified):
        return Response(status_code=304, headers=headers)
    range_header = request.headers.get("range")
    if_range = request.headers.get("if-range")
    if range_header and if_range and if_range.strip() not in (f.etag, f.last_modified):
        range_header = None  # the client's copy is stale: send the whole (new) file
    try:
        r = parse_range(range_header, f.size)
    except RangeNotSatisfiable:
        return Response(status_code=416, headers={**headers, "content-range": f"bytes */{f.size}"})
    start, length, status = (0, f.size, 200) if r is None else (r.start, r.length, 206)
    if r is not None:
        headers["content-range"] = r.content_range
    headers["content-length"] = str(length)
    if request.method == "HEAD":
        return Response(status_code=status, headers=headers, media_type=f.media_type)
    if length <= INLINE_LIMIT:
        with open(f.path, "rb") as fh:
            body = os.pread(fh.fileno(), length, start)
        if len(body) != length:  # the file changed under us
            raise HTTPException(503, "file changed while reading; retry")
        return Response(body, status_code=status, headers=headers, media_type=f.media_type)
    return StreamingResponse(_chunks(f.path, start, length), status_code=status, headers=headers, media_type=f.media_type)


def _chunks(path: str, start: int, length: int):
    with open(path, "rb") as fh:
        fh.seek(start)
        left = length
        while left > 0:
            block = fh.read(min(CHUNK, left))
            if not block:
                break
            left -= len(block)
            yield block


def _like(word: str) -> str:
    return "%" + word.lower().replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"


def list_tracks(lib: Library, q: str = "", sort: str = "title", order: str = "asc", limit: int = 100,
                offset: int = 0) -> dict[str, Any]:
    """Songs (full mixes) matching every word of ``q`` in artist/title/album/genre, sorted, one page of them."""
    where, args = ["t.track_type = 0"], []
    for word in q.split()[:8]:
        where.append("lower(coalesce(t.artist,'') || ' ' || coalesce(t.title,'') || ' ' || coalesce(t.album,'') "
                     "|| ' ' || coalesce(t.genre,'')) LIKE ? ESCAPE '\\'")
        args.append(_like(word))
    cond = " AND ".join(where)
    total = lib.conn.execute(f"SELECT count(*) FROM tracks t WHERE {cond}", args).fetchone()[0]
    col, direction = SORTS[sort], "DESC" if order == "desc" else "ASC"
    rows = lib.conn.execute(
        "SELECT t.id, t.artist, t.title, t.album, t.genre, t.year, t.language, t.duration, t.added_at, "
        "(SELECT group_concat(s.track_type) FROM tracks s WHERE s.parent_id = t.id) "
        f"FROM tracks t WHERE {cond} ORDER BY {col} IS NULL, {col} {direction}, t.id LIMIT ? OFFSET ?",
        [*args, limit, offset],
    ).fetchall()
    keys = ("id", "artist", "title", "album", "genre", "year", "language", "duration", "added_at")
    items = []
    for row in rows:
        d = dict(zip(keys, row[:9], strict=True))
        types = {int(x) for x in (row[9] or "").split(",") if x}
        d["stems"] = [name for name, tt in media.STEM_TYPES.items() if tt in types]
        items.append(d)
    return {"total": total, "offset": offset, "limit": limit, "items": items}


def track_detail(lib: Library, track_id: int) -> dict[str, Any]:
    """Everything the library knows about one track, with the URLs the page needs to play and show it."""
    t = lib.track(track_id)
    if t is None:
        raise media.NotFound(f"no track {track_id}")
    base = f"/api/tracks/{track_id}"
    files = [{"id": f.id, "name": os.path.basename(f.path), "format": f.format, "role": f.role, "size": f.size,
              "exists": (state := f.state()) != "missing", "state": state} for f in lib.files(track_id)]
    has_audio = media.source_file(lib, track_id) is not None
    stems = {}
    stem_tracks = lib.stems(track_id)
    for name, tt in media.STEM_TYPES.items():
        s = stem_tracks.get(tt)
        if s is not None and media.source_file(lib, s.id) is not None:
            stems[name] = {"id": s.id, "separator": s.separator, "duration": s.duration}
    audio = {}
    if has_audio:
        audio = {v: f"{base}/audio/{v}" for v in ("original", "wav", "mp3")}
    audio.update({name: f"{base}/audio/{name}" for name in stems})
    mp3_origin = {}
    for name, sid in [("mix", track_id), *((n, s["id"]) for n, s in stems.items())]:
        has_mp3 = any(f.format == "mp3" and f.state() == "ok" for f in lib.files(sid))
        mp3_origin[name] = "library file" if has_mp3 else f"encoded here at {media.MP3_BITRATE} kbit/s"
    parent = None
    if t.parent_id is not None and (p := lib.track(t.parent_id)) is not None:
        parent = {"id": p.id, "label": p.label}
    artifacts = lib.artifacts(track_id)
    return {
        "track": t.to_dict(),
        "label": t.label,
        "parent": parent,
        "files": files,
        "stems": stems,
        "sources": {"mix": track_id, **{name: s["id"] for name, s in stems.items()}},
        "audio": audio,
        "mp3_origin": mp3_origin,
        "features": lib.feature_sets(track_id),
        "artifacts": sorted(artifacts),
        "images": [{"kind": k, "url": f"{base}/images/{k}"} for k in media.image_kinds(artifacts)],
        "predictions": lib.predictions(track_id),
        "ratings": lib.ratings(track_id),
    }


def create_app(db_path: str | os.PathLike | None = None, allowed_hosts: list[str] | None = None) -> FastAPI:
    """The FastAPI app serving the library at ``db_path`` (default: the library home's database).

    ``allowed_hosts`` (e.g. ``["127.0.0.1", "localhost"]``) rejects other ``Host`` headers, which stops DNS
    rebinding attacks on a server bound to loopback; :func:`audio_alchemy.web.server.serve` sets it.
    """
    first = Library.open(db_path)  # creates/migrates once, in this thread, before workers open their own
    db = first.path
    first.close()
    libs = _Libraries(db)
    static_files = {p.name: p for p in STATIC_DIR.iterdir() if p.is_file() and p.suffix in STATIC_TYPES}

    @asynccontextmanager
    async def lifespan(_app: FastAPI):
        yield
        libs.close()

    app = FastAPI(
        lifespan=lifespan,
        docs_url=None,  # FastAPI's Swagger UI loads from a CDN; /docs is our local page over /openapi.json
        redoc_url=None,
        title="Audio Alchemy player",
        version=__version__,
        description="Browse, play and see a music library: tracks, stems, features, predictions, ratings, audio.",
    )
    app.state.db_path = db
    app.state.libraries = libs

    def not_found(exc: media.NotFound) -> HTTPException:
        return HTTPException(404, str(exc))

    def lib_for(track_id: int) -> Library:
        """The thread's library, after checking that ``track_id`` names a track (404 otherwise)."""
        lib = libs.get()
        if not 0 < track_id < MAX_ID or lib.track(track_id) is None:
            raise HTTPException(404, f"no track {track_id}")
        return lib

    # -- page ----------------------------------------------------------------------------------------
    @app.get("/", include_in_schema=False)
    def index() -> Response:
        return FileResponse(static_files["index.html"], media_type=STATIC_TYPES[".html"], headers={"cache-control": "no-cache"})

    @app.get("/static/{name}", include_in_schema=False)
    def static(name: str) -> Response:
        p = static_files.get(name)
        if p is None:
            raise HTTPException(404, "no such static file")
        return FileResponse(p, media_type=STATIC_TYPES[p.suffix], headers={"cache-control": "no-cache"})

    @app.get("/docs", include_in_schema=False)
    def docs() -> Response:
        return FileResponse(static_files["docs.html"], media_type=STATIC_TYPES[".html"], headers={"cache-control": "no-cache"})

    @app.get("/favicon.ico", include_in_schema=False)
    def favicon() -> Response:
        return Response(status_code=204)

    # -- JSON API ------------------------------------------------------------------------------------
    @app.get("/api/info", summary="Library summary and which panels the server can fill")
    async def info() -> dict[str, Any]:
        lib = libs.get()
        return {"version": __version__, "db": db.name, "stats": lib.stats(), "capabilities": recs.capabilities(),
                "variants": list(media.VARIANTS), "likert_scales": list(LIKERT_SCALES), "mp3_bitrate": media.MP3_BITRATE}

    @app.get("/api/tracks", summary="Songs, searched and sorted, one page at a time")
    async def tracks(
        q: Annotated[str, Query(max_length=200, description="Words to find in artist/title/album/genre")] = "",
        sort: Annotated[Literal[tuple(SORTS)], Query()] = "title",  # type: ignore[valid-type]
        order: Annotated[Literal["asc", "desc"], Query()] = "asc",
        limit: Annotated[int, Query(ge=1, le=500)] = 100,
        offset: Annotated[int, Query(ge=0, le=10**9)] = 0,
    ) -> dict[str, Any]:
        return list_tracks(libs.get(), q, sort, order, limit, offset)

    @app.get("/api/tracks/{track_id}", summary="One track: tags, files, stems, features, images, predictions, ratings")
    async def track(track_id: TrackId) -> dict[str, Any]:
        try:
            return track_detail(lib_for(track_id), track_id)
        except media.NotFound as exc:
            raise not_found(exc) from None

    converting: dict[str, asyncio.Future] = {}

    async def derive_once(key: str, make: Any) -> Any:
        """One worker thread per conversion: every request for the same file awaits that one on the event loop.
        (Each used to block a thread on the file's lock: 40 requests for one new MP3 stalled every other
        synchronous route until it was made.)"""
        fut = converting.get(key)
        if fut is None:
            fut = converting[key] = asyncio.ensure_future(run_in_threadpool(make))
            fut.add_done_callback(lambda _: converting.pop(key, None))
        return await asyncio.shield(fut)  # a client that leaves does not cancel the others' conversion

    @app.head("/api/tracks/{track_id}/audio/{variant}", include_in_schema=False)
    @app.get("/api/tracks/{track_id}/audio/{variant}",
             summary="Stream a track's audio (original, wav, mp3, vocals, accompaniment) with HTTP ranges")
    async def audio(request: Request, track_id: TrackId, variant: str) -> Response:
        # Reads are quick (SQLite WAL readers never wait; a 1 MiB pread from the page cache): they run on the
        # event loop. Making a missing WAV/MP3 takes seconds, so that alone goes to a worker thread.
        try:
            try:
                f = media.audio_file(lib_for(track_id), track_id, variant, derive=False)
            except media.NeedsDerivation as need:
                f = await derive_once(str(need), lambda: media.audio_file(libs.get(), track_id, variant))
        except media.NotFound as exc:
            raise not_found(exc) from None
        return file_response(request, f)

    @app.get("/api/tracks/{track_id}/images/{kind}", summary="An image artifact of a track (e.g. mel_viridis_png)")
    async def image(request: Request, track_id: TrackId, kind: str) -> Response:
        try:
            f = media.image_file(lib_for(track_id), track_id, kind)
        except media.NotFound as exc:
            raise not_found(exc) from None
        return file_response(request, f)

    @app.get("/api/tracks/{track_id}/ratings", summary="Ratings of a track")
    async def get_ratings(track_id: TrackId) -> list[dict[str, Any]]:
        lib = lib_for(track_id)
        return lib.ratings(track_id)

    @app.post("/api/tracks/{track_id}/ratings", status_code=201, summary="Rate a track on a 2-, 3- or 5-point Likert scale")
    def post_rating(track_id: TrackId, rating: Annotated[RatingIn, Body()]) -> dict[str, Any]:
        lib = lib_for(track_id)
        try:
            norm = lib.add_rating(track_id, rating.user_id, rating.scale, rating.score)
        except ValueError as exc:
            raise _invalid_body(exc) from None
        return {"track_id": track_id, "user_id": rating.user_id, "scale": rating.scale, "score": rating.score,
                "normalized": norm}

    @app.post("/api/tracks/{track_id}/plays", status_code=201, summary="Record a listen")
    def post_play(track_id: TrackId, play: Annotated[PlayIn, Body()]) -> dict[str, Any]:
        lib = lib_for(track_id)
        try:
            lib.add_play(track_id, play.user_id, play.seconds)
        except ValueError as exc:
            raise _invalid_body(exc) from None
        return {"track_id": track_id, "user_id": play.user_id, "seconds": play.seconds}

    @app.get("/api/tracks/{track_id}/similar", summary="Sound-alikes of a track (when the recommend layer is installed)")
    def similar(track_id: TrackId, k: Annotated[int, Query(ge=1, le=100)] = 10) -> dict[str, Any]:
        lib = lib_for(track_id)
        return {"track_id": track_id, **_call(recs.sound_alikes, lib, track_id, k)}

    @app.get("/api/recommendations", summary="Recommendations for a user (when the recommend layer is installed)")
    def recommendations(user_id: Annotated[str, Query(min_length=1, max_length=64)] = "local",
                        k: Annotated[int, Query(ge=1, le=100)] = 10) -> dict[str, Any]:
        return {"user_id": user_id, **_call(recs.recommendations, libs.get(), user_id, k)}

    @app.exception_handler(RequestValidationError)
    async def _invalid(request: Request, exc: RequestValidationError) -> JSONResponse:
        # FastAPI's own handler echoes the input, and NaN/Infinity in it made that answer a 500
        detail = [{k: e[k] for k in ("type", "loc", "msg") if k in e} for e in exc.errors()]
        return JSONResponse({"detail": detail}, status_code=422)

    @app.exception_handler(media.NotFound)
    async def _nf(request: Request, exc: media.NotFound) -> JSONResponse:
        return JSONResponse({"detail": str(exc)}, status_code=404)

    app.add_middleware(_Guard)
    if allowed_hosts:
        app.add_middleware(TrustedHostMiddleware, allowed_hosts=allowed_hosts)
    return app


def _invalid_body(exc: ValueError) -> HTTPException:
    """A 422 shaped like the validation errors (a list of ``{type, loc, msg}``), for checks the library makes."""
    return HTTPException(422, [{"type": "value_error", "loc": ["body"], "msg": str(exc)}])


def _call(fn: Any, lib: Library, key: Any, k: int) -> dict[str, Any]:
    """Run a recommend-layer call; 501 when that layer is absent, 503 (with its message) when it fails."""
    try:
        items = fn(lib, key, k)
    except (KeyError, LookupError) as exc:
        raise HTTPException(404, f"nothing to recommend: {exc}") from None
    except Exception as exc:  # noqa: BLE001 - the layer below is optional and may not be trained yet
        raise HTTPException(503, f"recommendations unavailable: {type(exc).__name__}: {exc}") from None
    if items is None:
        raise HTTPException(501, "the recommend layer is not installed")
    return items  # {"items": [...], "note": ...}


__all__ = ["create_app", "file_response", "list_tracks", "track_detail"]
