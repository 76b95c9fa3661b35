"""Words and figures of a comparison endpoint (events between the two groups of a grouping).

:func:`present` fills an :class:`~analysis.endpoints.base.EndpointResult` of
:func:`analysis.endpoints.comparison.analyse_comparisons` with its sentences, assumptions and
figures, from the numbers of ``result.results`` alone (the analysis computes, this module words
and draws). Group names, the grouping's label and each event's label come from the trial file;
directions are worded from the numbers: P(OR > 1) is the probability that the event is more
frequent in the exposed group, P(OR < 1) in the reference group, whichever the report named.
Bayes factors are worded on the Kass and Raftery scale (:mod:`analysis.report.wording`).
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import pandas as pd
from matplotlib.axes import Axes
from matplotlib.figure import Figure

from trial_reanalysis.analysis.constants import INTERVAL_LEVEL
from trial_reanalysis.analysis.endpoints.base import PRIORS_TABLE_COLUMNS
from trial_reanalysis.analysis.endpoints.comparison import (
    FALLBACK_ASSUMPTION,
    FALLBACK_METHOD,
    FALLBACK_ROW_METHOD,
)
from trial_reanalysis.analysis.report.wording import (
    KASS_RAFTERY_SCALE,
    bayes_factor_words,
    format_probability,
    parameters_text,
)
from trial_reanalysis.models import comparison as _quad  # the quadrature rule's constants

TEST_NAMES = {"fisher": "Fisher's exact test", "chi2": "the chi-square test"}
#: What the estimate of a row is: exact (quadrature) or the MCMC fit's where the quadrature failed
#: (the report shows each kind in its own table, headed by it).
EXACT_KIND = "exact posterior median (quadrature)"
FALLBACK_KIND = "MCMC posterior median (quadrature failed: not exact)"
#: Words inserted after "the posterior median OR" when the numbers are the MCMC fit's.
FALLBACK_WORDS = "from the MCMC fit (not exact: the quadrature failed its checks)"


def is_exact(posterior: dict[str, Any]) -> bool:
    """Whether a posterior of results.json is the exact one (not the MCMC fit reported where the
    quadrature failed its checks)."""
    return posterior.get("method") != FALLBACK_METHOD


def p_text(reported: dict[str, Any]) -> str:
    """The reported P as a reader sees it: "P = .03", "P < .001", "P > .05", "P not significant
    (threshold 0.05)" or "P not published"."""
    printed, relation = reported.get("p_value"), reported.get("relation")
    if printed is None:
        return "P not published"
    if relation == "NS":
        return f"P not significant (threshold {reported['p_value_number']:g})"
    if isinstance(printed, int | float):
        return f"P = {printed:g}"
    text = str(printed).strip()
    for prefix in ("P", "p"):
        text = text.removeprefix(prefix).strip()
    return f"P {text}"


def direction_text(reported: dict[str, Any]) -> str:
    """ "more frequent in <group>", or "direction not published"."""
    group = reported.get("more_frequent_in")
    return f"more frequent in {group}" if group else "direction not published"


def posterior_sentence(
    label: str,
    reported: dict[str, Any],
    prior: str,
    posterior: dict[str, Any],
    data_text: str,
    exposed: str,
    reference: str,
) -> str:
    """The posterior of one event's OR in words: median, credible interval, and both tail
    probabilities, each with the group it favours (P(OR > 1) first); numbers of the MCMC fit
    (the quadrature failed) are said to be so."""
    odds = posterior["odds_ratio"]
    lo, hi = odds["ci95"]
    source = "" if is_exact(posterior) else f" {FALLBACK_WORDS}"
    return (
        f"{label} (reported {p_text(reported)}, {direction_text(reported)}; data: {data_text}): "
        f"under the '{prior}' prior the posterior median OR ({exposed} vs {reference}){source} is "
        f"{odds['median']:.2f} ({INTERVAL_LEVEL:.0%} credible interval {lo:.2f}-{hi:.2f}); "
        f"P(OR > 1) = {format_probability(posterior['p_or_above_1'])} (more frequent in "
        f"{exposed}) and P(OR < 1) = {format_probability(posterior['p_or_below_1'])} (more "
        f"frequent in {reference})."
    )


def evidence_sentence(
    reported: dict[str, Any],
    side: str | None,
    prior_text: str,
    bf_prior: float,
    bf_side: float | None,
    bf_max: float,
    or_at_max: float | None,
    sbb: float | None,
    *,
    counted: bool = False,
) -> str:
    """The evidence of one report in words, from its values (thresholds: Kass and Raftery, in
    :mod:`analysis.report.wording`); every comparison with the SBB value is computed, not
    assumed. ``side`` is "OR > 1" or "OR < 1" (the reported side) or None (none reported)."""
    what = "the published table" if counted else "the report"
    where = f" at OR = {or_at_max:.3g}" if or_at_max is not None else " as the OR grows"
    text = (
        f"Under its own likelihood {what} gives a Bayes factor of {bf_prior:.3g} for an effect "
        f"({prior_text} prior on the log OR) against no effect (OR = 1), "
        f"{bayes_factor_words(bf_prior)}"
    )
    if side is not None and bf_side is not None:
        text += f"; with that prior restricted to {side}, the side the report names, {bf_side:.3g}"
    text += (
        f"; no prior could give more than {bf_max:.3g} (the likelihood ratio{where}: at most "
        f"{bayes_factor_words(bf_max)})."
    )
    if sbb is None:
        return text

    def relation(value: float) -> str:
        return "above" if value > sbb else "below" if value < sbb else "equal to"

    at = f"P = {reported['p_value_number']:g}"
    if reported.get("relation") not in (None, "="):
        at += f" (the limit of the printed {p_text(reported)})"
    return text + (
        f" The Sellke-Bayarri-Berger calibration of a continuous two-sided {at}, {sbb:.3g}, is "
        f"not a bound for this {'binomial' if counted else 'discrete, directional'} report: its "
        f"primary Bayes factor is {relation(bf_prior)} it and its maximum {relation(bf_max)} it."
    )


def frequentist_sentence(frequentist: dict[str, Any], reported: dict[str, Any]) -> str:
    """What the published table's own P values are, and which test reproduces the printed P."""
    t = frequentist["table"]
    table = f"{t['exposed_events']}/{t['n_exposed']} vs {t['reference_events']}/{t['n_reference']}"
    text = (
        f"The published table {table} has a two-sided Fisher exact P of "
        f"{frequentist['p_value_fisher']:.3g} and a chi-square P of "
        f"{frequentist['p_value_chi2']:.3g}"
    )
    matches = frequentist.get("reproduces_reported_p")
    if matches is None:
        return text + "; no P value was printed."
    names = [TEST_NAMES[k] for k, ok in matches.items() if ok]
    return (
        text
        + f"; the printed {p_text(reported)} "
        + (f"matches {' and '.join(names)}." if names else "matches neither.")
    )


def scale_sentence() -> str:
    """The Bayes factors' meaning and the Kass-Raftery words, from the one table of thresholds."""
    limits = [limit for limit, _ in KASS_RAFTERY_SCALE]
    parts = []
    for i, (limit, words) in enumerate(KASS_RAFTERY_SCALE):
        span = f"{limit:g}-{limits[i + 1]:g}" if i + 1 < len(limits) else f"above {limit:g}"
        parts.append(f"{span} {words}")
    return (
        "Each Bayes factor compares the probability of the report (or of the published counts) "
        "under an effect with its probability under OR = 1, the baseline rate integrated over its "
        "prior; the maximum likelihood ratio is the largest Bayes factor any prior on the log OR "
        f"can give. Words follow Kass and Raftery (1995): {', '.join(parts)} (the same for 1 / "
        "BF, for no effect)."
    )


def _data_text(event: dict[str, Any]) -> str:
    if event["data"] == "published counts":
        t = event["frequentist"]["table"]
        return (
            f"the published counts {t['exposed_events']}/{t['n_exposed']} vs "
            f"{t['reference_events']}/{t['n_reference']}"
        )
    n = len(event["compatible_tables"])
    return f"{n} compatible (split, table) pair{'s' if n != 1 else ''}"


def key_finding_sentence(results: dict[str, Any]) -> str:
    """The endpoint's key finding, its first sentence: the event whose primary Bayes factor
    against OR = 1 is furthest from 1 (|log BF| largest, either direction), with that Bayes factor
    in Kass-Raftery words and the posterior probability of the side its median lies on; without
    Bayes factors, the event with the largest such posterior probability."""
    g = results["grouping"]
    exposed, reference = g["exposed"]["name"], g["reference"]["name"]
    fitted = [
        e for e in results["events"].values() if e["posterior"].get(e["primary_prior"]) is not None
    ]
    if not fitted:
        return (
            f"No event by {g['label']} could be analysed: no 2x2 table reproduces the reports "
            "under these assumptions."
        )

    def side(e: dict[str, Any]) -> tuple[str, float, str]:
        post = e["posterior"][e["primary_prior"]]
        if post["p_or_above_1"] >= post["p_or_below_1"]:
            return "P(OR > 1)", post["p_or_above_1"], exposed
        return "P(OR < 1)", post["p_or_below_1"], reference

    with_bf = [e for e in fitted if e["bayes_factor_primary_vs_null"] is not None]
    if with_bf:
        best = max(with_bf, key=lambda e: abs(math.log(e["bayes_factor_primary_vs_null"])))
    else:
        best = max(fitted, key=lambda e: side(e)[1])
    name, prob, group = side(best)
    p = best["priors"][best["primary_prior"]]["parameters"]
    text = f"Of the {len(results['events'])} event(s) compared by {g['label']}, " + (
        "the strongest evidence concerns " if with_bf else "the clearest difference concerns "
    )
    text += (
        f"{best['label']} (reported {p_text(best['reported'])}, {direction_text(best['reported'])})"
    )
    if with_bf:
        bf = best["bayes_factor_primary_vs_null"]
        text += (
            f": a Bayes factor of {bf:.3g} for an effect against OR = 1 under the "
            f"N({p['log_or_mu']:g}, {p['log_or_sigma']:g}) prior on the log OR, "
            f"{bayes_factor_words(bf)}"
        )
    post = best["posterior"][best["primary_prior"]]
    return text + (
        f"; {name} = {format_probability(prob)} (more frequent in {group}) under the "
        f"'{best['primary_prior']}' prior" + ("." if is_exact(post) else f", {FALLBACK_WORDS}.")
    )


def sentences(results: dict[str, Any]) -> list[str]:
    """Every sentence of a comparison endpoint, from its results dict; the first is the key
    finding (:func:`key_finding_sentence`), the second says what the odds ratios compare."""
    g = results["grouping"]
    exposed, reference = g["exposed"]["name"], g["reference"]["name"]
    out: list[str] = [
        key_finding_sentence(results),
        f"Odds ratios compare the groups of {g['label']}: odds of the event in {exposed} over "
        f"odds in {reference} (OR > 1: more frequent in {exposed}).",
    ]
    for event in results["events"].values():
        rep, prior = event["reported"], event["primary_prior"]
        post = event["posterior"][prior]
        if post is None:
            out.append(
                f"{event['label']}: no 2x2 table under {event['scenario']} reproduces the reported "
                f"{p_text(rep)} ({direction_text(rep)}); the report is inconsistent with these "
                "assumptions."
            )
            continue
        counted = event["data"] == "published counts"
        out.append(
            posterior_sentence(
                event["label"], rep, prior, post, _data_text(event), exposed, reference
            )
        )
        if counted:
            out.append(frequentist_sentence(event["frequentist"], rep))
        if event["bayes_factor_primary_vs_null"] is not None:
            p = event["priors"][prior]["parameters"]
            side = {"exposed": "OR > 1", "reference": "OR < 1", None: None}[rep["direction"]]
            out.append(
                evidence_sentence(
                    rep,
                    side,
                    f"N({p['log_or_mu']:g}, {p['log_or_sigma']:g})",
                    event["bayes_factor_primary_vs_null"],
                    event["bayes_factor_reported_side_vs_null"],
                    event["bayes_factor_max"],
                    event["odds_ratio_at_max"],
                    event["sbb_calibration"],
                    counted=counted,
                )
            )
    check = mcmc_check_sentence(results)
    if check is not None:
        out.append(check)
    failed = quadrature_failed_sentence(results)
    if failed is not None:
        out.append(failed)
    out.append(scale_sentence())
    return out


def mcmc_check_sentence(results: dict[str, Any]) -> str | None:
    """Which posterior numbers are exact, and the MCMC check beside them: the largest |z| of the
    fits' log OR mean and quantiles against the exact ones, and any (event, prior) beyond the
    limit. None when no event has a posterior."""
    zs: dict[tuple[str, str], float] = {}
    limit = None
    for key, event in results["events"].items():
        for name, post in event["posterior"].items():
            check = (post or {}).get("mcmc_check")
            if check is None:
                continue
            limit = check["z_limit"]
            zs[(key, name)] = max(
                abs(check["z_mean"]), abs(check["z_median"]), *map(abs, check["z_ci95"])
            )
    if not zs:
        return None
    worst = max(zs.values())
    off = [f"{key} ('{name}')" for (key, name), z in zs.items() if z >= limit]
    exact = (
        "The posterior odds ratios, intervals and probabilities above are exact (1-D quadrature "
        "over the log OR, no sampling error)"
        + (" except those the next sentence names" if _fallbacks(results) else "")
        + "; "
    )
    if not off:
        return exact + (
            "the MCMC fit of each event and prior agrees with them: log OR mean, median and "
            f"{INTERVAL_LEVEL:.0%} limits within {limit:g} Monte Carlo standard errors (largest "
            f"|z| = {worst:.2f})."
        )
    return exact + (
        f"the MCMC fit differs from them by more than {limit:g} Monte Carlo standard errors for "
        f"{', '.join(off)} (largest |z| = {worst:.2f})."
    )


def _fallbacks(results: dict[str, Any]) -> list[tuple[str, str]]:
    """(event key, prior) of every posterior reported from its MCMC fit (quadrature failed)."""
    return [
        (key, name)
        for key, event in results["events"].items()
        for name, post in event["posterior"].items()
        if post is not None and not is_exact(post)
    ]


def quadrature_failed_sentence(results: dict[str, Any]) -> str | None:
    """The (event, prior) whose quadrature failed its own checks, so that their numbers are the
    MCMC fit's (whether that fit passed its diagnostic gates), not exact ones; None when every
    posterior is exact."""
    failed = _fallbacks(results)
    if not failed:
        return None
    events = results["events"]
    names = "; ".join(f"{events[key]['label']} ('{name}')" for key, name in failed)
    gates = [(events[key]["diagnostics"].get(name) or {}).get("passed") for key, name in failed]
    passed = (
        "which passed its diagnostic gates"
        if all(gates)
        else "which did NOT pass every diagnostic gate"
    )
    return (
        f"Under {names} the quadrature did not meet its own checks (edge mass, refinement), so "
        f"the numbers reported there are the MCMC fit's ({passed}; Monte Carlo error, and the "
        "model's 41-node baseline rule and tabulated likelihood), not exact ones."
    )


#: How the sensitivity rows are computed (the assumptions list and the sensitivity table say it).
QUADRATURE_SENTENCE = (
    "The posteriors and the sensitivity rows (every test x split assumption x prior) are exact: "
    "the posterior of the "
    "log OR by 1-D quadrature of prior x the report's likelihood (baseline integrated on a finer "
    "rule, error near 1e-8), no sampling. Its bounds are found by a scan of the log posterior "
    f"and hold all but {_quad.QUADRATURE_EDGE_MASS:.0e} of the mass (checked on the grid's "
    "edges, widened otherwise); the likelihood is computed on a lattice of step at most "
    f"{_quad.QUADRATURE_STEP:g} and interpolated (cubic Hermite), and halving the step changes "
    f"no summary by more than {_quad.QUADRATURE_RTOL:.0e} relative (refined otherwise). "
    "The primary scenario's posteriors are computed the same way; an MCMC fit per prior stands "
    "beside them as the check, and its draws weigh the compatible tables."
)


#: What a quadrature that fails its checks leaves (the assumptions list says it when one failed).
FALLBACK_SENTENCE = (
    "Where a quadrature did not meet its checks, no number is reported as exact from it: under "
    "the primary scenario the MCMC fit of the same prior and report likelihood is reported "
    "instead and flagged (it targets the same posterior, up to Monte Carlo error and the "
    "model's 41-node baseline rule and tabulated likelihood, errors near 1e-5 and 1e-7); under "
    "another scenario, which has no MCMC fit, the sensitivity row is left out."
)


def assumption_sentences(results: dict[str, Any]) -> list[str]:
    """The assumptions of a comparison endpoint in words, from its results dict."""
    g, a = results["grouping"], results["assumptions"]
    exposed, reference = g["exposed"]["name"], g["reference"]["name"]
    primary_test, primary_split = a["primary_test"], a["primary_split"]
    labels = a["scenarios"]
    other_tests = sorted({s.split(", ")[0] for s in labels} - {primary_test})
    other_splits = [
        s.split(", ", 1)[1]
        for s in labels
        if s.startswith(f"{primary_test}, ") and s.split(", ", 1)[1] != primary_split
    ]
    test_origin = "published" if g["test"] is not None else "assumed"
    out = [
        f"The test behind the P values by {g['label']} is {primary_test} ({test_origin}; "
        "two-sided; chi-square means Pearson's test without continuity correction)"
        + (f"; {', '.join(other_tests)} is a sensitivity analysis." if other_tests else "."),
        f"The split of the {a['enrolled']} patients between {exposed} and {reference} is "
        f"{primary_split} (patients in {exposed} / in {reference})"
        + (f"; sensitivity: {', '.join(other_splits)}." if other_splits else "."),
        "A printed P value stands for the half-open interval of unrounded P values it allows: "
        "'= .03' means [0.025, 0.035), '< .001' means [0, 0.001), '> .05' and 'NS' mean "
        "[0.05, 1] (with the paper's threshold); a table reproduces a report when its P lies in "
        "that interval and it points the reported way (either way when no direction was "
        "published).",
    ]
    if g["exposed"]["n"] is None or g["reference"]["n"] is None:
        if g["exposed"]["n"] is not None or g["reference"]["n"] is not None:
            out.append(
                "One group size was published: the groups are taken to cover all enrolled "
                "patients (as the split prior assumes), so the other group holds the rest; a "
                "sensitivity scenario lets up to a fifth of the rest belong to neither group."
            )
    events = results["events"]
    if len(events) > 1:
        out.append(
            "The events are modelled independently of one another, each with the split "
            "marginalised in its own likelihood (DESIGN.md 4.3); in fact they share one split."
        )
    first = next(iter(events.values()))
    base = first["priors"][first["primary_prior"]]["parameters"]
    out.append(
        f"The baseline event rate (log-odds Normal({base['baseline_mu']:g}, "
        f"{base['baseline_sigma']:g}) in {reference}) is integrated out numerically (41-node "
        "rule, error below 1e-5 for about 50 patients) and each report's likelihood of the log OR "
        "is tabulated on -12..12 and interpolated (error about 1e-7 in log-likelihood) for the "
        "MCMC fits."
    )
    out.append(QUADRATURE_SENTENCE)
    if _fallbacks(results) or any(e.get("sensitivity_skipped") for e in events.values()):
        out.append(FALLBACK_SENTENCE)
    for event in events.values():
        for skipped in event.get("sensitivity_skipped") or []:
            out.append(f"Sensitivity row not analysed ({event['label']}): {skipped}.")
    seen: set[str] = set()
    for event in events.values():
        for name, prior in event["priors"].items():
            text = f"Prior '{name}' ({event['label']}): {prior['rationale']}."
            generic = f"Prior '{name}': {prior['rationale']}."
            if generic in seen or text in seen:
                continue
            shared = all(
                e["priors"].get(name, {}).get("rationale") == prior["rationale"]
                for e in events.values()
            )
            seen.add(generic if shared else text)
            out.append(generic if shared else text)
    return out


def _short(event: dict[str, Any], limit: int = 28) -> str:
    label = event["label"]
    return label if len(label) <= limit else label[: limit - 1] + "…"


def plot_forest(results: dict[str, Any], ax: Axes | None = None) -> Figure:
    """Forest plot of the posterior OR (median, 95 % interval) per event and prior, log scale,
    with the group names of the file on the axis."""
    events = results["events"]
    fig = Figure(figsize=(7.0, 1.2 + 0.9 * len(events))) if ax is None else ax.figure
    ax = ax or fig.add_subplot()
    priors = list(dict.fromkeys(name for e in events.values() for name in e["posterior"]))
    y = 0.0
    ticks, labels = [], []
    for event in events.values():
        for i, name in enumerate(priors):
            s = event["posterior"].get(name)
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
                markerfacecolor=f"C{i}" if is_exact(s) else "white",
                label=name if name not in ax.get_legend_handles_labels()[1] else None,
            )
        ticks.append(y - 0.15 * (len(priors) - 1))
        labels.append(f"{_short(event)}\n({p_text(event['reported'])})")
        y -= 1.0
    g = results["grouping"]
    ax.axvline(1.0, color="grey", ls="--", lw=1)
    ax.set_xscale("log")
    ax.set_yticks(ticks, labels, fontsize="small")
    ax.set_xlabel(
        f"odds ratio, {g['exposed']['name']} vs {g['reference']['name']} "
        f"(median, {INTERVAL_LEVEL:.0%} CrI)"
    )
    ax.set_title(f"Events by {g['label']}", fontsize="medium")
    if priors:
        ax.legend(title="prior", fontsize="small")
    fig.tight_layout()
    return fig


EVIDENCE_BARS = (
    ("bayes_factor_primary_vs_null", "own likelihood, primary prior", "C0", None),
    ("bayes_factor_max", "own likelihood, largest any prior allows", "C1", None),
    ("sbb_calibration", "SBB calibration, continuous two-sided P", "lightgrey", "//"),
)


def plot_evidence(results: dict[str, Any], ax: Axes | None = None) -> Figure:
    """Per event, the Bayes factors for an effect against OR = 1 (log scale): under the report's
    own likelihood with the primary prior, the largest any prior allows (maximum likelihood
    ratio), and the Sellke-Bayarri-Berger calibration of a continuous two-sided P (hatched: a
    different model, shown for comparison). Dotted lines: the Kass-Raftery thresholds."""
    events = list(results["events"].values())
    fig = Figure(figsize=(7.0, 4.0), layout="constrained") if ax is None else ax.figure
    ax = ax or fig.add_subplot()
    primaries = sorted({e["primary_prior"] for e in events})
    width = 0.8 / len(EVIDENCE_BARS)
    x = np.arange(len(events))
    for i, (field, label, colour, hatch) in enumerate(EVIDENCE_BARS):
        values = [e.get(field) for e in events]
        values = [np.nan if v is None else v for v in values]
        pos = x + (i - (len(EVIDENCE_BARS) - 1) / 2) * width
        if i == 0:
            label = f"{label} '{', '.join(primaries)}'"
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
    finite = [v for e in events for f, *_ in EVIDENCE_BARS if (v := e.get(f)) is not None and v > 0]
    top = max([*finite, KASS_RAFTERY_SCALE[2][0]])
    bottom = min([*finite, 1.0])
    ax.set_ylim(min(0.5, bottom / 2), top * 3)
    ax.set_xticks(x, [f"{_short(e, 20)}\n{p_text(e['reported'])}" for e in events])
    g = results["grouping"]
    ax.set_ylabel("Bayes factor, effect vs OR = 1")
    ax.set_title(
        f"Evidence of each report: {g['exposed']['name']} vs {g['reference']['name']}",
        fontsize="medium",
    )
    ax.legend(fontsize="x-small", loc="upper right")
    return fig


_FALLBACK_ROW_PREFIX = FALLBACK_ROW_METHOD.partition("{")[0]


def estimate_kinds_of(comparison: pd.DataFrame) -> list[str]:
    """What each comparison row's estimate is: published (the P value only), the conditional
    maximum-likelihood OR (frequentist rows), a Bayes factor, the posterior median OR, or the
    MCMC fit's where the quadrature failed."""
    kinds = []
    methods = comparison["method"] if "method" in comparison else [""] * len(comparison)
    rows = zip(comparison["side"], comparison["quantity"], methods, strict=True)
    for side, quantity, method in rows:
        if side == "reported":
            kinds.append("published")
        elif str(quantity).startswith("Bayes factor"):
            kinds.append("Bayes factor")
        elif side == "frequentist":
            kinds.append("conditional maximum likelihood")
        elif str(method).startswith(_FALLBACK_ROW_PREFIX):
            kinds.append(FALLBACK_KIND)
        else:
            kinds.append("posterior median")
    return kinds


def sensitivity_kinds_of(sensitivity: pd.DataFrame) -> list[str]:
    """What each sensitivity row's estimate is: the exact posterior median, or the MCMC fit's
    where the quadrature failed (``assumption`` :data:`FALLBACK_ASSUMPTION`)."""
    return [
        FALLBACK_KIND if a == FALLBACK_ASSUMPTION else EXACT_KIND for a in sensitivity["assumption"]
    ]


def log_or_prior_ess(sigma: float) -> float:
    """ESS in patients of a Normal(mu, sigma) prior on a log OR, by the follow-up priors'
    definition at event rate 0.5 (a lower bound): 4 / (p (1 - p) sigma^2) = 16 / sigma^2."""
    return 4.0 / (0.25 * sigma**2)


def priors_table_of(results: dict[str, Any]) -> pd.DataFrame:
    """The analysis priors of a comparison (the log OR and the baseline log-odds), one row per
    prior and, where the events' priors differ, per event."""
    rows: list[list[str]] = []
    seen: set[tuple] = set()
    events = list(results["events"].values())
    for e in events:
        for name, p in e["priors"].items():
            q = p["parameters"]
            shared = all(x["priors"].get(name) == p for x in events)
            label = name if shared or len(events) == 1 else f"{name} ({e['label']})"
            if (label, repr(q)) in seen:
                continue
            seen.add((label, repr(q)))
            rows.append(
                [
                    label,
                    "yes" if name == e["primary_prior"] else "no",
                    "normal on the log OR; normal on the baseline log-odds",
                    parameters_text(q),
                    f"{log_or_prior_ess(q['log_or_sigma']):.3g} (log OR)",
                    p["rationale"],
                ]
            )
    return pd.DataFrame(rows, columns=PRIORS_TABLE_COLUMNS)


def captions_of(results: dict[str, Any]) -> dict[str, str]:
    """A sentence per figure saying what it shows."""
    g = results["grouping"]
    key, pair = g["key"], f"{g['exposed']['name']} vs {g['reference']['name']}"
    limits = ", ".join(f"{limit:g}" for limit, _ in KASS_RAFTERY_SCALE[1:])
    return {
        f"{key}_forest": (
            f"Posterior median odds ratio ({pair}; point) and {INTERVAL_LEVEL:.0%} equal-tailed "
            "credible interval (bar) of each event under each prior, log scale, with the "
            "reported P beside each event; dashed line: OR = 1 (no difference)."
            + (
                " Hollow points: the MCMC fit's numbers, where the quadrature failed (not exact)."
                if _fallbacks(results)
                else ""
            )
        ),
        f"{key}_evidence": (
            f"Bayes factors for an effect against OR = 1 ({pair}) of each event, log scale: under "
            "the report's own likelihood with the primary prior (blue), the largest any prior "
            "allows (the maximum likelihood ratio; orange), and the Sellke-Bayarri-Berger "
            "calibration of a continuous two-sided P (hatched; a different model, for "
            f"comparison); dotted lines: the Kass-Raftery thresholds {limits}; solid: BF = 1."
        ),
    }


def present(result: Any, loaded: Any = None) -> None:
    """Fill ``result.sentences``, ``result.assumptions``, ``result.figures`` (stems prefixed
    with the grouping's key, unique in a run), their captions, the estimate kinds and the priors
    table from ``result.results``."""
    results = result.results
    key = results["grouping"]["key"]
    result.sentences = sentences(results)
    result.assumptions = assumption_sentences(results)
    result.figures = {
        f"{key}_forest": plot_forest(results),
        f"{key}_evidence": plot_evidence(results),
    }
    result.captions = captions_of(results)
    result.estimate_kinds = estimate_kinds_of(result.comparison)
    result.sensitivity_estimate = EXACT_KIND
    result.sensitivity_kinds = sensitivity_kinds_of(result.sensitivity)
    result.priors_table = priors_table_of(results)
