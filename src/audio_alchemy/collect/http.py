"""One polite HTTP client for every web service the collector talks to.

Written on the standard library (``urllib``) rather than ``musicbrainzngs``: that library speaks MusicBrainz's
XML service only, keeps its host/rate limit in module globals and has no response cache, while the collector
needs one client for three JSON services (MusicBrainz, ListenBrainz, Last.fm) with a per-host rate limit, an
on-disk cache and retries that tests can point at a local fake server.

Politeness: a User-Agent naming the application, version and a contact (MusicBrainz requires one); at most
one request per ``min_interval`` seconds per host (MusicBrainz asks for 1/s); ``Retry-After`` honoured;
exponential backoff on 503/429/5xx and connection errors; successful responses cached on disk so a re-run
asks nothing again.
"""

from __future__ import annotations

import hashlib
import json
import os
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .. import __version__

PROJECT_URL = ""  # the project's public home, once it has one; used when no contact is configured
CONTACT_ENV = "AUDIO_ALCHEMY_CONTACT"
RETRY_STATUSES = frozenset({429, 500, 502, 503, 504})
SECRET_PARAMS = frozenset({"api_key", "token"})


def contact_info(contact: str | None = None) -> str | None:
    """The contact for the User-Agent: the argument, ``$AUDIO_ALCHEMY_CONTACT`` or the project URL (None if none)."""
    return contact or os.environ.get(CONTACT_ENV) or PROJECT_URL or None


def user_agent(contact: str | None = None) -> str:
    """``audio-alchemy/<version> ( <contact> )``, the form MusicBrainz asks for (an email or URL to reach the user)."""
    c = contact_info(contact)
    return f"audio-alchemy/{__version__} ( {c or f'contact not configured; set {CONTACT_ENV}'} )"


class HttpError(RuntimeError):
    """A request that failed for good (after retries): carries the URL (secrets removed) and the status."""

    kind = "http"

    def __init__(self, url: str, status: int | None, message: str):
        super().__init__(f"{url}: {message}")
        self.url = url
        self.status = status


def build_url(url: str, params: Mapping[str, Any] | None = None) -> str:
    """``url`` with ``params`` appended as a query string (sorted, so equal requests give equal cache keys)."""
    if not params:
        return url
    q = urllib.parse.urlencode(sorted((k, str(v)) for k, v in params.items() if v is not None))
    return url + ("&" if "?" in url else "?") + q


def redact(url: str) -> str:
    """The URL with secret query values (api_key, token) replaced by ``***`` for logs, errors and cache files."""
    parts = urllib.parse.urlsplit(url)
    if not parts.query:
        return url
    q = [(k, "***" if k in SECRET_PARAMS else v) for k, v in urllib.parse.parse_qsl(parts.query, keep_blank_values=True)]
    return urllib.parse.urlunsplit(parts._replace(query=urllib.parse.urlencode(q)))


@dataclass
class PoliteClient:
    """GET JSON with a per-host rate limit, on-disk cache and retries.

    ``intervals`` maps a host (``netloc``) to its minimum spacing in seconds; ``default_interval`` covers
    the rest. ``cache_dir=None`` disables caching. ``sleep``/``clock`` are injectable for tests.
    ``request_log`` records ``(send time, redacted URL, status)`` of every request that went out.
    """

    cache_dir: Path | None = None
    intervals: dict[str, float] = field(default_factory=dict)
    default_interval: float = 0.0
    retries: int = 4
    backoff: float = 1.0
    max_backoff: float = 60.0
    timeout: float = 30.0
    cache_ttl: float | None = 30 * 24 * 3600.0
    contact: str | None = None
    sleep: Callable[[float], None] = time.sleep
    clock: Callable[[], float] = time.monotonic
    request_log: list[tuple[float, str, int | None]] = field(default_factory=list)

    def __post_init__(self) -> None:
        self._last: dict[str, float] = {}
        self._lock = threading.Lock()
        if self.cache_dir is not None:
            self.cache_dir = Path(self.cache_dir)

    # -- politeness ------------------------------------------------------------------------------
    def set_interval(self, base_url: str, seconds: float) -> None:
        """At most one request per ``seconds`` to the host of ``base_url`` (services sharing a host keep the largest)."""
        host = urllib.parse.urlsplit(base_url).netloc
        self.intervals[host] = max(float(seconds), self.intervals.get(host, 0.0))

    def _wait_turn(self, host: str) -> float:
        """Sleep until this host may be asked again; returns the send time."""
        interval = self.intervals.get(host, self.default_interval)
        with self._lock:
            last = self._last.get(host)
            if last is not None and interval > 0:
                delay = last + interval - self.clock()
                if delay > 0:
                    self.sleep(delay)
            now = self._last[host] = self.clock()
        return now

    # -- cache -----------------------------------------------------------------------------------
    def _cache_path(self, url: str, headers: Mapping[str, str]) -> Path | None:
        if self.cache_dir is None:
            return None
        auth = headers.get("Authorization", "")
        key = hashlib.sha256((url + "\n" + auth).encode()).hexdigest()
        return self.cache_dir / key[:2] / f"{key}.json"

    def _cache_get(self, path: Path | None) -> Any:
        if path is None or not path.exists():
            return _MISS
        try:
            entry = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return _MISS
        if self.cache_ttl is not None and time.time() - entry.get("fetched_at", 0) > self.cache_ttl:
            return _MISS
        return entry.get("body")

    def _cache_put(self, path: Path | None, url: str, body: Any) -> None:
        if path is None:
            return
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(f".{os.getpid()}.tmp")
        tmp.write_text(json.dumps({"url": redact(url), "fetched_at": time.time(), "body": body}, ensure_ascii=False), encoding="utf-8")
        os.replace(tmp, path)

    # -- requests --------------------------------------------------------------------------------
    def get_json(self, url: str, params: Mapping[str, Any] | None = None, headers: Mapping[str, str] | None = None,
                 cache: bool = True, allow_404: bool = False) -> Any:
        """Decoded JSON of ``GET url?params``; from the cache when present. ``allow_404`` returns ``None`` for 404."""
        full = build_url(url, params)
        hdrs = {"User-Agent": user_agent(self.contact), "Accept": "application/json", **(headers or {})}
        cpath = self._cache_path(full, hdrs) if cache else None
        hit = self._cache_get(cpath)
        if hit is not _MISS:
            return hit
        status, raw = self._fetch(full, hdrs, allow_404=allow_404)
        if status == 404:
            return None
        try:
            body = json.loads(raw.decode("utf-8"))
        except ValueError as exc:
            raise HttpError(redact(full), status, f"response is not JSON ({exc})") from None
        self._cache_put(cpath, full, body)
        return body

    def _fetch(self, url: str, headers: Mapping[str, str], allow_404: bool = False) -> tuple[int, bytes]:
        host = urllib.parse.urlsplit(url).netloc
        attempt = 0
        while True:
            sent = self._wait_turn(host)
            retry_after: float | None = None
            try:
                req = urllib.request.Request(url, headers=dict(headers), method="GET")
                with urllib.request.urlopen(req, timeout=self.timeout) as resp:  # noqa: S310 - http(s) URLs only
                    data = resp.read()
                    self.request_log.append((sent, redact(url), resp.status))
                    return resp.status, data
            except urllib.error.HTTPError as exc:
                self.request_log.append((sent, redact(url), exc.code))
                if exc.code == 404 and allow_404:
                    return 404, b""
                if exc.code not in RETRY_STATUSES or attempt >= self.retries:
                    detail = _error_detail(exc)
                    raise HttpError(redact(url), exc.code, f"HTTP {exc.code}{': ' + detail if detail else ''}") from None
                retry_after = _retry_after(exc.headers.get("Retry-After"))
            except (urllib.error.URLError, ConnectionError, TimeoutError, OSError) as exc:
                self.request_log.append((sent, redact(url), None))
                if attempt >= self.retries:
                    reason = getattr(exc, "reason", exc)
                    raise HttpError(redact(url), None, f"connection failed: {reason}") from None
            delay = min(self.max_backoff, self.backoff * (2 ** attempt))
            if retry_after is not None:
                delay = min(self.max_backoff, max(delay, retry_after))
            self.sleep(delay)
            attempt += 1


class _Miss:
    pass


_MISS = _Miss()


def _retry_after(value: str | None) -> float | None:
    if not value:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        return None


def _error_detail(exc: urllib.error.HTTPError) -> str:
    """The service's own message (MusicBrainz/ListenBrainz ``{"error": ...}``, Last.fm ``{"message": ...}``)."""
    try:
        body = json.loads(exc.read().decode("utf-8", "replace"))
    except Exception:  # noqa: BLE001 - best effort only
        return ""
    if isinstance(body, dict):
        return str(body.get("error") or body.get("message") or "")[:200]
    return ""
