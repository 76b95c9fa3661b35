"""Printed numbers of a group comparison: the direction of every probability of the odds ratio,
the level of its interval, the Sellke-Bayarri-Berger calibration and the directional Bayes factor
under a prior not centred at 0.

References: counts and quantiles written here with the standard library; the published table of
Sellke, Bayarri and Berger (Am Stat 2001;55:62-71, Table 1: B(p) = -e p ln p = 0.407, 0.125,
0.0188 at p = 0.05, 0.01, 0.001); the law of total probability across the two sides of OR = 1
with scipy's normal masses. Written to kill the mutants of ``tools/mutants.py``.
"""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy import stats

from trial_reanalysis.analysis.endpoints.comparison import sbb_calibration, summarise_log_or
from trial_reanalysis.analysis.reconstruction.tables import compatible_tables, p_value_grid
from trial_reanalysis.models.comparison import AE_PRIORS, report_evidence, report_from_published
from trial_reanalysis.models.priors import PriorScenario


def _quantile(values: list[float], q: float) -> float:
    s = sorted(values)
    pos = q * (len(s) - 1)
    lo = math.floor(pos)
    hi = min(lo + 1, len(s) - 1)
    return s[lo] + (pos - lo) * (s[hi] - s[lo])


@pytest.fixture(scope="module")
def draws() -> np.ndarray:
    # log OR draws mostly below 0 (an event more frequent in the reference group)
    return np.random.default_rng(3).normal(-0.6, 0.5, size=4000)


def test_reported_direction_follows_the_group(draws) -> None:
    below = sum(1 for d in draws if d < 0) / draws.size
    above = sum(1 for d in draws if d > 0) / draws.size
    assert 0.85 < below < 0.95  # far from 1/2, so a reversed or ignored sign shows
    ref = summarise_log_or(draws, -1)
    assert ref["p_reported_direction"] == pytest.approx(below, abs=1e-15)
    assert ref["p_or_below_1"] == pytest.approx(below, abs=1e-15)
    assert ref["p_or_above_1"] == pytest.approx(above, abs=1e-15)
    assert summarise_log_or(draws, 1)["p_reported_direction"] == pytest.approx(above, abs=1e-15)
    assert summarise_log_or(draws, None)["p_reported_direction"] is None


def test_odds_ratio_interval_is_the_95_percent_equal_tailed(draws) -> None:
    out = summarise_log_or(draws, -1)
    values = draws.tolist()
    lo, hi = _quantile(values, 0.025), _quantile(values, 0.975)
    assert out["log_odds_ratio"]["ci95"] == pytest.approx([lo, hi], abs=1e-12)
    assert out["odds_ratio"]["ci95"] == pytest.approx([math.exp(lo), math.exp(hi)], rel=1e-12)
    inside = sum(1 for d in values if lo <= d <= hi) / len(values)
    assert inside == pytest.approx(0.95, abs=0.001)


@pytest.mark.parametrize(("p", "published"), [(0.05, 0.407), (0.01, 0.125), (0.001, 0.0188)])
def test_sbb_calibration_matches_the_published_table(p: float, published: float) -> None:
    out = sbb_calibration(p)
    assert out["min_bayes_factor_h0"] == pytest.approx(published, abs=0.0006)
    assert out["bayes_factor"] == pytest.approx(1 / published, rel=0.005)
    assert sbb_calibration(0.5) == {"min_bayes_factor_h0": 1.0, "bayes_factor": 1.0}


def test_side_bayes_factors_average_to_the_prior_one_with_a_shifted_prior() -> None:
    """BF(prior) = P(beta > 0) BF(beta > 0) + P(beta < 0) BF(beta < 0) for any prior; with a
    prior mean of 0.7 the two masses are 0.758 and 0.242 (scipy), so swapping them shows."""
    base = AE_PRIORS["weakly_informative"]
    prior = PriorScenario(
        "shifted", "normal", {**base.parameters, "log_or_mu": 0.7, "log_or_sigma": 1.0}, "test"
    )
    report = report_from_published(0.03, 1, [(24, 24)])
    up = report_evidence(report, prior, 1)
    down = report_evidence(report, prior, -1)
    above = stats.norm.sf(0.0, 0.7, 1.0)
    total = (
        above * up["bayes_factor_reported_side_vs_null"]
        + (1 - above) * down["bayes_factor_reported_side_vs_null"]
    )
    assert up["bayes_factor_prior_vs_null"] == pytest.approx(total, rel=1e-9)
    assert up["bayes_factor_reported_side_vs_null"] > 2 * down["bayes_factor_reported_side_vs_null"]


def test_a_p_value_at_the_lower_end_of_its_interval_reproduces_the_report() -> None:
    """The interval of a printed P is half-open, [low, high): a table whose two-sided Fisher P
    equals ``low`` exactly is compatible, one at ``high`` is not (the grid's P values agree with
    scipy's ``fisher_exact`` first)."""
    grid = p_value_grid(24, 24, "fisher")
    p_low, p_high = float(grid[9, 2]), float(grid[10, 2])
    assert p_low == pytest.approx(stats.fisher_exact([[9, 15], [2, 22]]).pvalue, rel=1e-9)
    assert p_high == pytest.approx(stats.fisher_exact([[10, 14], [2, 22]]).pvalue, rel=1e-9)
    assert p_high < p_low
    tables = compatible_tables((p_low, p_low + 1e-15), 24, 24, "exposed")
    assert (9, 2) in {(t["exposed_events"], t["reference_events"]) for t in tables}
    tables = compatible_tables((p_high - 1e-15, p_high), 24, 24, "exposed")
    assert (10, 2) not in {(t["exposed_events"], t["reference_events"]) for t in tables}
