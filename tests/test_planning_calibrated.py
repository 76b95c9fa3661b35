"""The single-stage posterior rule beside its exact type I error, and the calibrated rule.

Every number is checked against binomial / Beta-binomial sums written here with ``math.comb``
and quadrature, never against the package's own helpers.
"""

from __future__ import annotations

import math

import numpy as np
import pytest

from trial_reanalysis.analysis.planning.followup import BetaMixture
from trial_reanalysis.analysis.planning.plan import (
    calibrated_rule,
    format_plan,
    plan_binary,
    planning_overview,
)


def binom_tail(n: int, c: int, p: float) -> float:
    """P(Binomial(n, p) >= c), term by term."""
    return sum(math.comb(n, x) * p**x * (1 - p) ** (n - x) for x in range(c, n + 1))


def beta_binom_tail(n: int, c: int, a: float, b: float) -> float:
    """P(X >= c) for X ~ Beta-binomial(n, a, b), term by term with log-gamma."""

    def log_beta(u: float, v: float) -> float:
        return math.lgamma(u) + math.lgamma(v) - math.lgamma(u + v)

    return sum(
        math.comb(n, x) * math.exp(log_beta(a + x, b + n - x) - log_beta(a, b))
        for x in range(c, n + 1)
    )


def uniform_posterior_above(n: int, x: int, p0: float) -> float:
    """P(theta > p0 | x of n) under Beta(1, 1): the posterior Beta(x + 1, n - x + 1) has
    P(theta > p0) = P(Binomial(n + 1, p0) <= x) (the Beta-binomial identity)."""
    return 1.0 - binom_tail(n + 1, x + 1, p0)


@pytest.mark.parametrize(("n", "crit", "type1"), [(20, 3, 0.0755), (60, 6, 0.0787)])
def test_issue_numbers_nominal_rule_is_not_a_five_percent_test(n, crit, type1) -> None:
    """Issue 13: P(theta > 0.05 | x) >= 0.95 (Beta(1, 1)) has type I error 0.0755 at n = 20 and
    0.0787 at n = 60."""
    plan = plan_binary(n, 0.05, 0.20, 0.95, simon=False)
    # the critical count from the Beta identity, written independently
    ref = next(x for x in range(n + 1) if uniform_posterior_above(n, x, 0.05) >= 0.95)
    assert plan.critical_responders == ref == crit
    assert plan.type1_error == pytest.approx(binom_tail(n, crit, 0.05), rel=1e-12)
    assert round(plan.type1_error, 4) == type1
    assert plan.type1_error > 0.05
    text = format_plan(plan)
    assert f"{type1:.4f}" in text


def classical_critical(n: int, p0: float, alpha: float) -> int | None:
    """The exact one-sided binomial test: smallest c with P(Bin(n, p0) >= c) <= alpha."""
    return next((c for c in range(n + 1) if binom_tail(n, c, p0) <= alpha), None)


@pytest.mark.parametrize("n", [5, 20, 31, 40, 60, 97])
@pytest.mark.parametrize("p0", [0.05, 0.2])
@pytest.mark.parametrize("alpha", [0.025, 0.05, 0.1])
def test_calibrated_rule_is_the_exact_binomial_test(n, p0, alpha) -> None:
    """Posterior probabilities increase with x, so the smallest threshold keeping the type I
    error <= alpha picks the exact test's critical count, under any analysis prior."""
    ref = classical_critical(n, p0, alpha)
    for prior in (None, (0.5, 0.5), (3.0, 7.0), BetaMixture((0.7, 0.3), (15.0, 1.0), (34.0, 1.0))):
        got = calibrated_rule(n, p0, alpha, prior)
        if ref is None:
            assert got is None
            continue
        x_c, lo, hi = got
        assert x_c == ref
        # hi is the posterior probability at x_c and lo the one at x_c - 1 (quadrature, below)
        assert lo < hi
        # smallest: the next lower threshold (lo itself) admits x_c - 1, which breaks alpha
        assert binom_tail(n, ref - 1, p0) > alpha if ref > 0 else True


def test_calibrated_thresholds_are_the_posterior_probabilities_by_quadrature() -> None:
    """The threshold interval (lo, hi] of the calibrated rule: lo = P(theta > p0 | x_c - 1) and
    hi = P(theta > p0 | x_c), here under a Beta mixture analysis prior (grid quadrature)."""
    mix = BetaMixture((0.6, 0.4), (2.0, 1.0), (8.0, 1.0))
    n, p0 = 30, 0.1
    x_c, lo, hi = calibrated_rule(n, p0, 0.05, mix)
    t = np.linspace(0, 1, 400_001)[1:-1]

    def post_above(x: int) -> float:
        dens = mix.pdf(t) * t**x * (1 - t) ** (n - x)
        return float(dens[t > p0].sum() / dens.sum())

    assert x_c == classical_critical(n, p0, 0.05) == 7
    assert hi == pytest.approx(post_above(x_c), abs=2e-5)
    assert lo == pytest.approx(post_above(x_c - 1), abs=2e-5)


def test_plan_reports_calibrated_oc_power_and_assurance() -> None:
    n, p0, p1 = 60, 0.05, 0.20
    plan = plan_binary(n, p0, p1, 0.95, design_prior=(15.0, 34.0), simon=False)
    assert plan.critical_responders == 6 and plan.calibrated_critical_responders == 7
    assert plan.calibrated_type1_error == pytest.approx(binom_tail(n, 7, p0), rel=1e-12)
    assert plan.calibrated_type1_error <= 0.05 < binom_tail(n, 6, p0)
    assert plan.calibrated_power == pytest.approx(binom_tail(n, 7, p1), rel=1e-12)
    assert plan.calibrated_assurance == pytest.approx(beta_binom_tail(n, 7, 15, 34), rel=1e-10)
    assert plan.assurance == pytest.approx(beta_binom_tail(n, 6, 15, 34), rel=1e-10)
    lo, hi = plan.calibrated_success_prob
    assert lo == pytest.approx(uniform_posterior_above(n, 6, p0), abs=1e-12)
    assert hi == pytest.approx(uniform_posterior_above(n, 7, p0), abs=1e-12)
    assert lo > 0.95  # the nominal 0.95 lies below the calibrated interval
    text = format_plan(plan)
    assert "responders >= 7 of 60" in text and f"{binom_tail(n, 7, p0):.4f}" in text


def test_critical_value_changes_with_analysis_prior_assurance_with_design_prior() -> None:
    """Issue 13: --prior used to change only the design prior. The analysis prior moves the
    critical count of a fixed threshold (and so its type I error and power), not the assurance
    formula; the design prior moves the assurance, not the critical count."""
    n, p0, p1 = 40, 0.05, 0.20
    vague = plan_binary(n, p0, p1, 0.95, design_prior=(15.0, 34.0), simon=False)
    # an optimistic analysis prior Beta(3, 7) (mean 0.3, 10 patients) lowers the bar
    optimistic = plan_binary(n, p0, p1, 0.95, (15.0, 34.0), (3.0, 7.0), simon=False)
    ref = next(
        x
        for x in range(n + 1)
        if 1.0 - _beta_cdf_by_sum(p0, 3 + x, 7 + n - x) >= 0.95  # Beta(3 + x, 7 + n - x)
    )
    assert optimistic.critical_responders == ref < vague.critical_responders == 5
    assert optimistic.type1_error == pytest.approx(binom_tail(n, ref, p0), rel=1e-12)
    assert optimistic.type1_error > vague.type1_error
    # the calibrated count does not move with the analysis prior (exact test)
    assert optimistic.calibrated_critical_responders == vague.calibrated_critical_responders
    # the design prior moves the assurance only
    sceptical = plan_binary(n, p0, p1, 0.95, design_prior=(2.0, 38.0), simon=False)
    assert sceptical.critical_responders == vague.critical_responders
    assert sceptical.type1_error == vague.type1_error and sceptical.power == vague.power
    assert sceptical.assurance == pytest.approx(beta_binom_tail(n, 5, 2, 38), rel=1e-10)
    assert sceptical.assurance < 0.5 < vague.assurance


def _beta_cdf_by_sum(p: float, a: int, b: int) -> float:
    """Beta(a, b) cdf at p for integers a, b >= 1: P(Binomial(a + b - 1, p) >= a)."""
    return binom_tail(a + b - 1, a, p)


def test_no_calibrated_rule_when_even_all_responders_break_alpha() -> None:
    # n = 1, p0 = 0.3: the only candidate rule x >= 1 has type I error 0.3 > 0.05
    assert calibrated_rule(1, 0.3, 0.05) is None
    plan = plan_binary(1, 0.3, 0.5, 0.6, design_prior=(1, 1), simon=False)
    assert plan.calibrated_critical_responders is None
    assert plan.calibrated_type1_error == plan.calibrated_power == plan.calibrated_assurance == 0
    assert any("0.05" in note for note in plan.notes)
    with pytest.raises(ValueError, match="alpha"):
        calibrated_rule(20, 0.05, 1.5)


def test_planning_overview_columns_and_numbers() -> None:
    priors = [
        {"name": "beta", "family": "beta", "parameters": {"alpha": 15.0, "beta": 34.0}},
        {"name": "sceptical", "family": "beta", "parameters": {"alpha": 2.0, "beta": 38.0}},
    ]
    table, fig = planning_overview(priors, 0.05, 0.20)
    assert table.shape == (8, 8)
    row = table[(table["design prior"] == "beta") & (table["n"] == 20)].iloc[0]
    assert row["success if x >= (P >= 0.95)"] == 3
    assert row["its type I error at 0.05"] == pytest.approx(0.0754837, abs=5e-7)
    assert row["its type I error at 0.05"] == pytest.approx(binom_tail(20, 3, 0.05), rel=1e-12)
    assert row["success if x >= (type I <= 0.05)"] == 4
    assert row["its type I error"] == pytest.approx(binom_tail(20, 4, 0.05), rel=1e-12)
    assert row["its power at 0.2"] == pytest.approx(binom_tail(20, 4, 0.2), rel=1e-12)
    assert row["its assurance"] == pytest.approx(beta_binom_tail(20, 4, 15, 34), rel=1e-10)
    row60 = table[(table["design prior"] == "sceptical") & (table["n"] == 60)].iloc[0]
    assert row60["its type I error at 0.05"] == pytest.approx(0.0787193, abs=5e-7)
    assert row60["its assurance"] == pytest.approx(beta_binom_tail(60, 7, 2, 38), rel=1e-10)
    assert len(fig.axes[0].lines) == 4 + 2  # one curve per n, p0 and p1 markers


def test_cli_analysis_and_design_priors_are_separate(tmp_path) -> None:
    import json

    from typer.testing import CliRunner

    from trial_reanalysis.analysis.cli import app

    results = tmp_path / "results.json"
    results.write_text(
        json.dumps(
            {
                "followup_priors": {
                    "burden_reduction": [
                        {"name": "beta", "family": "beta", "parameters": {"alpha": 15, "beta": 34}},
                        {"name": "low", "family": "beta", "parameters": {"alpha": 2, "beta": 38}},
                    ]
                }
            }
        )
    )
    runner = CliRunner()
    base = ["plan", "--results", str(results), "--n", "40", "--json"]

    def run(*extra: str) -> dict:
        out = runner.invoke(app, [*base, *extra])
        assert out.exit_code == 0, out.output
        return json.loads(out.output)

    default = run()
    assert default["design_prior_name"] == "beta"  # the primary (first) follow-up prior
    assert default["analysis_prior"]["parameters"] == {"alpha": 1.0, "beta": 1.0}
    optimistic = run("--analysis-prior", "3,7")
    assert optimistic["critical_responders"] < default["critical_responders"] == 5
    assert optimistic["type1_error"] == pytest.approx(
        binom_tail(40, optimistic["critical_responders"], 0.05), rel=1e-12
    )
    assert optimistic["assurance"] > default["assurance"]  # a lower bar, same design prior
    low = run("--design-prior", "low")
    assert low["critical_responders"] == 5 and low["type1_error"] == default["type1_error"]
    assert low["assurance"] == pytest.approx(beta_binom_tail(40, 5, 2, 38), rel=1e-10)
    alias = run("--prior", "low")
    assert alias["assurance"] == low["assurance"]
    assert any("alias of --design-prior" in note for note in alias["notes"])
    assert not any("alias" in note for note in low["notes"])
    # an exported prior as the analysis prior, and calibration to another alpha
    named = run("--analysis-prior", "low", "--alpha", "0.1")
    assert named["analysis_prior"]["parameters"] == {"alpha": 2.0, "beta": 38.0}
    assert named["calibrated_critical_responders"] == classical_critical(40, 0.05, 0.1)
    both = runner.invoke(app, [*base, "--prior", "low", "--design-prior", "beta"])
    assert both.exit_code == 2 and "alias" in both.output
    unknown = runner.invoke(app, [*base, "--analysis-prior", "nope"])
    assert unknown.exit_code == 2 and "nope" in unknown.output
