"""Diagnostic gates: a deliberately bad fit fails, is retried once, and then raises (or is
returned flagged when failures are allowed)."""

from __future__ import annotations

import json

import arviz as az
import numpy as np
import pandas as pd
import pytest
import xarray as xr

from trial_reanalysis.analysis.endpoints.rate import compiled_model
from trial_reanalysis.analysis.errors import DiagnosticsError
from trial_reanalysis.analysis.inference.diagnostics import (
    GATES,
    check_diagnostics,
    diagnostics_table,
    fit_with_gates,
)
from trial_reanalysis.analysis.inference.fitting import SamplerSettings, derive_seed
from trial_reanalysis.models.rate import burden_reduction_priors, model_data

DATA = model_data(14, 47, burden_reduction_priors()["uniform"])
TOO_SHORT = SamplerSettings(draws=40, tune=40, chains=2)  # ESS cannot reach 400


def test_good_fit_passes_every_gate() -> None:
    idata = compiled_model().fit(DATA, seed=1)
    d = check_diagnostics(idata, model="burden_reduction", label="good")
    assert d.passed and d.divergences == 0 and d.ebfmi_min >= GATES.ebfmi_min
    assert d.summary()["r_hat_max"] <= 1.01 and d.summary()["ess_bulk_min"] >= 400


def test_bad_fit_is_retried_then_raises_naming_model_parameter_and_remedy() -> None:
    with pytest.raises(DiagnosticsError) as info:
        fit_with_gates(
            compiled_model(), DATA, seed=3, label="14/47, prior uniform", settings=TOO_SHORT
        )
    message = str(info.value)
    assert "model 'rate'" in message and "14/47, prior uniform" in message
    assert "rate_logodds: R-hat" in message and "ESS" in message
    assert "increase draws" in message and "--allow-failed-diagnostics" in message


def test_bad_fit_allowed_is_returned_flagged() -> None:
    _, d = fit_with_gates(
        compiled_model(), DATA, seed=3, label="x", settings=TOO_SHORT, allow_failed=True
    )
    assert not d.passed and d.retried and d.summary()["failures"]


def test_seeds_are_stable_and_label_dependent() -> None:
    assert derive_seed(1, "a") == derive_seed(1, "a")
    assert derive_seed(1, "a") != derive_seed(1, "b") != derive_seed(2, "a")


@pytest.mark.integration  # whole runs of an endpoint
def test_run_stops_on_failed_gates_and_flags_them_in_red_when_allowed(tmp_path, monkeypatch):
    """End to end: impossible gates make every fit fail; the run raises (nothing written) unless
    failures are allowed, and then the report carries the red warning and the failing rows."""
    from trial_reanalysis.analysis.inference import diagnostics
    from trial_reanalysis.analysis.run import RunConfig, run_analysis

    monkeypatch.setattr(diagnostics, "GATES", diagnostics.Gates(ess_min=1e9))
    out = tmp_path / "out"
    with pytest.raises(DiagnosticsError, match="burden_reduction"):
        run_analysis(RunConfig(out_dir=out, seed=1, endpoints=("burden_reduction",)))
    assert not out.exists()
    output = run_analysis(
        RunConfig(
            out_dir=out, seed=1, endpoints=("burden_reduction",), allow_failed_diagnostics=True
        )
    )
    assert not output.diagnostics_passed
    assert json.loads((out / "results.json").read_text())["diagnostics_passed"] is False
    html = (out / "report.html").read_text()
    # one fit per prior (uniform, Jeffreys, skeptical, enthusiastic), each marked
    assert 'id="diagnostics-warning"' in html and html.count('class="failed"') == 4
    assert "WARNING" in (out / "report.md").read_text()


def _ar1(rng: np.random.Generator, shape: tuple[int, ...], rho: float) -> np.ndarray:
    """Autocorrelated draws along the last axis (AR(1) with coefficient rho)."""
    x = rng.normal(size=shape)
    for t in range(1, shape[-1]):
        x[..., t] = rho * x[..., t - 1] + np.sqrt(1 - rho**2) * x[..., t]
    return x


def test_diagnostics_table_equals_arviz_summary_to_the_last_digit() -> None:
    """The gates' table is ``az.summary(kind="diagnostics")`` exactly: scalar parameters, a
    vector with named coordinates, a matrix, extra dimensions stored before (chain, draw), chains
    that disagree, a short fit, and a real fit of the rate model."""
    rng = np.random.default_rng(11)
    shifted = _ar1(rng, (4, 1000), 0.3)
    shifted[0] += 0.5  # one chain off: R-hat above 1.01
    fake = az.from_dict(
        posterior={
            "theta": _ar1(rng, (4, 1000), 0.6),
            "log_odds_ratio": np.moveaxis(_ar1(rng, (2, 4, 1000), 0.2), 0, -1),
            "cells": np.moveaxis(_ar1(rng, (2, 3, 4, 1000), 0.9), (0, 1), (-2, -1)),
            "shifted": shifted,
        },
        coords={"ae": ["ppe", "rash"], "row": [0, 1], "col": ["a", "b", "c"]},
        dims={"log_odds_ratio": ["ae"], "cells": ["row", "col"]},
    )
    stored_first = xr.Dataset(  # extra dimension stored first: the table must transpose it
        {"rate": (("ae", "chain", "draw"), _ar1(rng, (3, 2, 50), 0.5))},
        coords={"ae": ["x", "y", "z"], "chain": [0, 1], "draw": np.arange(50)},
    )
    real = compiled_model().fit(DATA, seed=1).posterior
    for posterior in (fake.posterior, stored_first, real):
        reference = az.summary(posterior, kind="diagnostics", round_to="none")
        expected = reference.rename_axis("parameter")[
            ["r_hat", "ess_bulk", "ess_tail", "mcse_mean", "mcse_sd"]
        ]
        pd.testing.assert_frame_equal(diagnostics_table(posterior), expected, check_exact=True)
    table = diagnostics_table(fake.posterior)
    assert "log_odds_ratio[rash]" in table.index and "cells[1, c]" in table.index
    assert table.loc["shifted", "r_hat"] > GATES.r_hat_max
