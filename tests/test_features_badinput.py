"""Bad and unusual input has defined behaviour: silence, 0.2 s, clipping/DC, mono vs stereo, 8 and 96 kHz."""

from __future__ import annotations

import json

import numpy as np
import pytest

from audio_alchemy.features import extract
from audio_alchemy.features.sets import FEATURE_SETS

SR = 22050


def tone(freq=440.0, seconds=3.0, sr=SR, amp=0.5):
    t = np.arange(int(seconds * sr)) / sr
    return (amp * np.sin(2 * np.pi * freq * t)).astype(np.float32)


def strict_json(d):
    return json.loads(json.dumps(d, allow_nan=False))


@pytest.mark.parametrize("fs", FEATURE_SETS)
def test_silence_gives_none_not_nan(fs):
    f = extract(np.zeros(3 * SR, np.float32), SR, fs)
    strict_json(f)
    assert f["fundamental_freq"] is None
    assert f["key"] is None and f["tempo"] is None and f["freq_e_1"] is None
    assert f["rms_energy"] == 0.0 and f["zero_crossing_rate"] == 0.0
    assert f["duration"] == 3.0


@pytest.mark.parametrize("fs", FEATURE_SETS)
def test_short_clip_0_2_s(fs):
    f = extract(tone(seconds=0.2), SR, fs)
    strict_json(f)
    assert f["duration"] == pytest.approx(0.2, abs=1 / SR)
    assert f["tempo"] is None  # < 2 s: no tempo, by definition
    assert f["fundamental_freq"] == pytest.approx(440, abs=2)


def test_clipped_and_dc_offset_are_finite_and_f0_survives():
    x = np.clip(tone(amp=3.0), -1, 1)
    f = extract(x, SR, "full")
    strict_json(f)
    assert f["fundamental_freq"] == pytest.approx(440, abs=2)
    g = extract(tone() + 0.3, SR, "full")
    strict_json(g)
    assert g["fundamental_freq"] == pytest.approx(440, abs=2)
    assert g["mean"] == pytest.approx(0.3, abs=1e-3)


def test_nan_samples_are_zeroed_not_propagated():
    x = tone()
    x[100:200] = np.nan
    strict_json(extract(x, SR, "full"))


def test_mono_equals_identical_stereo():
    x = tone(330.0)
    m = extract(x, SR)
    s = extract(np.stack([x, x]), SR)
    for k in m:
        assert s[k] == pytest.approx(m[k], rel=1e-5) if isinstance(m[k], float) else s[k] == m[k], k


@pytest.mark.parametrize("sr", [8000, 96000])
def test_other_sample_rates(sr):
    f = extract(tone(440.0, 2.0, sr), sr, "full")
    strict_json(f)
    assert f["fundamental_freq"] == pytest.approx(440.0, abs=1.0)
    assert f["duration"] == pytest.approx(2.0, abs=1 / SR)
    assert abs(f["freq_e_1"] - 440) <= SR / 2048


def test_empty_and_unknown_set_raise():
    with pytest.raises(ValueError):
        extract(np.zeros(0, np.float32), SR)
    with pytest.raises(ValueError):
        extract(tone(), SR, "nope")


def test_extract_refuses_arrays_it_would_misread():
    """(n, channels) arrays and integer PCM would give plausible-looking garbage (a 45-µs duration, an RMS of
    2000): refused with a message that says how to fix the call."""
    import numpy as np

    from audio_alchemy.features import extract

    x = (0.1 * np.random.default_rng(0).standard_normal((2, 22050))).astype(np.float32)
    with pytest.raises(ValueError, match="transpose"):
        extract(x.T, 22050)
    with pytest.raises(ValueError, match="int16"):
        extract((x * 32767).astype(np.int16), 22050)
    assert extract(x, 22050)["duration"] == pytest.approx(1.0)


def test_implausible_sample_rates_are_refused_before_any_work():
    """sr=1 (or True) once made extract resample 3 s to 1.5 G samples and use 20 GB; every API that takes a rate
    now says what is wrong with it first."""
    from audio_alchemy.io import load, resample
    from audio_alchemy.models import Recognizer
    from audio_alchemy.separate import get_separator
    from audio_alchemy.separate.base import SeparationError

    x = tone(seconds=0.5)
    for bad in (1, True, 0, -22050, None, "22050", 22050.5, float("inf"), float("nan"), 10**7):
        with pytest.raises(ValueError, match="sample rate"):
            extract(x, bad)
        with pytest.raises(ValueError, match="sample rate"):
            resample(x, SR, bad)
        with pytest.raises(SeparationError, match="sample rate"):
            get_separator("offline").separate(x, bad)
    with pytest.raises(ValueError, match="sample rate"):
        Recognizer.predict_audio(None, x, 1)  # checked before the model is touched
    assert extract(x, 22050.0)["duration"] == pytest.approx(0.5)  # a whole number as float is fine
    assert extract(x, np.int64(SR))["duration"] == pytest.approx(0.5)


def test_separator_and_recognizer_refuse_arrays_they_would_misread():
    from audio_alchemy.models import Recognizer
    from audio_alchemy.separate import get_separator
    from audio_alchemy.separate.base import SeparationError

    x = (0.1 * np.random.default_rng(0).standard_normal((2, 22050))).astype(np.float32)
    sep = get_separator("offline")
    for bad, msg in ((x.T, "transpose"), ((x * 32767).astype(np.int16), "int16"), (np.zeros(0, np.float32), "no samples")):
        with pytest.raises(SeparationError, match=msg):
            sep.separate(bad, SR)
        with pytest.raises(ValueError, match=msg):
            Recognizer.predict_audio(None, bad, SR)
    ten = np.repeat(x[:1], 10, axis=0)  # a real 10-channel file (7.1.2, ambisonics) is not a mistake
    assert sep.separate(ten, SR)["vocals"].shape == ten.shape


def test_long_files_are_analysed_over_their_first_minutes_and_say_so(tmp_path):
    """Memory grows with length (a 1-hour file once took 4 GB for seed, 11 GB for full): past ``max_seconds`` only
    the start is analysed, ``analysed_seconds`` says how much, and ``duration`` stays the whole file's."""
    import soundfile as sf

    from audio_alchemy.features.sets import analyse_file

    p = tmp_path / "long.wav"
    sf.write(p, tone(seconds=6.0), SR)
    for fs in ("seed", "full"):
        feats, audio, _ = analyse_file(p, fs, max_seconds=4.0)
        assert audio.duration == pytest.approx(4.0)
        assert feats["analysed_seconds"] == pytest.approx(4.0) and feats["duration"] == pytest.approx(6.0)
        short, _, _ = analyse_file(p, fs, max_seconds=10.0)
        assert "analysed_seconds" not in short and short["duration"] == pytest.approx(6.0)
    assert feats["duration_ms"] == 6000


def test_files_at_unusual_rates_are_analysed_and_absurd_ones_refused_by_name(tmp_path):
    """800 Hz and 1 MHz files are real (infrasound, ultrasound) and still work; a header claiming 50 Hz is
    refused as an AudioError naming the file, not a ValueError deep inside the resampler."""
    import soundfile as sf

    from audio_alchemy.features.sets import analyse_file
    from audio_alchemy.io import AudioError, encode_mp3, load

    for rate in (800, 1_000_000):
        p = tmp_path / f"r{rate}.wav"
        sf.write(p, 0.3 * np.sin(2 * np.pi * 50 * np.arange(3 * rate) / rate).astype(np.float32), rate)
        feats, audio, _ = analyse_file(p, "seed")
        assert feats["duration"] == pytest.approx(3.0, abs=0.01) and audio.sr == rate
        assert encode_mp3(audio.samples, audio.sr)[:3] in (b"ID3", b"\xff\xfb", b"\xff\xf3")
    bad = tmp_path / "r50.wav"
    sf.write(bad, np.zeros(500, np.float32), 50)
    with pytest.raises(AudioError, match="r50.wav.*50 Hz"):
        load(bad)
