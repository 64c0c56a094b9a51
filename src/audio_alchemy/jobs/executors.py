"""Executors behind :func:`audio_alchemy.jobs.run`: in-process, a local process pool, and Dask.

Each yields ``(item, ok, value)`` as results complete, keeping at most a few tasks per worker in flight so
memory stays bounded for libraries of any size.
"""

from __future__ import annotations

import concurrent.futures as cf
import multiprocessing as mp
import os
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from concurrent.futures.process import BrokenProcessPool
from typing import Any, Protocol


class WorkerCrashed(RuntimeError):
    """A worker process died while running this item (segfault, out of memory, killed)."""


class SchedulerUnavailable(RuntimeError):
    """The Dask scheduler named by ``--scheduler tcp://...`` cannot be reached: the batch cannot start."""


class Executor(Protocol):
    def start(self, fn: Callable) -> None: ...
    def map_unordered(self, fn: Callable, items: Sequence, retries: int = 1) -> Iterator[tuple[Any, bool, Any]]: ...
    def cancel(self) -> None: ...
    def close(self) -> None: ...


class InlineExecutor:
    """Runs tasks in this process, one by one: for debugging, tests and tiny batches."""

    def start(self, fn) -> None:
        pass

    def map_unordered(self, fn, items, retries=1):
        for item in items:
            try:
                yield item, True, fn(item)
            except KeyboardInterrupt:
                raise
            except Exception as exc:  # noqa: BLE001 - every task error is reported, the batch goes on
                yield item, False, exc

    def cancel(self) -> None:
        pass

    def close(self) -> None:
        pass


def _init_worker(driver: int) -> None:
    """Workers ignore SIGINT: Ctrl-C is handled once, by the driver (pid ``driver``), which then stops the pool."""
    import signal

    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.pthread_sigmask(signal.SIG_UNBLOCK, {signal.SIGINT})  # held since spawn (_sigint_held); now ignored
    # one BLAS/OpenMP thread per worker: the pool itself is the parallelism
    for var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS", "NUMBA_NUM_THREADS"):
        os.environ.setdefault(var, "1")
    _exit_with_parent(driver)  # not getppid(): a driver killed while this worker started is already gone


def _exit_with_parent(parent: int, interval: float = 1.0) -> None:
    """Leave when the driver is gone (kill -9): a spawned pool worker holds its own end of the task queue's pipe,
    so it would otherwise wait for tasks forever as an orphan."""
    import os
    import threading
    import time

    if os.getppid() != parent:  # the driver died before this worker got here
        os._exit(0)

    def watch() -> None:
        while os.getppid() == parent:
            time.sleep(interval)
        os._exit(0)

    threading.Thread(target=watch, name="exit-with-driver", daemon=True).start()


@contextmanager
def _sigint_held() -> Iterator[None]:
    """Block SIGINT while pool workers may be spawned (CPython starts them inside ``submit``).

    A child inherits the blocked mask, so a Ctrl-C while it is still importing cannot kill it with a
    KeyboardInterrupt traceback; its initializer ignores SIGINT and unblocks it. The driver receives a Ctrl-C
    pressed meanwhile when the block ends, as usual.
    """
    import signal
    import threading

    if threading.current_thread() is not threading.main_thread():
        yield
        return
    old = signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGINT})
    try:
        yield
    finally:
        signal.pthread_sigmask(signal.SIG_SETMASK, old)


class ProcessPoolExecutor:
    """A local pool of ``workers`` processes (spawned, so state never leaks from the driver)."""

    def __init__(self, workers: int):
        self.workers = max(int(workers), 1)
        self._pool: cf.ProcessPoolExecutor | None = None

    def start(self, fn) -> None:
        """Nothing to do ahead: the pool's processes start with the first tasks."""

    def _new_pool(self) -> cf.ProcessPoolExecutor:
        with _sigint_held():
            return cf.ProcessPoolExecutor(max_workers=self.workers, mp_context=mp.get_context("spawn"),
                                          initializer=_init_worker, initargs=(os.getpid(),))

    def map_unordered(self, fn, items, retries=1):
        """Submit a window of tasks; after a worker death, re-run the affected items one at a time.

        Running suspects alone pins a crash on the item that causes it, so innocent neighbours that
        happened to share the broken pool are not blamed.
        """
        pending = list(enumerate(items))[::-1]  # a stack: pop() takes the next item in order
        attempts: dict[int, int] = {}
        suspects: set[int] = set()
        self._pool = self._new_pool()
        inflight: dict[cf.Future, tuple[int, Any]] = {}
        window = self.workers * 2
        while pending or inflight:
            while pending and len(inflight) < window:
                idx, item = pending[-1]
                if suspects and (idx in suspects or any(i in suspects for i, _ in inflight.values())):
                    if inflight:  # a suspect runs alone
                        break
                pending.pop()
                with _sigint_held():
                    inflight[self._pool.submit(fn, item)] = (idx, item)
                if idx in suspects:
                    break
            done, _ = cf.wait(list(inflight), return_when=cf.FIRST_COMPLETED)
            broken = False
            for fut in done:
                idx, item = inflight.pop(fut)
                try:
                    value = fut.result()
                except BrokenProcessPool:
                    broken = True
                    if idx in suspects and len(done) == 1 and not inflight:
                        attempts[idx] = attempts.get(idx, 0) + 1
                        if attempts[idx] > retries:
                            suspects.discard(idx)
                            yield item, False, WorkerCrashed("a worker process died while processing this item")
                            continue
                    suspects.add(idx)
                    pending.append((idx, item))
                except Exception as exc:  # noqa: BLE001
                    suspects.discard(idx)
                    yield item, False, exc
                else:
                    suspects.discard(idx)
                    yield item, True, value
            if broken:
                # every in-flight future of a broken pool fails too: they become suspects, re-run alone
                for fut, (idx, item) in list(inflight.items()):
                    suspects.add(idx)
                    pending.append((idx, item))
                inflight.clear()
                self._pool = self._restart()

    def _restart(self) -> cf.ProcessPoolExecutor:
        if self._pool is not None:
            self._pool.shutdown(wait=False, cancel_futures=True)
        return self._new_pool()

    def cancel(self) -> None:
        """Stop now: drop queued tasks and terminate the workers, whose running tasks are thrown away anyway.

        Workers ignore SIGINT, so without this a Ctrl-C waited for every running task, and a second Ctrl-C
        during that wait left the interpreter joining the pool at exit for ever.
        """
        if self._pool is not None:
            procs = list((getattr(self._pool, "_processes", None) or {}).values())  # CPython's pid -> Process map
            self._pool.shutdown(wait=False, cancel_futures=True)
            for proc in procs:
                proc.terminate()
            for proc in procs:
                proc.join(timeout=5)
            self._pool = None

    def close(self) -> None:
        if self._pool is not None:
            self._pool.shutdown(wait=True, cancel_futures=True)
            self._pool = None


def make_executor(scheduler: str | None, workers: int) -> Executor:
    """``None``/"local": process pool (in-process when ``workers`` is 0); "dask" or "tcp://...": Dask."""
    if scheduler in (None, "", "local"):
        return InlineExecutor() if workers == 0 else ProcessPoolExecutor(workers)
    if scheduler == "inline":
        return InlineExecutor()
    if scheduler == "dask" or "://" in scheduler:
        from .dask_executor import DaskExecutor

        return DaskExecutor(scheduler, workers)
    raise ValueError(f"unknown scheduler {scheduler!r}: use local, dask or tcp://HOST:PORT")
