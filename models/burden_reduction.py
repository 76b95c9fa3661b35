r"""Burden-reduction rate: a binomial likelihood with a Beta prior (DESIGN.md section 4.1).

.. math::

    \theta \sim \mathrm{Beta}(a, b), \qquad x \mid \theta \sim \mathrm{Binomial}(n, \theta)

``theta`` (``burden_reduction_rate``) is the probability that a patient has a >= 5 % reduction in
the sum of RECIST target lesions without other progression; ``x`` responders of ``n`` evaluable.
The posterior is Beta(a + x, b + n - x) exactly (:func:`exact_posterior`): the oracle every MCMC
fit of this model is tested against. ``a``, ``b``, ``x`` and ``n`` are ``pm.Data``, so one
compiled model serves every prior and every reconstructed (x, n).
"""

from __future__ import annotations

from functools import cache

import numpy as np
import pymc as pm
from scipy import optimize, stats

from models.priors import PriorScenario

#: Name of the model variable (the paper's words).
RATE = "burden_reduction_rate"


def _beta_with_mean(
    mean: float, tail_at: float, tail_mass: float, upper: bool
) -> tuple[float, float]:
    """Beta(a, b) with the given mean whose mass above (or below) ``tail_at`` is ``tail_mass``."""

    def tail(log_concentration: float) -> float:
        c = np.exp(log_concentration)
        dist = stats.beta(mean * c, (1 - mean) * c)
        return (dist.sf(tail_at) if upper else dist.cdf(tail_at)) - tail_mass

    log_c = optimize.brentq(tail, np.log(0.1), np.log(1e4), xtol=1e-12)
    c = float(np.exp(log_c))
    return mean * c, (1 - mean) * c


@cache
def burden_reduction_priors(p0: float = 0.05, p1: float = 0.20) -> dict[str, PriorScenario]:
    """The prior registry of the rate for a design's null ``p0`` and alternative ``p1``.

    ``skeptical`` and ``enthusiastic`` are solved numerically (their defining tail mass is exact to
    1e-9); all four are Beta distributions, so every posterior has a closed form.
    """
    sa, sb = _beta_with_mean(p0, p1, 0.05, upper=True)
    ea, eb = _beta_with_mean(p1, p0, 0.05, upper=False)
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
            f"Mean at the null {p0:.0%} with P(rate > {p1:.0%}) = 5 %: a doubter the data must "
            "convince.",
        ),
        PriorScenario(
            "enthusiastic",
            "beta",
            {"alpha": ea, "beta": eb},
            f"Mean at the alternative {p1:.0%} with P(rate < {p0:.0%}) = 5 %: the trial's own "
            "hope, for contrast.",
        ),
    ]
    return {s.name: s for s in scenarios}


def build_burden_reduction_model(
    responders: int, evaluable: int, prior: PriorScenario | None = None
) -> pm.Model:
    """The binomial model with data and prior hyperparameters as ``pm.Data`` (samples nothing)."""
    prior = prior or burden_reduction_priors()["uniform"]
    with pm.Model(name="") as model:
        alpha = pm.Data("prior_alpha", float(prior.parameters["alpha"]))
        beta = pm.Data("prior_beta", float(prior.parameters["beta"]))
        x = pm.Data("responders", int(responders))
        n = pm.Data("evaluable", int(evaluable))
        rate = pm.Beta(RATE, alpha=alpha, beta=beta)
        pm.Binomial("responders_observed", n=n, p=rate, observed=x)
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
