"""The exact (2-D quadrature) posterior of the Weibull summary model
(:mod:`analysis.inference.weibull_quadrature`).

References, all written here and sharing no code with the package's quadrature:

- a dense trapezoid grid in (log median, log shape), not the package's (offset, log shape),
  with the likelihood written again from its definition (DESIGN.md 4.2): the Dirichlet of the
  order-statistic spacings plus the Jacobian for a printed (L, M, U), and for a median not
  reached by F, P(u_M > F(t_F)) with u_M ~ Beta(a1 + a2, a3 + a4) (scipy's beta.sf); quantiles
  from marginal CDFs (cumulative trapezoid) and, for survival, from per-row CDFs in log median;
- the package's own MCMC fit of the same scenario, within 4 Monte Carlo standard errors;
- the grid checks themselves: a start far too narrow or far too wide gives the same numbers,
  and the checks raise when their rounds run out.
"""

from __future__ import annotations

import math

import arviz as az
import numpy as np
import pytest
from scipy import optimize, special, stats
from scipy.integrate import cumulative_trapezoid, trapezoid

from trial_reanalysis.analysis.endpoints.time_to_event import mcmc_check
from trial_reanalysis.analysis.inference import weibull_quadrature as wq
from trial_reanalysis.analysis.inference.calibration import dirichlet_alpha
from trial_reanalysis.analysis.inference.diagnostics import fit_with_gates
from trial_reanalysis.models.time_to_event import (
    default_priors,
    landmark_data,
    prior_data,
    summary_data,
)

LN2 = math.log(2.0)
TIMES = [3.0, 6.0, 12.0]
#: The seed's PFS as printed (months) and its primary scenario (log transform, n 48, 0-20 %).
SEED = {"median": 4.4, "lower": 3.6, "upper": 5.9}
#: The default primary prior, typed in from its documented rationale: median lognormal centred
#: at 12 months with log-sd 1.5, shape centred at 1 with log-sd 0.6.
PRIOR = {"mu_m": math.log(12.0), "sd_m": 1.5, "mu_k": 0.0, "sd_k": 0.6}


def _seed_alpha() -> np.ndarray:
    alpha, _, _ = dirichlet_alpha(48, "log", (0.0, 0.2))
    return np.asarray(alpha, float)


def _primary_prior():
    return default_priors("months")["weakly_informative"]


# ---------------------------------------------------------------------------------------------
# independent reference: a dense (log m, log k) grid
# ---------------------------------------------------------------------------------------------


def _lmu_loglik(m: np.ndarray, k: np.ndarray, alpha: np.ndarray) -> np.ndarray:
    """log density of the printed (L, M, U) as Weibull order statistics (DESIGN.md 4.2)."""
    total = np.zeros(np.broadcast(m, k).shape)
    h = [LN2 * (x / m) ** k for x in (SEED["lower"], SEED["median"], SEED["upper"])]
    surv = [np.exp(-hi) for hi in h]
    spacings = [1.0 - surv[0], surv[0] - surv[1], surv[1] - surv[2], surv[2]]
    total += special.gammaln(alpha.sum()) - special.gammaln(alpha).sum()
    for a, d in zip(alpha, spacings, strict=True):
        total += (a - 1.0) * np.log(d)
    for x, hi in zip((SEED["lower"], SEED["median"], SEED["upper"]), h, strict=True):
        total += np.log(k) - math.log(x) + np.log(hi) - hi
    return total


def _not_reached_loglik(m: np.ndarray, k: np.ndarray, followup: float, alpha: np.ndarray):
    """log P(the KM median lies beyond F): u_M ~ Beta(a1 + a2, a3 + a4) above F(t_F)."""
    u_f = 1.0 - np.exp(-LN2 * (followup / m) ** k)
    return stats.beta.logsf(u_f, alpha[0] + alpha[1], alpha[2] + alpha[3])


def _reference(loglik, prior: dict, u_range, v_range, nu: int, nv: int) -> dict:
    """Posterior summaries on a dense trapezoid grid in u = log m, v = log k (rows v)."""
    u = np.linspace(*u_range, nu)
    v = np.linspace(*v_range, nv)
    uu, vv = np.meshgrid(u, v)
    with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
        lp = (
            stats.norm.logpdf(uu, prior["mu_m"], prior["sd_m"])
            + stats.norm.logpdf(vv, prior["mu_k"], prior["sd_k"])
            + loglik(np.exp(uu), np.exp(vv))
        )
    lp = np.where(np.isfinite(lp), lp, -np.inf)
    f = np.exp(lp - lp.max())
    z = trapezoid(trapezoid(f, u, axis=1), v)

    def expect(g: np.ndarray) -> float:
        return float(trapezoid(trapezoid(f * g, u, axis=1), v) / z)

    def quantiles(marginal: np.ndarray, x: np.ndarray, ps) -> list[float]:
        cdf = cumulative_trapezoid(marginal, x, initial=0.0)
        cdf /= cdf[-1]
        return [float(np.interp(p, cdf, x)) for p in ps]

    ps = (0.5, 0.025, 0.975)
    qu = quantiles(trapezoid(f, v, axis=0), u, ps)
    qv = quantiles(trapezoid(f, u, axis=1), v, ps)
    out = {
        "median": {"mean": expect(np.exp(uu)), "q": [math.exp(x) for x in qu]},
        "shape": {"mean": expect(np.exp(vv)), "q": [math.exp(x) for x in qv]},
    }
    mean_v = expect(vv)
    out["sd_log_shape"] = math.sqrt(expect((vv - mean_v) ** 2))
    cdf_v = cumulative_trapezoid(trapezoid(f, u, axis=1), v, initial=0.0)
    out["p_shape_above_1"] = float(1.0 - np.interp(0.0, v, cdf_v / cdf_v[-1]))
    # survival: S(t) <= s  <=>  u <= log t - L(s) / k, L(s) = log(-log s / ln 2); per row v the
    # cumulative integral in u, interpolated linearly at the row's threshold
    rows = cumulative_trapezoid(f, u, axis=1, initial=0.0)
    k = np.exp(v)
    du = u[1] - u[0]

    def p_below(t: float, s: float) -> float:
        thr = math.log(t) - math.log(-math.log(s) / LN2) / k
        pos = np.clip((thr - u[0]) / du, 0.0, nu - 1.0)
        i = np.minimum(pos.astype(int), nu - 2)
        frac = pos - i
        c = rows[np.arange(nv), i] * (1 - frac) + rows[np.arange(nv), i + 1] * frac
        return float(trapezoid(c, v) / z)

    out["survival_at"] = []
    for t in TIMES:
        with np.errstate(over="ignore"):
            s_mean = expect(np.exp(-LN2 * np.exp(np.exp(vv) * (math.log(t) - uu))))
        qs = [
            optimize.brentq(lambda s, p=p, t=t: p_below(t, s) - p, 1e-12, 1 - 1e-12, xtol=1e-14)
            for p in (0.025, 0.975)
        ]
        out["survival_at"].append({"mean": s_mean, "ci95": qs})
    return out


def _assert_matches(got: dict, ref: dict, rel: float) -> None:
    for key in ("median", "shape"):
        assert got[key]["mean"] == pytest.approx(ref[key]["mean"], rel=rel), key
        assert got[key]["median"] == pytest.approx(ref[key]["q"][0], rel=rel), key
        assert got[key]["ci95"] == pytest.approx(ref[key]["q"][1:], rel=rel), key
    assert got["sd_log_shape"] == pytest.approx(ref["sd_log_shape"], rel=rel)
    assert got["p_shape_above_1"] == pytest.approx(ref["p_shape_above_1"], abs=rel)
    for g, r in zip(got["survival_at"], ref["survival_at"], strict=True):
        assert g["mean"] == pytest.approx(r["mean"], rel=rel)
        assert g["ci95"] == pytest.approx(r["ci95"], rel=rel)


@pytest.fixture(scope="module")
def seed_exact() -> dict:
    data = summary_data(SEED["median"], SEED["lower"], SEED["upper"], _seed_alpha())
    return wq.weibull_posterior_by_quadrature(
        "L,M,U", data, None, _primary_prior(), TIMES, reference=SEED["median"]
    )


def test_primary_prior_is_the_documented_one() -> None:
    p = _primary_prior().parameters
    assert p["log_median_mu"] == pytest.approx(PRIOR["mu_m"], rel=1e-12)
    assert (p["log_median_sd"], p["log_shape_mu"], p["log_shape_sd"]) == (1.5, 0.0, 0.6)


def test_seed_primary_scenario_against_a_dense_log_grid(seed_exact) -> None:
    """Every reported number of the seed's primary scenario within 1e-4 relative of a dense
    (log m, log k) grid with the likelihood written from its definition."""
    alpha = _seed_alpha()
    ref = _reference(
        lambda m, k: _lmu_loglik(m, k, alpha),
        PRIOR,
        (math.log(4.4) - 2.0, math.log(4.4) + 2.0),
        (-2.5, 3.0),
        2401,
        1101,
    )
    _assert_matches(seed_exact, ref, 1e-4)
    # and DESIGN.md 4.2's expectation for the seed (median near 4.4-4.7, shape near 1.5-1.7)
    assert 4.4 < seed_exact["median"]["median"] < 4.7
    assert 1.5 < seed_exact["shape"]["median"] < 1.7


@pytest.fixture(scope="module")
def seed_mcmc(compiled_summary):
    data = summary_data(SEED["median"], SEED["lower"], SEED["upper"], _seed_alpha())
    data.update(landmark_data([], 48))
    data["reference_time"] = np.array(SEED["median"])
    data.update(prior_data(_primary_prior()))
    data = {k: v for k, v in data.items() if k in compiled_summary.data_names}
    idata, diag = fit_with_gates(compiled_summary, data, seed=20240611, label="quadrature check")
    assert diag.passed
    return idata


def _z_values(idata, exact: dict) -> dict:
    """(MCMC - exact) / MCSE of the means and 50 / 2.5 / 97.5 % quantiles of the median and the
    shape, and of the mean survival at each time (written here from ArviZ's MCSE)."""
    post = idata.posterior
    out = {}
    for var, key in (("median", "median"), ("weibull_shape", "shape")):
        flat = post[var].values.ravel()
        mcse = float(az.mcse(idata, var_names=[var], method="mean")[var])
        out[(key, "mean")] = (flat.mean() - exact[key]["mean"]) / mcse
        exact_q = [exact[key]["median"], *exact[key]["ci95"]]
        for p, ex in zip((0.5, 0.025, 0.975), exact_q, strict=True):
            se = float(az.mcse(idata, var_names=[var], method="quantile", prob=p)[var])
            out[(key, p)] = (np.quantile(flat, p) - ex) / se
    m, k = post["median"], post["weibull_shape"]
    for t, ex in zip(TIMES, exact["survival_at"], strict=True):
        surv = np.exp(-LN2 * (t / m) ** k).rename("s").to_dataset()
        mcse = float(az.mcse(surv, method="mean")["s"])
        out[("survival", t)] = (float(surv["s"].mean()) - ex["mean"]) / mcse
    return out


def test_seed_primary_scenario_against_mcmc(seed_exact, seed_mcmc) -> None:
    """The package's MCMC fit of the same scenario and prior: means and 2.5 / 50 / 97.5 %
    quantiles of the median and the shape, and the mean survival at 3, 6, 12 months, within 4
    MCSE of the exact values."""
    z = _z_values(seed_mcmc, seed_exact)
    assert len(z) == 11
    assert max(abs(v) for v in z.values()) < 4, z


def test_endpoint_mcmc_check_gives_these_z_values(seed_exact, seed_mcmc) -> None:
    """The endpoint's MCMC check (results.json ``mcmc_check``) reports the z values computed
    here, and flags a posterior moved by 10 MCSE of the median's mean."""
    keyed = dict(zip(("3", "6", "12"), seed_exact["survival_at"], strict=True))
    exact = {**seed_exact, "survival_at": keyed}
    check = mcmc_check(seed_mcmc, exact, TIMES)
    z = _z_values(seed_mcmc, seed_exact)
    got = check["z"]
    for key in ("median", "shape"):
        assert got[key]["mean"] == pytest.approx(z[(key, "mean")], rel=1e-9)
        assert got[key]["median"] == pytest.approx(z[(key, 0.5)], rel=1e-9)
        assert got[key]["ci95"] == pytest.approx([z[(key, 0.025)], z[(key, 0.975)]], rel=1e-9)
    for t, key in zip(TIMES, ("3", "6", "12"), strict=True):
        assert got["survival_at"][key]["mean"] == pytest.approx(z[("survival", t)], rel=1e-9)
    assert check["within_limit"] and check["max_abs_z"] == pytest.approx(
        max(abs(v) for v in z.values()), rel=1e-9
    )
    mcse = float(az.mcse(seed_mcmc, var_names=["median"], method="mean")["median"])
    moved = {**exact, "median": {**exact["median"], "mean": exact["median"]["mean"] + 10 * mcse}}
    assert not mcmc_check(seed_mcmc, moved, TIMES)["within_limit"]


# ---------------------------------------------------------------------------------------------
# the grid's checks
# ---------------------------------------------------------------------------------------------


def test_grid_record_says_both_checks_passed(seed_exact) -> None:
    grid = seed_exact["grid"]
    assert grid["method"] == "quadrature"
    assert grid["edge_mass"] < 1e-9 and grid["refinement_max_relative_change"] < 1e-5
    assert grid["points"][0] == grid["points"][1] >= 2 * wq.START_POINTS - 1
    assert grid["reference_time"] == SEED["median"]


@pytest.mark.parametrize("start_sds", [0.3, 200.0], ids=["too-narrow", "too-wide"])
def test_bad_start_bounds_are_adapted(monkeypatch, seed_exact, start_sds) -> None:
    """Bounds far too narrow (widened) or far too wide (trimmed) give the same numbers."""
    monkeypatch.setattr(wq, "START_SDS", start_sds)
    data = summary_data(SEED["median"], SEED["lower"], SEED["upper"], _seed_alpha())
    got = wq.weibull_posterior_by_quadrature(
        "L,M,U", data, None, _primary_prior(), TIMES, reference=SEED["median"]
    )
    assert got["grid"]["edge_mass"] < 1e-9
    a, b = np.array(wq._numbers(got)), np.array(wq._numbers(seed_exact))
    np.testing.assert_allclose(a, b, rtol=2e-5, atol=1e-8)


def test_checks_raise_when_their_rounds_run_out(monkeypatch) -> None:
    data = summary_data(SEED["median"], SEED["lower"], SEED["upper"], _seed_alpha())
    args = ("L,M,U", data, None, _primary_prior(), TIMES)
    with pytest.raises(wq.QuadratureError, match="did not converge"):
        wq.weibull_posterior_by_quadrature(*args, reference=SEED["median"], rel_tol=1e-15)
    monkeypatch.setattr(wq, "START_SDS", 0.1)
    monkeypatch.setattr(wq, "BOUND_ROUNDS", 1)
    with pytest.raises(wq.QuadratureError, match="edges stays above"):
        wq.weibull_posterior_by_quadrature(*args, reference=SEED["median"])


# ---------------------------------------------------------------------------------------------
# few printed numbers: a wide posterior
# ---------------------------------------------------------------------------------------------


def test_median_not_reached_against_a_dense_log_grid() -> None:
    """ ">F" (median not reached by a follow-up of 20 months): the shape is barely moved from
    its prior and the median is bounded below only; within 1e-4 of the dense grid."""
    alpha = np.array([16.0, 6.0, 8.0, 14.0])
    followup = 20.0
    data = summary_data(None, None, None, alpha, followup=followup)
    got = wq.weibull_posterior_by_quadrature(
        ">F", data, None, _primary_prior(), TIMES, reference=followup
    )
    ref = _reference(
        lambda m, k: _not_reached_loglik(m, k, followup, alpha),
        PRIOR,
        (-8.0, 16.0),
        (-5.0, 5.0),
        4001,
        1001,
    )
    _assert_matches(got, ref, 1e-4)
    # wide: the median's interval spans a factor of more than 10, the shape stays near its prior
    lo, hi = got["median"]["ci95"]
    assert hi / lo > 10 and lo > 5
    assert got["shape"]["median"] == pytest.approx(1.0, abs=0.3)
