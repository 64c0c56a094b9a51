"""HTTP Range parsing: the pure function behind 206/416 (properties with hypothesis, and the RFC examples)."""

import pytest
from hypothesis import given
from hypothesis import strategies as st

from audio_alchemy.web.ranges import RangeNotSatisfiable, parse_range


@pytest.mark.parametrize(
    "header,size,expected",
    [
        ("bytes=0-499", 10000, (0, 499)),
        ("bytes=500-999", 10000, (500, 999)),
        ("bytes=-500", 10000, (9500, 9999)),  # suffix: the last 500 bytes
        ("bytes=9500-", 10000, (9500, 9999)),  # open-ended
        ("bytes=0-", 10000, (0, 9999)),
        ("bytes=0-0", 10000, (0, 0)),
        ("bytes=-1", 10000, (9999, 9999)),
        ("bytes=9990-20000", 10000, (9990, 9999)),  # end clipped to the file
        ("bytes=-20000", 10000, (0, 9999)),  # suffix longer than the file: all of it
        ("BYTES = 1-2", 10, (1, 2)),
    ],
)
def test_single_ranges(header, size, expected):
    r = parse_range(header, size)
    assert (r.start, r.end) == expected
    assert r.length == expected[1] - expected[0] + 1
    assert r.content_range == f"bytes {expected[0]}-{expected[1]}/{size}"


@pytest.mark.parametrize("header", [None, "", "bytes", "bytes=", "bytes=abc", "items=0-1", "bytes=5-3", "bytes=-",
                                    "bytes=0-1,4-5", "bytes=1-2-3", "bytes=0x10-20"])
def test_ignored_headers_mean_whole_file(header):
    assert parse_range(header, 100) is None


@pytest.mark.parametrize("header,size", [("bytes=100-", 100), ("bytes=100-200", 100), ("bytes=-0", 100),
                                         ("bytes=0-", 0), ("bytes=-5", 0), ("bytes=1000-,2000-", 100)])
def test_unsatisfiable(header, size):
    with pytest.raises(RangeNotSatisfiable):
        parse_range(header, size)


@given(size=st.integers(1, 10**12), a=st.integers(0, 10**12), b=st.integers(0, 10**12))
def test_range_within_file(size, a, b):
    lo, hi = min(a, b), max(a, b)
    header = f"bytes={lo}-{hi}"
    if lo >= size:
        with pytest.raises(RangeNotSatisfiable):
            parse_range(header, size)
        return
    r = parse_range(header, size)
    assert 0 <= r.start <= r.end < size and r.start == lo and r.end == min(hi, size - 1)


@given(size=st.integers(1, 10**12), n=st.integers(1, 10**13))
def test_suffix_is_the_tail(size, n):
    r = parse_range(f"bytes=-{n}", size)
    assert r.end == size - 1 and r.length == min(n, size)


@given(st.text(max_size=40))
def test_never_crashes_on_junk(text):
    try:
        r = parse_range(text, 1000)
    except RangeNotSatisfiable:
        return
    assert r is None or 0 <= r.start <= r.end < 1000


@given(first=st.integers(0, 10**12), zeros=st.integers(0, 5000), nines=st.integers(19, 5000))
def test_absurdly_long_numbers_are_positions_past_the_end(first, zeros, nines):
    """int() refuses strings over 4300 digits (that was a 500): long positions clip like any past-the-end one,
    and leading zeros do not change a number."""
    huge = "9" * nines
    r = parse_range(f"bytes={first}-{huge}", 10**13)
    assert (r.start, r.end) == (first, 10**13 - 1)
    assert parse_range(f"bytes=-{huge}", 100).length == 100
    with pytest.raises(RangeNotSatisfiable):
        parse_range(f"bytes={huge}-", 100)
    r = parse_range(f"bytes={'0' * zeros}{first}-", 10**13)
    assert r.start == first
