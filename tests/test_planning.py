"""Planning a follow-up: exact OC against independent calculations; the PFS simulation."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest
from matplotlib.figure import Figure
from scipy import stats

from trial_reanalysis.analysis.errors import InputError
from trial_reanalysis.analysis.planning.followup import BetaMixture
from trial_reanalysis.analysis.planning.plan import (
    critical_responders,
    format_plan,
    km_medians,
    oc_curves,
    oc_grid,
    pfs_success_probability,
    plan_binary,
    plan_from_results,
    plot_oc_curves,
    prior_predictive,
)

CASES = [(p0, s) for p0 in (0.05, 0.1, 0.3) for s in (0.9, 0.95, 0.975)]


def classical_critical(n: int, p0: float, success_prob: float) -> int | None:
    """Exact one-sided binomial test: smallest x with P(Bin(n, p0) >= x) <= 1 - success_prob."""
    for x in range(n + 1):
        tail = sum(math.comb(n, j) * p0**j * (1 - p0) ** (n - j) for j in range(x, n + 1))
        if tail <= 1 - success_prob:
            return x
    return None


@pytest.mark.parametrize(("p0", "success_prob"), CASES)
def test_limiting_prior_beta_0_1_reproduces_exact_binomial_test(p0, success_prob) -> None:
    for n in range(5, 121, 5):
        assert critical_responders(n, p0, success_prob, (0.0, 1.0)) == classical_critical(
            n, p0, success_prob
        ), n


@pytest.mark.parametrize(("p0", "success_prob"), CASES)
def test_uniform_prior_is_classical_test_for_n_plus_1_minus_one(p0, success_prob) -> None:
    """Beta(1, 1): posterior Beta(x+1, n-x+1), so x_c(n) = classical(n + 1) - 1."""
    differ = 0
    for n in range(5, 121, 5):
        uniform = critical_responders(n, p0, success_prob, (1.0, 1.0))
        classical = classical_critical(n, p0, success_prob)
        assert uniform == classical_critical(n + 1, p0, success_prob) - 1
        assert classical - uniform in (0, 1)
        differ += classical != uniform
    assert 0 < differ < 24  # sometimes one responder fewer, never more


def brute_force_oc(n: int, crit: int, p: float) -> float:
    return sum(math.comb(n, x) * p**x * (1 - p) ** (n - x) for x in range(crit, n + 1))


def test_exact_oc_against_brute_force_and_betabinom() -> None:
    plan = plan_binary(40, 0.05, 0.20, 0.95, design_prior=(15.0, 34.0), simon=False)
    c = plan.critical_responders
    # the rule itself, checked with scipy's Beta: c is the first x reaching 0.95
    assert stats.beta.sf(0.05, c + 1, 40 - c + 1) >= 0.95 > stats.beta.sf(0.05, c, 40 - c + 2)
    assert plan.type1_error == pytest.approx(brute_force_oc(40, c, 0.05), rel=1e-10)
    assert plan.power == pytest.approx(brute_force_oc(40, c, 0.20), rel=1e-10)
    x = np.arange(41)
    ref = stats.betabinom.pmf(x, 40, 15, 34)
    assert plan.prior_predictive == pytest.approx(ref, rel=1e-9, abs=1e-15)
    assert plan.assurance == pytest.approx(stats.betabinom.sf(c - 1, 40, 15, 34), rel=1e-10)
    assert plan.type1_error <= 0.05


def test_mixture_priors_in_predictive_and_analysis() -> None:
    mix = BetaMixture((0.8, 0.2), (15.0, 1.0), (34.0, 1.0))
    x = np.arange(31)
    ref = 0.8 * stats.betabinom.pmf(x, 30, 15, 34) + 0.2 * stats.betabinom.pmf(x, 30, 1, 1)
    assert prior_predictive(30, mix) == pytest.approx(ref, rel=1e-9, abs=1e-15)
    # analysis with a mixture prior: posterior P(theta > p0 | x) by quadrature on a grid
    t = np.linspace(0, 1, 200_001)[1:-1]
    for xx in (2, 5, 9):
        post = mix.pdf(t) * t**xx * (1 - t) ** (30 - xx)
        ref_p = post[t > 0.1].sum() / post.sum()
        plan = plan_binary(30, 0.1, 0.3, 0.9, analysis_prior=mix, simon=False)
        assert plan.posterior_prob_above_p0[xx] == pytest.approx(ref_p, abs=1e-5)


def test_oc_grid_matches_single_designs() -> None:
    ns = np.arange(10, 110)
    thresholds = np.linspace(0.80, 0.995, 100)
    priors = {f"beta_{i}": (0.5 + 0.25 * i, 1.0 + 0.5 * i) for i in range(9)}
    priors["robust"] = BetaMixture((0.8, 0.2), (15.0, 1.0), (34.0, 1.0))
    grid = oc_grid(ns, thresholds, priors, 0.05, 0.20, design_prior=(15.0, 34.0))
    assert len(grid) == 100_000  # its speed is measured in benchmarks/run.py, not here
    rng = np.random.default_rng(3)
    for i in rng.integers(0, len(grid), 25):
        row = grid.iloc[i]
        plan = plan_binary(
            int(row.n), 0.05, 0.20, row.success_prob, (15.0, 34.0), priors[row.prior], simon=False
        )
        c = plan.critical_responders
        assert row.critical_responders == (-1 if c is None else c)
        assert row.type1_error == pytest.approx(plan.type1_error, abs=1e-12)
        assert row.power == pytest.approx(plan.power, abs=1e-12)
        assert row.assurance == pytest.approx(plan.assurance, abs=1e-12)


def test_no_success_possible_and_validation() -> None:
    assert critical_responders(3, 0.5, 0.999) is None
    plan = plan_binary(3, 0.5, 0.7, 0.999, design_prior=(1, 1), simon=False)
    assert plan.type1_error == plan.power == plan.assurance == 0.0
    with pytest.raises(ValueError, match="success_prob"):
        critical_responders(10, 0.05, 1.2)


def test_oc_curves_and_plot() -> None:
    curves = oc_curves([20, 40], 0.05, 0.95, rates=[0.05, 0.2, 0.5])
    at_p0 = curves[(curves.n == 40) & (curves.true_rate == 0.05)].prob_success.item()
    assert at_p0 == pytest.approx(plan_binary(40, 0.05, 0.2, 0.95, simon=False).type1_error)
    fig = plot_oc_curves(oc_curves([20, 40], 0.05, 0.95), p0=0.05, p1=0.2)
    assert isinstance(fig, Figure) and len(fig.axes[0].lines) == 4


def test_plan_from_results_and_errors() -> None:
    results = {
        "followup_priors": {
            "burden_reduction": [
                {"name": "beta", "family": "beta", "parameters": {"alpha": 15.0, "beta": 34.0}},
                {"name": "pfs_like", "family": "normal", "parameters": {"mu": 0, "sigma": 1}},
            ]
        }
    }
    plan = plan_from_results(results, "burden_reduction", "beta", 40, 0.05, 0.20, 0.95)
    direct = plan_binary(40, 0.05, 0.20, 0.95, (15.0, 34.0), simon=False)
    assert plan.assurance == pytest.approx(direct.assurance)
    json.dumps(plan.to_dict())
    text = format_plan(plan)
    assert "assurance" in text and f"{plan.critical_responders} of 40" in text
    with pytest.raises(InputError, match="no such endpoint") as err:
        plan_from_results(results, "overall_survival", "beta", 40, 0.05, 0.2, 0.95, source="r.json")
    assert err.value.exit_code == 2 and err.value.source == "r.json"
    with pytest.raises(InputError, match="no prior named 'skeptical'"):
        plan_from_results(results, "burden_reduction", "skeptical", 40, 0.05, 0.2, 0.95)
    with pytest.raises(InputError, match="not a response-rate prior"):
        plan_from_results(results, "burden_reduction", "pfs_like", 40, 0.05, 0.2, 0.95)
    with pytest.raises(InputError, match="followup_priors"):
        plan_from_results({}, "burden_reduction", "beta", 40, 0.05, 0.2, 0.95)


def test_simon_designs_are_attached_when_available() -> None:
    frequentist = pytest.importorskip("trial_reanalysis.analysis.frequentist.binomial")
    if not hasattr(frequentist, "simon_designs"):
        pytest.skip("trial_reanalysis.analysis.frequentist.binomial.simon_designs not written yet")
    plan = plan_binary(40, 0.05, 0.20, 0.95, design_prior=(15, 34))
    assert (plan.simon["optimal"]["n1"], plan.simon["optimal"]["n"]) == (10, 29)  # Simon 1989
    assert (plan.simon["minimax"]["n1"], plan.simon["minimax"]["n"]) == (13, 27)
    assert "Simon optimal" in format_plan(plan)


def test_km_median_closed_form_exponential_no_censoring() -> None:
    """n odd, no censoring: the KM median is the (n+1)/2-th order statistic, and
    P(median > t) = P(U_(k) > F(t)) with U_(k) ~ Beta(k, n + 1 - k)."""
    n, m, trials = 25, 4.5, 20_000
    res = {
        t: pfs_success_probability(
            n, 12.0, np.inf, t, median_months=m, shape=1.0, n_trials=trials, seed=5
        )
        for t in (3.5, 4.5, 6.0)
    }
    k = (n + 1) // 2
    for t, r in res.items():
        exact = stats.beta.sf(1 - math.exp(-math.log(2) * t / m), k, n + 1 - k)
        assert abs(r.probability - exact) < 4 * math.sqrt(exact * (1 - exact) / trials), t
        assert r.p_not_reached == 0.0


def test_km_median_equals_sample_median_without_censoring_even_n() -> None:
    rng = np.random.default_rng(2)
    t = rng.exponential(5.0, size=(500, 20))
    assert km_medians(t, np.ones_like(t, dtype=bool)) == pytest.approx(np.median(t, axis=1))


def _loop_km_median(times: np.ndarray, events: np.ndarray) -> float:
    """Reference Kaplan-Meier median written patient by patient (R's midpoint rule)."""
    order = sorted(range(len(times)), key=lambda i: (times[i], not events[i]))
    s, at_risk, steps = 1.0, len(times), []
    for i in order:
        if events[i]:
            s *= 1 - 1 / at_risk
            steps.append((times[i], s))
        at_risk -= 1
    for j, (tj, sj) in enumerate(steps):
        if abs(sj - 0.5) <= 1e-9:
            return (tj + steps[j + 1][0]) / 2 if j + 1 < len(steps) else (tj + max(times)) / 2
        if sj < 0.5:
            return tj
    return math.inf


def test_km_median_flat_at_half_until_the_end_follows_r() -> None:
    """R: survfit(Surv(c(1,2,3,8,9,10), c(1,1,1,0,0,0)) ~ 1) has median (3 + 10) / 2 = 6.5."""
    from trial_reanalysis.analysis.frequentist.survival import kaplan_meier

    t = np.array([[1.0, 2, 3, 8, 9, 10]])
    e = np.array([[True, True, True, False, False, False]])
    assert km_medians(t, e)[0] == pytest.approx(6.5)
    assert _loop_km_median(t[0], e[0]) == pytest.approx(6.5)
    assert kaplan_meier(t[0], e[0].astype(int)).median_ci("log")[0] == pytest.approx(6.5)


def test_km_median_with_censoring_against_loop() -> None:
    rng = np.random.default_rng(9)
    pfs = rng.weibull(1.6, size=(300, 16)) * 5.0
    censor = rng.uniform(0.5, 8.0, size=(300, 16))
    y, ev = np.minimum(pfs, censor), pfs <= censor
    ref = np.array([_loop_km_median(y[i], ev[i]) for i in range(300)])
    assert km_medians(y, ev) == pytest.approx(ref)
    assert np.isinf(ref).any() and np.isfinite(ref).any()


def test_pfs_with_design_prior_draws_is_seeded() -> None:
    rng = np.random.default_rng(4)
    draws = {
        "median_pfs": rng.lognormal(math.log(4.5), 0.1, 1000),
        "weibull_shape": rng.lognormal(math.log(1.6), 0.25, 1000),
    }
    a = pfs_success_probability(40, 12, 6, 4.0, draws=draws, n_trials=10_000, seed=1)
    b = pfs_success_probability(40, 12, 6, 4.0, draws=draws, n_trials=10_000, seed=1)
    fixed = pfs_success_probability(40, 12, 6, 4.0, median_months=4.5, shape=1.6, seed=1)
    assert a.to_dict() == b.to_dict()
    assert 0.5 < a.probability < fixed.probability + 0.05  # prior uncertainty pulls towards 1/2
    json.dumps(a.to_dict())
    with pytest.raises(ValueError, match="give draws"):
        pfs_success_probability(40, 12, 6, 4.0)
