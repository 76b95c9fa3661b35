r"""A published rate report as coarsened data (issue 12 item 3; DESIGN.md section 4.1).

A paper that prints "30 % (95 % CI 17 %-45 %)" without its counts reports an event, not a count:
"the trial's (x, n), summarised by the authors' interval method and printed at these decimals,
gave these numbers". Its likelihood sums over every way the event could have happened:

.. math::

    P(\text{report} \mid \theta) = \sum_{n} \pi(n) \sum_{m} \pi(m) \sum_{x=0}^{n}
        \binom{n}{x} \theta^x (1 - \theta)^{n - x}\,
        \mathbf{1}[(x, n, m) \text{ prints as the report}]
      = \sum_c w_c \binom{n_c}{x_c} \theta^{x_c} (1 - \theta)^{n_c - x_c}

with one candidate c = (x, n) per count that reproduces the printed estimate and interval under at
least one method, and prior weight w_c = pi(n) * sum of pi(m) over the methods that reproduce it.
Under a Beta(a, b) prior (or a mixture of Betas) the posterior is the mixture of
Beta(a + x_c, b + n_c - x_c) with weights proportional to
w_c C(n_c, x_c) B(a + x_c, b + n_c - x_c) / B(a, b): exact and cheap, the oracle of any MCMC fit of
the same likelihood (:func:`mixture_logpdf`, :func:`report_log_likelihood`). The binomial
coefficient stays: candidates differ in n, so it does not cancel.

What the printed numbers mean (the indicator):

- the estimate 100 x / n and both limits of method m print as reported at their own decimals
  (the estimate and the interval may differ: "9.6 % (5-17 %)");
- ``rounding``: ``round`` (closed interval of half a unit either side), ``truncate`` (cut after the
  last decimal: 89.65 printed 89.6) or ``unknown``: a report is kept when it prints as reported
  under either rule, one rule for all three numbers of the report (a paper uses one convention).

prior(method), :data:`DEFAULT_METHOD_PRIOR`: Clopper-Pearson 0.60, Wilson 0.15, Wilson with
continuity correction 0.10, Wald 0.10, Jeffreys 0.05. A judgement, not a survey: the exact interval
is what phase 2 protocols usually name and what R's ``binom.test`` and SAS PROC FREQ's exact
binomial option print, and it is the one consistent with an exact (Simon) design; Wilson is the
approximate interval the methods literature recommends (Brown, Cai and DasGupta 2001); the corrected
Wilson interval is Newcombe's (1998) method 4; the Wald interval still appears where general
software was used; Jeffreys is rare in clinical reports. A published method fixes it (weight 1).
Candidates the printed numbers allow under a rarer method keep a small weight, never zero.

prior(n), :func:`evaluable_prior`: a published number evaluated is n itself. Otherwise n lies in
[ceil((1 - dropout) * enrolled), max_evaluable] (``dropout``, the allowance, 0.2 by default: more
than a fifth of patients unevaluable for the primary endpoint is rare and a paper would say so) and
the number missing k = max_evaluable - n is geometric, P(k) proportional to r^k, truncated to the
range. Geometric because it is the maximum-entropy law on k = 0, 1, 2, ... with a given mean: it
says only "most trials evaluate all or nearly all, each further patient lost is less likely by the
same factor"; its untruncated mean r / (1 - r) is ``mean_missing_fraction`` (5 %) of the
enrolled, so the decay scales with the trial (r = 0.71 per patient for 48 enrolled). ``linear``
(weights falling linearly to the range's end) and ``uniform`` are the sensitivity shapes.

Published numbers restrict or replace the sum: a published numerator or denominator keeps only the
candidates with it; published counts (both) are the data, a single candidate of weight 1, and the
result says whether they reproduce the printed numbers (``counts_reproduce_estimate``,
``counts_reproduce_ci``). When no candidate reproduces a printed interval, the result says so
(``ci_reproduced`` False, ``basis`` "estimate_fallback") and falls back to every count whose
estimate alone prints as reported, with n in the same range and weight pi(n): the interval is then
not used at all, which is what a caller must say in plain words. A rate printed without an interval
uses the estimate alone (``basis`` "estimate_only"). 0 % and 100 % work (the exact interval of 0/n
is (0, 1 - (alpha/2)^(1/n))).

References: Heitjan DF, Rubin DB (1991), Ignorability and coarse data, Ann Stat 19:2244-2253;
Newcombe RG (1998), Stat Med 17:857-872; Brown LD, Cai TT, DasGupta A (2001), Stat Sci 16:101-133.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

import numpy as np
from scipy import optimize, special

from trial_reanalysis.analysis.constants import INTERVAL_LEVEL
from trial_reanalysis.analysis.reconstruction.rates import (
    CI_METHODS,
    ROUNDING_RULES,
    ci_limits,
    printed_match,
)

#: prior(method): weight of each interval method when the paper does not name it (module docstring).
DEFAULT_METHOD_PRIOR: Mapping[str, float] = {
    "exact": 0.60,
    "wilson": 0.15,
    "wilson_cc": 0.10,
    "jeffreys": 0.05,
    "wald": 0.10,
}

#: Largest fraction of the enrolled that may be unevaluable when the number evaluated is unknown.
DEFAULT_DROPOUT: float = 0.2

#: Mean of the (untruncated) geometric prior on the number not evaluated, as a fraction of enrolled.
DEFAULT_MEAN_MISSING_FRACTION: float = 0.05

#: Shapes of prior(n) over the allowed range, by the number not evaluated k = max_evaluable - n.
N_PRIOR_SHAPES: tuple[str, ...] = ("geometric", "linear", "uniform")

Rounding = Literal["round", "truncate", "unknown"]
Basis = Literal["counts", "estimate_and_ci", "estimate_only", "estimate_fallback"]


def _parse_printed(value: str | float, decimals: int | None, name: str) -> tuple[float, int]:
    """(percent, decimals) of a printed number: "9.6" -> (9.6, 1); 30.0 with 0 -> (30.0, 0)."""
    if isinstance(value, str):
        text = value.strip().rstrip("%").strip()
        try:
            number = float(text)
        except ValueError:
            raise ValueError(f"{name}: cannot read {value!r} as a printed percentage") from None
        if not math.isfinite(number):
            raise ValueError(f"{name}: {value!r} is not a finite percentage")
        places = len(text.split(".", 1)[1]) if "." in text else 0
        if "e" in text.lower():
            raise ValueError(f"{name}: write {value!r} as printed, without an exponent")
        return number, places
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise ValueError(f"{name}: expected a printed string or a number, got {value!r}")
    if decimals is None:
        raise ValueError(f"{name}: a number needs its printed decimals (or pass the string)")
    if int(decimals) != decimals or decimals < 0:
        raise ValueError(f"{name}: decimals must be a non-negative integer, got {decimals}")
    if not math.isfinite(float(value)):
        raise ValueError(f"{name}: {value!r} is not a finite percentage")
    return float(value), int(decimals)


def _check_count(value: int | None, name: str, low: int = 0) -> None:
    if value is None:
        return
    if isinstance(value, bool) or int(value) != value or value < low:
        raise ValueError(f"{name} must be an integer of at least {low}, got {value!r}")


@dataclass(frozen=True)
class RateReport:
    """A rate as a paper printed it, with what the paper says about its counts.

    Attributes:
        estimate: the printed percentage, as a string ("30", "9.6") or a number with ``decimals``.
        enrolled: patients enrolled (>= 1).
        ci: the printed interval limits in percent (strings or numbers with ``ci_decimals``), or
            None when the paper prints no interval.
        decimals: printed decimals of a numeric ``estimate`` (ignored for a string).
        ci_decimals: printed decimals of numeric CI limits (default: ``decimals``).
        rounding: "round", "truncate" or "unknown" (either, one rule per report).
        max_evaluable: most patients that can have been evaluated (default: ``enrolled``).
        evaluable: the number evaluated for this rate, if published.
        responders: the number with the event, if published.
        dropout: largest fraction of the enrolled that may be unevaluable (when ``evaluable`` is
            not published), in [0, 1).
        ci_method: the interval method, if published (one of ``CI_METHODS``).
        level: the interval's confidence level (0.95 unless the paper says otherwise).

    Raises ``ValueError`` naming the field for anything out of range.
    """

    estimate: str | float
    enrolled: int
    ci: tuple[str | float, str | float] | None = None
    decimals: int | None = None
    ci_decimals: int | None = None
    rounding: Rounding = "round"
    max_evaluable: int | None = None
    evaluable: int | None = None
    responders: int | None = None
    dropout: float = DEFAULT_DROPOUT
    ci_method: str | None = None
    level: float = INTERVAL_LEVEL

    def __post_init__(self) -> None:
        value, _ = _parse_printed(self.estimate, self.decimals, "estimate")
        if not 0.0 <= value <= 100.0:
            raise ValueError(f"estimate must lie in 0-100 %, got {value}")
        if self.ci is not None:
            if len(self.ci) != 2:
                raise ValueError(f"ci must hold two limits, got {self.ci!r}")
            lo, hi = self.ci_printed
            if not 0.0 <= lo[0] <= hi[0] <= 100.0:
                raise ValueError(f"ci must satisfy 0 <= lower <= upper <= 100 %, got {self.ci!r}")
        if self.rounding not in (*ROUNDING_RULES, "unknown"):
            raise ValueError(f"rounding must be round, truncate or unknown, got {self.rounding!r}")
        _check_count(self.enrolled, "enrolled", 1)
        _check_count(self.max_evaluable, "max_evaluable", 1)
        _check_count(self.evaluable, "evaluable", 1)
        _check_count(self.responders, "responders", 0)
        if self.evaluable is not None and self.evaluable > self.n_max:
            raise ValueError(f"evaluable {self.evaluable} exceeds max_evaluable {self.n_max}")
        top = self.evaluable if self.evaluable is not None else self.n_max
        if self.responders is not None and self.responders > top:
            raise ValueError(f"responders {self.responders} exceed the evaluable maximum {top}")
        if not 0.0 <= self.dropout < 1.0:
            raise ValueError(f"dropout must lie in [0, 1), got {self.dropout}")
        if self.ci_method is not None and self.ci_method not in CI_METHODS:
            raise ValueError(
                f"ci_method must be one of {', '.join(CI_METHODS)}, got {self.ci_method!r}"
            )
        if not 0.0 < self.level < 1.0:
            raise ValueError(f"level must lie strictly between 0 and 1, got {self.level}")

    @property
    def estimate_printed(self) -> tuple[float, int]:
        """(printed estimate in percent, its decimals)."""
        return _parse_printed(self.estimate, self.decimals, "estimate")

    @property
    def ci_printed(self) -> tuple[tuple[float, int], tuple[float, int]] | None:
        """((lower, decimals), (upper, decimals)) in percent, or None without an interval."""
        if self.ci is None:
            return None
        dec = self.ci_decimals if self.ci_decimals is not None else self.decimals
        return (
            _parse_printed(self.ci[0], dec, "ci lower"),
            _parse_printed(self.ci[1], dec, "ci upper"),
        )

    @property
    def n_max(self) -> int:
        """Most patients that can have been evaluated."""
        return int(self.max_evaluable if self.max_evaluable is not None else self.enrolled)

    @property
    def n_min(self) -> int:
        """Fewest evaluable allowed: ceil((1 - dropout) * enrolled), at most n_max."""
        return max(1, min(math.ceil((1.0 - self.dropout) * self.enrolled - 1e-9), self.n_max))

    @property
    def rules(self) -> tuple[str, ...]:
        """The rounding rules a candidate may satisfy (one for all numbers of the report)."""
        return ROUNDING_RULES if self.rounding == "unknown" else (self.rounding,)


def evaluable_prior(
    report: RateReport,
    shape: str = "geometric",
    mean_missing_fraction: float = DEFAULT_MEAN_MISSING_FRACTION,
) -> dict[int, float]:
    """prior(n): {n: probability} over the allowed numbers evaluated (sums to 1).

    A published ``evaluable`` is certain. Otherwise n runs over [report.n_min, report.n_max] (and
    n >= published responders) with k = n_max - n missing: ``geometric`` P(k) ~ r^k with
    r / (1 - r) = mean_missing_fraction * enrolled (r = 0 when that mean is 0: n = n_max only),
    ``linear`` P(k) ~ (K + 1 - k) with K the range's width, ``uniform``. Module docstring: why.
    """
    if report.evaluable is not None:
        return {int(report.evaluable): 1.0}
    if shape not in N_PRIOR_SHAPES:
        raise ValueError(
            f"prior(n) shape must be one of {', '.join(N_PRIOR_SHAPES)}, got {shape!r}"
        )
    if not mean_missing_fraction >= 0.0:
        raise ValueError(f"mean_missing_fraction must be >= 0, got {mean_missing_fraction}")
    low = max(report.n_min, report.responders or 1)
    if low > report.n_max:
        raise ValueError(
            f"no evaluable count: responders {report.responders} exceed "
            f"max_evaluable {report.n_max}"
        )
    n = np.arange(low, report.n_max + 1)
    k = report.n_max - n
    if shape == "geometric":
        mean = mean_missing_fraction * report.enrolled
        r = mean / (1.0 + mean)
        weights = np.where(k == 0, 1.0, r ** k.astype(float))
    elif shape == "linear":
        weights = (k.max() + 1 - k).astype(float)
    else:
        weights = np.ones(n.size)
    weights = weights / weights.sum()
    return {int(a): float(w) for a, w in zip(n, weights, strict=True) if w > 0}


def _method_prior(report: RateReport, method_prior: Mapping[str, float]) -> dict[str, float]:
    """prior(method) normalised to 1; a published method is certain."""
    if report.ci_method is not None:
        return {report.ci_method: 1.0}
    unknown = set(method_prior) - set(CI_METHODS)
    if unknown:
        raise ValueError(f"unknown CI method(s) in the method prior: {sorted(unknown)}")
    weights = {m: float(w) for m, w in method_prior.items()}
    if any(not w >= 0 for w in weights.values()) or sum(weights.values()) <= 0:
        raise ValueError(f"method prior weights must be >= 0 with a positive sum, got {weights}")
    total = sum(weights.values())
    return {m: w / total for m, w in weights.items() if w > 0}


@dataclass(frozen=True)
class ReportCandidate:
    """One count (x of n) in the sum, with the methods and rules that reproduce the report.

    ``ci_methods``: methods whose printed interval matches (empty when the interval is not used);
    ``rules``: rounding rules under which it matches; ``intervals``: the unrounded limits
    (fractions) of every method considered, to set beside the printed ones; ``prior_weight``:
    w_c = prior(n) * sum of prior(method) over ``ci_methods`` (prior(n) alone when the interval is
    not used), unnormalised as it enters the likelihood.
    """

    responders: int
    evaluable: int
    ci_methods: tuple[str, ...]
    rules: tuple[str, ...]
    intervals: dict[str, tuple[float, float]]
    prior_weight: float

    @property
    def label(self) -> str:
        """Short label such as ``"14/47"``."""
        return f"{self.responders}/{self.evaluable}"

    @property
    def estimate(self) -> float:
        """x / n as a fraction."""
        return self.responders / self.evaluable


@dataclass(frozen=True)
class ReportCandidates:
    """Every count in the report's likelihood, the priors behind their weights, and the flags.

    ``basis``: "counts" (published counts are the data), "estimate_and_ci", "estimate_only" (no
    interval printed) or "estimate_fallback" (an interval was printed but no candidate reproduces
    it, so only the estimate is used). ``ci_reproduced``: whether some candidate (or the published
    counts) reproduces the printed interval; None without one. ``counts_reproduce_estimate`` /
    ``counts_reproduce_ci``: the published counts' check (None when counts are not published or
    there is no interval). Candidates come by prior weight, largest first.
    """

    report: RateReport
    candidates: tuple[ReportCandidate, ...]
    basis: Basis
    ci_reproduced: bool | None
    n_prior: dict[int, float]
    method_prior: dict[str, float]
    counts_reproduce_estimate: bool | None = None
    counts_reproduce_ci: bool | None = None

    @property
    def arrays(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """(responders, evaluable, prior weights) as arrays over candidates."""
        x = np.array([c.responders for c in self.candidates], dtype=float)
        n = np.array([c.evaluable for c in self.candidates], dtype=float)
        w = np.array([c.prior_weight for c in self.candidates], dtype=float)
        return x, n, w


def _match_table(
    report: RateReport, x: np.ndarray, n: np.ndarray, methods: Sequence[str]
) -> tuple[np.ndarray, np.ndarray, dict[str, tuple[np.ndarray, np.ndarray]]]:
    """Estimate matches [rule, pair] and interval matches [rule, method, pair] of pairs x/n.

    Also the unrounded limits of every method (fractions), to report beside the printed ones.
    """
    est, est_dec = report.estimate_printed
    rules = report.rules
    est_ok = np.array([printed_match(100.0 * x / n, est, est_dec, r) for r in rules])
    limits = {m: ci_limits(x, n, m, report.level) for m in methods}
    ci_ok = np.zeros((len(rules), len(methods), x.size), dtype=bool)
    printed = report.ci_printed
    if printed is not None:
        (lo, lo_dec), (hi, hi_dec) = printed
        for i, rule in enumerate(rules):
            for j, m in enumerate(methods):
                ci_ok[i, j] = printed_match(100.0 * limits[m][0], lo, lo_dec, rule) & printed_match(
                    100.0 * limits[m][1], hi, hi_dec, rule
                )
    return est_ok, ci_ok, limits


def _published_counts(
    report: RateReport, methods: tuple[str, ...], p_method: dict[str, float]
) -> ReportCandidates:
    """The one candidate of published counts, with flags saying whether they reproduce the
    printed estimate and CI (under which rounding rules and CI methods)."""
    has_ci = report.ci is not None
    x = np.array([report.responders])
    n = np.array([report.evaluable])
    est_ok, ci_ok, limits = _match_table(report, x, n, methods)
    rules_est = [r for i, r in enumerate(report.rules) if est_ok[i, 0]]
    matched = [m for j, m in enumerate(methods) if (est_ok[:, 0] & ci_ok[:, j, 0]).any()]
    rules_ci = [r for i, r in enumerate(report.rules) if est_ok[i, 0] and ci_ok[i, :, 0].any()]
    cand = ReportCandidate(
        int(x[0]),
        int(n[0]),
        tuple(matched),
        tuple(rules_ci if has_ci else rules_est),
        {m: (float(limits[m][0][0]), float(limits[m][1][0])) for m in methods},
        1.0,
    )
    return ReportCandidates(
        report,
        (cand,),
        "counts",
        bool(matched) if has_ci else None,
        {int(n[0]): 1.0},
        p_method,
        counts_reproduce_estimate=bool(rules_est),
        counts_reproduce_ci=bool(matched) if has_ci else None,
    )


def report_candidates(
    report: RateReport,
    *,
    method_prior: Mapping[str, float] = DEFAULT_METHOD_PRIOR,
    n_shape: str = "geometric",
    mean_missing_fraction: float = DEFAULT_MEAN_MISSING_FRACTION,
) -> ReportCandidates:
    """The candidates of P(report | theta) with their prior weights (module docstring).

    ``method_prior``: prior(method) (normalised here; a published method overrides it);
    ``n_shape`` and ``mean_missing_fraction``: prior(n) (:func:`evaluable_prior`). Raises
    ``ValueError`` when not even the printed estimate is reproduced by any allowed count without
    published counts (nothing to analyse); with published counts the flags say what disagrees.
    """
    p_method = _method_prior(report, method_prior)
    methods = tuple(p_method)
    has_ci = report.ci is not None
    if report.responders is not None and report.evaluable is not None:
        return _published_counts(report, methods, p_method)

    p_n = evaluable_prior(report, n_shape, mean_missing_fraction)
    n_values = np.array(sorted(p_n))
    if report.responders is not None:
        x = np.full(n_values.size, int(report.responders))
        n = n_values
    else:
        n = np.repeat(n_values, n_values + 1)
        x = np.concatenate([np.arange(v + 1) for v in n_values])
    est_ok, ci_ok, limits = _match_table(report, x, n, methods)
    pn = np.array([p_n[int(v)] for v in n])
    pm = np.array([p_method[m] for m in methods])

    both = est_ok[:, None, :] & ci_ok  # [rule, method, pair]
    method_hit = both.any(axis=0)  # [method, pair]
    if has_ci and method_hit.any():
        basis: Basis = "estimate_and_ci"
        keep = method_hit.any(axis=0)
        weight = pn * (pm @ method_hit)
        rule_hit = both.any(axis=1)
    else:
        basis = "estimate_fallback" if has_ci else "estimate_only"
        keep = est_ok.any(axis=0)
        weight = pn
        method_hit = np.zeros_like(method_hit)
        rule_hit = est_ok
    if not keep.any():
        est, dec = report.estimate_printed
        raise ValueError(
            f"no count x/n with n in {int(n_values.min())}-{int(n_values.max())}"
            + (f" and x = {report.responders}" if report.responders is not None else "")
            + f" prints as {est:.{dec}f} % under rounding {report.rounding!r}"
        )
    cands = [
        ReportCandidate(
            int(x[p]),
            int(n[p]),
            tuple(m for j, m in enumerate(methods) if method_hit[j, p]),
            tuple(r for i, r in enumerate(report.rules) if rule_hit[i, p]),
            {m: (float(limits[m][0][p]), float(limits[m][1][p])) for m in methods},
            float(weight[p]),
        )
        for p in np.flatnonzero(keep)
    ]
    cands.sort(key=lambda c: (-c.prior_weight, -c.evaluable, c.responders))
    return ReportCandidates(
        report,
        tuple(cands),
        basis,
        (basis == "estimate_and_ci") if has_ci else None,
        p_n,
        p_method,
    )


# ---------------------------------------------------------------------------------------------
# Mixtures of Betas
# ---------------------------------------------------------------------------------------------


def mixture_logpdf(
    theta: np.ndarray | float,
    weights: Sequence[float] | np.ndarray,
    alpha: Sequence[float] | np.ndarray,
    beta: Sequence[float] | np.ndarray,
) -> np.ndarray:
    """log of sum_j w_j Beta(theta | a_j, b_j), stable (log-sum-exp); an oracle for MCMC checks.

    ``weights`` need not be normalised (they are); ``theta`` any shape in [0, 1]; returns an array
    of the shape of ``theta`` (-inf outside the support, +inf where a component diverges).
    """
    w = np.asarray(weights, dtype=float)
    a, b = np.asarray(alpha, dtype=float), np.asarray(beta, dtype=float)
    if not (w.shape == a.shape == b.shape) or w.ndim != 1 or w.size == 0:
        raise ValueError("weights, alpha and beta must be equal-length non-empty sequences")
    if np.any(w < 0) or w.sum() <= 0 or np.any(a <= 0) or np.any(b <= 0):
        raise ValueError("weights must be >= 0 with a positive sum; alpha and beta must be > 0")
    t = np.asarray(theta, dtype=float)[..., None]
    with np.errstate(divide="ignore", invalid="ignore"):
        log_w = np.log(w / w.sum())
        comp = special.xlog1py(b - 1, -t) + special.xlogy(a - 1, t) - special.betaln(a, b)
        comp = np.where((t >= 0) & (t <= 1), comp, -np.inf)
        return special.logsumexp(log_w + comp, axis=-1)


@dataclass(frozen=True)
class BetaMixtureDistribution:
    """A finite mixture of Beta distributions on [0, 1]: a prior or the exact posterior.

    ``log_weights`` (normalised log weights), ``alpha``, ``beta``: one entry per component, as
    arrays. Quantiles by root finding on the cdf; the HDI is the shortest single interval with the
    requested mass (by optimisation over the lower tail mass, so it holds for any mixture,
    including monotone densities such as Beta(1, 35), whose HDI starts at 0).
    """

    log_weights: np.ndarray
    alpha: np.ndarray
    beta: np.ndarray

    @classmethod
    def from_weights(
        cls, weights: Sequence[float], alpha: Sequence[float], beta: Sequence[float]
    ) -> BetaMixtureDistribution:
        """From (unnormalised) weights and component parameters; raises ``ValueError`` if bad."""
        w = np.asarray(weights, dtype=float)
        a, b = np.asarray(alpha, dtype=float), np.asarray(beta, dtype=float)
        mixture_logpdf(0.5, w, a, b)  # validates
        with np.errstate(divide="ignore"):
            return cls(np.log(w / w.sum()), a, b)

    @classmethod
    def beta(cls, alpha: float, beta: float) -> BetaMixtureDistribution:
        """A single Beta(alpha, beta)."""
        return cls.from_weights([1.0], [alpha], [beta])

    @property
    def weights(self) -> np.ndarray:
        """Component weights (sum to 1)."""
        return np.exp(self.log_weights)

    def mean(self) -> float:
        """Mean (fraction)."""
        return float(np.sum(self.weights * self.alpha / (self.alpha + self.beta)))

    def var(self) -> float:
        """Variance: sum w_j E_j[theta^2] - mean^2."""
        a, b = self.alpha, self.beta
        second = a * (a + 1) / ((a + b) * (a + b + 1))
        return float(np.sum(self.weights * second) - self.mean() ** 2)

    def sd(self) -> float:
        """Standard deviation."""
        return math.sqrt(max(self.var(), 0.0))

    def logpdf(self, theta: np.ndarray | float) -> np.ndarray:
        """Log density (:func:`mixture_logpdf`)."""
        return mixture_logpdf(theta, self.weights, self.alpha, self.beta)

    def pdf(self, theta: np.ndarray | float) -> np.ndarray:
        """Density."""
        return np.exp(self.logpdf(theta))

    def cdf(self, theta: np.ndarray | float) -> np.ndarray:
        """P(rate <= theta)."""
        t = np.clip(np.asarray(theta, dtype=float), 0.0, 1.0)[..., None]
        total = np.sum(self.weights * special.betainc(self.alpha, self.beta, t), axis=-1)
        return np.clip(total, 0.0, 1.0)  # weights sum to 1 only to rounding

    def sf(self, theta: np.ndarray | float) -> np.ndarray:
        """P(rate > theta), computed from the upper tails (accurate far out in the tail)."""
        t = np.clip(np.asarray(theta, dtype=float), 0.0, 1.0)[..., None]
        total = np.sum(self.weights * special.betaincc(self.alpha, self.beta, t), axis=-1)
        return np.clip(total, 0.0, 1.0)

    def ppf(self, q: float) -> float:
        """The q-quantile (brentq on the cdf to 1e-13); 0 for q <= 0 and 1 for q >= 1."""
        if q <= 0.0:
            return 0.0
        if q >= 1.0:
            return 1.0
        return float(
            optimize.brentq(lambda t: float(self.cdf(t)) - q, 0.0, 1.0, xtol=1e-13, rtol=1e-13)
        )

    def interval(self, level: float = INTERVAL_LEVEL) -> tuple[float, float]:
        """Equal-tailed interval holding ``level``."""
        tail = (1.0 - level) / 2.0
        return self.ppf(tail), self.ppf(1.0 - tail)

    def hdi(self, level: float = INTERVAL_LEVEL) -> tuple[float, float]:
        """Shortest single interval holding ``level``: min over u of ppf(u + level) - ppf(u).

        A grid over the lower tail mass u in [0, 1 - level] finds the best region (a mixture's
        width curve may have several dips), a bounded search refines it, and both ends of the
        range are compared, so a density that is monotone (HDI from 0 or to 1) is handled.
        """
        spare = 1.0 - level

        def width(u: float) -> float:
            return self.ppf(u + level) - self.ppf(u)

        grid = np.linspace(0.0, spare, 41)
        widths = np.array([width(u) for u in grid])
        i = int(np.argmin(widths))
        lo, hi = grid[max(i - 1, 0)], grid[min(i + 1, grid.size - 1)]
        best_u, best_w = float(grid[i]), float(widths[i])
        if hi > lo:
            res = optimize.minimize_scalar(
                width, bounds=(lo, hi), method="bounded", options={"xatol": 1e-12}
            )
            if res.fun < best_w:
                best_u, best_w = float(res.x), float(res.fun)
        return self.ppf(best_u), self.ppf(best_u + level)


def posterior_mixture(
    responders: Sequence[int] | np.ndarray,
    evaluable: Sequence[int] | np.ndarray,
    weights: Sequence[float] | np.ndarray,
    prior: BetaMixtureDistribution,
) -> tuple[BetaMixtureDistribution, np.ndarray]:
    """Exact posterior of sum_c w_c Binomial(x_c | n_c, theta) under a Beta-mixture prior.

    Components (c, j): Beta(a_j + x_c, b_j + n_c - x_c) with weight proportional to
    w_c v_j C(n_c, x_c) B(a_j + x_c, b_j + n_c - x_c) / B(a_j, b_j) (computed in logs).
    Returns the posterior and the posterior weight of each candidate (summed over j), shape (C,).
    """
    x = np.asarray(responders, dtype=float)[:, None]
    n = np.asarray(evaluable, dtype=float)[:, None]
    w = np.asarray(weights, dtype=float)[:, None]
    if np.any(w <= 0) or not (x.shape == n.shape == w.shape) or x.size == 0:
        raise ValueError("candidates need positive weights and equal-length x, n, w")
    a, b = prior.alpha[None, :], prior.beta[None, :]
    log_choose = special.gammaln(n + 1) - special.gammaln(x + 1) - special.gammaln(n - x + 1)
    log_comp = (
        np.log(w)
        + prior.log_weights[None, :]
        + log_choose
        + special.betaln(a + x, b + n - x)
        - special.betaln(a, b)
    )
    log_norm = special.logsumexp(log_comp)
    log_post = log_comp - log_norm
    post = BetaMixtureDistribution(
        log_post.ravel(),
        np.broadcast_to(a + x, log_comp.shape).ravel().copy(),
        np.broadcast_to(b + n - x, log_comp.shape).ravel().copy(),
    )
    return post, np.exp(special.logsumexp(log_post, axis=1))


def report_log_likelihood(theta: np.ndarray | float, candidates: ReportCandidates) -> np.ndarray:
    """log P(report | theta) = log sum_c w_c C(n_c, x_c) theta^x_c (1 - theta)^(n_c - x_c).

    With the unnormalised prior weights of the candidates (as in the module docstring); any shape
    of ``theta``. The likelihood an MCMC model of the report would add (its oracle).
    """
    x, n, w = candidates.arrays
    t = np.asarray(theta, dtype=float)[..., None]
    log_choose = special.gammaln(n + 1) - special.gammaln(x + 1) - special.gammaln(n - x + 1)
    terms = np.log(w) + log_choose + special.xlogy(x, t) + special.xlog1py(n - x, -t)
    return special.logsumexp(terms, axis=-1)


@dataclass(frozen=True)
class RateReportPosterior:
    """The exact posterior of a rate given its printed report and a Beta-mixture prior.

    ``posterior_weights`` follow ``candidates.candidates`` (sum to 1).
    """

    candidates: ReportCandidates
    prior: BetaMixtureDistribution
    posterior: BetaMixtureDistribution
    posterior_weights: np.ndarray = field(repr=False)

    def table(self) -> list[dict[str, Any]]:
        """The candidate table: one record per candidate, largest posterior weight first.

        Keys: responders, evaluable, estimate (fraction), ci_methods, rules, prior_weight
        (normalised over candidates), posterior_weight, printed_ci (percent, or None) and
        computed_ci ({method: [lower, upper]} fractions, the methods that reproduce it; every
        method considered when none does).
        """
        cands = self.candidates.candidates
        total = sum(c.prior_weight for c in cands)
        printed = self.candidates.report.ci_printed
        rows = []
        for c, pw in zip(cands, self.posterior_weights, strict=True):
            shown = c.ci_methods or tuple(c.intervals)
            rows.append(
                {
                    "responders": c.responders,
                    "evaluable": c.evaluable,
                    "estimate": c.estimate,
                    "ci_methods": list(c.ci_methods),
                    "rules": list(c.rules),
                    "prior_weight": c.prior_weight / total,
                    "posterior_weight": float(pw),
                    "printed_ci": None if printed is None else [printed[0][0], printed[1][0]],
                    "computed_ci": {m: list(c.intervals[m]) for m in shown},
                }
            )
        rows.sort(key=lambda r: -r["posterior_weight"])
        return rows

    def summary(
        self, p0: float, p1: float, level: float = INTERVAL_LEVEL
    ) -> dict[str, float | list[float]]:
        """mean, sd, ci95 (equal-tailed), hdi95, P(theta > p0), P(theta > p1) and the Bayes factor
        of H1: theta > p1 against H0: theta < p0 (posterior odds / prior odds).

        ``level`` is the interval level (keys keep the ``95`` of the results contract).
        """
        if not 0.0 < p0 < p1 < 1.0:
            raise ValueError(f"need 0 < p0 < p1 < 1, got p0 = {p0}, p1 = {p1}")
        post, pri = self.posterior, self.prior
        bf = (float(post.sf(p1)) / float(post.cdf(p0))) / (float(pri.sf(p1)) / float(pri.cdf(p0)))
        return {
            "mean": post.mean(),
            "sd": post.sd(),
            "ci95": list(post.interval(level)),
            "hdi95": list(post.hdi(level)),
            "p_above_p0": float(post.sf(p0)),
            "p_above_p1": float(post.sf(p1)),
            "bf_h1_vs_h0": bf,
        }


def analyse_rate_report(
    report: RateReport,
    prior: BetaMixtureDistribution | None = None,
    *,
    method_prior: Mapping[str, float] = DEFAULT_METHOD_PRIOR,
    n_shape: str = "geometric",
    mean_missing_fraction: float = DEFAULT_MEAN_MISSING_FRACTION,
) -> RateReportPosterior:
    """Candidates, their weights and the exact mixture posterior of a printed rate report.

    ``prior``: a Beta or Beta mixture on the rate (default Beta(1, 1)); the other arguments are
    those of :func:`report_candidates`. Raises ``ValueError`` as :func:`report_candidates` does.
    """
    prior = prior if prior is not None else BetaMixtureDistribution.beta(1.0, 1.0)
    cands = report_candidates(
        report,
        method_prior=method_prior,
        n_shape=n_shape,
        mean_missing_fraction=mean_missing_fraction,
    )
    x, n, w = cands.arrays
    post, weights = posterior_mixture(x, n, w, prior)
    return RateReportPosterior(cands, prior, post, weights)


__all__ = [
    "DEFAULT_DROPOUT",
    "DEFAULT_MEAN_MISSING_FRACTION",
    "DEFAULT_METHOD_PRIOR",
    "N_PRIOR_SHAPES",
    "BetaMixtureDistribution",
    "RateReport",
    "RateReportPosterior",
    "ReportCandidate",
    "ReportCandidates",
    "analyse_rate_report",
    "evaluable_prior",
    "mixture_logpdf",
    "posterior_mixture",
    "report_candidates",
    "report_log_likelihood",
]
