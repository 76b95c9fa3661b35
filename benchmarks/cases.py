"""The package's other models, with the seed trial's data, for `benchmarks/run.py`."""

from __future__ import annotations

from lifelines.datasets import load_lung

from trial_reanalysis.analysis.inference.calibration import dirichlet_alpha
from trial_reanalysis.analysis.reconstruction.tables import rounding_interval
from trial_reanalysis.models.comparison import AE_PRIORS, build_comparison_model, coarsened_report
from trial_reanalysis.models.comparison import model_data as comparison_data
from trial_reanalysis.models.priors import primary
from trial_reanalysis.models.time_to_event import (
    build_patient_model,
    build_summary_model,
    summary_data,
)

DAYS_PER_MONTH = 30.4375
#: The seed's printed P values and directions (DESIGN.md 2: PPE .03 and mucositis .06 more
#: frequent after bevacizumab, rash .06 after sunitinib), split of 48 patients marginalised.
SEED_REPORTS = {"ppe": (0.03, 1), "mucositis": (0.06, 1), "rash": (0.06, -1)}


def extra_cases() -> list:
    """ModelCase entries for the PFS summary, PFS patient-data and comparison models."""
    from benchmarks.run import ModelCase

    alpha, _, _ = dirichlet_alpha(48, "log", (0.0, 0.2))
    lung = load_lung().dropna(subset=["time", "status"])
    time = lung["time"].to_numpy() / DAYS_PER_MONTH
    event = (lung["status"].to_numpy() == 1).astype(int)
    splits = [(n, 48 - n) for n in range(12, 37)]
    reports = [
        coarsened_report(*rounding_interval(p), sign, splits) for p, sign in SEED_REPORTS.values()
    ]
    prior = primary(AE_PRIORS)
    return [
        ModelCase(
            "PFS Weibull, summary likelihood (3.6/4.4/5.9)",
            lambda: build_summary_model("L,M,U", summary_data(4.4, 3.6, 5.9, alpha)),
            {},
        ),
        ModelCase(
            f"PFS Weibull, right-censored patient data (lifelines lung, n = {len(time)})",
            lambda: build_patient_model(time, event),
            {},
        ),
        ModelCase(
            "adverse events, 3 reports, split marginalised 12..36 (Fisher)",
            lambda: build_comparison_model(reports, prior=prior, names=list(SEED_REPORTS)),
            comparison_data(reports, prior),
        ),
    ]


__all__ = ["extra_cases"]
