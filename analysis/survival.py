r"""Frequentist survival tools: Kaplan-Meier with the Brookmeyer-Crowley CI of the median (as R's
``survfit`` computes it), the CDF levels at which the CI limits cross, Guyot's reconstruction of
patient data from a digitised curve, and the right-censored Weibull maximum-likelihood fit.

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
from pathlib import Path
from typing import Literal

import numpy as np
import pandas as pd
from scipy import optimize, stats

from analysis.constants import INTERVAL_LEVEL
from analysis.errors import InputError

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


def crossing_levels(n: float, transform: Transform, z: float = Z95) -> tuple[float, float, float]:
    """CDF levels F = 1 - S at which the KM curve sits when the CI limits of its median are
    reached, with se(S) = sqrt(S(1-S)/n): ``(F_L, 0.5, F_U)``.

    F_L solves lower_limit(s_L) = 0.5 (s_L > 0.5); F_U solves upper_limit(s_U) = 0.5.
    """

    def var_log(s: float) -> float:
        return (1.0 - s) / (s * n)

    def lower_minus_half(s: float) -> float:
        return float(pointwise_limits(np.array(s), np.array(var_log(s)), transform, z)[0]) - 0.5

    def upper_minus_half(s: float) -> float:
        return float(pointwise_limits(np.array(s), np.array(var_log(s)), transform, z)[1]) - 0.5

    # walk away from 0.5 to the first sign change (the log limits are not monotone near 0 and 1)
    grid = np.linspace(0.5, 1e-6, 2001)
    below = grid[[upper_minus_half(g) < 0 for g in grid]][0]
    s_upper = optimize.brentq(upper_minus_half, below, 0.5, xtol=1e-13)
    grid = np.linspace(0.5, 1 - 1e-9, 2001)
    above = grid[[lower_minus_half(g) > 0 for g in grid]][0]
    s_lower = optimize.brentq(lower_minus_half, 0.5, above, xtol=1e-13)
    return 1.0 - s_lower, 0.5, 1.0 - s_upper


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


# ---------------------------------------------------------------------------------------------
# Guyot reconstruction: reading and cleaning the digitised inputs
# ---------------------------------------------------------------------------------------------

#: Largest rise of a digitised survival value (fraction) that cleaning levels to the previous
#: value. A digitiser reads a curve to about 0.5-1 % of the axis height, so rises of this size
#: are reading noise; a larger rise is a mistake (wrong order, another curve) and stays an error.
RISE_TOLERANCE = 0.02
#: A survival column whose largest value exceeds this is read as percent (a fraction is <= 1).
PERCENT_THRESHOLD = 1.5


@dataclass(frozen=True)
class CurveChange:
    """One change made by :func:`clean_curve`.

    ``row`` is the data row of the CSV (1 = the first row after the header, so file line
    ``row + 1``), or ``None`` for a change to the whole curve.
    """

    row: int | None
    what: str
    before: str
    after: str

    def __str__(self) -> str:
        where = "all rows" if self.row is None else f"row {self.row} (line {self.row + 1})"
        return f"{where}: {self.what}: {self.before} -> {self.after}"


def _numeric_columns(
    table: pd.DataFrame, source: str, columns: tuple[str, str]
) -> tuple[np.ndarray, np.ndarray]:
    """Two named CSV columns as floats (non-numbers become NaN for the callers' checks)."""
    for col in columns:
        if col not in table.columns:
            raise InputError(source, col, f"missing column (need {','.join(columns)})")
    a, b = (pd.to_numeric(table[c], errors="coerce").to_numpy(dtype=float) for c in columns)
    return a, b


def _row_label(index: int) -> str:
    return f"row {index + 1} (line {index + 2})"


def _finite_curve(curve: pd.DataFrame, source: str) -> tuple[np.ndarray, np.ndarray]:
    t, s = _numeric_columns(curve, source, ("time", "survival"))
    if t.size < 2:
        raise InputError(source, "time", "need at least two digitised points")
    for name, values in (("time", t), ("survival", s)):
        bad = np.flatnonzero(~np.isfinite(values))
        if bad.size:
            raise InputError(source, name, f"{_row_label(bad[0])}: non-numeric or missing value")
    return t, s


def clean_curve(
    curve: pd.DataFrame, *, rise_tolerance: float = RISE_TOLERANCE, source: str = "<curve>"
) -> tuple[pd.DataFrame, list[CurveChange]]:
    """Clean a raw digitisation of a KM curve and list every change made.

    Steps, in order: (1) survival in percent (largest value > ``PERCENT_THRESHOLD``) is divided by
    100; (2) survival within ``rise_tolerance`` outside [0, 1] is clipped; (3) negative times are
    set to 0; (4) rows are sorted by time; (5) of rows sharing a time, the lowest survival is kept
    (a vertical step read at several heights; Guyot's algorithm places the whole drop at that
    time either way); (6) a rise above the running minimum of at most ``rise_tolerance`` is set to
    that minimum; (7) the start (0, 1) is added when missing.

    Args:
        curve: columns ``time`` and ``survival`` (fraction or percent), in any order.
        rise_tolerance: largest rise (fraction) levelled; larger rises are errors.
    Returns:
        The cleaned curve (``time``, ``survival``; first row (0, 1)) and the changes, each with
        the data row of ``curve`` it concerns.
    Raises:
        InputError: missing values, survival outside [0, 1] beyond the tolerance, a rise larger
            than the tolerance (naming the row).
    """
    t, s = _finite_curve(curve, source)
    changes: list[CurveChange] = []
    if s.max() > PERCENT_THRESHOLD:
        changes.append(
            CurveChange(None, "survival in percent, divided by 100", f"max {s.max():g}", "fraction")
        )
        s = s / 100.0
    for i in np.flatnonzero((s < -rise_tolerance) | (s > 1 + rise_tolerance)):
        raise InputError(source, "survival", f"{_row_label(i)}: value {s[i]:g} outside [0, 1]")
    for i in np.flatnonzero((s < 0) | (s > 1)):
        after = min(max(s[i], 0.0), 1.0)
        changes.append(CurveChange(i + 1, "survival clipped to [0, 1]", f"{s[i]:g}", f"{after:g}"))
        s[i] = after
    for i in np.flatnonzero(t < 0):
        changes.append(CurveChange(i + 1, "negative time set to 0", f"{t[i]:g}", "0"))
        t[i] = 0.0
    rows = np.lexsort((-s, t))  # by time, then survival from high to low (a vertical step)
    if np.any(rows != np.arange(t.size)):
        changes.append(CurveChange(None, "rows sorted by time", "file order", "time order"))
    t, s = t[rows], s[rows]
    keep = np.r_[t[1:] != t[:-1], True]  # the last, lowest, row of each repeated time
    for j in np.flatnonzero(~keep):
        k = j + np.flatnonzero(keep[j:])[0]
        changes.append(
            CurveChange(
                int(rows[j]) + 1,
                f"repeated time {t[j]:g}: row dropped, kept row {rows[k] + 1}",
                f"survival {s[j]:g}",
                f"survival {s[k]:g}",
            )
        )
    t, s, rows = t[keep], s[keep], rows[keep]
    low = s[0]
    for j in range(1, s.size):
        if s[j] > low:
            if s[j] - low > rise_tolerance + 1e-12:
                raise InputError(
                    source,
                    "survival",
                    f"{_row_label(rows[j])}: survival rises from {low:g} to {s[j]:g} at time"
                    f" {t[j]:g}, more than the cleaning tolerance {rise_tolerance:g}; a KM curve"
                    " never rises (check the digitisation order or the curve)",
                )
            changes.append(CurveChange(int(rows[j]) + 1, "rise levelled", f"{s[j]:g}", f"{low:g}"))
            s[j] = low
        low = s[j]
    if t[0] > 0 or s[0] < 1:
        changes.append(CurveChange(None, "start of the curve added", "missing", "(0, 1)"))
        t, s = np.r_[0.0, t], np.r_[1.0, s]
    return pd.DataFrame({"time": t, "survival": s}), changes


def _validate_curve(curve: pd.DataFrame, source: str) -> tuple[np.ndarray, np.ndarray]:
    """Strict reading (no cleaning): every problem :func:`clean_curve` would fix is an error that
    names the row and points to ``--clean``. Repeated times are accepted when survival does not
    rise in file order (both corners of a step). Returns the curve sorted by time, from (0, 1)."""
    t, s = _finite_curve(curve, source)
    hint = "; rerun with --clean (clean=True) to fix it and list the change"
    if s.max() > PERCENT_THRESHOLD:
        raise InputError(
            source, "survival", f"values up to {s.max():g} look like percent (give fractions){hint}"
        )
    bad = np.flatnonzero((s < 0) | (s > 1))
    if bad.size:
        i = bad[0]
        fix = hint if abs(s[i] - np.clip(s[i], 0, 1)) <= RISE_TOLERANCE else ""
        raise InputError(
            source, "survival", f"{_row_label(i)}: value {s[i]:g} outside [0, 1] (fractions){fix}"
        )
    neg = np.flatnonzero(t < 0)
    if neg.size:
        raise InputError(source, "time", f"{_row_label(neg[0])}: negative time {t[neg[0]]:g}{hint}")
    order = np.argsort(t, kind="stable")
    t, s = t[order], s[order]
    rises = np.flatnonzero(np.diff(s) > 0)
    if rises.size:
        j = rises[0] + 1
        fix = hint if s[j] - s[j - 1] <= RISE_TOLERANCE + 1e-12 else " (check the digitisation)"
        raise InputError(
            source,
            "survival",
            f"{_row_label(order[j])}: survival rises from {s[j - 1]:g} to {s[j]:g} at time"
            f" {t[j]:g}; a KM curve never rises{fix}",
        )
    if t[0] > 0 or s[0] < 1:
        t, s = np.r_[0.0, t], np.r_[1.0, s]
    return t, s


def _validate_at_risk(at_risk: pd.DataFrame, source: str) -> tuple[np.ndarray, np.ndarray]:
    t, n = _numeric_columns(at_risk, source, ("time", "n_at_risk"))
    if t.size < 1 or np.any(~np.isfinite(t)):
        raise InputError(source, "time", "need at least one numeric time")
    if np.any(~np.isfinite(n)) or np.any(n < 0) or np.any(n != np.round(n)):
        raise InputError(source, "n_at_risk", "counts must be non-negative whole numbers")
    if np.any(t < 0):
        raise InputError(source, "time", f"negative time {t[t < 0][0]:g}")
    if np.any(np.diff(t) <= 0):
        raise InputError(source, "time", "times must be strictly increasing")
    if np.any(np.diff(n) > 0):
        i = int(np.flatnonzero(np.diff(n) > 0)[0])
        raise InputError(
            source,
            "n_at_risk",
            f"number at risk rises from {n[i]:.0f} to {n[i + 1]:.0f} at time {t[i + 1]:g}",
        )
    if t[0] != 0:
        raise InputError(source, "time", "the first number at risk must be at time 0")
    if n[0] < 1:
        raise InputError(source, "n_at_risk", "nobody at risk at time 0")
    return t, n.astype(int)


def read_curve_files(curve_csv: Path, at_risk_csv: Path) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The digitised curve and the numbers at risk as read from their CSV files.

    Raises :class:`InputError` naming the file for a missing or unreadable file.
    """
    frames = []
    for path in (Path(curve_csv), Path(at_risk_csv)):
        try:
            frames.append(pd.read_csv(path))
        except (
            OSError,
            pd.errors.ParserError,
            pd.errors.EmptyDataError,
            UnicodeDecodeError,
        ) as exc:
            raise InputError(path, "<file>", f"cannot read the CSV ({exc})") from exc
    return frames[0], frames[1]


# ---------------------------------------------------------------------------------------------
# Guyot reconstruction: the algorithm
# ---------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class KMReconstruction:
    """Pseudo patient data reconstructed from a digitised curve, with the checks made.

    Attributes:
        ipd: ``time, event`` (1 = event, 0 = censored), one row per patient, sorted by time;
            events at time 0 (a curve starting below 1) are kept at time 0.
        changes: what :func:`clean_curve` changed (empty without cleaning).
        at_risk: per published time used: ``time, published, reconstructed, difference``
            (reconstructed = patients with time >= the published time; difference =
            reconstructed - published).
        events: reconstructed number of events.
        total_events: the published total, if given.
        warnings: every gap between the reconstruction and the published numbers, and notes
            (events at time 0, at-risk times beyond the curve), in words.
    """

    ipd: pd.DataFrame
    changes: tuple[CurveChange, ...]
    at_risk: pd.DataFrame
    events: int
    total_events: int | None
    warnings: tuple[str, ...]


def _run_interval(
    t_pts: np.ndarray,
    s_pts: np.ndarray,
    start: float,
    end: float,
    n_start: int,
    ncen: int,
    km_last: float,
) -> tuple[np.ndarray, np.ndarray, float, int]:
    """Events at the digitised points of one at-risk interval given ``ncen`` censorings.

    The censorings are spread evenly over (start, end) (Guyot et al. 2012, step 3); a patient
    censored at an event time is still at risk at it. The events at point k are
    round(n_k (1 - S_k / KM_last)), with KM_last the reconstructed KM at the last event (step 4).
    Returns (events per point, censoring times, KM after the interval, number at risk at end).
    """
    cen_times = start + np.arange(1, ncen + 1) * (end - start) / (ncen + 1)
    d = np.zeros(t_pts.size, dtype=int)
    removed = 0
    for k in range(t_pts.size):
        n_k = n_start - removed - int(np.searchsorted(cen_times, t_pts[k], side="left"))
        if n_k <= 0 or km_last <= 0:
            continue
        d[k] = int(min(max(round(n_k * (1.0 - s_pts[k] / km_last)), 0), n_k))
        if d[k]:
            km_last *= 1.0 - d[k] / n_k
            removed += d[k]
    return d, cen_times, km_last, n_start - removed - ncen


def _fit_interval(
    t_pts: np.ndarray,
    s_pts: np.ndarray,
    start: float,
    end: float,
    n_start: int,
    km_last: float,
    score: _Target,
) -> tuple[np.ndarray, np.ndarray, float, int]:
    """The censoring count of one interval: the first count in 0..n_start that Guyot's update
    rule (from 0 censorings) finds hitting the target exactly; if the rule cycles without a hit,
    the count minimising ``score(events, n_end)`` over a full scan (ties: fewest censorings).
    A count leaving fewer than 0 patients at risk is never chosen."""

    def key(res: tuple, ncen: int) -> tuple[float, int]:
        bad = res[3] < 0
        return (np.inf if bad else score(int(res[0].sum()), res[3]), ncen)

    best: tuple | None = None
    seen: set[int] = set()
    ncen = 0
    while ncen not in seen:
        seen.add(ncen)
        res = _run_interval(t_pts, s_pts, start, end, n_start, ncen, km_last)
        this = key(res, ncen)
        if best is None or this < best[0]:
            best = (this, res)
        if this[0] == 0:
            return res
        step = int(score.step(int(res[0].sum()), res[3]))
        ncen = int(min(max(ncen + step, 0), n_start))
    for ncen in range(n_start + 1):
        if ncen in seen:
            continue
        res = _run_interval(t_pts, s_pts, start, end, n_start, ncen, km_last)
        this = key(res, ncen)
        if this < best[0]:
            best = (this, res)
    return best[1]


class _Target:
    """Score of an interval's censoring count: distance to a target number at risk at its end
    (earlier intervals) or to a target number of events (the last one, when published)."""

    def __init__(self, n_end: int | None = None, events: int | None = None) -> None:
        self.n_end, self.events = n_end, events

    def __call__(self, events: int, n_end: int) -> int:
        return abs(n_end - self.n_end) if self.n_end is not None else abs(events - self.events)

    def step(self, events: int, n_end: int) -> int:
        """Guyot's update: censor the excess at risk, or fewer patients when too few events."""
        return n_end - self.n_end if self.n_end is not None else self.events - events


def _guyot(
    t_s: np.ndarray,
    s: np.ndarray,
    t_r: np.ndarray,
    n_r: np.ndarray,
    total_events: int | None,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Guyot et al. (2012) on a curve starting at (0, 1) and at-risk rows within the curve.

    Differences from the published algorithm, each so that no patient is lost: the first point
    is not forced to have no events (a curve that starts below 1 has events at time 0); an
    at-risk interval without a digitised point has no events (the curve is flat there) and
    censors the difference to the next published number; every interval starts from the number
    the previous one ended with, so the patients add up to the first number at risk; censorings
    are spread over the at-risk interval itself (the published algorithm uses the first
    digitised times of the intervals). Returns (events per curve point, censoring times,
    number at risk reconstructed at the start of each interval).
    """
    n_int = t_r.size
    lower = np.searchsorted(t_s, t_r, side="left")
    upper = np.r_[lower[1:], t_s.size]  # exclusive
    d = np.zeros(t_s.size, dtype=int)
    cen: list[np.ndarray] = []
    n_start = int(n_r[0])
    starts = np.zeros(n_int, dtype=int)
    km_last = 1.0
    censored_before_last = 0
    for i in range(n_int):
        starts[i] = n_start
        pts = slice(lower[i], upper[i])
        if i < n_int - 1:
            start, end = float(t_r[i]), float(t_r[i + 1])
            target = _Target(n_end=int(n_r[i + 1]))
        else:
            start, end = float(t_r[i]), float(t_s[-1])
            if total_events is not None:
                target = _Target(events=int(total_events - d[: lower[i]].sum()))
            else:
                target = None
        if target is None:
            # no published total: the censoring rate of the earlier intervals continues
            span = float(t_r[-1] - t_r[0])
            rate = censored_before_last / span if span > 0 else 0.0
            ncen = int(min(round(rate * (end - start)), n_start))
            res = _run_interval(t_s[pts], s[pts], start, end, n_start, ncen, km_last)
            while res[3] < 0 and ncen > 0:  # never censor more patients than remain at risk
                ncen = max(ncen + res[3], 0)
                res = _run_interval(t_s[pts], s[pts], start, end, n_start, ncen, km_last)
        else:
            res = _fit_interval(t_s[pts], s[pts], start, end, n_start, km_last, target)
        d[pts], cen_times, km_last, n_start = res
        cen.append(cen_times)
        if i < n_int - 1:
            censored_before_last += cen_times.size
    return d, np.concatenate(cen) if cen else np.array([]), starts


def reconstruct_curve(
    curve: pd.DataFrame,
    at_risk: pd.DataFrame,
    total_events: int | None = None,
    *,
    clean: bool = False,
    rise_tolerance: float = RISE_TOLERANCE,
    source: str = "<curve>",
    at_risk_source: str = "<at_risk>",
) -> KMReconstruction:
    """Pseudo patient data from a digitised KM curve (Guyot et al., BMC Med Res Methodol 2012),
    keeping every patient of the first number at risk, with the checks against the table.

    Args:
        curve: columns ``time`` and ``survival`` read off the figure (fractions; with ``clean``
            also percent, negative times, repeated times and small rises, see
            :func:`clean_curve`).
        at_risk: columns ``time`` and ``n_at_risk`` as printed under the figure; first time 0.
        total_events: total number of events if published (fixes the censoring of the last
            interval); otherwise the last interval's censoring rate is that of the earlier ones.
        clean: clean the curve first and return the list of changes; without it, every problem
            cleaning would fix is an :class:`InputError` naming the row.
    Returns:
        :class:`KMReconstruction`: the data, the changes, the numbers at risk reconstructed at
        each published time against the table, and warnings where they (or the published total
        of events) differ.
    Raises:
        InputError: invalid curve or table (names the file, the column and the row).
    """
    if clean:
        cleaned, changes = clean_curve(curve, rise_tolerance=rise_tolerance, source=source)
        t_s, s = cleaned["time"].to_numpy(float), cleaned["survival"].to_numpy(float)
    else:
        t_s, s = _validate_curve(curve, source)
        changes = []
    t_r_all, n_r_all = _validate_at_risk(at_risk, at_risk_source)
    if total_events is not None and not 0 <= total_events <= n_r_all[0]:
        raise InputError(
            "total_events", "total_events", f"{total_events} not in 0..{n_r_all[0]} (at risk)"
        )
    warnings: list[str] = []
    inside = t_r_all <= t_s[-1]
    if not inside.all():
        late = ", ".join(f"{x:g}" for x in t_r_all[~inside])
        warnings.append(
            f"at-risk times after the last digitised time {t_s[-1]:g} are not used: {late}"
        )
    t_r, n_r = t_r_all[inside], n_r_all[inside]
    d, cen_times, _ = _guyot(t_s, s, t_r, n_r, total_events)
    n_total = int(n_r[0])
    remaining = n_total - int(d.sum()) - cen_times.size
    times = np.concatenate([np.repeat(t_s, d), cen_times, np.full(remaining, t_s[-1])])
    events = np.r_[np.ones(int(d.sum()), dtype=int), np.zeros(cen_times.size + remaining, int)]
    ipd = pd.DataFrame({"time": times, "event": events})
    ipd = ipd.sort_values(["time", "event"], ascending=[True, False], kind="stable")
    ipd = ipd.reset_index(drop=True)
    at_time0 = int(d[t_s == 0].sum())
    if at_time0:
        warnings.append(
            f"the curve starts at {s[t_s == 0].min():g}, not 1: {at_time0} events at time 0"
        )
    rec = np.array([int(np.sum(times >= x)) for x in t_r])
    table = pd.DataFrame(
        {"time": t_r, "published": n_r, "reconstructed": rec, "difference": rec - n_r}
    )
    for row in table[table["difference"] != 0].itertuples():
        warnings.append(
            f"at time {row.time:g}: {row.reconstructed} at risk reconstructed, {row.published}"
            f" published (difference {row.difference:+d})"
        )
    n_events = int(d.sum())
    if total_events is not None and n_events != total_events:
        warnings.append(
            f"{n_events} events reconstructed, {total_events} published"
            f" (difference {n_events - total_events:+d})"
        )
    return KMReconstruction(ipd, tuple(changes), table, n_events, total_events, tuple(warnings))


def reconstruct_km(
    curve: pd.DataFrame,
    at_risk: pd.DataFrame,
    total_events: int | None = None,
    *,
    clean: bool = False,
    source: str = "<curve>",
    at_risk_source: str = "<at_risk>",
) -> pd.DataFrame:
    """The pseudo patient data (``time, event``) of :func:`reconstruct_curve`, alone."""
    return reconstruct_curve(
        curve,
        at_risk,
        total_events,
        clean=clean,
        source=source,
        at_risk_source=at_risk_source,
    ).ipd


def reconstruct_curve_files(
    curve_csv: Path,
    at_risk_csv: Path,
    out_csv: Path,
    total_events: int | None = None,
    *,
    clean: bool = False,
) -> KMReconstruction:
    """Read the digitised curve and numbers at risk (CSV), write ``time,event`` to ``out_csv``.

    Returns the :class:`KMReconstruction` (changes, at-risk comparison, warnings). Raises
    :class:`InputError` naming the file, column and row for unreadable files or invalid values;
    nothing is written then.
    """
    if total_events is not None and total_events < 0:
        raise InputError("--total-events", "total_events", "must be a non-negative integer")
    curve, at_risk = read_curve_files(curve_csv, at_risk_csv)
    result = reconstruct_curve(
        curve,
        at_risk,
        total_events,
        clean=clean,
        source=str(curve_csv),
        at_risk_source=str(at_risk_csv),
    )
    out_csv = Path(out_csv)
    out_csv.parent.mkdir(parents=True, exist_ok=True)
    result.ipd.to_csv(out_csv, index=False)
    return result


def reconstruct_km_files(
    curve_csv: Path, at_risk_csv: Path, out_csv: Path, total_events: int | None = None
) -> int:
    """:func:`reconstruct_curve_files` without cleaning; returns the number of patients written."""
    return len(reconstruct_curve_files(curve_csv, at_risk_csv, out_csv, total_events).ipd)
