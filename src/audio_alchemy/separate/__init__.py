"""Source separation: every song as vocals + accompaniment (the study's triplicate with the full mix).

>>> from audio_alchemy.separate import get_separator
>>> sep = get_separator("auto")            # htdemucs if its weights are on disk, else Spleeter, else our mask network
>>> stems = sep.separate(samples, sr)      # {"vocals": (c, n), "accompaniment": (c, n)} float32, same rate
"""

from .base import STEMS, SeparationError, Separator, WeightsNotFound
from .demucs_backend import DEMUCS_MODELS, DemucsSeparator, DemucsWeightsNotFound, demucs_available, load_demucs
from .registry import available_separators, get_separator

__all__ = [
    "DEMUCS_MODELS", "STEMS", "DemucsSeparator", "DemucsWeightsNotFound", "SeparationError", "Separator",
    "WeightsNotFound", "available_separators", "demucs_available", "get_separator", "load_demucs",
]
