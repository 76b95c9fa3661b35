"""Reconstruction of binomial counts from a reported percentage and its confidence interval.

A paper that reports "30 % (95 % CI 17 %-45 %)" without the numerator and denominator constrains
them: the pair (x, n) must give an estimate 100 x / n that rounds to 30 and, for the interval method
the authors used, limits that round to 17 and 45. :func:`reconstruct_rate` enumerates every pair
with n up to a maximum and every usual interval method, and keeps all pairs compatible with the
report (never just one), best match first.

Rounding rule: a reported value v at ``decimals`` decimals is matched by any unrounded value in the
closed interval [v - h, v + h], h = 0.5 * 10**-decimals (plus a float epsilon of 1e-9 percentage
points). This accepts both "round half up" and "round half to even", so a candidate is never lost to
an unknown tie rule; at worst an exact tie admits one extra candidate, which is kept and labelled.

Interval methods (two-sided, level ``INTERVAL_LEVEL`` unless told):

- ``exact``: Clopper-Pearson, quantiles of Beta(x, n - x + 1) and Beta(x + 1, n - x).
- ``wilson``: Wilson score interval.
- ``wilson_cc``: Wilson score interval with continuity correction (Newcombe 1998, method 4).
- ``jeffreys``: quantiles of Beta(x + 1/2, n - x + 1/2), lower limit 0 when x = 0, upper limit 1
  when x = n (Brown, Cai and DasGupta 2001).
- ``wald``: p +/- z sqrt(p (1 - p) / n), clipped to [0, 1].

References: Newcombe RG (1998), Stat Med 17:857-872; Brown LD, Cai TT, DasGupta A (2001), Stat Sci
16:101-133.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
from scipy import special, stats

from trial_reanalysis.analysis.constants import INTERVAL_LEVEL
from trial_reanalysis.analysis.trials.validation import MAX_RATE_N

#: Interval methods understood by :func:`proportion_ci` and :func:`reconstruct_rate`.
CI_METHODS: tuple[str, ...] = ("exact", "wilson", "wilson_cc", "jeffreys", "wald")

#: Human labels of :data:`CI_METHODS`, for tables and reports.
CI_METHOD_LABELS: dict[str, str] = {
    "exact": "Clopper-Pearson exact",
    "wilson": "Wilson score",
    "wilson_cc": "Wilson score with continuity correction",
    "jeffreys": "Jeffreys",
    "wald": "Wald",
}

# scipy's name of each method that binomtest(...).proportion_ci computes itself.
_SCIPY_METHOD = {"exact": "exact", "wilson": "wilson", "wilson_cc": "wilsoncc"}

# Float slack (percentage points) on "rounds to": 100 x / n is not exact in binary.
_EPSILON = 1e-9


def _check_method(method: str) -> None:
    if method not in CI_METHODS:
        raise ValueError(f"unknown CI method {method!r}; expected one of {', '.join(CI_METHODS)}")


def _check_level(level: float) -> None:
    if not 0.0 < level < 1.0:
        raise ValueError(f"interval level must lie strictly between 0 and 1, got {level}")


def proportion_ci(
    responders: int, evaluable: int, method: str, level: float = INTERVAL_LEVEL
) -> tuple[float, float]:
    """Two-sided confidence interval of a binomial proportion, as fractions in [0, 1].

    ``method`` is one of :data:`CI_METHODS`. Exact, Wilson and Wilson-with-correction come from
    ``scipy.stats.binomtest(...).proportion_ci``; Jeffreys and Wald are computed here (see the
    module docstring for their definitions and boundary conventions).
    """
    _check_method(method)
    _check_level(level)
    x, n = int(responders), int(evaluable)
    if n < 1:
        raise ValueError(f"evaluable must be at least 1, got {evaluable}")
    if not 0 <= x <= n:
        raise ValueError(f"responders must lie in 0..evaluable ({n}), got {responders}")
    if method in _SCIPY_METHOD:
        ci = stats.binomtest(x, n).proportion_ci(
            confidence_level=level, method=_SCIPY_METHOD[method]
        )
        return float(np.clip(ci.low, 0.0, 1.0)), float(np.clip(ci.high, 0.0, 1.0))
    lo, hi = _ci_arrays(np.array([x]), np.array([n]), method, level)
    return float(lo[0]), float(hi[0])


def _ci_arrays(
    x: np.ndarray, n: np.ndarray, method: str, level: float
) -> tuple[np.ndarray, np.ndarray]:
    """Vectorised interval limits (fractions) for integer arrays x and n of the same shape.

    The same intervals as :func:`proportion_ci` in closed form (a test checks they agree), so the
    enumeration in :func:`reconstruct_rate` needs no per-pair root finding.
    """
    x = np.asarray(x, dtype=float)
    n = np.asarray(n, dtype=float)
    tail = (1.0 - level) / 2.0
    z = special.ndtri(1.0 - tail)
    p = x / n
    with np.errstate(divide="ignore", invalid="ignore"):
        if method == "exact":
            lo = np.where(x > 0, special.betaincinv(x, n - x + 1, tail), 0.0)
            hi = np.where(x < n, special.betaincinv(x + 1, n - x, 1.0 - tail), 1.0)
        elif method == "jeffreys":
            lo = np.where(x > 0, special.betaincinv(x + 0.5, n - x + 0.5, tail), 0.0)
            hi = np.where(x < n, special.betaincinv(x + 0.5, n - x + 0.5, 1.0 - tail), 1.0)
        elif method == "wilson":
            centre = (x + z**2 / 2) / (n + z**2)
            half = z / (n + z**2) * np.sqrt(n * p * (1 - p) + z**2 / 4)
            lo = np.where(x > 0, centre - half, 0.0)
            hi = np.where(x < n, centre + half, 1.0)
        elif method == "wilson_cc":
            denom = 2 * (n + z**2)
            centre = 2 * x + z**2
            q = 1 - p
            lo_root = np.sqrt(np.maximum(z**2 - 2 - 1 / n + 4 * p * (n * q + 1), 0.0))
            hi_root = np.sqrt(np.maximum(z**2 + 2 - 1 / n + 4 * p * (n * q - 1), 0.0))
            lo = np.where(x > 0, (centre - 1 - z * lo_root) / denom, 0.0)
            hi = np.where(x < n, (centre + 1 + z * hi_root) / denom, 1.0)
        elif method == "wald":
            half = z * np.sqrt(p * (1 - p) / n)
            lo, hi = p - half, p + half
        else:  # pragma: no cover - guarded by _check_method
            raise ValueError(method)
    return np.clip(lo, 0.0, 1.0), np.clip(hi, 0.0, 1.0)


def ci_limits(
    responders: np.ndarray, evaluable: np.ndarray, method: str, level: float = INTERVAL_LEVEL
) -> tuple[np.ndarray, np.ndarray]:
    """Vectorised limits (fractions) of ``method`` for integer arrays of equal shape.

    The public face of the closed forms behind :func:`reconstruct_rate` (same conventions as
    :func:`proportion_ci`); raises ``ValueError`` for an unknown method or level.
    """
    _check_method(method)
    _check_level(level)
    return _ci_arrays(np.asarray(responders), np.asarray(evaluable), method, level)


#: How a paper may have shortened a number to its printed decimals.
ROUNDING_RULES: tuple[str, ...] = ("round", "truncate")


def printed_match(
    values: np.ndarray | float, printed: float, decimals: int, rule: str
) -> np.ndarray:
    """Whether unrounded ``values`` print as ``printed`` at ``decimals`` decimals under ``rule``.

    ``round``: the closed interval [printed - h, printed + h], h = half a unit of the last decimal
    (accepts half-up and half-to-even ties, see the module docstring). ``truncate``: the
    half-open interval [printed, printed + unit) of a value cut after its last decimal (89.65
    printed 89.6). Both carry the float slack of the module (1e-9 in the values' units), so an
    exact 31 % is never taken for a truncated 30 %. Values and ``printed`` share units (percent
    here); returns a boolean array of the shape of ``values``.
    """
    if rule not in ROUNDING_RULES:
        raise ValueError(f"unknown rounding rule {rule!r}; expected one of {ROUNDING_RULES}")
    if int(decimals) != decimals or decimals < 0:
        raise ValueError(f"decimals must be a non-negative integer, got {decimals}")
    values = np.asarray(values, dtype=float)
    unit = 10.0 ** (-int(decimals))
    if rule == "round":
        return np.abs(values - printed) <= 0.5 * unit + _EPSILON
    return (values >= printed - _EPSILON) & (values < printed + unit - _EPSILON)


@dataclass(frozen=True)
class RateCandidate:
    """A count (responders of evaluable) compatible with a reported percentage and interval.

    ``estimate`` and ``intervals`` are fractions; ``intervals`` holds the unrounded limits of every
    method examined, ``ci_methods`` the ones whose rounded limits reproduce the report. ``distance``
    (percentage points) is |estimate - reported| + |lower - reported| + |upper - reported| for the
    best-matching method: smaller means closer to the report.
    """

    responders: int
    evaluable: int
    ci_methods: tuple[str, ...]
    estimate: float
    intervals: dict[str, tuple[float, float]]
    distance: float

    @property
    def label(self) -> str:
        """Short label such as ``"14/47"``."""
        return f"{self.responders}/{self.evaluable}"


def reconstruct_rate(
    percent: float,
    ci_percent: tuple[float, float],
    max_n: int,
    decimals: int = 0,
    methods: Sequence[str] = CI_METHODS,
    level: float = INTERVAL_LEVEL,
) -> list[RateCandidate]:
    """Every (x, n) with 1 <= n <= ``max_n`` that reproduces a reported rate and interval.

    ``percent`` and ``ci_percent`` are the reported values in percent, rounded to ``decimals``
    decimals. A pair is kept when 100 x / n and, for at least one of ``methods``, both limits round
    to the reported values (closed-interval rule of the module docstring). Candidates come best
    first: smallest ``distance``, then larger n, then smaller x. An empty list means nothing fits.
    """
    lo_rep, hi_rep = (float(v) for v in ci_percent)
    percent = float(percent)
    for name, value in (("percent", percent), ("CI lower", lo_rep), ("CI upper", hi_rep)):
        if not np.isfinite(value) or not 0.0 <= value <= 100.0:
            raise ValueError(f"reported {name} must lie in 0-100 %, got {value}")
    if lo_rep > hi_rep:
        raise ValueError(f"CI lower limit {lo_rep} exceeds upper limit {hi_rep}")
    if not lo_rep <= percent <= hi_rep:
        raise ValueError(f"reported estimate {percent} lies outside its CI [{lo_rep}, {hi_rep}]")
    if int(max_n) != max_n or not 1 <= max_n <= MAX_RATE_N:
        raise ValueError(
            f"max_n must be an integer of at least 1 and at most {MAX_RATE_N}, got {max_n}"
        )
    if int(decimals) != decimals or decimals < 0:
        raise ValueError(f"decimals must be a non-negative integer, got {decimals}")
    methods = tuple(methods)
    if not methods:
        raise ValueError("at least one CI method is needed")
    for method in methods:
        _check_method(method)
    _check_level(level)

    half_unit = 0.5 * 10.0 ** (-int(decimals)) + _EPSILON
    # For each n, only x near n * percent / 100 can round to `percent`: take that window (one unit
    # wider each side against float error, clipped to 0..n), then apply the exact rule.
    n_range = np.arange(1, int(max_n) + 1)
    x_first = np.clip(np.floor(n_range * (percent - half_unit) / 100.0) - 1, 0, n_range)
    x_last = np.clip(np.ceil(n_range * (percent + half_unit) / 100.0) + 1, 0, n_range)
    width = (x_last - x_first + 1).astype(int)
    n_all = np.repeat(n_range, width)
    starts = np.repeat(np.cumsum(width) - width, width)
    x_all = np.repeat(x_first.astype(int), width) + np.arange(n_all.size) - starts
    est = 100.0 * x_all / n_all
    keep = np.abs(est - percent) <= half_unit
    x, n, est = x_all[keep], n_all[keep], est[keep]

    limits: dict[str, tuple[np.ndarray, np.ndarray]] = {}
    match = np.zeros((len(methods), x.size), dtype=bool)
    dist = np.full((len(methods), x.size), np.inf)
    for i, method in enumerate(methods):
        lo, hi = _ci_arrays(x, n, method, level)
        limits[method] = (lo, hi)
        d_lo, d_hi = np.abs(100.0 * lo - lo_rep), np.abs(100.0 * hi - hi_rep)
        match[i] = (d_lo <= half_unit) & (d_hi <= half_unit)
        dist[i] = np.where(match[i], d_lo + d_hi, np.inf)

    found = np.flatnonzero(match.any(axis=0))
    base = np.abs(est - percent)
    candidates = [
        RateCandidate(
            responders=int(x[j]),
            evaluable=int(n[j]),
            ci_methods=tuple(m for i, m in enumerate(methods) if match[i, j]),
            estimate=float(x[j] / n[j]),
            intervals={m: (float(limits[m][0][j]), float(limits[m][1][j])) for m in methods},
            distance=float(base[j] + dist[:, j].min()),
        )
        for j in found
    ]
    candidates.sort(key=lambda c: (c.distance, -c.evaluable, c.responders))
    return candidates


def candidates_as_records(cands: Sequence[RateCandidate]) -> list[dict[str, Any]]:
    """One JSON-ready dict per (candidate, matching method), in candidate order, percent units.

    Keys: responders, evaluable, ci_method, estimate_percent, ci_percent ([lower, upper], unrounded
    limits shown to 2 decimals). This is what ``reanalysis reconstruct rate --json`` prints and
    what ``burden_reduction.reconstruction.candidates`` in results.json holds.
    """
    records: list[dict[str, Any]] = []
    for cand in cands:
        for method in cand.ci_methods:
            lo, hi = cand.intervals[method]
            records.append(
                {
                    "responders": cand.responders,
                    "evaluable": cand.evaluable,
                    "ci_method": method,
                    "estimate_percent": round(100.0 * cand.estimate, 2),
                    "ci_percent": [round(100.0 * lo, 2), round(100.0 * hi, 2)],
                }
            )
    return records
