r"""Burden-reduction rate: a binomial likelihood with a Beta prior (DESIGN.md section 4.1).

.. math::

    \theta \sim \mathrm{Beta}(a, b), \qquad x \mid \theta \sim \mathrm{Binomial}(n, \theta)

``theta`` (``burden_reduction_rate``) is the probability that a patient has a >= 5 % reduction in
the sum of RECIST target lesions without other progression; ``x`` responders of ``n`` evaluable.
The posterior is Beta(a + x, b + n - x) exactly (:func:`exact_posterior`): the oracle every MCMC
fit of this model is tested against. ``a``, ``b``, ``x`` and ``n`` are ``pm.Data``, so one
compiled model serves every prior and every reconstructed (x, n). The sampler works on the
log-odds scale with a numerically stable kernel (:func:`build_burden_reduction_model`), so
rates of 0 % and 100 % sample cleanly.
"""

from __future__ import annotations

from functools import cache

import numpy as np
import pymc as pm
import pytensor.tensor as pt
from scipy import optimize, special, stats

from trial_reanalysis.models.priors import PriorScenario

#: Name of the model variable (the paper's words).
RATE = "burden_reduction_rate"


#: Search range of the Beta concentration a + b (log scale) for the skeptical/enthusiastic priors.
_LOG_C_RANGE = (np.log(1e-6), np.log(1e10))


def _upper_tail(a: float, b: float, at: float) -> float:
    return float(stats.beta.sf(at, a, b))


def _beta_mean_upper(mean: float, at: float, mass: float) -> tuple[float, float] | None:
    """Beta with the given mean and ``mass`` above ``at`` (> mean), on the regular branch.

    With the mean fixed, the mass above ``at`` tends to the mean as a + b -> 0 and to 0 as
    a + b -> inf, and may peak in between (so two roots can exist); the root taken is the largest
    concentration, where adding information only shrinks the tail. None when no Beta with this
    mean puts ``mass`` above ``at`` there (always so when mean <= mass * at, Markov's inequality),
    or when the solution has a density pole at 1 (b < 1: mass piled at rate 1 is no doubter).
    """

    def tail(log_c: float) -> float:
        c = np.exp(log_c)
        return _upper_tail(mean * c, (1 - mean) * c, at) - mass

    lo, hi = _LOG_C_RANGE
    peak = optimize.minimize_scalar(
        lambda x: -tail(x), bounds=(lo, hi), method="bounded", options={"xatol": 1e-6}
    ).x
    # The bounded search may stop on a local bump; take the best of it and a coarse grid.
    grid = np.linspace(lo, hi, 121)
    values = np.array([tail(x) for x in grid])
    peak = max([peak, float(grid[np.argmax(values)])], key=tail)
    if not tail(peak) > 0.0 or not tail(hi) < 0.0:
        return None
    log_c = optimize.brentq(tail, peak, hi, xtol=1e-13, rtol=1e-14)
    c = float(np.exp(log_c))
    a, b = mean * c, (1 - mean) * c
    return (a, b) if b >= 1.0 else None


def _beta_median_upper(median: float, at: float, mass: float) -> tuple[float, float]:
    """Beta with the given median and ``mass`` above ``at`` (> median): two quantiles.

    Such a Beta exists and is unique for any 0 < median < at < 1 and 0 < mass < 1/2 (van Dorp and
    Mazzuchi 2000, J Stat Comput Simul 67:189-201). Solved as nested roots: for a concentration
    c = a + b, the mean putting the median at ``median``; then c such that the tail is ``mass``
    (it falls from about 1/2 as c -> 0 to 0 as c -> inf).
    """

    def split(log_c: float) -> tuple[float, float]:
        c = np.exp(log_c)

        def below(logit_mean: float) -> float:
            m = special.expit(logit_mean)
            return float(stats.beta.cdf(median, m * c, (1 - m) * c)) - 0.5

        logit_m = optimize.brentq(below, -30.0, 30.0, xtol=1e-13)
        m = float(special.expit(logit_m))
        return m * c, (1 - m) * c

    def tail(log_c: float) -> float:
        return _upper_tail(*split(log_c), at) - mass

    log_c = optimize.brentq(tail, np.log(1e-3), _LOG_C_RANGE[1], xtol=1e-13, rtol=1e-14)
    return split(log_c)


def _beta_centred(
    centre: float, tail_at: float, tail_mass: float, upper: bool
) -> tuple[float, float, str]:
    """Beta(a, b) centred at ``centre`` with ``tail_mass`` above (or below) ``tail_at``.

    The centre is the mean where such a Beta exists on the regular branch (see
    :func:`_beta_mean_upper`), else the median (:func:`_beta_median_upper`, always solvable).
    Returns (a, b, "mean" or "median"). A lower tail is solved as the upper tail of 1 - rate.
    """
    if upper:
        found = _beta_mean_upper(centre, tail_at, tail_mass)
        if found is not None:
            return found[0], found[1], "mean"
        a, b = _beta_median_upper(centre, tail_at, tail_mass)
        return a, b, "median"
    a, b, kind = _beta_centred(1 - centre, 1 - tail_at, tail_mass, upper=True)
    return b, a, kind


@cache
def burden_reduction_priors(p0: float = 0.05, p1: float = 0.20) -> dict[str, PriorScenario]:
    """The prior registry of the rate for a design's null ``p0`` and alternative ``p1``.

    ``skeptical`` and ``enthusiastic`` are solved numerically (their defining tail mass is exact to
    1e-9) for any 0 < p0 < p1 < 1; all four are Beta distributions, so every posterior has a
    closed form. Each is centred by its mean where a Beta allows it, else by its median (when p0
    is small against p1, no Beta with mean p0 has 5 % above p1: see :func:`_beta_centred`); the
    rationale says which.
    Raises ValueError unless 0 < p0 < p1 < 1.
    """
    if not (np.isfinite(p0) and np.isfinite(p1) and 0.0 < p0 < p1 < 1.0):
        raise ValueError(f"need 0 < p0 < p1 < 1, got p0 = {p0}, p1 = {p1}")
    sa, sb, s_centre = _beta_centred(p0, p1, 0.05, upper=True)
    ea, eb, e_centre = _beta_centred(p1, p0, 0.05, upper=False)
    scenarios = [
        PriorScenario(
            "uniform",
            "beta",
            {"alpha": 1.0, "beta": 1.0},
            "Beta(1, 1): every rate equally likely a priori; one patient's worth of information.",
            primary=True,
        ),
        PriorScenario(
            "jeffreys",
            "beta",
            {"alpha": 0.5, "beta": 0.5},
            "Beta(1/2, 1/2): invariant reference prior; half a patient's worth of information.",
        ),
        PriorScenario(
            "skeptical",
            "beta",
            {"alpha": sa, "beta": sb},
            f"{s_centre.capitalize()} at the null {p0:.3g} with P(rate > {p1:.3g}) = 5 %: a "
            "doubter the data must convince"
            + (
                f" (no Beta with mean {p0:.3g} puts 5 % above {p1:.3g} without piling mass at "
                "rate 1, so the median is placed at the null).",
                ".",
            )[s_centre == "mean"],
        ),
        PriorScenario(
            "enthusiastic",
            "beta",
            {"alpha": ea, "beta": eb},
            f"{e_centre.capitalize()} at the alternative {p1:.3g} with P(rate < {p0:.3g}) = 5 %: "
            "the trial's own hope, for contrast"
            + (
                f" (no Beta with mean {p1:.3g} puts 5 % below {p0:.3g} without piling mass at "
                "rate 0, so the median is placed at the alternative).",
                ".",
            )[e_centre == "mean"],
        ),
    ]
    return {s.name: s for s in scenarios}


def build_burden_reduction_model(
    responders: int, evaluable: int, prior: PriorScenario | None = None
) -> pm.Model:
    r"""The binomial model with data and prior hyperparameters as ``pm.Data`` (samples nothing).

    Sampled on the log-odds scale y = logit(theta) (``burden_reduction_rate_logodds``, flat base
    measure) with the Beta prior and the binomial likelihood written together as one stable
    kernel, the density of y:

    .. math::

        \log p(y \mid x) = (a + x) \log\sigma(y) + (b + n - x) \log\sigma(-y)
            - \log B(a, b) + \text{const},

    with :math:`\log\sigma(y) = -\mathrm{softplus}(-y)` (the Jacobian of theta -> y is
    included: theta^(a-1) (1-theta)^(b-1) times theta (1-theta)). ``pm.Beta`` plus
    ``pm.Binomial`` compute log(1 - theta) from theta = sigmoid(y), which rounds to 1 for
    y > 37: with 34/34 responders and the Jeffreys prior every fit diverged. Here nothing
    rounds; ``burden_reduction_rate`` = sigmoid(y) is deterministic. The binomial coefficient is
    a constant and left out.
    """
    prior = prior or burden_reduction_priors()["uniform"]
    with pm.Model(name="") as model:
        alpha = pm.Data("prior_alpha", float(prior.parameters["alpha"]))
        beta = pm.Data("prior_beta", float(prior.parameters["beta"]))
        x = pm.Data("responders", int(responders))
        n = pm.Data("evaluable", int(evaluable))
        logodds = pm.Flat(f"{RATE}_logodds")
        pm.Potential(
            "beta_binomial_kernel",
            (alpha + x) * -pt.softplus(-logodds)
            + (beta + n - x) * -pt.softplus(logodds)
            - (pt.gammaln(alpha) + pt.gammaln(beta) - pt.gammaln(alpha + beta)),
        )
        pm.Deterministic(RATE, pt.sigmoid(logodds))
    return model


def model_data(responders: int, evaluable: int, prior: PriorScenario) -> dict[str, float]:
    """The ``pm.Data`` values of one fit (what :meth:`CompiledModel.fit` swaps in)."""
    return {
        "prior_alpha": float(prior.parameters["alpha"]),
        "prior_beta": float(prior.parameters["beta"]),
        "responders": int(responders),
        "evaluable": int(evaluable),
    }


def exact_posterior(responders: int, evaluable: int, prior: PriorScenario):
    """The conjugate posterior Beta(a + x, b + n - x) as a frozen scipy distribution."""
    a, b = prior.parameters["alpha"], prior.parameters["beta"]
    return stats.beta(a + responders, b + evaluable - responders)


def prior_distribution(prior: PriorScenario):
    """The prior as a frozen scipy distribution."""
    return stats.beta(prior.parameters["alpha"], prior.parameters["beta"])


def beta_hdi(dist, level: float) -> tuple[float, float]:
    """Highest-density interval of a unimodal Beta: the shortest interval holding ``level``."""

    def width(lower_tail: float) -> float:
        return dist.ppf(lower_tail + level) - dist.ppf(lower_tail)

    res = optimize.minimize_scalar(
        width, bounds=(0.0, 1.0 - level), method="bounded", options={"xatol": 1e-10}
    )
    return float(dist.ppf(res.x)), float(dist.ppf(res.x + level))
