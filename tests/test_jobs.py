"""The jobs mechanism: results reach the driver, errors do not stop the batch, a dying worker is isolated."""

from __future__ import annotations

import os

import pytest

from audio_alchemy import jobs
from audio_alchemy.io import CorruptAudio


def square(x: int) -> int:
    if x == 3:
        raise ValueError("three is not allowed")
    if x == 5:
        raise CorruptAudio(f"/music/{x}.wav", "bad header")
    return x * x


def die_on_seven(x: int) -> int:
    if x == 7:
        os._exit(1)  # a hard crash, as a segfaulting decoder would
    return x


@pytest.mark.parametrize("workers", [0, 2])
def test_results_and_errors(workers):
    got, errs = {}, {}
    s = jobs.run(range(10), square, lambda i, r: got.__setitem__(i, r), lambda i, e: errs.__setitem__(i, e),
                 workers=workers, progress=False)
    assert got == {i: i * i for i in range(10) if i not in (3, 5)}
    assert set(errs) == {3, 5} and isinstance(errs[5], CorruptAudio) and errs[5].path == "/music/5.wav"
    assert (s.done, s.failed, s.total) == (8, 2, 10)


def test_worker_crash_blames_only_the_culprit():
    got, errs = [], {}
    s = jobs.run(range(12), die_on_seven, lambda i, r: got.append(r), lambda i, e: errs.__setitem__(i, e),
                 workers=2, progress=False, retries=1)
    assert sorted(got) == [i for i in range(12) if i != 7]
    assert list(errs) == [7] and "died" in str(errs[7])
    assert s.failed == 1
