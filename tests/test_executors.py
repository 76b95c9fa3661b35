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


@pytest.mark.integration  # a local Dask cluster: worker processes
def test_same_results_on_every_executor(dask_address) -> None:
    serial = map_tasks(seeded_task, SEEDS, workers=1)
    assert map_tasks(seeded_task, SEEDS, workers=2) == serial
    assert map_tasks(seeded_task, SEEDS, dask_address=dask_address) == serial
    assert len({tuple(r) for r in serial}) == len(SEEDS)


@pytest.mark.integration  # a local Dask cluster: worker processes
def test_pfs_study_identical_on_dask(dask_address, compiled_summary, monkeypatch) -> None:
    monkeypatch.setattr(pv, "_COMPILED", {"L,M,U": compiled_summary})
    settings = dict(reps_per_setting=3, sbc_reps=3, transforms=("log",), shapes=(1.5,), out=None)
    local = pv.run_study(workers=1, **settings)
    remote = pv.run_study(dask_address=dask_address, **settings)
    assert local["coverage"] == remote["coverage"]
    assert local["sbc"] == remote["sbc"]


_FORK_SERVER_SCRIPT = """
import os, sys
from trial_reanalysis.analysis.inference import executors as ex

LIGHT = "trial_reanalysis.analysis.planning.sequential"


def probe(_):
    return LIGHT in sys.modules, os.getppid(), os.environ.get("PROBE", "")


def alive(pid):
    try:
        os.kill(pid, 0)
        return True
    except ProcessLookupError:
        return False


def show(context):
    with ex.process_pool(2, context=context) as pool:
        print(context.get_start_method(), list(pool.map(probe, range(2))), os.getpid())


if __name__ == "__main__":
    assert LIGHT not in sys.modules
    print(ex.worker_context(()).get_start_method(), ex.server_pid())  # nothing to preload
    show(ex.worker_context([LIGHT]))
    first = ex.server_pid()
    os.environ["PROBE"] = "changed"  # read when used: the server stays, the workers see it
    show(ex.worker_context([LIGHT]))
    os.environ["OMP_NUM_THREADS"] = "1"  # read on import: spawned workers
    show(ex.worker_context([LIGHT]))
    ex.stop_server()
    print(alive(first), ex.server_pid())
    del os.environ["OMP_NUM_THREADS"]
    show(ex.worker_context([LIGHT]))
    print(ex.server_pid() not in (None, first))
"""


@pytest.mark.integration  # a fresh interpreter and its worker processes
def test_fork_server_workers_start_with_the_preload_and_this_environment(tmp_path) -> None:
    """Workers forked by the fork server have the preloaded module before any task imports it,
    are not children of this process (the server forked them) and see this process's
    environment, also after a change of a variable read when used; a change of a variable the
    stack reads on import (OMP_NUM_THREADS) gives spawned workers (children of this process,
    importing the module only when asked). stop_server ends the server; the next context starts
    another. Without a preload: spawn, and no server."""
    import ast
    import subprocess
    import sys

    script = tmp_path / "probe_pool.py"
    script.write_text(_FORK_SERVER_SCRIPT)
    done = subprocess.run(
        [sys.executable, str(script)], capture_output=True, text=True, timeout=180, check=True
    )
    lines = done.stdout.strip().splitlines()
    assert lines[0] == "spawn None", lines

    def pool(line: str) -> tuple[str, list, int]:
        method, rest = line.split(" ", 1)
        probes, parent = rest.rsplit(" ", 1)
        return method, ast.literal_eval(probes), int(parent)

    for line, method, forked, probe in [
        (lines[1], "forkserver", True, ""),
        (lines[2], "forkserver", True, "changed"),
        (lines[3], "spawn", False, "changed"),
        (lines[5], "forkserver", True, "changed"),
    ]:
        got, probes, parent = pool(line)
        assert got == method, line
        for preloaded, ppid, seen in probes:
            assert preloaded == forked and (ppid != parent) == forked and seen == probe, line
    assert lines[4] == "False None" and lines[6] == "True", lines
