r"""Exact posterior summaries of the Weibull summary model by 2-D quadrature (no sampling).

The summary model of :mod:`models.time_to_event` has two parameters, the median m and the shape
k, with independent lognormal priors, so its posterior is a 2-D integral. It is integrated on a
grid in the model's own sampling coordinates, :math:`v = \log k` and the median offset
:math:`w = k (\log m - \log c)`, c the printed reference time (:func:`reference_time`): the
printed times pin :math:`\log m` to a spread shrinking as 1/k, while w is pinned alone. The
target, up to a constant, is

.. math::
    \log p(w, v) = \log N(\log m; \mu_m, \sigma_m) + \log N(v; \mu_k, \sigma_k)
                   + \ell(m, k) - v,

with :math:`\ell` the model's own summary + landmark log likelihood
(:func:`models.time_to_event.summary_loglik`, the very graph the sampler uses) and
:math:`-v = \log |\partial \log m / \partial w|` the Jacobian.

**Grid and bounds** (the statistical assumption, checked every time): a uniform product grid in
(w, v); if its checks fail, the same in (log m - log c, v) (:data:`COORDINATES`: when the prior,
not the printed numbers, pins the median, e.g. a median not reached, w's spread shrinks with k).
It starts at the posterior mode +- 8 Laplace sds per axis; a side whose boundary line
holds more than ``edge_tol`` (1e-9) of the mass is widened by half the width, and bounds far
wider than the mass (no grid point beyond a line of density below e^-40 of the peak) are
trimmed, for a few rounds. Then the grid is refined (twice the points per axis) until no summary
changes by more than ``rel_tol`` (1e-5) relative. If either check still fails after its rounds,
:class:`QuadratureError` says which.

**Summaries** (the keys of the MCMC summary, :func:`analysis.endpoints.time_to_event.
posterior_summary`): means by the trapezoid rule (spectrally accurate for a smooth density whose
tails vanish at the bounds); quantiles from the exact CDF, computed per grid row v: every
quantity reported is monotone in w given v (m increasing; S(t) decreasing, as
:math:`S(t) \le s \iff w \le k (\log t - \log c) - \log(-\log s / \ln 2)`), so
:math:`P(Q \le q) = \sum_v \int_{-\infty}^{W_v(q)} p(w, v)\,dw`, the inner integral from the
antiderivative of a cubic spline through the row (error O(h^4)), the outer sum by the trapezoid
rule; quantiles by root finding. The shape's quantiles and P(k > 1) come from the marginal of v
the same way.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
from scipy import optimize
from scipy.interpolate import CubicSpline, PPoly

from trial_reanalysis.analysis.constants import INTERVAL_TAILS
from trial_reanalysis.analysis.errors import QuadratureError
from trial_reanalysis.models.priors import PriorScenario
from trial_reanalysis.models.time_to_event import LN2, summary_loglik

__all__ = ["QuadratureError", "weibull_posterior_by_quadrature"]

#: Largest share of the posterior mass the grid's boundary lines may hold.
EDGE_TOL = 1e-9
#: Largest relative change of any summary when the grid is refined (twice the points per axis).
REL_TOL = 1e-5
#: The coordinates tried in turn, as the power gamma of w = k^gamma (log m - log c): the model's
#: offset first (the printed times pin it), then log m itself (when the prior pins the median
#: better than the printed numbers do, e.g. a median not reached: the offset's spread then
#: shrinks with k, a funnel).
COORDINATES = (1.0, 0.0)
#: Points per axis of the first grid (odd).
START_POINTS = 81
#: Rounds of the mode's grid search (each shrinks the grid 2.5-fold).
MODE_ROUNDS = 8
#: Laplace sds per side of the first bounds.
START_SDS = 8.0
#: Rounds of widening / trimming the bounds, and of refining the grid.
BOUND_ROUNDS = 8
REFINE_ROUNDS = 4
#: Bounds are trimmed to the lines where the density exceeds exp(-TRIM_LOG) of its peak.
TRIM_LOG = 40.0
#: Absolute floor of the relative-change check (a probability near 0 compares absolutely).
ABS_FLOOR = 1e-8


def _normal_logpdf(x: np.ndarray, mu: float, sd: float) -> np.ndarray:
    return -0.5 * ((x - mu) / sd) ** 2 - np.log(sd) - 0.5 * np.log(2 * np.pi)


@dataclass(frozen=True)
class _Target:
    """The log posterior density in (w, v) of one scenario and prior (unnormalised)."""

    pattern: str
    data: Mapping[str, Any]
    landmarks: Mapping[str, Any] | None
    prior: Mapping[str, float]
    log_c: float
    #: the offset's power of k: w = k^gamma (log m - log c) (1: the model's offset, 0: log m)
    gamma: float = 1.0

    def log_median(self, w: np.ndarray, v: np.ndarray) -> np.ndarray:
        return self.log_c + w * np.exp(-self.gamma * v)

    def __call__(self, w: np.ndarray, v: np.ndarray) -> np.ndarray:
        w, v = np.broadcast_arrays(np.asarray(w, float), np.asarray(v, float))
        k = np.exp(v)
        log_m = self.log_median(w, v)
        with np.errstate(over="ignore", invalid="ignore", divide="ignore"):
            ll = summary_loglik(np.exp(log_m), k, self.data, self.pattern, self.landmarks)
            p = self.prior
            lp = (
                _normal_logpdf(log_m, p["log_median_mu"], p["log_median_sd"])
                + _normal_logpdf(v, p["log_shape_mu"], p["log_shape_sd"])
                - self.gamma * v
                + ll
            )
        return np.where(np.isfinite(lp), lp, -np.inf)


def weibull_posterior_by_quadrature(
    pattern: str,
    data: Mapping[str, Any],
    landmarks: Mapping[str, Any] | None,
    prior: PriorScenario,
    times: Sequence[float],
    *,
    reference: float,
    edge_tol: float = EDGE_TOL,
    rel_tol: float = REL_TOL,
) -> dict[str, Any]:
    """The posterior summary of (median, shape) of the summary model by 2-D quadrature.

    Args:
        pattern, data, landmarks: as :func:`models.time_to_event.summary_loglik` takes them
            (``landmarks`` None: no landmark term).
        prior: a lognormal time-to-event prior (log_median_mu/sd, log_shape_mu/sd; the median's in
            the endpoint's unit).
        times: times (endpoint unit) of the survival summaries.
        reference: the reference time c of the offset w (endpoint unit), as the model uses it.

    Returns:
        ``median`` and ``shape`` {mean, median, ci95}; ``survival_at``: one {mean, ci95} per time
        (in ``times`` order); ``p_shape_above_1``; ``sd_log_shape``; ``grid``: the quadrature
        record (points per axis, bounds in (w, log k), mass on the boundary lines, largest
        relative change on refinement, tolerances).

    Raises:
        QuadratureError: the edge mass or the refinement check still fails after its rounds.
    """
    failures = []
    for gamma in COORDINATES:
        target = _Target(
            pattern, data, landmarks, dict(prior.parameters), float(np.log(reference)), gamma
        )
        try:
            out = _integrate(target, prior, times, edge_tol, rel_tol)
        except QuadratureError as exc:
            failures.append(f"{_coordinates_text(gamma)}: {exc}")
            continue
        out["grid"] = {
            "method": "quadrature",
            "coordinates": _coordinates_text(gamma),
            "reference_time": float(reference),
            **out["grid"],
        }
        return out
    raise QuadratureError("; ".join(failures))


def _coordinates_text(gamma: float) -> str:
    if gamma == 1.0:
        return "w = k (log median - log c), log k; c = reference time"
    if gamma == 0.0:
        return "w = log median - log c, log k; c = reference time"
    return f"w = k^{gamma:g} (log median - log c), log k; c = reference time"


def _integrate(
    target: _Target, prior: PriorScenario, times: Sequence[float], edge_tol: float, rel_tol: float
) -> dict[str, Any]:
    """The summaries on grids in one set of coordinates, with both checks (or QuadratureError)."""
    bounds = _start_bounds(target, prior)
    n = START_POINTS
    bounds, edge = _settle_bounds(target, bounds, n, edge_tol)
    coarse = _summarise(target, bounds, n, times)
    for _ in range(REFINE_ROUNDS):
        fine_n = 2 * n - 1
        fine = _summarise(target, bounds, fine_n, times)
        change = _max_relative_change(coarse, fine)
        if change <= rel_tol and fine["_edge"] <= edge_tol:
            out = {k: v for k, v in fine.items() if not k.startswith("_")}
            out["grid"] = {
                "points": [fine_n, fine_n],
                "bounds_w": [float(bounds[0]), float(bounds[1])],
                "bounds_log_shape": [float(bounds[2]), float(bounds[3])],
                "edge_mass": float(fine["_edge"]),
                "refinement_max_relative_change": float(change),
                "edge_tol": edge_tol,
                "rel_tol": rel_tol,
            }
            return out
        coarse, n = fine, fine_n
    raise QuadratureError(
        f"the quadrature grid did not converge: refining to {n} points per axis still changed a "
        f"summary by {change:.2g} relative (tolerance {rel_tol:g}; edge mass {edge:.2g})"
    )


# ---------------------------------------------------------------------------------------------
# bounds
# ---------------------------------------------------------------------------------------------


def _start_bounds(target: _Target, prior: PriorScenario) -> np.ndarray:
    """(w_lo, w_hi, v_lo, v_hi): the mode +- START_SDS Laplace sds (prior sds if the Hessian
    is not positive definite)."""
    mu_k, sd_k = prior.parameters["log_shape_mu"], prior.parameters["log_shape_sd"]

    def neg(x: np.ndarray) -> float:
        val = float(target(x[0], x[1]))
        return -val if np.isfinite(val) else 1e300

    mode = _rough_mode(target, np.array([0.0, mu_k]), np.array([4.0, 4.0 * sd_k]))
    sd = _laplace_sd(neg, mode)
    if sd is None:
        spread = np.exp(target.gamma * mode[1]) * prior.parameters["log_median_sd"]
        sd = np.array([max(1.0, spread), sd_k])
    return np.array(
        [
            mode[0] - START_SDS * sd[0],
            mode[0] + START_SDS * sd[0],
            mode[1] - START_SDS * sd[1],
            mode[1] + START_SDS * sd[1],
        ]
    )


def _rough_mode(target: _Target, centre: np.ndarray, span: np.ndarray) -> np.ndarray:
    """The posterior mode to about 1e-3 of ``span``: the best point of an 11 x 11 grid of
    centre +- span, re-centred there and shrunk (kept where the best point is on an edge).
    Only a rough mode is needed: the bounds it starts are then checked and adapted."""
    g = np.linspace(-1.0, 1.0, 11)
    centre, span = centre.astype(float).copy(), span.astype(float).copy()
    for _ in range(MODE_ROUNDS):
        w, v = centre[0] + span[0] * g, centre[1] + span[1] * g
        lp = target(w[None, :], v[:, None])
        if not np.isfinite(lp.max()):
            span *= 2.0
            continue
        j, i = np.unravel_index(int(np.argmax(lp)), lp.shape)
        centre = np.array([w[i], v[j]])
        span *= np.where([i in (0, g.size - 1), j in (0, g.size - 1)], 1.0, 0.4)
    return centre


def _laplace_sd(neg: Callable[[np.ndarray], float], mode: np.ndarray) -> np.ndarray | None:
    """Marginal sds of the Laplace approximation at ``mode`` (central differences), or None."""
    h = 1e-3
    hess = np.empty((2, 2))
    f0 = neg(mode)
    for i in range(2):
        for j in range(2):
            ei, ej = np.eye(2)[i] * h, np.eye(2)[j] * h
            if i == j:
                hess[i, i] = (neg(mode + ei) - 2 * f0 + neg(mode - ei)) / h**2
            else:
                hess[i, j] = (
                    neg(mode + ei + ej)
                    - neg(mode + ei - ej)
                    - neg(mode - ei + ej)
                    + neg(mode - ei - ej)
                ) / (4 * h**2)
    if not np.all(np.isfinite(hess)) or np.linalg.det(hess) <= 0 or hess[0, 0] <= 0:
        return None
    return np.sqrt(np.diag(np.linalg.inv(hess)))


def _grid(bounds: np.ndarray, n: int) -> tuple[np.ndarray, np.ndarray]:
    return np.linspace(bounds[0], bounds[1], n), np.linspace(bounds[2], bounds[3], n)


def _edge_shares(rel: np.ndarray) -> np.ndarray:
    """Share of the grid's mass on each boundary line: w low, w high, v low, v high (rows v)."""
    total = rel.sum()
    return np.array([rel[:, 0].sum(), rel[:, -1].sum(), rel[0].sum(), rel[-1].sum()]) / total


def _settle_bounds(
    target: _Target, bounds: np.ndarray, n: int, edge_tol: float
) -> tuple[np.ndarray, float]:
    """Widen the sides holding more than ``edge_tol`` of the mass, trim those far beyond it."""
    bounds = bounds.astype(float).copy()
    for _ in range(BOUND_ROUNDS):
        w, v = _grid(bounds, n)
        lp = target(w[None, :], v[:, None])
        peak = lp.max()
        if not np.isfinite(peak):
            raise QuadratureError("the posterior density is zero on the whole quadrature grid")
        rel = np.exp(lp - peak)
        edges = _edge_shares(rel)
        if np.any(edges > edge_tol):
            width = np.array([bounds[1] - bounds[0]] * 2 + [bounds[3] - bounds[2]] * 2)
            step = 0.5 * width * (edges > edge_tol)
            bounds += step * np.array([-1, 1, -1, 1])
            continue
        keep = lp - peak > -TRIM_LOG
        cols = np.flatnonzero(keep.any(axis=0))
        rows = np.flatnonzero(keep.any(axis=1))
        i0, i1 = max(cols[0] - 2, 0), min(cols[-1] + 2, n - 1)
        j0, j1 = max(rows[0] - 2, 0), min(rows[-1] + 2, n - 1)
        if (i1 - i0) < 0.6 * (n - 1) or (j1 - j0) < 0.6 * (n - 1):
            bounds = np.array([w[i0], w[i1], v[j0], v[j1]])
            continue
        return bounds, float(edges.sum())
    raise QuadratureError(
        f"the quadrature bounds did not settle in {BOUND_ROUNDS} rounds: the posterior mass on "
        f"the grid's edges stays above {edge_tol:g} (bounds w {bounds[:2]}, log k {bounds[2:]})"
    )


# ---------------------------------------------------------------------------------------------
# summaries
# ---------------------------------------------------------------------------------------------


def _trapezoid(n: int, h: float) -> np.ndarray:
    t = np.full(n, h)
    t[[0, -1]] = h / 2
    return t


def _eval_columns(pp: PPoly, x: np.ndarray) -> np.ndarray:
    """Column j of a vector-valued piecewise polynomial at its own point x[j]."""
    brk = pp.x
    idx = np.clip(np.searchsorted(brk, x, side="right") - 1, 0, brk.size - 2)
    dx = np.clip(x, brk[0], brk[-1]) - brk[idx]
    cols = np.arange(x.size)
    out = np.zeros(x.size)
    for c in pp.c:  # highest power first (Horner)
        out = out * dx + c[idx, cols]
    return out


def _quantile(cdf: Callable[[float], float], p: float, lo: float, hi: float) -> float:
    """The x in [lo, hi] with cdf(x) = p (cdf increasing)."""
    return float(optimize.brentq(lambda x: cdf(x) - p, lo, hi, xtol=1e-11, rtol=1e-11))


def _summarise(
    target: _Target, bounds: np.ndarray, n: int, times: Sequence[float]
) -> dict[str, Any]:
    """Every reported summary on an n x n grid (see the module docstring)."""
    w, v = _grid(bounds, n)
    lp = target(w[None, :], v[:, None])
    rel = np.exp(lp - lp.max())  # rows v, columns w
    tw, tv = _trapezoid(n, w[1] - w[0]), _trapezoid(n, v[1] - v[0])
    weights = rel * tv[:, None] * tw[None, :]
    weights /= weights.sum()
    k = np.exp(v)
    # where the density underflows to 0, the median may overflow: it carries no weight there
    log_m = np.where(weights > 0, target.log_median(w[None, :], v[:, None]), 0.0)
    m = np.exp(log_m)
    # per row: the antiderivative in w of a cubic spline through the density
    rows = CubicSpline(w, rel.T, axis=0).antiderivative()
    row_total = _eval_columns(rows, np.full(n, w[-1]))
    z = float(np.sum(tv * row_total))

    def cdf_rows(thresholds: np.ndarray) -> float:
        """P(w <= thresholds[v]) summed over the rows."""
        return float(np.sum(tv * _eval_columns(rows, np.clip(thresholds, w[0], w[-1])))) / z

    # the marginal of v from the row integrals
    marg = CubicSpline(v, row_total).antiderivative()
    marg_total = float(marg(v[-1]))

    def cdf_v(x: float) -> float:
        return float(marg(x)) / marg_total

    out: dict[str, Any] = {}
    kg = k**target.gamma  # w = kg (log m - log c)
    log_m_lo = float(np.min(target.log_median(w[0], v)))
    log_m_hi = float(np.max(target.log_median(w[-1], v)))

    def cdf_log_m(x: float) -> float:
        return cdf_rows(kg * (x - target.log_c))

    q_m = [np.exp(_quantile(cdf_log_m, p, log_m_lo, log_m_hi)) for p in (0.5, *INTERVAL_TAILS)]
    out["median"] = {
        "mean": float(np.sum(weights * m)),
        "median": float(q_m[0]),
        "ci95": [float(q_m[1]), float(q_m[2])],
    }
    q_v = [_quantile(cdf_v, p, v[0], v[-1]) for p in (0.5, *INTERVAL_TAILS)]
    out["shape"] = {
        "mean": float(np.sum(weights.sum(axis=1) * k)),
        "median": float(np.exp(q_v[0])),
        "ci95": [float(np.exp(q_v[1])), float(np.exp(q_v[2]))],
    }
    survival = []
    for t in times:
        log_t = float(np.log(t))
        with np.errstate(over="ignore"):
            s = np.exp(-LN2 * np.exp(k[:, None] * (log_t - log_m)))
        # P(S(t) <= s(L)), L = log(-log s / ln 2): rows w <= a - b L; decreasing in L
        a, b = kg * (log_t - target.log_c), kg / k
        span = (float(np.min((a - w[-1]) / b)) - 1.0, float(np.max((a - w[0]) / b)) + 1.0)
        q_l = [
            _quantile(lambda x, a=a, b=b: -cdf_rows(a - b * x), -p, *span) for p in INTERVAL_TAILS
        ]
        lo_hi = [float(np.exp(-LN2 * np.exp(x))) for x in q_l]
        survival.append({"mean": float(np.sum(weights * s)), "ci95": lo_hi})
    out["survival_at"] = survival
    out["p_shape_above_1"] = float(1.0 - cdf_v(0.0)) if v[0] < 0.0 < v[-1] else float(v[0] >= 0.0)
    wv = weights.sum(axis=1)
    mean_v = float(np.sum(wv * v))
    out["sd_log_shape"] = float(np.sqrt(max(np.sum(wv * (v - mean_v) ** 2), 0.0)))
    out["_edge"] = float(_edge_shares(rel).sum())
    return out


def _numbers(summary: Mapping[str, Any]) -> list[float]:
    """Every reported number of a summary, flattened in a fixed order."""
    out = []
    for key in ("median", "shape"):
        out += [summary[key]["mean"], summary[key]["median"], *summary[key]["ci95"]]
    for s in summary["survival_at"]:
        out += [s["mean"], *s["ci95"]]
    return [*out, summary["p_shape_above_1"], summary["sd_log_shape"]]


def _max_relative_change(a: Mapping[str, Any], b: Mapping[str, Any]) -> float:
    x, y = np.array(_numbers(a)), np.array(_numbers(b))
    scale = np.maximum(np.maximum(np.abs(x), np.abs(y)), ABS_FLOOR)
    return float(np.max(np.abs(x - y) / scale))
