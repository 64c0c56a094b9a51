"""Typed audio errors; every one names the file so a batch can log one clear line and go on."""

from __future__ import annotations

from pathlib import Path


def error_line(path: object, exc: BaseException | str) -> str:
    """``"<path>: <message>"`` on one line, without repeating the path when the message already names it."""
    text = " ".join(str(exc).split())
    return text if str(path) in text else f"{path}: {text}"


class AudioError(Exception):
    """Base class: something is wrong with one audio file. ``str(err)`` is a one-line message."""

    kind = "audio_error"

    def __init__(self, path: str | Path, reason: str):
        self.path = str(path)
        self.reason = " ".join(str(reason).split())  # one line, always
        super().__init__(f"{self.path}: {self.reason}")

    def __reduce__(self):  # survive the trip from a worker process back to the driver
        return (type(self), (self.path, self.reason))


class UnsupportedFormat(AudioError):
    """Neither libsndfile nor FFmpeg (PyAV) recognises the file as audio."""

    kind = "unsupported_format"


class CorruptAudio(AudioError):
    """The container is recognised but decoding fails (truncated, bit rot, bad header)."""

    kind = "corrupt_audio"


class EmptyAudio(AudioError):
    """The file decodes to zero samples (or is zero bytes long)."""

    kind = "empty_audio"


class SilentAudio(AudioError):
    """The file decodes, but to silence or to a blip too short for a recogniser to say anything about."""

    kind = "silent_audio"


class NotAudioFile(AudioError):
    """The path is not a readable regular file: a directory, a broken link, no permission."""

    kind = "not_a_file"


class MissingFile(NotAudioFile):
    """A library track's file is gone from disk."""

    kind = "missing_file"


class ChangedFile(NotAudioFile):
    """A library track's file changed size since import: it no longer holds the audio the library knows."""

    kind = "changed_file"
