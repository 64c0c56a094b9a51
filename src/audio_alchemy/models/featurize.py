"""Segment-level inputs for the recognisers: one row (or tensor) per fixed-length window of a track.

Every model sees a track as a stack of windows (3 s by default, hop 1.5 s; shorter audio is
repeat-padded to one window), so the same model handles 2-s excerpts and full songs and a clip's
prediction is the mean of its windows' probabilities (soft voting).

Kinds of input (``FeatureSpec.kind``):
- ``musicnn``: pretrained musicnn embeddings (PyTorch port, packaged weights; no download);
- ``mfcc``: hand-crafted timbre statistics per window (MFCC, spectral shape, chroma, ZCR, RMS);
- ``mel``: log-mel patches ``(frames, mels)`` for the CNN;
- ``grey`` / ``viridis``: the study's mel-spectrogram images (``(1|3, 128, 128)`` in [0, 1]).
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np

from .. import config

MFCC_SR = 22050


@dataclass(frozen=True)
class FeatureSpec:
    """What a model reads from audio; saved with the model so prediction computes the same thing."""

    kind: str = "musicnn"
    segment_seconds: float = 3.0
    hop_seconds: float = 1.5
    params: dict = field(default_factory=dict)  # e.g. {"model": "MSD_musicnn", "output": "penultimate"}

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, d: dict) -> FeatureSpec:
        return cls(kind=d["kind"], segment_seconds=float(d["segment_seconds"]), hop_seconds=float(d["hop_seconds"]),
                   params=dict(d.get("params") or {}))

    def key(self) -> str:
        return hashlib.sha1(json.dumps(self.to_dict(), sort_keys=True).encode()).hexdigest()[:16]


def load_rate(spec: FeatureSpec) -> int:
    """The sample rate a spec decodes audio at."""
    if spec.kind == "musicnn":
        from .embeddings.musicnn import SR

        return SR
    return int(spec.params.get("sr", MFCC_SR))


def windows(y: np.ndarray, sr: int, seconds: float, hop_seconds: float) -> np.ndarray:
    """(n,) mono -> (w, seconds*sr) windows with the given hop; short input repeat-padded to one window."""
    n = int(round(seconds * sr))
    hop = max(1, int(round(hop_seconds * sr)))
    if len(y) == 0:
        raise ValueError("empty audio")
    if len(y) < n:
        y = np.tile(y, int(np.ceil(n / len(y))))[:n]
    starts = range(0, len(y) - n + 1, hop)
    return np.stack([y[s:s + n] for s in starts])


def _mfcc_frames(y: np.ndarray, sr: int) -> np.ndarray:
    """(frames, 62) frame-level timbre features: 20 MFCC, centroid, bandwidth, rolloff, 7 contrast bands,
    12 chroma, ZCR, RMS... computed once per track (one STFT) and pooled per window by :func:`_mfcc_pool`.
    """
    import librosa

    S = np.abs(librosa.stft(y, n_fft=2048, hop_length=512)) ** 2
    mag = np.sqrt(S)
    mel = librosa.feature.melspectrogram(S=S, sr=sr)
    parts = [
        librosa.feature.mfcc(S=librosa.power_to_db(mel), n_mfcc=20),
        librosa.feature.spectral_centroid(S=mag, sr=sr),
        librosa.feature.spectral_bandwidth(S=mag, sr=sr),
        librosa.feature.spectral_rolloff(S=mag, sr=sr),
        librosa.feature.spectral_contrast(S=mag, sr=sr),
        librosa.feature.chroma_stft(S=S, sr=sr),
        librosa.feature.zero_crossing_rate(y, frame_length=2048, hop_length=512),
        librosa.feature.rms(S=mag, frame_length=2048),
    ]
    n = min(p.shape[1] for p in parts)
    return np.concatenate([p[:, :n] for p in parts]).T.astype(np.float32)


def _mfcc_pool(frames: np.ndarray, sr: int, seconds: float, hop_seconds: float) -> np.ndarray:
    """Mean and std of frame features over each window (same window grid as :func:`windows`)."""
    fps = sr / 512
    n = max(1, int(round(seconds * fps)))
    hop = max(1, int(round(hop_seconds * fps)))
    if len(frames) < n:
        frames = np.tile(frames, (int(np.ceil(n / len(frames))), 1))[:n]
    starts = range(0, len(frames) - n + 1, hop)
    return np.stack([np.r_[frames[s:s + n].mean(axis=0), frames[s:s + n].std(axis=0)] for s in starts])


def _mel_window(w: np.ndarray, sr: int, n_mels: int = 96) -> np.ndarray:
    """(frames, n_mels) log-mel (dB, clipped to 80 dB below the max, scaled to ~[-1, 1])."""
    import librosa

    mel = librosa.feature.melspectrogram(y=w, sr=sr, n_fft=1024, hop_length=512, n_mels=n_mels)
    db = librosa.power_to_db(mel, ref=np.max, top_db=80.0)
    return ((db + 40.0) / 40.0).T.astype(np.float32)


def _image_window(w: np.ndarray, sr: int, colour: str, size: int = 128) -> np.ndarray:
    """The study's image input: mel dB rendered grey (1, size, size) or viridis (3, size, size) in [0, 1]."""
    from PIL import Image

    db = _mel_window(w, sr, n_mels=128).T  # (mels, frames), ~[-1, 1]
    norm = np.clip((db + 1.0) / 2.0, 0.0, 1.0)[::-1]  # low frequencies at the bottom, as plotted
    img = Image.fromarray((norm * 255).astype(np.uint8)).resize((size, size), Image.BILINEAR)
    g = np.asarray(img, dtype=np.float32) / 255.0
    if colour == "grey":
        return g[None]
    from matplotlib import colormaps

    return np.moveaxis(colormaps["viridis"](g)[..., :3], -1, 0).astype(np.float32)


def segment_inputs(samples: np.ndarray, sr: int, spec: FeatureSpec) -> np.ndarray:
    """Audio (n,) or (channels, n) at ``sr`` (already at :func:`load_rate`) -> per-window model inputs.

    Returns (w, d) for ``musicnn``/``mfcc``, (w, frames, mels) for ``mel``, (w, c, 128, 128) for images.
    """
    y = np.asarray(samples, dtype=np.float32)
    if y.ndim == 2:
        y = y.mean(axis=0)
    if spec.kind == "musicnn":
        from .embeddings import musicnn

        mel = musicnn.log_mel(y, sr)
        hop = max(1, int(round(spec.hop_seconds * musicnn.SR / musicnn.HOP)))
        batch = musicnn.patches(mel, n_frames=musicnn.PATCH_FRAMES, hop=hop)
        models = spec.params.get("models") or [spec.params.get("model", "MSD_musicnn")]
        out = spec.params.get("output", "penultimate")
        return np.concatenate([musicnn.embed_patches(batch, m)[out] for m in models], axis=1)
    if spec.kind == "mfcc":
        n = int(round(spec.segment_seconds * sr))
        if len(y) < n:  # repeat-pad short audio in the signal domain, as the other kinds do
            y = np.tile(y, int(np.ceil(n / max(len(y), 1))))[:n]
        return _mfcc_pool(_mfcc_frames(y, sr), sr, spec.segment_seconds, spec.hop_seconds)
    wins = windows(y, sr, spec.segment_seconds, spec.hop_seconds)
    if spec.kind == "mel":
        return np.stack([_mel_window(w, sr, int(spec.params.get("n_mels", 96))) for w in wins])
    if spec.kind in ("grey", "viridis"):
        return np.stack([_image_window(w, sr, spec.kind) for w in wins])
    raise ValueError(f"unknown feature kind {spec.kind!r}")


def cache_dir() -> Path:
    """Where per-file segment inputs are cached (``$AUDIO_ALCHEMY_HOME/cache/models``)."""
    return config.home() / "cache" / "models"


def file_inputs(path: str | Path, spec: FeatureSpec, use_cache: bool = True,
                max_seconds: float | None = None) -> np.ndarray:
    """Decode a file at the spec's rate and return :func:`segment_inputs`; cached by path, size, mtime, spec.

    Raises ``audio_alchemy.io.AudioError`` (naming the file) for unreadable audio.
    """
    from ..io import NotAudioFile, load, require_signal

    p = Path(path)
    try:
        st = p.stat()
    except OSError as exc:
        raise NotAudioFile(p, exc.strerror or str(exc)) from None  # as io.load says it
    key = hashlib.sha1(f"{p.resolve()}|{st.st_size}|{st.st_mtime_ns}|{spec.key()}|{max_seconds}".encode()).hexdigest()
    cached = cache_dir() / f"{key}.npy"
    if use_cache and cached.exists():
        try:
            return np.load(cached)
        except (OSError, ValueError):
            pass
    audio = require_signal(load(p, sr=load_rate(spec), mono=True, duration=max_seconds), p)
    x = segment_inputs(audio.samples[0], audio.sr, spec)
    if use_cache:
        try:
            cached.parent.mkdir(parents=True, exist_ok=True)
            tmp = cached.with_suffix(".tmp.npy")
            np.save(tmp, x)
            tmp.replace(cached)
        except OSError:
            pass
    return x
