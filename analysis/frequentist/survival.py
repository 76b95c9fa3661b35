r"""Frequentist survival tools: Kaplan-Meier with the Brookmeyer-Crowley CI of the median (as R's
``survfit`` computes it), the CDF levels at which the CI limits cross, and the right-censored
Weibull maximum-likelihood fit.

Parametrisation (used everywhere in the package): :math:`S(t) = \exp(-(t/\lambda)^k)`, median
:math:`m = \lambda (\ln 2)^{1/k}`; times in months unless a caller says otherwise.

Kaplan-Meier: :math:`\hat S(t) = \prod_{t_j \le t} (1 - d_j / n_j)` with Greenwood's variance of
:math:`\log \hat S`, :math:`v(t) = \sum_{t_j \le t} d_j / (n_j (n_j - d_j))`. The pointwise 95 % CI
on transform ``g`` is R's ``conf.type``: ``plain`` (:math:`\hat S \pm z \hat S \sqrt v`, clipped to
[0, 1]), ``log`` (:math:`\hat S e^{\pm z \sqrt v}`, capped at 1) and ``log-log``
(:math:`\hat S^{\exp(\pm z \sqrt v / \log \hat S)}`). The median and its Brookmeyer-Crowley limits
follow R's ``quantile.survfit``: the first time the curve (resp. its lower / upper pointwise limit)
reaches 0.5, with the midpoint rule when the curve sits exactly on 0.5.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import numpy as np
from scipy import optimize, stats

from trial_reanalysis.analysis.constants import INTERVAL_LEVEL

Transform = Literal["plain", "log", "log-log"]
TRANSFORMS: tuple[Transform, ...] = ("plain", "log", "log-log")
_TOL = np.sqrt(np.finfo(float).eps)  # R's quantile.survfit tolerance
Z95 = float(stats.norm.ppf(0.5 + INTERVAL_LEVEL / 2))


# ---------------------------------------------------------------------------------------------
# pointwise confidence limits and crossing levels
# ---------------------------------------------------------------------------------------------


def pointwise_limits(
    surv: np.ndarray, var_log: np.ndarray, transform: Transform, z: float = Z95
) -> tuple[np.ndarray, np.ndarray]:
    """Lower and upper pointwise limits of S (R ``survfit`` ``conf.type``); ``var_log`` is the
    Greenwood variance of log S. Where S is 1 both limits are 1; where S is 0 both are NaN, as
    R's ``survfit`` gives NA there (so no CI limit of the median is read off those points)."""
    surv = np.asarray(surv, dtype=float)
    se = np.sqrt(np.asarray(var_log, dtype=float))
    with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
        if transform == "plain":
            lo, hi = surv - z * surv * se, surv + z * surv * se
        elif transform == "log":
            lo, hi = surv * np.exp(-z * se), surv * np.exp(z * se)
        elif transform == "log-log":
            log_s = np.log(surv)
            lo = np.exp(-np.exp(np.log(-log_s) - z * se / log_s))
            hi = np.exp(-np.exp(np.log(-log_s) + z * se / log_s))
        else:
            raise ValueError(f"unknown CI transform {transform!r}; use one of {TRANSFORMS}")
    lo = np.clip(np.nan_to_num(lo, nan=0.0), 0.0, 1.0)
    hi = np.clip(np.nan_to_num(hi, nan=1.0), 0.0, 1.0)
    one = surv >= 1.0
    lo, hi = np.where(one, 1.0, lo), np.where(one, 1.0, hi)
    zero = surv <= 0.0
    return np.where(zero, np.nan, lo), np.where(zero, np.nan, hi)


#: The walk of :func:`crossing_levels`: points on each side of S = 0.5 (to 1e-6 below, to 1 - 1e-9
#: above) on which the limit's extremum is bracketed before it is refined.
_WALK_POINTS = 2001


def _limit_at(s: np.ndarray, n: float, transform: Transform, z: float, upper: bool) -> np.ndarray:
    """The lower or upper pointwise limit at S = ``s`` with var(log S) = (1 - S) / (S n)."""
    s = np.asarray(s, dtype=float)
    return pointwise_limits(s, (1.0 - s) / (s * n), transform, z)[1 if upper else 0]


def _extremum(n: float, transform: Transform, z: float, upper: bool) -> tuple[float, float]:
    """(S, limit) where the upper limit is least on (0, 0.5], or the lower limit greatest on
    [0.5, 1): bracketed on the walk's grid, refined by bounded Brent (each limit is unimodal on
    its side: see :func:`crossing_levels`)."""
    grid = (
        np.linspace(0.5, 1e-6, _WALK_POINTS) if upper else np.linspace(0.5, 1 - 1e-9, _WALK_POINTS)
    )
    sign = 1.0 if upper else -1.0
    values = sign * _limit_at(grid, n, transform, z, upper)
    i = int(np.argmin(values))
    lo, hi = sorted((grid[max(i - 1, 0)], grid[min(i + 1, grid.size - 1)]))
    if lo == hi:
        return float(grid[i]), float(sign * values[i])
    best = optimize.minimize_scalar(
        lambda s: sign * float(_limit_at(s, n, transform, z, upper)),
        bounds=(lo, hi),
        method="bounded",
        options={"xatol": 1e-13},
    )
    if best.fun < values[i]:
        return float(best.x), float(sign * best.fun)
    return float(grid[i]), float(sign * values[i])


def smallest_n_with_crossings(transform: Transform, z: float = Z95) -> float:
    """The least n >= 1 (real) for which both CI limits of :func:`crossing_levels` reach 0.5 on
    ``transform``: 1 for ``plain`` (any n), 13.15 for ``log`` (the upper limit) and 10.71 for
    ``log-log`` (the lower limit) at 95 %. Found by Brent's method on n of the limits' extrema."""

    def gap(n: float) -> float:  # > 0 while some limit never reaches 0.5
        u = _extremum(n, transform, z, upper=True)[1] - 0.5
        low = 0.5 - _extremum(n, transform, z, upper=False)[1]
        return max(u, low)

    if gap(1.0) < 0:
        return 1.0
    hi = 2.0
    while gap(hi) >= 0:
        if hi > 1e9:
            raise ValueError(f"no n up to 1e9 gives both crossings on {transform} (z = {z})")
        hi *= 2.0
    return float(optimize.brentq(gap, hi / 2, hi, xtol=1e-10))


def crossing_levels(n: float, transform: Transform, z: float = Z95) -> tuple[float, float, float]:
    """CDF levels F = 1 - S at which the KM curve sits when the CI limits of its median are
    reached, with se(S) = sqrt(S(1-S)/n): ``(F_L, 0.5, F_U)``.

    F_L solves lower_limit(s_L) = 0.5 (s_L > 0.5); F_U solves upper_limit(s_U) = 0.5 (s_U < 0.5):
    the first solutions away from 0.5. Each limit is unimodal on its side (``plain``: monotone;
    ``log``: the upper limit's only turning point is at S (1 - S) = z^2 / (4 n), the lower is
    monotone; ``log-log``: one turning point each, checked numerically), so a solution exists
    when the limit's extremum passes 0.5, and the first one lies between the extremum and 0.5.
    For small n it does not (95 %): on ``log`` the upper limit stays above 0.5 for n below 13.15
    (the median's upper CI limit is never reached: n = 12 has no F_U), on ``log-log`` the lower
    limit stays below 0.5 for n below 10.71 (and the upper above it below 3.77); see
    :func:`smallest_n_with_crossings`.

    Raises:
        ValueError: n below 1, or a limit that never reaches 0.5 (named, with the least n).
    """
    if not n >= 1:
        raise ValueError(f"n (patients at risk) must be at least 1, got {n}")
    levels = []
    for upper in (False, True):
        s_ext, value = _extremum(n, transform, z, upper)
        if (value >= 0.5) if upper else (value <= 0.5):
            which = "upper" if upper else "lower"
            level = 2.0 * stats.norm.cdf(z) - 1.0
            raise ValueError(
                f"the {which} {level:.0%} pointwise limit on the {transform} transform "
                f"never reaches 0.5 for n = {n:g} (its {'least' if upper else 'greatest'} value is "
                f"{value:.4f}, at S = {s_ext:.4f}): no F_{which[0].upper()} exists, the median's "
                f"{which} CI limit is never reached; it needs n >= "
                f"{smallest_n_with_crossings(transform, z):.2f}"
            )
        s = optimize.brentq(
            lambda s, u=upper: float(_limit_at(s, n, transform, z, u)) - 0.5,
            *sorted((s_ext, 0.5)),
            xtol=1e-13,
        )
        levels.append(1.0 - s)
    return levels[0], 0.5, levels[1]


# ---------------------------------------------------------------------------------------------
# Kaplan-Meier
# ---------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class KaplanMeier:
    """A KM curve at its distinct observed times (months), with Greenwood variance of log S."""

    time: np.ndarray
    at_risk: np.ndarray
    events: np.ndarray
    survival: np.ndarray
    var_log: np.ndarray

    def limits(self, transform: Transform) -> tuple[np.ndarray, np.ndarray]:
        """Pointwise 95 % limits of S on the given transform."""
        return pointwise_limits(self.survival, self.var_log, transform)

    def at(self, t: float | np.ndarray) -> np.ndarray:
        """S at time(s) t (right-continuous step function; 1 before the first time)."""
        idx = np.searchsorted(self.time, np.asarray(t, dtype=float), side="right") - 1
        return np.where(idx >= 0, self.survival[np.maximum(idx, 0)], 1.0)

    def median_ci(self, transform: Transform = "log") -> tuple[float, float, float]:
        """(median, lower, upper) as R ``quantile.survfit``; NaN where undefined."""
        lo, hi = self.limits(transform)
        tmax = float(self.time[-1])
        return (
            _first_crossing(self.time, self.survival, tmax),
            _first_crossing(self.time, lo, tmax),
            _first_crossing(self.time, hi, tmax),
        )


def _first_crossing(time: np.ndarray, curve: np.ndarray, tmax: float, p: float = 0.5) -> float:
    """First time a non-increasing step curve reaches ``p``; midpoint rule on an exact flat."""
    keep = np.r_[True, np.diff(curve) != 0]  # drop repeated levels (censoring times)
    x, y = time[keep], curve[keep]
    hit = np.flatnonzero(y <= p + _TOL)
    if hit.size == 0:
        return float("nan")
    j = hit[0]
    if abs(y[j] - p) < _TOL:
        return float((x[j] + (x[j + 1] if j + 1 < x.size else tmax)) / 2)
    return float(x[j])


def kaplan_meier(time: np.ndarray, event: np.ndarray) -> KaplanMeier:
    """Kaplan-Meier estimate (ties: events before censorings at the same time, as R)."""
    time = np.asarray(time, dtype=float)
    event = np.asarray(event).astype(bool)
    if time.ndim != 1 or time.shape != event.shape or time.size == 0:
        raise ValueError("time and event must be 1-D arrays of the same, non-zero length")
    if np.any(~np.isfinite(time)) or np.any(time < 0):
        raise ValueError("times must be finite and non-negative")
    uniq, inverse = np.unique(time, return_inverse=True)
    d = np.bincount(inverse, weights=event, minlength=uniq.size)
    total = np.bincount(inverse, minlength=uniq.size)
    n = time.size - np.r_[0, np.cumsum(total)[:-1]]
    with np.errstate(divide="ignore", invalid="ignore"):
        surv = np.cumprod(1.0 - d / n)
        inc = np.where(d > 0, d / (n * (n - d)), 0.0)
    var_log = np.cumsum(inc)
    return KaplanMeier(uniq, n.astype(float), d, surv, var_log)


def km_median_ci_batch(
    time: np.ndarray, event: np.ndarray, transform: Transform = "log"
) -> np.ndarray:
    """Vectorised KM median and Brookmeyer-Crowley CI of many trials without tied times.

    Args:
        time: (trials, n) observed times; event: same shape, 1 = event, 0 = censored.
    Returns:
        (trials, 3) array of (median, lower, upper); NaN where a limit is undefined. Matches
        :meth:`KaplanMeier.median_ci` (checked in the tests) for continuous times.
    """
    time = np.asarray(time, dtype=float)
    order = np.argsort(time, axis=1)
    t = np.take_along_axis(time, order, axis=1)
    d = np.take_along_axis(np.asarray(event, dtype=float), order, axis=1)
    n_trials, n = t.shape
    at_risk = n - np.arange(n, dtype=float)[None, :]
    with np.errstate(divide="ignore", invalid="ignore"):
        surv = np.cumprod(1.0 - d / at_risk, axis=1)
        var_log = np.cumsum(np.where(d > 0, d / (at_risk * (at_risk - d)), 0.0), axis=1)
    lo, hi = pointwise_limits(surv, var_log, transform)
    out = np.empty((n_trials, 3))
    out[:, 0] = _batch_crossing(t, surv, d)
    out[:, 1] = _batch_crossing(t, lo, d)
    out[:, 2] = _batch_crossing(t, hi, d)
    return out


def _batch_crossing(t: np.ndarray, curve: np.ndarray, d: np.ndarray, p: float = 0.5) -> np.ndarray:
    """Row-wise :func:`_first_crossing` (curves only change at events)."""
    reached = curve <= p + _TOL
    any_hit = reached.any(axis=1)
    j = np.argmax(reached, axis=1)
    rows = np.arange(t.shape[0])
    x = t[rows, j]
    exact = np.abs(curve[rows, j] - p) < _TOL
    if exact.any():
        # next time the curve drops: the next event after j (else the last time)
        later = (np.arange(t.shape[1])[None, :] > j[:, None]) & (d > 0)
        has_next = later.any(axis=1)
        nxt = np.where(has_next, t[rows, np.argmax(later, axis=1)], t[:, -1])
        x = np.where(exact, (x + nxt) / 2, x)
    return np.where(any_hit, x, np.nan)


# ---------------------------------------------------------------------------------------------
# Weibull
# ---------------------------------------------------------------------------------------------


def weibull_scale(median: np.ndarray | float, shape: np.ndarray | float) -> np.ndarray:
    """lambda = m / (ln 2)^(1/k) (months)."""
    return np.asarray(median) / np.log(2.0) ** (1.0 / np.asarray(shape))


def weibull_survival(t: np.ndarray | float, median: np.ndarray | float, shape: np.ndarray | float):
    """S(t) = exp(-ln 2 (t/m)^k)."""
    return np.exp(-np.log(2.0) * (np.asarray(t) / np.asarray(median)) ** np.asarray(shape))


def weibull_mle(time: np.ndarray, event: np.ndarray) -> dict[str, float]:
    """Right-censored Weibull maximum likelihood: {shape, scale, median} (months).

    log L = sum_events [log k - log lambda + (k-1) log(t/lambda)] - sum_all (t/lambda)^k.
    """
    time = np.asarray(time, dtype=float)
    event = np.asarray(event, dtype=float)
    log_t = np.log(time)

    def nll(theta: np.ndarray) -> float:
        log_k, log_lam = theta
        k = np.exp(log_k)
        z = (log_t - log_lam) * k
        return -float(
            np.sum(event * (log_k - log_lam + (k - 1) * (log_t - log_lam))) - np.sum(np.exp(z))
        )

    start = np.array([0.0, float(np.log(np.mean(time)))])
    res = optimize.minimize(
        nll, start, method="Nelder-Mead", options={"xatol": 1e-10, "fatol": 1e-12, "maxiter": 5000}
    )
    k, lam = float(np.exp(res.x[0])), float(np.exp(res.x[1]))
    return {"shape": k, "scale": lam, "median": lam * np.log(2.0) ** (1 / k), "loglik": -res.fun}
