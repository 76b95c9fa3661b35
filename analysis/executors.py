"""Where the simulation studies run: local processes by default, a Dask cluster on request.

Every task carries its own seed (spawned from the study's seed), so the results are identical
whichever executor runs them and in whatever order the tasks finish; results come back in task
order. Dask is optional (``pip install -e '.[dask]'``); pass a scheduler address such as
``tcp://10.0.0.5:8786`` (or a ``distributed.LocalCluster``'s address) to use it.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from concurrent.futures import ProcessPoolExecutor
from multiprocessing import get_context
from typing import Any, TypeVar

T = TypeVar("T")


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
        with ProcessPoolExecutor(workers, mp_context=get_context("spawn")) as pool:
            return list(pool.map(fn, tasks))
    return [fn(t) for t in tasks]
