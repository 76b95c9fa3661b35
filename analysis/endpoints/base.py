"""What every endpoint analysis returns, so the run and the report treat endpoints alike.

One vocabulary and one table shape for Bayesian and frequentist results: every comparison row has
the columns of :data:`COMPARISON_COLUMNS`, whichever side it comes from.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from trial_reanalysis.analysis.inference.diagnostics import FitDiagnostics

if TYPE_CHECKING:  # results are read where nothing is fitted or drawn (the run's own process)
    import arviz as az
    from matplotlib.figure import Figure

#: Columns of every comparison table (one row per reported, frequentist or Bayesian result).
COMPARISON_COLUMNS = [
    "quantity",  # e.g. "burden reduction rate", "median PFS (months)", "odds ratio, PPE"
    "side",  # "reported" | "frequentist" | "bayesian"
    "method",  # e.g. "Clopper-Pearson exact", "posterior, prior 'uniform'"
    "scenario",  # reconstruction / assumption label, e.g. "14/47"
    "estimate",
    "ci_low",
    "ci_high",
    "interval",  # "95% exact CI", "95% equal-tailed credible", ...
    "probability",  # a posterior probability or a P value (see probability_label)
    "probability_label",  # e.g. "P(theta > 0.05)", "one-sided exact P vs 0.05"
]

#: Columns of every sensitivity table (tidy: one row per scenario and quantity).
SENSITIVITY_COLUMNS = [
    "quantity",
    "prior",
    "assumption",  # which assumption varies ("reconstruction", "ci_transform", ...)
    "scenario",  # its value in this row
    "primary",  # True for the primary analysis row
    "estimate",
    "ci_low",
    "ci_high",
    "probability",
    "probability_label",
]


@dataclass
class EndpointResult:
    """Everything one endpoint contributes to results.json, the tables, the figures and the report.

    Attributes:
        name: results.json key ("burden_reduction", "pfs", "adverse_events").
        title: section title in the report.
        results: the endpoint's results.json subtree (DESIGN.md section 7 keys at least).
        comparison: rows with :data:`COMPARISON_COLUMNS`.
        sensitivity: rows with :data:`SENSITIVITY_COLUMNS`.
        figures: file stem -> figure (written as PNG, embedded in the HTML report).
        posteriors: label -> InferenceData (written as netCDF).
        diagnostics: one entry per MCMC fit.
        tables: extra CSV tables, file stem -> DataFrame.
        sentences: plain-language statements generated from the numbers.
        assumptions: plain-language statements of every assumption this endpoint made.
        primary_draws: posterior draws of the primary analysis, keyed like results.json's
            ``followup_priors`` ("burden_reduction", "pfs", "adverse_events.ppe", ...) then by
            model variable; the follow-up priors are derived from these.
        analysis_priors: the analysis (primary) prior behind each entry of ``primary_draws``,
            ``{"family", "parameters"}`` as the endpoint declares it; the follow-up priors use
            it to give their ESS without the analysis prior's information (issue 13 item 4).
        primary_posterior: key in ``posteriors`` of the primary analysis (its trace and rank
            plots go to the report's appendix).
        csv_only: stems of ``tables`` too long for the report (written as CSV only).
        followup: the follow-up priors derived from ``primary_draws`` (set by the run, in the
            process that analysed the endpoint), keyed like results.json's ``followup_priors``.
        captions: figure stem -> what the figure shows, in a sentence (set by the presenter;
            the report prints it under the figure).
        estimate_kinds: one label per ``comparison`` row saying what its estimate is ("published",
            "posterior mean", "posterior median", "Bayes factor", ...); the report shows one kind
            per table (set by the presenter; empty: one table labelled "estimate").
        sensitivity_estimate: what the estimate of every ``sensitivity`` row is ("posterior
            mean", "posterior median"; set by the presenter).
        sensitivity_kinds: one label per ``sensitivity`` row when its rows' estimates differ in
            kind (e.g. exact and, where a quadrature failed, MCMC); the report shows one kind
            per table (set by the presenter; empty: every row ``sensitivity_estimate``).
        priors_table: the analysis priors of this endpoint, one row per prior: prior, primary,
            family, parameters, ESS, rationale (strings; set by the presenter).
    """

    name: str
    title: str
    results: dict[str, Any]
    comparison: pd.DataFrame
    sensitivity: pd.DataFrame
    figures: dict[str, Figure] = field(default_factory=dict)
    posteriors: dict[str, az.InferenceData] = field(default_factory=dict)
    diagnostics: list[FitDiagnostics] = field(default_factory=list)
    tables: dict[str, pd.DataFrame] = field(default_factory=dict)
    sentences: list[str] = field(default_factory=list)
    assumptions: list[str] = field(default_factory=list)
    primary_draws: dict[str, dict[str, np.ndarray]] = field(default_factory=dict)
    analysis_priors: dict[str, dict[str, Any]] = field(default_factory=dict)
    primary_posterior: str | None = None
    csv_only: frozenset[str] = frozenset()
    followup: dict[str, list[dict[str, Any]]] | None = None
    kind: str = ""  # "rate", "time_to_event" or "comparison" (set by the run)
    captions: dict[str, str] = field(default_factory=dict)
    estimate_kinds: list[str] = field(default_factory=list)
    sensitivity_estimate: str = "estimate"
    sensitivity_kinds: list[str] = field(default_factory=list)
    priors_table: pd.DataFrame | None = None


def comparison_frame(rows: list[dict[str, Any]]) -> pd.DataFrame:
    """A comparison table with exactly :data:`COMPARISON_COLUMNS` (missing cells are empty)."""
    return pd.DataFrame(rows).reindex(columns=COMPARISON_COLUMNS)


#: Columns of every priors table of the report (one row per analysis prior).
PRIORS_TABLE_COLUMNS = ["prior", "primary", "family", "parameters", "ESS (patients)", "rationale"]


def sensitivity_frame(rows: list[dict[str, Any]]) -> pd.DataFrame:
    """A sensitivity table with exactly :data:`SENSITIVITY_COLUMNS`."""
    return pd.DataFrame(rows).reindex(columns=SENSITIVITY_COLUMNS)
