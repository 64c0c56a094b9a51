"""Audio I/O: decode any common format to float32 ``(channels, samples)``, resample, encode.

>>> from audio_alchemy.io import load
>>> a = load("song.mp3", sr=22050, mono=True)   # a.samples.shape == (1, n)
"""

from .decode import AUDIO_SUFFIXES, Audio, AudioInfo, load, probe, require_signal, stream
from .dsp import as_2d, check_rate, check_samples, resample, to_channels, to_mono
from .encode import encode_mp3, save
from .errors import (AudioError, ChangedFile, CorruptAudio, EmptyAudio, MissingFile, NotAudioFile, SilentAudio,
                     UnsupportedFormat)

__all__ = [
    "AUDIO_SUFFIXES", "Audio", "AudioInfo", "AudioError", "ChangedFile", "CorruptAudio", "EmptyAudio", "MissingFile",
    "NotAudioFile", "SilentAudio", "UnsupportedFormat", "as_2d", "check_rate", "check_samples", "encode_mp3", "load",
    "probe", "require_signal", "resample", "save", "stream", "to_channels", "to_mono",
]
