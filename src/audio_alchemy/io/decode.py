"""Decoding: any common audio file to float32 ``(channels, samples)``.

libsndfile (soundfile) is tried first: it is fast and seeks exactly (wav, flac, ogg/vorbis, opus, aiff,
mp3 with libsndfile >= 1.1). FFmpeg through PyAV handles the rest (m4a/aac, wma, ...). Both paths can read
a time window and stream fixed-size blocks, so a 3-hour file never has to sit in memory whole.
"""

from __future__ import annotations

import contextlib
import os
import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import soundfile as sf

from .cstderr import captured_c_stderr, note_decoder_messages
from .dsp import as_2d, check_rate, resample, to_mono
from .errors import AudioError, CorruptAudio, EmptyAudio, NotAudioFile, SilentAudio, UnsupportedFormat

AUDIO_SUFFIXES = frozenset(
    {".wav", ".wave", ".flac", ".ogg", ".oga", ".opus", ".mp3", ".m4a", ".mp4", ".aac", ".aif", ".aiff", ".wma"}
)


@dataclass(frozen=True)
class AudioInfo:
    """What a file declares, read without decoding it: rate, channels, frame count, container format."""

    path: str
    format: str
    sample_rate: int
    channels: int
    frames: int
    backend: str  # "soundfile" or "pyav"
    declared_frames: int | None = None  # what a WAV header promises, when the file holds fewer frames (truncated)

    @property
    def duration(self) -> float:
        return self.frames / self.sample_rate if self.sample_rate else 0.0


@dataclass
class Audio:
    """Decoded audio. ``samples`` is float32 with shape ``(channels, n)`` in [-1, 1]; ``sr`` in Hz."""

    samples: np.ndarray
    sr: int

    @property
    def channels(self) -> int:
        return int(self.samples.shape[0])

    @property
    def n(self) -> int:
        return int(self.samples.shape[1])

    @property
    def duration(self) -> float:
        return self.n / self.sr

    def mono(self) -> np.ndarray:
        """The channel mean, shape ``(n,)``."""
        return to_mono(self.samples)


def _check_file(path: Path) -> None:
    try:
        st = path.stat()
    except RuntimeError as exc:  # symlink loop on some Pythons
        raise NotAudioFile(path, f"cannot resolve path ({exc})") from exc
    except OSError as exc:
        raise NotAudioFile(path, exc.strerror or str(exc)) from exc
    if path.is_dir():
        raise NotAudioFile(path, "is a directory, not an audio file")
    if not path.is_file():
        raise NotAudioFile(path, "not a regular file")
    if st.st_size == 0:
        raise EmptyAudio(path, "file is empty (0 bytes)")
    if not os.access(path, os.R_OK):
        raise NotAudioFile(path, "permission denied")


def _sf_info(path: Path) -> AudioInfo | None:
    notes: list[str] = []
    try:
        with captured_c_stderr(notes):
            i = sf.info(os.fsencode(path))  # bytes: non-UTF-8 names work
    except sf.LibsndfileError:
        return None
    except (RuntimeError, TypeError, ValueError):
        return None
    finally:
        note_decoder_messages(path, notes)
    if i.samplerate <= 0 or i.channels <= 0:
        return None
    return AudioInfo(str(path), i.format.lower(), int(i.samplerate), int(i.channels), max(int(i.frames), 0),
                     "soundfile", _declared_frames(i.extra_info))


def _declared_frames(extra_info: str) -> int | None:
    """The frame count a RIFF/WAV header declares when libsndfile found its data chunk shorter ("data : 176400
    (should be 88178)" in its log), else None."""
    short = re.search(r"^data\s*:\s*(\d+)\s*\(should be (\d+)\)", extra_info or "", re.M)
    align = re.search(r"Block Align\s*:\s*(\d+)", extra_info or "")
    if not short or not align or int(align.group(1)) <= 0 or int(short.group(1)) <= int(short.group(2)):
        return None
    return int(short.group(1)) // int(align.group(1))


def _av_info(path: Path) -> AudioInfo:
    import av

    try:
        with open(path, "rb") as fh, av.open(fh) as c:
            streams = [s for s in c.streams if s.type == "audio"]
            if not streams:
                raise UnsupportedFormat(path, "no audio stream")
            s = streams[0]
            rate = int(s.codec_context.sample_rate or s.rate or 0)
            ch = int(s.codec_context.channels if hasattr(s.codec_context, "channels") else s.channels)
            if s.duration is not None and s.time_base is not None:
                dur = float(s.duration * s.time_base)
            elif c.duration is not None:
                dur = c.duration / 1_000_000
            else:
                dur = 0.0
            if rate <= 0 or ch <= 0:
                raise CorruptAudio(path, "audio stream declares no sample rate or channels")
            return AudioInfo(str(path), c.format.name.split(",")[0], rate, ch, int(round(dur * rate)), "pyav")
    except AudioError:
        raise
    except (av.error.InvalidDataError, av.error.EOFError) as exc:
        raise UnsupportedFormat(path, f"not a recognised audio format ({exc.__class__.__name__})") from exc
    except av.error.FFmpegError as exc:
        raise CorruptAudio(path, f"FFmpeg cannot open it: {exc}") from exc
    except (OSError, ValueError, IndexError) as exc:
        raise CorruptAudio(path, str(exc)) from exc


def probe(path: str | Path) -> AudioInfo:
    """Read rate, channels, length and format without decoding. Raises a typed :class:`AudioError`."""
    path = Path(path)
    _check_file(path)
    info = _sf_info(path) or _av_info(path)
    try:
        check_rate(info.sample_rate)
    except ValueError as exc:  # a damaged or hostile header: resampling it could ask for gigabytes
        raise UnsupportedFormat(path, str(exc)) from None
    return info


def _blocks_sf(path: Path, start: int, stop: int | None, block: int) -> Iterator[np.ndarray]:
    notes: list[str] = []
    try:
        with captured_c_stderr(notes):
            f = sf.SoundFile(os.fsencode(path))
        # libmpg123 writes its resync notes to fd 2: capture them around each call, never across a yield
        quiet = captured_c_stderr if f.subtype.startswith("MPEG") else contextlib.nullcontext
        with f:
            if start:
                with quiet(notes):
                    f.seek(start)
            remaining = None if stop is None else max(stop - start, 0)
            while remaining is None or remaining > 0:
                n = block if remaining is None else min(block, remaining)
                with quiet(notes):
                    data = f.read(n, dtype="float32", always_2d=True)
                if data.shape[0] == 0:
                    break
                if remaining is not None:
                    remaining -= data.shape[0]
                yield np.ascontiguousarray(data.T)
                if data.shape[0] < n:
                    break
    except (sf.LibsndfileError, RuntimeError, ValueError) as exc:
        raise CorruptAudio(path, f"decoding failed, the data is damaged or cut short (libsndfile: {exc})") from exc
    finally:
        note_decoder_messages(path, notes)


def _blocks_av(path: Path, info: AudioInfo, start: int, stop: int | None, block: int) -> Iterator[np.ndarray]:
    import av

    try:
        with open(path, "rb") as fh, av.open(fh) as c:
            stream = next(s for s in c.streams if s.type == "audio")
            res = av.AudioResampler(format="fltp", layout=None, rate=info.sample_rate)
            if start > 0 and stream.time_base:
                c.seek(int(start / info.sample_rate / stream.time_base), stream=stream, any_frame=False, backward=True)
            pos: int | None = None
            pending: list[np.ndarray] = []
            pending_n = 0
            for frame in c.decode(stream):
                if pos is None:
                    pos = int(round(frame.time * info.sample_rate)) if frame.time is not None and start > 0 else 0
                for f in res.resample(frame):
                    arr = f.to_ndarray().astype(np.float32, copy=False)
                    arr = arr.reshape(info.channels, -1) if arr.shape[0] != info.channels else arr
                    a, b = pos, pos + arr.shape[1]
                    pos = b
                    lo, hi = max(start - a, 0), arr.shape[1] if stop is None else min(stop - a, arr.shape[1])
                    if hi > lo:
                        pending.append(arr[:, lo:hi])
                        pending_n += hi - lo
                    while pending_n >= block:
                        cat = np.concatenate(pending, axis=1)
                        yield cat[:, :block]
                        rest = cat[:, block:]
                        pending, pending_n = ([rest] if rest.shape[1] else []), rest.shape[1]
                if stop is not None and pos is not None and pos >= stop:
                    break
            if pending_n:
                yield np.concatenate(pending, axis=1)
    except AudioError:
        raise
    except StopIteration as exc:
        raise UnsupportedFormat(path, "no audio stream") from exc
    except av.error.FFmpegError as exc:
        raise CorruptAudio(path, f"decoding failed: {exc}") from exc
    except (OSError, ValueError) as exc:
        raise CorruptAudio(path, f"decoding failed: {exc}") from exc


def stream(
    path: str | Path,
    block_seconds: float = 30.0,
    offset: float = 0.0,
    duration: float | None = None,
    info: AudioInfo | None = None,
) -> Iterator[np.ndarray]:
    """Yield consecutive float32 blocks ``(channels, <= block)`` at the file's own rate; memory stays bounded.

    ``offset``/``duration`` (seconds) select a window; libsndfile seeks exactly, PyAV seeks to the
    nearest earlier packet and trims. Non-finite samples (a float WAV can hold NaN/inf) become 0 / +-1, so every
    reader (import's hash, features, separation) sees the same audio.
    """
    path = Path(path)
    info = info or probe(path)
    block = max(int(block_seconds * info.sample_rate), 1)
    start = max(int(round(offset * info.sample_rate)), 0)
    stop = None if duration is None else start + max(int(round(duration * info.sample_rate)), 0)
    blocks = _blocks_sf(path, start, stop, block) if info.backend == "soundfile" else _blocks_av(path, info, start, stop, block)
    for x in blocks:
        yield x if np.isfinite(x).all() else np.nan_to_num(x, nan=0.0, posinf=1.0, neginf=-1.0)


def load(
    path: str | Path,
    sr: int | None = None,
    mono: bool = False,
    offset: float = 0.0,
    duration: float | None = None,
) -> Audio:
    """Decode ``path`` (optionally a window) to :class:`Audio`; resample to ``sr`` with soxr; ``mono`` averages.

    Raises :class:`EmptyAudio` when nothing decodes, and other :class:`AudioError` subclasses naming the file.
    """
    path = Path(path)
    info = probe(path)
    blocks = list(stream(path, block_seconds=60.0, offset=offset, duration=duration, info=info))
    if not blocks:
        raise EmptyAudio(path, "no audio samples decoded" + (f" at offset {offset:g} s" if offset else ""))
    x = np.concatenate(blocks, axis=1) if len(blocks) > 1 else blocks[0]
    if x.shape[1] == 0:
        raise EmptyAudio(path, "no audio samples decoded")
    if mono:
        x = x.mean(axis=0, keepdims=True, dtype=np.float32)
    rate = info.sample_rate
    if sr is not None and sr != rate:
        x, rate = resample(x, rate, sr), sr
    return Audio(as_2d(np.ascontiguousarray(x, dtype=np.float32)), int(rate))


def require_signal(audio: Audio, path: str | Path, min_seconds: float = 0.25, floor_dbfs: float = -80.0) -> Audio:
    """``audio`` itself, or :class:`SilentAudio` naming ``path`` when it is shorter than ``min_seconds`` or its peak
    is below ``floor_dbfs``: a recogniser would still answer, with a confident label that means nothing."""
    if audio.duration < min_seconds:
        raise SilentAudio(path, f"too short to recognise ({audio.duration:.2f} s; needs {min_seconds:g} s)")
    peak = float(np.max(np.abs(audio.samples))) if audio.samples.size else 0.0
    if peak <= 10 ** (floor_dbfs / 20):
        raise SilentAudio(path, "silent: nothing to recognise" + (f" (peak {20 * np.log10(peak):.0f} dBFS)" if peak > 0 else ""))
    return audio
