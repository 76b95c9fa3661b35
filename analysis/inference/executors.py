"""Where the simulation studies run: local processes by default, a Dask cluster on request.

Every task carries its own seed (spawned from the study's seed), so the results are identical
whichever executor runs them and in whatever order the tasks finish; results come back in task
order. Dask is optional (``pip install -e '.[dask]'``); pass a scheduler address such as
``tcp://10.0.0.5:8786`` (or a ``distributed.LocalCluster``'s address) to use it.
"""

from __future__ import annotations

import ctypes
import os
import signal
import threading
import time
from collections.abc import Callable, Sequence
from concurrent.futures import ProcessPoolExecutor
from multiprocessing import get_context
from typing import Any, TypeVar

T = TypeVar("T")
_PR_SET_PDEATHSIG = 1  # linux/prctl.h


def die_with_parent(parent_pid: int) -> None:
    """Make this (worker) process end when ``parent_pid`` dies, even by SIGKILL.

    A worker initialiser: asks Linux to send SIGKILL when the parent goes (``prctl``
    PR_SET_PDEATHSIG), and, where that is unavailable, a daemon thread checks once a second that
    the parent is still there. Without it a killed run leaves its workers computing for ever.
    """
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(_PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)
    except (OSError, AttributeError):  # pragma: no cover - not Linux
        pass
    if os.getppid() != parent_pid:  # the parent died before the request took effect
        os._exit(1)

    def watch() -> None:
        while os.getppid() == parent_pid:
            time.sleep(1.0)
        os._exit(1)

    threading.Thread(target=watch, name="die-with-parent", daemon=True).start()


def process_pool(workers: int, fits: Any | None = None) -> ProcessPoolExecutor:
    """Spawned worker processes (each starts clean) that end when this process ends.

    ``fits``: a queue of the spawn context (``get_context("spawn").Queue()``) that receives the
    label of every gated fit the workers finish (:mod:`.progress`), for the parent's display.
    """
    return ProcessPoolExecutor(
        workers,
        mp_context=get_context("spawn"),
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
        workers: local processes (spawned, so each starts clean) when no Dask address is given;
            1 runs in this process.
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
