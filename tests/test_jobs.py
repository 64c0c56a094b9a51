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


DRIVER = """
import os, time
from audio_alchemy import jobs

def slow(x):
    os.write(1, f"{os.getpid()}\\n".encode())  # one write: the two workers' lines must not interleave
    time.sleep(60)
    return x

if __name__ == "__main__":
    try:
        jobs.run([1, 2], slow, lambda *a: None, workers=2, progress=False)
    except KeyboardInterrupt:
        print("interrupted", flush=True)
"""


def _start_driver(tmp_path):
    """A driver running two 60-s tasks on a pool of two; returns (driver process, the two worker pids)."""
    import subprocess
    import sys

    script = tmp_path / "driver.py"
    script.write_text(DRIVER)
    driver = subprocess.Popen([sys.executable, str(script)], stdout=subprocess.PIPE, text=True)
    return driver, [int(driver.stdout.readline()) for _ in range(2)]  # each worker prints its pid at its task


def _gone(pid: int, within: float) -> bool:
    import time

    deadline = time.time() + within
    while True:
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return True
        if time.time() > deadline:
            return False
        time.sleep(0.2)


@pytest.mark.timeout(60)
def test_ctrl_c_stops_the_pool_at_once(tmp_path):
    """Ctrl-C of the driver ends the batch in seconds, not when the running tasks end, and no worker lingers."""
    import signal
    import time

    driver, workers = _start_driver(tmp_path)
    t0 = time.time()
    os.kill(driver.pid, signal.SIGINT)
    out, _ = driver.communicate(timeout=30)
    assert "interrupted" in out and driver.returncode == 0
    assert time.time() - t0 < 15, "the driver waited for the running tasks"
    assert all(_gone(pid, 0) for pid in workers)


@pytest.mark.timeout(60)
def test_pool_worker_exits_when_the_driver_is_killed(tmp_path):
    """kill -9 of the driver leaves no orphaned pool worker behind (it would wait for tasks forever)."""
    import signal

    driver, workers = _start_driver(tmp_path)
    os.kill(driver.pid, signal.SIGKILL)
    driver.wait()
    left = [pid for pid in workers if not _gone(pid, 10)]
    for pid in left:
        os.kill(pid, signal.SIGKILL)
    assert not left, "a pool worker outlived its killed driver by 10 s"


def test_worker_whose_driver_died_during_start_up_exits_at_once():
    """A worker told its driver's pid leaves at once when that driver is already gone (kill -9 during worker
    start-up once left orphans: the worker took its new parent, init, for the driver)."""
    import subprocess
    import sys
    import time

    code = ("from audio_alchemy.jobs.executors import _exit_with_parent; import time; "
            "_exit_with_parent(2**22 + 12345); time.sleep(30)")  # no such process is our parent
    t0 = time.time()
    done = subprocess.run([sys.executable, "-c", code], timeout=20)
    assert done.returncode == 0 and time.time() - t0 < 10


STARTING_DRIVER = """
import time
import librosa, scipy.signal  # slow imports: each spawned worker spends a while starting up
from audio_alchemy import jobs

def slow(x):
    time.sleep(5)
    return x

if __name__ == "__main__":
    try:
        jobs.run([1, 2, 3, 4], slow, lambda *a: None, workers=2, progress=False)
    except KeyboardInterrupt:
        print("interrupted", flush=True)
"""


@pytest.mark.timeout(120)
@pytest.mark.skipif(not os.path.exists(f"/proc/{os.getpid()}/task/{os.getpid()}/children"), reason="needs /proc children")
def test_ctrl_c_while_workers_start_prints_no_worker_tracebacks(tmp_path):
    """Ctrl-C reaches the whole process group; workers still importing used to die with KeyboardInterrupt
    tracebacks on the terminal. They now start with SIGINT held, so only the driver reacts."""
    import signal
    import subprocess
    import sys
    import time

    script = tmp_path / "driver.py"
    script.write_text(STARTING_DRIVER)
    for delay in (0.0, 0.1, 0.2, 0.4):
        d = subprocess.Popen([sys.executable, str(script)], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                             start_new_session=True)
        t0 = time.time()
        while time.time() - t0 < 30 and len(open(f"/proc/{d.pid}/task/{d.pid}/children").read().split()) < 2:
            time.sleep(0.005)
        time.sleep(delay)
        os.killpg(d.pid, signal.SIGINT)
        out, err = d.communicate(timeout=60)
        assert "interrupted" in out, (delay, out, err)
        assert "Traceback" not in err, (delay, err)


def test_interrupted_batch_leaves_an_interrupted_job_row(tmp_path):
    """Ctrl-C mid-batch: the job row says interrupted, with what was committed and the files that were missing."""
    from audio_alchemy.library import Library

    def stop_at_two(x: int) -> int:
        if x == 2:
            raise KeyboardInterrupt
        return x

    lib = Library.open(tmp_path / "lib.sqlite")
    job_id = lib.start_job("test", total=3)
    with pytest.raises(KeyboardInterrupt):
        lib.run_job(job_id, lambda: jobs.run([1, 2, 3], stop_at_two, lambda i, r: None, workers=0, progress=False),
                    missing=["/music/gone.wav: file not found"], skipped=4)
    row = lib.jobs()[0]
    assert (row["status"], row["n_done"], row["n_failed"], row["n_skipped"]) == ("interrupted", 1, 1, 4)
    lib.close()
