"""Adverse events by prior therapy: how much evidence do the published P values carry?

For each adverse event (PPE, mucositis, rash) the paper gives a rounded two-sided P and the group
in which the event was more frequent. The model of :mod:`models.comparison` treats that report
as coarsened data, with the unpublished split of patients by prior therapy marginalised and the
unpublished test assumed (Fisher by default). Every analysis is repeated under each prior, under
fixed splits and under the chi-square test. Published counts (with the group sizes) are the data:
one table, the plain binomial likelihood, no coarsening.

The evidence each report carries is computed under its own likelihood L(beta) (the report's
probability given the log OR, baseline integrated out, split marginalised; DESIGN.md 4.3,
issue 13 item 3): the primary prior's Bayes factor against OR = 1, the same prior restricted to
the reported side, and the largest Bayes factor any prior allows (the maximum likelihood ratio),
all by :func:`models.comparison.report_evidence`. Beside them, for comparison only, the
Sellke-Bayarri-Berger calibration 1 / (-e p ln p) (Sellke, Bayarri, Berger. Am Stat
2001;55:62-71): a bound for a continuous, two-sided P value with a symmetric prior family, which a
directional report of a discrete test can exceed, so it is never called a bound for this model.

OR = odds(event | prior bevacizumab) / odds(event | prior sunitinib) everywhere.
"""

from __future__ import annotations

import functools
import math
from dataclasses import dataclass
from typing import Any

import arviz as az
import numpy as np
import pandas as pd
from matplotlib.axes import Axes
from matplotlib.figure import Figure

from trial_reanalysis.analysis.constants import INTERVAL_LEVEL, INTERVAL_TAILS
from trial_reanalysis.analysis.endpoints.base import (
    EndpointResult,
    comparison_frame,
    sensitivity_frame,
)
from trial_reanalysis.analysis.endpoints.summaries import probability_text
from trial_reanalysis.analysis.errors import InputError
from trial_reanalysis.analysis.inference.diagnostics import (
    FitDiagnostics,
    check_diagnostics,
    fit_with_gates,
)
from trial_reanalysis.analysis.inference.fitting import CompiledModel, SamplerSettings, derive_seed
from trial_reanalysis.analysis.reconstruction.tables import p_value_grid, rounding_interval
from trial_reanalysis.analysis.report.wording import KASS_RAFTERY_SCALE, bayes_factor_words
from trial_reanalysis.analysis.trials.load import LoadedTrial
from trial_reanalysis.models.comparison import (
    AE_PRIORS,
    CoarsenedReport,
    build_adverse_events_model,
    coarsened_report,
    marginal_cell_log_likelihood,
    model_data,
    report_evidence,
    report_from_counts,
    restrict_to_counts,
)
from trial_reanalysis.models.priors import PriorScenario, primary

NAME = "adverse_events"
#: Fixed splits of the sensitivity analysis, as fractions of the patients after bevacizumab.
FIXED_SPLIT_FRACTIONS = (1 / 3, 1 / 2, 2 / 3)


#: What each evidence number of results.json is (written beside them as ``evidence_note``).
EVIDENCE_NOTE = (
    "bayes_factor_primary_vs_null: Bayes factor of the primary prior on the log OR against OR = 1, "
    "under the report's own likelihood (its probability given the log OR; baseline rate "
    "integrated over its prior, split marginalised, P value rounding and direction as reported). "
    "bayes_factor_reported_side_vs_null: the same prior restricted to the reported side of OR = 1 "
    "(a side read from the report itself). bayes_factor_max: the maximum likelihood ratio against "
    "OR = 1, the largest Bayes factor any prior on the log OR can give. sbb_calibration: "
    "1 / (-e p ln p), the Sellke-Bayarri-Berger calibration of a continuous two-sided P; a "
    "Bayesian calibration shown for comparison, not a bound for this discrete, directional report."
)


def sbb_calibration(p_value: float) -> dict[str, float]:
    """Sellke-Bayarri-Berger calibration of a P value (Am Stat 2001;55:62-71).

    Returns ``min_bayes_factor_h0`` = -e p ln p for p < 1/e (1 otherwise) and ``bayes_factor``,
    its inverse. For a P value that is uniform under the null (a continuous test) and alternatives
    under which P has a decreasing density (two-sided, symmetric), ``bayes_factor`` is the largest
    Bayes factor for an effect. A rounded, directional report of a discrete test is neither, and
    its own likelihood can exceed it (:func:`trial_reanalysis.models.comparison.report_evidence`).

    Raises:
        ValueError: P outside (0, 1].
    """
    if not 0 < p_value <= 1:
        raise ValueError(f"P must lie in (0, 1], got {p_value}")
    bf0 = -math.e * p_value * math.log(p_value) if p_value < 1 / math.e else 1.0
    return {"min_bayes_factor_h0": bf0, "bayes_factor": 1 / bf0}


@dataclass(frozen=True)
class Scenario:
    """One analysis assumption: the test and the split prior (weights over (n_bev, n_sun))."""

    test: str
    split: str  # label, e.g. "uniform 12-36" or "fixed 24/24"
    splits: tuple[tuple[int, int], ...]

    @property
    def label(self) -> str:
        """Assumption label used in tables and seeds."""
        return f"{self.test}, {self.split}"


def _scenarios(loaded: LoadedTrial) -> tuple[Scenario, list[Scenario]]:
    """The primary scenario and every scenario (primary first) the trial's assumptions imply."""
    trial = loaded.trial
    total = trial.enrolled.value
    pt, ae, assumptions = trial.prior_therapy, trial.adverse_events, trial.assumptions
    if ae.test != "unknown":
        tests = [ae.test.value]
    elif assumptions.ae_test is not None:
        tests = [assumptions.ae_test.default] + [
            t for t in assumptions.ae_test.sweep if t != assumptions.ae_test.default
        ]
    else:
        tests = ["fisher", "chi2"]
    if _sizes_published(loaded) and all(
        None not in _published_counts(e) for e in ae.by_prior_therapy.values()
    ):
        tests = tests[:1]  # every event is a published table: the test changes no likelihood
    if pt.n_exposed != "unknown" and pt.n_reference != "unknown":
        n1, n2 = pt.n_exposed.value, pt.n_reference.value
        splits = [(f"fixed {n1}/{n2} (published)", ((n1, n2),))]
    else:
        rng = assumptions.ae_split_range
        default = rng.default if rng is not None else (total // 4, total - total // 4)
        ranges = [default] + ([r for r in rng.sweep if r != default] if rng else [])
        splits = [
            (f"uniform {lo}-{hi}", tuple((n, total - n) for n in range(lo, hi + 1)))
            for lo, hi in ranges
        ]
        for fraction in FIXED_SPLIT_FRACTIONS:
            n1 = round(total * fraction)
            splits.append((f"fixed {n1}/{total - n1}", ((n1, total - n1),)))
    # The primary test crosses every split assumption; the other tests take the primary split
    # only (the test moves the compatible tables far less than the split does).
    scenarios = [Scenario(tests[0], label, s) for label, s in splits]
    scenarios += [Scenario(t, *splits[0]) for t in tests[1:]]
    return scenarios[0], scenarios


def _sizes_published(loaded: LoadedTrial) -> bool:
    pt = loaded.trial.prior_therapy
    return pt.n_exposed != "unknown" and pt.n_reference != "unknown"


def _published_counts(event: Any) -> tuple[int | None, int | None]:
    """(events in the exposed group, events in the reference group), None where not published."""
    return tuple(
        None if n == "unknown" else int(n.value)
        for n in (event.events_exposed, event.events_reference)
    )


def event_report(
    loaded: LoadedTrial, key: str, sign: int, scenario: Scenario
) -> tuple[CoarsenedReport, str]:
    """The data of one event under one scenario, and where it comes from.

    Published counts with published group sizes: the single table (``"published counts"``), the
    plain binomial likelihood. Otherwise the rounded P value and direction, coarsened over the
    scenario's splits (``"reported P value"``), restricted to the published count of either group
    when only that is known (``"reported P value and published counts"``).

    Raises:
        InputError: published counts whose direction contradicts the reported one.
    """
    event = loaded.trial.adverse_events.by_prior_therapy[key]
    a, c = _published_counts(event)
    if a is not None and c is not None and _sizes_published(loaded):
        ((n1, n2),) = scenario.splits
        if int(np.sign(a * n2 - c * n1)) != sign:
            raise InputError(
                loaded.path,
                f"adverse_events.by_prior_therapy.{key}.more_frequent_after",
                f"the published counts {a}/{n1} vs {c}/{n2} do not point the reported way",
            )
        return report_from_counts(n1, n2, a, c, test=scenario.test), "published counts"
    lo, hi = rounding_interval(event.p_value.value)
    report = coarsened_report(lo, hi, sign, scenario.splits, test=scenario.test)
    if a is None and c is None:
        return report, "reported P value"
    return restrict_to_counts(report, a, c), "reported P value and published counts"


@functools.cache
def compiled_model(n_events: int) -> CompiledModel:
    """The one compiled adverse-event model with ``n_events`` events (compiled once a process)."""
    dummy = coarsened_report(0.0, 0.5, 1, [(10, 10)])
    model = build_adverse_events_model(
        [dummy] * n_events, prior=primary(AE_PRIORS), names=[f"ae{j}" for j in range(n_events)]
    )
    return CompiledModel(model, name=NAME)


def summarise_log_or(draws: np.ndarray, sign: int) -> dict[str, Any]:
    """Posterior summaries of the OR and log OR from draws of the log OR."""
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
        "p_reported_direction": p_above if sign > 0 else p_below,
    }


def table_weights(report: CoarsenedReport, log_or: np.ndarray, prior: PriorScenario) -> np.ndarray:
    """Posterior probability of each compatible (split, table) cell, averaged over the draws
    (in chunks of 500 draws: a draw x cell x node array of every draw would take 200 MB)."""
    p = prior.parameters
    cells = report.cells()
    total = np.zeros(report.n_cells)
    for start in range(0, log_or.size, 500):
        chunk = log_or[start : start + 500]
        ll = marginal_cell_log_likelihood(chunk, cells, p["baseline_mu"], p["baseline_sigma"])
        w = np.exp(ll - ll.max(axis=1, keepdims=True))
        total += (w / w.sum(axis=1, keepdims=True)).sum(axis=0)
    return total / log_or.size


def _fit_diagnostics_of(idata: az.InferenceData, key: str, label: str) -> FitDiagnostics:
    sub = az.InferenceData(posterior=idata.posterior.sel(ae=key), sample_stats=idata.sample_stats)
    return check_diagnostics(sub, model=NAME, label=f"{label}, {key}")


def analyse_adverse_events(
    loaded: LoadedTrial,
    *,
    seed: int,
    allow_failed: bool = False,
    settings: SamplerSettings | None = None,
) -> EndpointResult:
    """Bayesian reanalysis of the adverse events reported by prior therapy (DESIGN.md 4.3).

    One joint fit (all events, independent) per prior x scenario (test x split assumption), each
    with its own derived seed and the diagnostic gates of :func:`fit_with_gates`.
    """
    trial = loaded.trial
    if trial.adverse_events is None or trial.prior_therapy is None:
        raise ValueError("the trial file has no adverse events by prior therapy")
    pt = trial.prior_therapy
    groups = (pt.exposed, pt.reference)
    events = trial.adverse_events.by_prior_therapy
    keys = list(events)
    signs = {k: 1 if events[k].more_frequent_after.value == groups[0] else -1 for k in keys}
    first, scenarios = _scenarios(loaded)
    prior_main = primary(AE_PRIORS).name
    compiled = compiled_model(len(keys))

    fits: dict[tuple[str, str], dict[str, Any]] = {}  # (scenario label, prior) -> per-AE output
    posteriors: dict[str, az.InferenceData] = {}
    all_diagnostics: list[FitDiagnostics] = []
    reports_by_scenario: dict[str, dict[str, CoarsenedReport]] = {}
    origin: dict[str, str] = {}
    for scenario in scenarios:
        built = {k: event_report(loaded, k, signs[k], scenario) for k in keys}
        reports = {k: r for k, (r, _) in built.items()}
        if scenario == first:
            origin = {k: o for k, (_, o) in built.items()}
        reports_by_scenario[scenario.label] = reports
        # Every prior under the primary split assumption (each test); the primary prior elsewhere.
        priors = AE_PRIORS if scenario.split == first.split else {prior_main: AE_PRIORS[prior_main]}
        for prior_name, prior in priors.items():
            label = f"{scenario.label}, prior {prior_name}"
            idata, diag = fit_with_gates(
                compiled,
                model_data([reports[k] for k in keys], prior),
                seed=derive_seed(seed, NAME, label),
                label=label,
                settings=settings,
                allow_failed=allow_failed,
            )
            idata = idata.assign_coords(ae=keys, groups="posterior")
            all_diagnostics.append(diag)
            posteriors[_file_stem(label)] = idata
            out = {}
            for j, k in enumerate(keys):
                if reports[k].n_cells == 0:
                    out[k] = None  # no table reproduces the report under this scenario
                    continue
                beta = idata.posterior["log_odds_ratio"].values[:, :, j].reshape(-1)
                summary = summarise_log_or(beta, signs[k])
                summary["n_compatible_tables"] = reports[k].n_cells
                if scenario == first and prior_name == prior_main:  # the table the report shows
                    summary["_weights"] = table_weights(reports[k], beta, prior)
                summary["_diagnostics"] = _fit_diagnostics_of(idata, k, label)
                out[k] = summary
            fits[(scenario.label, prior_name)] = out

    def public(s: dict[str, Any] | None) -> dict[str, Any] | None:
        return None if s is None else {k: v for k, v in s.items() if not k.startswith("_")}

    results: dict[str, Any] = {}
    comparison: list[dict[str, Any]] = []
    sensitivity: list[dict[str, Any]] = []
    tables: list[dict[str, Any]] = []
    sentences: list[str] = []
    prior_text = _log_or_prior_text(AE_PRIORS[prior_main])
    for k in keys:
        event = events[k]
        p, after, sign = event.p_value.value, event.more_frequent_after.value, signs[k]
        sbb = sbb_calibration(p)
        main = {name: fits[(first.label, name)][k] for name in AE_PRIORS}
        report = reports_by_scenario[first.label][k]
        evidence = report_evidence(report, AE_PRIORS[prior_main], sign)
        compatible = []
        if report.n_cells:
            weights = main[prior_main]["_weights"]
            for i in range(report.n_cells):
                row = {
                    "n_bev": int(report.n_bev[i]),
                    "n_sun": int(report.n_sun[i]),
                    "bev_events": int(report.bev_events[i]),
                    "sun_events": int(report.sun_events[i]),
                    "p_value": float(report.p_value[i]),
                    "posterior_probability": float(weights[i]),
                }
                compatible.append(row)
                tables.append({"adverse_event": k, "scenario": first.label, **row})
        ev = evidence or {}
        at_max = ev.get("log_or_at_max")
        results[k] = {
            "name": event.name,
            "reported": {"p_value": p, "more_frequent_after": after},
            "data": origin[k],
            "primary_prior": prior_main,
            "posterior": {name: public(s) for name, s in main.items()},
            "bayes_factor_primary_vs_null": ev.get("bayes_factor_prior_vs_null"),
            "bayes_factor_reported_side_vs_null": ev.get("bayes_factor_reported_side_vs_null"),
            "bayes_factor_max": ev.get("bayes_factor_max"),
            "odds_ratio_at_max": None if at_max is None else math.exp(at_max),
            "likelihood_at_null": ev.get("likelihood_at_null"),
            "sbb_calibration": sbb["bayes_factor"],
            # over the unrounded P values the report allows ([0.025, 0.035) for "P = .03")
            "sbb_calibration_range": sorted(
                sbb_calibration(v)["bayes_factor"] for v in rounding_interval(p)
            ),
            "sbb_min_bayes_factor_h0": sbb["min_bayes_factor_h0"],
            # the DESIGN.md section 7 name of the same number (kept for tools that read it)
            "bayes_factor_bound": sbb["bayes_factor"],
            "evidence_note": EVIDENCE_NOTE,
            "diagnostics": {
                name: s["_diagnostics"].summary() if s else None for name, s in main.items()
            },
            "scenario": first.label,
            "compatible_tables": compatible,
            "sensitivity": [
                {
                    "test": sc.test,
                    "split": sc.split,
                    "prior": name,
                    "primary": sc == first and name == prior_main,
                    "posterior": public(fits[(sc.label, name)][k]),
                }
                for sc in scenarios
                for name in AE_PRIORS
                if (sc.label, name) in fits
            ],
        }
        counted = origin[k] == "published counts"
        if counted:
            results[k]["frequentist"] = published_table_frequentist(report, p)
        quantity = f"odds ratio, {k}"
        comparison.append(
            {
                "quantity": quantity,
                "side": "reported",
                "method": f"two-sided P, more frequent after {after}"
                + (
                    f", counts {report.bev_events[0]}/{report.n_bev[0]} vs "
                    f"{report.sun_events[0]}/{report.n_sun[0]}"
                    if counted
                    else " (test not published)"
                ),
                "probability": p,
                "probability_label": "reported two-sided P",
            }
        )
        if counted:
            freq = results[k]["frequentist"]
            comparison.append(
                {
                    "quantity": quantity,
                    "side": "frequentist",
                    "method": "conditional maximum likelihood, published counts",
                    "estimate": freq["conditional_mle_odds_ratio"],
                    "ci_low": freq["ci95_exact"][0],
                    "ci_high": freq["ci95_exact"][1],
                    "interval": f"{INTERVAL_LEVEL:.0%} exact conditional CI",
                    "probability": freq["p_value_fisher"],
                    "probability_label": "two-sided Fisher exact P of the counts",
                }
            )
        side_label = "P(OR > 1)" if sign > 0 else "P(OR < 1)"
        for name, s in main.items():
            if s is None:
                continue
            comparison.append(
                {
                    "quantity": quantity,
                    "side": "bayesian",
                    "method": f"posterior median, prior '{name}'",
                    "scenario": first.label,
                    "estimate": s["odds_ratio"]["median"],
                    "ci_low": s["odds_ratio"]["ci95"][0],
                    "ci_high": s["odds_ratio"]["ci95"][1],
                    "interval": f"{INTERVAL_LEVEL:.0%} equal-tailed credible",
                    "probability": s["p_reported_direction"],
                    "probability_label": side_label,
                }
            )
        bf_quantity = f"Bayes factor, effect vs OR = 1, {k}"
        if evidence is not None:
            side_text = "OR > 1" if sign > 0 else "OR < 1"
            rows = [
                (
                    f"own likelihood, prior {prior_text} on the log OR",
                    evidence["bayes_factor_prior_vs_null"],
                    {},
                ),
                (
                    f"own likelihood, prior {prior_text} restricted to {side_text} (reported side)",
                    evidence["bayes_factor_reported_side_vs_null"],
                    {},
                ),
                (
                    "own likelihood, largest any prior allows (maximum likelihood ratio"
                    + (f", at OR = {math.exp(at_max):.3g})" if at_max is not None else ")"),
                    evidence["bayes_factor_max"],
                    {
                        "probability": evidence["likelihood_at_null"],
                        "probability_label": (
                            "P(published table | OR = 1)" if counted else "P(report | OR = 1)"
                        ),
                    },
                ),
            ]
            for method, value, extra in rows:
                comparison.append(
                    {
                        "quantity": bf_quantity,
                        "side": "bayesian",
                        "method": method,
                        "scenario": first.label,
                        "estimate": value,
                        **extra,
                    }
                )
        comparison.append(
            {
                "quantity": bf_quantity,
                "side": "bayesian",
                "method": "Sellke-Bayarri-Berger calibration of a continuous two-sided P "
                "(not a bound for this report)",
                "estimate": sbb["bayes_factor"],
            }
        )
        for sc in scenarios:
            for name in AE_PRIORS:
                if (sc.label, name) not in fits:
                    continue
                s = fits[(sc.label, name)][k]
                sensitivity.append(
                    {
                        "quantity": quantity,
                        "prior": name,
                        "assumption": "ae_test x ae_split",
                        "scenario": sc.label,
                        "primary": sc == first and name == prior_main,
                        "estimate": s["odds_ratio"]["median"] if s else np.nan,
                        "ci_low": s["odds_ratio"]["ci95"][0] if s else np.nan,
                        "ci_high": s["odds_ratio"]["ci95"][1] if s else np.nan,
                        "probability": s["p_or_above_1"] if s else np.nan,
                        "probability_label": "P(OR > 1)" if s else "no table reproduces the report",
                    }
                )
        s = main[prior_main]
        if s is None:
            sentences.append(
                f"{event.name}: no 2x2 table under {first.label} reproduces P = {p:g}; "
                "the report is inconsistent with the assumptions."
            )
            continue
        data_text = (
            f"the published counts {report.bev_events[0]}/{report.n_bev[0]} vs "
            f"{report.sun_events[0]}/{report.n_sun[0]}"
            if counted
            else f"{report.n_cells} compatible (split, table) pairs"
        )
        sentences.append(
            posterior_sentence(
                event.name,
                p,
                after,
                prior_main,
                s["odds_ratio"],
                s["p_or_above_1"],
                s["p_or_below_1"],
                data_text,
            )
        )
        if counted:
            freq = results[k]["frequentist"]
            test_names = {"fisher": "Fisher's exact test", "chi2": "the chi-square test"}
            matches = [test_names[t] for t, ok in freq["reproduces_reported_p"].items() if ok]
            sentences.append(
                f"The published table {data_text.removeprefix('the published counts ')} has a "
                f"two-sided Fisher exact P of {freq['p_value_fisher']:.3g} and a chi-square P of "
                f"{freq['p_value_chi2']:.3g}; the printed P = {p:g} "
                + (f"matches {' and '.join(matches)}." if matches else "matches neither.")
            )
        sentences.append(
            evidence_sentence(
                p,
                sign,
                prior_text,
                evidence["bayes_factor_prior_vs_null"],
                evidence["bayes_factor_reported_side_vs_null"],
                evidence["bayes_factor_max"],
                None if at_max is None else math.exp(at_max),
                sbb["bayes_factor"],
                counted=counted,
            )
        )
    sentences.append(
        "Each Bayes factor compares the probability of the report (or of the published counts) "
        "under an effect with its probability under OR = 1, the baseline rate integrated over its "
        "prior; the maximum likelihood ratio is the largest Bayes factor any prior on the log OR "
        "can give. Words follow Kass and Raftery (1995): 1-3.2 not worth more than a bare "
        "mention, 3.2-10 substantial, 10-100 strong, above 100 decisive (the same for 1 / BF, "
        "for no effect)."
    )
    results["assumptions"] = {
        "scenarios": [sc.label for sc in scenarios],
        "primary_scenario": first.label,
        "rounding": "a reported P = .03 means an unrounded P in [0.025, 0.035)",
    }
    results["priors"] = {
        name: {"parameters": s.parameters, "rationale": s.rationale, "primary": s.primary}
        for name, s in AE_PRIORS.items()
    }
    figures = {
        "adverse_events_forest": plot_forest(results, keys),
        "adverse_events_evidence": plot_evidence(results, keys),
    }
    primary_label = f"{first.label}, prior {prior_main}"
    return EndpointResult(
        name=NAME,
        title="Adverse events by prior therapy",
        results=results,
        comparison=comparison_frame(comparison),
        sensitivity=sensitivity_frame(sensitivity),
        figures=figures,
        posteriors=posteriors,
        diagnostics=all_diagnostics,
        tables={
            "adverse_events_compatible_tables": pd.DataFrame(tables),
            "adverse_events_most_probable_tables": _most_probable(pd.DataFrame(tables), 5),
        },
        csv_only=frozenset({"adverse_events_compatible_tables"}),
        sentences=sentences,
        assumptions=_assumption_sentences(loaded, first, scenarios),
        primary_posterior=_file_stem(primary_label),
        primary_draws={
            f"{NAME}.{k}": {
                "log_odds_ratio": posteriors[_file_stem(primary_label)]
                .posterior["log_odds_ratio"]
                .sel(ae=k)
                .values.ravel()
            }
            for k in keys
            if fits[(first.label, prior_main)][k] is not None
        },
    )


def _log_or_prior_text(prior: PriorScenario) -> str:
    p = prior.parameters
    return f"N({p['log_or_mu']:g}, {p['log_or_sigma']:g})"


def published_table_frequentist(report: CoarsenedReport, reported_p: float) -> dict[str, Any]:
    """Frequentist summaries of a published 2x2 table (a one-cell report).

    ``conditional_mle_odds_ratio`` and ``ci95_exact`` (the conditional MLE and the exact
    conditional interval of Fisher's test, as R's ``fisher.test``; scipy's ``odds_ratio``),
    ``sample_odds_ratio`` a d / (b c) (None when b c = 0), the two-sided Fisher and Pearson
    chi-square P of the table (:mod:`analysis.reconstruction.tables`) and whether each rounds to
    the reported P.
    """
    from scipy.stats.contingency import odds_ratio

    a, c = int(report.bev_events[0]), int(report.sun_events[0])
    n1, n2 = int(report.n_bev[0]), int(report.n_sun[0])
    result = odds_ratio([[a, n1 - a], [c, n2 - c]], kind="conditional")
    ci = result.confidence_interval(confidence_level=INTERVAL_LEVEL)
    lo, hi = rounding_interval(reported_p)
    p = {test: float(p_value_grid(n1, n2, test)[a, c]) for test in ("fisher", "chi2")}
    return {
        "table": {"bev_events": a, "n_bev": n1, "sun_events": c, "n_sun": n2},
        "sample_odds_ratio": a * (n2 - c) / ((n1 - a) * c) if (n1 - a) * c else None,
        "conditional_mle_odds_ratio": float(result.statistic),
        "ci95_exact": [float(ci.low), float(ci.high)],
        "p_value_fisher": p["fisher"],
        "p_value_chi2": p["chi2"],
        "reproduces_reported_p": {t: bool(lo <= v < hi) for t, v in p.items()},
    }


def posterior_sentence(
    name: str,
    p_value: float,
    after: str,
    prior: str,
    odds_ratio: dict[str, Any],
    p_above_1: float,
    p_below_1: float,
    data_text: str,
) -> str:
    """The posterior of one event's OR in words: median, credible interval, both tail
    probabilities with their direction (P(OR > 1) first)."""
    lo, hi = odds_ratio["ci95"]
    return (
        f"{name} (reported P = {p_value:g}, more frequent after {after}; data: {data_text}): "
        f"under the '{prior}' prior the posterior median OR is {odds_ratio['median']:.2f} "
        f"({INTERVAL_LEVEL:.0%} credible interval {lo:.2f}-{hi:.2f}); "
        f"P(OR > 1) = {probability_text(p_above_1)} and P(OR < 1) = {probability_text(p_below_1)}."
    )


def evidence_sentence(
    p_value: float,
    sign: int,
    prior_text: str,
    bf_prior: float,
    bf_side: float,
    bf_max: float,
    or_at_max: float | None,
    sbb: float,
    *,
    counted: bool = False,
) -> str:
    """The evidence of one report in words, from its values (thresholds: Kass and Raftery, in
    :mod:`analysis.report.wording`); every comparison with the SBB value is computed, not
    assumed."""
    what = "the published table" if counted else "the report"
    side = "OR > 1" if sign > 0 else "OR < 1"
    where = f" at OR = {or_at_max:.3g}" if or_at_max is not None else " as the OR grows"

    def relation(value: float) -> str:
        return "above" if value > sbb else "below" if value < sbb else "equal to"

    return (
        f"Under its own likelihood {what} gives a Bayes factor of {bf_prior:.3g} for an effect "
        f"({prior_text} prior on the log OR) against no effect (OR = 1), "
        f"{bayes_factor_words(bf_prior)}; with that prior restricted to {side}, the side the "
        f"report names, {bf_side:.3g}; no prior could give more than {bf_max:.3g} (the likelihood "
        f"ratio{where}: at most {bayes_factor_words(bf_max)}). The Sellke-Bayarri-Berger "
        f"calibration of a continuous two-sided P = {p_value:g}, {sbb:.3g}, is not a bound for "
        f"this {'binomial' if counted else 'discrete, directional'} report: its primary Bayes "
        f"factor is {relation(bf_prior)} it and its maximum {relation(bf_max)} it."
    )


def _most_probable(tables: pd.DataFrame, k: int) -> pd.DataFrame:
    """The ``k`` compatible (split, table) cells of highest posterior probability per event."""
    if tables.empty:
        return tables
    ranked = tables.sort_values("posterior_probability", ascending=False, kind="stable")
    order = {name: i for i, name in enumerate(dict.fromkeys(tables["adverse_event"]))}
    top = ranked.groupby("adverse_event", sort=False).head(k)
    return top.sort_values(
        ["adverse_event", "posterior_probability"],
        key=lambda col: col.map(order) if col.name == "adverse_event" else -col,
        kind="stable",
    ).reset_index(drop=True)


def _file_stem(label: str) -> str:
    """A fit label as a file name (posteriors/<stem>.nc)."""
    return label.replace(", ", "_").replace(" ", "_").replace("/", "-")


def _assumption_sentences(
    loaded: LoadedTrial, first: Scenario, scenarios: list[Scenario]
) -> list[str]:
    trial = loaded.trial
    tests = sorted({s.test for s in scenarios} - {first.test})
    splits = [s.split for s in scenarios if s.test == first.test and s != first]
    base = primary(AE_PRIORS).parameters
    out = [
        f"The test behind the adverse-event P values is taken to be {first.test} "
        f"(two-sided; chi-square without continuity correction)"
        + (f"; {', '.join(tests)} is a sensitivity analysis." if tests else "."),
        f"The split of the {trial.enrolled.value} patients by prior therapy is "
        f"{first.split} (patients after bevacizumab)"
        + (f"; sensitivity: {', '.join(splits)}." if splits else "."),
        "A reported P = .03 means an unrounded P in [0.025, 0.035) (half-open rounding interval).",
        "The adverse events are modelled independently of one another, each with the split "
        "marginalised in its own likelihood as DESIGN.md 4.3 writes it; the three events in fact "
        "share one split, and an independent grid computation that shares it moves P(OR > 1) by "
        "at most 0.007 (PPE 0.974 -> 0.972, mucositis 0.953 -> 0.960, rash unchanged).",
        "Chi-square means Pearson's test without Yates' correction; the corrected test (R's "
        "default for 2x2 tables) is not swept.",
        f"The baseline event rate (log-odds Normal({base['baseline_mu']:g}, "
        f"{base['baseline_sigma']:g}) after {trial.prior_therapy.reference}) is integrated out "
        "numerically (41-node rule, error below 1e-5) and each report's likelihood of the log OR "
        "is tabulated on -12..12 and interpolated (error about 1e-7 in log-likelihood).",
    ]
    out += [f"Prior '{s.name}': {s.rationale}." for s in AE_PRIORS.values()]
    return out


def plot_forest(results: dict[str, Any], keys: list[str], ax: Axes | None = None) -> Figure:
    """Forest plot of the posterior OR (median, 95 % interval) per event and prior, log scale."""
    fig = Figure(figsize=(6.5, 1.0 + 0.9 * len(keys))) if ax is None else ax.figure
    ax = ax or fig.add_subplot()
    priors = list(AE_PRIORS)
    y = 0.0
    ticks, labels = [], []
    for k in keys:
        for i, name in enumerate(priors):
            s = results[k]["posterior"][name]
            if s is None:
                continue
            pos = y - 0.3 * i
            lo, hi = s["odds_ratio"]["ci95"]
            ax.plot([lo, hi], [pos, pos], color=f"C{i}", lw=2)
            ax.plot(
                s["odds_ratio"]["median"],
                pos,
                "o",
                color=f"C{i}",
                label=name if k == keys[0] else None,
            )
        ticks.append(y - 0.15 * (len(priors) - 1))
        labels.append(f"{k} (P = {results[k]['reported']['p_value']:g})")
        y -= 1.0
    ax.axvline(1.0, color="grey", ls="--", lw=1)
    ax.set_xscale("log")
    ax.set_yticks(ticks, labels)
    ax.set_xlabel("odds ratio, prior bevacizumab vs prior sunitinib (median, 95% CrI)")
    ax.legend(title="prior", fontsize="small")
    fig.tight_layout()
    return fig


def plot_evidence(results: dict[str, Any], keys: list[str], ax: Axes | None = None) -> Figure:
    """Per event, the Bayes factors for an effect against OR = 1 (log scale): under the report's
    own likelihood with the primary prior, the largest any prior allows (maximum likelihood
    ratio), and the Sellke-Bayarri-Berger calibration of a continuous two-sided P (hatched: a
    different model, shown for comparison). Dotted lines: the Kass-Raftery thresholds."""
    fig = Figure(figsize=(7.0, 4.0), layout="constrained") if ax is None else ax.figure
    ax = ax or fig.add_subplot()
    prior = results[keys[0]]["primary_prior"]
    bars = [
        ("bayes_factor_primary_vs_null", f"own likelihood, primary prior '{prior}'", "C0", None),
        ("bayes_factor_max", "own likelihood, largest any prior allows", "C1", None),
        ("sbb_calibration", "SBB calibration, continuous two-sided P", "lightgrey", "//"),
    ]
    width = 0.8 / len(bars)
    x = np.arange(len(keys))
    for i, (field, label, colour, hatch) in enumerate(bars):
        values = [results[k].get(field) for k in keys]
        values = [np.nan if v is None else v for v in values]
        pos = x + (i - (len(bars) - 1) / 2) * width
        ax.bar(pos, values, width, color=colour, hatch=hatch, edgecolor="black", label=label)
        for xp, v in zip(pos, values, strict=True):
            if np.isfinite(v):
                ax.annotate(f"{v:.3g}", (xp, v), ha="center", va="bottom", fontsize="x-small")
    limits = [limit for limit, _ in KASS_RAFTERY_SCALE[1:]]
    for i, limit in enumerate(limits):
        ax.axhline(
            limit,
            color="grey",
            lw=0.8,
            ls=":",
            label=f"Kass-Raftery thresholds {', '.join(f'{v:g}' for v in limits)}"
            if i == 0
            else None,
        )
    ax.axhline(1.0, color="black", lw=0.8)
    ax.set_yscale("log")
    top = max(
        [results[k].get(f) or 1.0 for k in keys for f, *_ in bars] + [KASS_RAFTERY_SCALE[2][0]]
    )
    ax.set_ylim(0.5, top * 3)
    ax.set_xticks(x, [f"{k}\nP = {results[k]['reported']['p_value']:g}" for k in keys])
    ax.set_ylabel("Bayes factor, effect vs OR = 1")
    ax.legend(fontsize="x-small", loc="upper right")
    return fig
