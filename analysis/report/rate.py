"""Words and figures of a rate endpoint, from the numbers of its result alone (issue 12 item 8).

:func:`present` fills ``result.sentences``, ``result.assumptions`` and ``result.figures`` of a
rate analysed by :func:`~trial_reanalysis.analysis.endpoints.rate.analyse_rate`, and adds to its
follow-up priors the effective sample size without the analysis prior's own information when
the run has not (issue 13 item 4). Every sentence is built by a function of plain values below,
with its thresholds in :mod:`~trial_reanalysis.analysis.report.wording` (Bayes-factor scale,
probability format, closeness tolerance), so the words can be tested on numbers.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import pandas as pd
from matplotlib.axes import Axes
from matplotlib.figure import Figure

from trial_reanalysis.analysis.constants import INTERVAL_LEVEL
from trial_reanalysis.analysis.endpoints.base import PRIORS_TABLE_COLUMNS, EndpointResult
from trial_reanalysis.analysis.reconstruction.rate_report import BetaMixtureDistribution
from trial_reanalysis.analysis.report import plots
from trial_reanalysis.analysis.report.wording import (
    RATE_CLOSENESS,
    agreement_words,
    bayes_factor_words,
    closeness_words,
    direction_words,
    format_bayes_factor,
    format_probability,
    parameters_text,
)
from trial_reanalysis.analysis.trials.load import LoadedTrial

LEVEL = f"{100 * INTERVAL_LEVEL:g} %"
#: Counts named one by one in a sentence at most (the rest are in the candidates table).
MAX_NAMED_COUNTS = 4
#: Largest MCMC-exact |z| the check accepts (3 Monte Carlo standard errors).
MCMC_Z_LIMIT = 3.0


def _pct(v: float) -> str:
    return f"{100 * v:.1f} %"


def _pp(v: float) -> str:
    return f"{100 * v:.1f} percentage points"


def _interval(ci: Sequence[float]) -> str:
    return f"{100 * ci[0]:.1f}-{100 * ci[1]:.1f} %"


def _rate(p: float) -> str:
    """A design rate as written: 0.05 -> "5 %", 0.025 -> "2.5 %"."""
    return f"{100 * p:g} %"


def printed_report(rep: Mapping[str, Any]) -> str:
    """The printed estimate and CI as published (their own decimals): "9.6 % (5-17 %)"."""
    if rep["estimate_percent"] is None:
        return "the counts"
    out = f"{rep['estimate_percent']:.{rep['decimals']}f} %"
    if rep["ci_percent"] is not None:
        d = rep["ci_decimals"]
        lo, hi = rep["ci_percent"]
        out += f" ({lo:.{d}f}-{hi:.{d}f} %)"
    return out


def printed_ci(rep: Mapping[str, Any]) -> str:
    """The printed CI as published: "5-17 %"."""
    d = rep["ci_decimals"]
    lo, hi = rep["ci_percent"]
    return f"{lo:.{d}f}-{hi:.{d}f} %"


def _noun(label: str) -> str:
    """A label inside a sentence: first letter lowered unless it starts an acronym ("ORR")."""
    if len(label) > 1 and label[0].isupper() and label[1].islower():
        return label[0].lower() + label[1:]
    return label


def _mixture(summary: Mapping[str, Any]) -> BetaMixtureDistribution:
    e = summary["exact"]
    return BetaMixtureDistribution.from_weights(e["weights"], e["alpha"], e["beta"])


# ---------------------------------------------------------------------------------------------
# Sentences (each a function of plain values)
# ---------------------------------------------------------------------------------------------


def reconstruction_sentence(r: Mapping[str, Any]) -> str:
    """What the report's likelihood is made of: published counts, reproducing counts, or the
    fallback to the estimate alone (said plainly)."""
    rec, rep = r["reconstruction"], r["reported"]
    cands = rec["candidates"]
    named = "; ".join(
        f"{c['responders']}/{c['evaluable']} ("
        + (", ".join(c["ci_methods"]) + ", " if c["ci_methods"] else "")
        + f"posterior weight {c['posterior_weight']:.2f})"
        for c in cands[:MAX_NAMED_COUNTS]
    )
    more = f" and {len(cands) - MAX_NAMED_COUNTS} more" if len(cands) > MAX_NAMED_COUNTS else ""
    printed = printed_report(rep)
    estimate = printed.split(" (")[0]
    if rec["basis"] == "counts":
        c = cands[0]
        out = f"The published counts, {c['responders']}/{c['evaluable']}, are the data."
        if rec["counts_reproduce_estimate"] is False:
            out += f" They do not reproduce the printed estimate {estimate}."
        if rec["counts_reproduce_ci"] is False:
            out += (
                f" No interval method reproduces the printed CI {printed_ci(rep)} from "
                "them; the counts are used as published."
            )
        return out
    lo, hi = rec["evaluable_range"]
    if rec["basis"] == "estimate_and_ci" and len(cands) == 1:
        return f"The printed report {printed} is reproduced by one count only: {named}."
    if rec["basis"] == "estimate_and_ci":
        return (
            f"The printed report {printed} is reproduced by {len(cands)} count(s) with "
            f"{lo} to {hi} evaluable: {named}{more}; the posterior mixes them by these weights "
            "instead of choosing one."
        )
    if rec["basis"] == "estimate_fallback":
        return (
            f"No interval method reproduces the printed CI {printed_ci(rep)} for any count "
            f"with {lo} to {hi} evaluable; the analysis falls back to the {len(cands)} count(s) "
            f"whose estimate alone prints as {estimate} ({named}{more}), and the "
            "printed interval is not used."
        )
    return (
        f"No CI was printed; {len(cands)} count(s) with {lo} to {hi} evaluable print as the "
        f"estimate {estimate}: {named}{more}."
    )


def headline_sentence(label: str, prior: str, summary: Mapping[str, Any]) -> str:
    """The exact posterior under the primary prior."""
    return (
        f"Under the primary '{prior}' prior, the exact posterior of the {_noun(label)} has mean "
        f"{_pct(summary['mean'])} ({LEVEL} equal-tailed credible interval "
        f"{_interval(summary['ci95'])}; {LEVEL} HDI {_interval(summary['hdi95'])})."
    )


def tail_sentence(
    p0: float, p1: float, primary: Mapping[str, Any], posterior: Mapping[str, Mapping[str, Any]]
) -> str:
    """P(rate > p0), P(rate > p1) under the primary prior and the range across priors."""
    lows = [v["p_above_p1"] for v in posterior.values()]
    return (
        f"The posterior probability that the rate exceeds {_rate(p0)} is "
        f"{format_probability(primary['p_above_p0'])} and that it exceeds {_rate(p1)} is "
        f"{format_probability(primary['p_above_p1'])}; across the {len(posterior)} priors the "
        f"latter runs from {format_probability(min(lows))} to {format_probability(max(lows))}."
    )


def bayes_factor_sentence(
    p0: float, p1: float, primary_bf: float | None, bfs: Sequence[float | None]
) -> str:
    """The Bayes factor of rate > p1 against rate < p0, worded by its value (Kass and Raftery
    1995, both directions), and whether every prior points the same way."""
    effect, null = f"rate > {_rate(p1)}", f"rate < {_rate(p0)}"
    words = bayes_factor_words(
        min(primary_bf, 1e300) if primary_bf is not None else 1e300, effect, null
    )
    finite = [b for b in bfs if b is not None]
    span = (
        f"; across the priors it runs from {format_bayes_factor(min(finite))} to "
        f"{format_bayes_factor(max(bfs, key=lambda b: np.inf if b is None else b))}"
        if len(bfs) > 1 and finite
        else ""
    )
    return (
        f"The Bayes factor of '{effect}' against '{null}' is {format_bayes_factor(primary_bf)} "
        f"under the primary prior: {words} (Kass and Raftery 1995){span}, and "
        f"{direction_words(list(bfs))}."
    )


def exact_test_sentence(candidate: str, p0: float, p_value: float, p_range: Sequence[float]) -> str:
    """The exact one-sided binomial test of the headline count (and its range over counts)."""
    out = (
        f"The exact one-sided binomial test of {candidate} against {_rate(p0)} gives "
        f"P {'= ' if format_probability(p_value)[0].isdigit() else ''}"
        f"{format_probability(p_value)}"
    )
    if format_probability(p_range[0]) != format_probability(p_range[1]):
        out += (
            f" (from {format_probability(p_range[0])} to {format_probability(p_range[1])} "
            "across the counts)"
        )
    return out + "."


def closeness_sentence(
    prior: str, credible: Sequence[float], candidate: str, exact_ci: Sequence[float]
) -> str:
    """Whether the primary credible interval is close to the exact CI of the headline count:
    computed (largest difference of the limits against :data:`RATE_CLOSENESS`)."""
    diff = max(abs(credible[0] - exact_ci[0]), abs(credible[1] - exact_ci[1]))
    return (
        f"The {LEVEL} credible interval under the '{prior}' prior is "
        f"{closeness_words(diff)} the exact CI of {candidate} ({_interval(exact_ci)}): its limits "
        f"differ by at most {_pp(diff)} (tolerance {_pp(RATE_CLOSENESS)})."
    )


def counts_sentence(rows: Sequence[Mapping[str, Any]], p1: float | None) -> str | None:
    """Whether single-count analyses agree (spread of their posterior means against the
    tolerance) and, with a design, the range of P(rate > p1) among them."""
    counts = [r for r in rows if r["assumption"] == "count" and r["mean"] is not None]
    if len(counts) < 2:
        return None
    means = [r["mean"] for r in counts]
    out = (
        f"Analysed one at a time, the {len(counts)} most likely counts give posterior means "
        f"from {_pct(min(means))} to {_pct(max(means))}: they {agreement_words(means)} "
        f"{_pp(RATE_CLOSENESS)}"
    )
    if p1 is not None:
        probs = [r["p_above_p1"] for r in counts]
        out += (
            f", with P(rate > {_rate(p1)}) from {format_probability(min(probs))} to "
            f"{format_probability(max(probs))}"
        )
    return out + "."


def mcmc_sentence(posterior: Mapping[str, Mapping[str, Any]]) -> str:
    """The MCMC check beside the exact posteriors: largest |z| and the priors beyond 3 MCSE."""
    zs = {
        name: max(abs(v["mcmc"]["z_mean"]), *(abs(z) for z in v["mcmc"]["z_ci95"]))
        for name, v in posterior.items()
    }
    worst = max(zs.values())
    off = [name for name, z in zs.items() if z >= MCMC_Z_LIMIT]
    if not off:
        return (
            "The MCMC fit of the same likelihood agrees with the exact posterior under every "
            f"prior: mean and {LEVEL} limits within 3 Monte Carlo standard errors (largest "
            f"|z| = {worst:.2f}); the numbers above are the exact ones."
        )
    return (
        f"The MCMC fit differs from the exact posterior by more than 3 Monte Carlo standard errors "
        f"under {', '.join(repr(n) for n in off)} (largest |z| = {worst:.2f}); the numbers above "
        "are the exact ones."
    )


def design_sentence(rows: Sequence[Mapping[str, Any]], candidate: str, trial_n: int) -> str | None:
    """How the trial's outcome reads under the Simon designs (counted, not assumed)."""
    found = [r for r in rows if r.get("found", True) and "trial" in r]
    if not found:
        return None
    same_n = [r for r in found if r["trial"]["n_matches_trial"]]
    go = sum(r["trial"]["go_by_rate"] for r in found)
    size = (
        f"{len(same_n)} of the {len(found)} Simon designs have the trial's total of {trial_n}"
        if same_n
        else f"none of the {len(found)} Simon designs has the trial's total of {trial_n}, so "
        "the trial did not follow one of them exactly"
    )
    return (
        f"{size[0].upper()}{size[1:]}; the rate of {candidate} exceeds the design's r/n under "
        f"{go} of them."
    )


def no_design_sentence() -> str:
    """Said once when a rate has no published design hypotheses."""
    return (
        "The trial's null and alternative rates were not published for this rate: no design "
        "hypotheses, tail probabilities, Bayes factors, exact test or skeptical and enthusiastic "
        "priors are computed."
    )


def sentences_of(r: Mapping[str, Any]) -> list[str]:
    """Every sentence of a rate's section, from its results dict."""
    post = r["posterior"]
    primary = r["primary_prior"]
    p = post[primary]
    f = r["frequentist"]
    # the first sentence is the report's key finding: the exact headline
    out = [headline_sentence(r["label"], primary, p)]
    if r["design"]["known"]:
        p0, p1 = r["p0"], r["p1"]
        out.append(
            bayes_factor_sentence(
                p0, p1, p["bf_h1_vs_h0"], [v["bf_h1_vs_h0"] for v in post.values()]
            )
        )
        out.append(tail_sentence(p0, p1, p, post))
        out.append(reconstruction_sentence(r))
        out.append(exact_test_sentence(f["candidate"], p0, f["p_value_vs_p0"], f["p_value_range"]))
    else:
        out.append(reconstruction_sentence(r))
        out.append(no_design_sentence())
    out.append(closeness_sentence(primary, p["ci95"], f["candidate"], f["ci95"]))
    counts = counts_sentence(r["sensitivity"], r["p1"])
    if counts:
        out.append(counts)
    if r.get("two_stage_designs"):
        d = design_sentence(
            r["two_stage_designs"], f["candidate"], r["reconstruction"]["evaluable"]
        )
        if d:
            out.append(d)
    out.append(mcmc_sentence(post))
    return out


def assumptions_of(r: Mapping[str, Any]) -> list[str]:
    """Plain statements of what the analysis of a rate assumed."""
    rec, rep = r["reconstruction"], r["reported"]
    out = []
    if rec["basis"] == "counts":
        out.append("Responders and evaluable patients are taken as published.")
    else:
        lo, hi = rec["evaluable_range"]
        methods = ", ".join(f"{m} {w:.2f}" for m, w in rec["method_prior"].items())
        rules = " or ".join(rec["rounding_rules"])
        n_note = f"{lo} to {hi} evaluable" + (
            f" (a dropout allowance of {rec['dropout']:g} of the {rep['enrolled']} enrolled)"
            if rec["dropout"] is not None
            else ""
        )
        out.append(
            f"The counts behind the printed rate were not published: every count with {n_note} "
            f"whose printed numbers match ({rules}) is kept, weighted by prior(n) (geometric in "
            f"the number not evaluated) times prior(method) ({methods})."
        )
    out.append("Patients respond independently with a common probability (binomial model).")
    return out


# ---------------------------------------------------------------------------------------------
# Figures
# ---------------------------------------------------------------------------------------------


def plot_rate_posterior(
    exact: Mapping[str, BetaMixtureDistribution],
    *,
    mcmc: Mapping[str, np.ndarray] | None = None,
    freq_ci: Sequence[float],
    estimate: float,
    p0: float | None,
    p1: float | None,
    label: str,
    title: str,
    ax: Axes | None = None,
) -> Figure:
    """Exact posterior density of a rate per prior (lines), MCMC draws as shaded histograms, the
    frequentist estimate and exact CI, and the design's p0 and p1 when known.

    A density with a pole (a rate of 0 % or 100 % under a prior with a parameter below 1) is
    drawn on an interior grid and the axis capped by the other curves, so the axes stay finite.
    """
    fig, ax = plots._axes(ax)
    grid = np.linspace(0, 1, 2001)[1:-1]
    tops = []
    for i, (name, dist) in enumerate(exact.items()):
        c = plots.colour(name, i)
        density = np.asarray(dist.pdf(grid), dtype=float)
        ax.plot(grid, density, color=c, lw=2, label=f"prior '{name}' (exact)")
        finite = density[np.isfinite(density)]
        tops.append(float(np.quantile(finite, 0.999)) if finite.size else 1.0)
        if mcmc is not None and name in mcmc:
            ax.hist(
                mcmc[name],
                bins=np.linspace(0, 1, 101),
                density=True,
                histtype="stepfilled",
                color=c,
                alpha=0.18,
                label=f"prior '{name}' (MCMC check)",
            )
    top = max(tops) if tops else 1.0
    y = -0.06 * top
    ax.plot(freq_ci, [y, y], color="black", lw=3, solid_capstyle="butt")
    ax.plot([estimate], [y], "o", color="black", label=f"estimate and {LEVEL} exact CI")
    for value, style, text in ((p0, ":", "null p0"), (p1, "--", "alternative p1")):
        if value is not None:
            ax.axvline(value, color="grey", ls=style, lw=1.2, label=f"{text} = {value:g}")
    ax.set_xlim(0, min(1.0, max(0.3, freq_ci[1] + 0.2)))
    ax.set_ylim(2 * y, top * 1.1)
    ax.set_xlabel(_noun(label))
    ax.set_ylabel("posterior density")
    ax.set_title(plots.wrap_title(title, 70), fontsize=10)
    ax.legend(frameon=False, fontsize=8)
    return fig


def figures_of(result: EndpointResult) -> dict[str, Figure]:
    """The posterior figure and the sensitivity forest plot, file stems prefixed by the key."""
    r = result.results
    key = result.name
    exact = {name: _mixture(v) for name, v in r["posterior"].items()}
    primary = r["primary_prior"]
    mcmc = None
    idata = result.posteriors.get(f"{key}_{primary}")
    if idata is not None:
        mcmc = {primary: idata.posterior["rate"].values.ravel()}
    f = r["frequentist"]
    figures = {
        f"{key}_posterior": plot_rate_posterior(
            exact,
            mcmc=mcmc,
            freq_ci=f["ci95"],
            estimate=f["estimate"],
            p0=r["p0"],
            p1=r["p1"],
            label=r["label"],
            title=f"{r['label']}: exact posterior under each prior (report likelihood)",
        )
    }
    if len(result.sensitivity):
        figures[f"{key}_sensitivity"] = plots.plot_forest(
            result.sensitivity,
            title=f"{r['label']}: sensitivity",
            reference_lines=tuple(v for v in (r["p0"], r["p1"]) if v is not None),
            xlabel=_noun(r["label"]),
        )
    return figures


# ---------------------------------------------------------------------------------------------
# What the report's tables and figures say they show
# ---------------------------------------------------------------------------------------------

#: The estimate of each side of a rate's comparison table (every Bayesian row: the posterior mean).
ESTIMATE_KINDS = {"reported": "published", "frequentist": "observed proportion"}


def estimate_kinds_of(comparison: pd.DataFrame) -> list[str]:
    """What each comparison row's estimate is: the published rate, the observed proportion of
    the headline count, or the posterior mean (exact or MCMC: every Bayesian row of a rate)."""
    return [ESTIMATE_KINDS.get(side, "posterior mean") for side in comparison["side"]]


def priors_table_of(r: Mapping[str, Any]) -> pd.DataFrame:
    """The analysis priors of a rate: name, primary, family, parameters, ESS (a + b patients, as
    in results' ``priors``), rationale."""
    rows = [
        [
            name,
            "yes" if p.get("primary") else "no",
            f"{p['family'][:1].upper()}{p['family'][1:]}",
            parameters_text(p["parameters"]),
            f"{p['ess']:.3g}" if p.get("ess") is not None else "",
            p["rationale"],
        ]
        for name, p in r["priors"].items()
    ]
    return pd.DataFrame(rows, columns=PRIORS_TABLE_COLUMNS)


def captions_of(result: EndpointResult) -> dict[str, str]:
    """A sentence per figure saying what it shows (the report prints it under the figure)."""
    r = result.results
    key, label = result.name, _noun(r["label"])
    f = r["frequentist"]
    lines = " and ".join(
        f"{what} {_rate(v)}"
        for what, v in (("dotted: the null rate", r["p0"]), ("dashed: the alternative", r["p1"]))
        if v is not None
    )
    mcmc = (
        f"; shaded: the MCMC draws under the primary '{r['primary_prior']}' prior (the check)"
        if result.posteriors.get(f"{key}_{r['primary_prior']}") is not None
        else ""
    )
    out = {
        f"{key}_posterior": (
            f"Exact posterior density of the {label} under each prior (lines){mcmc}; black: "
            f"the observed proportion {f['candidate']} and its {LEVEL} exact CI"
            + (f"; vertical lines, {lines}." if lines else ".")
        ),
        f"{key}_sensitivity": (
            f"Posterior mean (point) and {LEVEL} equal-tailed credible interval (bar) of the "
            f"{label} under each prior and each reproducing count, rounding rule and dropout "
            "allowance analysed alone; diamond: the primary analysis"
            + (f"; vertical lines, {lines}." if lines else ".")
        ),
    }
    return {stem: text for stem, text in out.items() if stem in result.figures}


def present(result: EndpointResult, loaded: LoadedTrial) -> None:
    """Fill the sentences, assumptions, figures, captions, estimate kinds and priors table of a
    rate's result (and annotate its follow-up priors with the ESS without the analysis prior)."""
    r = result.results
    result.sentences = sentences_of(r)
    result.assumptions = assumptions_of(r)
    result.figures = figures_of(result)
    result.captions = captions_of(result)
    result.estimate_kinds = estimate_kinds_of(result.comparison)
    result.sensitivity_estimate = "posterior mean"
    result.priors_table = priors_table_of(r)
