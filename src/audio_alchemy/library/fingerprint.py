"""Content identity of audio: an exact PCM hash and a coarse spectral fingerprint, both computed while streaming.

The exact hash (sha256 of the decoded 16-bit PCM and its rate/channel layout) unites byte-different files with
the same samples (a WAV and a FLAC of it, or one file at two paths). Lossy copies (the MP3 of a WAV) decode to
different samples, so a fingerprint catches them: mono at 8 kHz, 0.5-s frames, 16 log-spaced band energies
(100 Hz - 3.6 kHz) in dB; two tracks match when their durations agree and the band envelopes, each with its
own mean removed, correlate above a threshold.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass

import numpy as np
import soxr

FP_RATE = 8000
FP_FRAME = 4000  # 0.5 s
FP_BANDS = 16
FP_MAX_FRAMES = 360  # the first 3 minutes are plenty to tell songs apart
MATCH_THRESHOLD = 0.9

_edges = np.geomspace(100.0, 3600.0, FP_BANDS + 1)
_freqs = np.fft.rfftfreq(FP_FRAME, 1.0 / FP_RATE)
_band_of_bin = np.digitize(_freqs, _edges) - 1  # -1 / FP_BANDS are outside the range


@dataclass
class Identity:
    """The streaming result: exact hash, fingerprint (frames, bands) float16, and what was decoded."""

    content_hash: str
    fingerprint: np.ndarray
    frames: int
    sample_rate: int
    channels: int

    @property
    def duration(self) -> float:
        return self.frames / self.sample_rate if self.sample_rate else 0.0


class IdentityBuilder:
    """Feed ``(channels, n)`` float32 blocks in order; :meth:`finish` returns the :class:`Identity`."""

    def __init__(self, sample_rate: int, channels: int):
        self.sr, self.channels = sample_rate, channels
        self.sha = hashlib.sha256(f"pcm16:{sample_rate}:{channels}:".encode())
        self.frames = 0
        self._rs = soxr.ResampleStream(sample_rate, FP_RATE, 1, dtype="float32", quality="LQ")
        self._buf = np.zeros(0, dtype=np.float32)
        self._rows: list[np.ndarray] = []

    def update(self, block: np.ndarray) -> None:
        pcm = (np.clip(block, -1.0, 1.0) * 32767.0).round().astype("<i2")
        self.sha.update(np.ascontiguousarray(pcm.T).tobytes())
        self.frames += block.shape[1]
        if len(self._rows) < FP_MAX_FRAMES:
            self._consume(self._rs.resample_chunk(block.mean(axis=0).astype(np.float32)))

    def _consume(self, mono8k: np.ndarray) -> None:
        buf = np.concatenate([self._buf, mono8k])
        n = len(buf) // FP_FRAME
        if n:
            frames = buf[: n * FP_FRAME].reshape(n, FP_FRAME)
            spec = np.abs(np.fft.rfft(frames * np.hanning(FP_FRAME), axis=1)) ** 2
            valid = (_band_of_bin >= 0) & (_band_of_bin < FP_BANDS)
            bands = np.zeros((n, FP_BANDS))
            for b in range(FP_BANDS):
                bands[:, b] = spec[:, valid & (_band_of_bin == b)].sum(axis=1)
            self._rows.append(10.0 * np.log10(bands + 1e-10))
        self._buf = buf[n * FP_FRAME :]

    def finish(self) -> Identity:
        if len(self._rows) < FP_MAX_FRAMES:
            self._consume(self._rs.resample_chunk(np.zeros(0, np.float32), last=True))
        fp = np.concatenate(self._rows)[:FP_MAX_FRAMES] if self._rows else np.zeros((0, FP_BANDS))
        return Identity(self.sha.hexdigest(), fp.astype(np.float16), self.frames, self.sr, self.channels)


def fingerprint_similarity(a: np.ndarray, b: np.ndarray) -> float:
    """Correlation of two fingerprints' mean-removed band envelopes over their common frames (-1..1; 0 if too short)."""
    n = min(len(a), len(b))
    if n < 4:
        return 0.0
    x = np.asarray(a[:n], dtype=np.float64)
    y = np.asarray(b[:n], dtype=np.float64)
    x = np.maximum(x, x.max() - 80.0)  # ignore differences far below the loudest band (codec noise floor)
    y = np.maximum(y, y.max() - 80.0)
    x -= x.mean(axis=0)
    y -= y.mean(axis=0)
    den = np.sqrt((x * x).sum() * (y * y).sum())
    return float((x * y).sum() / den) if den > 0 else 0.0


def to_blob(fp: np.ndarray) -> bytes:
    return np.asarray(fp, dtype=np.float16).tobytes()


def from_blob(blob: bytes | None) -> np.ndarray:
    if not blob:
        return np.zeros((0, FP_BANDS), dtype=np.float16)
    return np.frombuffer(blob, dtype=np.float16).reshape(-1, FP_BANDS)
