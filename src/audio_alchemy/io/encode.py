"""Encoding float32 ``(channels, samples)`` arrays to WAV/FLAC (libsndfile) and MP3 (LAME, in ffmpeg or PyAV)."""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
from functools import lru_cache
from pathlib import Path

import numpy as np
import soundfile as sf

from .dsp import as_2d, check_rate, check_samples, resample

MP3_RATES = (8000, 11025, 12000, 16000, 22050, 24000, 32000, 44100, 48000)


def _atomic_write(path: Path, data: bytes | None = None) -> Path:
    """A temp file beside ``path`` (so the final rename is atomic and a crash never leaves half a file)."""
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".part", dir=path.parent)
    if data is not None:
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
    else:
        os.close(fd)
    return Path(tmp)


def encode_mp3(samples: np.ndarray, sr: int, bitrate: int = 192, quality: int | None = None) -> bytes:
    """MP3 bytes (CBR ``bitrate`` kb/s) for float ``samples`` ``(c, n)`` or ``(n,)``; more than two channels are
    averaged to mono, rates MP3 lacks become 44.1 kHz.

    The stream starts with a LAME info tag holding the encoder delay and padding, so decoders that honour it
    (FFmpeg, mpg123/libsndfile, browsers) give back exactly ``n`` samples, aligned with the input (lameenc, used
    before, wrote no tag: its files decoded 1105 samples late and up to a frame long). LAME runs in the
    ``ffmpeg`` program when it is installed, else in PyAV's FFmpeg, whose LAME build is 2-3x slower.
    ``quality`` is LAME's ``-q`` (0 best .. 9 fastest; None = LAME's default, 3).
    """
    x, sr = as_2d(check_samples(samples)), check_rate(sr)
    if x.shape[0] > 2:
        x = x.mean(axis=0, keepdims=True)
    if sr not in MP3_RATES:
        x, sr = resample(x, sr, 44100), 44100
    pcm = (np.clip(x, -1.0, 1.0) * 32767.0).round().astype("<i2")
    if (exe := _ffmpeg_with_lame()) is not None:
        return _lame_in_ffmpeg(exe, pcm, sr, bitrate, quality)
    return _lame_in_pyav(pcm, sr, bitrate, quality)


@lru_cache(maxsize=1)
def _ffmpeg_with_lame() -> str | None:
    """The ``ffmpeg`` program's path when it is installed with LAME (looked up once per process), else None."""
    exe = shutil.which("ffmpeg")
    if exe is None:
        return None
    try:
        out = subprocess.run([exe, "-hide_banner", "-encoders"], capture_output=True, text=True, timeout=30).stdout
    except (OSError, subprocess.SubprocessError):
        return None
    return exe if "libmp3lame" in out else None


def _lame_in_ffmpeg(exe: str, pcm: np.ndarray, sr: int, bitrate: int, quality: int | None) -> bytes:
    """The ``ffmpeg`` program encodes to a temporary file: its muxer seeks back to fill the info tag."""
    with tempfile.TemporaryDirectory(prefix="alchemy-mp3-") as d:
        out = os.path.join(d, "out.mp3")
        cmd = [exe, "-nostdin", "-hide_banner", "-loglevel", "error",
               "-f", "s16le", "-ar", str(sr), "-ac", str(pcm.shape[0]), "-i", "pipe:0",
               "-c:a", "libmp3lame", "-b:a", f"{int(bitrate)}k",
               *(["-compression_level", str(int(quality))] if quality is not None else []), "-y", out]
        done = subprocess.run(cmd, input=np.ascontiguousarray(pcm.T).tobytes(), capture_output=True)
        if done.returncode != 0:
            raise RuntimeError(f"ffmpeg could not encode MP3: {done.stderr.decode(errors='replace').strip()[-300:]}")
        return Path(out).read_bytes()


def _lame_in_pyav(pcm: np.ndarray, sr: int, bitrate: int, quality: int | None) -> bytes:
    import io

    import av

    buf = io.BytesIO()
    with av.open(buf, "w", format="mp3") as out:
        stream = out.add_stream("libmp3lame", rate=sr, layout="stereo" if pcm.shape[0] == 2 else "mono")
        stream.bit_rate = int(bitrate) * 1000
        stream.format = "s16p"
        if quality is not None:
            stream.codec_context.options = {"compression_level": str(int(quality))}
        frame = av.AudioFrame.from_ndarray(np.ascontiguousarray(pcm), format="s16p", layout=stream.layout.name)
        frame.sample_rate = sr
        for packet in (*stream.encode(frame), *stream.encode(None)):
            out.mux(packet)
    return buf.getvalue()


def save(path: str | Path, samples: np.ndarray, sr: int, bitrate: int = 192) -> Path:
    """Write ``samples`` ``(c, n)`` or ``(n,)`` to ``path``; the format follows the suffix (.wav/.flac/.ogg/.mp3).

    WAV is 16-bit PCM unless the data needs float; the file appears atomically (temp file + rename).
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    x = as_2d(np.asarray(samples, dtype=np.float32))
    suffix = path.suffix.lower()
    if suffix == ".mp3":
        tmp = _atomic_write(path, encode_mp3(x, sr, bitrate=bitrate))
    else:
        fmt = {".wav": "WAV", ".flac": "FLAC", ".ogg": "OGG", ".aiff": "AIFF", ".aif": "AIFF"}.get(suffix)
        if fmt is None:
            raise ValueError(f"{path}: cannot encode to {suffix or 'no suffix'}; use .wav, .flac, .ogg or .mp3")
        subtype = {"WAV": "PCM_16", "FLAC": "PCM_16", "OGG": "VORBIS", "AIFF": "PCM_16"}[fmt]
        tmp = _atomic_write(path)
        sf.write(os.fsencode(tmp), np.clip(x, -1.0, 1.0).T, sr, format=fmt, subtype=subtype)
    umask = os.umask(0)
    os.umask(umask)
    os.chmod(tmp, 0o666 & ~umask)  # mkstemp makes 0600; a saved file gets the usual permissions
    os.replace(tmp, path)
    return path
