"""Where the simulation studies run: local processes by default, a Dask cluster on request.

Every task carries its own seed (spawned from the study's seed), so the results are identical
whichever executor runs them and in whatever order the tasks finish; results come back in task
order. Dask is optional (``pip install -e '.[dask]'``); pass a scheduler address such as
``tcp://10.0.0.5:8786`` (or a ``distributed.LocalCluster``'s address) to use it.
"""

from __future__ import annotations

import ctypes
import os
import select
import signal
import threading
import time
from collections.abc import Callable, Sequence
from concurrent.futures import ProcessPoolExecutor
from multiprocessing import forkserver, get_all_start_methods, get_context
from multiprocessing.context import BaseContext
from typing import Any, TypeVar

T = TypeVar("T")
_PR_SET_PDEATHSIG = 1  # linux/prctl.h


def die_with_parent(parent_pid: int) -> None:
    """Make this (worker) process end when the process ``parent_pid`` dies, even by SIGKILL.

    A worker initialiser. A spawned worker asks Linux to send it SIGKILL when its parent goes
    (``prctl`` PR_SET_PDEATHSIG). A worker forked by the fork server (:func:`worker_context`) is
    the server's child, not the run's, so in every case a daemon thread also waits on a pidfd of
    ``parent_pid`` (Linux 5.3+; elsewhere it checks once a second that the process is there) and
    ends this process when it dies. Without it a killed run leaves its workers computing for ever.
    """
    if os.getppid() == parent_pid:
        try:
            libc = ctypes.CDLL(None, use_errno=True)
            libc.prctl(_PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)
        except (OSError, AttributeError):  # pragma: no cover - not Linux
            pass
        if os.getppid() != parent_pid:  # the parent died before the request took effect
            os._exit(1)
    try:
        handle = os.pidfd_open(parent_pid)
    except ProcessLookupError:  # already gone
        os._exit(1)
    except (AttributeError, OSError):  # pragma: no cover - no pidfd: poll
        handle = None

    def watch() -> None:
        if handle is not None:
            poller = select.poll()
            poller.register(handle, select.POLLIN)
            poller.poll()  # readable once the process has ended
            os._exit(1)
        while True:  # pragma: no cover - no pidfd
            try:
                os.kill(parent_pid, 0)
            except ProcessLookupError:
                os._exit(1)
            except PermissionError:  # alive, under another user
                pass
            time.sleep(1.0)

    threading.Thread(target=watch, name="die-with-parent", daemon=True).start()


#: Environment variables the analysis stack reads when it is imported (PyTensor's and numba's
#: settings, thread pools, matplotlib's and the caches' folders, Python's own): a fork server's
#: workers keep the values the server saw, so the server is used only while these are unchanged.
#: Every other variable is read when used, and each worker is given this process's values.
IMPORT_TIME_ENVIRONMENT = (
    "PYTENSOR",
    "NUMBA_",
    "OMP_",
    "OPENBLAS_",
    "MKL_",
    "MPL",
    "XDG_",
    "HOME",
    "PYTHON",
    "ARVIZ",
    "LD_",
    "TMPDIR",
)


def _import_time_environment() -> dict[str, str]:
    return {k: v for k, v in os.environ.items() if k.startswith(IMPORT_TIME_ENVIRONMENT)}


#: The fork server this module started (its pid, and :data:`IMPORT_TIME_ENVIRONMENT`'s values
#: when it started), or None.
_server: tuple[int, dict[str, str]] | None = None


def worker_context(preload: Sequence[str] = ()) -> BaseContext:
    """The start method of worker processes: a fork server that has imported ``preload``, else
    spawn.

    Why: a spawned worker starts a fresh interpreter and imports the analysis stack (PyMC, ArviZ,
    nutpie, matplotlib, SciPy: about 4.5 s of CPU on a 2-core machine), once per worker and per
    run. Python's fork server (Linux) is a process started once, which imports ``preload`` and
    then forks each worker from itself: the workers start with the stack imported, and its pages
    are shared. The server only imports, it never samples; the native threads its imports start
    (OpenBLAS's pools, pyarrow's allocator) are made safe to fork by those libraries' fork
    handlers. A worker's ``sys.path``, working folder and main module are set as a spawned
    worker's are (by :mod:`multiprocessing`) and it is given this process's environment; what the
    stack read on import is the server's, so the server is used only while the variables of
    :data:`IMPORT_TIME_ENVIRONMENT` are those it was started with (a notebook that changes one
    gets spawned workers, which see the change), and only when this module started it (its pid
    recorded). Spawn without ``preload`` (nothing to share), on systems without a fork server,
    and when the server cannot start (an unusable temporary folder for its socket).
    """
    global _server
    if not preload or "forkserver" not in get_all_start_methods():
        return get_context("spawn")
    context = get_context("forkserver")
    running = getattr(forkserver._forkserver, "_forkserver_pid", False)
    if running is None:  # not started (by anyone)
        context.set_forkserver_preload(list(preload))
        environment = _import_time_environment()
        try:
            forkserver.ensure_running()  # starts it: its imports run beside this process's work
        except OSError:  # pragma: no cover - e.g. a socket path beyond the system's limit
            return get_context("spawn")
        _server = (forkserver._forkserver._forkserver_pid, environment)
    elif (
        _server is None or running != _server[0] or _server[1] != _import_time_environment()
    ):  # not ours, restarted by multiprocessing, another environment, or an unknown Python
        return get_context("spawn")
    return context


def server_pid() -> int | None:
    """The pid of the fork server :func:`worker_context` started, if it is the one running."""
    running = getattr(forkserver._forkserver, "_forkserver_pid", None)
    return running if _server is not None and running == _server[0] else None


def stop_server() -> None:
    """End the fork server this module started (a run that needed no worker after all, or
    failed: its imports would otherwise go on, for nothing, after the run ended)."""
    global _server
    pid = server_pid()
    _server = None
    if pid is None:
        return
    try:
        os.kill(pid, signal.SIGKILL)
    except ProcessLookupError:  # pragma: no cover - already gone
        pass
    forkserver._forkserver._stop()  # reaps it, forgets it (the next start is a new one)


def process_pool(
    workers: int,
    fits: Any | None = None,
    *,
    preload: Sequence[str] = (),
    context: BaseContext | None = None,
) -> ProcessPoolExecutor:
    """Worker processes that end when this process ends.

    ``fits``: a queue (of ``context``) that receives the label of every gated fit the workers
    finish (:mod:`.progress`), for the parent's display. ``preload``: what the workers import
    before their first task (:func:`worker_context`); ``context``, when given, replaces
    ``worker_context(preload)``.
    """
    return ProcessPoolExecutor(
        workers,
        mp_context=context or worker_context(preload),
        initializer=_start_worker,
        initargs=(os.getpid(), fits, dict(os.environ)),
    )


def _start_worker(parent_pid: int, fits: Any | None, environment: dict[str, str]) -> None:
    """A worker's initialiser: this run's environment (a forked worker has the server's), end
    with the parent, and report finished fits to ``fits``."""
    os.environ.update(environment)
    die_with_parent(parent_pid)
    if fits is not None:
        from trial_reanalysis.analysis.inference.progress import set_sink

        set_sink(fits.put)


def map_tasks(
    fn: Callable[[T], Any],
    tasks: Sequence[T],
    *,
    workers: int = 2,
    dask_address: str | None = None,
) -> list[Any]:
    """``[fn(t) for t in tasks]``, computed in parallel; ``fn`` must be importable (picklable).

    Args:
        fn: a module-level function of one task.
        tasks: the tasks, each holding its own seed.
        workers: local processes (:func:`process_pool`, each starting clean) when no Dask
            address is given; 1 runs in this process.
        dask_address: scheduler address of a Dask cluster.
    """
    if dask_address:
        try:
            from distributed import Client
        except ImportError as exc:  # pragma: no cover - depends on the installation
            raise RuntimeError(
                "--dask needs the optional dependency: pip install -e '.[dask]'"
            ) from exc
        with Client(dask_address) as client:
            futures = client.map(fn, list(tasks), pure=False)
            return client.gather(futures)
    if workers > 1 and len(tasks) > 1:
        with process_pool(workers) as pool:
            return list(pool.map(fn, tasks))
    return [fn(t) for t in tasks]
