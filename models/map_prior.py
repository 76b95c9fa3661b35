r"""Meta-analytic-predictive (MAP) models across several trials (DESIGN.md section 5; issue 15).

The MAP prior of Neuenschwander, Capkun-Niggli, Branson and Spiegelhalter (Clinical Trials 2010)
is the predictive distribution of a *new* trial's parameter under a random-effects model of the
historical trials. RBesT's ``gMAP`` is the reference implementation; this is the same model with
each trial entering through its own likelihood, so that trials published only as summaries count.

Rate (logit scale), trials i = 1..I, non-centred:

.. math::

    \mu \sim N(\mu_0, s_\mu^2), \quad \tau \sim \mathrm{HalfNormal}(s_\tau), \quad
    z_i \sim N(0, 1), \quad \theta_i = \mu + \tau z_i, \quad p_i = \mathrm{logit}^{-1}(\theta_i)

    L_i(p_i) = \sum_c w_{ic} \binom{n_{ic}}{x_{ic}} p_i^{x_{ic}} (1 - p_i)^{n_{ic} - x_{ic}}

One candidate (x, n) with weight 1 is a trial with published counts; several candidates are the
coarsened report of a rate and its CI (DESIGN.md 4.1: every (x, n) that reproduces the printed
numbers, with its prior weight). The log-likelihood is a logsumexp over candidates; trials with
fewer candidates are padded with weight zero (log weight :data:`PAD_LOG_WEIGHT`, whose exp is 0.0 in
double precision, so no infinities reach the gradient).

Defaults (RBesT's guidance for binary endpoints, Neuenschwander and Schmidli): the reference
per-patient sd of a logit rate is sigma_ref = 2 (1 / sqrt(p (1 - p)) at p = 1/2), and
``tau ~ HalfNormal(sigma_ref / 2 = 1)`` allows up to "large" heterogeneity (prior median 0.67,
95 % below 1.96) without forcing it; ``mu ~ N(0, 2^2)`` puts 95 % of the typical rate in
0.02-0.98 (RBesT's ``beta.prior = 2``). Sensitivity: tau scale 0.5, 1, 2 (``prior_tau_scale`` is
``pm.Data``, no recompilation). ``mean_family="logistic"`` (mu ~ Logistic(0, 1), i.e. the typical
rate uniform on (0, 1)) exists for the exact check: with tau fixed at 0 the MAP is then exactly
Beta(1 + sum x, 1 + sum (n - x)).

Median of a time-to-event endpoint (log scale, months):

.. math::

    \log m_i \sim N(\mu, \tau^2), \qquad y_i = \log \hat m_i \sim N(\log m_i, se_i^2)

with se_i from the reported 95 % CI on the log scale, (log U - log L) / (2 z_{0.975}), or from the
lower limit alone, (log M - log L) / z_{0.975}, when U was not reached (this assumes the log-scale
CI is symmetric about log M, as a Wald CI of a log median is). Reference per-event sd 1 (the
variance of a log median estimated from d exponential events is 1/d), so the default
``tau ~ HalfNormal(0.5)`` (sigma_ref / 2, the same rule as for rates) and ``mu ~ N(log 6, 2^2)``
(95 % of the typical median in 0.12-300 months: any oncology endpoint; not centred on a trial's
report). A full order-statistic likelihood per trial (models/pfs.py) is a later extension.

Only tau is sampled with the data (normal-normal, so everything else is exact given tau): with
v_i = tau^2 + se_i^2, y_i ~ N(mu, v_i) once log m_i is integrated out, and mu | tau, y is
N(c, 1/P) with P = 1/s_mu^2 + sum 1/v_i and c = (mu_0/s_mu^2 + sum y_i/v_i) / P; tau's
likelihood is log p(y | tau) = log p(y | mu = c, tau) + log N(c; mu_0, s_mu^2) + log sqrt(2 pi/P).
mu and the log m_i are then drawn from their exact conditionals, mu = c + u / sqrt(P) and
log m_i = mu + b_i (y_i - mu) + tau sqrt(1 - b_i) z_i with b_i = tau^2 / v_i, where u and z_i are
independent N(0, 1) in the posterior: the same joint posterior as the model above, without its
funnels. The non-centred form mu + tau z_i had one between tau and z_i when the reports are
precise (se_i small against tau, as published medians with their CIs are), and one between tau
and mu (with tau near 0, mu is pinned by the pooled reports): on the mRCC set of
data/historical/ with the seed's report left out, 1 fit in 10 seeds failed its gates after the
retry and 4 needed the retry; integrating out the trials alone still left divergences in 2 of 12.

Parametrisation. Everything a sensitivity or a check changes is ``pm.Data``, so one compiled model
serves it: in the rate model mu = mu_0 + s_mu u with u ~ N(0, 1) (``map_mean_std``; in the
median model u is mu's standardised conditional, above), or mu = logit Phi(u) when
``prior_mean_uniform_rate`` is 1 (then logit^-1 mu = Phi(u) is uniform: the logistic prior);
tau = s_tau t with t ~ HalfNormal(1) (``between_trial_sd_unit``), or the fixed value
``tau_fixed_value`` when ``tau_is_fixed`` is 1 (t then samples its prior and is ignored). tau is not
a model variable (a fixed tau would be a constant without R-hat): the analysis layer computes its
draws as s_tau t. The model can hold more trial slots than trials (``capacity``): a padded rate
slot has one candidate x = n = 0 (likelihood exactly 1), a padded median slot has
``trial_has_data`` 0; a slot without data leaves the posterior of (mu, tau) unchanged, its z
samples N(0, 1), so one compiled model serves any number of trials up to its capacity.

The new trial's parameter is in the model (``new_trial_z ~ N(0, 1)``, independent of the data), so
its draws are the MAP predictive and go through the same gates. Builders are pure: they return a
``pm.Model``; nothing here samples. PyMC and PyTensor are imported by the functions that build
graphs, so that the constants and data helpers are read without them (a run's own process, which
writes the planners' section from its workers' fits, never loads the sampling stack).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import numpy as np

if TYPE_CHECKING:
    import pymc as pm

#: Log weight of padding candidates (exp underflows to exactly 0.0; finite, unlike -inf).
PAD_LOG_WEIGHT = -1.0e4
#: Reference per-patient sd of a logit rate (Bernoulli at p = 1/2) and per-event sd of a log median.
RATE_UNIT_SD = 2.0
MEDIAN_UNIT_SD = 1.0
#: Default half-normal scale of the between-trial sd: half the reference sd (RBesT's guidance).
RATE_TAU_SCALE = RATE_UNIT_SD / 2
MEDIAN_TAU_SCALE = MEDIAN_UNIT_SD / 2
#: Prior of the typical value mu: N(mean, sd^2) on the logit / log-months scale.
RATE_MEAN_PRIOR = (0.0, 2.0)
MEDIAN_MEAN_PRIOR = (float(np.log(6.0)), 2.0)
#: Two-sided 95 % normal quantile used to turn a CI into a standard error.
Z95 = 1.959963984540054

# Variable names.
MEAN_STD = "map_mean_std"
MEAN = "map_mean"
TAU_UNIT = "between_trial_sd_unit"
Z = "trial_z"
NEW_Z = "new_trial_z"
RATE_TRIAL = "trial_rate"
RATE_TRIAL_LOGIT = "trial_logit_rate"
RATE_NEW = "new_trial_rate"
RATE_NEW_LOGIT = "new_trial_logit_rate"
MEDIAN_TRIAL_LOG = "trial_log_median"
MEDIAN_TRIAL = "trial_median"
MEDIAN_NEW_LOG = "new_trial_log_median"
MEDIAN_NEW = "new_trial_median"


def _check_prior(tau_scale: float, mean_prior: tuple[float, float], tau_fixed: float | None):
    if not tau_scale > 0 or not mean_prior[1] > 0:
        raise ValueError("tau_scale and the sd of mean_prior must be positive")
    if tau_fixed is not None and not tau_fixed >= 0:
        raise ValueError(f"tau_fixed must be >= 0, got {tau_fixed}")


def _prior_data(
    tau_scale: float, mean_prior: tuple[float, float], tau_fixed: float | None
) -> dict[str, np.ndarray]:
    _check_prior(tau_scale, mean_prior, tau_fixed)
    return {
        "prior_mean_mu": np.array(float(mean_prior[0])),
        "prior_mean_sd": np.array(float(mean_prior[1])),
        "prior_tau_scale": np.array(float(tau_scale)),
        "tau_is_fixed": np.array(0.0 if tau_fixed is None else 1.0),
        "tau_fixed_value": np.array(0.0 if tau_fixed is None else float(tau_fixed)),
    }


def _capacity(needed: int, capacity: int | None, what: str) -> int:
    if capacity is None:
        return needed
    if capacity < needed:
        raise ValueError(f"capacity of {capacity} {what} is below the {needed} needed")
    return int(capacity)


def rate_model_data(
    trials: Sequence[Sequence[tuple[int, int, float]]],
    *,
    tau_scale: float = RATE_TAU_SCALE,
    mean_prior: tuple[float, float] = RATE_MEAN_PRIOR,
    tau_fixed: float | None = None,
    mean_family: str = "normal",
    capacity: tuple[int, int] | None = None,
) -> dict[str, np.ndarray]:
    """Every ``pm.Data`` value of the rate model (what :meth:`CompiledModel.fit` swaps in).

    ``trials[i]`` lists trial i's candidates (x, n, weight) with integers 0 <= x <= n, n >= 1 and
    weight > 0 (only ratios within a trial matter; they are normalised). Candidate arrays have
    shape (trial slots, candidate slots) = ``capacity`` (default: just enough): padding
    candidates get :data:`PAD_LOG_WEIGHT` with x = n = 0, and padded trial slots one candidate
    x = n = 0 of weight 1 (likelihood exactly 1).

    Raises:
        ValueError: no trials, a trial without candidates, an invalid candidate or prior, a
            capacity too small, or an unknown ``mean_family``.
    """
    if len(trials) == 0:
        raise ValueError("a MAP prior needs at least one trial")
    if mean_family not in ("normal", "logistic"):
        raise ValueError(f"mean_family must be 'normal' or 'logistic', got {mean_family!r}")
    empty = [i for i, c in enumerate(trials) if len(c) == 0]
    if empty:
        raise ValueError(f"trial {empty[0]} has no (x, n, weight) candidate")
    cap_t, cap_c = capacity if capacity is not None else (None, None)
    rows = _capacity(len(trials), cap_t, "trials")
    width = _capacity(max(len(t) for t in trials), cap_c, "candidates")
    x = np.zeros((rows, width))
    n = np.zeros((rows, width))
    logw = np.full((rows, width), PAD_LOG_WEIGHT)
    logw[len(trials) :, 0] = 0.0
    for i, cands in enumerate(trials):
        for xc, nc, wc in cands:
            if not (int(xc) == xc and int(nc) == nc and 0 <= xc <= nc and nc >= 1 and wc > 0):
                raise ValueError(
                    f"trial {i}: candidate (x={xc}, n={nc}, weight={wc}) needs integers "
                    "0 <= x <= n, n >= 1 and a positive weight"
                )
        w = np.array([float(c[2]) for c in cands])
        x[i, : len(cands)] = [c[0] for c in cands]
        n[i, : len(cands)] = [c[1] for c in cands]
        logw[i, : len(cands)] = np.log(w / w.sum())
    out = {"candidate_successes": x, "candidate_sizes": n, "candidate_log_weight": logw}
    out.update(_prior_data(tau_scale, mean_prior, tau_fixed))
    out["prior_mean_uniform_rate"] = np.array(1.0 if mean_family == "logistic" else 0.0)
    return out


def rate_loglik_graph(theta: Any, x: Any, n: Any, logw: Any) -> Any:
    """Sum over trials of log sum_c w_c Binomial(x_c | n_c, logit^-1 theta_i) (pytensor).

    ``theta`` has shape (trials,), the candidate arrays (trials, candidates). Stable on the logit
    scale: log p = -softplus(-theta), log(1 - p) = -softplus(theta).
    """
    import pytensor.tensor as pt

    log_p = -pt.softplus(-theta)[:, None]
    log_q = -pt.softplus(theta)[:, None]
    log_choose = pt.gammaln(n + 1.0) - pt.gammaln(x + 1.0) - pt.gammaln(n - x + 1.0)
    terms = logw + log_choose + x * log_p + (n - x) * log_q
    return pt.sum(pt.logsumexp(terms, axis=1))


def logit_normal_cdf(u: Any) -> Any:
    """logit Phi(u) for the standard normal cdf Phi (pytensor), accurate for |u| <= 37 and held
    at its value there beyond (finite, with zero gradient, where erfc would underflow).

    With s = sign(u) (+1 at 0) and e = Phi(-|u|) = erfc(s u / sqrt 2) / 2,
    logit Phi(u) = s (log(1 - e) - log e).
    Written with ``erfc`` only: PyMC's ``normal_lcdf`` uses ``erfcx``, which PyTensor's numba
    backend calls through a SciPy function pointer that no cache may store, so a model holding it
    would be compiled again in every process (about 15 s).
    """
    import pytensor.tensor as pt

    sign = pt.switch(pt.lt(u, 0.0), -1.0, 1.0)  # not pt.sign: its 0 at u = 0 zeroes the gradient
    # erfc underflows to 0 near |u| = 38.5: held at |u| = 37 (prior mass beyond: 6e-300)
    e = 0.5 * pt.erfc(pt.minimum(sign * u, 37.0) / np.sqrt(2.0))
    return sign * (pt.log1p(-e) - pt.log(e))


def _hierarchy(data: dict[str, np.ndarray], slots: int, uniform_rate: Any = None) -> tuple:
    """mu, tau and the standard-normal trial and new-trial z (inside a model context)."""
    import pymc as pm
    import pytensor.tensor as pt

    mu_0 = pm.Data("prior_mean_mu", data["prior_mean_mu"])
    mu_sd = pm.Data("prior_mean_sd", data["prior_mean_sd"])
    u = pm.Normal(MEAN_STD, 0.0, 1.0)
    mu = mu_0 + mu_sd * u
    if uniform_rate is not None:  # logit Phi(u): the typical rate Phi(u) is uniform on (0, 1)
        mu = pt.switch(pt.gt(uniform_rate, 0.5), logit_normal_cdf(u), mu)
    mu = pm.Deterministic(MEAN, mu)
    tau = _between_trial_sd(data)
    z = pm.Normal(Z, 0.0, 1.0, shape=slots)
    z_new = pm.Normal(NEW_Z, 0.0, 1.0)
    return mu, tau, z, z_new


def _between_trial_sd(data: dict[str, np.ndarray]) -> Any:
    """tau: s_tau t with t ~ HalfNormal(1), or the fixed value (inside a model context)."""
    import pymc as pm
    import pytensor.tensor as pt

    scale = pm.Data("prior_tau_scale", data["prior_tau_scale"])
    is_fixed = pm.Data("tau_is_fixed", data["tau_is_fixed"])
    fixed = pm.Data("tau_fixed_value", data["tau_fixed_value"])
    t = pm.HalfNormal(TAU_UNIT, sigma=1.0)
    return pt.switch(pt.gt(is_fixed, 0.5), fixed, scale * t)


def build_map_rate_model(
    trials: Sequence[Sequence[tuple[int, int, float]]],
    *,
    tau_scale: float = RATE_TAU_SCALE,
    mean_prior: tuple[float, float] = RATE_MEAN_PRIOR,
    tau_fixed: float | None = None,
    mean_family: str = "normal",
    capacity: tuple[int, int] | None = None,
) -> pm.Model:
    """The MAP model of a rate (logit scale) over several trials; samples nothing.

    Args:
        trials: per trial its candidates (x, n, weight); one candidate for published counts.
        tau_scale: half-normal scale of the between-trial sd (logit scale).
        mean_prior: (mean, sd) of the normal prior on mu (logit scale).
        tau_fixed: fix tau at this value (0: complete pooling) instead of giving it a prior.
        mean_family: ``"normal"`` (default) or ``"logistic"`` (typical rate uniform).
        capacity: (trial slots, candidate slots) to compile for; default just enough.

    Returns:
        A model with ``map_mean`` (mu), ``trial_rate`` (p_i, one per slot), ``new_trial_rate``
        (the MAP predictive), their logits, and the free ``between_trial_sd_unit``; every input
        above is ``pm.Data`` (see :func:`rate_model_data`), so refits never recompile.
    """
    import pymc as pm

    data = rate_model_data(
        trials,
        tau_scale=tau_scale,
        mean_prior=mean_prior,
        tau_fixed=tau_fixed,
        mean_family=mean_family,
        capacity=capacity,
    )
    with pm.Model() as model:
        x = pm.Data("candidate_successes", data["candidate_successes"])
        n = pm.Data("candidate_sizes", data["candidate_sizes"])
        logw = pm.Data("candidate_log_weight", data["candidate_log_weight"])
        uniform = pm.Data("prior_mean_uniform_rate", data["prior_mean_uniform_rate"])
        mu, tau, z, z_new = _hierarchy(data, data["candidate_sizes"].shape[0], uniform)
        theta = pm.Deterministic(RATE_TRIAL_LOGIT, mu + tau * z)
        pm.Deterministic(RATE_TRIAL, pm.math.invlogit(theta))
        theta_new = pm.Deterministic(RATE_NEW_LOGIT, mu + tau * z_new)
        pm.Deterministic(RATE_NEW, pm.math.invlogit(theta_new))
        pm.Potential("trial_likelihood", rate_loglik_graph(theta, x, n, logw))
    return model


def log_median_se(median: float, lower: float | None, upper: float | None) -> float:
    """Standard error of log median from its reported 95 % CI (months; U may be None).

    (log U - log L) / (2 * 1.959964) with both limits; (log M - log L) / 1.959964 with the lower
    limit only (symmetry on the log scale assumed).

    Raises:
        ValueError: no lower limit, or not 0 < L < M < U.
    """
    if lower is None:
        raise ValueError(f"median {median}: a lower 95 % limit is needed for its standard error")
    if not 0 < lower < median or (upper is not None and not median < upper):
        raise ValueError(f"need 0 < L < M < U, got L={lower}, M={median}, U={upper}")
    if upper is None:
        return float((np.log(median) - np.log(lower)) / Z95)
    return float((np.log(upper) - np.log(lower)) / (2 * Z95))


def median_model_data(
    log_median: Sequence[float],
    se: Sequence[float],
    *,
    tau_scale: float = MEDIAN_TAU_SCALE,
    mean_prior: tuple[float, float] = MEDIAN_MEAN_PRIOR,
    tau_fixed: float | None = None,
    capacity: int | None = None,
) -> dict[str, np.ndarray]:
    """Every ``pm.Data`` value of the median model; padded slots get y = 0, se = 1, no data.

    Raises:
        ValueError: unequal or empty inputs, a non-finite log median, se <= 0, a bad prior or a
            capacity too small.
    """
    y = np.asarray(log_median, dtype=float)
    s = np.asarray(se, dtype=float)
    if y.ndim != 1 or y.size == 0 or y.shape != s.shape:
        raise ValueError("log_median and se must be equal-length non-empty sequences")
    if not np.all(np.isfinite(y)) or not np.all(s > 0):
        raise ValueError("log medians must be finite and standard errors positive")
    slots = _capacity(y.size, capacity, "trials")
    out = {
        "reported_log_median": np.zeros(slots),
        "reported_log_median_se": np.ones(slots),
        "trial_has_data": np.zeros(slots),
    }
    out["reported_log_median"][: y.size] = y
    out["reported_log_median_se"][: y.size] = s
    out["trial_has_data"][: y.size] = 1.0
    out.update(_prior_data(tau_scale, mean_prior, tau_fixed))
    return out


def build_map_median_model(
    log_median: Sequence[float],
    se: Sequence[float],
    *,
    tau_scale: float = MEDIAN_TAU_SCALE,
    mean_prior: tuple[float, float] = MEDIAN_MEAN_PRIOR,
    tau_fixed: float | None = None,
    capacity: int | None = None,
) -> pm.Model:
    """The MAP model of a time-to-event median (log months) over several trials; samples nothing.

    Args:
        log_median: reported log medians (log months), shape (trials,).
        se: their standard errors (see :func:`log_median_se`).
        tau_scale: half-normal scale of the between-trial sd of log medians.
        mean_prior: (mean, sd) of the normal prior on mu (log months).
        tau_fixed: fix tau at this value instead of giving it a prior.
        capacity: trial slots to compile for; default just enough.

    Returns:
        A model with ``map_mean``, ``trial_log_median``, ``trial_median`` (months),
        ``new_trial_log_median``, ``new_trial_median`` and the free ``between_trial_sd_unit``;
        inputs are ``pm.Data`` (see :func:`median_model_data`).
    """
    import pymc as pm
    import pytensor.tensor as pt

    data = median_model_data(
        log_median,
        se,
        tau_scale=tau_scale,
        mean_prior=mean_prior,
        tau_fixed=tau_fixed,
        capacity=capacity,
    )
    with pm.Model() as model:
        y = pm.Data("reported_log_median", data["reported_log_median"])
        s = pm.Data("reported_log_median_se", data["reported_log_median_se"])
        has = pm.Data("trial_has_data", data["trial_has_data"])
        mu_0 = pm.Data("prior_mean_mu", data["prior_mean_mu"])
        mu_sd = pm.Data("prior_mean_sd", data["prior_mean_sd"])
        u = pm.Normal(MEAN_STD, 0.0, 1.0)  # mu given tau and the reports, standardised
        tau = _between_trial_sd(data)
        slots = data["reported_log_median"].shape[0]
        z = pm.Normal(Z, 0.0, 1.0, shape=slots)  # log m_i given mu, tau, y_i, standardised
        z_new = pm.Normal(NEW_Z, 0.0, 1.0)
        # Given tau, everything else is normal (module docstring): y_i ~ N(mu, v_i) with
        # v_i = tau^2 + se_i^2, and mu | tau, y ~ N(c, 1 / P)
        v = tau**2 + s**2
        precision = 1.0 / mu_sd**2 + pt.sum(has / v)
        c = (mu_0 / mu_sd**2 + pt.sum(has * y / v)) / precision
        mu = pm.Deterministic(MEAN, c + u / pt.sqrt(precision))
        # log p(y | tau) = log p(y | mu, tau) + log p(mu) - log p(mu | y, tau), at mu = c
        log_2pi = np.log(2 * np.pi)
        at_c = pt.sum(has * (-0.5 * (y - c) ** 2 / v - 0.5 * pt.log(v) - 0.5 * log_2pi))
        prior_at_c = -0.5 * ((c - mu_0) / mu_sd) ** 2 - pt.log(mu_sd) - 0.5 * log_2pi
        pm.Potential("trial_likelihood", at_c + prior_at_c + 0.5 * (log_2pi - pt.log(precision)))
        # log m_i | mu, tau, y_i: weight tau^2 / v_i on its own report, sd tau se_i / sqrt(v_i);
        # a slot without data draws from N(mu, tau^2)
        with_data = pt.gt(has, 0.5)
        centre = pt.switch(with_data, mu + tau**2 / v * (y - mu), mu)
        spread = pt.switch(with_data, tau * s / pt.sqrt(v), tau)
        theta = pm.Deterministic(MEDIAN_TRIAL_LOG, centre + spread * z)
        pm.Deterministic(MEDIAN_TRIAL, pm.math.exp(theta))
        theta_new = pm.Deterministic(MEDIAN_NEW_LOG, mu + tau * z_new)
        pm.Deterministic(MEDIAN_NEW, pm.math.exp(theta_new))
    return model
