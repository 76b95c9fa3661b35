"""Events compared between the two named groups of a grouping: what do the published reports say?

A trial file declares a grouping (``[groupings.<key>]``: a label such as "prior therapy" or
"dose", an exposed group, the odds ratio's numerator, and a reference group) and the events
compared between its groups (``[comparisons.<key>]``, each naming its grouping). Per event the
paper prints a two-sided P value ("= .03", "< .001", "> .05", "NS") and the group in which the
event was more frequent, and sometimes counts. :func:`analyse_comparisons` analyses every
comparison of one grouping (DESIGN.md 4.3 and 4.4):

- **Every published number is used.** Counts of both groups with both group sizes are the data
  (one table, two binomials, no coarsening). Otherwise the printed P is coarsened data over the
  interval it stands for (``ReportedPValue.interval``), in the reported direction (ignored when
  the file gives none), marginalised over the split of patients between the groups; the
  published count of either group restricts the tables to those holding it.
- **The split.** Both group sizes published: the split is fixed. One size published: the groups
  are taken to cover all enrolled patients (the assumption the split prior itself makes, whose
  splits are (n, enrolled - n)), so the other group holds the rest; a sensitivity scenario lets
  up to a fifth of the rest belong to neither group (the schema cannot say whether the groups
  cover the enrolment). No size published: a uniform prior over the grouping's ``split_range``
  (default: the middle half of the enrolment), with the declared sweep and three fixed splits as
  sensitivity.
- **The test** behind the P values: published, else the grouping's assumption (default Fisher's
  exact, chi-square as sensitivity); with every event a published table it changes nothing and is
  not swept.
- **Priors**: the comparison's own (``[comparisons.<key>.priors]``, normal on the log OR) or the
  defaults of :data:`models.comparison.AE_PRIORS`.

Every (comparison, scenario, prior) has its exact posterior of the log OR by 1-D quadrature
(:func:`models.comparison.log_or_posteriors`: adaptive bounds with edge mass below 1e-9, a
refinement check to 1e-5 relative); these are the sensitivity rows. Under the primary scenario
each prior is also one MCMC fit of the one-event model (compiled once a process), with its derived
seed and the diagnostic gates: its draws weigh the compatible tables and feed the follow-up
priors. A quadrature that fails its checks raises for no row: under the primary scenario that
prior's MCMC fit (the same prior and likelihood, with the model's 41-node baseline rule and
tabulated likelihood, and Monte Carlo error) is reported instead, flagged "not exact" (``method``
``mcmc (quadrature failed)``) in results.json, the tables and a sentence, as the time-to-event
endpoint does; under any other scenario, which has no fit, the row is left out and
``sensitivity_skipped`` says why. The evidence of each report is computed under its
own likelihood (:func:`models.comparison.report_evidence`); beside it, for comparison only, the
Sellke-Bayarri-Berger calibration 1 / (-e p ln p) (Sellke, Bayarri, Berger. Am Stat
2001;55:62-71), a bound for a continuous, two-sided P value only.

This module computes; :mod:`analysis.report.comparison` words and draws the results.
OR = odds(event | exposed group) / odds(event | reference group) everywhere.
"""

from __future__ import annotations

import functools
import math
import re
from dataclasses import dataclass, field
from typing import Any

import arviz as az
import numpy as np
import pandas as pd
import xarray as xr

from trial_reanalysis.analysis.constants import INTERVAL_LEVEL, INTERVAL_TAILS
from trial_reanalysis.analysis.endpoints.base import (
    EndpointResult,
    comparison_frame,
    sensitivity_frame,
)
from trial_reanalysis.analysis.errors import InputError, QuadratureError
from trial_reanalysis.analysis.inference.diagnostics import FitDiagnostics, fit_with_gates
from trial_reanalysis.analysis.inference.fitting import CompiledModel, SamplerSettings, derive_seed
from trial_reanalysis.analysis.reconstruction.tables import direction_sign, p_value_grid
from trial_reanalysis.analysis.trials.checks import default_split_range
from trial_reanalysis.analysis.trials.load import LoadedTrial
from trial_reanalysis.analysis.trials.v2 import Comparison, Grouping, parse_p_value
from trial_reanalysis.models.comparison import (
    AE_PRIORS,
    CoarsenedReport,
    LogOddsRatioPosterior,
    build_comparison_model,
    coarsened_report,
    file_priors,
    log_or_posteriors,
    marginal_cell_log_likelihood,
    model_data,
    pooled_event_rate,
    report_evidence,
    report_from_counts,
    restrict_to_counts,
)
from trial_reanalysis.models.priors import PriorScenario, primary, with_primary

MODEL_NAME = "comparison"
#: Fixed splits of the sensitivity analysis, as fractions of the enrolment in the exposed group.
FIXED_SPLIT_FRACTIONS = (1 / 3, 1 / 2, 2 / 3)
#: With one group size published: the sensitivity scenario's smallest share of the remaining
#: patients in the other group (the rest belonging to neither group).
OTHER_GROUP_MIN_SHARE = 0.8
#: Draws (evenly thinned) behind the compatible tables' posterior weights and the pooled event
#: rate: both are Rao-Blackwellised averages over the log OR draws, stable with 1,000.
WEIGHT_DRAWS = 1000
#: Work (draws x cells x nodes) of one chunk of those averages (bounds memory near 100 MB).
CHUNK_WORK = 4_000_000

#: The MCMC check beside an exact posterior passes when every |z| = |MCMC - exact| / MCSE of the
#: log OR's mean and 2.5 / 50 / 97.5 % quantiles is below this (a run makes 4 z per prior and
#: event, 24 for the seed: with 4 a false alarm is rarer than 1 in 500 runs).
MCMC_Z_LIMIT = 4.0

#: ``method`` of a posterior whose quadrature failed its checks and whose row has an MCMC fit
#: (the primary scenario): the fit's summary is reported instead, flagged (as the time-to-event
#: endpoint's ``quadrature`` record says it).
FALLBACK_METHOD = "mcmc (quadrature failed)"
#: ``method`` of a row whose quadrature failed and which has no MCMC fit (the other scenarios): no
#: number is reported from it (``sensitivity_skipped`` says why).
SKIPPED_METHOD = "none"
#: The sensitivity table's ``assumption`` of an exact row and of a row reporting its MCMC fit.
EXACT_ASSUMPTION = "test x split"
FALLBACK_ASSUMPTION = "test x split (MCMC: quadrature failed, not exact)"
#: The comparison table's ``method`` of a posterior row, exact and MCMC (quadrature failed).
EXACT_ROW_METHOD = "exact posterior median (quadrature), prior '{name}'"
FALLBACK_ROW_METHOD = "MCMC posterior median (quadrature failed: not exact), prior '{name}'"

#: What each evidence number of results.json is (written beside them as ``evidence_note``).
EVIDENCE_NOTE = (
    "bayes_factor_primary_vs_null: Bayes factor of the primary prior on the log OR against OR = 1, "
    "under the report's own likelihood (its probability given the log OR; baseline rate "
    "integrated over its prior, split marginalised, the printed P's interval and the direction as "
    "reported). bayes_factor_reported_side_vs_null: the same prior restricted to the reported side "
    "of OR = 1 (a side read from the report itself; null when no direction was reported). "
    "bayes_factor_max: the maximum likelihood ratio against OR = 1, the largest Bayes factor any "
    "prior on the log OR can give. sbb_calibration: 1 / (-e p ln p) at the printed P, the "
    "Sellke-Bayarri-Berger calibration of a continuous two-sided P; a Bayesian calibration shown "
    "for comparison, not a bound for this discrete, directional report."
)


def sbb_calibration(p_value: float) -> dict[str, float]:
    """Sellke-Bayarri-Berger calibration of a P value (Am Stat 2001;55:62-71).

    Returns ``min_bayes_factor_h0`` = -e p ln p for p < 1/e (1 otherwise) and ``bayes_factor``,
    its inverse. For a P value that is uniform under the null (a continuous test) and alternatives
    under which P has a decreasing density (two-sided, symmetric), ``bayes_factor`` is the largest
    Bayes factor for an effect. A printed, directional report of a discrete test is neither, and
    its own likelihood can exceed it (:func:`trial_reanalysis.models.comparison.report_evidence`).

    Raises:
        ValueError: P outside (0, 1].
    """
    if not 0 < p_value <= 1:
        raise ValueError(f"P must lie in (0, 1], got {p_value}")
    bf0 = -math.e * p_value * math.log(p_value) if p_value < 1 / math.e else 1.0
    return {"min_bayes_factor_h0": bf0, "bayes_factor": 1 / bf0}


_NUMBER = re.compile(r"(0?\.\d+|1(?:\.0*)?)")


def printed_p(printed: str | float, ns_threshold: float = 0.05) -> dict[str, Any]:
    """A printed P value read: ``{printed, relation, value, interval}``.

    ``relation`` is "=", "<", ">" or "NS"; ``value`` the number printed (the threshold for "NS");
    ``interval`` [low, high) the unrounded P it stands for (high capped at 1).

    Raises:
        ValueError: not a form :func:`analysis.trials.v2.parse_p_value` reads.
    """
    lo, hi, kind = parse_p_value(printed, ns_threshold)
    relation = {"rounded": "=", "below": "<", "above": ">", "not significant": "NS"}[kind]
    if isinstance(printed, int | float):
        value = float(printed)
    elif kind == "not significant":
        value = float(ns_threshold)
    else:
        value = float(_NUMBER.search(printed).group(1))
    return {
        "printed": printed,
        "relation": relation,
        "value": value,
        "interval": [lo, min(hi, 1.0)],
    }


def sbb_of_report(p: dict[str, Any]) -> dict[str, Any]:
    """The SBB calibration at the printed number and its range over the report's interval.

    The calibration decreases in P (up to 1/e, then it is 1), so over [low, high) it runs from
    its value at high to its value at low: ``range`` [sbb(high), sbb(low)], the upper end None
    (unbounded) when low is 0 ("P < .001").
    """
    at = sbb_calibration(p["value"])
    lo, hi = p["interval"]
    top = None if lo <= 0 else sbb_calibration(lo)["bayes_factor"]
    return {
        "bayes_factor": at["bayes_factor"],
        "min_bayes_factor_h0": at["min_bayes_factor_h0"],
        "range": [sbb_calibration(min(hi, 1.0))["bayes_factor"], top],
    }


@dataclass(frozen=True)
class Scenario:
    """One analysis assumption: the test and the split prior (uniform over ``splits``)."""

    test: str
    split: str  # label, e.g. "uniform 12-36" or "fixed 24/24"
    splits: tuple[tuple[int, int], ...]

    @property
    def label(self) -> str:
        """Assumption label used in tables and seeds."""
        return f"{self.test}, {self.split}"


def _known(value: Any) -> Any:
    return None if isinstance(value, str) else value.value


def _tests(grouping: Grouping) -> list[str]:
    if grouping.test != "unknown":
        return [grouping.test.value]
    a = grouping.assumptions.test
    if a is not None:
        return [a.default] + [t for t in a.sweep if t != a.default]
    return ["fisher", "chi2"]


def grouping_splits(loaded: LoadedTrial, key: str) -> list[tuple[str, tuple[tuple[int, int], ...]]]:
    """Every split assumption of a grouping, primary first: (label, splits (n_exposed,
    n_reference)), each a uniform prior over its splits (see the module docstring)."""
    trial = loaded.trial
    total = trial.enrolled.value
    g = trial.groupings[key]
    ne, nr = _known(g.exposed.n), _known(g.reference.n)
    if ne is not None and nr is not None:
        return [(f"fixed {ne}/{nr} (published)", ((ne, nr),))]
    if ne is not None or nr is not None:
        known = ne if ne is not None else nr
        rest = total - known
        name = g.exposed.name if ne is not None else g.reference.name

        def pair(other: int) -> tuple[int, int]:
            return (known, other) if ne is not None else (other, known)

        out = [(f"fixed {'/'.join(map(str, pair(rest)))} ({name} published, rest)", (pair(rest),))]
        low = max(1, math.ceil(OTHER_GROUP_MIN_SHARE * rest))
        if low < rest:
            out.append(
                (
                    f"{name} {known} published, other group uniform {low}-{rest}",
                    tuple(pair(m) for m in range(low, rest + 1)),
                )
            )
        return out
    rng = g.assumptions.split_range
    default = tuple(rng.default) if rng is not None else default_split_range(total)
    ranges = [default] + ([tuple(r) for r in rng.sweep if tuple(r) != default] if rng else [])
    out = [
        (f"uniform {lo}-{hi}", tuple((n, total - n) for n in range(lo, hi + 1)))
        for lo, hi in ranges
    ]
    for fraction in FIXED_SPLIT_FRACTIONS:
        n1 = round(total * fraction)
        if 1 <= n1 < total:
            out.append((f"fixed {n1}/{total - n1}", ((n1, total - n1),)))
    return out


def grouping_scenarios(loaded: LoadedTrial, key: str) -> tuple[Scenario, list[Scenario]]:
    """The primary scenario and every scenario (primary first) of a grouping's assumptions.

    The primary test crosses every split assumption; the other tests take the primary split only
    (the test moves the compatible tables far less than the split does). With both group sizes
    and every comparison's counts published the test changes no likelihood and is not swept.
    """
    trial = loaded.trial
    g = trial.groupings[key]
    tests = _tests(g)
    comps = [c for c in trial.comparisons.values() if c.grouping == key]
    sizes = g.exposed.n != "unknown" and g.reference.n != "unknown"
    if sizes and all(None not in _counts(c) for c in comps):
        tests = tests[:1]
    splits = grouping_splits(loaded, key)
    scenarios = [Scenario(tests[0], label, s) for label, s in splits]
    scenarios += [Scenario(t, *splits[0]) for t in tests[1:]]
    return scenarios[0], scenarios


def _counts(c: Comparison) -> tuple[int | None, int | None]:
    """(events in the exposed group, events in the reference group), None where not published."""
    return _known(c.events_exposed), _known(c.events_reference)


def _sign(c: Comparison, grouping: Grouping) -> int | None:
    names = (grouping.exposed.name, grouping.reference.name)
    return direction_sign(_known(c.more_frequent_in), names)


def event_report(loaded: LoadedTrial, key: str, scenario: Scenario) -> tuple[CoarsenedReport, str]:
    """The data of one comparison (``key``) under one scenario, and where it comes from.

    Published counts with published group sizes: the single table (``"published counts"``), the
    plain binomial likelihood. Otherwise the printed P value (any P when not published) and the
    direction (ignored when not published), coarsened over the scenario's splits (``"reported P
    value"``), restricted to the published count of either group (``"reported P value and
    published counts"``, or ``"published counts, group sizes not published"`` without a P).

    Raises:
        InputError: published counts whose direction contradicts the reported one.
    """
    trial = loaded.trial
    c = trial.comparisons[key]
    g = trial.groupings[c.grouping]
    sign = _sign(c, g)
    a, b = _counts(c)
    sizes = (_known(g.exposed.n), _known(g.reference.n))
    if a is not None and b is not None and None not in sizes:
        n1, n2 = sizes
        if sign is not None and int(np.sign(a * n2 - b * n1)) != sign:
            raise InputError(
                loaded.path,
                f"comparisons.{key}.more_frequent_in",
                f"the published counts {a}/{n1} vs {b}/{n2} do not point the reported way",
            )
        return report_from_counts(n1, n2, a, b, test=scenario.test), "published counts"
    if c.p_value != "unknown":
        lo, hi = c.p_value.interval
    else:
        lo, hi = 0.0, 1.0 + 1e-12  # no P published: every table
    report = coarsened_report(lo, hi, sign, scenario.splits, test=scenario.test)
    if a is None and b is None:
        return report, "reported P value"
    restricted = restrict_to_counts(report, a, b)
    if c.p_value == "unknown":
        return restricted, "published counts, group sizes not published"
    return restricted, "reported P value and published counts"


@functools.cache
def compiled_model() -> CompiledModel:
    """The one compiled one-event comparison model (compiled once a process)."""
    dummy = coarsened_report(0.0, 0.5, 1, [(10, 10)])
    model = build_comparison_model([dummy], prior=primary(AE_PRIORS), names=["event"])
    return CompiledModel(model, name=MODEL_NAME)


def summarise_log_or(draws: np.ndarray, sign: int | None) -> dict[str, Any]:
    """Posterior summaries of the OR and log OR from draws of the log OR.

    ``p_reported_direction`` is P(OR > 1) for an event reported more frequent in the exposed
    group, P(OR < 1) in the reference group, None without a reported direction.
    """
    lo, hi = np.quantile(draws, INTERVAL_TAILS)
    odds = np.exp(draws)
    p_above = float(np.mean(draws > 0))
    p_below = float(np.mean(draws < 0))
    return {
        "odds_ratio": {
            "mean": float(odds.mean()),
            "median": float(np.median(odds)),
            "ci95": [float(np.exp(lo)), float(np.exp(hi))],
        },
        "log_odds_ratio": {
            "mean": float(draws.mean()),
            "sd": float(draws.std(ddof=1)),
            "median": float(np.median(draws)),
            "ci95": [float(lo), float(hi)],
        },
        "p_or_above_1": p_above,
        "p_or_below_1": p_below,
        "p_reported_direction": None if sign is None else (p_above if sign > 0 else p_below),
    }


def summarise_exact_log_or(post: LogOddsRatioPosterior, sign: int | None) -> dict[str, Any]:
    """The summaries of :func:`summarise_log_or` from the exact (quadrature) posterior of the log
    OR (:func:`models.comparison.log_or_posteriors`), same keys: OR mean, median and 95 %
    equal-tailed interval; log OR mean, sd, median and interval; P(OR > 1), P(OR < 1) and the
    probability of the reported direction. The median and interval of the OR are the exponentials
    of the log OR's (quantiles commute with a monotone map)."""
    x = post.log_odds_ratio
    lo, med, hi = (float(v) for v in post.quantile([INTERVAL_TAILS[0], 0.5, INTERVAL_TAILS[1]]))
    mean = post.expect(x)
    p_below = post.prob_below(0.0)
    p_above = 1.0 - p_below
    return {
        "odds_ratio": {
            "mean": post.expect(np.exp(x)),
            "median": math.exp(med),
            "ci95": [math.exp(lo), math.exp(hi)],
        },
        "log_odds_ratio": {
            "mean": mean,
            "sd": math.sqrt(max(post.expect((x - mean) ** 2), 0.0)),
            "median": med,
            "ci95": [lo, hi],
        },
        "p_or_above_1": p_above,
        "p_or_below_1": p_below,
        "p_reported_direction": None if sign is None else (p_above if sign > 0 else p_below),
    }


def mcmc_check(idata: az.InferenceData, exact: dict[str, Any]) -> dict[str, Any]:
    """The MCMC fit of the log OR beside its exact posterior (:func:`summarise_exact_log_or`):
    the fit's mean, median and 2.5 / 97.5 % quantiles, their MCSE (ArviZ) and z = (MCMC - exact)
    / MCSE; ``within_limit`` when every |z| < :data:`MCMC_Z_LIMIT`."""
    var = "log_odds_ratio"
    draws = idata.posterior[var].isel(ae=0)
    flat = draws.values.ravel()
    data = xr.Dataset({var: draws})
    lor = exact["log_odds_ratio"]
    probs = (INTERVAL_TAILS[0], 0.5, INTERVAL_TAILS[1])
    targets = (lor["ci95"][0], lor["median"], lor["ci95"][1])
    mean = float(flat.mean())
    mcse_mean = float(az.mcse(data, method="mean")[var])
    q = [float(np.quantile(flat, prob)) for prob in probs]
    mcse_q = [float(az.mcse(data, method="quantile", prob=prob)[var]) for prob in probs]
    z_mean = (mean - lor["mean"]) / mcse_mean
    z_q = [(a - b) / e for a, b, e in zip(q, targets, mcse_q, strict=True)]
    return {
        "log_odds_ratio": {"mean": mean, "median": q[1], "ci95": [q[0], q[2]]},
        "p_or_above_1": float(np.mean(flat > 0)),
        "mcse_mean": mcse_mean,
        "mcse_median": mcse_q[1],
        "mcse_ci95": [mcse_q[0], mcse_q[2]],
        "z_mean": z_mean,
        "z_median": z_q[1],
        "z_ci95": [z_q[0], z_q[2]],
        "z_limit": MCMC_Z_LIMIT,
        "within_limit": bool(max(abs(z_mean), *map(abs, z_q)) < MCMC_Z_LIMIT),
        "draws": int(flat.size),
    }


def _thin(draws: np.ndarray, n: int = WEIGHT_DRAWS) -> np.ndarray:
    flat = np.asarray(draws).ravel()
    if flat.size <= n:
        return flat
    return flat[np.linspace(0, flat.size - 1, n).round().astype(int)]


def table_weights(report: CoarsenedReport, log_or: np.ndarray, prior: PriorScenario) -> np.ndarray:
    """Posterior probability of each compatible (split, table) cell: per draw of the log OR its
    conditional probability (baseline integrated out), averaged over :data:`WEIGHT_DRAWS` evenly
    thinned draws (in chunks of bounded memory)."""
    p = prior.parameters
    cells = report.cells()
    draws = _thin(log_or)
    chunk = max(1, CHUNK_WORK // (report.n_cells * 41))
    total = np.zeros(report.n_cells)
    for start in range(0, draws.size, chunk):
        ll = marginal_cell_log_likelihood(
            draws[start : start + chunk], cells, p["baseline_mu"], p["baseline_sigma"]
        )
        w = np.exp(ll - ll.max(axis=1, keepdims=True))
        total += (w / w.sum(axis=1, keepdims=True)).sum(axis=0)
    return total / draws.size


def published_table_frequentist(
    report: CoarsenedReport, interval: list[float] | None
) -> dict[str, Any]:
    """Frequentist summaries of a published 2x2 table (a one-cell report).

    ``conditional_mle_odds_ratio`` and ``ci95_exact`` (the conditional MLE and the exact
    conditional interval of Fisher's test, as R's ``fisher.test``; scipy's ``odds_ratio``),
    ``sample_odds_ratio`` a d / (b c) (None when b c = 0), the two-sided Fisher and Pearson
    chi-square P of the table (:mod:`analysis.reconstruction.tables`) and whether each lies in
    the printed P's interval (None without a printed P).
    """
    from scipy.stats.contingency import odds_ratio

    a, c = int(report.exposed_events[0]), int(report.reference_events[0])
    n1, n2 = int(report.n_exposed[0]), int(report.n_reference[0])
    result = odds_ratio([[a, n1 - a], [c, n2 - c]], kind="conditional")
    ci = result.confidence_interval(confidence_level=INTERVAL_LEVEL)
    p = {test: float(p_value_grid(n1, n2, test)[a, c]) for test in ("fisher", "chi2")}
    return {
        "table": {
            "exposed_events": a,
            "n_exposed": n1,
            "reference_events": c,
            "n_reference": n2,
        },
        "sample_odds_ratio": a * (n2 - c) / ((n1 - a) * c) if (n1 - a) * c else None,
        "conditional_mle_odds_ratio": float(result.statistic),
        "ci95_exact": [float(ci.low), float(ci.high)],
        "p_value_fisher": p["fisher"],
        "p_value_chi2": p["chi2"],
        "reproduces_reported_p": None
        if interval is None
        else {t: bool(interval[0] <= v < interval[1]) for t, v in p.items()},
    }


def _file_stem(*parts: str) -> str:
    """A fit label as a file name (posteriors/<stem>.nc)."""
    label = "_".join(parts)
    return label.replace(", ", "_").replace(" ", "_").replace("/", "-")


@dataclass
class _Fit:
    summary: dict[str, Any] | None  # None: no table reproduces the report
    diagnostics: FitDiagnostics | None
    draws: np.ndarray | None
    idata: az.InferenceData | None


@dataclass
class _EventFits:
    """Every posterior of one comparison: per (scenario label, prior name) the MCMC
    :class:`_Fit` (primary scenario only) and the exact summary (every scenario; None where no
    table reproduces the report or the quadrature failed), per scenario label the coarsened
    report with where its data came from, and per (scenario label, prior name) whose quadrature
    failed its checks the error's message (``failed``)."""

    fits: dict[tuple[str, str], _Fit]
    reports: dict[str, tuple[CoarsenedReport, str]]
    exact: dict[tuple[str, str], dict[str, Any] | None]
    failed: dict[tuple[str, str], str] = field(default_factory=dict)

    def row(self, label: str, name: str) -> tuple[dict[str, Any] | None, dict[str, Any]]:
        """The posterior reported for the row (scenario ``label``, prior ``name``) and its record:
        the exact one (its quadrature record); where the quadrature failed, the row's MCMC fit
        (primary scenario; ``method`` :data:`FALLBACK_METHOD` with the ``error``) or nothing
        (``method`` :data:`SKIPPED_METHOD` with the ``reason``); nothing where no table
        reproduces the report (``method`` none with the reason)."""
        key = (label, name)
        if key in self.failed:
            fit = self.fits.get(key)
            if fit is not None and fit.summary is not None:
                return dict(fit.summary), {"method": FALLBACK_METHOD, "error": self.failed[key]}
            return None, {
                "method": SKIPPED_METHOD,
                "reason": f"the quadrature failed its checks ({self.failed[key]}) and this row "
                "has no MCMC fit (fits are made under the primary scenario only)",
            }
        summary = self.exact[key]
        if summary is None:
            return None, {"method": "none", "reason": "no table reproduces the report"}
        return _without_diagnostics(summary), summary["diagnostics"]


def _exact_posteriors(
    report: CoarsenedReport, priors: dict[str, PriorScenario]
) -> dict[str, LogOddsRatioPosterior | str]:
    """The exact posterior of the log OR under each prior (one quadrature for all of them, which
    share the likelihood), or, where the quadrature fails its checks, the error's message: after
    a failure of the joint rule each prior is tried alone, so that one prior's failure costs no
    other prior its exact posterior."""
    try:
        return dict(zip(priors, log_or_posteriors(report, list(priors.values())), strict=True))
    except QuadratureError as exc:
        if len(priors) == 1:
            return {next(iter(priors)): str(exc)}
    out: dict[str, LogOddsRatioPosterior | str] = {}
    for name, prior in priors.items():
        try:
            (out[name],) = log_or_posteriors(report, [prior])
        except QuadratureError as exc:
            out[name] = str(exc)
    return out


def _fit_event(
    loaded: LoadedTrial,
    key: str,
    ckey: str,
    priors: dict[str, PriorScenario],
    scenarios: list[Scenario],
    run: dict[str, Any],
) -> _EventFits:
    """Comparison ``ckey`` under every scenario and prior: the exact posterior by quadrature
    (:func:`models.comparison.log_or_posteriors`; its rule's record under ``"diagnostics"``) for
    every (scenario, prior), and a gated MCMC fit under the primary scenario for every prior. A
    scenario under which no table reproduces the report has no posterior (None; an empty fit); a
    (scenario, prior) whose quadrature fails its checks has its error in ``failed`` (and
    :meth:`_EventFits.row` reports its MCMC fit, flagged, or nothing).
    ``run`` holds seed, settings, allow_failed, the sign, the primary scenario and the
    collectors ``posteriors`` and ``diagnostics``."""
    out = _EventFits({}, {}, {})
    for scenario in scenarios:
        report, origin = event_report(loaded, ckey, scenario)
        out.reports[scenario.label] = (report, origin)
        if report.n_cells == 0:
            for prior_name in priors:
                out.exact[(scenario.label, prior_name)] = None
                if scenario == run["first"]:
                    out.fits[(scenario.label, prior_name)] = _Fit(None, None, None, None)
            continue
        for prior_name, post in _exact_posteriors(report, priors).items():
            if isinstance(post, str):
                out.exact[(scenario.label, prior_name)] = None
                out.failed[(scenario.label, prior_name)] = post
                continue
            summary = summarise_exact_log_or(post, run["sign"])
            summary["n_compatible_tables"] = report.n_cells
            summary["diagnostics"] = dict(post.check)
            out.exact[(scenario.label, prior_name)] = summary
        if scenario != run["first"]:
            continue
        for prior_name, prior in priors.items():
            label = f"{ckey}, {scenario.label}, prior {prior_name}"
            idata, diag = fit_with_gates(
                compiled_model(),
                model_data([report], prior),
                seed=derive_seed(run["seed"], MODEL_NAME, key, label),
                label=label,
                settings=run["settings"],
                allow_failed=run["allow_failed"],
            )
            idata = idata.assign_coords(ae=[ckey], groups="posterior")
            run["diagnostics"].append(diag)
            run["posteriors"][_file_stem(key, label)] = idata
            draws = idata.posterior["log_odds_ratio"].values[:, :, 0].reshape(-1)
            summary = summarise_log_or(draws, run["sign"])
            summary["n_compatible_tables"] = report.n_cells
            out.fits[(scenario.label, prior_name)] = _Fit(summary, diag, draws, idata)
    return out


def _compatible_tables(
    report: CoarsenedReport, best: _Fit, prior: PriorScenario
) -> tuple[list[dict[str, Any]], np.ndarray]:
    """The tables reproducing the report with their posterior probabilities under the primary
    fit, and draws of the pooled event rate (the follow-up priors' event rate)."""
    weights = table_weights(report, best.draws, prior)
    rate = pooled_event_rate(report, _thin(best.draws), prior)
    rows = [
        {
            "n_exposed": int(report.n_exposed[i]),
            "n_reference": int(report.n_reference[i]),
            "exposed_events": int(report.exposed_events[i]),
            "reference_events": int(report.reference_events[i]),
            "p_value": float(report.p_value[i]),
            "posterior_probability": float(weights[i]),
        }
        for i in range(report.n_cells)
    ]
    return rows, rate


def _event_result(
    c: Comparison,
    sign: int | None,
    priors: dict[str, PriorScenario],
    event: _EventFits,
    scenarios: list[Scenario],
    first: Scenario,
    compatible: list[dict[str, Any]],
    pooled_rate: float | None = None,
) -> dict[str, Any]:
    """The results.json entry of one comparison: the report as printed, the exact posteriors
    under every prior in the primary scenario with their MCMC check (``mcmc_check``; the fits'
    gates under ``diagnostics``), the exact evidence of the report and the sensitivity rows.
    A prior whose quadrature failed reports its MCMC fit instead (``method``
    :data:`FALLBACK_METHOD`, ``quadrature_error``, no check); a sensitivity row whose quadrature
    failed without a fit has no posterior, and ``sensitivity_skipped`` says why.
    ``pooled_rate``: the posterior mean of the pooled event rate (primary prior)."""
    prior_main = primary(priors).name
    report, origin = event.reports[first.label]
    main = {name: event.fits[(first.label, name)] for name in priors}
    posterior: dict[str, dict[str, Any] | None] = {}
    for name, fit in main.items():
        post, record = event.row(first.label, name)
        if post is not None and fit.idata is not None:
            post["method"] = record["method"]
            if name == prior_main and pooled_rate is not None:
                post["pooled_event_rate_mean"] = pooled_rate
            if record["method"] == FALLBACK_METHOD:
                post["quadrature_error"] = record["error"]
            else:
                post["mcmc_check"] = mcmc_check(fit.idata, post)
        posterior[name] = post
    p = None if c.p_value == "unknown" else printed_p(c.p_value.value, c.p_value.ns_threshold)
    sbb = None if p is None else sbb_of_report(p)
    ev = report_evidence(report, priors[prior_main], sign) or {}
    at_max = ev.get("log_or_at_max")
    rows = [(sc, name) for sc in scenarios for name in priors]
    result: dict[str, Any] = {
        "label": c.label,
        "reported": {
            "p_value": None if p is None else p["printed"],
            "relation": None if p is None else p["relation"],
            "p_value_number": None if p is None else p["value"],
            "interval": None if p is None else p["interval"],
            "more_frequent_in": _known(c.more_frequent_in),
            "direction": {1: "exposed", -1: "reference", None: None}[sign],
            "events_exposed": _known(c.events_exposed),
            "events_reference": _known(c.events_reference),
        },
        "data": origin,
        "primary_prior": prior_main,
        "priors": {
            name: {"parameters": s.parameters, "rationale": s.rationale, "primary": s.primary}
            for name, s in priors.items()
        },
        "posterior": posterior,
        "bayes_factor_primary_vs_null": ev.get("bayes_factor_prior_vs_null"),
        "bayes_factor_reported_side_vs_null": ev.get("bayes_factor_reported_side_vs_null"),
        "bayes_factor_max": ev.get("bayes_factor_max"),
        "odds_ratio_at_max": None if at_max is None else math.exp(at_max),
        "likelihood_at_null": ev.get("likelihood_at_null"),
        "sbb_calibration": None if sbb is None else sbb["bayes_factor"],
        "sbb_calibration_range": None if sbb is None else sbb["range"],
        "sbb_min_bayes_factor_h0": None if sbb is None else sbb["min_bayes_factor_h0"],
        "bayes_factor_bound": None if sbb is None else sbb["bayes_factor"],
        "evidence_note": EVIDENCE_NOTE,
        "diagnostics": {
            name: None if f.diagnostics is None else f.diagnostics.summary()
            for name, f in main.items()
        },
        "scenario": first.label,
        "compatible_tables": compatible,
        "sensitivity": [
            _sensitivity_entry(event, sc, name, first, prior_main) for sc, name in rows
        ],
        "sensitivity_skipped": [
            f"{sc.label}, prior '{name}': {event.row(sc.label, name)[1]['reason']}"
            for sc, name in rows
            if (sc.label, name) in event.failed and event.row(sc.label, name)[0] is None
        ],
    }
    if origin == "published counts":
        result["frequentist"] = published_table_frequentist(
            report, None if p is None else p["interval"]
        )
    return result


def _without_diagnostics(summary: dict[str, Any] | None) -> dict[str, Any] | None:
    """An exact summary without its quadrature record (results.json keeps it beside)."""
    return None if summary is None else {k: v for k, v in summary.items() if k != "diagnostics"}


def _sensitivity_entry(
    event: _EventFits, sc: Scenario, name: str, first: Scenario, prior_main: str
) -> dict[str, Any]:
    """One entry of results.json's ``sensitivity``: the row's posterior and, as its
    ``diagnostics``, the quadrature rule's record (no MCMC gates), or the fallback's or the
    skip's record (:meth:`_EventFits.row`)."""
    post, record = event.row(sc.label, name)
    failed = (sc.label, name) in event.failed
    return {
        "test": sc.test,
        "split": sc.split,
        "prior": name,
        "primary": sc == first and name == prior_main,
        "method": record["method"] if failed else "quadrature",
        "posterior": post,
        "diagnostics": record,
    }


def _sensitivity_rows(
    ckey: str,
    priors: dict[str, PriorScenario],
    event: _EventFits,
    scenarios: list[Scenario],
    first: Scenario,
) -> list[dict[str, Any]]:
    """Sensitivity-table rows of one comparison: the odds ratio's exact posterior median, 95 %
    interval and P(OR > 1) (quadrature) per scenario and prior (NaN where no table reproduces
    the report). Where the quadrature failed: the MCMC fit's numbers with the assumption
    :data:`FALLBACK_ASSUMPTION` (primary scenario), else no row (``sensitivity_skipped``)."""
    prior_main = primary(priors).name
    rows = []
    for sc in scenarios:
        for name in priors:
            s, record = event.row(sc.label, name)
            if record["method"] == SKIPPED_METHOD and (sc.label, name) in event.failed:
                continue
            rows.append(
                {
                    "quantity": f"odds ratio, {ckey}",
                    "prior": name,
                    "assumption": FALLBACK_ASSUMPTION
                    if record["method"] == FALLBACK_METHOD
                    else EXACT_ASSUMPTION,
                    "scenario": sc.label,
                    "primary": sc == first and name == prior_main,
                    "estimate": s["odds_ratio"]["median"] if s else np.nan,
                    "ci_low": s["odds_ratio"]["ci95"][0] if s else np.nan,
                    "ci_high": s["odds_ratio"]["ci95"][1] if s else np.nan,
                    "probability": s["p_or_above_1"] if s else np.nan,
                    "probability_label": "P(OR > 1)" if s else "no table reproduces the report",
                }
            )
    return rows


def _concat_events(fits: list[az.InferenceData]) -> az.InferenceData:
    """The events' primary fits as one InferenceData along ``ae`` (posterior, sample stats and
    constant data)."""
    return az.InferenceData(
        **{
            group: xr.concat([f[group] for f in fits], dim="ae")
            for group in ("posterior", "sample_stats", "constant_data")
        }
    )


def _grouping_results(
    trial: Any, key: str, grouping: Grouping, scenarios: list[Scenario], first: Scenario
) -> dict[str, Any]:
    """results.json of the grouping (events added by the caller): who is compared and every
    assumption the comparisons make."""
    exposed, reference = grouping.exposed.name, grouping.reference.name
    return {
        "grouping": {
            "key": key,
            "label": grouping.label,
            "exposed": {"name": exposed, "n": _known(grouping.exposed.n)},
            "reference": {"name": reference, "n": _known(grouping.reference.n)},
            "test": _known(grouping.test),
        },
        "odds_ratio": f"odds(event | {exposed}) / odds(event | {reference})",
        "events": {},
        "assumptions": {
            "scenarios": [sc.label for sc in scenarios],
            "primary_scenario": first.label,
            "primary_test": first.test,
            "primary_split": first.split,
            "enrolled": trial.enrolled.value,
            "p_value_intervals": "a printed P stands for the half-open interval [low, high) of "
            "unrounded P values: '= .03' [0.025, 0.035), '< .001' [0, 0.001), '> .05' and 'NS' "
            "[0.05, 1]",
            "direction": "a table reproduces a report in the reported direction; when no "
            "direction was published, in either",
        },
    }


def analyse_comparisons(
    loaded: LoadedTrial,
    key: str,
    *,
    seed: int,
    allow_failed: bool = False,
    settings: SamplerSettings | None = None,
) -> EndpointResult:
    """Bayesian reanalysis of every comparison of the grouping ``key`` (DESIGN.md 4.3, 4.4).

    Per comparison: the exact posterior (quadrature) under every scenario (test x split
    assumption) x prior, the sensitivity rows; and one MCMC fit per prior under the primary
    scenario, each with its own derived seed and the diagnostic gates of :func:`fit_with_gates`.
    A scenario under which no table reproduces a report has no posterior (its rows say so). A
    quadrature that fails its checks (``QuadratureError``) is not raised: the row reports its
    MCMC fit, flagged, or is skipped with why (:meth:`_EventFits.row`).

    Raises:
        InputError: no grouping ``key``, or no comparison names it; counts against the reported
            direction.
        DiagnosticsError: a fit failed its gates after a retry and ``allow_failed`` is False.
    """
    trial = loaded.trial
    if key not in trial.groupings:
        raise InputError(
            loaded.path, "groupings", f"no grouping {key!r} (have {list(trial.groupings)})"
        )
    grouping = trial.groupings[key]
    comps = {k: c for k, c in trial.comparisons.items() if c.grouping == key}
    if not comps:
        raise InputError(loaded.path, f"groupings.{key}", "no comparison names this grouping")
    exposed, reference = grouping.exposed.name, grouping.reference.name
    first, scenarios = grouping_scenarios(loaded, key)
    run: dict[str, Any] = {
        "seed": seed,
        "settings": settings,
        "allow_failed": allow_failed,
        "first": first,
        "posteriors": {},
        "diagnostics": [],
    }
    results = _grouping_results(trial, key, grouping, scenarios, first)
    comparison: list[dict[str, Any]] = []
    sensitivity: list[dict[str, Any]] = []
    tables: list[dict[str, Any]] = []
    primary_draws: dict[str, dict[str, np.ndarray]] = {}
    analysis_priors: dict[str, dict[str, Any]] = {}
    primary_fits: list[az.InferenceData] = []
    for ckey, c in comps.items():
        sign = _sign(c, grouping)
        priors = with_primary(file_priors(c.priors), loaded.chosen_prior("comparison", ckey))
        prior_main = primary(priors)
        event = _fit_event(loaded, key, ckey, priors, scenarios, {**run, "sign": sign})
        report = event.reports[first.label][0]
        best = event.fits[(first.label, prior_main.name)]
        compatible: list[dict[str, Any]] = []
        pooled_rate = None
        if best.draws is not None:
            compatible, rate = _compatible_tables(report, best, prior_main)
            pooled_rate = float(np.mean(rate))
            primary_draws[ckey] = {"log_odds_ratio": best.draws, "event_rate": rate}
            analysis_priors[ckey] = {
                "family": prior_main.family,
                "parameters": dict(prior_main.parameters),
            }
            primary_fits.append(best.idata)
            tables += [{"comparison": ckey, "scenario": first.label, **r} for r in compatible]
        result = _event_result(c, sign, priors, event, scenarios, first, compatible, pooled_rate)
        results["events"][ckey] = result
        comparison += _comparison_rows(ckey, result, exposed, reference, first)
        sensitivity += _sensitivity_rows(ckey, priors, event, scenarios, first)

    posteriors = run["posteriors"]
    primary_posterior = None
    if primary_fits:  # one file (and one appendix figure) with every event's primary fit
        primary_posterior = _file_stem(key, "primary fits")
        posteriors[primary_posterior] = _concat_events(primary_fits)
    table_frame = pd.DataFrame(tables)
    return EndpointResult(
        name=key,
        title=f"Events by {grouping.label}: {exposed} vs {reference}",
        results=results,
        comparison=comparison_frame(comparison),
        sensitivity=sensitivity_frame(sensitivity),
        posteriors=posteriors,
        diagnostics=run["diagnostics"],
        tables={
            f"{key}_compatible_tables": table_frame,
            f"{key}_most_probable_tables": _most_probable(table_frame, 5),
        },
        csv_only=frozenset({f"{key}_compatible_tables"}),
        primary_posterior=primary_posterior,
        primary_draws=primary_draws,
        analysis_priors=analysis_priors,
    )


def _comparison_rows(
    ckey: str, r: dict[str, Any], exposed: str, reference: str, first: Scenario
) -> list[dict[str, Any]]:
    """The comparison-table rows of one event: reported, frequentist (counts), Bayesian."""
    return [
        *_reported_rows(ckey, r, exposed, reference, first),
        *_posterior_rows(ckey, r, first),
        *_bayes_factor_rows(ckey, r, first),
    ]


def _reported_rows(
    ckey: str, r: dict[str, Any], exposed: str, reference: str, first: Scenario
) -> list[dict[str, Any]]:
    """The report as printed, and the frequentist analysis of published counts when given."""
    quantity = f"odds ratio, {ckey}"
    rep = r["reported"]
    counted = r["data"] == "published counts"
    where = (
        f", more frequent in {rep['more_frequent_in']}"
        if rep["more_frequent_in"]
        else ", direction not published"
    )
    if counted:
        t = r["frequentist"]["table"]
        what = (
            f"counts {t['exposed_events']}/{t['n_exposed']} ({exposed}) vs "
            f"{t['reference_events']}/{t['n_reference']} ({reference})"
        )
    else:
        what = f"{r['data']}, {first.label}"
    printed = "not published" if rep["p_value"] is None else str(rep["p_value"]).strip()
    rows = [
        {
            "quantity": quantity,
            "side": "reported",
            "method": f"two-sided P {printed}{where}; {what}",
            "probability": rep["p_value_number"],
            "probability_label": "reported two-sided P"
            + ("" if rep["relation"] in (None, "=") else f" ({rep['relation']})"),
        }
    ]
    if counted:
        f = r["frequentist"]
        rows.append(
            {
                "quantity": quantity,
                "side": "frequentist",
                "method": "conditional maximum likelihood, published counts",
                "estimate": f["conditional_mle_odds_ratio"],
                "ci_low": f["ci95_exact"][0],
                "ci_high": f["ci95_exact"][1],
                "interval": f"{INTERVAL_LEVEL:.0%} exact conditional CI",
                "probability": f["p_value_fisher"],
                "probability_label": "two-sided Fisher exact P of the counts",
            }
        )
    return rows


def _posterior_rows(ckey: str, r: dict[str, Any], first: Scenario) -> list[dict[str, Any]]:
    """The odds ratio's posterior per prior, with the probability of the reported direction:
    P(OR < 1) when the event was more frequent in the reference group, else P(OR > 1). The
    method says exact (quadrature) or, where the quadrature failed, the MCMC fit's, not exact."""
    direction = r["reported"]["direction"]
    side_label = {"exposed": "P(OR > 1)", "reference": "P(OR < 1)", None: "P(OR > 1)"}[direction]
    return [
        {
            "quantity": f"odds ratio, {ckey}",
            "side": "bayesian",
            "method": (
                FALLBACK_ROW_METHOD if s.get("method") == FALLBACK_METHOD else EXACT_ROW_METHOD
            ).format(name=name),
            "scenario": first.label,
            "estimate": s["odds_ratio"]["median"],
            "ci_low": s["odds_ratio"]["ci95"][0],
            "ci_high": s["odds_ratio"]["ci95"][1],
            "interval": f"{INTERVAL_LEVEL:.0%} equal-tailed credible",
            "probability": s["p_or_below_1"] if direction == "reference" else s["p_or_above_1"],
            "probability_label": side_label,
        }
        for name, s in r["posterior"].items()
        if s is not None
    ]


def _bayes_factor_rows(ckey: str, r: dict[str, Any], first: Scenario) -> list[dict[str, Any]]:
    """The exact evidence of the report: the primary prior's Bayes factor against OR = 1 (whole
    prior and restricted to the reported side), the largest any prior allows, and the
    Sellke-Bayarri-Berger calibration labelled as what it is."""
    bf_quantity = f"Bayes factor, effect vs OR = 1, {ckey}"
    direction = r["reported"]["direction"]
    counted = r["data"] == "published counts"
    entries: list[tuple[str, Any, dict[str, Any]]] = []
    if r["bayes_factor_primary_vs_null"] is not None:
        prior = r["priors"][r["primary_prior"]]["parameters"]
        prior_text = f"N({prior['log_or_mu']:g}, {prior['log_or_sigma']:g})"
        at_max = r["odds_ratio_at_max"]
        entries.append(
            (
                f"own likelihood, prior {prior_text} on the log OR",
                r["bayes_factor_primary_vs_null"],
                {},
            )
        )
        if r["bayes_factor_reported_side_vs_null"] is not None:
            side = "OR > 1" if direction == "exposed" else "OR < 1"
            entries.append(
                (
                    f"own likelihood, prior {prior_text} restricted to {side} (reported side)",
                    r["bayes_factor_reported_side_vs_null"],
                    {},
                )
            )
        entries.append(
            (
                "own likelihood, largest any prior allows (maximum likelihood ratio"
                + (f", at OR = {at_max:.3g})" if at_max is not None else ")"),
                r["bayes_factor_max"],
                {
                    "probability": r["likelihood_at_null"],
                    "probability_label": (
                        "P(published table | OR = 1)" if counted else "P(report | OR = 1)"
                    ),
                },
            )
        )
    rows = [
        {
            "quantity": bf_quantity,
            "side": "bayesian",
            "method": method,
            "scenario": first.label,
            "estimate": value,
            **extra,
        }
        for method, value, extra in entries
    ]
    if r["sbb_calibration"] is not None:
        rows.append(
            {
                "quantity": bf_quantity,
                "side": "bayesian",
                "method": "Sellke-Bayarri-Berger calibration of a continuous two-sided P "
                "(not a bound for this report)",
                "estimate": r["sbb_calibration"],
            }
        )
    return rows


def _most_probable(tables: pd.DataFrame, k: int) -> pd.DataFrame:
    """The ``k`` compatible (split, table) cells of highest posterior probability per event."""
    if tables.empty:
        return tables
    ranked = tables.sort_values("posterior_probability", ascending=False, kind="stable")
    order = {name: i for i, name in enumerate(dict.fromkeys(tables["comparison"]))}
    top = ranked.groupby("comparison", sort=False).head(k)
    return top.sort_values(
        ["comparison", "posterior_probability"],
        key=lambda col: col.map(order) if col.name == "comparison" else -col,
        kind="stable",
    ).reset_index(drop=True)
