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
            select.select([handle], [], [])  # readable once the process has ended
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


#: The environment the fork server was started with by :func:`worker_context` (None: not started
#: by us); its workers inherit it, so it is used only while this process's environment is equal.
_server_environment: dict[str, str] | None = None


def worker_context(preload: Sequence[str] = ()) -> BaseContext:
    """The start method of worker processes: a fork server that has imported ``preload``, else
    spawn.

    Why: a spawned worker starts a fresh interpreter and imports the analysis stack (PyMC, ArviZ,
    nutpie, matplotlib, SciPy: about 4.5 s of CPU on a 2-core machine), once per worker and per
    run. Python's fork server (Linux) is a process started once, which imports ``preload`` and
    then forks each worker from itself: the workers start with the stack imported, and its pages
    are shared. Forking is safe there: the server only imports, it never samples or starts
    threads of its own. A worker's ``sys.path``, working folder and main module are set as a
    spawned worker's are (by :mod:`multiprocessing`); its environment is the server's, so the
    server is used only while this process's environment equals the one it was started with
    (a notebook that changes an environment variable gets spawned workers, which see the change),
    and only when this module started it. Spawn without ``preload`` (nothing to share), and on
    systems without a fork server.
    """
    global _server_environment
    if not preload or "forkserver" not in get_all_start_methods():
        return get_context("spawn")
    context = get_context("forkserver")
    running = getattr(forkserver._forkserver, "_forkserver_pid", None) is not None
    if not running:
        context.set_forkserver_preload(list(preload))
        _server_environment = dict(os.environ)
        forkserver.ensure_running()  # starts it: its imports run beside this process's work
    elif _server_environment != dict(os.environ):  # another environment, or not ours
        return get_context("spawn")
    return context


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
        initargs=(os.getpid(), fits),
    )


def _start_worker(parent_pid: int, fits: Any | None) -> None:
    """A worker's initialiser: end with the parent, and report finished fits to ``fits``."""
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
