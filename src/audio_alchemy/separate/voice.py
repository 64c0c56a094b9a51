"""Is anyone singing? The share of a song's energy that a separator puts in its vocal stem.

A good separator leaves an instrumental's vocal stem nearly silent (Spleeter: tens of dB below the mix on MUSDB
accompaniments, about -6 dB on the mixes with voice), so the vocal-to-mix energy ratio is a voice-presence cue
that costs nothing once the stems exist. A logistic curve per separator, fitted by
``python bench/voice_presence.py`` on MUSDB18 test previews (mixtures = voice, accompaniments = none), turns
it into a probability. Separators without a measured curve get no probability (``None``).
"""

from __future__ import annotations

import math

import numpy as np

# separator name -> (slope per dB, dB at p = 0.5), from `python bench/voice_presence.py` (see docs/separation.md)
# Spleeter (level-normalised windows): AUC 0.997 on MUSDB (grouped-CV accuracy 0.97), 7 of 9 demo songs right
# (held out; a waltz and a string orchestra called sung). masknet has no curve: its vocal stem keeps too much of
# other instruments (demo accuracy 0.44, piano ragtime at -2 dB). Demucs has none: not measurable here.
CALIBRATION: dict[str, tuple[float, float]] = {"spleeter": (0.376, -18.2)}


def energy_ratio_db(vocal_energy: float, mix_energy: float) -> float:
    """10 log10(vocal_energy / mix_energy), floored at -120 dB; NaN for a silent mix."""
    if not mix_energy > 0.0:
        return float("nan")
    return max(10.0 * math.log10(vocal_energy / mix_energy), -120.0) if vocal_energy > 0.0 else -120.0


def vocal_to_mix_db(vocals: np.ndarray, mix: np.ndarray) -> float:
    """:func:`energy_ratio_db` of ``vocals`` and ``mix``, both (channels, n) or (n,)."""
    return energy_ratio_db(float(np.sum(np.square(vocals, dtype=np.float64))),
                           float(np.sum(np.square(mix, dtype=np.float64))))


def voice_probability(db: float, separator: str) -> float | None:
    """P(voice) for a vocal-to-mix ratio ``db`` from ``separator`` (its name, e.g. ``spleeter``), or None when
    that separator has no measured curve or the ratio is undefined."""
    curve = CALIBRATION.get(separator.split("@", 1)[0])
    if curve is None or not math.isfinite(db):
        return None
    slope, mid = curve
    return 1.0 / (1.0 + math.exp(-slope * (db - mid)))
