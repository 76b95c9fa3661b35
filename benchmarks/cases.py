"""The package's other models, with the seed trial's data, for `benchmarks/run.py`."""

from __future__ import annotations

from lifelines.datasets import load_lung

from trial_reanalysis.analysis.reconstruction.tables import rounding_interval
from trial_reanalysis.analysis.studies.pfs_calibration import dirichlet_alpha
from trial_reanalysis.analysis.trials.load import load_trial
from trial_reanalysis.models.comparison import (
    AE_PRIORS,
    build_adverse_events_model,
    coarsened_report,
    model_data,
)
from trial_reanalysis.models.priors import primary
from trial_reanalysis.models.time_to_event import (
    PFS_PRIORS,
    build_patient_model,
    build_summary_model,
    summary_data,
)
from trial_reanalysis.models.time_to_event import prior_data as pfs_prior_data

DAYS_PER_MONTH = 30.4375


def extra_cases() -> list:
    """ModelCase entries for the PFS summary, PFS patient-data and adverse-event models."""
    from benchmarks.run import ModelCase

    alpha, _, _ = dirichlet_alpha(48, "log", (0.0, 0.2))
    pfs_prior = primary(PFS_PRIORS)
    lung = load_lung().dropna(subset=["time", "status"])
    time = lung["time"].to_numpy() / DAYS_PER_MONTH
    event = lung["status"].to_numpy().astype(int)
    trial = load_trial().trial
    events = trial.adverse_events.by_prior_therapy
    splits = [(n, 48 - n) for n in range(12, 37)]
    reports = [
        coarsened_report(
            *rounding_interval(e.p_value.value),
            1 if e.more_frequent_after.value == "bevacizumab" else -1,
            splits,
        )
        for e in events.values()
    ]
    ae_prior = primary(AE_PRIORS)
    return [
        ModelCase(
            "PFS Weibull, summary likelihood (3.6/4.4/5.9)",
            lambda: build_summary_model(4.4, 3.6, 5.9, alpha),
            {**summary_data(4.4, 3.6, 5.9, alpha), **pfs_prior_data(pfs_prior)},
        ),
        ModelCase(
            f"PFS Weibull, right-censored patient data (lifelines lung, n = {len(time)})",
            lambda: build_patient_model(time, event),
            {},
        ),
        ModelCase(
            "adverse events, 3 reports, split marginalised 12..36 (Fisher)",
            lambda: build_adverse_events_model(reports, prior=ae_prior, names=list(events)),
            model_data(reports, ae_prior),
        ),
    ]


__all__ = ["extra_cases"]
