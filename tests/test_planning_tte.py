"""Assurance of a time-to-event follow-up decided on its KM median (issue 15 item 4).

Checks: the order-statistic closed form (no censoring, odd n) against scipy quadrature written
here; the vectorised simulation against that closed form (within 4 Monte Carlo se) under the
single-trial bivariate normal prior and under a robust MAP mixture; the simulation against a
patient-by-patient loop on a small censored case (same random numbers, then fresh ones); the
prior draws against the prior's distribution. Prior parameters are illustrative test inputs.
"""

from __future__ import annotations

import json
import math

import numpy as np
import pytest
from scipy import integrate, stats
from typer.testing import CliRunner

from trial_reanalysis.analysis.cli import app
from trial_reanalysis.analysis.errors import InputError
from trial_reanalysis.analysis.planning.plan import (
    draw_tte_parameters,
    pfs_plan_from_results,
    tte_assurance,
    tte_assurance_no_censoring,
    tte_prior_components,
)

LN2 = math.log(2.0)
#: A single-trial follow-up prior: bivariate normal on (log median, log shape), shape ~ 1.56.
MEAN, SD, RHO = (1.49, 0.444), (0.132, 0.248), 0.26
MVN = {
    "name": "mvnormal",
    "family": "mvnormal",
    "parameters": {
        "mean": list(MEAN),
        "cov": [
            [SD[0] ** 2, RHO * SD[0] * SD[1]],
            [RHO * SD[0] * SD[1], SD[1] ** 2],
        ],
    },
}
#: A robust MAP prior on the log median: 0.8 N(1.4, 0.18^2) + 0.2 N(1.4, 2^2).
MAP = {
    "name": "map_robust",
    "family": "normal_mixture",
    "parameters": {"weights": [0.8, 0.2], "mean": [1.4, 1.4], "sd": [0.18, 2.0]},
}


def order_statistic_prob(n: int, t: float, median: float, shape: float) -> float:
    """P(KM median > t) without censoring, n odd: the ((n+1)/2)-th of n Weibull times exceeds t
    when fewer than (n+1)/2 of them fall below t: a binomial sum with F(t) = 1 - 2^-(t/m)^k."""
    f = 1.0 - 2.0 ** (-((t / median) ** shape))
    j = (n + 1) // 2
    return sum(math.comb(n, i) * f**i * (1 - f) ** (n - i) for i in range(j))


def test_closed_form_for_bivariate_normal_prior_matches_dblquad() -> None:
    n, t = 25, 4.0
    j = (n + 1) // 2

    def integrand(lk: float, lm: float) -> float:
        zm, zk = (lm - MEAN[0]) / SD[0], (lk - MEAN[1]) / SD[1]
        q = (zm**2 - 2 * RHO * zm * zk + zk**2) / (1 - RHO**2)
        dens = math.exp(-q / 2) / (2 * math.pi * SD[0] * SD[1] * math.sqrt(1 - RHO**2))
        f = 1.0 - 2.0 ** (-((t / math.exp(lm)) ** math.exp(lk)))
        return dens * stats.beta.sf(f, j, n + 1 - j)

    ref, _ = integrate.dblquad(
        integrand,
        MEAN[0] - 8 * SD[0],
        MEAN[0] + 8 * SD[0],
        MEAN[1] - 8 * SD[1],
        MEAN[1] + 8 * SD[1],
        epsabs=1e-10,
    )
    got = tte_assurance_no_censoring(n, t, tte_prior_components(MVN))
    assert got == pytest.approx(ref, abs=1e-6)
    # the beta tail is the binomial sum of order statistics (independent identity)
    assert stats.beta.sf(0.3, j, n + 1 - j) == pytest.approx(
        order_statistic_prob(n, 4.0, 4.0 / (-math.log2(0.7)), 1.0), rel=1e-10
    )


@pytest.mark.parametrize("shape", [1.5, (0.3, 0.2)])
def test_closed_form_for_map_mixture_matches_quad(shape) -> None:
    n, t = 15, 3.5
    w, m, s = (np.asarray(MAP["parameters"][k]) for k in ("weights", "mean", "sd"))

    def given_median(lm: float) -> float:
        if isinstance(shape, tuple):  # average over the log-normal shape by quad too
            return integrate.quad(
                lambda lk: (
                    stats.norm.pdf(lk, *shape)
                    * order_statistic_prob(n, t, math.exp(lm), math.exp(lk))
                ),
                shape[0] - 9 * shape[1],
                shape[0] + 9 * shape[1],
                epsabs=1e-11,
            )[0]
        return order_statistic_prob(n, t, math.exp(lm), shape)

    ref = sum(
        wk
        * integrate.quad(
            lambda lm, mk=mk, sk=sk: stats.norm.pdf(lm, mk, sk) * given_median(lm),
            mk - 9 * sk,
            mk + 9 * sk,
            epsabs=1e-11,
            limit=200,
        )[0]
        for wk, mk, sk in zip(w, m, s, strict=True)
    )
    got = tte_assurance_no_censoring(n, t, tte_prior_components(MAP, shape))
    assert got == pytest.approx(ref, abs=1e-6)


@pytest.mark.parametrize(
    ("prior", "shape"), [(MVN, None), (MAP, (0.44, 0.25)), (MAP, 0.7)], ids=["mvn", "map", "k07"]
)
def test_simulation_matches_closed_form_without_censoring(prior, shape) -> None:
    """Shapes away from 1 (a median-to-scale conversion without ln 2 or without the 1/k power
    moves the simulated medians and fails this)."""
    trials = 20_000
    res = tte_assurance(25, 12.0, math.inf, 4.0, prior, shape=shape, n_trials=trials, seed=11)
    exact = res.exact_probability
    assert exact is not None and 0.3 < exact < 0.8
    assert abs(res.probability - exact) < 4 * math.sqrt(exact * (1 - exact) / trials)
    assert res.p_not_reached == 0.0
    # censored: no closed form is claimed
    assert (
        tte_assurance(25, 12.0, 6.0, 4.0, prior, shape=shape, n_trials=50).exact_probability is None
    )


def test_fixed_parameters_against_binomial_sum_at_shape_2() -> None:
    """A point prior (sd 1e-9) at median 5, shape 2: P(KM median > t) is the order-statistic
    binomial sum, 0.652; a scale without ln 2 would give 0.209, without the 1 / k power 0.929."""
    point = {"family": "normal", "parameters": {"mu": math.log(5.0), "sigma": 1e-9}}
    trials = 20_000
    res = tte_assurance(21, 0.0, math.inf, 4.7, point, shape=2.0, n_trials=trials, seed=5)
    exact = order_statistic_prob(21, 4.7, 5.0, 2.0)
    assert res.exact_probability == pytest.approx(exact, abs=1e-9)
    assert exact == pytest.approx(0.651865, abs=1e-6)
    assert abs(res.probability - exact) < 4 * math.sqrt(exact * (1 - exact) / trials)


def _loop_km_median(times: list[float], events: list[bool]) -> float:
    """Kaplan-Meier median patient by patient (R's rule: midpoint where S is exactly 0.5)."""
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


def test_simulation_against_patient_loop_same_random_numbers() -> None:
    """Small censored case: the loop reuses the simulation's random stream (prior draws, then
    standard exponentials, then uniform entry times) but builds every time itself by inversion,
    t = m (E / ln 2)^(1 / k), and its own KM median; every trial's decision must agree."""
    n, accrual, followup, t, trials, seed = 9, 6.0, 3.0, 3.5, 400, 21
    comps = tte_prior_components(MAP, (0.44, 0.25))
    res = tte_assurance(
        n, accrual, followup, t, MAP, shape=(0.44, 0.25), n_trials=trials, seed=seed
    )
    rng = np.random.default_rng(seed)
    med, k = draw_tte_parameters(comps, trials, rng)
    e = rng.exponential(size=(trials, n))
    entry = rng.uniform(0.0, accrual, size=(trials, n))
    hits, not_reached = 0, 0
    for i in range(trials):
        times, events = [], []
        for p in range(n):
            tt = med[i] * (e[i, p] / LN2) ** (1.0 / k[i])
            c = accrual + followup - entry[i, p]
            times.append(min(tt, c))
            events.append(tt <= c)
        km = _loop_km_median(times, events)
        hits += km > t
        not_reached += math.isinf(km)
    assert res.probability == hits / trials
    assert res.p_not_reached == not_reached / trials
    assert 0 < not_reached < trials and 0 < hits < trials


def test_simulation_against_patient_loop_fresh_random_numbers() -> None:
    """The same case with a loop drawing everything itself (scipy's Weibull, its own prior
    draws): the two probabilities agree within 4 se of their difference."""
    n, accrual, followup, t = 9, 6.0, 3.0, 3.5
    trials = 6000
    res = tte_assurance(n, accrual, followup, t, MVN, n_trials=trials, seed=8)
    rng = np.random.default_rng(99)
    cov = np.array(MVN["parameters"]["cov"])
    hits = 0
    for _ in range(trials):
        lm, lk = rng.multivariate_normal(MEAN, cov)
        m, k = math.exp(lm), math.exp(lk)
        scale = m / LN2 ** (1 / k)
        tt = stats.weibull_min.rvs(k, scale=scale, size=n, random_state=rng)
        c = accrual + followup - rng.uniform(0, accrual, size=n)
        hits += _loop_km_median(list(np.minimum(tt, c)), list(tt <= c)) > t
    p_loop = hits / trials
    se = math.sqrt(p_loop * (1 - p_loop) * 2 / trials)
    assert abs(res.probability - p_loop) < 4 * se


def test_prior_draws_follow_the_prior() -> None:
    rng = np.random.default_rng(4)
    med, k = draw_tte_parameters(tte_prior_components(MAP, (0.44, 0.25)), 200_000, rng)
    lm = np.log(med)
    for q in (-1.0, 0.5, 1.4, 1.7, 3.0):
        ref = 0.8 * stats.norm.cdf(q, 1.4, 0.18) + 0.2 * stats.norm.cdf(q, 1.4, 2.0)
        assert abs(np.mean(lm <= q) - ref) < 4 * math.sqrt(ref * (1 - ref) / lm.size)
    assert np.log(k).mean() == pytest.approx(0.44, abs=4 * 0.25 / math.sqrt(lm.size))
    assert np.log(k).std() == pytest.approx(0.25, rel=0.01)
    assert abs(np.corrcoef(lm, np.log(k))[0, 1]) < 0.01
    med, k = draw_tte_parameters(tte_prior_components(MVN), 200_000, rng)
    assert np.corrcoef(np.log(med), np.log(k))[0, 1] == pytest.approx(RHO, abs=0.01)
    assert np.log(med).std() == pytest.approx(SD[0], rel=0.01)
    assert np.log(k).std() == pytest.approx(SD[1], rel=0.01)
    assert np.log(k).mean() == pytest.approx(MEAN[1], abs=4 * SD[1] / math.sqrt(med.size))


def test_prior_validation() -> None:
    with pytest.raises(ValueError, match="needs a shape"):
        tte_prior_components(MAP)
    with pytest.raises(ValueError, match="carries its own shape"):
        tte_prior_components(MVN, 1.5)
    with pytest.raises(ValueError, match="not a time-to-event design prior"):
        tte_prior_components({"family": "beta", "parameters": {}}, 1.0)
    with pytest.raises(ValueError, match="odd n"):
        tte_assurance_no_censoring(24, 4.0, tte_prior_components(MVN))


def test_map_prior_through_results_and_cli(tmp_path) -> None:
    results = {"followup_priors": {"pfs": [MVN]}, "time_to_event": {"pfs": {}}}
    map_file = {"kind": "median", "priors": [dict(MAP, name="map"), MAP]}
    rpath, mpath = tmp_path / "results.json", tmp_path / "map.json"
    rpath.write_text(json.dumps(results))
    mpath.write_text(json.dumps(map_file))
    # the MAP prior borrows the log-shape marginal of the primary exported prior
    plan = pfs_plan_from_results(
        results, "map_robust", 25, 12.0, math.inf, 4.0, map_prior=map_file, n_trials=2000
    )
    exact = tte_assurance_no_censoring(25, 4.0, tte_prior_components(MAP, (MEAN[1], SD[1])))
    assert plan.exact_probability == pytest.approx(exact, abs=1e-12)
    args = ["plan", "--results", str(rpath), "--endpoint", "pfs", "--n", "25"]
    args += ["--followup-months", "inf", "--threshold-months", "4", "--json"]
    out = CliRunner().invoke(
        app, [*args, "--map-prior", str(mpath), "--design-prior", "map_robust"]
    )
    assert out.exit_code == 0, out.output
    got = json.loads(out.output)
    assert got["exact_probability"] == pytest.approx(exact, abs=1e-12)
    assert abs(got["probability"] - exact) < 4 * got["mc_se"]
    fixed = CliRunner().invoke(app, [*args, "--map-prior", str(mpath), "--shape", "0.7"])
    ref = tte_assurance_no_censoring(25, 4.0, tte_prior_components(dict(MAP, name="map"), 0.7))
    assert json.loads(fixed.output)["exact_probability"] == pytest.approx(ref, abs=1e-12)
    bad = CliRunner().invoke(app, [*args, "--map-prior", str(mpath), "--design-prior", "nope"])
    assert bad.exit_code == 2 and "nope" in bad.output
    with pytest.raises(InputError, match="log median"):
        pfs_plan_from_results(results, None, 25, 12.0, 6.0, 4.0, map_prior={"priors": [MVN]})
