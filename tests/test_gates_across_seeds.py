"""The default run's fits pass their diagnostic gates whatever the seed (`make validate`).

A user who changes ``--seed`` must not meet a failed fit that the default seed happened to miss.
On 2026-12-08 a sweep of this kind found the MAP model of PFS medians (planners' section,
leave-one-out) failing its gates after the retry for 1 seed in 10 in its non-centred form; it is
now sampled with only tau drawn with the data (models/map_prior.py). The same sweep of the
default run, seeds 1-10, then passed every gate (160 fits, one retried).
"""

from __future__ import annotations

from pathlib import Path

import pytest

from trial_reanalysis.analysis.planning.planners import DEFAULT_HISTORICAL
from trial_reanalysis.analysis.run import RunConfig, run_analysis

SEEDS = range(1, 9)


def _gated_fits(results: object, path: str = "") -> list[tuple[str, dict]]:
    """Every per-fit diagnostics summary in results.json (a dict with ``passed`` and
    ``retried``), with where it sits."""
    found = []
    if isinstance(results, dict):
        if "passed" in results and "retried" in results:
            return [(path, results)]
        for key, value in results.items():
            found += _gated_fits(value, f"{path}.{key}")
    elif isinstance(results, list):
        for i, value in enumerate(results):
            found += _gated_fits(value, f"{path}[{i}]")
    return found


@pytest.mark.slow
@pytest.mark.integration
@pytest.mark.parametrize("seed", SEEDS)
def test_every_fit_of_the_default_run_passes_its_gates(seed: int, tmp_path: Path) -> None:
    output = run_analysis(
        RunConfig(
            out_dir=tmp_path / "out",
            seed=seed,
            historical=DEFAULT_HISTORICAL,
            workers=1,
            allow_failed_diagnostics=True,  # to name every failing fit, not only the first
        )
    )
    fits = _gated_fits(output.results)
    assert len(fits) >= 16, len(fits)  # every endpoint's fits and the planners' MAP fits
    failed = [(where, d["failures"]) for where, d in fits if not d["passed"]]
    assert not failed, failed
    assert output.results["diagnostics_passed"]
