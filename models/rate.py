r"""A rate (a proportion of patients) whose report is a sum over compatible counts (DESIGN.md 4.1).

.. math::

    \theta \sim \mathrm{Beta}(a, b), \qquad
    P(\text{report} \mid \theta) = \sum_c w_c \binom{n_c}{x_c} \theta^{x_c}
        (1 - \theta)^{n_c - x_c}

``theta`` (``rate``) is the probability that a patient has the endpoint's event (a response, a
clinical benefit, a burden reduction: the trial file names it); candidate c is a count x_c of n_c
that reproduces the printed report, with prior weight w_c = prior(n) * prior(method)
(:mod:`trial_reanalysis.analysis.reconstruction.rate_report`). Published counts are one candidate
of weight 1: the plain binomial model. The posterior is the mixture of
Beta(a + x_c, b + n_c - x_c) with weights proportional to w_c C(n_c, x_c) B(a + x_c, b + n_c - x_c)
/ B(a, b): exact, the oracle of every MCMC fit of this model (:func:`exact_posterior` for one
candidate; ``rate_report.posterior_mixture`` for the mixture). ``a``, ``b`` and the padded
candidate arrays are ``pm.Data``, so one compiled model per padded size serves every prior and
every candidate set. The sampler works on the log-odds scale with a numerically stable kernel
(:func:`build_rate_model`), so rates of 0 % and 100 % sample cleanly.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from functools import cache

import numpy as np
import pymc as pm
import pytensor.tensor as pt
from scipy import optimize, special, stats

from trial_reanalysis.models.priors import PriorScenario

#: Name of the model variable (a generic rate: the trial file gives the endpoint its words).
RATE = "rate"
#: The sampled variable: log-odds of the rate (flat base measure; the kernel holds the Beta).
RATE_LOGODDS = f"{RATE}_logodds"
#: Smallest padded number of candidates of a compiled model (sizes grow by powers of two).
MIN_CANDIDATES = 8
#: Log weight of a padding slot: exp() of it is exactly 0 in double precision.
PAD_LOG_WEIGHT = -1.0e6
#: Names of the priors every rate gets; the design's two only when p0 and p1 are known.
BASE_PRIORS = ("uniform", "jeffreys")
DESIGN_PRIORS = ("skeptical", "enthusiastic")


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


def _base_priors() -> list[PriorScenario]:
    return [
        PriorScenario(
            "uniform",
            "beta",
            {"alpha": 1.0, "beta": 1.0},
            "Beta(1, 1): every rate equally likely a priori; an effective sample size of a + b = 2 "
            "patients' worth of information (one response and one non-response).",
            primary=True,
        ),
        PriorScenario(
            "jeffreys",
            "beta",
            {"alpha": 0.5, "beta": 0.5},
            "Beta(1/2, 1/2): the invariant reference prior; an effective sample size of a + b = 1 "
            "patient's worth of information.",
        ),
    ]


@cache
def design_priors(p0: float, p1: float) -> dict[str, PriorScenario]:
    """The skeptical and enthusiastic priors of a design's null ``p0`` and alternative ``p1``.

    Solved numerically (their defining tail mass is exact to 1e-9) for any 0 < p0 < p1 < 1; each
    is centred by its mean where a Beta allows it, else by its median (when p0 is small against
    p1, no Beta with mean p0 has 5 % above p1: see :func:`_beta_centred`); the rationale says
    which and gives the effective sample size a + b.
    Raises ValueError unless 0 < p0 < p1 < 1.
    """
    if not (np.isfinite(p0) and np.isfinite(p1) and 0.0 < p0 < p1 < 1.0):
        raise ValueError(f"need 0 < p0 < p1 < 1, got p0 = {p0}, p1 = {p1}")
    sa, sb, s_centre = _beta_centred(p0, p1, 0.05, upper=True)
    ea, eb, e_centre = _beta_centred(p1, p0, 0.05, upper=False)
    skeptical = PriorScenario(
        "skeptical",
        "beta",
        {"alpha": sa, "beta": sb},
        f"{s_centre.capitalize()} at the null {p0:.3g} with P(rate > {p1:.3g}) = 5 %: a "
        "doubter the data must convince"
        + (
            f" (no Beta with mean {p0:.3g} puts 5 % above {p1:.3g} without piling mass at "
            "rate 1, so the median is placed at the null)",
            "",
        )[s_centre == "mean"]
        + f"; a + b = {sa + sb:.3g} patients' worth of information.",
    )
    enthusiastic = PriorScenario(
        "enthusiastic",
        "beta",
        {"alpha": ea, "beta": eb},
        f"{e_centre.capitalize()} at the alternative {p1:.3g} with P(rate < {p0:.3g}) = 5 %: "
        "the trial's own hope, for contrast"
        + (
            f" (no Beta with mean {p1:.3g} puts 5 % below {p0:.3g} without piling mass at "
            "rate 0, so the median is placed at the alternative)",
            "",
        )[e_centre == "mean"]
        + f"; a + b = {ea + eb:.3g} patients' worth of information.",
    )
    return {"skeptical": skeptical, "enthusiastic": enthusiastic}


def prior_registry(
    p0: float | None = None,
    p1: float | None = None,
    declared: Mapping[str, PriorScenario] | None = None,
) -> dict[str, PriorScenario]:
    """Every prior a rate is analysed under, exactly one marked primary.

    ``uniform`` (Beta(1, 1)) and ``jeffreys`` always; ``skeptical`` and ``enthusiastic``
    (:func:`design_priors`) only when the design's p0 and p1 are known for this rate; then the
    trial file's own Beta priors (``declared``; a declared name replaces a built-in one). The
    primary prior is the file's marked one, else ``uniform``.
    Raises ValueError for a declared prior that is not a Beta with positive alpha and beta.
    """
    priors = {s.name: s for s in _base_priors()}
    if p0 is not None and p1 is not None:
        priors.update(design_priors(p0, p1))
    declared = dict(declared or {})
    for name, s in declared.items():
        if s.family != "beta" or not (s.parameters["alpha"] > 0 and s.parameters["beta"] > 0):
            raise ValueError(f"prior {name!r}: a rate prior is a Beta with alpha, beta > 0")
    marked = [n for n, s in declared.items() if s.primary]
    if len(marked) > 1:
        raise ValueError(f"at most one prior is primary, got {marked}")
    priors.update(declared)
    chosen = marked[0] if marked else "uniform"
    return {
        name: PriorScenario(
            s.name, s.family, dict(s.parameters), s.rationale, name == chosen, s.tags
        )
        for name, s in priors.items()
    }


def burden_reduction_priors(p0: float = 0.05, p1: float = 0.20) -> dict[str, PriorScenario]:
    """The four priors of a rate with a known design (the seed's former registry name).

    Kept for the benchmarks and older callers: :func:`prior_registry` with p0 and p1.
    """
    return prior_registry(p0, p1)


def padded_size(n_candidates: int) -> int:
    """Padded candidate count of the compiled model: the next power of two, at least 8."""
    if n_candidates < 1:
        raise ValueError("a rate model needs at least one candidate")
    size = MIN_CANDIDATES
    while size < n_candidates:
        size *= 2
    return size


def build_rate_model(size: int = MIN_CANDIDATES) -> pm.Model:
    r"""The mixture-likelihood model for up to ``size`` candidates, all data ``pm.Data``.

    Sampled on the log-odds scale y = logit(theta) (``rate_logodds``, flat base measure) with the
    Beta prior and the report's likelihood written together as one stable kernel, the density of
    y:

    .. math::

        \log p(y \mid \text{report}) = \operatorname{logsumexp}_c \bigl[\log w_c
            + \log\binom{n_c}{x_c} + (a + x_c) \log\sigma(y) + (b + n_c - x_c) \log\sigma(-y)
            \bigr] - \log B(a, b),

    with :math:`\log\sigma(y) = -\mathrm{softplus}(-y)` (the Jacobian of theta -> y is
    included: theta^(a-1) (1-theta)^(b-1) times theta (1-theta)). Nothing rounds to log 0 for a
    rate of 0 % or 100 % (``pm.Beta`` with ``pm.Binomial`` would compute log(1 - theta) from a
    theta that rounds to 1). Padding slots hold x = n = 0 and log w = :data:`PAD_LOG_WEIGHT`
    (they add exactly 0). ``rate`` = sigmoid(y) is deterministic. Data containers:
    ``prior_alpha``, ``prior_beta``, ``responders``, ``evaluable``, ``log_weight`` (length
    ``size``).
    """
    with pm.Model(name="") as model:
        alpha = pm.Data("prior_alpha", 1.0)
        beta = pm.Data("prior_beta", 1.0)
        x = pm.Data("responders", np.zeros(size))
        n = pm.Data("evaluable", np.zeros(size))
        log_w = pm.Data("log_weight", np.r_[0.0, np.full(size - 1, PAD_LOG_WEIGHT)])
        logodds = pm.Flat(RATE_LOGODDS)
        log_choose = pt.gammaln(n + 1) - pt.gammaln(x + 1) - pt.gammaln(n - x + 1)
        terms = (
            log_w
            + log_choose
            + (alpha + x) * -pt.softplus(-logodds)
            + (beta + n - x) * -pt.softplus(logodds)
        )
        pm.Potential(
            "rate_report_kernel",
            pt.logsumexp(terms) - (pt.gammaln(alpha) + pt.gammaln(beta) - pt.gammaln(alpha + beta)),
        )
        pm.Deterministic(RATE, pt.sigmoid(logodds))
    return model


def model_data(
    responders: int | Sequence[int],
    evaluable: int | Sequence[int],
    prior: PriorScenario,
    weights: Sequence[float] | None = None,
    size: int | None = None,
) -> dict[str, np.ndarray | float]:
    """The ``pm.Data`` values of one fit (what :meth:`CompiledModel.fit` swaps in).

    ``responders``, ``evaluable`` and ``weights`` (unnormalised prior weights w_c, default 1 each)
    run over candidates (a single count may be given as two ints); padded to ``size`` (default
    :func:`padded_size`). Raises ValueError for counts outside 0 <= x <= n, n >= 1, weights <= 0
    or more candidates than ``size``.
    """
    x = np.atleast_1d(np.asarray(responders, dtype=float))
    n = np.atleast_1d(np.asarray(evaluable, dtype=float))
    w = np.ones(x.size) if weights is None else np.asarray(weights, dtype=float)
    if not (x.shape == n.shape == w.shape) or x.ndim != 1:
        raise ValueError("responders, evaluable and weights must have one entry per candidate")
    if np.any(n < 1) or np.any(x < 0) or np.any(x > n) or np.any(~(w > 0)):
        raise ValueError("candidates need 0 <= x <= n, n >= 1 and positive weights")
    size = padded_size(x.size) if size is None else int(size)
    if x.size > size:
        raise ValueError(f"{x.size} candidates exceed the model's {size} slots")
    pad = size - x.size
    return {
        "prior_alpha": float(prior.parameters["alpha"]),
        "prior_beta": float(prior.parameters["beta"]),
        "responders": np.r_[x, np.zeros(pad)],
        "evaluable": np.r_[n, np.zeros(pad)],
        "log_weight": np.r_[np.log(w / w.sum()), np.full(pad, PAD_LOG_WEIGHT)],
    }


def exact_posterior(responders: int, evaluable: int, prior: PriorScenario):
    """The conjugate posterior of one count, Beta(a + x, b + n - x), as a frozen scipy law."""
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
