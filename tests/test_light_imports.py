"""The run's own process never loads the sampling stack.

With worker processes, the parent of a run reads the trial, receives the endpoints' results and
writes the report (the planners' section included); the fits, and the figures drawn from
posteriors, happen in the workers. Importing PyMC, ArviZ and nutpie costs about 4 s of CPU on a
2-core machine, paid by every worker already, so the modules the parent uses must not import them
at module level (they import them inside the functions that fit or draw posteriors).
"""

from __future__ import annotations

import pkgutil
import subprocess
import sys

import trial_reanalysis.analysis as analysis_package

#: Modules that fit models or draw posteriors (they run in workers, or in one process runs).
SAMPLING_SIDE = frozenset(
    {
        "trial_reanalysis.analysis.endpoints.comparison",
        "trial_reanalysis.analysis.endpoints.rate",
        "trial_reanalysis.analysis.endpoints.time_to_event",
        "trial_reanalysis.analysis.inference.weibull_quadrature",
        "trial_reanalysis.analysis.report.comparison",
        "trial_reanalysis.analysis.report.time_to_event",
        "trial_reanalysis.analysis.studies.ae_validation",
        "trial_reanalysis.analysis.studies.pfs_validation",
    }
)
HEAVY = ("pymc", "pytensor", "arviz", "nutpie", "numba", "xarray")


def _modules() -> list[str]:
    return sorted(
        m.name
        for m in pkgutil.walk_packages(analysis_package.__path__, "trial_reanalysis.analysis.")
    )


def test_every_other_module_imports_without_the_sampling_stack() -> None:
    """Every module outside SAMPLING_SIDE, imported in a fresh interpreter, leaves PyMC, PyTensor,
    ArviZ, nutpie, numba and xarray unloaded."""
    light = [m for m in _modules() if m not in SAMPLING_SIDE]
    assert "trial_reanalysis.analysis.planning.map_prior" in light  # the walk found the tree
    assert SAMPLING_SIDE <= set(_modules()), sorted(SAMPLING_SIDE - set(_modules()))
    code = (
        "import importlib, sys\n"
        f"for name in {light!r}:\n"
        "    importlib.import_module(name)\n"
        f"print(','.join(m for m in {HEAVY!r} if m in sys.modules))\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=120
    )
    loaded = done.stdout.strip()
    assert loaded == "", (
        f"importing the run's own modules loaded {loaded}: import them inside the functions that "
        "fit or draw (find the importer with python -X importtime)"
    )


def test_the_check_sees_a_module_that_loads_the_stack() -> None:
    """The same check on a sampling-side module does see PyMC (the check can fail)."""
    code = (
        "import sys\n"
        "import trial_reanalysis.analysis.endpoints.rate\n"
        f"print(','.join(m for m in {HEAVY!r} if m in sys.modules))\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=120
    )
    assert "pymc" in done.stdout.strip().split(",")
