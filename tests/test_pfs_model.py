"""PFS models: log-densities against scipy, Jacobian against finite differences, compile once,
patient-model posterior mode against the maximum-likelihood fit."""

from __future__ import annotations

import numpy as np
import pymc as pm
import pytensor
import pytensor.tensor as pt
import pytest
from lifelines.datasets import load_lung
from scipy import optimize, stats

from trial_reanalysis.analysis.endpoints.time_to_event import weibull_mle_censored
from trial_reanalysis.analysis.frequentist.survival import weibull_mle
from trial_reanalysis.analysis.inference.fitting import CompiledModel
from trial_reanalysis.models.priors import primary
from trial_reanalysis.models.time_to_event import (
    LN2,
    MEDIAN,
    PFS_PRIORS,
    SCALE,
    SHAPE,
    build_patient_model,
    build_summary_model,
    patient_data,
    prior_data,
    summary_loglik,
    summary_loglik_graph,
)

ALPHA = np.array([16.4, 5.3, 7.3, 14.4])
X = np.array([3.6, 4.4, 5.9])


def _cdf(x, m, k):
    return -np.expm1(-LN2 * (np.asarray(x) / m) ** k)


def test_registry_has_one_primary_and_rationales():
    assert primary(PFS_PRIORS).name == "weakly_informative"
    assert len(PFS_PRIORS) >= 2
    assert all(len(p.rationale) > 20 for p in PFS_PRIORS.values())


@pytest.mark.parametrize(("m", "k"), [(4.5, 1.6), (3.0, 0.8), (8.0, 2.7)])
def test_dirichlet_part_matches_scipy(m, k):
    u = _cdf(X, m, k)
    spacings = np.diff(np.r_[0, u, 1])
    ours = summary_loglik(m, k, X, ALPHA)
    log_f = np.log(stats.weibull_min.pdf(X, k, scale=m / LN2 ** (1 / k)))
    assert ours - log_f.sum() == pytest.approx(stats.dirichlet.logpdf(spacings, ALPHA), rel=1e-10)
    # U undefined: three spacings with the last two merged
    merged = np.r_[spacings[:2], spacings[2:].sum()]
    ours3 = summary_loglik(m, k, X, ALPHA, has_upper=False)
    ref3 = stats.dirichlet.logpdf(merged, np.r_[ALPHA[:2], ALPHA[2:].sum()]) + log_f[:2].sum()
    assert ours3 == pytest.approx(ref3, rel=1e-10)


@pytest.mark.parametrize(("m", "k"), [(4.5, 1.6), (2.0, 0.7), (6.0, 3.0)])
def test_jacobian_matches_finite_differences(m, k):
    """sum_i [log k - log x_i + log H_i - H_i] is log |du_i/dx_i| of u = F(x)."""
    h = LN2 * (X / m) ** k
    jac = np.log(k) - np.log(X) + np.log(h) - h
    eps = 1e-6
    fd = (_cdf(X + eps, m, k) - _cdf(X - eps, m, k)) / (2 * eps)
    np.testing.assert_allclose(jac, np.log(fd), atol=1e-7)


def test_graph_equals_numpy_twin_and_is_stable():
    m, k, x, a, hu = pt.dscalar(), pt.dscalar(), pt.dvector(), pt.dvector(), pt.dscalar()
    f = pytensor.function([m, k, x, a, hu], summary_loglik_graph(m, k, x, a, hu))
    for mm, kk in [(4.5, 1.6), (1.0, 0.5), (30.0, 4.0)]:
        for has_upper in (True, False):
            got = f(mm, kk, X, ALPHA, float(has_upper))
            assert got == pytest.approx(
                float(summary_loglik(mm, kk, X, ALPHA, has_upper)), rel=1e-9
            )
    # far in the tail the naive spacings underflow; expm1 on the log scale stays finite
    assert np.isfinite(f(0.05, 3.0, X, ALPHA, 1.0))


def test_summary_model_variables_and_data():
    model = build_summary_model(4.4, 3.6, 5.9, ALPHA)
    assert {v.name for v in model.free_RVs} == {MEDIAN, SHAPE}
    assert [v.name for v in model.deterministics] == [SCALE]
    names = {v.name for v in model.data_vars}
    assert {"pfs_lower", "pfs_median", "pfs_upper", "pfs_has_upper", "dirichlet_alpha"} <= names
    assert set(prior_data(primary(PFS_PRIORS))) <= names
    with pytest.raises(ValueError, match="0 < L < M < U"):
        build_summary_model(4.4, 5.0, 5.9, ALPHA)


def _lung_months():
    df = load_lung()
    return df["time"].to_numpy(float) / (365.25 / 12), df["status"].to_numpy(int)


def test_patient_model_logp_matches_scipy_with_censoring():
    time, event = _lung_months()
    model = build_patient_model(time, event)
    logp = model.compile_logp(vars=[model["pfs_observed"]], jacobian=False)
    m, k = 9.0, 1.3
    lam = m / LN2 ** (1 / k)
    point = {"median_pfs_log__": np.log(m), "weibull_shape_log__": np.log(k)}
    dist = stats.weibull_min(k, scale=lam)
    ref = dist.logpdf(time[event == 1]).sum() + dist.logsf(time[event == 0]).sum()
    assert logp(point) == pytest.approx(ref, rel=1e-9)


def test_patient_posterior_mode_equals_mle_with_vague_prior():
    """Vague prior (near flat on the log scale): the mode on (log m, log k) is the MLE."""
    time, event = _lung_months()
    model = build_patient_model(time, event, prior=PFS_PRIORS["vague"])
    logp = model.compile_logp(jacobian=True)
    dlogp = model.compile_dlogp(jacobian=True)
    names = ["median_pfs_log__", "weibull_shape_log__"]

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
    compiled = CompiledModel(build_patient_model(time, event, prior=PFS_PRIORS["vague"]), name="p")
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
    logp = model.compile_logp(vars=[model["pfs_observed"]], jacobian=False)
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
    point = {"median_pfs_log__": np.log(m), "weibull_shape_log__": np.log(k)}
    assert logp(point) == pytest.approx(ref, rel=1e-10)
    data = patient_data(time, event)
    assert data["events_at_zero"] == 2 and data["censored_at_zero_dropped"] == 1
    assert data["pfs_time"].size == time.size - 1 and np.all(data["pfs_time"] > 0)


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
