"""The separator interface: audio array + rate in, named stems (vocals, accompaniment) out.

Every backend implements :meth:`Separator._separate_stereo` on stereo audio at its own rate; the base class
handles the contract around it: up to 64 channels (mono is duplicated, the output has the input's channels),
any rate (resampled to the model rate and back), silence, very short input, and long input processed in
overlapping chunks so working memory stays bounded.
"""

from __future__ import annotations

from abc import ABC, abstractmethod

import numpy as np

from audio_alchemy.io import as_2d, check_rate, check_samples, resample

STEMS = ("vocals", "accompaniment")


class SeparationError(RuntimeError):
    """Separation could not run (bad input, model cannot load)."""


class WeightsNotFound(SeparationError, FileNotFoundError):
    """Model weights are not on this machine; the message says how to get them."""


def _crossfade_weights(n: int, left: int, right: int) -> np.ndarray:
    """Weights for a chunk of ``n`` samples with linear ramps of ``left``/``right`` samples at its edges."""
    w = np.ones(n, dtype=np.float32)
    if left:
        w[:left] = (np.arange(left, dtype=np.float32) + 0.5) / left
    if right:
        w[n - right:] = np.minimum(w[n - right:], (np.arange(right, 0, -1, dtype=np.float32) - 0.5) / right)
    return w


def chunk_spans(n: int, chunk: int, context: int) -> list[tuple[int, int, int, int]]:
    """Windows ``(start, stop, fade_in, fade_out)`` covering ``[0, n)``: cores of ``chunk`` samples each
    widened by ``context`` on both sides (clipped at the ends); neighbours overlap by ``2 * context``."""
    context = min(context, chunk // 2)  # ramps of 2*context at both ends of a window must not overlap
    if n <= chunk + 2 * context:
        return [(0, n, 0, 0)]
    spans = []
    for core in range(0, n, chunk):
        a, b = max(core - context, 0), min(core + chunk + context, n)
        spans.append((a, b, 2 * context if a > 0 else 0, 2 * context if b < n else 0))
    # merge a tiny last core into the previous window so no window is shorter than the context
    if len(spans) > 1 and spans[-1][1] - spans[-1][0] < 4 * context:
        a = spans[-2][0]
        spans = spans[:-2] + [(a, n, spans[-2][2], 0)]
    return spans


class Separator(ABC):
    """Split a mix into ``{"vocals", "accompaniment"}``: ``(channels, n)`` arrays at the input's rate and length (a
    mono ``(n,)`` input gives ``(1, n)``; stereo and multichannel keep their channels).

    Subclasses set ``name``, ``version``, ``sample_rate`` (the model rate) and implement
    :meth:`_separate_stereo`. ``residual_accompaniment`` makes accompaniment = input - vocals at the input
    rate, so the stems sum to the input exactly (and nothing above the model's band is lost).
    """

    name: str = "separator"
    version: str = "0"
    sample_rate: int = 44100
    residual_accompaniment: bool = True
    uses_numba: bool = False  # JIT-compiled code inside: run once in the driver before parallel workers
    chunk_seconds: float = 60.0
    context_seconds: float = 2.0

    @abstractmethod
    def _separate_stereo(self, x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """``(2, n)`` float32 at ``self.sample_rate`` -> ``(vocals, accompaniment)``, each ``(2, n)``."""

    @property
    def id(self) -> str:
        """``name@version``: the cache key of this separator's output."""
        return f"{self.name}@{self.version}"

    def rebuild_args(self, model_dir: str | None) -> tuple[str, str | None]:
        """``(name, model_dir)`` for :func:`get_separator` to build this same separator in a worker process
        (``auto`` must resolve once, in the driver)."""
        return self.name, model_dir

    def separate(self, samples: np.ndarray, sr: int) -> dict[str, np.ndarray]:
        """Separate float32 ``(channels, n)`` (or ``(n,)``) audio at ``sr`` Hz into vocals and accompaniment."""
        try:
            x, sr = as_2d(check_samples(samples)).astype(np.float32, copy=False), check_rate(sr)
        except ValueError as exc:
            raise SeparationError(str(exc)) from None
        channels, n = x.shape
        if not np.isfinite(x).all():
            x = np.nan_to_num(x, nan=0.0, posinf=1.0, neginf=-1.0)
        if not np.any(x):
            return {"vocals": np.zeros_like(x), "accompaniment": x.copy()}
        stereo = x if channels == 2 else np.repeat(x.mean(axis=0, keepdims=True), 2, axis=0)
        model_x = resample(stereo, sr, self.sample_rate) if sr != self.sample_rate else stereo
        voc, acc = self._chunked(np.ascontiguousarray(model_x, dtype=np.float32))
        if sr != self.sample_rate:
            voc = _fit(resample(voc, self.sample_rate, sr), n)
            acc = _fit(resample(acc, self.sample_rate, sr), n)
        if channels != 2:
            voc = np.repeat(voc.mean(axis=0, keepdims=True), channels, axis=0)
            acc = np.repeat(acc.mean(axis=0, keepdims=True), channels, axis=0)
        voc = voc.astype(np.float32, copy=False)
        acc = (x - voc) if self.residual_accompaniment else acc.astype(np.float32, copy=False)
        return {"vocals": voc, "accompaniment": acc}

    def _chunked(self, x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Run :meth:`_separate_stereo` on overlapping windows and cross-fade them (bounded working memory)."""
        n = x.shape[1]
        spans = chunk_spans(n, int(self.chunk_seconds * self.sample_rate), int(self.context_seconds * self.sample_rate))
        if len(spans) == 1:
            return self._separate_stereo(x)
        voc = np.zeros_like(x)
        acc = np.zeros_like(x)
        for a, b, fin, fout in spans:
            v, c = self._separate_stereo(x[:, a:b])
            w = _crossfade_weights(b - a, fin, fout)
            voc[:, a:b] += v * w
            acc[:, a:b] += c * w
        return voc, acc


def _fit(y: np.ndarray, n: int) -> np.ndarray:
    """Trim or zero-pad the last axis to ``n`` samples (resampling round trips can be off by one)."""
    if y.shape[-1] >= n:
        return y[..., :n]
    return np.pad(y, ((0, 0), (0, n - y.shape[-1])))
