"""Historical trials as data for MAP priors: each trial enters through its own likelihood.

A historical set (``data/historical/*.toml``) names trial files and the endpoint key in each. A
rate enters with its published counts, or with the candidate counts of its printed report and
their prior weights (:mod:`~trial_reanalysis.analysis.reconstruction.rate_report`), so the
reconstruction's uncertainty flows into the MAP prior; a median enters with its printed CI
(converted to months), which the MAP model reads as a normal likelihood of the log median
(:mod:`~trial_reanalysis.models.map_prior`).
"""

from __future__ import annotations

import tomllib
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from trial_reanalysis.analysis.errors import InputError
from trial_reanalysis.analysis.paths import DATA_DIR
from trial_reanalysis.analysis.trials.checks import rate_report_of, time_unit
from trial_reanalysis.analysis.trials.load import LoadedTrial, load_trial
from trial_reanalysis.analysis.trials.v2 import DAYS_PER_UNIT

#: The seed's setting: mRCC after VEGF-targeted therapy.
DEFAULT_HISTORICAL = DATA_DIR / "historical" / "mrcc_after_vegf.toml"


@dataclass(frozen=True)
class HistoricalEntry:
    """One trial's endpoint in a historical set."""

    loaded: LoadedTrial
    endpoint: str
    name: str


def rate_rows(entry: HistoricalEntry) -> list[tuple[str, int, int, float]]:
    """Rows (name, x, n, weight) of one trial's rate: its counts, or its report's candidates."""
    from trial_reanalysis.analysis.reconstruction.rate_report import report_candidates

    trial = entry.loaded.trial
    if entry.endpoint not in trial.rates:
        raise InputError(entry.loaded.path, "endpoint", f"no rate {entry.endpoint!r}")
    rate = trial.rates[entry.endpoint]
    found = report_candidates(rate_report_of(rate, trial.enrolled.value))
    return [(entry.name, c.responders, c.evaluable, c.prior_weight) for c in found.candidates]


def median_row(entry: HistoricalEntry) -> tuple[str, float, float | None, float | None] | None:
    """Row (name, median, lower, upper) in months of one trial's median, or None when it cannot
    enter (not reached, or printed without any CI limit)."""
    trial = entry.loaded.trial
    if entry.endpoint not in trial.time_to_event:
        raise InputError(entry.loaded.path, "endpoint", f"no time-to-event {entry.endpoint!r}")
    tte = trial.time_to_event[entry.endpoint]
    if tte.median == "not reported" or not tte.median.reached or tte.ci == "not reported":
        return None
    lo, hi = tte.ci.value
    if lo is None:
        return None
    factor = DAYS_PER_UNIT[time_unit(trial, tte)] / DAYS_PER_UNIT["months"]
    return (
        entry.name,
        tte.median.value * factor,
        lo * factor,
        None if hi is None else hi * factor,
    )


def parse_entry(spec: str, endpoint: str | None) -> HistoricalEntry:
    """``FILE`` or ``FILE:KEY`` (the key overrides ``endpoint``) as a loaded entry."""
    file, _, key = spec.partition(":") if ":" in Path(spec).name else (spec, "", "")
    key = key or endpoint
    if not key:
        raise InputError(spec, "endpoint", "name the endpoint: FILE:KEY or --endpoint KEY")
    loaded = load_trial(file)
    return HistoricalEntry(loaded, key, f"{loaded.trial.trial.id}:{key}")


def load_historical(path: str | Path = DEFAULT_HISTORICAL) -> dict[str, dict[str, Any]]:
    """A historical set: map name -> {kind, label, rationale, entries, excluded}."""
    path = Path(path)
    try:
        doc = tomllib.loads(path.read_text())
    except (OSError, tomllib.TOMLDecodeError) as exc:
        raise InputError(path, "<file>", f"cannot read the historical set ({exc})") from exc
    out: dict[str, dict[str, Any]] = {}
    for name, spec in doc.get("maps", {}).items():
        entries = []
        for i, t in enumerate(spec.get("trials", [])):
            try:
                loaded = load_trial(path.parent.parent / "trials" / t["file"])
            except KeyError:
                raise InputError(
                    path, f"maps.{name}.trials[{i}]", "needs file and endpoint"
                ) from None
            entries.append(HistoricalEntry(loaded, t["endpoint"], t.get("name", t["file"])))
        kind = spec.get("kind")
        if kind not in ("rate", "median"):
            raise InputError(path, f"maps.{name}.kind", f"must be rate or median, got {kind!r}")
        out[name] = {
            "kind": kind,
            "label": spec.get("label", name),
            "rationale": spec.get("rationale", ""),
            "entries": entries,
            "excluded": list(spec.get("excluded", [])),
        }
    return out


def map_rows(kind: str, entries: Sequence[HistoricalEntry]) -> tuple[list[tuple], list[str]]:
    """The rows the MAP model reads, and the entries left out (with why)."""
    rows: list[tuple] = []
    left_out: list[str] = []
    for entry in entries:
        if kind == "rate":
            rows += rate_rows(entry)
        else:
            row = median_row(entry)
            if row is None:
                left_out.append(f"{entry.name}: median not reached or printed without a CI limit")
            else:
                rows.append(row)
    return rows, left_out


def historical_map(
    kind: str,
    entries: Sequence[HistoricalEntry],
    *,
    seed: int,
    tau_scale: float | None = None,
    allow_failed: bool = False,
) -> dict[str, Any]:
    """The MAP prior of a historical set's endpoint (see
    :func:`~trial_reanalysis.analysis.planning.map_prior.map_prior_from_summaries`), with the
    entries that could not enter."""
    from trial_reanalysis.analysis.planning.map_prior import map_prior_from_summaries

    rows, left_out = map_rows(kind, entries)
    if len({r[0] for r in rows}) < 2:
        raise InputError("historical set", "trials", "a MAP prior needs at least two trials")
    result = map_prior_from_summaries(
        rows, kind, tau_scale=tau_scale, seed=seed, allow_failed=allow_failed
    )
    result["left_out"] = left_out
    return result
