"""Audio I/O: the decode contract, windows, streaming, resampling, encoding and typed errors."""

from __future__ import annotations

import os

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from audio_alchemy import io
from conftest import music, tone


@pytest.mark.parametrize("suffix", [".wav", ".flac", ".ogg", ".mp3"])
def test_roundtrip_formats(tmp_path, suffix):
    x = tone(440.0, 1.0, 22050, channels=2)
    p = io.save(tmp_path / f"t{suffix}", x, 22050)
    a = io.load(p)
    assert a.samples.dtype == np.float32 and a.samples.ndim == 2 and a.channels == 2
    assert a.sr == 22050
    assert abs(a.duration - 1.0) < 0.1  # mp3 adds encoder padding
    spec = np.abs(np.fft.rfft(a.mono()))
    peak = np.fft.rfftfreq(a.n, 1 / a.sr)[spec.argmax()]
    assert abs(peak - 440.0) < 2.0


@pytest.mark.parametrize("lame", ["ffmpeg", "pyav"])
@pytest.mark.parametrize("sr,channels,n", [(44100, 2, 44100), (22050, 1, 12345), (8000, 1, 999), (48000, 2, 100_001)])
def test_mp3_is_gapless_same_length_and_aligned(tmp_path, monkeypatch, lame, sr, channels, n):
    """Our MP3s carry the encoder delay and padding (LAME info tag): decoding gives the input's length, unshifted,
    whether LAME runs in the ffmpeg program or in PyAV."""
    from audio_alchemy.io import encode

    if lame == "ffmpeg" and encode._ffmpeg_with_lame() is None:
        pytest.skip("no ffmpeg program with libmp3lame on this machine (PyAV's LAME is used instead)")
    if lame == "pyav":
        monkeypatch.setattr(encode, "_ffmpeg_with_lame", lambda: None)
    x = np.zeros((channels, n), np.float32)
    at, width = n // 3, min(400, n // 4)
    x[:, at:at + width] = 0.8 * np.hanning(width)  # a smooth bump, where the MP3 must put it too
    a = io.load(io.save(tmp_path / "t.mp3", x, sr), sr=None)
    assert a.samples.shape == x.shape
    lag = np.argmax(np.correlate(a.samples[0], x[0], "full")) - (n - 1)
    assert lag == 0


def test_m4a_through_pyav(tmp_path):
    av = pytest.importorskip("av")
    p = tmp_path / "t.m4a"
    x = tone(330.0, 1.0, 44100)
    with av.open(str(p), "w") as c:
        s = c.add_stream("aac", rate=44100, layout="mono")
        frame = av.AudioFrame.from_ndarray(x.astype(np.float32), format="fltp", layout="mono")
        frame.sample_rate = 44100
        for pkt in s.encode(frame):
            c.mux(pkt)
        for pkt in s.encode(None):
            c.mux(pkt)
    info = io.probe(p)
    assert info.backend == "pyav" and info.sample_rate == 44100
    a = io.load(p)
    assert abs(a.duration - 1.0) < 0.1
    spec = np.abs(np.fft.rfft(a.mono()))
    assert abs(np.fft.rfftfreq(a.n, 1 / a.sr)[spec.argmax()] - 330.0) < 2.0
    w = io.load(p, offset=0.5, duration=0.25)
    assert abs(w.duration - 0.25) < 0.03


def test_window_reads_exact_samples(tmp_path):
    x = music(4.0, 22050, seed=1)
    p = io.save(tmp_path / "m.flac", x, 22050)
    full = io.load(p)
    w = io.load(p, offset=1.0, duration=0.5)
    assert w.n == 11025
    np.testing.assert_allclose(w.samples, full.samples[:, 22050:22050 + 11025], atol=1e-6)


def test_stream_blocks_concatenate_to_load(tmp_path):
    x = music(3.0, 16000, seed=2, channels=1)
    p = io.save(tmp_path / "m.wav", x, 16000)
    blocks = list(io.stream(p, block_seconds=0.7))
    assert all(b.shape[1] <= int(0.7 * 16000) for b in blocks)
    np.testing.assert_array_equal(np.concatenate(blocks, axis=1), io.load(p).samples)


def test_resample_and_mono(tmp_path):
    x = tone(440.0, 1.0, 44100, channels=2)
    p = io.save(tmp_path / "t.wav", x, 44100)
    a = io.load(p, sr=16000, mono=True)
    assert a.sr == 16000 and a.channels == 1 and abs(a.n - 16000) <= 1


@settings(max_examples=30, deadline=None)
@given(
    sr_in=st.sampled_from([8000, 16000, 22050, 44100, 48000, 96000]),
    sr_out=st.sampled_from([8000, 16000, 22050, 44100, 48000]),
    n=st.integers(min_value=0, max_value=5000),
    channels=st.integers(min_value=1, max_value=3),
)
def test_resample_shape_property(sr_in, sr_out, n, channels):
    x = np.zeros((channels, n), dtype=np.float32)
    y = io.resample(x, sr_in, sr_out)
    assert y.dtype == np.float32 and y.shape[0] == channels
    assert abs(y.shape[1] - n * sr_out / sr_in) <= 1


@settings(max_examples=30, deadline=None)
@given(st.integers(1, 4), st.integers(1, 2000))
def test_channel_conversion_property(c, n):
    x = np.random.default_rng(c * n).standard_normal((c, n)).astype(np.float32)
    assert io.to_mono(x).shape == (n,)
    assert io.to_channels(x, 2).shape == (2, n)
    np.testing.assert_allclose(io.to_channels(x[:1], 2)[1], x[0])


def test_typed_errors_name_the_file(tmp_path):
    empty = tmp_path / "empty.wav"
    empty.write_bytes(b"")
    text = tmp_path / "notes.wav"
    text.write_text("this is not audio\n" * 20)
    folder = tmp_path / "x.mp3"
    folder.mkdir()
    with pytest.raises(io.EmptyAudio, match="empty.wav"):
        io.load(empty)
    with pytest.raises((io.UnsupportedFormat, io.CorruptAudio), match="notes.wav"):
        io.load(text)
    with pytest.raises(io.NotAudioFile, match="x.mp3"):
        io.load(folder)
    with pytest.raises(io.NotAudioFile, match="missing"):
        io.load(tmp_path / "missing.flac")


def test_truncated_flac_and_mp3(tmp_path):
    x = music(3.0, 22050, seed=3)
    for suffix in (".flac", ".mp3"):
        p = io.save(tmp_path / f"full{suffix}", x, 22050)
        data = p.read_bytes()
        cut = tmp_path / f"cut{suffix}"
        cut.write_bytes(data[: len(data) // 3])
        try:
            a = io.load(cut)
        except io.AudioError as exc:  # a clean typed error is acceptable
            assert "cut" in str(exc)
        else:  # or the decodable part, which must be shorter than the whole
            assert 0 < a.duration < 2.5


@settings(max_examples=40, deadline=None)
@given(keep=st.integers(60, 17_000), channels=st.sampled_from([1, 2]), subtype=st.sampled_from(["PCM_16", "PCM_24"]))
def test_truncated_wav_reports_what_its_header_promised(tmp_path_factory, keep, channels, subtype):
    """A WAV cut anywhere inside its data chunk: probe reads the frames that are there and the header's promise."""
    import soundfile as sf

    folder = tmp_path_factory.mktemp("wav")
    x = music(0.4, 22050, seed=4, channels=channels)  # 8,820 frames
    full = folder / "full.wav"
    sf.write(full, x.T, 22050, subtype=subtype)
    assert io.probe(full).declared_frames is None  # an intact file promises nothing extra
    data = full.read_bytes()
    cut = folder / "cut.wav"
    cut.write_bytes(data[: min(keep, len(data) - 1)])
    info = io.probe(cut)
    width = channels * (2 if subtype == "PCM_16" else 3)
    assert info.frames == (min(keep, len(data) - 1) - 44) // width
    assert info.declared_frames == x.shape[1]


def test_damaged_mp3_decoder_notes_stay_off_stderr(tmp_path, capfd, caplog):
    """libmpg123's "Illegal Audio-MPEG-Header / Trying to resync" lines name no file: they are captured (and
    logged at debug level with the file's name) instead of reaching the terminal; the audio still decodes."""
    import logging

    from audio_alchemy.io.cstderr import captured_c_stderr

    data = bytearray(io.save(tmp_path / "ok.mp3", music(3.0, 22050, seed=3), 22050).read_bytes())
    mid = len(data) // 2
    data[mid:mid + 300] = bytes(300)  # a damaged stretch in the middle: the decoder resyncs after it
    bad = tmp_path / "damaged.mp3"
    bad.write_bytes(bytes(data))
    capfd.readouterr()
    with caplog.at_level(logging.DEBUG, logger="audio_alchemy.io"):
        a = io.load(bad)
    assert a.duration > 2.0
    assert capfd.readouterr().err == ""
    assert any("damaged.mp3" in r.getMessage() and "skipped damaged data" in r.getMessage() for r in caplog.records)

    lines: list[str] = []
    with captured_c_stderr(lines):  # what is not libmpg123's is written back to the real stderr
        os.write(2, b"Note: Trying to resync...\nprogress 50%\n")
    assert lines == ["Note: Trying to resync..."]
    assert capfd.readouterr().err == "progress 50%\n"


def test_non_finite_samples_read_the_same_everywhere(tmp_path, recwarn):
    """A float WAV holding NaN/inf: streamed blocks (import's hash) and load see the same finite audio, and no
    numpy 'invalid value in cast' warning reaches the terminal."""
    import soundfile as sf

    from audio_alchemy.library.importer import identify

    x = music(1.0, 22050, seed=9)[0]
    x[100:200], x[300], x[400] = np.nan, np.inf, -np.inf
    p = tmp_path / "nan.wav"
    sf.write(p, x, 22050, subtype="FLOAT")
    streamed = np.concatenate(list(io.stream(p, block_seconds=0.1)), axis=1)
    loaded = io.load(p).samples
    assert np.isfinite(streamed).all() and np.array_equal(streamed, loaded)
    assert loaded[0, 150] == 0.0 and loaded[0, 300] == 1.0 and loaded[0, 400] == -1.0
    identify(str(p))
    assert not [w for w in recwarn if issubclass(w.category, RuntimeWarning)]
