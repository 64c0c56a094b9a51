"""MP3 encoding speed: LAME in the ``ffmpeg`` program (what ``encode_mp3`` uses when it is installed) vs LAME in
PyAV's bundled FFmpeg (the fallback), on the same audio in one run; lameenc (the old encoder, no gapless tag)
too when it is installed.

    python bench/mp3_encode.py                 # 60 s of stereo noise at 44.1 kHz, 192 kb/s, best of 3
    python bench/mp3_encode.py --seconds 300

Prints seconds per run of each, whether each decodes back to the input's length, and last a line
``speedup_vs_pyav: <N>x``. Not a test.
"""

from __future__ import annotations

import argparse
import time


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--seconds", type=float, default=60.0)
    ap.add_argument("--repeat", type=int, default=3)
    args = ap.parse_args(argv)

    import tempfile
    from pathlib import Path

    import numpy as np

    from audio_alchemy.io import encode, load

    sr = 44100
    x = (0.1 * np.random.default_rng(0).standard_normal((2, int(args.seconds * sr)))).astype(np.float32)
    pcm = (np.clip(x, -1.0, 1.0) * 32767.0).round().astype("<i2")
    ways = {"pyav": lambda: encode._lame_in_pyav(pcm, sr, 192, None)}
    if (exe := encode._ffmpeg_with_lame()) is not None:
        ways["ffmpeg"] = lambda: encode._lame_in_ffmpeg(exe, pcm, sr, 192, None)
    try:
        import lameenc

        def old() -> bytes:
            e = lameenc.Encoder()
            e.set_bit_rate(192)
            e.set_in_sample_rate(sr)
            e.set_channels(2)
            e.set_quality(2)
            return bytes(e.encode(np.ascontiguousarray(pcm.T).tobytes()) + e.flush())

        ways["lameenc (old, q2)"] = old
    except ImportError:
        pass
    best = {}
    with tempfile.TemporaryDirectory() as d:
        for name, fn in ways.items():
            times = []
            for _ in range(args.repeat):
                t0 = time.perf_counter()
                data = fn()
                times.append(time.perf_counter() - t0)
            best[name] = min(times)
            p = Path(d) / "x.mp3"
            p.write_bytes(data)
            n = load(p).n
            print(f"{name:20s} {best[name]:6.2f} s for {args.seconds:g} s of stereo  "
                  f"decodes to {n} samples ({'same length' if n == x.shape[1] else f'{n - x.shape[1]:+d}'})")
    if "ffmpeg" not in best:
        print("no ffmpeg program with libmp3lame here: encode_mp3 uses PyAV")
        return 0
    print(f"speedup_vs_pyav: {best['pyav'] / best['ffmpeg']:.2f}x")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
