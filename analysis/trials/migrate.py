"""Schema version 1 -> 2: a version 1 file (the seed's first format, ``../shared/cases/``) becomes
the same facts in version 2's terms, so the analysis reads one format only.

Version 1 knew one rate (``burden_reduction``), one time-to-event endpoint (``pfs``, in months) and
adverse events compared by prior therapy; version 2 names them ``rates.burden_reduction``,
``time_to_event.pfs``, ``groupings.prior_therapy`` and ``comparisons.<event>``. A v1 P value
such as 0.03 means "= .03" (the unrounded P rounds to it). Nothing is added that v1 did not say.
"""

from __future__ import annotations

import math
from typing import Any

from trial_reanalysis.analysis.trials.v1 import Trial as TrialV1


def _reported(value: Any) -> Any:
    """A v1 ``Reported`` as a plain table (or "unknown" unchanged)."""
    if value == "unknown" or value is None:
        return value
    table = {"value": value.value, "source": value.source}
    if value.note:
        table["note"] = value.note
    return table


def _finite(value: float | None) -> bool:
    return value is not None and math.isfinite(value)


def _label(definition: str) -> str:
    """A short label from a v1 definition: its first clause, capitalised."""
    head = definition
    for cut in (" (", ";", " --", ":"):
        head = head.split(cut)[0]
    head = head.strip()[:80] or "Primary rate"
    return head[0].upper() + head[1:]


def migrate_v1(trial: TrialV1) -> dict[str, Any]:
    """The version 2 document (a dict to validate) holding what a version 1 trial says."""
    info = trial.trial
    doc: dict[str, Any] = {
        "schema_version": 2,
        "trial": {
            "id": info.id,
            "title": info.title,
            "journal": info.journal,
            "year": info.year,
            "doi": None if info.doi == "unknown" else info.doi,
            "registry": info.registry,
            "treatment": info.treatment,
            "population": info.population,
            "design": info.design,
            "time_unit": "months",
        },
        "enrolled": _reported(trial.enrolled),
    }
    d = trial.design
    doc["design"] = {
        "endpoint": "burden_reduction",
        "stages": _reported(d.stages),
        "p0": _reported(d.p0),
        "p1": _reported(d.p1),
        "alpha": _reported(d.alpha),
        "power": _reported(d.power),
        "stage1": _reported(d.stage1),
    }
    br = trial.burden_reduction
    doc["rates"] = {
        "burden_reduction": {
            "label": _label(br.definition),
            "definition": br.definition,
            "primary": True,
            "estimate_percent": _reported(br.estimate_percent),
            "ci_percent": _reported(br.ci95_percent),
            "ci_level": 0.95,
            "decimals": br.reported_decimals.value,
            "responders": _reported(br.responders),
            "evaluable": _reported(br.evaluable),
            "max_evaluable": _reported(br.max_evaluable),
            "ci_method": _reported(br.ci_method),
        }
    }
    a = trial.assumptions
    other: dict[str, Any] = {}
    if trial.objective_response is not None:
        for name in ("confirmed_responses", "unconfirmed_partial_responses"):
            value = getattr(trial.objective_response, name)
            if value != "unknown":
                other[name] = _reported(value)
    if trial.pfs is not None:
        p = trial.pfs
        lo, hi = p.ci95_months.value
        pfs: dict[str, Any] = {
            "label": "Progression-free survival",
            "unit": "months",
            "median": _reported(p.median_months),
            # v1 could only write a missing upper limit as None or inf: both mean "NE"
            "ci": {**_reported(p.ci95_months), "value": [lo, hi if _finite(hi) else "NE"]},
            "events": _reported(p.events),
            "censored": _reported(p.censored),
            "ci_transform": _reported(p.ci_transform),
            "association": _reported(p.association_with_prior_response),
        }
        if p.patient_data is not None:
            pfs["patient_data"] = {
                "path": p.patient_data.path,
                "unit": "months",
                "source": p.patient_data.source,
            }
        if p.digitised_curve is not None:
            dc = p.digitised_curve
            pfs["digitised_curve"] = {
                "curve": dc.curve,
                "at_risk": dc.at_risk,
                "total_events": _reported(dc.total_events),
                "source": dc.source,
            }
        assumptions = {
            "ci_transform": a.pfs_ci_transform,
            "n_at_risk": a.pfs_n_at_risk,
            "censoring_fraction": a.pfs_censoring_fraction,
        }
        pfs["assumptions"] = {k: v.model_dump() for k, v in assumptions.items() if v is not None}
        doc["time_to_event"] = {"pfs": pfs}
    if trial.adverse_events is not None and trial.prior_therapy is not None:
        pt, ae = trial.prior_therapy, trial.adverse_events
        assumptions = {"test": a.ae_test, "split_range": a.ae_split_range}
        doc["groupings"] = {
            "prior_therapy": {
                "label": "prior therapy",
                "exposed": {"name": pt.exposed, "n": _reported(pt.n_exposed)},
                "reference": {"name": pt.reference, "n": _reported(pt.n_reference)},
                "test": _reported(ae.test),
                "assumptions": {k: v.model_dump() for k, v in assumptions.items() if v is not None},
            }
        }
        doc["comparisons"] = {
            key: {
                "label": event.name,
                "grouping": "prior_therapy",
                "p_value": _reported(event.p_value),
                "more_frequent_in": _reported(event.more_frequent_after),
                "events_exposed": _reported(event.events_exposed),
                "events_reference": _reported(event.events_reference),
            }
            for key, event in ae.by_prior_therapy.items()
        }
        if ae.most_common != "unknown":
            other["most_common_adverse_events"] = {
                "value": ", ".join(ae.most_common.value),
                "source": ae.most_common.source,
            }
        if ae.severity != "unknown":
            other["adverse_event_severity"] = _reported(ae.severity)
    if other:
        doc["other"] = other
    return doc
