"""A small synthetic music library, generated when no real demo audio is at hand.

Each song has chords, a bass line, drums and (when ``espeak-ng`` is installed) a spoken vocal line, with a
known key and tempo, so a fresh machine with no data still gets a working demo. Deterministic per seed.
"""

from __future__ import annotations

import shutil
import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from .io import load, save

SR = 22050
NOTE_NAMES = ("C", "C#", "D", "D#", "E", "F", "F#", "G", "G#", "A", "A#", "B")


@dataclass(frozen=True)
class SongSpec:
    """What a synthetic song is made of: key (tonic pitch class), mode, tempo, length, a line to sing."""

    title: str
    artist: str
    genre: str
    tonic: int
    minor: bool
    bpm: float
    seconds: float
    lyric: str
    language: str = "en"


DEFAULT_SONGS = (
    SongSpec("Copper Sunrise", "The Synthetic Quartet", "Pop", 0, False, 120.0, 24.0,
             "the morning light is copper and the city wakes with me"),
    SongSpec("Minor Rain", "Nadia Sine", "Rock", 9, True, 96.0, 22.0, "rain on the window, minor chords all night"),
    SongSpec("Four on the Floor", "DJ Square Wave", "EDM", 7, False, 128.0, 20.0, "move your feet, feel the beat"),
    SongSpec("Slow Blue", "Sawtooth Sam", "Blues", 4, True, 72.0, 26.0, "I woke up this morning with the blues"),
)


def _midi_hz(m: float) -> float:
    return 440.0 * 2.0 ** ((m - 69) / 12.0)


def _tone(freq: float, n: int, sr: int, harmonics: int = 4, decay: float = 3.0) -> np.ndarray:
    t = np.arange(n) / sr
    env = np.exp(-decay * t) * np.minimum(1.0, t * 200.0)
    return env * sum(np.sin(2 * np.pi * freq * k * t) / k for k in range(1, harmonics + 1))


def _drums(n: int, sr: int, bpm: float, rng: np.random.Generator) -> np.ndarray:
    out = np.zeros(n)
    beat = int(round(60.0 / bpm * sr))
    kick_n, snare_n, hat_n = int(0.15 * sr), int(0.12 * sr), int(0.04 * sr)
    tk = np.arange(kick_n) / sr
    kick = np.sin(2 * np.pi * (50 + 80 * np.exp(-tk * 30)) * tk) * np.exp(-tk * 18)
    snare = rng.standard_normal(snare_n) * np.exp(-np.arange(snare_n) / sr * 30) * 0.5
    hat = rng.standard_normal(hat_n) * np.exp(-np.arange(hat_n) / sr * 120) * 0.2
    for i, start in enumerate(range(0, n, beat)):
        for sound, at in ((kick if i % 2 == 0 else snare, start), (hat, start), (hat, start + beat // 2)):
            end = min(at + len(sound), n)
            if at < n:
                out[at:end] += sound[: end - at]
    return out


def _voice(text: str, language: str, n: int, sr: int) -> np.ndarray | None:
    """The lyric spoken by espeak-ng (None when it is not installed)."""
    exe = shutil.which("espeak-ng") or shutil.which("espeak")
    if not exe:
        return None
    with tempfile.TemporaryDirectory() as tmp:
        wav = Path(tmp) / "v.wav"
        try:
            subprocess.run([exe, "-v", language, "-s", "140", "-w", str(wav), text], check=True,
                           capture_output=True, timeout=30)
            v = load(wav, sr=sr, mono=True).mono()
        except (subprocess.SubprocessError, OSError, ValueError):
            return None
    out = np.zeros(n)
    start = int(1.0 * sr)
    while start < n - sr:
        end = min(start + len(v), n)
        out[start:end] += v[: end - start]
        start = end + int(1.5 * sr)
    return out


def render(spec: SongSpec, sr: int = SR, seed: int = 0) -> np.ndarray:
    """Render one song to stereo float32 ``(2, n)``: I-V-vi-IV (major) or i-VI-III-VII (minor) in its key."""
    rng = np.random.default_rng(seed)
    n = int(spec.seconds * sr)
    beat = 60.0 / spec.bpm
    bar = int(round(4 * beat * sr))
    root = 48 + spec.tonic
    degrees = ((0, 8, 3, 10) if spec.minor else (0, 7, 9, 5))
    third = 3 if spec.minor else 4
    chords, bass = np.zeros(n), np.zeros(n)
    for b, start in enumerate(range(0, n, bar)):
        d = degrees[b % 4]
        quality = third if d == 0 else (4 if (spec.minor and d in (8, 3, 10)) else (3 if d == 9 else 4))
        m = min(bar, n - start)
        for iv in (0, quality, 7):
            chords[start:start + m] += _tone(_midi_hz(root + 12 + d + iv), m, sr, decay=0.8)
        bass[start:start + m] += _tone(_midi_hz(root - 12 + d), m, sr, harmonics=2, decay=1.5)
    mix = 0.25 * chords + 0.35 * bass + 0.5 * _drums(n, sr, spec.bpm, rng)
    voice = _voice(spec.lyric, spec.language, n, sr)
    if voice is not None:
        mix += 0.6 * voice
    mix /= max(np.abs(mix).max(), 1e-9) / 0.8
    left, right = mix * 0.9 + 0.1 * np.roll(mix, 200), mix
    return np.stack([left, right]).astype(np.float32)


def make_library(folder: str | Path, songs: tuple[SongSpec, ...] = DEFAULT_SONGS, sr: int = SR) -> list[Path]:
    """Write the synthetic songs as FLAC files with tags into ``folder`` (skips files that exist)."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    out = []
    for i, spec in enumerate(songs):
        path = folder / f"{spec.artist} - {spec.title}.flac"
        if not path.exists():
            save(path, render(spec, sr, seed=i), sr)
            _tag(path, spec)
        out.append(path)
    return out


def _tag(path: Path, spec: SongSpec) -> None:
    from mutagen.flac import FLAC

    f = FLAC(str(path))
    f["artist"], f["title"], f["genre"], f["language"] = spec.artist, spec.title, spec.genre, spec.language
    f["comment"] = f"synthetic: key {NOTE_NAMES[spec.tonic]} {'minor' if spec.minor else 'major'}, {spec.bpm:g} BPM"
    f.save()
