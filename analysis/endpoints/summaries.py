"""Posterior summaries shared by every endpoint (one interval level, one set of keys)."""

from __future__ import annotations

from typing import Any

import numpy as np

from trial_reanalysis.analysis.constants import INTERVAL_LEVEL, INTERVAL_TAILS


def interval(draws: np.ndarray) -> list[float]:
    """Equal-tailed credible interval at INTERVAL_LEVEL, as a two-element list."""
    lo, hi = np.quantile(np.asarray(draws).ravel(), INTERVAL_TAILS)
    return [float(lo), float(hi)]


def hdi(draws: np.ndarray) -> list[float]:
    """Highest-density interval at INTERVAL_LEVEL (ArviZ), as a two-element list."""
    import arviz as az  # here: the run's own process reads summaries without the sampling stack

    lo, hi = az.hdi(np.asarray(draws).ravel(), hdi_prob=INTERVAL_LEVEL)
    return [float(lo), float(hi)]


def summarise_draws(draws: np.ndarray) -> dict[str, Any]:
    """{mean, sd, median, ci95} of a scalar quantity's draws."""
    flat = np.asarray(draws).ravel()
    return {
        "mean": float(flat.mean()),
        "sd": float(flat.std(ddof=1)),
        "median": float(np.median(flat)),
        "ci95": interval(flat),
    }
