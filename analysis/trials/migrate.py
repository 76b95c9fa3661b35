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
    doc: dict[str, Any] = {
        "schema_version": 2,
        "trial": _trial_info(trial),
        "enrolled": _reported(trial.enrolled),
        "design": _design(trial),
        "rates": {"burden_reduction": _burden_reduction(trial)},
    }
    other: dict[str, Any] = {}
    if trial.objective_response is not None:
        for name in ("confirmed_responses", "unconfirmed_partial_responses"):
            value = getattr(trial.objective_response, name)
            if value != "unknown":
                other[name] = _reported(value)
    if trial.pfs is not None:
        doc["time_to_event"] = {"pfs": _pfs(trial)}
    if trial.adverse_events is not None and trial.prior_therapy is not None:
        doc["groupings"], doc["comparisons"] = _prior_therapy(trial)
        ae = trial.adverse_events
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


def _trial_info(trial: TrialV1) -> dict[str, Any]:
    """The v2 ``trial`` table (v1 times were in months)."""
    info = trial.trial
    return {
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
    }


def _design(trial: TrialV1) -> dict[str, Any]:
    """The v2 ``design`` table: v1 designs were always for the burden reduction rate."""
    d = trial.design
    return {
        "endpoint": "burden_reduction",
        "stages": _reported(d.stages),
        "p0": _reported(d.p0),
        "p1": _reported(d.p1),
        "alpha": _reported(d.alpha),
        "power": _reported(d.power),
        "stage1": _reported(d.stage1),
    }


def _burden_reduction(trial: TrialV1) -> dict[str, Any]:
    """The v1 burden reduction rate as the v2 primary rate (95 % CI)."""
    br = trial.burden_reduction
    return {
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


def _pfs(trial: TrialV1) -> dict[str, Any]:
    """The v1 PFS as the v2 time-to-event endpoint ``pfs`` (months), with its assumptions."""
    p, a = trial.pfs, trial.assumptions
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
    pfs["assumptions"] = {
        k: v.model_dump(mode="json") for k, v in assumptions.items() if v is not None
    }
    return pfs


def _prior_therapy(trial: TrialV1) -> tuple[dict[str, Any], dict[str, Any]]:
    """The v1 adverse events by prior therapy as the v2 grouping ``prior_therapy`` and its
    comparisons."""
    pt, ae, a = trial.prior_therapy, trial.adverse_events, trial.assumptions
    assumptions = {"test": a.ae_test, "split_range": a.ae_split_range}
    groupings = {
        "prior_therapy": {
            "label": "prior therapy",
            "exposed": {"name": pt.exposed, "n": _reported(pt.n_exposed)},
            "reference": {"name": pt.reference, "n": _reported(pt.n_reference)},
            "test": _reported(ae.test),
            "assumptions": {
                k: v.model_dump(mode="json") for k, v in assumptions.items() if v is not None
            },
        }
    }
    comparisons = {
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
    return groupings, comparisons


#: Version 2 field paths (prefixes) -> where a version 1 file writes them, most specific first.
_V1_FIELDS: tuple[tuple[str, str], ...] = (
    ("rates.burden_reduction.ci_percent", "burden_reduction.ci95_percent"),
    ("rates.burden_reduction.decimals", "burden_reduction.reported_decimals"),
    ("rates.burden_reduction.label", "burden_reduction.definition"),
    ("rates.burden_reduction", "burden_reduction"),
    ("time_to_event.pfs.median", "pfs.median_months"),
    ("time_to_event.pfs.ci", "pfs.ci95_months"),
    ("time_to_event.pfs.association", "pfs.association_with_prior_response"),
    ("time_to_event.pfs.assumptions.ci_transform", "assumptions.pfs_ci_transform"),
    ("time_to_event.pfs.assumptions.n_at_risk", "assumptions.pfs_n_at_risk"),
    ("time_to_event.pfs.assumptions.censoring_fraction", "assumptions.pfs_censoring_fraction"),
    ("time_to_event.pfs", "pfs"),
    ("groupings.prior_therapy.exposed.name", "prior_therapy.exposed"),
    ("groupings.prior_therapy.reference.name", "prior_therapy.reference"),
    ("groupings.prior_therapy.exposed.n", "prior_therapy.n_exposed"),
    ("groupings.prior_therapy.reference.n", "prior_therapy.n_reference"),
    ("groupings.prior_therapy.test", "adverse_events.test"),
    ("groupings.prior_therapy.assumptions.test", "assumptions.ae_test"),
    ("groupings.prior_therapy.assumptions.split_range", "assumptions.ae_split_range"),
    ("groupings.prior_therapy", "prior_therapy"),
    ("other.confirmed_responses", "objective_response.confirmed_responses"),
    ("other.unconfirmed_partial_responses", "objective_response.unconfirmed_partial_responses"),
    ("other.most_common_adverse_events", "adverse_events.most_common"),
    ("other.adverse_event_severity", "adverse_events.severity"),
)


def v1_field(field: str) -> str | None:
    """Where a version 1 file writes the field a version 2 path names (None: no counterpart).

    Errors found after migration name the version 2 path; the loader adds this one so that the
    writer of a version 1 file knows which line to edit.
    """
    if field.startswith(("enrolled", "design", "trial.")) or field == "trial":
        return field
    if field.startswith("comparisons."):
        rest = field.removeprefix("comparisons.")
        key, _, sub = rest.partition(".")
        sub = {"more_frequent_in": "more_frequent_after", "label": "name"}.get(sub, sub)
        return f"adverse_events.by_prior_therapy.{key}" + (f".{sub}" if sub else "")
    for new, old in _V1_FIELDS:
        if field == new or field.startswith((new + ".", new + "[")):
            return old + field[len(new) :]
    return None
