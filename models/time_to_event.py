r"""Progression-free survival: a Weibull model fitted to a reported KM median and its CI, or to
(reconstructed) patient data (DESIGN.md section 4.2).

Parametrisation, stated once: :math:`S(t) = \exp(-(t/\lambda)^k)`, median
:math:`m = \lambda (\ln 2)^{1/k}`; ``median_pfs`` = m (months), ``weibull_shape`` = k (k > 1: rising
hazard), ``weibull_scale`` = :math:`\lambda` (deterministic, months). Priors are lognormal on m and
k (normal on their logs), hyperparameters ``pm.Data``.

Summary likelihood (order-statistic / Dirichlet). The reported (L, M, U) are treated as event times
at CDF levels u_i = F(x_i) = 1 - exp(-H_i), :math:`H_i = \ln 2\,(x_i/m)^k`. The spacings
(u_L, u_M - u_L, u_U - u_M, 1 - u_U) ~ Dirichlet(alpha), with alpha calibrated by simulation
(:mod:`analysis.studies.pfs_calibration`). The density of x adds the Jacobian of x -> u,
:math:`\sum_i [\log k - \log x_i + \log H_i - H_i]`. Spacings are computed on the log scale with
expm1: :math:`\log(u_M - u_L) = -H_L + \log(-\mathrm{expm1}(H_L - H_M))`. When U is undefined the
last two spacings merge (alpha_3 + alpha_4, spacing 1 - u_M) and U drops out of the Jacobian; a
``pm.Data`` flag switches, so one compiled model serves both.

Patient data: censored Weibull likelihood via ``pm.Censored``: events f(t), right-censored
patients S(t). Events recorded at time 0 (a Guyot reconstruction keeps them; patient data may
hold them) happened before the first assessment: they are interval-censored in (0, t1], t1 the
smallest positive time in the data, so they contribute F(t1); patients censored at time 0 carry
no information and are left out (:func:`patient_data`).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import pymc as pm
import pytensor.tensor as pt
from scipy import special

from trial_reanalysis.models.priors import PriorScenario, primary

MEDIAN = "median_pfs"
SHAPE = "weibull_shape"
SCALE = "weibull_scale"
LN2 = float(np.log(2.0))

#: Prior scenarios of (median_pfs, weibull_shape): lognormal, parameters of the logs.
PFS_PRIORS: dict[str, PriorScenario] = {
    s.name: s
    for s in [
        PriorScenario(
            "weakly_informative",
            "lognormal",
            {
                "log_median_mu": float(np.log(4.0)),
                "log_median_sd": 1.0,
                "log_shape_mu": 0.0,
                "log_shape_sd": 0.6,
            },
            "Median centred at 4 months (95 % prior range 0.6-28 months, any plausible 2nd-line "
            "mRCC PFS); shape centred at 1 (constant hazard) with 95 % range 0.3-3.2.",
            primary=True,
        ),
        PriorScenario(
            "vague",
            "lognormal",
            {
                "log_median_mu": float(np.log(4.0)),
                "log_median_sd": 2.5,
                "log_shape_mu": 0.0,
                "log_shape_sd": 1.5,
            },
            "Very wide on both logs: lets the reported numbers speak (and shows how little they "
            "say about the shape alone).",
        ),
        PriorScenario(
            "exponential_skeptical",
            "lognormal",
            {
                "log_median_mu": float(np.log(4.0)),
                "log_median_sd": 1.0,
                "log_shape_mu": 0.0,
                "log_shape_sd": 0.2,
            },
            "Shape held near 1 (95 % range 0.67-1.5): a constant-hazard (exponential) skeptic the "
            "data must move towards a rising hazard.",
        ),
    ]
}


def prior_data(prior: PriorScenario) -> dict[str, float]:
    """``pm.Data`` values of a prior scenario."""
    p = prior.parameters
    return {
        "prior_log_median_mu": p["log_median_mu"],
        "prior_log_median_sd": p["log_median_sd"],
        "prior_log_shape_mu": p["log_shape_mu"],
        "prior_log_shape_sd": p["log_shape_sd"],
    }


def summary_data(
    median: float, lower: float, upper: float | None, alpha: Sequence[float]
) -> dict[str, Any]:
    """``pm.Data`` values of a reported (L, M, U) and its Dirichlet alpha (U may be None)."""
    if not 0 < lower < median or (upper is not None and not median < upper):
        raise ValueError(f"need 0 < L < M < U, got L={lower}, M={median}, U={upper}")
    alpha = np.asarray(alpha, dtype=float)
    if alpha.shape != (4,) or np.any(alpha <= 0):
        raise ValueError("alpha must be 4 positive numbers")
    return {
        "pfs_lower": np.array(float(lower)),
        "pfs_median": np.array(float(median)),
        "pfs_upper": np.array(float(upper) if upper is not None else 2.0 * median),
        "pfs_has_upper": np.array(1.0 if upper is not None else 0.0),
        "dirichlet_alpha": alpha,
    }


def _priors(prior: PriorScenario) -> tuple[Any, Any]:
    pd_ = prior_data(prior)
    mu_m = pm.Data("prior_log_median_mu", pd_["prior_log_median_mu"])
    sd_m = pm.Data("prior_log_median_sd", pd_["prior_log_median_sd"])
    mu_k = pm.Data("prior_log_shape_mu", pd_["prior_log_shape_mu"])
    sd_k = pm.Data("prior_log_shape_sd", pd_["prior_log_shape_sd"])
    median = pm.LogNormal(MEDIAN, mu=mu_m, sigma=sd_m)
    shape = pm.LogNormal(SHAPE, mu=mu_k, sigma=sd_k)
    pm.Deterministic(SCALE, median / LN2 ** (1.0 / shape))
    return median, shape


def _dirichlet_logp(alpha: Any, log_spacings: Any) -> Any:
    """log Dirichlet density at spacings given by their logs (pytensor)."""
    return (
        pt.gammaln(pt.sum(alpha)) - pt.sum(pt.gammaln(alpha)) + pt.sum((alpha - 1.0) * log_spacings)
    )


def summary_loglik_graph(median: Any, shape: Any, x: Any, alpha: Any, has_upper: Any) -> Any:
    """Log density of the reported (L, M, U) (pytensor): Dirichlet spacings plus Jacobian."""
    log_h = np.log(LN2) + shape * (pt.log(x) - pt.log(median))
    h = pt.exp(log_h)
    h_l, h_m, h_u = h[0], h[1], h[2]
    log_u_l = pt.log(-pt.expm1(-h_l))
    log_s2 = -h_l + pt.log(-pt.expm1(h_l - h_m))
    log_s3 = -h_m + pt.log(-pt.expm1(h_m - h_u))
    four = pt.stack([log_u_l, log_s2, log_s3, -h_u])
    three = pt.stack([log_u_l, log_s2, -h_m])
    alpha3 = pt.stack([alpha[0], alpha[1], alpha[2] + alpha[3]])
    jac = pt.log(shape) - pt.log(x) + log_h - h
    lp4 = _dirichlet_logp(alpha, four) + pt.sum(jac)
    lp3 = _dirichlet_logp(alpha3, three) + jac[0] + jac[1]
    return pt.switch(pt.gt(has_upper, 0.5), lp4, lp3)


def summary_loglik(
    median: np.ndarray | float,
    shape: np.ndarray | float,
    x: Sequence[float],
    alpha: Sequence[float],
    has_upper: bool = True,
) -> np.ndarray:
    """NumPy twin of :func:`summary_loglik_graph` (vectorised over median/shape)."""
    m, k = np.asarray(median, dtype=float), np.asarray(shape, dtype=float)
    x = np.asarray(x, dtype=float)
    a = np.asarray(alpha, dtype=float)
    log_h = np.log(LN2) + k[..., None] * (np.log(x) - np.log(m)[..., None])
    h = np.exp(log_h)
    jac = np.log(k)[..., None] - np.log(x) + log_h - h
    log_u_l = np.log(-np.expm1(-h[..., 0]))
    log_s2 = -h[..., 0] + np.log(-np.expm1(h[..., 0] - h[..., 1]))
    if has_upper:
        log_s = np.stack(
            [log_u_l, log_s2, -h[..., 1] + np.log(-np.expm1(h[..., 1] - h[..., 2])), -h[..., 2]],
            axis=-1,
        )
        jac_sum = jac.sum(axis=-1)
    else:
        a = np.r_[a[0], a[1], a[2] + a[3]]
        log_s = np.stack([log_u_l, log_s2, -h[..., 1]], axis=-1)
        jac_sum = jac[..., :2].sum(axis=-1)
    norm = special.gammaln(a.sum()) - special.gammaln(a).sum()
    return norm + ((a - 1) * log_s).sum(axis=-1) + jac_sum


def build_summary_model(
    median: float,
    lower: float,
    upper: float | None,
    alpha: Sequence[float],
    *,
    prior: PriorScenario | None = None,
) -> pm.Model:
    """The Weibull model of a reported KM median (months) and its 95 % CI (L, U; U may be None).

    ``pfs_lower``, ``pfs_median``, ``pfs_upper`` (scalars, so each ``constant_data`` entry has its
    own shape), ``pfs_has_upper``, ``dirichlet_alpha`` and the four prior hyperparameters are
    ``pm.Data``: refit any scenario with :meth:`analysis.inference.fitting.CompiledModel.fit`.
    """
    prior = prior or primary(PFS_PRIORS)
    data = summary_data(median, lower, upper, alpha)
    with pm.Model() as model:
        x = pt.stack(
            [pm.Data(name, data[name]) for name in ("pfs_lower", "pfs_median", "pfs_upper")]
        )
        has_upper = pm.Data("pfs_has_upper", data["pfs_has_upper"])
        a = pm.Data("dirichlet_alpha", data["dirichlet_alpha"])
        m, k = _priors(prior)
        pm.Potential("order_statistic_likelihood", summary_loglik_graph(m, k, x, a, has_upper))
    return model


def first_assessment_time(time: Sequence[float]) -> float:
    """The smallest positive time in patient data (months): the stand-in for the first
    assessment, the upper end of the interval in which an event recorded at time 0 happened.

    Raises ValueError when no time is positive.
    """
    t = np.asarray(time, dtype=float)
    positive = t[t > 0]
    if positive.size == 0:
        raise ValueError("no positive time: the first assessment cannot be placed")
    return float(positive.min())


def patient_data(time: Sequence[float], event: Sequence[int]) -> dict[str, Any]:
    """``pm.Data`` values of patient data (months; event 1 = progression), with events at 0.

    A time of 0 cannot be a Weibull event time (the density needs t > 0). An event recorded at
    time 0 happened before the first assessment: it is taken as interval-censored in (0, t1],
    t1 = :func:`first_assessment_time` (the smallest positive time in the data), i.e. left-
    censored at t1 (its likelihood is F(t1) = 1 - exp(-(t1/lambda)^k)). A patient censored at
    time 0 carries no information (S(0) = 1) and is left out. Returns ``pfs_time`` (observed;
    t1 for the events at 0), ``pfs_censor_at`` (right-censoring time, +inf for events),
    ``pfs_left_censor_at`` (t1 for the events at 0, -inf otherwise), and counts
    ``events_at_zero`` and ``censored_at_zero_dropped`` (not model data).

    Raises ValueError on negative or non-finite times, events other than 0/1, mismatched
    lengths, or data without any event (the Weibull is then not identified).
    """
    t = np.asarray(time, dtype=float)
    e = np.asarray(event)
    if t.shape != e.shape or t.ndim != 1 or t.size == 0:
        raise ValueError("time and event must be non-empty and of the same length")
    if not np.all(np.isfinite(t)) or np.any(t < 0):
        raise ValueError("times must be finite and >= 0")
    if not np.all(np.isin(e, (0, 1))):
        raise ValueError("events must be 0 (censored) or 1 (progression)")
    e = e.astype(bool)
    if not e.any():
        raise ValueError(
            "no events: every patient is censored, so the Weibull shape and scale are not "
            "identified"
        )
    at_zero = t == 0
    keep = ~(at_zero & ~e)
    t1 = first_assessment_time(t)
    left = at_zero & e
    t, e, left = t[keep], e[keep], left[keep]
    return {
        "pfs_time": np.where(left, t1, t),
        "pfs_censor_at": np.where(e, np.inf, t),
        "pfs_left_censor_at": np.where(left, t1, -np.inf),
        "events_at_zero": int(left.sum()),
        "censored_at_zero_dropped": int((~keep).sum()),
        "first_assessment": t1,
    }


#: Keys of :func:`patient_data` that are ``pm.Data`` of the patient model.
PATIENT_DATA_KEYS = ("pfs_time", "pfs_censor_at", "pfs_left_censor_at")


def build_patient_model(
    time: Sequence[float], event: Sequence[int], *, prior: PriorScenario | None = None
) -> pm.Model:
    """Censored Weibull model of patient data (time in months, event 1 = progression).

    Right-censored patients contribute S(t), events f(t), and events recorded at time 0 F(t1)
    (interval-censored before the first assessment t1; see :func:`patient_data`). ``pfs_time``,
    ``pfs_censor_at`` (+inf for events) and ``pfs_left_censor_at`` (-inf except events at 0)
    are ``pm.Data``. Raises ValueError as :func:`patient_data`.
    """
    prior = prior or primary(PFS_PRIORS)
    data = patient_data(time, event)
    with pm.Model() as model:
        t = pm.Data("pfs_time", data["pfs_time"])
        upper = pm.Data("pfs_censor_at", data["pfs_censor_at"])
        lower = pm.Data("pfs_left_censor_at", data["pfs_left_censor_at"])
        _, k = _priors(prior)
        scale = model[SCALE]
        pm.Censored(
            "pfs_observed",
            pm.Weibull.dist(alpha=k, beta=scale),
            lower=lower,
            upper=upper,
            observed=t,
        )
    return model
