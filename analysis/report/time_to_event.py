"""Words and figures of a time-to-event endpoint, made from the numbers of its result alone
(:func:`analysis.endpoints.time_to_event.analyse_time_to_event` computes; this module words and
draws). Every time carries the endpoint's unit; every interval is at the package's one level.

``present(result, loaded)`` fills ``result.sentences``, ``result.assumptions`` and
``result.figures`` (the survival curve with its credible band, and the forest plot of the median
and shape over priors and assumption scenarios).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import matplotlib

matplotlib.use("Agg")

import numpy as np
import pandas as pd
from matplotlib import pyplot as plt
from matplotlib.axes import Axes
from matplotlib.figure import Figure

from trial_reanalysis.analysis.constants import INTERVAL_LEVEL, INTERVAL_TAILS
from trial_reanalysis.analysis.endpoints.base import PRIORS_TABLE_COLUMNS, EndpointResult
from trial_reanalysis.analysis.frequentist.survival import weibull_survival
from trial_reanalysis.analysis.planning.followup import weibull_unit_information
from trial_reanalysis.analysis.report.wording import format_probability, parameters_text
from trial_reanalysis.analysis.trials.load import LoadedTrial
from trial_reanalysis.models.time_to_event import MEDIAN, SHAPE

PERCENT = f"{INTERVAL_LEVEL:.0%}"
#: How the posterior probability of a rising hazard, P(k > 1), is worded: the first row whose
#: lower bound p reaches is used (rows from the top).
HAZARD_WORDS: tuple[tuple[float, str], ...] = (
    (0.95, "a rising hazard (k > 1) is likely"),
    (0.05, "the data cannot tell whether the hazard rises or falls over time"),
    (0.0, "a falling hazard (k < 1) is likely"),
)
#: Predictive quantiles of a reported number outside (LOW, 1 - LOW) are called a misfit.
PPC_MISFIT = 0.025


def hazard_words(p_shape_above_1: float) -> str:
    """Words for P(k > 1): rising (>= 0.95), undecided, falling (< 0.05) (:data:`HAZARD_WORDS`)."""
    if not 0.0 <= p_shape_above_1 <= 1.0:
        raise ValueError(f"a probability lies in [0, 1], got {p_shape_above_1}")
    for bound, words in HAZARD_WORDS:
        if p_shape_above_1 >= bound:
            return words
    raise AssertionError("unreachable")  # pragma: no cover


def _num(x: float) -> str:
    """A time as prose: 3 significant digits (4.45, 13.1, 335)."""
    return f"{x:.3g}" if abs(x) < 1000 else f"{x:.0f}"


def _interval(ci: list[float]) -> str:
    return f"{_num(ci[0])}-{_num(ci[1])}"


def _reported_text(rep: Mapping[str, Any], label: str) -> str:
    """What was printed, as a noun phrase: "the published median ... of 4.4 months (95 % CI ...)",
    "the report that the median ... was not reached (...)", "the printed landmark rates"."""
    unit = rep["unit"]
    m = rep["median"]
    landmarks = ", ".join(
        f"{lm['percent']:g} % at {lm['time']:g} {unit}" for lm in rep["landmarks"]
    )
    if m is None:
        return f"the printed landmark rates ({landmarks})" if landmarks else "what was printed"
    if m == "not reached":
        text = f"the report that the median {label.lower()} was not reached"
        if rep["followup_median"] is not None:
            text += f" (median follow-up {_num(rep['followup_median'])} {unit})"
    else:
        text = f"the published median {label.lower()} of {_num(m)} {unit}"
    if rep["ci95"] is not None:
        lo, hi = rep["ci95"]
        lo_t = "not estimable" if lo is None else _num(lo)
        hi_t = "not estimable" if hi is None else _num(hi)
        text += f" ({rep['ci_level']:.0%} CI {lo_t} to {hi_t})"
    if landmarks:
        text += f" and the landmark rates ({landmarks})"
    return text


def sentences_of(results: Mapping[str, Any]) -> list[str]:
    """Plain-language statements from a time-to-event result's numbers (results.json subtree)."""
    label, unit = results["label"], results["unit"]
    rep = results["reported"]
    if not results["analysed"]:
        return [
            f"{label} was not analysed: {results['reason']}.",
            *[f"Warning: {w}." for w in results["warnings"] if w != results["reason"]],
        ]
    name = results["primary_prior"]
    p = results["posterior"][name]
    source = results["posterior_source"]
    if source == "summary":
        opening = f"From {_reported_text(rep, label)} alone"
    else:
        opening = f"From the {results['patient_data']['origin']}"
    out = [
        f"{opening}, the Weibull posterior median {label.lower()} is {_num(p['median']['median'])}"
        f" {unit} ({PERCENT} credible interval {_interval(p['median']['ci95'])} {unit}) under the "
        f"'{name}' prior.",
    ]
    prior_sd = results["priors"][name]["parameters"]["log_shape_sd"]
    out.append(
        f"The Weibull shape is {p['shape']['median']:.2f} ({_interval(p['shape']['ci95'])}); "
        f"P(k > 1) = {format_probability(p['p_shape_above_1'])}: "
        f"{hazard_words(p['p_shape_above_1'])}. The sd of log k falls from {prior_sd:.2f} "
        f"(prior) to {p['sd_log_shape']:.2f} (posterior)."
    )
    surv = "; ".join(
        f"at {t} {unit} {s['mean']:.0%} ({s['ci95'][0]:.0%}-{s['ci95'][1]:.0%})"
        for t, s in p["survival_at"].items()
    )
    out.append(f"Estimated survival (posterior mean, {PERCENT} credible interval): {surv}.")
    check = mcmc_check_sentence(results.get("mcmc_check") or {})
    if check:
        out.append(check)
    failed = quadrature_failed_sentence(results.get("quadrature") or {})
    if failed:
        out.append(failed)
    freq = results.get("frequentist") or {}
    ml = freq.get("summary_ml")
    if ml is not None:
        out.append(
            f"The summary likelihood is maximal at median {_num(ml['median'])} {unit} and shape "
            f"{ml['shape']:.2f} (its frequentist counterpart)."
        )
    elif source == "summary" and results.get("summary_pattern") is not None:
        out.append(
            "The printed numbers alone do not identify the shape (the likelihood has no "
            "maximum): the shape's posterior leans on its prior."
        )
    ppc = results.get("posterior_predictive")
    if ppc:
        out.append(_ppc_sentence(ppc, unit))
    scen = results.get("scenarios") or {}
    if len(scen) > 1:
        meds = [s["posterior"]["median"]["median"] for s in scen.values()]
        shapes = [s["posterior"]["shape"]["median"] for s in scen.values()]
        out.append(
            f"Across the {len(scen)} assumption scenarios (primary prior; exact posteriors by "
            f"2-D quadrature, no Monte Carlo error) the posterior median ranges "
            f"{_num(min(meds))}-{_num(max(meds))} {unit} and the shape {min(shapes):.2f}-"
            f"{max(shapes):.2f}."
        )
    val = results.get("validation")
    if val:
        out.append(_validation_sentence(val))
    patient = results.get("patient_data")
    if patient is not None and source == "summary":
        pp = patient["posterior"][name]
        out.append(
            f"The {patient['origin']} ({patient['patients']} patients, {patient['events']} "
            f"events) give a posterior median of {_num(pp['median']['median'])} {unit} "
            f"({_interval(pp['median']['ci95'])}) and a shape of {pp['shape']['median']:.2f}."
        )
    for name, why in (results.get("priors_not_fitted") or {}).items():
        out.append(f"Prior '{name}' {why}.")
    out += [f"Warning: {w}." for w in results["warnings"]]
    return out


def _ppc_sentence(ppc: Mapping[str, Any], unit: str) -> str:
    """The posterior predictive check: each reported number's predictive quantile, and whether
    any lies in a tail (below :data:`PPC_MISFIT` or above 1 - it: the Weibull fits poorly)."""
    parts, misfit = [], []
    for what in ("median", "lower", "upper"):
        e = ppc[what]
        if "p_simulated_at_most_reported" in e:
            q = e["p_simulated_at_most_reported"]
            parts.append(f"{what} {_num(e['reported'])} {unit} at predictive quantile {q:.2f}")
            if not PPC_MISFIT < q < 1 - PPC_MISFIT:
                misfit.append(what)
    verdict = (
        f"the reported {' and '.join(misfit)} lie(s) in the tail: the Weibull fits poorly"
        if misfit
        else "none lies in the tails"
    )
    return (
        "Posterior predictive check (trials simulated from the posterior, KM median and CI "
        f"recomputed): reported {'; '.join(parts)} ({verdict})."
    )


def _validation_sentence(val: Mapping[str, Any]) -> str:
    """How well the summary likelihood holds in the stored simulation study (coverage, SBC)."""
    cov, sbc = val["pooled_coverage95"], val["sbc_p_values"]
    return (
        f"How well the summary likelihood holds (stored simulation study, "
        f"{val['replicates']} simulated trials of n = {val['n']}): {PERCENT} intervals "
        f"covered the true median in {cov[MEDIAN]:.0%} and the true shape in "
        f"{cov[SHAPE]:.0%} of trials; SBC chi-square p = {sbc.get(MEDIAN, float('nan')):.2f} "
        f"(median), {sbc.get(SHAPE, float('nan')):.2f} (shape)."
    )


def assumptions_of(results: Mapping[str, Any]) -> list[str]:
    """Plain-language statements of every assumption the endpoint's analysis made."""
    if not results["analysed"]:
        return []
    unit = results["unit"]
    out = [
        f"{results['label']} times follow a Weibull distribution, S(t) = exp(-(t/lambda)^k), "
        f"in {unit}.",
    ]
    pa = results.get("primary_assumptions")
    sweeps = results.get("assumption_sweeps") or {}
    pattern = results.get("summary_pattern")
    if pa is not None and pattern:
        origin = pa["origin"]
        out += [
            f"The CI of the median is taken as computed on the {pa['transform']} scale "
            f"(Brookmeyer-Crowley; {origin['transform']}); swept over "
            f"{', '.join(sweeps['transform'])}.",
            f"Patients at risk: {pa['n_at_risk']} ({origin['n_at_risk']}); swept over "
            f"{', '.join(str(n) for n in sweeps['n_at_risk'])}.",
            f"Censoring affects {pa['censoring'][0]:.0%}-{pa['censoring'][1]:.0%} of patients "
            f"(independent random censoring; {origin['censoring']}); swept over "
            f"{', '.join(f'{a:.0%}-{b:.0%}' for a, b in sweeps['censoring'])}.",
        ]
        cal = next(iter(results["calibration"].values()))
        out.append(
            "The printed median and limits are treated as order statistics with a Dirichlet "
            f"likelihood calibrated by simulation (alpha0 = {cal['alpha0']:.1f}, "
            f"{cal['origin']})."
        )
        if ">F" in pattern or pattern == "L":
            rep = results["reported"]
            if ">F" in pattern:
                how = (
                    f"up to the median follow-up, {_num(rep['followup_median'])} {unit} (the "
                    "longest follow-up is not printed; the curve extends at least that far, so "
                    "this statement is true and weaker than the truth)"
                )
            else:
                how = "beyond its lower CI limit (no later follow-up time is printed)"
            out.append(
                f"The median was not reached: survival is taken to stay above one half {how}."
            )
        records = [
            *((sc.get("diagnostics") or {}) for sc in (results.get("scenarios") or {}).values()),
            *((r or {}) for r in (results.get("quadrature") or {}).values()),
        ]
        exact = [r for r in records if r.get("method") == "quadrature"]
        if exact:
            out.append(quadrature_sentence(exact))
        for skipped in results.get("scenarios_skipped") or []:
            out.append(f"Scenario not analysed: {skipped}.")
    if results["reported"]["landmarks"]:
        out.append(
            "Landmark rates enter as normal likelihoods on the complementary log-log scale, "
            "log(-log S(t)) = log ln 2 + k (log t - log m), with the se read off the printed CI "
            "(half its width on that scale), or, without a CI, the binomial variance with the "
            "patients at risk."
        )
    patient = results.get("patient_data")
    if patient is not None:
        out.append(
            "Patient data: the Weibull is fitted with right censoring; an event recorded at time "
            f"0 happened before the first assessment and is interval-censored in (0, "
            f"{_num(patient['first_assessment'])}] {unit} (the smallest positive time in the "
            f"data; {patient['events_at_time_zero']} such events); patients censored at time 0 "
            f"carry no information and are left out ({patient['censored_at_time_zero_left_out']})."
        )
    return out


def mcmc_check_sentence(checks: Mapping[str, Mapping[str, Any]]) -> str | None:
    """The MCMC fit beside the exact posteriors: the largest |z| and the priors beyond the limit
    (None without a check)."""
    if not checks:
        return None
    worst = max(c["max_abs_z"] for c in checks.values())
    limit = next(iter(checks.values()))["z_limit"]
    off = [name for name, c in checks.items() if not c["within_limit"]]
    uses = "whose draws give the survival band, the predictive check and the follow-up priors"
    if not off:
        return (
            "The posterior numbers above are exact (2-D quadrature). The MCMC fit of the same "
            f"model ({uses}) agrees under every prior: means, medians and {PERCENT} limits of "
            f"the median and the shape, and mean survival, within {limit:g} Monte Carlo "
            f"standard errors (largest |z| = {worst:.2f})."
        )
    return (
        "The posterior numbers above are exact (2-D quadrature). The MCMC fit of the same model "
        f"({uses}) differs from them by more than {limit:g} Monte Carlo standard errors under "
        f"{', '.join(repr(n) for n in off)} (largest |z| = {worst:.2f})."
    )


def quadrature_failed_sentence(records: Mapping[str, Mapping[str, Any]]) -> str | None:
    """The priors whose quadrature failed its own checks, so that their numbers are the MCMC
    fit's (None when every prior's are exact)."""
    failed = [name for name, r in records.items() if (r or {}).get("method") != "quadrature"]
    if not failed:
        return None
    names = ", ".join(repr(n) for n in failed)
    return (
        f"Under {names} the quadrature did not meet its own checks (edge mass, refinement), so "
        "the numbers reported for that prior are the MCMC fit's (which passed its diagnostic "
        "gates), not exact ones."
    )


def quadrature_sentence(records: Sequence[Mapping[str, Any]]) -> str:
    """How the exact posteriors are computed, from their quadrature records: the grid's
    coordinates (each set used), the edge-mass and refinement tolerances."""
    coordinates = sorted({r["coordinates"] for r in records})
    edge = sorted({r["edge_tol"] for r in records})
    rel = sorted({r["rel_tol"] for r in records})
    return (
        "Exact posteriors (each prior, and each assumption scenario) are computed by 2-D "
        "quadrature of the same likelihood and prior, on a grid in "
        + " or ".join(f"({c})" for c in coordinates)
        + ", with bounds adapted until the posterior mass on the grid's edges is below "
        + " or ".join(f"{v:.0e}" for v in edge)
        + " and the grid refined (twice the points) until no reported number changes by more "
        + "than "
        + " or ".join(f"{v:.0e}" for v in rel)
        + " relative."
    )


# ---------------------------------------------------------------------------------------------
# figures
# ---------------------------------------------------------------------------------------------


def plot_survival(
    median_draws: np.ndarray,
    shape_draws: np.ndarray,
    results: Mapping[str, Any],
    *,
    ax: Axes | None = None,
) -> Figure:
    """Posterior Weibull survival (median and credible band), the reported median and CI at 0.5,
    the reported landmarks, and the KM curve of patient data if any (times in the unit)."""
    if ax is None:
        fig, ax = plt.subplots(figsize=(6.5, 4.2), layout="constrained")
    else:
        fig = ax.figure
    unit, label, rep = results["unit"], results["label"], results["reported"]
    m, k = np.asarray(median_draws).ravel(), np.asarray(shape_draws).ravel()
    t_max = max(
        [3 * float(np.median(m)), *results["survival_times"]]
        + [lm["time"] * 1.1 for lm in rep["landmarks"]]
    )
    t = np.linspace(0, t_max, 200)
    surv = weibull_survival(t[:, None], m[None, :], k[None, :])
    lo, mid, hi = np.quantile(surv, [INTERVAL_TAILS[0], 0.5, INTERVAL_TAILS[1]], axis=1)
    ax.fill_between(t, lo, hi, alpha=0.3, color="C0", label=f"Weibull, {PERCENT} credible band")
    ax.plot(t, mid, color="C0", label="Weibull, posterior median")
    med = rep["median"]
    ci = rep["ci95"] or [None, None]
    if isinstance(med, int | float):
        left = med - ci[0] if ci[0] is not None else 0
        right = ci[1] - med if ci[1] is not None else 0
        ax.errorbar(
            [med],
            [0.5],
            xerr=[[left], [right]],
            fmt="o",
            color="C3",
            capsize=4,
            label=f"reported median ({unit}), CI",
        )
    for i, lm in enumerate(rep["landmarks"]):
        s = lm["percent"] / 100
        yerr = None
        if lm["ci_percent"] is not None:
            yerr = [[s - lm["ci_percent"][0] / 100], [lm["ci_percent"][1] / 100 - s]]
        ax.errorbar(
            [lm["time"]],
            [s],
            yerr=yerr,
            fmt="s",
            color="C2",
            capsize=4,
            label="reported landmark, CI" if i == 0 else None,
        )
    patient = results.get("patient_data")
    if patient is not None:
        curve = patient["km_curve"]
        ax.step(
            np.r_[0, curve["time"]],
            np.r_[1, curve["survival"]],
            where="post",
            color="k",
            lw=1,
            label="Kaplan-Meier (patient data)",
        )
    ax.set_xlabel(f"time ({unit})")
    ax.set_ylabel(f"{label.lower()}: probability event-free")
    ax.set_ylim(0, 1.02)
    ax.set_xlim(0, t_max)
    ax.legend(fontsize=8)
    return fig


def plot_forest(results: Mapping[str, Any], *, ax: Any = None) -> Figure:
    """Posterior median and interval of the median (unit) and the shape, per prior and per
    assumption scenario (the primary scenario is the prior rows)."""
    rows = [(f"prior {n}", p) for n, p in results["posterior"].items()]
    rows += [
        (label, sc["posterior"])
        for label, sc in (results.get("scenarios") or {}).items()
        if not sc["primary"]
    ]
    if ax is None:
        fig, axes = plt.subplots(
            1, 2, figsize=(9, 0.28 * len(rows) + 1.4), sharey=True, layout="constrained"
        )
    else:
        fig, axes = ax.figure, ax
    y = np.arange(len(rows))[::-1]
    unit = results["unit"]
    for axis, key, title in (
        (axes[0], "median", f"median {results['label'].lower()} ({unit})"),
        (axes[1], "shape", "Weibull shape k"),
    ):
        for yi, (_, p) in zip(y, rows, strict=True):
            axis.plot(p[key]["ci95"], [yi, yi], color="C0")
            axis.plot(p[key]["median"], yi, "o", color="C0", ms=4)
        axis.set_title(title, fontsize=9)
        axis.set_xlabel(f"posterior median, {PERCENT} interval")
    axes[1].axvline(1.0, color="grey", ls=":", lw=1)
    axes[0].set_yticks(y, [r[0] for r in rows], fontsize=7)
    pa = results.get("primary_assumptions")
    if pa is not None and results.get("summary_pattern"):
        fig.suptitle(
            f"primary assumptions: {pa['transform']}, n={pa['n_at_risk']}, censored "
            f"{pa['censoring'][0]:.0%}-{pa['censoring'][1]:.0%}",
            fontsize=8,
        )
    return fig


# ---------------------------------------------------------------------------------------------
# what the report's tables and figures say they show
# ---------------------------------------------------------------------------------------------


def estimate_kinds_of(comparison: pd.DataFrame) -> list[str]:
    """What each comparison row's estimate is: published; maximum likelihood (frequentist rows);
    posterior mean (survival at a time); posterior median (the median and the shape)."""
    kinds = []
    for side, quantity in zip(comparison["side"], comparison["quantity"], strict=True):
        if side == "reported":
            kinds.append("published")
        elif side == "frequentist":
            kinds.append("maximum likelihood")
        elif str(quantity).startswith("survival at"):
            kinds.append("posterior mean")
        else:
            kinds.append("posterior median")
    return kinds


def lognormal_prior_ess(
    log_median_sd: float, log_shape_mu: float, log_shape_sd: float
) -> tuple[float, float, float]:
    """ESS in patients of independent normal priors on (log median, log shape), by the definition
    of the follow-up priors (:mod:`analysis.planning.followup`): with I1 the information of one
    uncensored Weibull observation at the prior's central shape exp(log_shape_mu),
    ESS = sqrt(det(I1^-1) / det(Cov)) and per parameter (I1^-1)_jj / Var_j.

    Returns: (overall, median, shape)."""
    inv1 = np.linalg.inv(weibull_unit_information(float(np.exp(log_shape_mu))))
    var = np.array([log_median_sd**2, log_shape_sd**2])
    overall = float(np.sqrt(np.linalg.det(inv1) / np.prod(var)))
    each = np.diag(inv1) / var
    return overall, float(each[0]), float(each[1])


def priors_table_of(results: Mapping[str, Any]) -> pd.DataFrame:
    """The analysis priors of a time-to-event endpoint (independent normals on log median and
    log shape), with their ESS (:func:`lognormal_prior_ess`)."""
    rows = []
    for name, p in results["priors"].items():
        q = p["parameters"]
        try:
            overall, med, shape = lognormal_prior_ess(
                q["log_median_sd"], q["log_shape_mu"], q["log_shape_sd"]
            )
            ess = f"{overall:.2g} (median {med:.2g}, shape {shape:.2g})"
        except KeyError:  # a family without these parameters: no ESS by this definition
            ess = ""
        rows.append(
            [
                name,
                "yes" if name == results["primary_prior"] else "no",
                "normal on log median and log shape",
                parameters_text(q),
                ess,
                p["rationale"],
            ]
        )
    return pd.DataFrame(rows, columns=PRIORS_TABLE_COLUMNS)


def captions_of(result: EndpointResult) -> dict[str, str]:
    """A sentence per figure saying what it shows."""
    results = result.results
    label, unit, rep = results["label"].lower(), results["unit"], results["reported"]
    marks = []
    if isinstance(rep["median"], int | float):
        marks.append("red: the published median and its CI (at survival 0.5)")
    if rep["landmarks"]:
        marks.append("green squares: the published landmark rates and CIs")
    if results.get("patient_data") is not None:
        marks.append("black steps: the Kaplan-Meier curve of the patient data")
    key = result.name
    return {
        f"{key}_survival": (
            f"Posterior {label} curve of the Weibull model under the primary "
            f"'{results['primary_prior']}' prior: pointwise posterior median (line) and "
            f"{PERCENT} credible band (from the MCMC draws), times in {unit}"
            + (f"; {'; '.join(marks)}." if marks else ".")
        ),
        f"{key}_forest": (
            f"Posterior median (point) and {PERCENT} credible interval (bar) of the median "
            f"{label} ({unit}, left) and the Weibull shape k (right), under each prior and under "
            "each assumption scenario with the primary prior (exact where the tables say so, by "
            "quadrature); dotted line: k = 1 (a constant hazard)."
        ),
    }


def present(result: EndpointResult, loaded: LoadedTrial | None = None) -> None:
    """Fill ``result.sentences``, ``result.assumptions``, ``result.figures`` (named
    ``<key>_survival`` and ``<key>_forest``), their captions, the estimate kinds and the priors
    table from its numbers."""
    results = result.results
    result.sentences = sentences_of(results)
    result.assumptions = assumptions_of(results)
    result.estimate_kinds = estimate_kinds_of(result.comparison)
    result.sensitivity_estimate = "posterior median"
    if results.get("priors"):
        result.priors_table = priors_table_of(results)
    if not results["analysed"]:
        return
    idata = result.posteriors.get(result.primary_posterior or "")
    if idata is not None:
        result.figures[f"{result.name}_survival"] = plot_survival(
            idata.posterior[MEDIAN].values, idata.posterior[SHAPE].values, results
        )
    result.figures[f"{result.name}_forest"] = plot_forest(results)
    result.captions = {k: v for k, v in captions_of(result).items() if k in result.figures}
