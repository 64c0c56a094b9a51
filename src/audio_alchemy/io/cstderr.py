"""Keep a C library's chatter off the terminal: libsndfile's MP3 decoder (libmpg123) prints "Note: Illegal
Audio-MPEG-Header ... Trying to resync" straight to file descriptor 2 on damaged MP3s, naming no file.

``captured_c_stderr()`` points fd 2 at a temporary file for the duration of one C call, gives the lines back to
the caller (who can name the file), and writes anything else that arrived meanwhile (say, a progress bar's
refresh from another thread) back to the real stderr. Nested and concurrent uses share one redirection.
"""

from __future__ import annotations

import contextlib
import logging
import os
import re
import sys
import tempfile
import threading
from collections.abc import Iterator

log = logging.getLogger("audio_alchemy.io")

# libmpg123's own lines: "Note: ...", "Warning: ...", "[src/libmpg123/layer3.c:123] error: ..."
_MPG123_LINE = re.compile(rb"^(Note|Warning|Error): |^\[src/libmpg123/[^\]]*\]")

_lock = threading.Lock()
_depth = 0
_saved_fd: int | None = None
_tmp = None


@contextlib.contextmanager
def captured_c_stderr(lines: list[str]) -> Iterator[None]:
    """Run the body with fd 2 captured; libmpg123's lines are appended to ``lines``, the rest re-emitted."""
    global _depth, _saved_fd, _tmp
    with _lock:
        if _depth == 0:
            try:
                sys.stderr.flush()
            except (AttributeError, ValueError, OSError):
                pass
            try:
                _tmp = tempfile.TemporaryFile()
                _saved_fd = os.dup(2)
                os.dup2(_tmp.fileno(), 2)
            except OSError:  # no fd 2 (daemonised) or out of descriptors: run uncaptured
                if _tmp is not None:
                    _tmp.close()
                _tmp, _saved_fd = None, None
        _depth += 1
    try:
        yield
    finally:
        with _lock:
            _depth -= 1
            if _depth == 0 and _saved_fd is not None and _tmp is not None:
                os.dup2(_saved_fd, 2)
                os.close(_saved_fd)
                _tmp.seek(0)
                data = _tmp.read()
                _tmp.close()
                _tmp, _saved_fd = None, None
                other = []
                for raw in data.splitlines(keepends=True):
                    if _MPG123_LINE.match(raw):
                        lines.append(raw.decode("utf-8", "replace").strip())
                    else:
                        other.append(raw)
                if other:
                    with contextlib.suppress(OSError):
                        os.write(2, b"".join(other))


def note_decoder_messages(path: object, lines: list[str]) -> None:
    """Log what the decoder said about ``path`` (debug level: damaged frames were skipped, decoding went on)."""
    if lines:
        log.debug("%s: the MP3 decoder skipped damaged data (%s%s)", path, lines[0],
                  f"; {len(lines) - 1} more message(s)" if len(lines) > 1 else "")
