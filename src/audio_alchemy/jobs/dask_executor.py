"""The Dask back-end of :func:`audio_alchemy.jobs.run`: the same task functions on a LocalCluster or a remote cluster.

``"dask"`` starts a ``distributed.LocalCluster`` on this machine (``workers`` processes, one thread each, no
dashboard, bound to 127.0.0.1); ``"tcp://HOST:PORT"`` connects to a running scheduler. Tasks are submitted in a
bounded window (two per worker thread) and come back through ``as_completed``, so a 50,000-song run never holds
50,000 futures. Results travel to the driver, which alone writes the database.

Failures: an exception raised by the task is caught *on the worker* and returned as a value, so a bad file is
reported once and never retried (it would fail again). A lost worker (killed, out of memory) is handled by the
scheduler, which re-runs that worker's tasks elsewhere up to ``distributed.scheduler.allowed-failures`` times;
if a task still ends in ``KilledWorker`` (or is lost with the connection) the driver resubmits it up to
``retries`` times, then reports :class:`~audio_alchemy.jobs.executors.WorkerCrashed` for that item.
"""

from __future__ import annotations

import contextlib
import functools
import logging
import os
import pickle
import uuid
from collections.abc import Callable, Iterator, Sequence
from typing import Any

from .executors import SchedulerUnavailable, WorkerCrashed


class RemoteTaskError(Exception):
    """Stands in for a task exception that could not be pickled back to the driver; keeps its kind and message."""

    def __init__(self, kind: str, message: str):
        self.kind = kind
        self.message = message
        super().__init__(message)

    def __reduce__(self):
        return (type(self), (self.kind, self.message))


def _rebuild(cls: type, args: tuple, state: dict) -> BaseException:
    """Driver side: recreate an exception without calling its ``__init__`` (whose signature may differ from args)."""
    exc = cls.__new__(cls)
    exc.args = args
    exc.__dict__.update(state)
    return exc


class _PortableError:
    """Carries an exception whose own pickling fails (custom ``__init__``): class, args and attributes."""

    def __init__(self, exc: BaseException):
        self.exc = exc

    def __reduce__(self):
        return (_rebuild, (type(self.exc), self.exc.args, dict(self.exc.__dict__)))


def _portable(exc: BaseException) -> Any:
    """An exception in a form that survives the trip to the driver with its class, message and attributes."""
    try:
        pickle.loads(pickle.dumps(exc))
        return exc
    except Exception:  # noqa: BLE001
        pass
    try:
        pickle.loads(pickle.dumps(_PortableError(exc)))
        return _PortableError(exc)
    except Exception:  # noqa: BLE001 - class or attributes unpicklable: send kind and text
        kind = getattr(exc, "kind", type(exc).__name__)
        return RemoteTaskError(str(kind), f"{type(exc).__name__}: {exc}")


def _call(fn: Callable[[Any], Any], item: Any) -> tuple[bool, Any]:
    """Worker side: run one task and return ``(ok, value_or_exception)``; exceptions never escape (no retry)."""
    try:
        return True, fn(item)
    except Exception as exc:  # noqa: BLE001 - a task error is a result: reported once, the batch goes on
        return False, _portable(exc)


MALLOC_VAR = "MALLOC_TRIM_THRESHOLD_"


@contextlib.contextmanager
def _environ_kept() -> Iterator[None]:
    """Restore this process's environment afterwards: the nanny writes its worker settings into ``os.environ``
    before spawning, and local pools started later in the same process would inherit them."""
    saved = dict(os.environ)
    try:
        yield
    finally:
        for k in set(os.environ) - set(saved):
            del os.environ[k]
        os.environ.update(saved)


BASE_PRELOAD = ("distributed", "numpy")


def _preload_for(fn: Callable | None) -> tuple[str, ...]:
    """The task function's module when it is one of ours (imported once in the forkserver, not in every worker);
    other modules are left to the workers: a module that fails at import would take the forkserver down."""
    while isinstance(fn, functools.partial):
        fn = fn.func
    mod = getattr(fn, "__module__", None)
    return (mod,) if isinstance(mod, str) and mod.startswith("audio_alchemy.") else ()


def local_cluster(workers: int, preload: Sequence[str] = ()) -> Any:
    """A ``distributed.LocalCluster`` as ``--scheduler dask`` starts it: ``workers`` processes of one thread each,
    bound to 127.0.0.1, no dashboard, without the nanny's ``MALLOC_TRIM_THRESHOLD_``, and worker processes forked
    from a preloaded forkserver.

    Dask's nanny exports ``MALLOC_TRIM_THRESHOLD_=65536`` to its workers (and into this process's environment).
    Setting it at all switches off glibc's dynamic mmap threshold, so every array over 128 KiB is mmap'ed and
    unmapped again on each allocation: the features task made 6.6x the page faults and ran 1.5-2x slower than in
    a local pool worker (docs/scaling.md). We drop it (also from the environment the workers inherit) and keep the
    nanny's one-thread BLAS/OpenMP settings.

    Start-up: workers come from ``multiprocessing``'s forkserver, a single-threaded process holding ``distributed``,
    NumPy and the ``preload`` modules (the task's module); each worker is a fork of it, ready without importing
    anything. When this driver is still single-threaded the forkserver is a fork of the driver itself
    (:mod:`.zygote`), else a fresh interpreter that imports them first (forking that is safe although this driver
    has threads). Measured cold under load on 2 cores: ready cluster plus a call on both workers 0.3-0.4 s with
    the forked server, 1.4-2.5 s with the fresh one (3.1-5.0 s at load ~9, 6.6-10.1 s with spawned workers);
    close 0.04-0.15 s instead of 1.2-2.4 s. The forkserver lives as long as this process; it keeps the
    environment and preloads of the first cluster (later clusters only gain from it).
    """
    import dask

    mods = list(dict.fromkeys([*BASE_PRELOAD, *preload]))
    cfg = {
        f"distributed.nanny.pre-spawn-environ.{MALLOC_VAR}": None,
        "distributed.worker.multiprocessing-method": "forkserver",
    }
    with dask.config.set(cfg), _environ_kept():
        os.environ.pop(MALLOC_VAR, None)  # also when an earlier cluster's nanny left it here: workers inherit it
        # the forkserver starts here, before the scheduler: it (and every worker forked from it) gets the nanny's
        # pre-spawn environment (one BLAS/OpenMP thread) without MALLOC_TRIM_THRESHOLD_
        _start_forkserver(mods)
        import distributed.utils as du
        from distributed import LocalCluster

        # distributed would otherwise set its own preload list, importing pandas & co. here first (~1 s more)
        du._forkserver_preload_set = True
        return LocalCluster(
            n_workers=max(int(workers), 1), threads_per_worker=1, processes=True, host="127.0.0.1",
            scheduler_port=0, dashboard_address=None, silence_logs=logging.ERROR,
        )


def _start_forkserver(preload: Sequence[str]) -> None:
    """Start the workers' forkserver now, before the scheduler, with the environment the nanny would give it.

    Preferably a fork of this process (:mod:`.zygote`: no imports to wait for); else the stock forkserver,
    whose imports then at least overlap the scheduler's start."""
    import multiprocessing as mp
    import multiprocessing.forkserver as forkserver

    import dask

    from . import zygote

    env = {k: str(v) for k, v in (dask.config.get("distributed.nanny.pre-spawn-environ") or {}).items()
           if k != MALLOC_VAR and v is not None}
    if env.get("PYTHONHASHSEED") in (None, "0"):
        env["PYTHONHASHSEED"] = "6640"  # as the nanny does: one hash seed for every worker
    os.environ.update(env)
    # the preload list also serves a stock forkserver started later (e.g. after the forked one has died)
    mp.get_context("forkserver").set_forkserver_preload(list(preload))
    if not zygote.start(preload):
        forkserver.ensure_running()


def _lost(exc: BaseException | None) -> bool:
    """Whether a failed future means the worker or connection was lost (retryable) rather than a task error."""
    from concurrent.futures import CancelledError

    from distributed import KilledWorker
    from distributed.comm.core import CommClosedError

    return isinstance(exc, (KilledWorker, CancelledError, CommClosedError, OSError, TimeoutError)) or exc is None


class DaskExecutor:
    """Runs tasks on Dask: ``scheduler`` is "dask" (a LocalCluster of ``workers`` processes) or "tcp://HOST:PORT"."""

    def __init__(self, scheduler: str, workers: int, connect_timeout: float = 30.0):
        self.scheduler = scheduler
        self.workers = max(int(workers or 1), 1)
        self.connect_timeout = connect_timeout
        self.client: Any = None
        self.cluster: Any = None
        self._inflight: dict[str, Any] = {}

    # -- lifecycle ---------------------------------------------------------------------------------
    def start(self, fn: Callable) -> None:
        """Start the cluster before the driver starts other threads (the progress bar): see :mod:`.zygote`."""
        self.connect(fn)

    def connect(self, fn: Callable | None = None) -> Any:
        """Start (or connect to) the cluster once; returns the ``distributed.Client``. ``fn`` (the task) names the
        module a new LocalCluster's forkserver preloads."""
        if self.client is not None:
            return self.client
        from distributed import Client

        if self.scheduler == "dask":
            self.cluster = local_cluster(self.workers, preload=_preload_for(fn))
            self.client = Client(self.cluster, set_as_default=False)
        else:
            try:
                self.client = Client(self.scheduler, timeout=self.connect_timeout, set_as_default=False)
            except (OSError, TimeoutError) as exc:
                raise SchedulerUnavailable(f"cannot reach the Dask scheduler at {self.scheduler} "
                                           f"({' '.join(str(exc).split())})") from None
        return self.client

    def _threads(self) -> int:
        try:
            n = sum(self.client.nthreads().values())
        except Exception:  # noqa: BLE001
            n = 0
        return max(n, self.workers if self.scheduler == "dask" else 1)

    def map_unordered(self, fn: Callable, items: Sequence, retries: int = 1) -> Iterator[tuple[Any, bool, Any]]:
        """Yield ``(item, ok, value)`` as tasks finish; at most two tasks per worker thread are in flight."""
        from distributed import as_completed

        client = self.connect(fn)
        run_id = uuid.uuid4().hex[:8]
        name = getattr(fn, "__name__", None) or getattr(getattr(fn, "func", None), "__name__", "task")
        todo = iter(enumerate(items))
        window = 2 * self._threads()
        ac = as_completed(loop=client.loop)
        meta: dict[str, tuple[int, Any, int]] = {}

        def submit(idx: int, item: Any, attempt: int) -> None:
            fut = client.submit(_call, fn, item, key=f"{name}-{run_id}-{idx}-{attempt}", pure=False, retries=retries)
            meta[fut.key] = (idx, item, attempt)
            self._inflight[fut.key] = fut
            ac.add(fut)

        def refill() -> None:
            while len(meta) < window:
                nxt = next(todo, None)
                if nxt is None:
                    return
                submit(nxt[0], nxt[1], 0)

        refill()
        try:
            for fut in ac:
                idx, item, attempt = meta.pop(fut.key)
                self._inflight.pop(fut.key, None)
                if fut.status == "finished":
                    try:
                        ok, value = fut.result()
                    except Exception as exc:  # noqa: BLE001 - result lost between finish and fetch
                        ok, value = None, exc
                else:
                    ok, value = None, _exception(fut)
                fut.release()
                if ok is None:  # the task did not run to an answer: lost worker or connection
                    if _lost(value) and attempt < retries:
                        submit(idx, item, attempt + 1)
                    else:
                        yield item, False, WorkerCrashed(
                            f"a Dask worker was lost while processing this item ({type(value).__name__}: {value})"
                        )
                else:
                    yield item, ok, value
                refill()
        finally:
            self.cancel()

    def cancel(self) -> None:
        """Cancel every task still queued or running (finished results are already with the caller)."""
        futs = list(self._inflight.values())
        self._inflight.clear()
        if futs and self.client is not None:
            try:
                self.client.cancel(futs)
            except Exception:  # noqa: BLE001 - the cluster may already be gone
                pass

    def close(self) -> None:
        """Disconnect; a LocalCluster we started is shut down (a remote cluster keeps running)."""
        self.cancel()
        client, cluster = self.client, self.cluster
        self.client = self.cluster = None
        for obj in (client, cluster):
            if obj is not None:
                try:
                    obj.close()
                except Exception:  # noqa: BLE001
                    pass


def _exception(fut: Any) -> BaseException | None:
    try:
        return fut.exception(timeout=5)
    except BaseException as exc:  # noqa: BLE001 - CancelledError and friends are the answer here
        return exc


__all__ = ["DaskExecutor", "RemoteTaskError", "local_cluster"]
