"""Simulation studies give identical results on any executor: in this process, in local
processes, or on a (local) Dask cluster."""

from __future__ import annotations

import numpy as np
import pytest

from trial_reanalysis.analysis.inference.executors import map_tasks
from trial_reanalysis.analysis.studies import pfs_validation as pv


def seeded_task(seed: int) -> list[float]:
    """A stand-in replicate: its result depends only on its own seed."""
    return np.random.default_rng(seed).normal(size=3).tolist()


SEEDS = [int(s.generate_state(1)[0]) for s in np.random.SeedSequence(42).spawn(6)]


@pytest.fixture(scope="module")
def dask_address():
    distributed = pytest.importorskip("distributed")
    # ":0": a free port. With None the scheduler still serves its HTTP routes on the fixed 8787,
    # and the tests error whenever that port is taken.
    with distributed.LocalCluster(
        n_workers=2, threads_per_worker=1, processes=False, dashboard_address=":0"
    ) as cluster:
        yield cluster.scheduler_address


def test_same_results_on_every_executor(dask_address) -> None:
    serial = map_tasks(seeded_task, SEEDS, workers=1)
    assert map_tasks(seeded_task, SEEDS, workers=2) == serial
    assert map_tasks(seeded_task, SEEDS, dask_address=dask_address) == serial
    assert len({tuple(r) for r in serial}) == len(SEEDS)


def test_pfs_study_identical_on_dask(dask_address, compiled_summary, monkeypatch) -> None:
    monkeypatch.setattr(pv, "_COMPILED", {"L,M,U": compiled_summary})
    settings = dict(reps_per_setting=3, sbc_reps=3, transforms=("log",), shapes=(1.5,), out=None)
    local = pv.run_study(workers=1, **settings)
    remote = pv.run_study(dask_address=dask_address, **settings)
    assert local["coverage"] == remote["coverage"]
    assert local["sbc"] == remote["sbc"]


_FORK_SERVER_SCRIPT = """
import os, sys
from trial_reanalysis.analysis.inference.executors import process_pool, worker_context

LIGHT = "trial_reanalysis.analysis.planning.sequential"


def probe(_):
    return LIGHT in sys.modules, os.getppid(), os.environ.get("PROBE", "")


if __name__ == "__main__":
    assert LIGHT not in sys.modules
    print(worker_context(()).get_start_method())  # nothing to preload: spawn
    context = worker_context([LIGHT])
    print(context.get_start_method())
    with process_pool(2, context=context) as pool:
        print(list(pool.map(probe, range(2))), os.getpid())
    os.environ["PROBE"] = "changed"
    context = worker_context([LIGHT])
    print(context.get_start_method())
    with process_pool(2, context=context) as pool:
        print(list(pool.map(probe, range(2))))
"""


def test_fork_server_workers_start_with_the_preload_and_this_environment(tmp_path) -> None:
    """Workers forked by the fork server have the preloaded module before any task imports it,
    and are not children of this process (the server forked them); once this process's
    environment changes, workers are spawned again (children of this process, which see the new
    environment, and import the module only when asked). Without a preload: spawn."""
    import ast
    import subprocess
    import sys

    script = tmp_path / "probe_pool.py"
    script.write_text(_FORK_SERVER_SCRIPT)
    done = subprocess.run(
        [sys.executable, str(script)], capture_output=True, text=True, timeout=120, check=True
    )
    lines = done.stdout.strip().splitlines()
    assert lines[0] == "spawn" and lines[1] == "forkserver" and lines[3] == "spawn", lines
    forked, parent = lines[2].rsplit(" ", 1)
    for preloaded, ppid, probe in ast.literal_eval(forked):
        assert preloaded and ppid != int(parent) and probe == ""
    for preloaded, ppid, probe in ast.literal_eval(lines[4]):
        assert not preloaded and ppid == int(parent) and probe == "changed"
