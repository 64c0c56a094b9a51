"""A tiny library for the player's tests, bench and screenshot: tone songs whose stems are known exactly.

Each song is a "voice" (a vibrato melody with harmonics) plus an "accompaniment" (a chord with a bass and
noise hats); the mix is their sum, so the stems recorded with :meth:`Library.add_stem` are the true ones.
"""

from __future__ import annotations

import hashlib
from pathlib import Path

import numpy as np

from ..io import save
from ..library import Library, import_paths

SR = 22050
SONGS = (  # (artist, title, genre, melody root MIDI, chord root MIDI)
    ("Sine Sisters", "Glass Harmonica", "Pop", 72, 48),
    ("The Oscillators", "Minor Drift", "Rock", 69, 45),
    ("Sawtooth Sam", "Blue Partials", "Blues", 76, 52),
)


def _hz(m: float) -> float:
    return 440.0 * 2.0 ** ((m - 69) / 12.0)


def render_song(i: int, seconds: float, sr: int = SR) -> tuple[np.ndarray, np.ndarray]:
    """(vocals, accompaniment), each stereo float32 ``(2, n)``, for song ``i`` (deterministic)."""
    rng = np.random.default_rng(i)
    n = int(seconds * sr)
    t = np.arange(n) / sr
    _, _, _, mroot, croot = SONGS[i % len(SONGS)]
    steps = (0, 2, 4, 7, 9, 7, 4, 2)
    note = np.array([steps[int(x / 0.5) % len(steps)] for x in t]) + mroot
    f = _hz(note) * (1 + 0.006 * np.sin(2 * np.pi * 5.5 * t))
    phase = 2 * np.pi * np.cumsum(f) / sr
    voice = sum(np.sin(k * phase) / k**1.5 for k in range(1, 7)) * (0.6 + 0.4 * np.sin(2 * np.pi * 2 * t) ** 2)
    chord = sum(sum(np.sin(2 * np.pi * _hz(croot + iv) * k * t) / k**2 for k in range(1, 5)) for iv in (0, 4, 7))
    bass = np.sin(2 * np.pi * _hz(croot - 12) * t)
    hats = rng.standard_normal(n) * (np.mod(t, 0.25) < 0.03) * 0.3
    acc = 0.3 * chord + 0.4 * bass + hats
    voice, acc = 0.35 * voice / np.abs(voice).max(), 0.45 * acc / np.abs(acc).max()
    to2 = lambda x: np.stack([x, np.roll(x, 50)]).astype(np.float32)  # noqa: E731
    return to2(voice), to2(acc)


def make_sample_library(folder: str | Path, seconds: float = 4.0, n_songs: int = 3, stems: bool = True,
                        extras: bool = True) -> Path:
    """Write ``n_songs`` WAV songs (and stems) into ``folder``, import them, return the database path.

    ``extras`` adds a features row, a prediction and a mel image per song, marked as made by this fixture
    (feature set ``sample``, model ``sample-fixture``), so every panel of the page has something to show.
    """
    folder = Path(folder)
    songs_dir, stems_dir = folder / "songs", folder / "stems"
    db = folder / "library.sqlite"
    paths = []
    parts = []
    for i in range(n_songs):
        artist, title, genre, *_ = SONGS[i % len(SONGS)]
        voc, acc = render_song(i, seconds)
        p = songs_dir / f"{artist} - {title}{'' if i < len(SONGS) else f' {i}'}.wav"
        if not p.exists():
            save(p, voc + acc, SR)
        paths.append(p)
        parts.append((voc, acc, genre))
    with Library.open(db) as lib:
        summary = import_paths(lib, [str(p) for p in paths], workers=0, progress=False)
        ids = summary.track_ids
        for tid, (voc, acc, genre), p in zip(ids, parts, paths, strict=True):
            lib.update_track(tid, genre=genre)
            if stems:
                for tt, x, name in ((1, voc, "vocals"), (2, acc, "accompaniment")):
                    sp = stems_dir / f"{tid}-{name}.wav"
                    if not sp.exists():
                        save(sp, x, SR)
                    h = hashlib.sha256(x.tobytes()).hexdigest()
                    lib.add_stem(tid, tt, "sample-truth", sp, h, x.shape[1] / SR, SR, 2)
            if extras:
                _extras(lib, tid, voc + acc, genre, folder)
    return db


def _mel_filters(freqs: np.ndarray, n_mels: int) -> np.ndarray:
    """Triangular mel filters ``(n_mels, len(freqs))`` (HTK mel scale); numpy only, so the fixture stays fast."""
    to_mel = lambda f: 2595 * np.log10(1 + f / 700)  # noqa: E731
    edges = 700 * (10 ** (np.linspace(0, to_mel(freqs[-1]), n_mels + 2) / 2595) - 1)
    lo, mid, hi = edges[:-2, None], edges[1:-1, None], edges[2:, None]
    return np.maximum(0, np.minimum((freqs - lo) / (mid - lo), (hi - freqs) / (hi - mid)))


def _extras(lib: Library, tid: int, mix: np.ndarray, genre: str, folder: Path) -> None:
    """Real (if simple, numpy-only) numbers for the feature table, a labelled fixture prediction, a mel image."""
    from PIL import Image

    y = mix.mean(axis=0).astype(np.float64)
    n_fft, hop = 2048, 512
    frames = np.lib.stride_tricks.sliding_window_view(np.pad(y, n_fft // 2), n_fft)[::hop]
    S = np.abs(np.fft.rfft(frames * np.hanning(n_fft), axis=1)).T ** 2  # (bins, frames)
    freqs = np.fft.rfftfreq(n_fft, 1 / SR)
    mel = _mel_filters(freqs, 96) @ S
    log_mel = 10 * np.log10(np.maximum(mel, 1e-10))
    n = log_mel.shape[0]
    dct = np.cos(np.pi / n * (np.arange(n) + 0.5)[None, :] * np.arange(13)[:, None]) * np.sqrt(2 / n)
    mfcc = dct @ log_mel
    energy = S.sum(axis=1)
    top = np.argsort(energy)[::-1][:3]
    audible = freqs > 30
    pitch_class = np.round(12 * np.log2(freqs[audible] / 440.0)).astype(int) % 12  # 0 = A
    chroma = np.bincount(pitch_class, weights=energy[audible], minlength=12)
    keys = ("A", "A#", "B", "C", "C#", "D", "D#", "E", "F", "F#", "G", "G#")
    feats = {
        "duration": round(y.size / SR, 3),
        "key": keys[int(np.argmax(chroma))],
        "zero_crossing_rate": float(np.mean(np.abs(np.diff(np.signbit(y).astype(np.int8))))),
        "rms_energy": float(np.sqrt((frames**2).mean(axis=1)).mean()),
        "mfcc_mean": float(mfcc.mean()),
        "mfcc_std": float(mfcc.std()),
        **{f"freq_e_{k + 1}": [float(freqs[j]), float(energy[j])] for k, j in enumerate(top)},
        "track_type": 0,
    }
    lib.put_features(tid, "sample", "fixture-1", feats)
    genres = ("Pop", "Rock", "Blues", "EDM")
    scores = {g: (0.55 if g == genre else 0.15) for g in genres}
    lib.put_prediction(tid, "genre", "sample-fixture", genre, scores)
    db = log_mel - log_mel.max()
    img = (np.clip((db + 80) / 80, 0, 1) * 255).astype(np.uint8)[::-1]
    import matplotlib

    rgb = (matplotlib.colormaps["viridis"](img)[..., :3] * 255).astype(np.uint8)
    out = folder / "images"
    out.mkdir(parents=True, exist_ok=True)
    Image.fromarray(rgb).resize((img.shape[1] * 2, img.shape[0] * 2)).save(out / f"{tid}-mel_viridis.png")
    Image.fromarray(img).save(out / f"{tid}-mel_grey.png")
    lib.put_artifact(tid, "mel_viridis_png", out / f"{tid}-mel_viridis.png")
    lib.put_artifact(tid, "mel_grey_png", out / f"{tid}-mel_grey.png")
