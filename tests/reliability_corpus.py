"""Helpers for the reliability tests: short source clips and a seeded mutator that breaks them in realistic ways.

Sources are 0.5-1.5 s clips cut from the demo recordings (``$AUDIO_ALCHEMY_DATA/demo``), or synthetic notes
when the data is absent. The mutator is deterministic per seed; every output says which mutation made it and
whether that mutation is *certainly* undecodable (``must_fail``): bit flips or a truncated tail may still
decode, so only mutations that leave no audio at all are held to "must be an error row".
"""

from __future__ import annotations

import random
import struct
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from audio_alchemy import config, io

SR = 16000
FORMATS = ("wav", "flac", "ogg")


@dataclass(frozen=True)
class Sample:
    path: Path
    mutation: str
    must_fail: bool  # no decodable audio can be in this file
    pristine: bool  # an unmodified source clip: must become a track


def source_clips(n: int, seed: int = 0, min_s: float = 0.5, max_s: float = 1.5) -> list[np.ndarray]:
    """``n`` mono float32 clips (shape ``(1, k)``, SR Hz) cut at seeded offsets from the demo audio (or synthesised)."""
    rng = np.random.default_rng(seed)
    demo = config.data_path("demo")
    songs: list[np.ndarray] = []
    if demo is not None:
        for p in sorted(demo.glob("*.ogg"))[:6]:
            try:
                songs.append(io.load(p, sr=SR, mono=True, duration=40.0).samples)
            except io.AudioError:
                continue
    clips = []
    for i in range(n):
        length = int(rng.uniform(min_s, max_s) * SR)
        if songs:
            s = songs[i % len(songs)]
            start = int(rng.integers(0, max(s.shape[1] - length, 1)))
            clip = s[:, start:start + length].copy()
            clip += (1e-3 * rng.standard_normal(clip.shape)).astype(np.float32)  # distinct content per clip
        else:
            t = np.arange(length) / SR
            f = 110.0 * 2 ** (rng.integers(0, 36, size=4) / 12)
            clip = sum(np.sin(2 * np.pi * fi * t) * np.exp(-3 * t) for fi in f)[np.newaxis]
            clip += 0.01 * rng.standard_normal(clip.shape)
        clip = clip / max(float(np.abs(clip).max()), 1e-6) * 0.8
        clips.append(clip.astype(np.float32))
    return clips


def write_sources(folder: Path, n: int, seed: int = 0) -> list[Path]:
    """Write ``n`` distinct clips as wav/flac/ogg (cycling) into ``folder``; returns their paths."""
    folder.mkdir(parents=True, exist_ok=True)
    out = []
    for i, clip in enumerate(source_clips(n, seed)):
        p = folder / f"src{i:04d}.{FORMATS[i % len(FORMATS)]}"
        io.save(p, clip, SR)
        out.append(p)
    return out


# -- mutations: bytes in, bytes out (plus "certainly undecodable?") ----------------------------------------------
def _truncate(b: bytes, r: random.Random) -> tuple[bytes, bool]:
    keep = r.choice([0.02, 0.1, 0.3, 0.6, 0.9])
    cut = max(int(len(b) * keep), 1)
    return b[:cut], cut <= 44  # a WAV cut inside its header has no audio


def _bitflip(b: bytes, r: random.Random) -> tuple[bytes, bool]:
    a = bytearray(b)
    for _ in range(r.choice([1, 8, 64, 512])):
        i = r.randrange(len(a))
        a[i] ^= 1 << r.randrange(8)
    return bytes(a), False


def _header_flip(b: bytes, r: random.Random) -> tuple[bytes, bool]:
    a = bytearray(b)
    for _ in range(r.choice([1, 4, 16])):
        i = r.randrange(min(len(a), 64))
        a[i] = r.randrange(256)
    return bytes(a), False


def _zero_bytes(b: bytes, r: random.Random) -> tuple[bytes, bool]:
    return b"", True


def _all_zeros(b: bytes, r: random.Random) -> tuple[bytes, bool]:
    return bytes(len(b)), True


def _random_header(b: bytes, r: random.Random) -> tuple[bytes, bool]:
    n = r.choice([4, 12, 44, 256])
    return r.randbytes(n) + b[n:], False


def _random_bytes(b: bytes, r: random.Random) -> tuple[bytes, bool]:
    return r.randbytes(r.choice([1, 100, 4096, len(b)])), True


def _text(b: bytes, r: random.Random) -> tuple[bytes, bool]:
    return b"<html><body>404 Not Found</body></html>\n" * r.randint(1, 50), True


def _huge_sizes(b: bytes, r: random.Random) -> tuple[bytes, bool]:
    """Declare absurd sizes: RIFF/data chunk sizes near 4 GiB (WAV) or 2^36-1 total samples (FLAC STREAMINFO)."""
    a = bytearray(b)
    if a[:4] == b"RIFF":
        a[4:8] = struct.pack("<I", 0xFFFFFFF0)
        i = a.find(b"data")
        if i >= 0:
            a[i + 4:i + 8] = struct.pack("<I", r.choice([0xFFFFFFF0, 0x7FFFFFFF, 0]))
        fmt = a.find(b"fmt ")
        if fmt >= 0 and r.random() < 0.5:
            a[fmt + 10:fmt + 12] = struct.pack("<H", r.choice([0, 1024, 65535]))  # channel count
    elif a[:4] == b"fLaC" and len(a) > 8 + 18:
        # STREAMINFO: 4 bytes block header, then ... 20 bits rate, 3 ch, 5 bps, 36 bits total samples at offset 8+13
        total = (1 << 36) - 1
        si = 8
        a[si + 13] = (a[si + 13] & 0xF0) | ((total >> 32) & 0x0F)
        a[si + 14:si + 18] = struct.pack(">I", total & 0xFFFFFFFF)
        if r.random() < 0.5:
            a[si + 2:si + 4] = b"\xff\xff"  # max block size
    else:  # ogg: a page with a huge segment table claim
        i = a.find(b"OggS", 4)
        if i >= 0 and i + 27 < len(a):
            a[i + 26] = 255
    return bytes(a), False


MUTATIONS = {
    "truncate": _truncate, "bitflip": _bitflip, "header_flip": _header_flip, "zero_bytes": _zero_bytes,
    "all_zeros": _all_zeros, "random_header": _random_header, "random_bytes": _random_bytes, "text": _text,
    "huge_sizes": _huge_sizes,
}
WRONG_EXT = ("mp3", "wav", "flac", "ogg", "m4a", "opus", "aiff")


def mutate_corpus(sources: list[Path], out: Path, n: int, seed: int = 0, pristine_every: int = 8) -> list[Sample]:
    """Write ``n`` files into ``out``: every ``pristine_every``-th a renamed copy of a source, the rest mutated.

    A third of the mutated files also get a wrong extension. Deterministic for a given seed and sources.
    """
    r = random.Random(seed)
    out.mkdir(parents=True, exist_ok=True)
    raw = [p.read_bytes() for p in sources]
    names = sorted(MUTATIONS)
    samples = []
    for i in range(n):
        k = r.randrange(len(sources))
        ext = sources[k].suffix.lstrip(".")
        if i % pristine_every == 0:
            data, mutation, must_fail, pristine = raw[k], "none", False, True
        else:
            mutation = r.choice(names)
            data, must_fail = MUTATIONS[mutation](raw[k], r)
            pristine = False
            if r.random() < 0.33:
                ext = r.choice([e for e in WRONG_EXT if e != ext])
                mutation += "+wrong_ext"
        p = out / f"f{i:05d}_{mutation.replace('+', '_')}.{ext}"
        p.write_bytes(data)
        samples.append(Sample(p, mutation, must_fail, pristine))
    return samples


# -- comparing two libraries ---------------------------------------------------------------------------------------
def snapshot(db_path) -> dict:
    """Everything a batch decides, keyed by content (not row ids, which may differ between runs)."""
    import sqlite3

    con = sqlite3.connect(f"file:{db_path}?mode=ro", uri=True)
    try:
        h = dict(con.execute("SELECT id, content_hash FROM tracks"))
        tracks = sorted(con.execute(
            "SELECT content_hash, track_type, duration, sample_rate, channels, artist, title, album, genre, year, "
            "language, extra FROM tracks"))
        files = sorted((p, h[t], f, s, a) for t, p, f, s, a in con.execute(
            "SELECT track_id, path, format, size, audio_hash FROM files"))
        errors = sorted(con.execute("SELECT stage, item, kind, message FROM errors"))
        features = sorted((h[t], fs, v, d) for t, fs, v, d in con.execute(
            "SELECT track_id, feature_set, version, data FROM features"))
        return {"tracks": tracks, "files": files, "errors": errors, "features": features}
    finally:
        con.close()


def duplicates(db_path) -> dict[str, int]:
    """Rows that should be unique but are not (0 everywhere in a healthy library)."""
    import sqlite3

    con = sqlite3.connect(f"file:{db_path}?mode=ro", uri=True)
    q = {
        "tracks": "SELECT count(*) - count(DISTINCT content_hash) FROM tracks",
        "files": "SELECT count(*) - count(DISTINCT raw_path) FROM files",
        "errors": "SELECT count(*) FROM (SELECT stage, item FROM errors GROUP BY 1, 2 HAVING count(*) > 1)",
        "features": "SELECT count(*) FROM (SELECT track_id, feature_set FROM features GROUP BY 1, 2 HAVING count(*) > 1)",
    }
    try:
        return {k: con.execute(v).fetchone()[0] for k, v in q.items()}
    finally:
        con.close()
