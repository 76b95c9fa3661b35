"""Checks of patient data (real or reconstructed from a digitised curve) against what the paper
reported: the median and its CI, the number of events and the enrolment.

Each check returns sentences naming the gap, never raises: the caller decides whether a gap
stops the analysis or is shown beside it. The commonest cause of a wide gap is a time unit (a
table in days beside a median in months), so a ratio of medians near a unit conversion (30.44
days or 4.35 weeks per month) is named as such.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Literal

import numpy as np

from trial_reanalysis.analysis.frequentist.survival import kaplan_meier

TimeUnit = Literal["days", "weeks", "months", "years"]
#: Length of each unit in days (Julian year: 365.25 days, a month 30.4375 days).
UNIT_DAYS: dict[str, float] = {"days": 1.0, "weeks": 7.0, "months": 365.25 / 12, "years": 365.25}
#: A ratio of medians within this relative distance of a unit conversion is named as one.
UNIT_RATIO_TOLERANCE = 0.15
#: Without a reported CI, a data median further than this (relative) from the reported one is a
#: gap. 25 %: the KM median of a trial of ~50 patients has a CI of roughly -20 % / +35 %.
MEDIAN_TOLERANCE = 0.25
#: Follow-up longer than this many years looks like a wrong unit for a phase 2 trial.
MAX_PLAUSIBLE_YEARS = 20.0


def _unit_hint(ratio: float, unit: str) -> str:
    """': are the times in days?' when ``ratio`` (data / reported) is near a unit conversion."""
    for other, days in UNIT_DAYS.items():
        factor = UNIT_DAYS[unit] / days  # how much larger the numbers are in ``other``
        if other != unit and abs(ratio / factor - 1) <= UNIT_RATIO_TOLERANCE:
            return f": are the times in {other}?"
    return ""


def check_against_report(
    time: Sequence[float] | np.ndarray,
    event: Sequence[int] | np.ndarray,
    *,
    unit: TimeUnit = "months",
    median: float | None = None,
    median_ci: tuple[float | None, float | None] | None = None,
    events: int | None = None,
    enrolled: int | None = None,
) -> list[str]:
    """Compare patient data with the reported summaries; return one warning per gap.

    Args:
        time, event: the data (times in ``unit``; event 1, censored 0).
        unit: the unit of both the times and the reported median.
        median: reported median (``math.inf`` = "not reached"; ``None`` = not reported).
        median_ci: reported 95 % CI limits of the median, either may be ``None`` (not reported)
            or ``math.inf`` (not estimable).
        events: reported number of events; enrolled: reported number of patients.
    Returns:
        Warnings, e.g. ``"KM median of the data 131 vs reported 4.4 months: are the times in
        days?"``; empty when the data agree. A median gap is: outside the reported CI when one is
        given, else more than ``MEDIAN_TOLERANCE`` away. Times longer than
        ``MAX_PLAUSIBLE_YEARS`` are flagged even without a reported median.
    """
    if unit not in UNIT_DAYS:
        raise ValueError(f"unknown time unit {unit!r}; use one of {sorted(UNIT_DAYS)}")
    time = np.asarray(time, dtype=float)
    event = np.asarray(event, dtype=int)
    warnings: list[str] = []
    n, n_events = int(time.size), int(event.sum())
    if enrolled is not None and n != enrolled:
        warnings.append(f"the data hold {n} patients, the paper enrolled {enrolled}")
    if events is not None and n_events != events:
        warnings.append(f"the data hold {n_events} events, the paper reported {events}")
    if n_events == 0:
        warnings.append("the data hold no events: no median can be read from them")
        return warnings
    data_median = kaplan_meier(time, event).median_ci("log")[0]
    reached = not math.isnan(data_median)
    if median is not None:
        reported = f"reported {median:g} {unit}"
        if math.isinf(median):
            if reached:
                warnings.append(
                    f"KM median of the data {data_median:.3g} {unit}, reported not reached"
                )
        elif not reached:
            warnings.append(f"the KM median of the data is not reached, {reported}")
        else:
            lo, hi = median_ci if median_ci is not None else (None, None)
            if lo is not None or hi is not None:
                outside = (lo is not None and data_median < lo) or (
                    hi is not None and data_median > hi
                )
                limits = f" (CI {'?' if lo is None else f'{lo:g}'}-"
                limits += f"{'?' if hi is None else f'{hi:g}'})"
            else:
                outside = abs(data_median / median - 1) > MEDIAN_TOLERANCE
                limits = ""
            if outside:
                hint = _unit_hint(data_median / median, unit)
                warnings.append(
                    f"KM median of the data {data_median:.3g} vs {reported}{limits}{hint}"
                )
    longest_years = float(time.max()) * UNIT_DAYS[unit] / UNIT_DAYS["years"]
    if longest_years > MAX_PLAUSIBLE_YEARS:
        smaller = [u for u, d in UNIT_DAYS.items() if d < UNIT_DAYS[unit]]
        warnings.append(
            f"the longest time, {time.max():g} {unit}, is {longest_years:.0f} years: the times"
            f" look like {' or '.join(smaller)}"
        )
    return warnings
