"""The planners' section in words, tables and figures, from the numbers of
:func:`~trial_reanalysis.analysis.planning.planners.planners_section` (nothing is computed here
beyond formatting).

Figures: a MAP forest plot per map (each trial's reported value and 95 % CI, its shrunk posterior,
the MAP predictive and the robust mixture) and the OC curves of the compared designs
(P(declared active) against the true rate). Tables have at most :data:`MAX_COLUMNS` columns.
Sentences take their thresholds from :data:`CONFLICT_WORDS`.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import pandas as pd
from matplotlib.axes import Axes
from matplotlib.figure import Figure
from matplotlib.ticker import NullFormatter, ScalarFormatter

from trial_reanalysis.analysis.constants import INTERVAL_LEVEL
from trial_reanalysis.analysis.report import plots
from trial_reanalysis.analysis.report.wording import format_probability

LEVEL = f"{100 * INTERVAL_LEVEL:g} %"
MAX_COLUMNS = 8
#: Words for the two-sided tail probability of the conflict check: (upper bound, words), first
#: match wins. Box (1980): a small prior-predictive tail flags a conflict.
CONFLICT_WORDS: tuple[tuple[float, str], ...] = (
    (0.01, "a strong prior-data conflict"),
    (0.05, "a prior-data conflict"),
    (0.10, "a weak signal of prior-data conflict"),
    (math.inf, "no sign of prior-data conflict"),
)


def conflict_words(p_two_sided: float) -> str:
    """Words for a two-sided conflict tail probability (:data:`CONFLICT_WORDS`)."""
    if not 0.0 <= p_two_sided <= 1.0:
        raise ValueError(f"a tail probability lies in [0, 1], got {p_two_sided!r}")
    return next(w for bound, w in CONFLICT_WORDS if p_two_sided < bound)


def _value(v: float, kind: str) -> str:
    return f"{100 * v:.1f} %" if kind == "rate" else f"{v:.1f} months"


def _interval(ci: Sequence[float | None], kind: str) -> str:
    lo, hi = ci
    f = (lambda v: f"{100 * v:.1f}") if kind == "rate" else (lambda v: f"{v:.1f}")
    unit = " %" if kind == "rate" else " months"
    return f"{f(lo)}-{'not reached' if hi is None else f(hi)}{unit}"


def reported_of(trial: Mapping[str, Any], kind: str) -> tuple[float, list[float | None], str]:
    """(point, [lower, upper], note) of a trial's reported value for the forest plot: a median
    and its CI; x/n with its exact CI; for candidate counts the weighted mean of x/n and the
    hull of the candidates' exact CIs (note says how many)."""
    obs = trial["observed"]
    if kind == "median":
        return float(obs["median"]), list(obs["ci95"]), ""
    if "estimate" in obs:
        return float(obs["estimate"]), list(obs["ci95"]), ""
    from scipy import stats

    cands = obs["candidates"]
    point = sum(c["weight"] * c["x"] / c["n"] for c in cands)
    los = [stats.beta.ppf(0.025, c["x"], c["n"] - c["x"] + 1) if c["x"] > 0 else 0.0 for c in cands]
    his = [
        stats.beta.ppf(0.975, c["x"] + 1, c["n"] - c["x"]) if c["x"] < c["n"] else 1.0
        for c in cands
    ]
    return float(point), [float(min(los)), float(max(his))], f"{len(cands)} candidate counts"


# ---------------------------------------------------------------------------------------------
# Tables
# ---------------------------------------------------------------------------------------------


def map_summary_table(section: Mapping[str, Any]) -> pd.DataFrame:
    """One row per map: trials, tau, MAP prior (median, interval), ESS with and without the vague
    part, and the conflict check of this trial."""
    rows = []
    for part in section["historical"]["maps"].values():
        kind, res, c = part["kind"], part["map"], part["conflict"]
        tau = res["tau"]
        iv = part["intervals"]["map"]
        rows.append(
            {
                "MAP prior": part["label"],
                "trials": len(res["trials"]),
                "tau (median, interval; scale)": f"{tau['median']:.2f} ({tau['ci95'][0]:.2f}-"
                f"{tau['ci95'][1]:.2f}; {'logit' if kind == 'rate' else 'log'})"
                if "median" in tau
                else f"fixed {tau['fixed']}",
                f"MAP prior (median, {LEVEL})": f"{_value(iv['median'], kind)} "
                f"({_interval(iv['ci95'], kind)})",
                "ESS MAP / robust": f"{res['ess']['map']:.3g} / {res['ess']['robust']:.3g} "
                f"{res['ess']['unit']}",
                "conflict P (two-sided)": None
                if c["basis"] is None
                else format_probability(c["p_two_sided"]),
                "conflict check": c["basis"] or c["reason"],
            }
        )
    return pd.DataFrame(rows)


def map_trials_table(part: Mapping[str, Any]) -> pd.DataFrame:
    """One row per trial of a map: reported value and CI, shrunk median and interval; then the
    MAP predictive and the robust mixture."""
    kind = part["kind"]
    rows = []
    for t in part["map"]["trials"]:
        point, ci, note = reported_of(t, kind)
        s = t["shrinkage"]
        rows.append(
            {
                "trial": t["name"],
                "reported": _value(point, kind) + (f" ({note})" if note else ""),
                f"reported {LEVEL} CI": _interval(ci, kind),
                "shrunk (median)": _value(s["median"], kind),
                f"shrunk {LEVEL} interval": _interval(s["ci95"], kind),
            }
        )
    for name, words in (("map", "MAP predictive (new trial)"), ("map_robust", "robust mixture")):
        iv = part["intervals"][name]
        rows.append(
            {
                "trial": words,
                "reported": "",
                f"reported {LEVEL} CI": "",
                "shrunk (median)": _value(iv["median"], kind),
                f"shrunk {LEVEL} interval": _interval(iv["ci95"], kind),
            }
        )
    return pd.DataFrame(rows)


def design_table(designs: Mapping[str, Any]) -> pd.DataFrame:
    """One row per compared design: boundaries, N, exact type I error, power, PET and EN at p0,
    assurance under the design prior."""
    p0, p1 = designs["p0"], designs["p1"]
    return pd.DataFrame(
        [
            {
                "design": r["design"]["label"],
                "boundaries (n: stop if x <=; success if x >=)": r["boundaries"],
                "N": r["n_max"],
                f"type I error (p = {p0:g})": r["type1_error"],
                f"power (p = {p1:g})": r["power"],
                f"PET (p = {p0:g})": r["pet0"],
                f"EN (p = {p0:g})": r["en0"],
                "assurance": r["assurance"],
            }
            for r in designs["designs"]
        ]
    )


# ---------------------------------------------------------------------------------------------
# Sentences
# ---------------------------------------------------------------------------------------------


def map_sentences(part: Mapping[str, Any]) -> list[str]:
    """What the MAP prior of one map says: trials, heterogeneity, prior, ESS, conflict."""
    kind, res = part["kind"], part["map"]
    tau, ess, iv = res["tau"], res["ess"], part["intervals"]
    scale = "logit" if kind == "rate" else "log"
    out = [
        f"{part['label']}: the MAP prior of {len(res['trials'])} historical trials predicts a new "
        f"trial's {'rate' if kind == 'rate' else 'median'} of {_value(iv['map']['median'], kind)} "
        f"({LEVEL} interval {_interval(iv['map']['ci95'], kind)}); robustified with a vague "
        f"component of weight {ess['robust_weight']:g} the interval widens to "
        f"{_interval(iv['map_robust']['ci95'], kind)}."
    ]
    if "median" in tau:
        out.append(
            f"The between-trial sd ({scale} scale, prior {tau['prior']}) has posterior median "
            f"{tau['median']:.2f} ({LEVEL} interval {tau['ci95'][0]:.2f}-{tau['ci95'][1]:.2f})."
        )
    out.append(
        f"The MAP prior is worth {ess['map']:.3g} {ess['unit']} ({ess['robust']:.3g} with the "
        "vague part)."
    )
    c = part["conflict"]
    if c["basis"] is None:
        out.append(f"No conflict check for this trial: {c['reason']}.")
    else:
        against = (
            "the MAP prior refitted without it (leave-one-out)"
            if c["basis"] == "leave-one-out"
            else "the MAP prior"
        )
        side = "lower" if c["p_lower"] < c["p_upper"] else "higher"
        out.append(
            f"This trial's result ({c['endpoint']}) against {against}: two-sided tail probability "
            f"{format_probability(c['p_two_sided'])} (it lies on the {side} side), "
            f"{conflict_words(c['p_two_sided'])}."
        )
    return out


def design_sentences(designs: Mapping[str, Any]) -> list[str]:
    """The design comparison in words: the setting, then per design its key numbers."""
    if not designs["available"]:
        return [f"No follow-up design comparison: {designs['reason']}."]
    p0, p1 = designs["p0"], designs["p1"]
    alpha_src = "as printed" if designs["alpha_source"] == "printed" else "by default"
    dp = designs["design_prior"]
    out = [
        f"Follow-up designs for {designs['label'].lower()} (p0 = {p0:g}, p1 = {p1:g}): each "
        f"calibrated to a type I error of at most {designs['alpha']:g} ({alpha_src}); the "
        f"Bayesian designs use a vague Beta(1, 1) analysis prior and look at "
        f"{', '.join(map(str, designs['looks']))} patients (quarters of the Simon minimax "
        f"N = {designs['n_max']}); exact operating characteristics by enumeration."
        + (
            f" Assurance uses this trial's robust follow-up prior (ESS {dp['ess']:.3g}) as "
            "design prior."
            if dp is not None
            else " No design prior: assurance not computed."
        )
    ]
    rows = designs["designs"]
    for r in rows:
        s = (
            f"{r['design']['label']}: type I error {r['type1_error']:.3f}, power "
            f"{r['power']:.3f}, stops early with probability {r['pet0']:.2f} at p0 and enrols "
            f"{r['en0']:.1f} patients on average there"
        )
        if r["assurance"] is not None:
            s += f"; assurance {r['assurance']:.3f}"
        out.append(s + ".")
    best = min(rows, key=lambda r: r["en0"])
    out.append(
        f"Fewest patients under the null on average: {best['design']['label']} "
        f"(EN {best['en0']:.1f} of N = {best['n_max']})."
    )
    return out


# ---------------------------------------------------------------------------------------------
# Figures
# ---------------------------------------------------------------------------------------------


def plot_map_forest(part: Mapping[str, Any], ax: Axes | None = None) -> Figure:
    """MAP forest plot: per trial the reported value and CI (black) and its shrunk posterior
    (colour), then the MAP predictive and the robust mixture (median and interval)."""
    kind, res = part["kind"], part["map"]
    trials = res["trials"]
    n_rows = 2 * len(trials) + 2
    fig, ax = plots._axes(ax, (8.0, 1.4 + 0.3 * n_rows))
    labels, ys = [], []
    y = n_rows - 1
    hi_all = []
    for t in trials:
        point, ci, note = reported_of(t, kind)
        lo, hi = ci
        top = hi if hi is not None else point * 2
        hi_all.append(top)
        ax.plot([lo, top], [y, y], color="black", lw=2)
        if hi is None:
            ax.annotate("", (top, y), (point, y), arrowprops={"arrowstyle": "->"})
        ax.plot([point], [y], "s", color="black", ms=5)
        labels.append(f"{t['name']}: reported" + (f" ({note})" if note else ""))
        ys.append(y)
        y -= 1
        s = t["shrinkage"]
        ax.plot(s["ci95"], [y, y], color="C0", lw=2)
        ax.plot([s["median"]], [y], "o", color="C0", ms=5)
        labels.append("    shrunk")
        ys.append(y)
        y -= 1
    for name, words, c in (
        ("map", "MAP predictive (new trial)", "C3"),
        ("map_robust", "robust mixture", "C1"),
    ):
        iv = part["intervals"][name]
        ax.plot(iv["ci95"], [y, y], color=c, lw=3)
        ax.plot([iv["median"]], [y], "D", color=c, ms=6)
        hi_all.append(iv["ci95"][1])
        labels.append(words)
        ys.append(y)
        y -= 1
    ax.set_yticks(ys, labels, fontsize=8)
    ax.set_ylim(-0.7, n_rows - 0.3)
    if kind == "median":
        ax.set_xscale("log")
        ax.xaxis.set_major_formatter(ScalarFormatter())
        ax.xaxis.set_minor_formatter(NullFormatter())
        ax.set_xlabel(f"median (months, log scale); point: median, bar: {LEVEL} interval")
    else:
        ax.set_xlim(0, min(1.0, 1.05 * max(hi_all)))
        ax.set_xlabel(f"rate; point: estimate or posterior median, bar: {LEVEL} interval")
    ax.set_title(f"MAP prior: {part['label']}", fontsize=10)
    return fig


def plot_design_oc(designs: Mapping[str, Any], ax: Axes | None = None) -> Figure:
    """P(declared active) against the true rate for each compared design, p0 and p1 marked."""
    fig, ax = plots._axes(ax, (7.0, 4.2))
    rates = np.asarray(designs["oc_curves"]["rates"])
    for i, (label, rej) in enumerate(designs["oc_curves"]["reject"].items()):
        ax.plot(rates, rej, color=f"C{i}", lw=1.8, ls="-" if i < 2 else "--", label=label)
    for v, style, text in ((designs["p0"], ":", "p0"), (designs["p1"], "-.", "p1")):
        ax.axvline(v, color="grey", ls=style, lw=1, label=f"{text} = {v:g}")
    ax.set_xlim(0, min(1.0, max(0.3, 2.5 * designs["p1"])))
    ax.set_ylim(0, 1.02)
    ax.set_xlabel("true rate")
    ax.set_ylabel("P(declared active)")
    ax.set_title(
        f"Follow-up designs: type I error <= {designs['alpha']:g}; Bayesian looks at "
        f"{', '.join(map(str, designs['looks']))}",
        fontsize=10,
    )
    ax.legend(frameon=False, fontsize=8, loc="lower right")
    return fig


# ---------------------------------------------------------------------------------------------
# The section
# ---------------------------------------------------------------------------------------------


def present_planners(section: Mapping[str, Any]) -> dict[str, Any]:
    """``{"sentences": [...], "tables": {stem: DataFrame}, "figures": {stem: Figure}}`` of the
    planners' section (figure stems ``planners_map_<name>`` and ``planners_design_oc``)."""
    sentences: list[str] = []
    tables: dict[str, pd.DataFrame] = {}
    figures: dict[str, Figure] = {}
    maps = section["historical"]["maps"]
    if maps:
        tables["planners_map_summary"] = map_summary_table(section)
    for name, part in maps.items():
        sentences += map_sentences(part)
        tables[f"planners_map_{name}"] = map_trials_table(part)
        figures[f"planners_map_{name}"] = plot_map_forest(part)
    designs = section["designs"]
    sentences += design_sentences(designs)
    if designs["available"]:
        tables["planners_designs"] = design_table(designs)
        figures["planners_design_oc"] = plot_design_oc(designs)
    return {"sentences": sentences, "tables": tables, "figures": figures}
