"""The exact posterior of a comparison's log OR by 1-D quadrature (issue 14 item 7), checked.

References written here, independently of the package:

- a 2-D brute force: every (split, table) reproducing the report enumerated from scipy's
  hypergeometric pmf (two-sided Fisher P, R's tolerance 1 + 1e-7), binomial cell likelihoods from
  scipy on a baseline x log OR lattice of step 0.01 (the baseline over its prior mean +/- 8 sd,
  trapezoid), the sum over the baseline by FFT cross-correlation, summaries by the trapezoid rule;
- the package's own MCMC fit of the same scenario, within 4 MCSE;
- for a published table (Azad et al. 2009: 24/42 vs 16/54), scipy.integrate.quad of the exact
  two-binomial posterior in probability coordinates (baseline rate p in (0, 1), not its
  log-odds), with quantiles by Newton's method on the quad CDF.
"""

import dataclasses
import functools
import math

import arviz as az
import numpy as np
import pytest
import xarray as xr
from scipy import integrate, optimize, signal, stats
from scipy.interpolate import CubicSpline
from scipy.special import expit

import trial_reanalysis.models.comparison as mc
from trial_reanalysis.analysis.endpoints.comparison import (
    compiled_model,
    summarise_exact_log_or,
)
from trial_reanalysis.analysis.inference.diagnostics import fit_with_gates
from trial_reanalysis.analysis.inference.fitting import SamplerSettings
from trial_reanalysis.analysis.report.comparison import mcmc_check_sentence
from trial_reanalysis.models.comparison import (
    AE_PRIORS,
    QuadratureError,
    log_or_posteriors,
    model_data,
    report_from_counts,
    report_from_published,
)

WEAK, SKEPTICAL = AE_PRIORS["weakly_informative"], AE_PRIORS["skeptical"]
BASE_MU, BASE_SD = WEAK.parameters["baseline_mu"], WEAK.parameters["baseline_sigma"]
SPLITS = [(n, 48 - n) for n in range(12, 37)]  # the seed's primary split prior, uniform 12-36


@functools.cache
def _fisher(n1: int, n2: int) -> np.ndarray:
    """Two-sided Fisher P of every table (a, c), margin by margin from the hypergeometric pmf."""
    out = np.ones((n1 + 1, n2 + 1))
    for m in range(n1 + n2 + 1):
        a = np.arange(max(0, m - n2), min(n1, m) + 1)
        pmf = stats.hypergeom.pmf(a, n1 + n2, n1, m)
        for ai, observed in zip(a, pmf, strict=True):
            out[ai, m - ai] = min(1.0, pmf[pmf <= observed * (1 + 1e-7)].sum())
    return out


def _reproducing(n1: int, n2: int, p: float, sign: int) -> np.ndarray:
    """Indicator (n1 + 1, n2 + 1) of the tables whose P prints as p (2 decimals), direction sign."""
    a = np.arange(n1 + 1)[:, None]
    c = np.arange(n2 + 1)[None, :]
    fisher = _fisher(n1, n2)
    return (np.sign(a * n2 - c * n1) == sign) & (p - 0.005 <= fisher) & (fisher < p + 0.005)


def _brute_force(p: float, sign: int, prior_sd: float) -> dict[str, float]:
    """Summaries of the log OR posterior (prior N(0, prior_sd)) from the 2-D lattice."""
    h = 0.01
    alpha = np.arange(BASE_MU - 8 * BASE_SD, BASE_MU + 8 * BASE_SD + h / 2, h)
    beta = np.arange(-7.0, 9.0 + h / 2, h)
    eta = alpha[0] + beta[0] + h * np.arange(alpha.size + beta.size - 1)  # alpha_i + beta_j
    w_alpha = stats.norm.pdf(alpha, BASE_MU, BASE_SD) * h
    w_alpha[[0, -1]] /= 2
    like = np.zeros(beta.size)
    for n1, n2 in SPLITS:
        ind = _reproducing(n1, n2, p, sign).astype(float)
        exposed = stats.binom.pmf(np.arange(n1 + 1)[None, :], n1, expit(eta)[:, None])
        reference = stats.binom.pmf(np.arange(n2 + 1)[None, :], n2, expit(alpha)[:, None])
        v = (reference @ ind.T) * w_alpha[:, None]  # (alpha, a): sum over c, baseline weight
        # like[j] += sum_i sum_a exposed[i + j, a] v[i, a]: a cross-correlation along the lattice
        like += signal.fftconvolve(exposed, v[::-1], mode="valid", axes=0).sum(axis=1) / 25
    g = stats.norm.pdf(beta, 0.0, prior_sd) * like
    f = g / integrate.trapezoid(g, beta)
    mean = integrate.trapezoid(beta * f, beta)
    # the CDF from a cubic spline of the density (error O(h^4), where a linear inversion of the
    # cumulative trapezoid would leave about 5e-5 in the tail quantiles)
    cdf = CubicSpline(beta, f).antiderivative()
    total = float(cdf(beta[-1]))
    q = [
        optimize.brentq(lambda x, p=p: cdf(x) / total - p, beta[0], beta[-1], xtol=1e-12)
        for p in (0.025, 0.5, 0.975)
    ]
    return {
        "mean": mean,
        "sd": math.sqrt(integrate.trapezoid((beta - mean) ** 2 * f, beta)),
        "q": q,
        "or_mean": integrate.trapezoid(np.exp(beta) * f, beta),
        "p_below": float(cdf(0.0)) / total,
        "edge": (f[0] + f[-1]) * h,
    }


def _assert_matches(got: dict, ref: dict, rel: float = 1e-5) -> None:
    lor, odds = got["log_odds_ratio"], got["odds_ratio"]
    assert lor["mean"] == pytest.approx(ref["mean"], rel=rel, abs=rel)
    assert lor["sd"] == pytest.approx(ref["sd"], rel=rel)
    for g, r in zip([lor["ci95"][0], lor["median"], lor["ci95"][1]], ref["q"], strict=True):
        assert g == pytest.approx(r, rel=rel, abs=rel)
    assert odds["mean"] == pytest.approx(ref["or_mean"], rel=rel)
    assert odds["median"] == pytest.approx(math.exp(ref["q"][1]), rel=rel)
    assert got["p_or_below_1"] == pytest.approx(ref["p_below"], abs=rel / 5)
    assert got["p_or_above_1"] == pytest.approx(1 - ref["p_below"], abs=rel / 5)


@pytest.mark.parametrize(
    ("p", "sign"),
    [(0.03, 1), (0.06, -1)],  # the seed's PPE and rash reports
)
def test_quadrature_matches_a_2d_brute_force(p, sign):
    report = report_from_published(p, sign, SPLITS)
    # the enumeration's cells are the package's
    assert report.n_cells == sum(_reproducing(n1, n2, p, sign).sum() for n1, n2 in SPLITS)
    posts = log_or_posteriors(report, [WEAK, SKEPTICAL])
    for post, prior in zip(posts, (WEAK, SKEPTICAL), strict=True):
        ref = _brute_force(p, sign, prior.parameters["log_or_sigma"])
        assert ref["edge"] < 1e-12  # the reference's own bounds hold the mass
        got = summarise_exact_log_or(post, sign)
        _assert_matches(got, ref)
        assert got["p_reported_direction"] == (
            got["p_or_above_1"] if sign > 0 else got["p_or_below_1"]
        )
        check = post.check
        assert check["method"] == "quadrature"
        assert check["edge_mass"] < 1e-9 and check["refinement_change"] < 1e-5


def test_quadrature_matches_the_packages_mcmc_fit_within_4_mcse():
    report = report_from_published(0.03, 1, SPLITS)
    (post,) = log_or_posteriors(report, [WEAK])
    exact = summarise_exact_log_or(post, 1)
    idata, diag = fit_with_gates(
        compiled_model(),
        model_data([report], WEAK),
        seed=20101115,
        label="ppe quadrature check",
        settings=SamplerSettings(draws=1000, tune=1000),
    )
    assert diag.passed
    x = idata.posterior["log_odds_ratio"].isel(ae=0)
    ds = xr.Dataset({"x": x, "below": (x < 0).astype(float), "odds": np.exp(x)})
    flat = x.values.ravel()
    checks = [
        (flat.mean(), exact["log_odds_ratio"]["mean"], az.mcse(ds, method="mean")["x"]),
        (np.exp(flat).mean(), exact["odds_ratio"]["mean"], az.mcse(ds, method="mean")["odds"]),
        ((flat < 0).mean(), exact["p_or_below_1"], az.mcse(ds, method="mean")["below"]),
    ]
    lor = exact["log_odds_ratio"]
    for prob, value in zip(
        (0.025, 0.5, 0.975), (lor["ci95"][0], lor["median"], lor["ci95"][1]), strict=True
    ):
        mcse = az.mcse(ds, method="quantile", prob=prob)["x"]
        checks.append((np.quantile(flat, prob), value, mcse))
    for mcmc, ex, mcse in checks:
        assert abs(mcmc - ex) < 4 * float(mcse), (mcmc, ex, float(mcse))


def _quad_posterior(a: int, n1: int, c: int, n2: int, prior_sd: float) -> dict[str, float]:
    """The exact two-binomial posterior of the log OR by nested scipy quad, the baseline as the
    reference group's rate p (prior: logit p ~ N(BASE_MU, BASE_SD), Jacobian 1 / (p (1 - p)))."""

    const = math.comb(n1, a) * math.comb(n2, c) / (2 * math.pi * BASE_SD * prior_sd)

    def inner(beta: float) -> float:
        def integrand(p: float) -> float:
            lp = math.log(p / (1 - p))
            prior_p = math.exp(-0.5 * ((lp - BASE_MU) / BASE_SD) ** 2) / (p * (1 - p))
            q = 1 / (1 + math.exp(-(lp + beta)))
            return prior_p * q**a * (1 - q) ** (n1 - a) * p**c * (1 - p) ** (n2 - c)

        return integrate.quad(integrand, 0, 1, epsabs=0, epsrel=1e-10, limit=200)[0]

    def g(beta: float) -> float:
        return const * math.exp(-0.5 * (beta / prior_sd) ** 2) * inner(beta)

    def moment(f, lo=-8.0, hi=8.0) -> float:
        return integrate.quad(f, lo, hi, epsabs=0, epsrel=1e-10, limit=200, points=[0.0, 1.0])[0]

    total = moment(g)
    mean = moment(lambda b: b * g(b)) / total
    sd = math.sqrt(moment(lambda b: (b - mean) ** 2 * g(b)) / total)
    p_below = moment(g, hi=0.0) / total

    def quantile(prob: float) -> float:
        return optimize.newton(
            lambda q: moment(g, hi=q) / total - prob,
            mean + stats.norm.ppf(prob) * sd,
            fprime=lambda q: g(q) / total,
            tol=1e-9,
        )

    return {
        "mean": mean,
        "sd": sd,
        "q": [quantile(prob) for prob in (0.025, 0.5, 0.975)],
        "or_mean": moment(lambda b: math.exp(b) * g(b)) / total,
        "p_below": p_below,
    }


def test_published_table_matches_scipy_quadrature_of_the_two_binomial_posterior():
    # Azad et al. 2009 (data/trials/azad_hfsr_pooled_2009.toml): 24/42 vs 16/54
    report = report_from_counts(42, 54, 24, 16)
    (post,) = log_or_posteriors(report, [WEAK])
    ref = _quad_posterior(24, 42, 16, 54, 1.0)
    _assert_matches(summarise_exact_log_or(post, 1), ref)


def test_edge_mass_and_refinement_checks_widen_refine_and_raise(monkeypatch):
    report = report_from_published(0.06, 1, SPLITS)  # the seed's mucositis report
    (ref,) = log_or_posteriors(report, [WEAK])
    target = ref.key_numbers()
    # a scan far too narrow: the scan doubles until it holds the posterior
    monkeypatch.setattr(mc, "QUADRATURE_SCAN_SDS", 0.3)
    (wide,) = log_or_posteriors(report, [WEAK])
    np.testing.assert_allclose(wide.key_numbers(), target, rtol=1e-5, atol=1e-6)
    monkeypatch.undo()
    # bounds cut at a density e^-2 of the peak: the edge-mass check widens them
    monkeypatch.setattr(mc, "QUADRATURE_DROP", 2.0)
    (cut,) = log_or_posteriors(report, [WEAK])
    assert cut.check["bounds"][1] - cut.check["bounds"][0] > 4.0
    assert cut.check["edge_mass"] < 1e-9
    np.testing.assert_allclose(cut.key_numbers(), target, rtol=1e-5, atol=1e-6)
    monkeypatch.undo()
    # a coarse lattice: the refinement check halves the step until the summaries agree
    monkeypatch.setattr(mc, "QUADRATURE_STEP", 1.0)
    monkeypatch.setattr(mc, "QUADRATURE_FINE", 2)
    (coarse,) = log_or_posteriors(report, [WEAK])
    assert coarse.check["refinement_change"] < 1e-5
    np.testing.assert_allclose(coarse.key_numbers(), target, rtol=3e-5, atol=3e-6)
    # without rounds to spare it says so
    monkeypatch.setattr(mc, "QUADRATURE_ROUNDS", 1)
    with pytest.raises(QuadratureError, match="refinement change") as failed:
        log_or_posteriors(report, [WEAK])
    assert failed.value.exit_code == 3  # a clean error of the command line, as a failed gate


def test_refusals():
    empty = report_from_published(0.03, 1, [(2, 2)])
    assert empty.n_cells == 0
    with pytest.raises(ValueError, match="no table reproduces"):
        log_or_posteriors(empty, [WEAK])
    other = dataclasses.replace(WEAK, parameters={**WEAK.parameters, "baseline_mu": 0.0})
    with pytest.raises(ValueError, match="share one baseline"):
        log_or_posteriors(report_from_counts(10, 10, 5, 2), [WEAK, other])


def _check(z: float) -> dict:
    return {"z_mean": 0.1, "z_median": -0.2, "z_ci95": [z, 0.3], "z_limit": 4.0}


def test_mcmc_check_sentence_says_the_numbers_are_exact_and_flags_a_fit_beyond_4_mcse():
    def results(z_rash: float) -> dict:
        return {
            "events": {
                "ppe": {"posterior": {"weak": {"mcmc_check": _check(1.5)}}},
                "rash": {"posterior": {"weak": {"mcmc_check": _check(z_rash)}, "none": None}},
            }
        }

    agree = mcmc_check_sentence(results(-3.9))
    assert "exact (1-D quadrature" in agree
    assert "within 4 Monte Carlo standard errors (largest |z| = 3.90)" in agree
    off = mcmc_check_sentence(results(-4.1))
    assert "more than 4 Monte Carlo standard errors for rash ('weak') (largest |z| = 4.10)" in off
    assert mcmc_check_sentence({"events": {"ppe": {"posterior": {"weak": None}}}}) is None


def test_the_reports_rule_sentence_states_the_rules_constants(monkeypatch):
    """The report's description of the quadrature quotes the rule's own tolerances and step
    (written from the constants, so a changed rule cannot leave the sentence behind)."""
    import importlib

    import trial_reanalysis.analysis.report.comparison as words

    text = words.QUADRATURE_SENTENCE
    assert "all but 1e-09 of the mass" in text
    assert "step at most 0.05" in text and "more than 1e-05 relative" in text
    monkeypatch.setattr(mc, "QUADRATURE_STEP", 0.1)
    monkeypatch.setattr(mc, "QUADRATURE_RTOL", 1e-4)
    try:
        changed = importlib.reload(words).QUADRATURE_SENTENCE
        assert "step at most 0.1 " in changed and "more than 1e-04 relative" in changed
    finally:
        monkeypatch.undo()
        importlib.reload(words)


def test_a_failing_prior_costs_no_other_prior_its_exact_posterior(monkeypatch):
    """After the joint quadrature fails, each prior is tried alone: the failing one gets its
    error's message, the other its exact posterior (the joint rule's numbers, to its tolerance:
    the bounds differ)."""
    import trial_reanalysis.analysis.endpoints.comparison as ce

    report = report_from_published(0.03, 1, SPLITS)  # the seed's PPE report
    joint_weak, _ = log_or_posteriors(report, [WEAK, SKEPTICAL])
    calls: list[int] = []

    def flaky(rep, priors):
        priors = list(priors)
        calls.append(len(priors))
        if any(p.parameters["log_or_sigma"] == 0.5 for p in priors):
            raise QuadratureError("forced: refinement change 1e-3")
        return log_or_posteriors(rep, priors)

    monkeypatch.setattr(ce, "log_or_posteriors", flaky)
    out = ce._exact_posteriors(report, {"weak": WEAK, "skeptical": SKEPTICAL})
    assert calls == [2, 1, 1]
    assert out["skeptical"] == "forced: refinement change 1e-3"
    np.testing.assert_allclose(
        out["weak"].key_numbers(), joint_weak.key_numbers(), rtol=1e-5, atol=1e-6
    )
    # a single prior that fails is tried once
    calls.clear()
    assert ce._exact_posteriors(report, {"skeptical": SKEPTICAL}) == {
        "skeptical": "forced: refinement change 1e-3"
    }
    assert calls == [1]


def test_quadrature_failed_sentence_names_the_rows_and_the_fits_gates():
    from trial_reanalysis.analysis.report.comparison import quadrature_failed_sentence

    def results(method: str, passed: bool) -> dict:
        post = {"method": method}
        return {
            "events": {
                "ppe": {
                    "label": "PPE",
                    "posterior": {"weak": post, "skeptical": {"method": "quadrature"}},
                    "diagnostics": {"weak": {"passed": passed}, "skeptical": {"passed": True}},
                },
                "rash": {"label": "rash", "posterior": {"weak": None}, "diagnostics": {}},
            }
        }

    assert quadrature_failed_sentence(results("quadrature", True)) is None
    text = quadrature_failed_sentence(results("mcmc (quadrature failed)", True))
    assert text.startswith("Under PPE ('weak') the quadrature did not meet its own checks")
    assert "which passed its diagnostic gates" in text and "not exact ones" in text
    assert "'skeptical'" not in text and "rash" not in text
    failed = quadrature_failed_sentence(results("mcmc (quadrature failed)", False))
    assert "which did NOT pass every diagnostic gate" in failed
