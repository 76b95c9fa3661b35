"""Follow-up priors from posterior draws: fits, ESS, exports and the PyMC round trip."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest
from scipy import integrate, stats

from trial_reanalysis.analysis.planning.followup import (
    BetaMixture,
    beta_ess,
    beta_moment_match,
    build_pymc_prior,
    fit_beta_mixture,
    followup_priors,
    mixture_ess_elir,
    power_discount_beta,
    weibull_unit_information,
    write_followup_priors,
)


@pytest.fixture(scope="module")
def draws() -> dict[str, dict[str, np.ndarray]]:
    """Fake posteriors: the exact seed-trial rate posterior Beta(15, 34), a PFS and an AE."""
    rng = np.random.default_rng(20101115)
    z = rng.multivariate_normal(
        [math.log(4.5), math.log(1.6)], [[0.01, -0.005], [-0.005, 0.0625]], size=4000
    )
    return {
        "burden_reduction": {"burden_reduction_rate": rng.beta(15, 34, size=4000)},
        "pfs": {"median_pfs": np.exp(z[:, 0]), "weibull_shape": np.exp(z[:, 1])},
        "adverse_events": {"ppe": rng.normal(1.2, 0.7, size=4000)},
    }


@pytest.fixture(scope="module")
def priors(draws) -> dict[str, list[dict]]:
    return followup_priors(draws, robust_weight=0.2)


def _by_name(priors: list[dict]) -> dict[str, dict]:
    return {p["name"]: p for p in priors}


@pytest.mark.parametrize(("a", "b"), [(15.0, 34.0), (1.5, 1.2), (120.0, 7.5)])
def test_ess_of_beta_is_a_plus_b_and_elir_agrees(a: float, b: float) -> None:
    assert beta_ess(a, b) == a + b
    assert mixture_ess_elir(BetaMixture.single(a, b)) == pytest.approx(a + b, rel=1e-12)
    # Two identical components are one Beta: the ELIR correction term must vanish.
    twin = BetaMixture((0.3, 0.7), (a, a), (b, b))
    assert mixture_ess_elir(twin) == pytest.approx(a + b, rel=1e-6)


def test_elir_at_the_boundary_of_its_definition() -> None:
    """A uniform carries no information (ELIR 0, moment ESS 2); a < 1 leaves ELIR undefined."""
    assert mixture_ess_elir(BetaMixture.single(1.0, 1.0)) == 0.0
    assert beta_ess(1.0, 1.0) == 2.0
    assert math.isnan(mixture_ess_elir(BetaMixture.single(0.5, 3.0)))


@pytest.mark.parametrize(
    "mix",
    [
        BetaMixture((0.6, 0.4), (5.0, 20.0), (30.0, 10.0)),
        BetaMixture((0.8, 0.2), (15.0, 1.0), (34.0, 1.0)),  # the robust prior's shape
    ],
)
def test_elir_of_mixture_matches_definition_by_brute_force(mix: BetaMixture) -> None:
    """ELIR = E_p[-(log p)'' theta (1 - theta)], the second derivative by finite differences."""
    h = 1e-5

    def integrand(t: float) -> float:
        lp = [math.log(float(mix.pdf(np.array(u)))) for u in (t - h, t, t + h)]
        info = -(lp[0] - 2 * lp[1] + lp[2]) / h**2
        return float(mix.pdf(np.array(t))) * info * t * (1 - t)

    brute, _ = integrate.quad(integrand, 1e-4, 1 - 1e-4, limit=400, points=[0.15, 0.3, 0.5, 0.67])
    assert mixture_ess_elir(mix) == pytest.approx(brute, rel=2e-3)
    # A mixture is less informative than the sum of its components' ESS says.
    w, a, b = mix.arrays
    assert mixture_ess_elir(mix) < float(np.sum(w * (a + b)))


def test_elir_of_a_mixture_with_a_component_just_above_a_equal_1() -> None:
    """A MAP robust prior (seed 13) with a = 1.049 beside the vague Beta(1, 1): the ELIR
    correction's integrand behaves like theta^-0.95 near 0, so much of it lies below 1e-40.
    Reference: the definition's pieces (responsibilities, scores) on a dense trapezoid grid in
    log theta and log(1 - theta) down to e^-300, in double precision; quadrature on (0, 1) was
    2e-4 short and warned."""
    from scipy import special

    w = np.array([0.328938, 0.387652, 0.0834103, 0.2])
    a = np.array([2.03896, 1.12898, 1.04868, 1.0])
    b = np.array([24.3713, 6.7408, 1.58969, 1.0])
    mix = BetaMixture(tuple(w), tuple(a), tuple(b))

    def piece(t, u, log_t, log_u):  # p(theta) theta (1 - theta) Var_r(score), vectorised
        logf = (
            np.log(w) - special.betaln(a, b) + (a - 1) * log_t[:, None] + (b - 1) * log_u[:, None]
        )
        total = special.logsumexp(logf, axis=1)
        r = np.exp(logf - total[:, None])
        score = (a - 1) / t[:, None] - (b - 1) / u[:, None]
        var = (r * (score - (r * score).sum(1)[:, None]) ** 2).sum(1)
        return np.exp(total) * t * u * var

    s = np.linspace(-300.0, math.log(0.5), 2_000_001)
    e, rest = np.exp(s), -np.expm1(s)
    lower = integrate.trapezoid(piece(e, rest, s, np.log1p(-e)) * e, s)
    upper = integrate.trapezoid(piece(rest, e, np.log1p(-e), s) * e, s)
    base = float(np.sum(w * (np.where(a > 1, b, 0.0) + np.where(b > 1, a, 0.0))))
    assert mixture_ess_elir(mix) == pytest.approx(base - (lower + upper), abs=2e-5)


def _logit_grid_correction(w: np.ndarray, a: np.ndarray, b: np.ndarray, limit: float) -> float:
    """E_p[theta (1 - theta) Var_r(score)] of a Beta mixture from the definition: responsibilities
    and scores on a dense trapezoid grid in x = logit theta over [-limit, limit] (d theta =
    theta (1 - theta) dx)."""
    from scipy import special

    x = np.linspace(-limit, limit, 2_000_001)
    t, u = special.expit(x), special.expit(-x)
    logf = np.log(w) - special.betaln(a, b) + (a - 1) * np.log(t)[:, None]
    logf = logf + (b - 1) * np.log(u)[:, None]
    total = special.logsumexp(logf, axis=1)
    r = np.exp(logf - total[:, None])
    score = (a - 1) / t[:, None] - (b - 1) / u[:, None]
    var = (r * (score - (r * score).sum(1)[:, None]) ** 2).sum(1)
    return float(integrate.trapezoid(np.exp(total) * t * u * var * t * u, x))


@pytest.mark.parametrize("means", [(0.9, 0.91), (0.3, 0.32)])
def test_elir_of_narrow_mixtures_finds_their_peaks(means: tuple[float, float]) -> None:
    """Two components of a + b = 30,000: the correction lives in peaks a few 1e-3 wide, which
    quadrature must not step over. Reference: a dense trapezoid grid in logit theta."""
    w, n = np.array([0.5, 0.5]), 30_000.0
    a = np.array(means) * n
    b = n - a
    correction = _logit_grid_correction(w, a, b, 40.0)
    assert correction > 100  # the peaks carry a real correction
    base = float(np.sum(w * (a + b)))
    mix = BetaMixture(tuple(w), tuple(a), tuple(b))
    assert mixture_ess_elir(mix) == pytest.approx(base - correction, rel=1e-6)


def test_elir_of_a_robust_prior_after_a_100_percent_rate() -> None:
    """34/34 responders: the robust prior mixes Beta(34.99, 1.00004) with Beta(1, 1); near
    theta = 1 the two scores differ by 4e-5 / (1 - theta), a tail that quadrature to -inf called
    "probably divergent" (a warning, an error in this suite). Reference: a logit grid to +-60."""
    w, a, b = np.array([0.8, 0.2]), np.array([34.9923, 1.0]), np.array([1.00004, 1.0])
    correction = _logit_grid_correction(w, a, b, 60.0)
    base = float(np.sum(w * (np.where(a > 1, b, 0.0) + np.where(b > 1, a, 0.0))))
    mix = BetaMixture(tuple(w), tuple(a), tuple(b))
    assert mixture_ess_elir(mix) == pytest.approx(base - correction, rel=1e-6)


def test_moment_matched_beta_reproduces_mean_and_variance(draws) -> None:
    x = draws["burden_reduction"]["burden_reduction_rate"]
    a, b = beta_moment_match(x)
    mean, var = stats.beta.stats(a, b, moments="mv")
    assert mean == pytest.approx(x.mean(), rel=1e-10)
    assert var == pytest.approx(x.var(ddof=1), rel=1e-10)
    # and lands near the exact Beta(15, 34) (4000 draws: ESS within a few percent)
    assert a + b == pytest.approx(49, rel=0.06)


def test_mixture_fit_recovers_known_two_component_mixture() -> None:
    truth = BetaMixture((0.6, 0.4), (5.0, 20.0), (30.0, 10.0))
    rng = np.random.default_rng(7)
    comp = rng.random(5000) < 0.6
    x = np.where(comp, rng.beta(5, 30, 5000), rng.beta(20, 10, 5000))
    fit, bics = fit_beta_mixture(x)
    assert fit.n_components == 2
    assert bics[2] < bics[1] and bics[2] < bics[3]
    assert fit.weights[0] == pytest.approx(0.6, abs=0.03)
    for k in range(2):
        m_fit = fit.alpha[k] / (fit.alpha[k] + fit.beta[k])
        m_true = truth.alpha[k] / (truth.alpha[k] + truth.beta[k])
        assert m_fit == pytest.approx(m_true, abs=0.01)
        assert fit.alpha[k] + fit.beta[k] == pytest.approx(truth.alpha[k] + truth.beta[k], rel=0.2)
    grid = np.linspace(0.01, 0.99, 99)
    assert np.max(np.abs(fit.cdf(grid) - truth.cdf(grid))) < 0.02


def test_rate_priors_from_beta_15_34(priors) -> None:
    rate = _by_name(priors["burden_reduction"])
    assert list(rate) == ["beta", "mixture", "robust", "power_0.5", "power_0.25"]
    beta = rate["beta"]["parameters"]
    # one component chosen by BIC for draws of a single Beta
    mix = rate["mixture"]
    assert mix["parameters"]["weights"] == [1.0]
    assert mix["ess"] == pytest.approx(mix["parameters"]["alpha"][0] + mix["parameters"]["beta"][0])
    assert "ELIR" in mix["ess_method"]
    robust = rate["robust"]["parameters"]
    assert robust["weights"] == pytest.approx([0.8, 0.2])
    assert (robust["alpha"][-1], robust["beta"][-1]) == (1.0, 1.0)
    assert rate["robust"]["ess"] < 0.9 * mix["ess"]
    for d in (0.5, 0.25):
        p = rate[f"power_{d}"]
        expect = power_discount_beta(beta["alpha"], beta["beta"], d)
        assert (p["parameters"]["alpha"], p["parameters"]["beta"]) == pytest.approx(expect, 1e-5)
        assert p["ess"] == pytest.approx(2 + d * (beta["alpha"] + beta["beta"] - 2), rel=1e-5)
    assert power_discount_beta(15, 34, 0.5) == (8.0, 17.5)
    assert rate["beta"]["pymc"].startswith('pm.Beta("burden_reduction_rate", alpha=')
    assert rate["beta"]["stan"].startswith("burden_reduction_rate ~ beta(")
    assert (
        "pm.Mixture(" in rate["robust"]["pymc"]
        and "pm.Beta.dist(alpha=1.0, beta=1.0)" in (rate["robust"]["pymc"])
    )
    assert rate["robust"]["stan"].startswith("target += log_mix([0.8, 0.2]', [beta_lpdf(")


def test_pfs_and_ae_priors(draws, priors) -> None:
    pfs = _by_name(priors["pfs"])
    z = np.log(np.column_stack([draws["pfs"]["median_pfs"], draws["pfs"]["weibull_shape"]]))
    p = pfs["mvnormal"]["parameters"]
    assert p["mean"] == pytest.approx(z.mean(axis=0), rel=1e-5)
    assert p["correlation"] == pytest.approx(np.corrcoef(z, rowvar=False)[0, 1], rel=1e-4)
    for d in (0.5, 0.25):
        q = pfs[f"power_{d}"]
        assert np.array(q["parameters"]["cov"]) == pytest.approx(np.array(p["cov"]) / d, rel=1e-5)
        assert q["ess"] == pytest.approx(d * pfs["mvnormal"]["ess"], rel=1e-4)
    # per-parameter ESS: (I1^-1)_jj / Var_j with the Weibull unit information at the prior shape
    inv1 = np.linalg.inv(weibull_unit_information(math.exp(p["mean"][1])))
    comps = pfs["mvnormal"]["ess_components"]
    assert comps["log_median_pfs"] == pytest.approx(inv1[0, 0] / p["cov"][0][0], rel=1e-4)
    ae = _by_name(priors["adverse_events.ppe"])
    sigma = ae["normal"]["parameters"]["sigma"]
    assert sigma == pytest.approx(draws["adverse_events"]["ppe"].std(ddof=1), rel=1e-5)
    assert ae["normal"]["ess"] == pytest.approx(16 / sigma**2, rel=1e-5)  # p = 0.5 default
    assert ae["power_0.5"]["ess"] == pytest.approx(0.5 * ae["normal"]["ess"], rel=1e-4)
    assert ae["normal"]["stan"].startswith("log_odds_ratio_ppe ~ normal(")
    rated = followup_priors(
        {"adverse_events.ppe": {"log_odds_ratio": draws["adverse_events"]["ppe"]}},
        ae_event_rates={"ppe": 0.2},
    )
    assert rated["adverse_events.ppe"][0]["ess"] == pytest.approx(25 / sigma**2, rel=1e-5)


def test_weibull_unit_information_by_quadrature() -> None:
    """Fisher information of one observation in (log median, log shape), numerically."""
    c0, s0, h = math.log(4.5), math.log(1.6), 1e-5

    def logpdf(t: float, c: float, s: float) -> float:
        k = math.exp(s)
        lam = math.exp(c) / math.log(2) ** (1 / k)
        return float(stats.weibull_min.logpdf(t, k, scale=lam))

    def score(t: float) -> np.ndarray:
        return np.array(
            [
                (logpdf(t, c0 + h, s0) - logpdf(t, c0 - h, s0)) / (2 * h),
                (logpdf(t, c0, s0 + h) - logpdf(t, c0, s0 - h)) / (2 * h),
            ]
        )

    k, lam = 1.6, 4.5 / math.log(2) ** (1 / 1.6)
    info = np.zeros((2, 2))
    for i, j in [(0, 0), (0, 1), (1, 1)]:
        info[i, j] = info[j, i] = integrate.quad(
            lambda t, i=i, j=j: stats.weibull_min.pdf(t, k, scale=lam) * score(t)[i] * score(t)[j],
            0,
            np.inf,
            limit=200,
        )[0]
    assert weibull_unit_information(1.6) == pytest.approx(info, rel=1e-4, abs=1e-6)


def test_json_round_trip_to_pymc_matches_source_quantiles(draws, priors, tmp_path) -> None:
    import pymc as pm

    path = write_followup_priors(priors, tmp_path / "followup_priors.json")
    text = path.read_text()
    assert write_followup_priors(priors, tmp_path / "again.json").read_text() == text  # stable
    loaded = json.loads(text)
    assert set(loaded) == {"burden_reduction", "pfs", "adverse_events.ppe"}
    rate = _by_name(loaded["burden_reduction"])
    models = [
        build_pymc_prior(rate["beta"]),
        build_pymc_prior(rate["mixture"], "rate_mixture"),
        build_pymc_prior(_by_name(loaded["pfs"])["mvnormal"]),
    ]
    out = pm.draw(
        [models[0]["burden_reduction_rate"], models[1]["rate_mixture"], models[2]["median_pfs"]],
        draws=20_000,
        random_seed=11,
    )
    q = np.array([0.025, 0.1, 0.25, 0.5, 0.75, 0.9, 0.975])
    source = np.quantile(draws["burden_reduction"]["burden_reduction_rate"], q)
    exact = stats.beta.ppf(q, 15, 34)
    for sample in out[:2]:
        assert np.max(np.abs(np.quantile(sample, q) - source)) < 0.01
        assert np.max(np.abs(np.quantile(sample, q) - exact)) < 0.01
    pfs_source = np.quantile(draws["pfs"]["median_pfs"], q)
    assert np.quantile(out[2], q) == pytest.approx(pfs_source, rel=0.02)


def test_invalid_draws_raise() -> None:
    with pytest.raises(ValueError, match="fractions"):
        beta_moment_match(np.array([0.2, 1.5] * 10))
    with pytest.raises(ValueError, match="positive"):
        followup_priors({"pfs": {"median_pfs": -np.ones(20), "weibull_shape": np.ones(20)}})
    with pytest.raises(ValueError, match="unknown endpoint"):
        followup_priors({"overall_survival": {}})
    with pytest.raises(ValueError, match="robust weight"):
        followup_priors(
            {"burden_reduction": {"burden_reduction_rate": np.linspace(0.1, 0.5, 50)}},
            robust_weight=1.5,
        )


def test_logsumexp_rows_gives_scipys_bits() -> None:
    """The mixture fit's logsumexp is SciPy's to the last bit: rows, columns, the whole array,
    ties of the maximum, -inf entries, an all -inf slice and a +inf entry."""
    from scipy import special

    from trial_reanalysis.analysis.planning.followup import logsumexp_rows

    rng = np.random.default_rng(3)
    comp = rng.normal(-40.0, 15.0, size=(3, 2000))
    comp[1, 5] = comp[0, 5]  # a tie for the maximum of column 5
    comp[:, 7] = -np.inf  # an all -inf column: -inf
    comp[2, 9] = -np.inf
    comp[0, 11] = np.inf
    with np.errstate(invalid="ignore"):
        for axis in (0, 1, None):
            np.testing.assert_array_equal(
                logsumexp_rows(comp, axis=axis), special.logsumexp(comp, axis=axis)
            )
    lw = np.array([0.0, -3.25, 17.5])
    assert logsumexp_rows(lw) == special.logsumexp(lw)
    assert logsumexp_rows(np.array([0.0, 0.0])) == special.logsumexp([0.0, 0.0])  # a tie


def test_beta_logpdf_rows_gives_scipys_bits() -> None:
    """The EM's Beta log densities are scipy.stats.beta.logpdf to the last bit (a = 1 too)."""
    from scipy import special

    from trial_reanalysis.analysis.planning.followup import _beta_logpdf_rows

    rng = np.random.default_rng(4)
    x = np.clip(rng.beta(2.0, 5.0, size=3000), 1e-12, 1 - 1e-12)
    a, b = np.array([0.05, 1.0, 14.7, 900.0]), np.array([1.0, 0.3, 33.1, 2500.0])
    got = _beta_logpdf_rows(special.xlogy(1.0, x), special.xlog1py(1.0, -x), a, b)
    np.testing.assert_array_equal(got, stats.beta.logpdf(x[None, :], a[:, None], b[:, None]))


def test_mixture_fit_is_unchanged_by_the_fast_helpers(monkeypatch: pytest.MonkeyPatch) -> None:
    """Fitting with SciPy's own logsumexp and Beta logpdf in place of the fast helpers gives the
    same mixtures and BICs to the last bit (one- and two-component draws)."""
    from scipy import special

    import trial_reanalysis.analysis.planning.followup as followup

    rng = np.random.default_rng(5)
    two = np.where(rng.random(3000) < 0.6, rng.beta(5, 30, 3000), rng.beta(20, 10, 3000))
    cases = [rng.beta(15, 34, size=6000), two]
    fast = [followup.fit_beta_mixture(x) for x in cases]
    monkeypatch.setattr(followup, "logsumexp_rows", special.logsumexp)
    slow = []
    for x in cases:  # draws in (0, 1) and fewer than MAX_FIT_DRAWS: the fit sees x itself

        def scipy_logpdf(xlog, xlog1m, a, b, x=x):
            return stats.beta.logpdf(x[None, :], a[:, None], b[:, None])

        monkeypatch.setattr(followup, "_beta_logpdf_rows", scipy_logpdf)
        slow.append(followup.fit_beta_mixture(x))
    assert fast == slow
    assert fast[1][0].n_components == 2
