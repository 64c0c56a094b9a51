"""HTTP byte ranges (RFC 9110 §14): parse one ``Range`` header against a file size.

Pure functions, so the edge cases (suffix, open-ended, out of bounds, junk) are tested without a server.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

_SPEC = re.compile(r"^\s*(\d*)\s*-\s*(\d*)\s*$")
_HUGE = 10**18  # past any file; a longer digit string is read as this (int() refuses over 4300 digits)
MAX_RANGES = 16


def _int(digits: str) -> int | None:
    """A byte position from its digits (None when absent), capped at ``_HUGE`` without parsing absurdly long
    strings."""
    if not digits:
        return None
    digits = digits.lstrip("0") or "0"
    return int(digits) if len(digits) <= 18 else _HUGE


class RangeNotSatisfiable(ValueError):
    """No requested range overlaps the file: the server answers 416 with ``Content-Range: bytes */size``."""


@dataclass(frozen=True)
class ByteRange:
    """An inclusive byte range ``start..end`` of a file of ``size`` bytes."""

    start: int
    end: int
    size: int

    @property
    def length(self) -> int:
        return self.end - self.start + 1

    @property
    def content_range(self) -> str:
        return f"bytes {self.start}-{self.end}/{self.size}"


def parse_range(header: str | None, size: int) -> ByteRange | None:
    """The single range to serve for ``header`` on a ``size``-byte file, or None to serve the whole file (200).

    ``bytes=a-b`` (``b`` clipped to the end), ``bytes=a-`` (open-ended) and ``bytes=-n`` (the last ``n``
    bytes) give a range; a syntactically invalid header, another unit, or several ranges are ignored (the
    RFC lets a server answer 200 with the full body); a valid header none of whose ranges can be satisfied
    raises :class:`RangeNotSatisfiable` (416).
    """
    if not header:
        return None
    unit, sep, spec = header.partition("=")
    if not sep or unit.strip().lower() != "bytes":
        return None
    parts = spec.split(",")
    if len(parts) > MAX_RANGES:
        return None
    parsed: list[tuple[int | None, int | None]] = []
    for part in parts:
        m = _SPEC.match(part)
        if not m or (not m.group(1) and not m.group(2)):
            return None  # junk: ignore the whole header
        first, last = _int(m.group(1)), _int(m.group(2))
        if first is not None and last is not None and last < first:
            return None  # invalid range-spec: ignore
        parsed.append((first, last))
    satisfiable: list[ByteRange] = []
    for first, last in parsed:
        if first is not None:
            if first >= size:
                continue
            start, end = first, min(last, size - 1) if last is not None else size - 1
        else:  # a suffix: the last ``last`` bytes
            if last == 0 or size == 0:
                continue
            start, end = max(0, size - last), size - 1
        satisfiable.append(ByteRange(start, end, size))
    if not satisfiable:
        raise RangeNotSatisfiable(f"no satisfiable range in {header!r} for {size} bytes")
    if len(satisfiable) > 1:
        return None  # several ranges: serve the whole file rather than multipart/byteranges
    return satisfiable[0]
