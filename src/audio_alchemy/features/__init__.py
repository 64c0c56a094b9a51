"""Feature engine: the study's Table 1 (``seed``) computed fast, a richer ``full`` set, images, WAV-vs-MP3.

>>> from audio_alchemy.features import extract
>>> feats = extract(samples, sr, feature_set="seed", track_type=0)   # dict of JSON-able values

Modules: ``frontend`` (one STFT/mel), ``spectral``, ``rhythm``, ``tonal``, ``pitch``, ``loudness``, ``stats``,
``sets`` (named sets, key list in its docstring), ``reference`` (the study's slow librosa code),
``images`` (log-mel arrays and PNGs), ``compare`` (WAV vs MP3), ``gtzan`` (57-feature vector),
``batch`` (library job).
"""

from .sets import FEATURE_SETS, VERSION, extract, extract_file

__all__ = ["FEATURE_SETS", "VERSION", "extract", "extract_file"]
