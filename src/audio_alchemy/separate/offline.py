"""Offline separators: need nothing downloaded.

- ``masknet``: our small mask U-Net, weights shipped in the package (the default offline backend);
- ``repet``: REPET-SIM, librosa's nearest-neighbour-filter recipe with soft masks (no training at all);
- ``hpss``: harmonic-percussive separation + vocal band + centre-panning masks (crude, fast).
"""

from __future__ import annotations

import hashlib
from pathlib import Path

import numpy as np

from . import masknet
from .base import SeparationError, Separator, WeightsNotFound


class MaskNetSeparator(Separator):
    """Our mask U-Net (~0.5 M parameters each) on the 22.05 kHz STFT; accompaniment = mix - vocals.

    By default every shipped weight file (``weights/masknet*.pt``) is loaded and their masks are averaged;
    ``weights`` may name one file or a list of files instead. ``power`` (default: a single file's stored mask
    power, 1 for an ensemble) and ``swap_channels`` are :func:`masknet.separate_22k`'s inference options.
    """

    name = "masknet"
    sample_rate = masknet.SR
    residual_accompaniment = True
    chunk_seconds = 30.0
    context_seconds = 2.0

    def __init__(self, weights: str | Path | list[str | Path] | None = None, threads: int | None = None,
                 power: float | None = None, swap_channels: bool = False) -> None:
        if weights is None:
            paths = masknet.default_weight_files() or [masknet.DEFAULT_WEIGHTS]
        elif isinstance(weights, (list, tuple)):
            paths = [Path(w) for w in weights]
        else:
            paths = [Path(weights)]
        for path in paths:
            if not path.is_file():
                raise WeightsNotFound(f"mask network weights not found at {path}; re-train them with "
                                      f"`python scripts/train_separator.py --out {path}`")
        self.weights = paths
        digest = hashlib.sha256()
        for path in paths:
            digest.update(path.read_bytes())
        options = (f"-p{power:g}" if power is not None else "") + ("-swap" if swap_channels else "")
        self.version = "1-" + digest.hexdigest()[:8] + options
        self.threads = threads
        self._model = None
        self.meta: dict = {}
        self.power = power  # None: resolved at load time (a single file's stored mask power, 1 for an ensemble)
        self.swap_channels = swap_channels

    def _load(self):
        if self._model is None:
            loaded = [masknet.load_weights(p) for p in self.weights]
            self._model = [m for m, _ in loaded]
            self.meta = loaded[0][1] if len(loaded) == 1 else {"members": [meta for _, meta in loaded]}
            if self.power is None:
                self.power = float(loaded[0][1].get("mask_power", 1.0)) if len(loaded) == 1 else 1.0
        return self._model

    def _separate_stereo(self, x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        model = self._load()
        if self.threads:
            import torch

            torch.set_num_threads(self.threads)
        voc = masknet.separate_22k(model, x, power=self.power, swap_channels=self.swap_channels)
        return voc, x - voc


class RepetSimSeparator(Separator):
    """REPET-SIM (Rafii & Pardo 2012) as in librosa's vocal separation example: the repeating background is
    the median of each frame's nearest neighbours (cosine, >= 2 s apart); soft masks with margins 2 / 10."""

    name = "repet"
    version = "1"
    sample_rate = 22050
    uses_numba = True  # librosa's nearest-neighbour filter
    chunk_seconds = 60.0
    context_seconds = 0.0  # frames are treated independently apart from the neighbour search

    def _separate_stereo(self, x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        import librosa

        n = x.shape[1]
        spec = librosa.stft(x, n_fft=2048, hop_length=512)  # (2, F, T)
        mag = np.abs(spec)
        mono = mag.mean(axis=0)
        width = int(librosa.time_to_frames(2, sr=self.sample_rate, hop_length=512))
        if mono.shape[1] <= 2 * width + 1:
            width = max(1, mono.shape[1] // 3)
        try:
            rep = librosa.decompose.nn_filter(mono, aggregate=np.median, metric="cosine", width=width)
        except Exception as exc:  # librosa raises ParameterError on degenerate (too short) input
            raise SeparationError(f"REPET-SIM failed: {exc}") from exc
        rep = np.minimum(mono, rep)
        mask_v = librosa.util.softmask(mono - rep, 10 * rep, power=2)
        voc = librosa.istft(spec * mask_v[None], hop_length=512, length=n).astype(np.float32)
        return voc, x - voc


class HpssVocalSeparator(Separator):
    """Harmonic-percussive split, then keep the harmonic energy that is centre-panned and in 150 Hz–7 kHz."""

    name = "hpss"
    version = "1"
    sample_rate = 22050
    uses_numba = True  # librosa's decomposition helpers
    chunk_seconds = 60.0
    context_seconds = 1.0

    def _separate_stereo(self, x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        import librosa

        n = x.shape[1]
        spec = librosa.stft(x, n_fft=2048, hop_length=512)
        mid = np.abs(spec.mean(axis=0))
        side = np.abs(0.5 * (spec[0] - spec[1]))
        harm, perc = librosa.decompose.hpss(mid, kernel_size=(17, 31), power=2.0, mask=False)
        m_h = librosa.util.softmask(harm, perc, power=2)
        centre = mid**2 / (mid**2 + side**2 + 1e-12)
        freqs = librosa.fft_frequencies(sr=self.sample_rate, n_fft=2048)
        band = ((freqs > 150) & (freqs < 7000)).astype(np.float32)[:, None]
        mask = m_h * centre * band
        voc = librosa.istft(spec * mask[None], hop_length=512, length=n).astype(np.float32)
        return voc, x - voc
