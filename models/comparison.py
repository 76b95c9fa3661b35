r"""Events compared between two named groups: a coarsened-data likelihood for printed P values.

A grouping splits the trial's patients into an exposed group (the odds ratio's numerator; e.g.
prior bevacizumab, a higher dose) and a reference group (e.g. prior sunitinib). For event j, with
``alpha_j`` the reference group's log-odds and ``beta_j`` the log odds ratio::

    logit pi_reference = alpha_j,   logit pi_exposed = alpha_j + beta_j,   OR_j = exp(beta_j)

A paper often publishes only a two-sided P value as printed ("= .03", "< .001", "NS") and a
direction. That report is coarsened data: with split prior weights w_s over group sizes
(n_exp_s, n_ref_s) and [low, high) the interval the printed P stands for,

.. math::

    P(\text{report}_j \mid \alpha_j, \beta_j) = \sum_s w_s \sum_{a, c}
        \text{Bin}(a \mid n_{exp,s}, \pi_{exp}) \, \text{Bin}(c \mid n_{ref,s}, \pi_{ref}) \,
        1[\text{low} \le P(a, c) < \text{high}, \text{direction of } (a, c) \text{ as reported}]

(DESIGN.md sections 4.3, 4.4). Without a published direction (e.g. "NS" alone) the indicator
ignores the direction. Published counts restrict the sum to the tables holding them; published
counts with both group sizes are one table, the plain two-binomial likelihood.

The indicator is non-zero on few cells, so the sum is stored sparsely: each report is the list of
its compatible cells (split, a, c) with the log of
w_s C(n_exp, a) C(n_ref, c), and the likelihood is a ``logsumexp`` over those cells of

    log w + a log pi_exp + (n_exp - a) log(1 - pi_exp) + c log pi_ref + (n_ref - c) log(1 - pi_ref)

with ``log pi = -softplus(-eta)`` (stable for any eta).

The baseline log-odds alpha_j ~ Normal(mu, sigma) is integrated out by quadrature (the
trapezoid rule on 41 nodes over mu +/- 5 sigma) rather than sampled: both low-rate and high-rate
tables reproduce a P value, so its posterior is often multimodal and NUTS failed the R-hat and
ESS gates on it (fit "fisher, uniform 18-30": bulk ESS 220, R-hat 1.011). The integrand is smooth
and vanishes at both ends, where the trapezoid rule converges geometrically: with node spacing
h = 0.25 sigma and a likelihood at least 0.29 logit units wide (48 patients), the relative error is
about exp(-2 pi^2 0.29^2 / h^2) < 1e-5 for sigma = 1.5, and the prior mass beyond 5 sigma is 6e-7
(a test compares seed-report cells with adaptive quadrature).

What is left, log P(report_j | beta_j), is a smooth function of one number. It is tabulated once
per report on :data:`LOG_OR_GRID` (-12..12, step 0.05) with its exact derivative, and the model
evaluates it by cubic Hermite interpolation, continued linearly beyond the grid (where the priors
used here have no mass: 12 prior sd). The interpolation error is about 1e-7 in log-likelihood on
the seed reports (a test checks it against direct evaluation), a hundred times below the
quadrature's, and a gradient no longer costs (compatible cells x 41 nodes) exponentials: a fit of
the seed reports went from 2.5 s to under 0.1 s. The tables and the log OR prior are ``pm.Data``:
another test, split range, report or prior reuses one compiled model. A report that no table
reproduces has a flat table (its posterior is the prior; callers must not report it as
data-driven).

Reference: Heitjan DF, Rubin DB. Ignorability and coarse data. Ann Stat 1991;19:2244-53.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pymc as pm
import pytensor.tensor as pt

from trial_reanalysis.analysis.errors import QuadratureError
from trial_reanalysis.analysis.reconstruction.tables import (
    p_interval,
    p_value_grid,
    reproduces_mask,
)
from trial_reanalysis.models.priors import PriorScenario

_BASELINE = {"baseline_mu": -1.0, "baseline_sigma": 1.5}

#: Default priors of the comparison models (a trial file may declare its own log OR priors per
#: comparison; the baseline stays this one). Baseline log-odds Normal(-1, 1.5): the reference
#: group's event rate centred on 27 % with 95 % prior range 2 %-87 %, wide enough for the common
#: and the rare adverse events of phase 2 trials without favouring any of them.
AE_PRIORS: dict[str, PriorScenario] = {
    "weakly_informative": PriorScenario(
        name="weakly_informative",
        family="normal",
        parameters={**_BASELINE, "log_or_mu": 0.0, "log_or_sigma": 1.0},
        rationale="log OR ~ Normal(0, 1): ORs between 0.14 and 7 with 95 % prior probability, "
        "wide for a difference in an event rate between two groups of one trial",
        primary=True,
    ),
    "skeptical": PriorScenario(
        name="skeptical",
        family="normal",
        parameters={**_BASELINE, "log_or_mu": 0.0, "log_or_sigma": 0.5},
        rationale="log OR ~ Normal(0, 0.5): ORs between 0.38 and 2.7 with 95 % prior "
        "probability; doubts large subgroup differences reported from small post-hoc splits",
    ),
}

#: Baseline log-odds quadrature: nodes in prior standard deviations (-5..5, step 0.25) and the
#: log of their normalised normal weights (trapezoid rule; error bound in the module docstring).
BASELINE_NODES = np.linspace(-5.0, 5.0, 41)
BASELINE_LOG_WEIGHTS = -0.5 * BASELINE_NODES**2 - np.log(np.sum(np.exp(-0.5 * BASELINE_NODES**2)))

#: Log odds ratios at which the marginal log-likelihood of a report is tabulated (step 0.05).
LOG_OR_GRID = np.linspace(-12.0, 12.0, 481)

#: pm.Data names of the log OR prior (the tabulated likelihood is ``loglik_value``/``_slope``).
PRIOR_FIELDS = ("log_or_mu", "log_or_sigma")


@dataclass(frozen=True)
class CoarsenedReport:
    """The compatible cells of one report: every (split, table) that reproduces it.

    Arrays have one entry per cell; ``log_split_weight`` is log w_s (prior weight of the split).
    """

    n_exposed: np.ndarray
    n_reference: np.ndarray
    exposed_events: np.ndarray
    reference_events: np.ndarray
    p_value: np.ndarray
    log_split_weight: np.ndarray

    @property
    def n_cells(self) -> int:
        """Number of compatible (split, table) cells (0: nothing reproduces the report)."""
        return len(self.n_exposed)

    @property
    def log_weight(self) -> np.ndarray:
        """log [w_s C(n_exposed, a) C(n_reference, c)] of each cell (the likelihood's constant
        part)."""
        comb = np.array(
            [
                math.log(math.comb(int(n1), int(a))) + math.log(math.comb(int(n2), int(c)))
                for n1, n2, a, c in zip(
                    self.n_exposed,
                    self.n_reference,
                    self.exposed_events,
                    self.reference_events,
                    strict=True,
                )
            ]
        )
        return self.log_split_weight + comb if self.n_cells else np.zeros(0)

    def cells(self) -> dict[str, np.ndarray]:
        """The cells as the arrays :func:`cell_log_likelihood` takes (one entry per cell)."""
        return {
            "n_exposed": self.n_exposed,
            "n_reference": self.n_reference,
            "exposed_events": self.exposed_events,
            "reference_events": self.reference_events,
            "log_weight": self.log_weight,
        }


def coarsened_report(
    lo: float,
    hi: float,
    sign: int | None,
    splits: Sequence[tuple[int, int]],
    *,
    test: str = "fisher",
    weights: Sequence[float] | None = None,
) -> CoarsenedReport:
    """Enumerate the cells of a report "P in [lo, hi) with direction ``sign``" over splits.

    Args:
        lo, hi: the interval the printed P stands for (``ReportedPValue.interval``; see
            :func:`analysis.reconstruction.tables.p_interval`).
        sign: +1 event more frequent in the exposed group, -1 in the reference group, 0 equal
            proportions, None direction not reported (every direction reproduces the report).
        splits: candidate group sizes (n_exposed, n_reference).
        test: "fisher" or "chi2".
        weights: prior weight of each split (uniform when None; normalised here).
    """
    w = np.ones(len(splits)) if weights is None else np.asarray(weights, dtype=float)
    if len(w) != len(splits) or np.any(w < 0) or not w.sum() > 0:
        raise ValueError("split weights must be non-negative, one per split, not all zero")
    log_w = np.log(w / w.sum())
    parts: list[np.ndarray] = []
    for (n1, n2), lw in zip(splits, log_w, strict=True):
        if not np.isfinite(lw):
            continue
        grid = p_value_grid(n1, n2, test)
        a, c = np.nonzero(reproduces_mask(grid, lo, hi, sign))
        parts.append(
            np.column_stack(
                [np.full(len(a), n1), np.full(len(a), n2), a, c, grid[a, c], np.full(len(a), lw)]
            )
        )
    cells = np.concatenate(parts) if parts else np.zeros((0, 6))
    return CoarsenedReport(
        n_exposed=cells[:, 0].astype(int),
        n_reference=cells[:, 1].astype(int),
        exposed_events=cells[:, 2].astype(int),
        reference_events=cells[:, 3].astype(int),
        p_value=cells[:, 4],
        log_split_weight=cells[:, 5],
    )


def report_from_published(
    p_value: str | float | tuple[float, float],
    sign: int | None,
    splits: Sequence[tuple[int, int]],
    *,
    test: str = "fisher",
    weights: Sequence[float] | None = None,
    decimals: int | None = None,
    ns_threshold: float = 0.05,
) -> CoarsenedReport:
    """:func:`coarsened_report` of a P value as printed ("= .03" or 0.03 -> [0.025, 0.035);
    "< .001" -> [0, 0.001); "NS" -> [ns_threshold, 1]; see
    :func:`analysis.reconstruction.tables.p_interval`)."""
    lo, hi = p_interval(p_value, decimals, ns_threshold)
    return coarsened_report(lo, hi, sign, splits, test=test, weights=weights)


def report_from_counts(
    n_exposed: int,
    n_reference: int,
    exposed_events: int,
    reference_events: int,
    *,
    test: str = "fisher",
) -> CoarsenedReport:
    """The single table of published counts as a one-cell "report": no coarsening, no indicator.

    When the counts and the group sizes are published they are the data, and the likelihood is
    the plain product of two binomials, Bin(a | n_exposed, pi_exposed) Bin(c | n_reference,
    pi_reference) (the P value is a function of the table and adds nothing). ``p_value`` holds
    the table's P under ``test`` for display only.

    Raises:
        ValueError: events outside 0..n of their group, or a group size not a positive integer.
    """
    for name, k, n in (
        ("exposed_events", exposed_events, n_exposed),
        ("reference_events", reference_events, n_reference),
    ):
        if not 0 <= int(k) <= int(n):
            raise ValueError(f"{name} = {k} must lie in 0..{n}")
    p = float(
        p_value_grid(int(n_exposed), int(n_reference), test)[
            int(exposed_events), int(reference_events)
        ]
    )
    return CoarsenedReport(
        n_exposed=np.array([int(n_exposed)]),
        n_reference=np.array([int(n_reference)]),
        exposed_events=np.array([int(exposed_events)]),
        reference_events=np.array([int(reference_events)]),
        p_value=np.array([p]),
        log_split_weight=np.zeros(1),
    )


def restrict_to_counts(
    report: CoarsenedReport, exposed_events: int | None = None, reference_events: int | None = None
) -> CoarsenedReport:
    """The cells of ``report`` whose event counts equal the published ones (None: not published).

    For a count published without its group sizes: P(report, counts | log OR) keeps the split sum
    and the P value indicator, over the tables with those counts only. The split weights are not
    renormalised (they are the prior of the split, not conditional on the counts).
    """
    keep = np.ones(report.n_cells, dtype=bool)
    if exposed_events is not None:
        keep &= report.exposed_events == int(exposed_events)
    if reference_events is not None:
        keep &= report.reference_events == int(reference_events)
    return CoarsenedReport(
        n_exposed=report.n_exposed[keep],
        n_reference=report.n_reference[keep],
        exposed_events=report.exposed_events[keep],
        reference_events=report.reference_events[keep],
        p_value=report.p_value[keep],
        log_split_weight=report.log_split_weight[keep],
    )


#: Points per side (log OR < 0 and > 0) of the Simpson rule of :func:`report_evidence`, over
#: [prior mean - 10 sd, 0] and [0, prior mean + 10 sd] (step 0.025 for the N(0, 1) prior: the
#: integrand is smooth, Simpson's error is far below the 1e-4 the brute-force tests allow).
EVIDENCE_POINTS = 401


def report_evidence(report: CoarsenedReport, prior: PriorScenario, sign: int | None) -> dict | None:
    r"""The evidence a report carries about the log OR, under its own likelihood L(beta).

    L(beta) = P(report | beta), baseline log-odds integrated over its prior (and the split
    marginalised: the likelihood the model tabulates, here with the finer baseline rule of
    :func:`fine_baseline_nodes` so that the numbers hold to about 1e-6 for any group sizes).
    With the prior's log OR N(mu, sd):

    - ``likelihood_at_null``: L(0) = P(report | OR = 1);
    - ``bayes_factor_prior_vs_null``: :math:`\int L(\beta) N(\beta; \mu, sd) d\beta / L(0)`,
      the prior's Bayes factor for an effect against the point null OR = 1 (Simpson's rule on
      :data:`EVIDENCE_POINTS` points each side of 0 over mu +/- 10 sd);
    - ``bayes_factor_reported_side_vs_null``: the same with the prior restricted to the reported
      side (sign * beta > 0) and renormalised (half-normal for mu = 0). The side is read from the
      report, so this prior is chosen after seeing the data; with a symmetric prior the primary
      Bayes factor is the average of this one and the opposite side's. None when the report
      names no side (``sign`` None);
    - ``bayes_factor_max``: sup over beta of L(beta) / L(0), the largest Bayes factor any prior on
      the log OR allows against OR = 1 (the maximum likelihood ratio), with ``log_or_at_max``
      (``None`` when the supremum is approached at the edge of :data:`LOG_OR_GRID`, e.g. a table
      with an empty cell). Found on :data:`LOG_OR_GRID`, then refined by bounded optimisation.

    Args:
        report: the report's cells (a coarsened report or :func:`report_from_counts`).
        prior: a scenario of :data:`AE_PRIORS` (baseline and log OR hyperparameters).
        sign: +1 report more frequent in the first (exposed) group, -1 in the second, None
            not reported.

    Returns:
        The dict above, or None when no table reproduces the report (no likelihood).
    """
    from scipy import integrate, optimize, stats

    if report.n_cells == 0:
        return None
    if sign not in (1, -1, None):
        raise ValueError(f"sign must be +1, -1 or None, got {sign!r}")
    p = prior.parameters
    mu, sd = float(p["log_or_mu"]), float(p["log_or_sigma"])
    base = (p["baseline_mu"], p["baseline_sigma"])

    nodes = fine_baseline_nodes(report, float(base[1]))

    def loglik(x: np.ndarray) -> np.ndarray:
        return report_log_likelihood(report, *base, x, nodes=nodes)[0]

    log_l0 = float(loglik(np.zeros(1))[0])
    sides = {
        -1: np.linspace(min(mu - 10 * sd, 0.0), 0.0, EVIDENCE_POINTS),
        1: np.linspace(0.0, max(mu + 10 * sd, 0.0), EVIDENCE_POINTS),
    }
    part, mass = {}, {}
    for side, x in sides.items():
        density = stats.norm.pdf(x, mu, sd)
        part[side] = float(integrate.simpson(np.exp(loglik(x) - log_l0) * density, x=x))
        mass[side] = float(stats.norm.sf(0.0, mu, sd) if side > 0 else stats.norm.cdf(0.0, mu, sd))
    grid_values = loglik(LOG_OR_GRID)
    i = int(np.argmax(grid_values))
    if 0 < i < LOG_OR_GRID.size - 1:
        best = optimize.minimize_scalar(
            lambda b: -loglik(np.array([b]))[0],
            bounds=(LOG_OR_GRID[i - 1], LOG_OR_GRID[i + 1]),
            method="bounded",
            options={"xatol": 1e-8},
        )
        at_max, log_max = float(best.x), max(float(-best.fun), float(grid_values[i]))
    else:
        at_max, log_max = None, float(grid_values[i])
    return {
        "likelihood_at_null": math.exp(log_l0),
        "bayes_factor_prior_vs_null": part[-1] + part[1],
        "bayes_factor_reported_side_vs_null": None if sign is None else part[sign] / mass[sign],
        "bayes_factor_max": math.exp(log_max - log_l0),
        "log_or_at_max": at_max,
    }


def model_data(reports: Sequence[CoarsenedReport], prior: PriorScenario) -> dict[str, np.ndarray]:
    """The model's ``pm.Data`` values for these reports under this prior.

    The baseline prior (``baseline_mu``, ``baseline_sigma``) enters the tabulated likelihood; the
    log OR prior (``log_or_mu``, ``log_or_sigma``) is passed as is.
    """
    p = prior.parameters
    tables = [report_log_likelihood(r, p["baseline_mu"], p["baseline_sigma"]) for r in reports]
    return {
        "loglik_value": np.stack([v for v, _ in tables]),
        "loglik_slope": np.stack([d for _, d in tables]),
        **{name: np.asarray(float(p[name])) for name in PRIOR_FIELDS},
    }


def cell_log_likelihood(
    baseline_log_odds: np.ndarray, log_odds_ratio: np.ndarray, cells: dict[str, np.ndarray]
) -> np.ndarray:
    """Log of w_s Bin(a | n_exposed, pi_exposed) Bin(c | n_reference, pi_reference) for every cell.

    Parameters broadcast against the cells' arrays (see :meth:`CoarsenedReport.cells`).
    """
    eta_exposed = baseline_log_odds + log_odds_ratio
    eta_reference = baseline_log_odds
    return (
        cells["log_weight"]
        - cells["exposed_events"] * _np_softplus(-eta_exposed)
        - (cells["n_exposed"] - cells["exposed_events"]) * _np_softplus(eta_exposed)
        - cells["reference_events"] * _np_softplus(-eta_reference)
        - (cells["n_reference"] - cells["reference_events"]) * _np_softplus(eta_reference)
    )


def _np_softplus(x: np.ndarray) -> np.ndarray:
    return np.logaddexp(0.0, x)


def baseline_grid(
    mu: float, sigma: float, nodes: np.ndarray = BASELINE_NODES
) -> tuple[np.ndarray, np.ndarray]:
    """Quadrature nodes of the baseline log-odds and their log prior weights (sum to one).

    ``nodes`` are in prior standard deviations (default :data:`BASELINE_NODES`, the model's rule).
    """
    if nodes is BASELINE_NODES:
        return mu + sigma * nodes, BASELINE_LOG_WEIGHTS
    log_w = -0.5 * nodes**2
    return mu + sigma * nodes, log_w - np.log(np.sum(np.exp(log_w)))


def fine_baseline_nodes(report: CoarsenedReport, sigma: float) -> np.ndarray:
    """Trapezoid nodes (prior sds, -5..5) fine enough for a relative error near 1e-8 whatever the
    group sizes: the likelihood of the baseline log-odds is at least w = 2 / sqrt(n) wide (n the
    largest n_exposed + n_reference), and the rule's error is about exp(-2 pi^2 w^2 / h^2), so
    the step is h = w (in logit units; at most 0.25 prior sd). :data:`BASELINE_NODES` (h = 0.25
    sd) gives 1e-5 for the seed's 48 patients but about 2e-3 for 96 (a published table of 42
    and 54)."""
    n = int(np.max(report.n_exposed + report.n_reference)) if report.n_cells else 1
    step = min(0.25, 2.0 / math.sqrt(n) / sigma)
    half = math.ceil(5.0 / step)
    return np.linspace(-5.0, 5.0, 2 * half + 1)


def marginal_cell_log_likelihood(
    log_odds_ratio: np.ndarray, cells: dict[str, np.ndarray], mu: float, sigma: float
) -> np.ndarray:
    """Log-likelihood of each cell, baseline integrated out (the terms a report's table sums).

    ``log_odds_ratio`` has shape (draws,) for one report's cells (1-D arrays); returns
    (draws, cells).
    """
    nodes, log_w = baseline_grid(mu, sigma)
    per = cell_log_likelihood(
        nodes[None, None, :],
        np.asarray(log_odds_ratio)[:, None, None],
        {k: v[None, :, None] for k, v in cells.items()},
    )
    return _np_logsumexp(per + log_w[None, None, :], axis=2)


def report_log_likelihood(
    report: CoarsenedReport,
    mu: float,
    sigma: float,
    log_odds_ratio: np.ndarray = LOG_OR_GRID,
    chunk: int = 64,
    nodes: np.ndarray = BASELINE_NODES,
) -> tuple[np.ndarray, np.ndarray]:
    """log P(report | log OR) and its derivative at each log OR, baseline integrated out.

    The value is the ``logsumexp`` over cells and baseline nodes of the cell terms; the derivative
    is the posterior-weighted exposed-group score, sum of w (a - n_exposed pi_exposed). Evaluated in
    chunks of ``chunk`` log ORs to bound memory. A report without cells gives zeros (flat).
    ``nodes``: the baseline rule in prior sds (default the model's :data:`BASELINE_NODES`).

    The cell terms of :func:`cell_log_likelihood`, rearranged with softplus(eta) =
    softplus(-eta) + eta: a group of n with e events contributes -n softplus(-eta) - (n - e) eta.
    Only the exposed group's term depends on the log OR, and only through (n_exposed, a), so the
    rest (weight, reference group, node weight) is summed once over the cells sharing them; the
    sums over log ORs then run over those pairs (a few hundred) instead of the cells (thousands
    for a report such as "NS"), with the same value.
    """
    x = np.atleast_1d(np.asarray(log_odds_ratio, dtype=float))
    if report.n_cells == 0:
        return np.zeros(x.size), np.zeros(x.size)
    nodes, log_w = baseline_grid(mu, sigma, nodes)
    eta = nodes[None, :]  # the reference group's log-odds: the baseline
    m, c = report.n_reference[:, None], report.reference_events[:, None]
    rest = report.log_weight[:, None] + log_w - m * _np_softplus(-eta) - (m - c) * eta
    pairs, pair_of_cell = np.unique(
        np.stack([report.n_exposed, report.exposed_events], axis=1), axis=0, return_inverse=True
    )
    rest = _logsumexp_by_group(rest, pair_of_cell.ravel(), len(pairs))  # (pairs, nodes)
    n, a = (v.astype(float)[None, :, None] for v in pairs.T)
    value, slope = np.empty(x.size), np.empty(x.size)
    for start in range(0, x.size, chunk):
        eta_exposed = nodes[None, None, :] + x[start : start + chunk, None, None]
        minus_log_pi = _np_softplus(-eta_exposed)  # -log pi_exposed, (log ORs, 1, nodes)
        per = rest[None] - n * minus_log_pi - (n - a) * eta_exposed
        top = per.max(axis=(1, 2), keepdims=True)
        weight = np.exp(per - top)
        total = weight.sum(axis=(1, 2))
        score = a - n * np.exp(-minus_log_pi)
        value[start : start + chunk] = top[:, 0, 0] + np.log(total)
        slope[start : start + chunk] = (weight * score).sum(axis=(1, 2)) / total
    return value, slope


def interpolate_log_likelihood(
    beta: pt.TensorVariable, value: pt.TensorVariable, slope: pt.TensorVariable
) -> pt.TensorVariable:
    """Cubic Hermite interpolation of tabulated log-likelihoods at ``beta`` (one per row).

    ``value`` and ``slope`` are (n_events, len(LOG_OR_GRID)); returns (n_events,). Beyond the grid
    the table is continued linearly with its end slope.
    """
    n_grid = LOG_OR_GRID.size
    lo, step = float(LOG_OR_GRID[0]), float(LOG_OR_GRID[1] - LOG_OR_GRID[0])
    inside = pt.clip(beta, lo, float(LOG_OR_GRID[-1]))
    u = (inside - lo) / step
    i = pt.clip(pt.floor(u), 0, n_grid - 2).astype("int64")
    t = u - i
    flat = i + n_grid * pt.arange(beta.shape[0])  # row-major index into the flattened tables
    y0, y1 = value.ravel()[flat], value.ravel()[flat + 1]
    d0, d1 = slope.ravel()[flat] * step, slope.ravel()[flat + 1] * step
    dy = y1 - y0
    hermite = y0 + t * (d0 + t * (3 * dy - 2 * d0 - d1 + t * (d0 + d1 - 2 * dy)))
    # at the ends t is 0 or 1, so this picks the end slope; inside, beta - inside = 0
    return hermite + (beta - inside) * ((1 - t) * d0 + t * d1) / step


def _logsumexp_by_group(x: np.ndarray, group: np.ndarray, n_groups: int) -> np.ndarray:
    """Row-wise logsumexp of ``x`` (rows, columns) over the rows of each group (every group
    has at least one row): (n_groups, columns)."""
    top = np.full((n_groups, x.shape[1]), -np.inf)
    np.maximum.at(top, group, x)
    top = np.where(np.isfinite(top), top, 0.0)
    total = np.zeros((n_groups, x.shape[1]))
    np.add.at(total, group, np.exp(x - top[group]))
    return top + np.log(total)


def _np_logsumexp(x: np.ndarray, axis: int) -> np.ndarray:
    top = np.max(x, axis=axis, keepdims=True)
    return np.squeeze(top, axis) + np.log(np.sum(np.exp(x - top), axis=axis))


def build_comparison_model(
    reports: Sequence[CoarsenedReport],
    *,
    prior: PriorScenario,
    names: Sequence[str] | None = None,
) -> pm.Model:
    """The joint model of independent events (one ``ae`` coordinate per report).

    Variables: ``log_odds_ratio`` (free, dims ``ae``), ``odds_ratio`` (deterministic) and the
    potential ``report_likelihood``: the tabulated log P(report | log OR), baseline log-odds
    integrated out (see the module docstring). Samples nothing.
    """
    names = list(names) if names is not None else [f"ae{j}" for j in range(len(reports))]
    if len(names) != len(reports):
        raise ValueError("one name per report is needed")
    values = model_data(reports, prior)
    with pm.Model(coords={"ae": names}) as model:
        data = {name: pm.Data(name, value) for name, value in values.items()}
        beta = pm.Normal("log_odds_ratio", data["log_or_mu"], data["log_or_sigma"], dims="ae")
        pm.Deterministic("odds_ratio", pt.exp(beta), dims="ae")
        log_lik = interpolate_log_likelihood(beta, data["loglik_value"], data["loglik_slope"])
        pm.Potential("report_likelihood", log_lik.sum())
    return model


#: The model's name before the generalisation to any two named groups (kept for callers).
build_adverse_events_model = build_comparison_model


def file_priors(declared: Mapping[str, Any]) -> dict[str, PriorScenario]:
    """The log OR priors a trial file declares for a comparison, as prior scenarios.

    ``declared`` maps a name to a validated ``Prior`` (family ``normal`` with ``log_or_mu`` and
    ``log_or_sigma``: checked at load). The baseline prior stays :data:`AE_PRIORS`' (the file
    declares priors on the log OR only). The one marked primary is primary, else the first.
    Without declared priors, :data:`AE_PRIORS`.
    """
    if not declared:
        return dict(AE_PRIORS)
    marked = [k for k, v in declared.items() if v.primary]
    first = marked[0] if marked else next(iter(declared))
    return {
        name: PriorScenario(
            name=name,
            family="normal",
            parameters={**_BASELINE, **{k: float(v) for k, v in prior.parameters.items()}},
            rationale=prior.rationale,
            primary=name == first,
        )
        for name, prior in declared.items()
    }


def pooled_event_rate(
    report: CoarsenedReport, log_odds_ratio: np.ndarray, prior: PriorScenario, chunk: int = 200
) -> np.ndarray:
    """Per draw of the log OR, the posterior mean of the pooled event rate given it.

    The pooled rate of a cell is (n_exp pi_exp + n_ref pi_ref) / (n_exp + n_ref); given the log OR
    its posterior is a weighted sum over the report's cells and the baseline quadrature nodes
    (weights: the cell terms of :func:`cell_log_likelihood` times the nodes' prior weights). This
    is the Rao-Blackwellised draw: its mean over the log OR draws is the posterior mean of the
    pooled rate (the follow-up priors use it for the effective sample size of a log OR prior).
    Returns NaN for a report without cells. Shape of ``log_odds_ratio``.
    """
    x = np.asarray(log_odds_ratio, dtype=float).ravel()
    if report.n_cells == 0:
        return np.full(x.size, np.nan)
    p = prior.parameters
    nodes, log_w = baseline_grid(p["baseline_mu"], p["baseline_sigma"])
    cells = {k: v[None, :, None] for k, v in report.cells().items()}
    total = cells["n_exposed"] + cells["n_reference"]
    out = np.empty(x.size)
    for start in range(0, x.size, chunk):
        b = x[start : start + chunk, None, None]
        per = cell_log_likelihood(nodes[None, None, :], b, cells) + log_w
        weight = np.exp(per - per.max(axis=(1, 2), keepdims=True))
        pi_exposed = 1.0 / (1.0 + np.exp(-(nodes[None, None, :] + b)))
        pi_reference = 1.0 / (1.0 + np.exp(-nodes[None, None, :]))
        rate = (cells["n_exposed"] * pi_exposed + cells["n_reference"] * pi_reference) / total
        out[start : start + chunk] = (weight * rate).sum(axis=(1, 2)) / weight.sum(axis=(1, 2))
    return out


#: Quadrature of the log OR posterior (:func:`log_or_posteriors`): lattice step of the report's
#: log-likelihood (logit units; at most a hundredth of the bounds' width), fine points per lattice
#: step of the integration grid, the bounds scan (step, prior sds each side, log-density drop
#: kept), the tolerances (edge mass, refinement change) and the rounds of widening / refining.
QUADRATURE_STEP = 0.05
QUADRATURE_FINE = 32
QUADRATURE_SCAN_STEP = 0.25
QUADRATURE_SCAN_SDS = 10.0
QUADRATURE_DROP = 25.0
QUADRATURE_EDGE_MASS = 1e-9
QUADRATURE_RTOL = 1e-5
QUADRATURE_ROUNDS = 5
#: Quantile levels the refinement check compares (interval ends and median).
_CHECK_LEVELS = (0.025, 0.5, 0.975)


@dataclass(frozen=True)
class LogOddsRatioPosterior:
    """The posterior of one log OR on a fine grid (exact up to the quadrature's tolerance).

    ``log_odds_ratio`` is the grid (shape (m,), increasing), ``density`` the normalised posterior
    density on it (trapezoid rule integrates it to 1) and ``cdf`` its cumulative trapezoid
    integral; ``check`` records the rule (bounds, lattice step, points, edge mass, refinement
    change) for results.json.
    """

    log_odds_ratio: np.ndarray
    density: np.ndarray
    cdf: np.ndarray
    check: dict[str, Any]

    def expect(self, values: np.ndarray) -> float:
        """Posterior mean of ``values`` (a function of the log OR on the grid; trapezoid)."""
        return float(np.trapezoid(values * self.density, self.log_odds_ratio))

    def quantile(self, q: float | Sequence[float]) -> np.ndarray:
        """Quantiles of the log OR (the cumulative trapezoid inverted linearly)."""
        return np.interp(np.asarray(q, dtype=float), self.cdf, self.log_odds_ratio)

    def prob_below(self, value: float = 0.0) -> float:
        """P(log OR < ``value``)."""
        return float(np.interp(value, self.log_odds_ratio, self.cdf))

    def key_numbers(self) -> np.ndarray:
        """The numbers every summary is made of: log OR mean and sd, its quantiles at
        :data:`_CHECK_LEVELS`, OR mean, P(log OR < 0) (the refinement check compares these)."""
        x = self.log_odds_ratio
        mean = self.expect(x)
        sd = math.sqrt(max(self.expect((x - mean) ** 2), 0.0))
        return np.array(
            [mean, sd, *self.quantile(_CHECK_LEVELS), self.expect(np.exp(x)), self.prob_below()]
        )


def _hermite(x: np.ndarray, knots: np.ndarray, value: np.ndarray, slope: np.ndarray) -> np.ndarray:
    """Cubic Hermite interpolation (numpy) of tabulated values and slopes on equally spaced
    ``knots`` at ``x`` (inside the knots)."""
    step = knots[1] - knots[0]
    u = (x - knots[0]) / step
    i = np.clip(np.floor(u).astype(int), 0, knots.size - 2)
    t = u - i
    y0, y1 = value[i], value[i + 1]
    d0, d1 = slope[i] * step, slope[i + 1] * step
    dy = y1 - y0
    return y0 + t * (d0 + t * (3 * dy - 2 * d0 - d1 + t * (d0 + d1 - 2 * dy)))


def _posterior_on(
    knots: np.ndarray, value: np.ndarray, slope: np.ndarray, prior: PriorScenario
) -> tuple[LogOddsRatioPosterior, float]:
    """The posterior under ``prior`` from the log-likelihood tabulated on ``knots``, and the mass
    of the first and last lattice steps (the edge mass) relative to the total."""
    from scipy import stats

    fine = np.linspace(knots[0], knots[-1], (knots.size - 1) * QUADRATURE_FINE + 1)
    p = prior.parameters
    log_density = _hermite(fine, knots, value, slope) + stats.norm.logpdf(
        fine, float(p["log_or_mu"]), float(p["log_or_sigma"])
    )
    f = np.exp(log_density - log_density.max())
    steps = 0.5 * (f[1:] + f[:-1]) * np.diff(fine)
    cdf = np.concatenate([[0.0], np.cumsum(steps)])
    total = cdf[-1]
    edge = (steps[:QUADRATURE_FINE].sum() + steps[-QUADRATURE_FINE:].sum()) / total
    post = LogOddsRatioPosterior(fine, f / total, cdf / total, {})
    return post, float(edge)


def log_or_posteriors(
    report: CoarsenedReport, priors: Sequence[PriorScenario]
) -> list[LogOddsRatioPosterior]:
    r"""The posterior of the log OR under each prior, by 1-D quadrature (no sampling).

    The target is the model's (:func:`build_comparison_model`): p(beta | report) proportional to
    N(beta; log_or_mu, log_or_sigma) P(report | beta), the report's likelihood with the baseline
    log-odds integrated over its Normal prior (here with :func:`fine_baseline_nodes`, error near
    1e-8, where the model's 41 nodes give 1e-5) and the split marginalised
    (:func:`report_log_likelihood`). The priors must share one baseline prior: the likelihood is
    evaluated once for all of them.

    The rule:

    - **Bounds.** The log posterior is scanned (step :data:`QUADRATURE_SCAN_STEP`) over every
      prior's mean +/- :data:`QUADRATURE_SCAN_SDS` sds; the bounds enclose, one scan step
      beyond, every point within :data:`QUADRATURE_DROP` of some prior's maximum (a density
      e^-25 = 1e-11 of the peak). A region touching the scan's end doubles the scan.
    - **Grid.** log P(report | beta) and its exact derivative are computed on a lattice of step
      at most :data:`QUADRATURE_STEP` (and a hundredth of the bounds' width), interpolated by
      cubic Hermite onto :data:`QUADRATURE_FINE` points per lattice step, multiplied by the prior
      and integrated by the trapezoid rule; quantiles invert the cumulative integral linearly.
    - **Checks.** The mass of the first and last lattice steps is below
      :data:`QUADRATURE_EDGE_MASS` of the total (else the bounds widen by half their width each
      side), and the lattice with half the step changes no summary (log OR mean, sd, 2.5 / 50 /
      97.5 % quantiles, OR mean, P(OR < 1)) by more than :data:`QUADRATURE_RTOL` relative
      (absolute below 1; else the step halves again). The finer result is returned. At most
      :data:`QUADRATURE_ROUNDS` rounds.

    Raises:
        ValueError: a report without cells (no likelihood), or priors with different baselines.
        QuadratureError: the tolerances not met after :data:`QUADRATURE_ROUNDS` rounds.
    """
    from scipy import stats

    if report.n_cells == 0:
        raise ValueError("no table reproduces the report: there is no likelihood to integrate")
    priors = list(priors)
    bases = {
        (float(q.parameters["baseline_mu"]), float(q.parameters["baseline_sigma"])) for q in priors
    }
    if len(bases) != 1:
        raise ValueError(f"the priors must share one baseline prior, got {sorted(bases)}")
    base = bases.pop()
    nodes = fine_baseline_nodes(report, base[1])

    def loglik(x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        return report_log_likelihood(report, *base, x, nodes=nodes)

    moments = [
        (float(q.parameters["log_or_mu"]), float(q.parameters["log_or_sigma"])) for q in priors
    ]
    lo = min(m - QUADRATURE_SCAN_SDS * s for m, s in moments)
    hi = max(m + QUADRATURE_SCAN_SDS * s for m, s in moments)
    for _ in range(QUADRATURE_ROUNDS):
        scan = np.linspace(lo, hi, math.ceil((hi - lo) / QUADRATURE_SCAN_STEP) + 1)
        value = loglik(scan)[0]
        keep = np.zeros(scan.size, dtype=bool)
        for m, s in moments:
            lp = value + stats.norm.logpdf(scan, m, s)
            keep |= lp > lp.max() - QUADRATURE_DROP
        inside = np.flatnonzero(keep)
        first, last = int(inside[0]), int(inside[-1])
        if first > 0 and last < scan.size - 1:
            lo, hi = float(scan[first - 1]), float(scan[last + 1])
            break
        width = hi - lo
        lo, hi = lo - (width if first == 0 else 0.0), hi + (width if last == scan.size - 1 else 0.0)
    else:
        raise QuadratureError(
            f"log OR posterior: no bounds found within {QUADRATURE_ROUNDS} scans (last {lo}..{hi})"
        )

    intervals = max(math.ceil((hi - lo) / QUADRATURE_STEP), 100)
    edge = change = float("nan")
    for _ in range(QUADRATURE_ROUNDS):
        knots = np.linspace(lo, hi, 2 * intervals + 1)
        value, slope = loglik(knots)
        coarse = [_posterior_on(knots[::2], value[::2], slope[::2], q) for q in priors]
        fine = [_posterior_on(knots, value, slope, q) for q in priors]
        edge = max(e for _, e in fine)
        change = max(
            float(np.max(np.abs(a - b) / np.maximum(np.maximum(np.abs(a), np.abs(b)), 1.0)))
            for a, b in (
                (c.key_numbers(), f.key_numbers())
                for (c, _), (f, _) in zip(coarse, fine, strict=True)
            )
        )
        if edge >= QUADRATURE_EDGE_MASS:
            width = hi - lo
            lo, hi, intervals = lo - width / 2, hi + width / 2, 2 * intervals
            continue
        if change > QUADRATURE_RTOL:
            intervals *= 2
            continue
        check = {
            "method": "quadrature",
            "bounds": [lo, hi],
            "lattice_step": (hi - lo) / (2 * intervals),
            "likelihood_points": int(knots.size),
            "integration_points": int(fine[0][0].log_odds_ratio.size),
            "baseline_nodes": int(nodes.size),
            "edge_mass": edge,
            "refinement_change": change,
            "edge_mass_tolerance": QUADRATURE_EDGE_MASS,
            "refinement_tolerance": QUADRATURE_RTOL,
        }
        return [
            LogOddsRatioPosterior(p.log_odds_ratio, p.density, p.cdf, {**check, "edge_mass": e})
            for p, e in fine
        ]
    raise QuadratureError(
        f"log OR posterior: edge mass {edge:.2g} (tolerance {QUADRATURE_EDGE_MASS:g}) or "
        f"refinement change {change:.2g} (tolerance {QUADRATURE_RTOL:g}) after "
        f"{QUADRATURE_ROUNDS} rounds (bounds {lo:.3g}..{hi:.3g})"
    )
