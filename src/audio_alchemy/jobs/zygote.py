"""A forkserver that is a fork of this process: Dask workers start without importing anything.

``multiprocessing``'s forkserver is a freshly executed interpreter that imports its preload modules
(``distributed``, NumPy, the task's module: about 1.2 s of CPU here) before it can fork the first worker; that
import was most of a cold ``--scheduler dask`` start. When this process is still single-threaded (no Dask loop,
no progress-bar thread yet), forking it is safe, and the fork already holds every module the driver imported. So
:func:`start` forks this process once and runs the standard library's forkserver loop
(``multiprocessing.forkserver.main``) in the child, registered as the process's forkserver; worker processes are
then forked from that child exactly as from the stock one. Measured on 2 cores under load: LocalCluster of 2 up
and answering in 0.3-0.4 s instead of 1.4-2.5 s.

It depends on CPython's forkserver internals (checked: 3.11's ``main`` signature and ``_forkserver`` state); when
they differ, or this process has other threads, :func:`start` returns False and the caller starts the stock
forkserver instead.
"""

from __future__ import annotations

import inspect
import os
import signal
import socket
import sys
import threading
from collections.abc import Sequence

_MAIN_PARAMS = ["listener_fd", "alive_r", "preload", "main_path", "sys_path"]


def _compatible() -> bool:
    import multiprocessing.forkserver as fs

    server = getattr(fs, "_forkserver", None)
    return (
        sys.platform.startswith("linux")
        and list(inspect.signature(fs.main).parameters) == _MAIN_PARAMS
        and all(hasattr(server, a) for a in ("_lock", "_forkserver_pid", "_forkserver_address", "_forkserver_alive_fd"))
    )


def _one_thread_per_worker() -> None:
    """In the forked server: cap the thread pools the driver already loaded (BLAS, OpenMP, torch) at one thread,
    as the nanny's environment does for a freshly started worker; every worker inherits the setting."""
    try:
        from threadpoolctl import threadpool_limits

        threadpool_limits(1)
    except Exception:  # noqa: BLE001 - threadpoolctl absent or a library it cannot drive: env vars still apply
        pass
    torch = sys.modules.get("torch")
    if torch is not None:
        torch.set_num_threads(1)


def start(preload: Sequence[str]) -> bool:
    """Fork this process into the forkserver of ``multiprocessing.get_context("forkserver")``; True on success.

    Returns False (nothing changed) when this process has other threads, a forkserver is already running, or
    the interpreter's forkserver internals are not the ones this was written against.
    """
    import multiprocessing.forkserver as fs
    from multiprocessing import connection, resource_tracker, util

    if threading.active_count() != 1 or not _compatible():
        return False
    for mod in preload:  # import here, once, so the fork already has them
        __import__(mod)
    server = fs._forkserver
    with server._lock:
        if server._forkserver_pid is not None:
            return False
        resource_tracker.ensure_running()
        with socket.socket(socket.AF_UNIX) as listener:
            address = connection.arbitrary_address("AF_UNIX")
            listener.bind(address)
            os.chmod(address, 0o600)
            listener.listen()
            alive_r, alive_w = os.pipe()  # EOF on alive_r when every holder of alive_w (this process) is gone
            pid = os.fork()
            if pid == 0:  # the server: serve fork requests until this process exits, then leave without cleanup
                code = 0
                try:
                    os.close(alive_w)
                    util._finalizer_registry.clear()  # the driver's finalizers are not ours to run
                    util._run_after_forkers()
                    _one_thread_per_worker()
                    # a terminal's Ctrl-C reaches every process of the group: the driver handles it once and
                    # stops the cluster; workers forked from here inherit "ignore" (fs.main restores it in each)
                    signal.signal(signal.SIGINT, signal.SIG_IGN)
                    fs.main(listener.fileno(), alive_r, [])
                except SystemExit:
                    pass
                except BaseException:  # noqa: BLE001
                    code = 1
                finally:
                    os._exit(code)
            os.close(alive_r)
        server._forkserver_address = address
        server._forkserver_alive_fd = alive_w
        server._forkserver_pid = pid
    return True
