"""Figures shared by the endpoints. Every function takes ``ax=None`` and returns the figure.

The backend is Agg (files only, no screen); interval level from :mod:`analysis.constants`.
"""

from __future__ import annotations

import textwrap
from collections.abc import Sequence

import matplotlib

matplotlib.use("Agg")

from typing import TYPE_CHECKING

import numpy as np
import pandas as pd
from matplotlib import pyplot as plt
from matplotlib.axes import Axes
from matplotlib.figure import Figure

from trial_reanalysis.analysis.constants import INTERVAL_LEVEL

if TYPE_CHECKING:  # ArviZ draws the trace appendix only (in the process that fitted)
    import arviz as az

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


#: Longest title line (characters) before a title wraps (a 7-8 inch figure at 10 pt).
TITLE_WIDTH = 80


def wrap_title(title: str, width: int = TITLE_WIDTH) -> str:
    """A title broken into lines of at most ``width`` characters (long endpoint labels)."""
    return textwrap.fill(title, width)


def colour(name: str, i: int) -> str:
    """Colour of a prior scenario (stable across figures)."""
    return PRIOR_COLOURS.get(name, f"C{i}")


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
    ax.set_xlabel(
        wrap_title(f"{xlabel} (point: posterior mean; bar: {INTERVAL_LEVEL:.0%} interval)")
    )
    ax.set_title(wrap_title(title), fontsize=10)
    return fig


def plot_trace_rank(idata: az.InferenceData, *, title: str) -> Figure:
    """Diagnostics appendix: per parameter (and per coordinate of a vector parameter, named in
    its panel titles, so no legend is needed), the marginal posterior per chain and rank bars
    (uniform bars across chains mean the chains explore the same distribution). Constrained
    layout keeps every panel title clear of the tick labels above it."""
    import arviz as az

    post = idata.posterior
    rows = sum(
        int(np.prod([post[v].sizes[d] for d in post[v].dims if d not in ("chain", "draw")]))
        for v in post.data_vars
    )
    axes = az.plot_trace(
        idata,
        kind="rank_bars",
        compact=False,
        figsize=(8.0, 1.2 + 2.0 * rows),
        backend_kwargs={"layout": "constrained"},
        plot_kwargs={},
    )
    fig = np.ravel(axes)[0].figure
    for ax in np.ravel(axes):
        ax.title.set_fontsize(9)
        ax.xaxis.label.set_fontsize(9)
        ax.yaxis.label.set_fontsize(9)
        ax.tick_params(labelsize=8)
    fig.suptitle(wrap_title(title), fontsize=10)
    return fig
