"""Figures shared by the endpoints. Every function takes ``ax=None`` and returns the figure.

The backend is Agg (files only, no screen); interval level from :mod:`analysis.constants`.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import matplotlib

matplotlib.use("Agg")

import arviz as az
import numpy as np
import pandas as pd
from matplotlib import pyplot as plt
from matplotlib.axes import Axes
from matplotlib.figure import Figure

from trial_reanalysis.analysis.constants import INTERVAL_LEVEL

PRIOR_COLOURS = {
    "uniform": "#1b6ca8",
    "jeffreys": "#3aa17e",
    "skeptical": "#c0392b",
    "enthusiastic": "#e69f00",
}


def _axes(ax: Axes | None, size: tuple[float, float] = (7.0, 4.0)) -> tuple[Figure, Axes]:
    if ax is not None:
        return ax.figure, ax
    fig, ax = plt.subplots(figsize=size, layout="constrained")
    return fig, ax


def colour(name: str, i: int) -> str:
    """Colour of a prior scenario (stable across figures)."""
    return PRIOR_COLOURS.get(name, f"C{i}")


def plot_rate_posteriors(
    posteriors: Mapping[str, az.InferenceData],
    *,
    var: str,
    freq_ci: Sequence[float],
    estimate: float,
    p0: float,
    p1: float,
    title: str,
    exact: Mapping[str, object] | None = None,
    ax: Axes | None = None,
) -> Figure:
    """Posterior of a rate per prior (MCMC histogram; exact density as a line when known), with
    the frequentist estimate and exact CI and the design's p0 and p1."""
    fig, ax = _axes(ax)
    # Interior grid: a Beta density with a shape parameter below 1 is infinite at 0 or 1 (a rate
    # of 0 % or 100 % under the Jeffreys prior), so the end points are left out and the height
    # of a pole is capped by the histograms (the line then runs off the top of the axes).
    grid = np.linspace(0, 1, 1601)[1:-1]
    bins = np.linspace(0, 1, 101)
    top_hist, top_line = 0.0, 0.0
    for i, (name, idata) in enumerate(posteriors.items()):
        c = colour(name, i)
        draws = idata.posterior[var].values.ravel()
        heights, _, _ = ax.hist(
            draws, bins=bins, density=True, histtype="stepfilled", color=c, alpha=0.18
        )
        top_hist = max(top_hist, float(heights.max()))
        if exact is not None and name in exact:
            density = np.asarray(exact[name].pdf(grid), dtype=float)
            ax.plot(grid, density, color=c, lw=2, label=f"prior '{name}' (line: exact posterior)")
            finite = density[np.isfinite(density)]
            top_line = max(top_line, float(finite.max()) if finite.size else 0.0)
        else:
            ax.plot([], [], color=c, lw=6, alpha=0.4, label=f"prior '{name}' (MCMC draws)")
    top = max(top_hist, min(top_line, 1.5 * top_hist)) if top_hist > 0 else max(top_line, 1.0)
    y = -0.06 * top
    ax.plot(freq_ci, [y, y], color="black", lw=3, solid_capstyle="butt")
    ax.plot(
        [estimate], [y], "o", color="black", label=f"estimate and {INTERVAL_LEVEL:.0%} exact CI"
    )
    for value, style, text in ((p0, ":", "null p0"), (p1, "--", "alternative p1")):
        ax.axvline(value, color="grey", ls=style, lw=1.2, label=f"{text} = {value:g}")
    ax.set_xlim(0, min(1.0, max(0.8, freq_ci[1] + 0.2)))
    ax.set_ylim(2 * y, top * 1.08)
    ax.set_xlabel("burden-reduction rate")
    ax.set_ylabel("posterior density (shaded: MCMC histogram)")
    ax.set_title(title)
    ax.legend(frameon=False, fontsize=8)
    return fig


def plot_forest(
    table: pd.DataFrame,
    *,
    title: str,
    xlabel: str,
    reference_lines: Sequence[float] = (),
    log_scale: bool = False,
    ax: Axes | None = None,
) -> Figure:
    """Forest plot of a sensitivity table: one row per (scenario, prior), primary in bold."""
    rows = table.reset_index(drop=True)
    fig, ax = _axes(ax, (8.0, 1.2 + 0.32 * len(rows)))
    ys = np.arange(len(rows))[::-1]
    priors = list(dict.fromkeys(rows["prior"]))
    for y, (_, row) in zip(ys, rows.iterrows(), strict=True):
        c = colour(row["prior"], priors.index(row["prior"]))
        ax.plot([row["ci_low"], row["ci_high"]], [y, y], color=c, lw=2)
        ax.plot(
            [row["estimate"]],
            [y],
            "D" if row["primary"] else "o",
            color=c,
            ms=7 if row["primary"] else 5,
        )
    labels = [
        f"{r['assumption']}: {r['scenario']} | {r['prior']}"
        + (" (primary)" if r["primary"] else "")
        for _, r in rows.iterrows()
    ]
    ax.set_yticks(ys, labels, fontsize=8)
    for value in reference_lines:
        ax.axvline(value, color="grey", ls=":", lw=1)
    if log_scale:
        ax.set_xscale("log")
    ax.set_xlabel(f"{xlabel} (point: posterior mean; bar: {INTERVAL_LEVEL:.0%} interval)")
    ax.set_title(title, fontsize=10)
    return fig


def plot_trace_rank(idata: az.InferenceData, *, title: str) -> Figure:
    """Diagnostics appendix: per parameter, the marginal posterior per chain and rank bars
    (uniform bars across chains mean the chains explore the same distribution)."""
    axes = az.plot_trace(
        idata, kind="rank_bars", compact=True, figsize=(8.0, 2.2 * len(idata.posterior.data_vars))
    )
    fig = np.ravel(axes)[0].figure
    fig.suptitle(title, fontsize=10)
    return fig
