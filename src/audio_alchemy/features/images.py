"""Log-mel spectrogram arrays and images (grey and viridis) as the study's CNNs used, deterministic.

Fixed format, whatever the clip length:

* array: 128 mel bands (Slaney, 0-11025 Hz) x frames at 22.05 kHz / hop 512, power in dB relative to
  the clip's maximum, clipped to [-80, 0] dB, saved as ``.npz`` (``log_mel`` float16 (128, frames),
  ``sr``, ``hop``, ``db_range``);
* images: ``IMAGE_SIZE`` = 256 x 128 pixels (width = time, resampled bilinearly; height = mel band, low
  frequencies at the bottom), -80 dB -> 0 and 0 dB -> 255; grey is 8-bit ``L``, viridis is 8-bit RGB
  through matplotlib's viridis table. PNGs carry no timestamps, so equal input gives equal bytes.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from .frontend import HOP, SR, Frontend, analyze

IMAGE_SIZE = (256, 128)  # (width, height) in pixels
DB_RANGE = (-80.0, 0.0)


def log_mel(fe: Frontend) -> np.ndarray:
    """``(128, frames)`` float32 log-mel in dB re the clip maximum, clipped to ``DB_RANGE``."""
    mel = fe.mel.T
    ref = float(mel.max()) if mel.size else 0.0
    if ref <= 0:
        return np.full(mel.shape, DB_RANGE[0], dtype=np.float32)
    db = 10.0 * np.log10(np.maximum(mel, ref * 1e-10) / ref)
    return np.clip(db, *DB_RANGE).astype(np.float32)


def to_pixels(db: np.ndarray, size: tuple[int, int] = IMAGE_SIZE) -> np.ndarray:
    """dB array ``(bands, frames)`` -> uint8 ``(height, width)``, low frequencies at the bottom row."""
    from PIL import Image

    lo, hi = DB_RANGE
    x = np.round((np.clip(db, lo, hi) - lo) / (hi - lo) * 255.0).astype(np.uint8)[::-1]
    if x.shape[1] == 0:
        x = np.zeros((x.shape[0], 1), np.uint8)
    return np.asarray(Image.fromarray(x, mode="L").resize(size, Image.Resampling.BILINEAR))


def grey_image(pixels: np.ndarray):
    from PIL import Image

    return Image.fromarray(pixels, mode="L")


def viridis_image(pixels: np.ndarray):
    from matplotlib import colormaps
    from PIL import Image

    lut = (colormaps["viridis"](np.arange(256))[:, :3] * 255).round().astype(np.uint8)
    return Image.fromarray(lut[pixels], mode="RGB")


def save_images(samples: np.ndarray, sr: int, out_stem: str | Path, fe: Frontend | None = None) -> dict[str, str]:
    """Write ``<stem>.mel.npz``, ``<stem>.grey.png``, ``<stem>.viridis.png``; returns ``{kind: path}``.

    Kinds: ``mel_npz``, ``mel_grey_png``, ``mel_viridis_png`` (artifact kinds of the library schema).
    """
    fe = fe if fe is not None else analyze(samples, sr)
    out_stem = Path(out_stem)
    out_stem.parent.mkdir(parents=True, exist_ok=True)
    db = log_mel(fe)
    px = to_pixels(db)
    paths = {"mel_npz": out_stem.with_name(out_stem.name + ".mel.npz"),
             "mel_grey_png": out_stem.with_name(out_stem.name + ".grey.png"),
             "mel_viridis_png": out_stem.with_name(out_stem.name + ".viridis.png")}
    np.savez_compressed(paths["mel_npz"], log_mel=db.astype(np.float16), sr=SR, hop=HOP, db_range=np.array(DB_RANGE))
    grey_image(px).save(paths["mel_grey_png"], format="PNG", optimize=False)
    viridis_image(px).save(paths["mel_viridis_png"], format="PNG", optimize=False)
    return {k: str(v) for k, v in paths.items()}
