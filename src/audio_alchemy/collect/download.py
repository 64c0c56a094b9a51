"""Find and download a song's audio with yt-dlp (as a library), then write WAV and MP3 through ``audio_alchemy.io``.

No ffmpeg binary is needed: yt-dlp only downloads (no post-processors); PyAV decodes whatever arrived
(webm/opus, m4a/aac, mp3, wav...), soundfile writes the WAV and LAME the MP3 (the ``ffmpeg`` program's when
installed, it is faster, else PyAV's: :func:`audio_alchemy.io.encode.encode_mp3`). A search
(``ytsearch3:Artist - Title``) looks at a few results and takes the first whose duration agrees with the
MusicBrainz length, so a one-hour compilation is never fetched for a four-minute song.

Downloading may be restricted by a site's terms of service; using this is the user's responsibility.
"""

from __future__ import annotations

import os
import re
import tempfile
import unicodedata
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..io import load, save

DEFAULT_SEARCH = "ytsearch3:{artist} - {title}"
MAX_NAME_BYTES = 120


class DownloadError(RuntimeError):
    """Nothing usable could be downloaded for a song (no result, download failure, undecodable audio)."""

    kind = "download"


class DurationMismatch(DownloadError):
    """The audio found is too long or too short for the song: probably the wrong video."""

    kind = "duration_mismatch"


@dataclass
class FetchedAudio:
    """The files written for one song and where they came from."""

    wav: Path
    mp3: Path
    duration: float
    source_url: str
    source_title: str


def safe_filename(name: str, max_bytes: int = MAX_NAME_BYTES) -> str:
    """A file name from any text: Unicode kept (NFC), path separators and control characters removed,
    no leading dots, at most ``max_bytes`` UTF-8 bytes (cut on a character boundary); never empty."""
    s = unicodedata.normalize("NFC", name)
    s = "".join(" " if unicodedata.category(c) in ("Cc", "Cf", "Zl", "Zp") else c for c in s)
    s = re.sub(r'[/\\:*?"<>|\x00]', "_", s)  # separators plus characters other file systems refuse
    s = re.sub(r"\s+", " ", s).strip().lstrip(".").strip()
    raw = s.encode("utf-8")[:max_bytes]
    s = raw.decode("utf-8", "ignore").rstrip(" .")
    return s or "untitled"


def duration_ok(actual: float, expected: float | None, tolerance: float = 0.15, slack: float = 10.0) -> bool:
    """Whether ``actual`` seconds is plausibly the song of ``expected`` seconds: within max(slack, tolerance*expected)."""
    if not expected:
        return True
    return abs(actual - expected) <= max(slack, tolerance * expected)


def is_url(source: str) -> bool:
    return bool(re.match(r"^[a-z][a-z0-9+.-]*://", source, re.IGNORECASE))


def _ydl_options(workdir: str, extra: dict[str, Any] | None) -> dict[str, Any]:
    opts: dict[str, Any] = {
        "format": "bestaudio/best",
        "outtmpl": os.path.join(workdir, "%(id)s.%(ext)s"),
        "noplaylist": True,
        "quiet": True,
        "no_warnings": True,
        "noprogress": True,
        "restrictfilenames": True,
        "retries": 3,
        "socket_timeout": 30,
        "max_filesize": 200 * 1024 * 1024,
        "postprocessors": [],
    }
    opts.update(extra or {})
    return opts


def _pick_entry(info: dict[str, Any], expected: float | None) -> dict[str, Any]:
    """From a search result, the first entry whose duration fits (entries without a duration are kept as a fallback)."""
    entries = [e for e in (info.get("entries") or []) if e]
    if not entries:
        raise DownloadError("the search found nothing")
    for e in entries:
        if e.get("duration") and duration_ok(float(e["duration"]), expected):
            return e
    unknown = [e for e in entries if not e.get("duration")]
    if unknown:
        return unknown[0]
    durs = ", ".join(f"{e.get('duration'):.0f} s" for e in entries)
    raise DurationMismatch(f"no search result has the expected length {expected:.0f} s (found {durs})")


def download_audio(source: str, workdir: str | Path, expected_duration: float | None = None,
                   ydl_opts: dict[str, Any] | None = None) -> tuple[Path, dict[str, Any]]:
    """Download the best audio for ``source`` (a URL, or a yt-dlp search such as ``ytsearch3:...``) into ``workdir``.

    Returns the downloaded file and yt-dlp's info dict.
    """
    import yt_dlp

    workdir = str(workdir)
    with yt_dlp.YoutubeDL(_ydl_options(workdir, ydl_opts)) as ydl:
        try:
            if is_url(source):
                info = ydl.extract_info(source, download=True)
            else:
                found = ydl.extract_info(source, download=False, process=False)
                if found.get("_type") in ("playlist", "multi_video") or "entries" in found:
                    found = dict(found, entries=list(found.get("entries") or []))
                    entry = _pick_entry(found, expected_duration)
                    info = ydl.extract_info(entry.get("webpage_url") or entry.get("url"), download=True)
                else:
                    info = ydl.process_ie_result(found, download=True)
        except yt_dlp.utils.DownloadError as exc:
            raise DownloadError(f"yt-dlp could not download {source!r}: {_clean(str(exc))}") from None
    if info is None:
        raise DownloadError(f"yt-dlp returned nothing for {source!r}")
    if info.get("entries"):
        info = next(e for e in info["entries"] if e)
    paths = [d.get("filepath") for d in info.get("requested_downloads") or [] if d.get("filepath")]
    if not paths:
        candidates = sorted(Path(workdir).glob("*"), key=lambda p: p.stat().st_mtime)
        paths = [str(p) for p in candidates if p.is_file() and not p.name.endswith(".part")]
    if not paths or not os.path.exists(paths[-1]):
        raise DownloadError(f"yt-dlp reported no downloaded file for {source!r}")
    return Path(paths[-1]), info


def _clean(msg: str) -> str:
    return " ".join(re.sub(r"\x1b\[[0-9;]*m", "", msg).replace("ERROR:", "").split())


def fetch_audio(source: str, out_dir: str | Path, stem: str, expected_duration: float | None = None,
                ydl_opts: dict[str, Any] | None = None, tolerance: float = 0.15, mp3_bitrate: int = 192) -> FetchedAudio:
    """Download ``source``, check its duration against ``expected_duration``, write ``<stem>.wav`` and ``<stem>.mp3``.

    The WAV keeps the downloaded sample rate and channels (16-bit); nothing is left behind when a check fails.
    """
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    stem = safe_filename(stem)
    with tempfile.TemporaryDirectory(prefix=".dl-", dir=out_dir) as tmp:
        path, info = download_audio(source, tmp, expected_duration, ydl_opts)
        try:
            audio = load(path)
        except Exception as exc:  # noqa: BLE001 - any decode failure is this song's failure
            raise DownloadError(f"downloaded file for {source!r} is not decodable audio: {exc}") from None
        if not duration_ok(audio.duration, expected_duration, tolerance):
            raise DurationMismatch(
                f"downloaded audio lasts {audio.duration:.1f} s but the song should last {expected_duration:.1f} s ({source})"
            )
        wav = save(out_dir / f"{stem}.wav", audio.samples, audio.sr)
        mp3 = save(out_dir / f"{stem}.mp3", audio.samples, audio.sr, bitrate=mp3_bitrate)
    return FetchedAudio(wav=wav, mp3=mp3, duration=audio.duration,
                        source_url=info.get("webpage_url") or info.get("original_url") or source,
                        source_title=info.get("title") or "")
