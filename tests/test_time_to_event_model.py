"""Time-to-event models: log-densities of every summary pattern against scipy (or quadrature),
Jacobian against finite differences, landmark likelihood against closed forms, the
parametrisation (median = lambda (ln 2)^(1/k)) at shapes other than 1, default priors in every
unit, and the patient model against scipy and the maximum-likelihood fit."""

from __future__ import annotations

import numpy as np
import pymc as pm
import pytensor
import pytensor.tensor as pt
import pytest
from lifelines.datasets import load_lung
from scipy import integrate, optimize, special, stats

from trial_reanalysis.analysis.endpoints.time_to_event import weibull_mle_censored
from trial_reanalysis.analysis.frequentist.survival import weibull_mle, weibull_survival
from trial_reanalysis.analysis.inference.fitting import CompiledModel
from trial_reanalysis.analysis.trials.v2 import Prior
from trial_reanalysis.models.priors import primary
from trial_reanalysis.models.time_to_event import (
    LN2,
    MEDIAN,
    PATTERNS,
    SCALE,
    SHAPE,
    build_patient_model,
    build_summary_model,
    default_priors,
    endpoint_priors,
    landmark_data,
    patient_data,
    pattern_data_names,
    prior_data,
    summary_data,
    summary_loglik,
    summary_loglik_graph,
    summary_pattern,
)

ALPHA = np.array([16.4, 5.3, 7.3, 14.4])
X = np.array([3.6, 4.4, 5.9])
PRIORS = default_priors("months")


def _cdf(x, m, k):
    return -np.expm1(-LN2 * (np.asarray(x) / m) ** k)


def _log_f(x, m, k):
    return np.log(stats.weibull_min.pdf(x, k, scale=m / LN2 ** (1 / k)))


# --- priors ----------------------------------------------------------------------------------


def test_default_priors_one_primary_with_rationales():
    assert primary(PRIORS).name == "weakly_informative"
    assert set(PRIORS) == {"weakly_informative", "vague", "exponential_skeptical"}
    assert all(len(p.rationale) > 20 for p in PRIORS.values())


@pytest.mark.parametrize(
    ("unit", "centre"), [("days", 365.25), ("weeks", 365.25 / 7), ("months", 12.0), ("years", 1.0)]
)
def test_default_prior_centred_at_12_months_in_every_unit(unit, centre):
    """The median's prior is centred at 12 months converted to the unit, whatever was printed
    (never at the reported median); the shape's at 1."""
    for p in default_priors(unit).values():
        assert np.exp(p.parameters["log_median_mu"]) == pytest.approx(centre, rel=1e-12)
        assert p.parameters["log_shape_mu"] == 0.0


def test_declared_priors_join_the_defaults_and_one_may_become_primary():
    declared = {
        "historical": Prior(
            family="lognormal",
            parameters={
                "log_median_mu": 1.5,
                "log_median_sd": 0.3,
                "log_shape_mu": 0.2,
                "log_shape_sd": 0.4,
            },
            rationale="a published prior trial, for the test",
            primary=True,
        )
    }
    priors = endpoint_priors(declared, "months")
    assert primary(priors).name == "historical"
    assert set(priors) == set(PRIORS) | {"historical"}
    assert prior_data(priors["historical"])["prior_log_median_sd"] == 0.3
    unmarked = {"h": declared["historical"].model_copy(update={"primary": False})}
    assert primary(endpoint_priors(unmarked)).name == "weakly_informative"


# --- parametrisation ---------------------------------------------------------------------------


@pytest.mark.parametrize(("m", "k"), [(4.4, 2.5), (30.0, 0.6), (12.0, 1.0)])
def test_survival_and_median_scale_match_scipy_at_any_shape(m, k):
    """S(t) = exp(-ln 2 (t/m)^k) equals scipy's Weibull survival with scale m / (ln 2)^(1/k);
    S(m) = 1/2. At k != 1 a formula without ln 2 (S = exp(-(t/m)^k)) or with the wrong power
    fails these checks (issue 13 item 6)."""
    t = np.array([0.5, 3.0, m, 2 * m])
    lam = m / LN2 ** (1 / k)
    np.testing.assert_allclose(
        weibull_survival(t, m, k), stats.weibull_min.sf(t, k, scale=lam), rtol=1e-12
    )
    assert weibull_survival(m, m, k) == pytest.approx(0.5, abs=1e-14)
    assert stats.weibull_min.median(k, scale=lam) == pytest.approx(m, rel=1e-12)
    model = build_summary_model("L,M,U", summary_data(4.4, 3.6, 5.9, ALPHA))
    fn = model.compile_fn([model[MEDIAN], model[SHAPE], model[SCALE]], inputs=model.free_RVs)
    got = fn(_point(m, k, 4.4))
    assert [float(v) for v in got] == pytest.approx([m, k, lam], rel=1e-12)
    if k != 1:
        assert abs(np.exp(-((3.0 / m) ** k)) - weibull_survival(3.0, m, k)) > 1e-3


# --- the summary likelihood --------------------------------------------------------------------


def test_patterns_follow_what_was_printed():
    assert summary_pattern(3.6, 4.4, 5.9, None) == "L,M,U"
    assert summary_pattern(3.6, 4.4, None, None) == "L,M"
    assert summary_pattern(None, 4.4, 5.9, None) == "M,U"
    assert summary_pattern(None, 4.4, None, 9.0) == "M"
    assert summary_pattern(15.9, None, None, 30.0) == "L,>F"
    assert summary_pattern(15.9, None, None, 10.0) == "L"
    assert summary_pattern(15.9, None, None, None) == "L"
    assert summary_pattern(None, None, None, 32.6) == ">F"
    with pytest.raises(ValueError, match="follow-up time or a lower limit"):
        summary_pattern(None, None, None, None)
    with pytest.raises(ValueError, match="finite upper limit"):
        summary_pattern(None, None, 30.0, 20.0)


@pytest.mark.parametrize(("m", "k"), [(4.5, 1.6), (3.0, 0.8), (8.0, 2.7)])
def test_two_sided_pattern_matches_scipy_dirichlet(m, k):
    u = _cdf(X, m, k)
    spacings = np.diff(np.r_[0, u, 1])
    ours = summary_loglik(m, k, summary_data(4.4, 3.6, 5.9, ALPHA), "L,M,U")
    ref = stats.dirichlet.logpdf(spacings, ALPHA) + _log_f(X, m, k).sum()
    assert ours == pytest.approx(ref, rel=1e-10)


@pytest.mark.parametrize(("m", "k"), [(4.5, 1.6), (3.0, 0.8), (8.0, 2.7)])
def test_one_limit_and_median_only_patterns_match_scipy(m, k):
    u = _cdf(X, m, k)
    s = np.diff(np.r_[0, u, 1])
    a = ALPHA
    lm = summary_loglik(m, k, summary_data(4.4, 3.6, None, a), "L,M")
    ref = stats.dirichlet.logpdf([s[0], s[1], s[2] + s[3]], [a[0], a[1], a[2] + a[3]])
    assert lm == pytest.approx(ref + _log_f(X[:2], m, k).sum(), rel=1e-10)
    mu = summary_loglik(m, k, summary_data(4.4, None, 5.9, a), "M,U")
    ref = stats.dirichlet.logpdf([s[0] + s[1], s[2], s[3]], [a[0] + a[1], a[2], a[3]])
    assert mu == pytest.approx(ref + _log_f(X[1:], m, k).sum(), rel=1e-10)
    only = summary_loglik(m, k, summary_data(4.4, None, None, a), "M")
    ref = stats.beta.logpdf(u[1], a[0] + a[1], a[2] + a[3]) + _log_f(4.4, m, k)
    assert only == pytest.approx(ref, rel=1e-10)


@pytest.mark.parametrize(("m", "k"), [(20.0, 1.2), (8.0, 0.7), (40.0, 2.0)])
def test_not_reached_patterns_match_quadrature(m, k):
    """Median not reached by F: ">F" is P(u_M > F(t_F)) under the median's Beta marginal; "L,>F"
    is the density of L times P(u_M > F(t_F) | u_L), here integrated numerically over u_M from
    the Dirichlet(a1, a2, a3 + a4) joint density of (u_L, u_M) (no Beta-neutrality shortcut)."""
    a1, a2, a34 = ALPHA[0], ALPHA[1], ALPHA[2] + ALPHA[3]
    t_l, t_f = 9.0, 14.0
    ul, uf = _cdf(t_l, m, k), _cdf(t_f, m, k)
    beyond = summary_loglik(m, k, summary_data(None, None, None, ALPHA, followup=t_f), ">F")
    ref = stats.beta.logsf(uf, a1 + a2, a34)
    assert beyond == pytest.approx(ref, rel=1e-9)
    log_norm = special.gammaln(a1 + a2 + a34) - special.gammaln([a1, a2, a34]).sum()

    def joint(um: float) -> float:
        return np.exp(
            log_norm
            + (a1 - 1) * np.log(ul)
            + (a2 - 1) * np.log(um - ul)
            + (a34 - 1) * np.log1p(-um)
        )

    mass, _ = integrate.quad(joint, uf, 1.0, epsabs=0, epsrel=1e-11, limit=200)
    ours = summary_loglik(m, k, summary_data(None, t_l, None, ALPHA, followup=t_f), "L,>F")
    assert ours == pytest.approx(np.log(mass) + _log_f(t_l, m, k), rel=1e-7)
    lower_only = summary_loglik(m, k, summary_data(None, t_l, None, ALPHA), "L")
    ref = stats.beta.logpdf(ul, a1, a2 + a34) + _log_f(t_l, m, k)
    assert lower_only == pytest.approx(ref, rel=1e-10)


@pytest.mark.parametrize(("m", "k"), [(4.5, 1.6), (2.0, 0.7), (6.0, 3.0)])
def test_jacobian_matches_finite_differences(m, k):
    """sum_i [log k - log x_i + log H_i - H_i] is log |du_i/dx_i| of u = F(x)."""
    h = LN2 * (X / m) ** k
    jac = np.log(k) - np.log(X) + np.log(h) - h
    eps = 1e-6
    fd = (_cdf(X + eps, m, k) - _cdf(X - eps, m, k)) / (2 * eps)
    np.testing.assert_allclose(jac, np.log(fd), atol=1e-7)


def test_graph_is_stable_far_in_the_tail():
    m, k = pt.dscalar(), pt.dscalar()
    lo, mid, hi, f = (pt.constant(v) for v in (3.6, 4.4, 5.9, 8.0))
    out = summary_loglik_graph(m, k, lo, mid, hi, f, pt.constant(ALPHA), "L,M,U")
    fn = pytensor.function([m, k], out)
    # far in the tail the naive spacings underflow; expm1 on the log scale stays finite
    assert np.isfinite(fn(0.05, 3.0))
    assert np.isfinite(fn(400.0, 0.3))


def _point(m: float, k: float, reference: float) -> dict[str, float]:
    """Free variables of the summary model at (m, k): log k and w = k (log m - log c)."""
    return {"log_shape": np.log(k), "median_offset": k * (np.log(m) - np.log(reference))}


@pytest.mark.parametrize("pattern", PATTERNS)
def test_summary_model_variables_and_data(pattern):
    data = summary_data(4.4, 3.6, 5.9, ALPHA)
    model = build_summary_model(pattern, data)
    assert {v.name for v in model.free_RVs} == {"log_shape", "median_offset"}
    assert {v.name for v in model.deterministics} == {MEDIAN, SHAPE, SCALE}
    names = {v.name for v in model.data_vars}
    assert set(pattern_data_names(pattern)) <= names
    assert {"landmark_time", "landmark_cloglog", "landmark_se", "landmark_weight"} <= names
    assert set(prior_data(primary(PRIORS))) <= names
    # the model's likelihood potentials are summary_loglik (the same graph)
    like = [v for v in model.potentials if v.name != "median_prior"]
    logp = model.compile_logp(vars=like, jacobian=False)
    c = float(model["reference_time"].get_value())
    ref = summary_loglik(4.6, 1.4, data, pattern)
    assert logp(_point(4.6, 1.4, c)) == pytest.approx(float(ref), rel=1e-10, abs=1e-12)


@pytest.mark.parametrize(("m", "k"), [(4.6, 1.4), (20.0, 0.5)])
def test_offset_parametrisation_keeps_the_lognormal_prior(m, k):
    """The model samples (log k, w = k (log m - log c)); its prior density there must be the
    lognormal prior of (m, k) carried over by the Jacobian: N(log m) N(log k) / k."""
    prior = PRIORS["weakly_informative"].parameters
    model = build_summary_model("", summary_data(4.4, 3.6, 5.9, ALPHA))
    c = float(model["reference_time"].get_value())
    prior_vars = [model["log_shape"], model["median_prior"]]
    logp = model.compile_logp(vars=prior_vars, jacobian=False)
    ref = (
        stats.norm.logpdf(np.log(m), prior["log_median_mu"], prior["log_median_sd"])
        + stats.norm.logpdf(np.log(k), prior["log_shape_mu"], prior["log_shape_sd"])
        - np.log(k)
    )
    assert logp(_point(m, k, c)) == pytest.approx(ref, rel=1e-12)


def test_summary_data_refuses_disordered_limits():
    with pytest.raises(ValueError, match="0 < L < M < U"):
        summary_data(4.4, 5.0, 5.9, ALPHA)
    with pytest.raises(ValueError, match="4 positive"):
        summary_data(4.4, 3.6, 5.9, [1.0, 2.0, 3.0])


# --- landmarks -------------------------------------------------------------------------------


def test_landmark_likelihood_is_normal_on_the_cloglog_scale():
    """Each landmark adds log N(y | log ln 2 + k (log t - log m), se): checked with scipy."""
    lms = [(6.0, 45.0, (30.0, 60.0)), (12.0, 20.0, None)]
    data = landmark_data(lms, 40)
    m, k = 5.0, 1.3
    mu = np.log(LN2) + k * (np.log([6.0, 12.0]) - np.log(m))
    ref = stats.norm.logpdf(data["landmark_cloglog"][:2], mu, data["landmark_se"][:2]).sum()
    empty = summary_data(None, None, None, ALPHA, followup=1.0)
    assert summary_loglik(m, k, empty, "", data) == pytest.approx(ref, rel=1e-12)
    assert data["landmark_weight"].sum() == 2  # the padding carries no weight
    # log(-log S(t)) of the Weibull is that line: the mean is the model's own S(t)
    np.testing.assert_allclose(np.log(-np.log(weibull_survival([6.0, 12.0], m, k))), mu)


def test_landmark_se_from_a_log_log_ci_and_from_the_binomial():
    """A CI built on the log-log scale around S with se s gives back s; without a CI the se is
    the delta-method se of g(S) = log(-log S) under Var(S) = S (1 - S) / n (finite difference)."""
    s_hat, se, z = 0.45, 0.23, stats.norm.ppf(0.975)
    g = np.log(-np.log(s_hat))
    lo, hi = np.exp(-np.exp(g + z * se)), np.exp(-np.exp(g - z * se))
    data = landmark_data([(6.0, 100 * s_hat, (100 * lo, 100 * hi)), (9.0, 100 * s_hat, None)], 40)
    assert data["landmark_se"][0] == pytest.approx(se, rel=1e-12)
    eps = 1e-7
    dg = (np.log(-np.log(s_hat + eps)) - np.log(-np.log(s_hat - eps))) / (2 * eps)
    assert data["landmark_se"][1] == pytest.approx(
        abs(dg) * np.sqrt(s_hat * (1 - s_hat) / 40), rel=1e-6
    )


def test_two_exact_landmarks_pin_median_and_shape_in_closed_form():
    """Two landmarks with tiny se: the likelihood's maximum is the Weibull through both points,
    k = (g2 - g1) / (log t2 - log t1), log m = log t1 - (g1 - log ln 2) / k."""
    t1, s1, t2, s2 = 6.0, 0.6, 18.0, 0.2
    g1, g2 = np.log(-np.log([s1, s2]))
    k_true = (g2 - g1) / np.log(t2 / t1)
    m_true = np.exp(np.log(t1) - (g1 - np.log(LN2)) / k_true)
    z = stats.norm.ppf(0.975)
    tiny = 1e-3
    ci = [tuple(100 * np.exp(-np.exp(g + sgn * z * tiny)) for sgn in (1, -1)) for g in (g1, g2)]
    data = landmark_data([(t1, 100 * s1, ci[0]), (t2, 100 * s2, ci[1])], 50)
    empty = summary_data(None, None, None, ALPHA, followup=1.0)
    res = optimize.minimize(
        lambda th: -float(summary_loglik(np.exp(th[0]), np.exp(th[1]), empty, "", data)),
        [np.log(10.0), 0.0],
        method="Nelder-Mead",
        options={"xatol": 1e-10, "fatol": 1e-12},
    )
    assert np.exp(res.x) == pytest.approx([m_true, k_true], rel=1e-5)
    assert weibull_survival([t1, t2], m_true, k_true) == pytest.approx([s1, s2], rel=1e-10)


def test_landmark_data_refuses_bad_input():
    with pytest.raises(ValueError, match="does not hold"):
        landmark_data([(6.0, 45.0, (50.0, 60.0))], 40)
    with pytest.raises(ValueError, match="positive"):
        landmark_data([(0.0, 45.0, None)], 40)


# --- patient data ------------------------------------------------------------------------------


def _lung_months():
    df = load_lung()
    return df["time"].to_numpy(float) / (365.25 / 12), df["status"].to_numpy(int)


def test_patient_model_logp_matches_scipy_with_censoring():
    time, event = _lung_months()
    model = build_patient_model(time, event)
    logp = model.compile_logp(vars=[model["observed_times"]], jacobian=False)
    m, k = 9.0, 1.3
    lam = m / LN2 ** (1 / k)
    point = {"median_log__": np.log(m), "weibull_shape_log__": np.log(k)}
    dist = stats.weibull_min(k, scale=lam)
    ref = dist.logpdf(time[event == 1]).sum() + dist.logsf(time[event == 0]).sum()
    assert logp(point) == pytest.approx(ref, rel=1e-9)


def test_patient_posterior_mode_equals_mle_with_vague_prior():
    """Vague prior (near flat on the log scale): the mode on (log m, log k) is the MLE."""
    time, event = _lung_months()
    model = build_patient_model(time, event, prior=PRIORS["vague"])
    logp = model.compile_logp(jacobian=True)
    dlogp = model.compile_dlogp(jacobian=True)
    names = ["median_log__", "weibull_shape_log__"]

    def neg(x):
        return -logp(dict(zip(names, x, strict=True)))

    def grad(x):
        return -dlogp(dict(zip(names, x, strict=True)))

    res = optimize.minimize(neg, np.array([np.log(8.0), 0.0]), jac=grad, method="BFGS")
    mle = weibull_mle(time, event)
    assert np.exp(res.x[0]) == pytest.approx(mle["median"], rel=0.005)
    assert np.exp(res.x[1]) == pytest.approx(mle["shape"], rel=0.005)


def test_patient_model_samples_near_mle():
    """One short NUTS fit of the patient model: posterior medians near the MLE (n = 228)."""
    time, event = _lung_months()
    compiled = CompiledModel(build_patient_model(time, event, prior=PRIORS["vague"]), name="p")
    from trial_reanalysis.analysis.inference.fitting import SamplerSettings

    idata = compiled.fit(seed=3, settings=SamplerSettings(draws=500, tune=500, chains=2))
    mle = weibull_mle(time, event)
    post_m = float(np.median(idata.posterior[MEDIAN]))
    post_k = float(np.median(idata.posterior[SHAPE]))
    assert post_m == pytest.approx(mle["median"], rel=0.03)
    assert post_k == pytest.approx(mle["shape"], rel=0.03)
    with pm.Model():
        pass


# --- Events at time 0 (issue 12 item 6) --------------------------------------------------------


def _with_time_zero():
    """Lung data (months) plus two events and one censoring recorded at time 0."""
    time, event = _lung_months()
    return np.r_[0.0, 0.0, 0.0, time], np.r_[1, 1, 0, event]


def test_events_at_time_zero_are_interval_censored_before_the_first_assessment():
    """Model log-likelihood = scipy: f(t) for events, S(t) for censored, F(t1) for each event
    at 0 (t1 = smallest positive time); the patient censored at 0 adds nothing."""
    time, event = _with_time_zero()
    model = build_patient_model(time, event)
    logp = model.compile_logp(vars=[model["observed_times"]], jacobian=False)
    m, k = 9.0, 1.3
    lam = m / LN2 ** (1 / k)
    dist = stats.weibull_min(k, scale=lam)
    pos = time > 0
    t1 = time[pos].min()
    ref = (
        dist.logpdf(time[pos & (event == 1)]).sum()
        + dist.logsf(time[pos & (event == 0)]).sum()
        + 2 * dist.logcdf(t1)
    )
    point = {"median_log__": np.log(m), "weibull_shape_log__": np.log(k)}
    assert logp(point) == pytest.approx(ref, rel=1e-10)
    data = patient_data(time, event)
    assert data["events_at_zero"] == 2 and data["censored_at_zero_dropped"] == 1
    assert data["event_time"].size == time.size - 1 and np.all(data["event_time"] > 0)


def test_mle_with_events_at_zero_matches_lifelines_interval_censoring():
    """weibull_mle_censored = lifelines' WeibullFitter on the same intervals: exact events
    [t, t], censored [t, inf), events at 0 (0, t1]; lifelines' S(t) = exp(-(t/lambda)^rho)."""
    from lifelines import WeibullFitter

    time, event = _with_time_zero()
    ours = weibull_mle_censored(time, event)
    keep = ~((time == 0) & (event == 0))
    t, e = time[keep], event[keep]
    t1 = t[t > 0].min()
    lower = np.where(t == 0, 0.0, t)
    upper = np.where(t == 0, t1, np.where(e == 1, t, np.inf))
    wf = WeibullFitter().fit_interval_censoring(lower, upper)
    assert ours["scale"] == pytest.approx(wf.lambda_, rel=1e-4)
    assert ours["shape"] == pytest.approx(wf.rho_, rel=1e-4)
    assert ours["loglik"] == pytest.approx(wf.log_likelihood_, rel=1e-6)
    # Ignoring the two early events (the old behaviour dropped them) moves the shape visibly.
    dropped = weibull_mle(t[t > 0], e[t > 0])
    assert abs(dropped["shape"] - ours["shape"]) > 1e-3


def test_patient_data_without_events_is_refused():
    with pytest.raises(ValueError, match="no events: every patient is censored"):
        patient_data([3.0, 4.0, 5.0], [0, 0, 0])
    with pytest.raises(ValueError, match=">= 0"):
        patient_data([-1.0, 4.0], [1, 0])


def test_sampled_prior_is_the_lognormal_prior():
    """With no data the summary model's draws of (median, shape) follow the declared lognormal
    prior (checks the offset parametrisation's Jacobian by sampling): quantiles within MC error."""
    from trial_reanalysis.analysis.inference.fitting import SamplerSettings

    prior = PRIORS["weakly_informative"]
    compiled = CompiledModel(
        build_summary_model("", summary_data(4.4, 3.6, 5.9, ALPHA), prior=prior), name="prior"
    )
    idata = compiled.fit(seed=5, settings=SamplerSettings(draws=1000, tune=500, chains=2))
    p = prior.parameters
    for var, mu, sd in (
        (MEDIAN, p["log_median_mu"], p["log_median_sd"]),
        (SHAPE, p["log_shape_mu"], p["log_shape_sd"]),
    ):
        z = (np.log(idata.posterior[var].values.ravel()) - mu) / sd
        # 2,000 draws (ESS > 1,000): the mean and sd of z within 0.15 of 0 and 1
        assert abs(z.mean()) < 0.15 and abs(z.std() - 1) < 0.15, var
        assert stats.kstest(z[::4], "norm").pvalue > 0.001, var
