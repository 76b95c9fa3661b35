"""Cross-field checks of a schema-valid trial (version 2): every bound the per-field types cannot
express, and every check an analysis would otherwise make only at run time (no compatible counts,
a tie in a time-to-event summary, an unreadable CSV, an enumeration too large), found before any
work. Each problem is an :class:`~trial_reanalysis.analysis.errors.InputError` naming the file,
the field (its dotted path in the file) and what to do.

Also here, because the endpoints read them the same way: :func:`rate_report_of` (a rate as the
reconstruction reads it) and :func:`time_to_event_data` (the patient data or digitised curve a
time-to-event endpoint names, read and checked with the run's own readers).
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import TYPE_CHECKING, Any

from trial_reanalysis.analysis.errors import InputError
from trial_reanalysis.analysis.trials.v2 import (
    DAYS_PER_UNIT,
    Rate,
    TimeToEvent,
    TrialV2,
    printed_decimals,
)
from trial_reanalysis.analysis.trials.validation import (
    MAX_AE_WORK,
    MAX_CENSORING_FRACTION,
    MAX_ENROLLED,
    MEDIAN_RATIO_LIMIT,
    read_digitised_curve,
    read_patient_data,
)

if TYPE_CHECKING:  # pragma: no cover
    import pandas as pd

    from trial_reanalysis.analysis.reconstruction.rate_report import RateReport
    from trial_reanalysis.analysis.trials.load import LoadedTrial

#: Prior families and parameters each endpoint kind's models take.
PRIOR_PARAMETERS: dict[str, dict[str, tuple[str, ...]]] = {
    "rate": {"beta": ("alpha", "beta")},
    "time_to_event": {
        "lognormal": ("log_median_mu", "log_median_sd", "log_shape_mu", "log_shape_sd")
    },
    "comparison": {"normal": ("log_or_mu", "log_or_sigma")},
}
#: Default dropout allowance of a rate whose number evaluated is not published.
DEFAULT_DROPOUT = 0.2


def _check(ok: bool, path: str | Path, field: str, problem: str) -> None:
    if not ok:
        raise InputError(path, field, problem)


def default_split_range(enrolled: int) -> tuple[int, int]:
    """Split range (patients in the exposed group) used when the file declares none."""
    return enrolled // 4, enrolled - enrolled // 4


def _known(value: Any) -> Any:
    return None if isinstance(value, str) else value.value


# ---------------------------------------------------------------------------------------------
# rates
# ---------------------------------------------------------------------------------------------


def rate_dropout(rate: Rate) -> float:
    """The dropout allowance of a rate (its assumption's default, else 0.2)."""
    a = rate.assumptions.dropout_allowance
    return float(a.default) if a is not None else DEFAULT_DROPOUT


def rate_report_of(
    rate: Rate, enrolled: int, *, dropout: float | None = None, rounding: str | None = None
) -> RateReport:
    """The printed rate as :class:`~trial_reanalysis.analysis.reconstruction.rate_report.
    RateReport` reads it (decimals as written in the file unless declared)."""
    from trial_reanalysis.analysis.reconstruction.rate_report import RateReport

    est = rate.estimate_percent
    estimate = None if est == "not reported" else est.value
    ci = None if rate.ci_percent == "not reported" else tuple(rate.ci_percent.value)
    if rate.decimals is not None:
        dec = ci_dec = rate.decimals
    else:
        dec = printed_decimals(estimate) if estimate is not None else 0
        ci_dec = max(printed_decimals(v) for v in ci) if ci is not None else dec
    max_eval = _known(rate.max_evaluable)
    return RateReport(
        estimate=estimate if estimate is not None else 0.0,
        enrolled=enrolled,
        ci=ci,
        decimals=dec,
        ci_decimals=ci_dec,
        rounding=rounding or rate.rounding,
        max_evaluable=min(max_eval, enrolled) if max_eval is not None else None,
        evaluable=_known(rate.evaluable),
        responders=_known(rate.responders),
        dropout=rate_dropout(rate) if dropout is None else dropout,
        ci_method=_known(rate.ci_method),
        level=rate.ci_level,
    )


def _check_rate(key: str, rate: Rate, enrolled: int, path: Path) -> None:
    where = f"rates.{key}"
    n_max = _known(rate.max_evaluable) or enrolled
    _check(
        n_max <= enrolled,
        path,
        f"{where}.max_evaluable",
        f"{n_max} exceeds the {enrolled} patients enrolled",
    )
    n, x = _known(rate.evaluable), _known(rate.responders)
    if n is not None:
        _check(n <= n_max, path, f"{where}.evaluable", f"{n} exceeds max_evaluable {n_max}")
    if x is not None:
        top = n if n is not None else n_max
        _check(
            x <= top,
            path,
            f"{where}.responders",
            f"{x} exceeds {'evaluable' if n is not None else 'the most evaluable'} {top}",
        )
    a = rate.assumptions.dropout_allowance
    if a is not None:
        for i, v in enumerate([a.default, *a.sweep]):
            what = "default" if i == 0 else f"sweep[{i - 1}]"
            _check(
                isinstance(v, int | float) and not isinstance(v, bool) and 0 <= v < 1,
                path,
                f"{where}.assumptions.dropout_allowance.{what}",
                f"{v!r} must be a fraction in [0, 1)",
            )
    if x is not None and n is not None:
        if rate.estimate_percent != "not reported":
            est = rate.estimate_percent.value
            dec = rate.decimals if rate.decimals is not None else printed_decimals(est)
            _check(
                abs(100 * x / n - est) <= 10.0**-dec + 1e-9,
                path,
                f"{where}.estimate_percent",
                f"{est} % is not {x}/{n} = {100 * x / n:.{dec + 2}f} % to within one printed "
                f"unit ({10.0**-dec:g}); check the counts, the estimate and decimals",
            )
        return  # published counts are the data
    from trial_reanalysis.analysis.reconstruction.rate_report import report_candidates

    if rate.estimate_percent == "not reported":
        _check(
            False,
            path,
            f"{where}.estimate_percent",
            "without responders and evaluable the printed estimate is needed",
        )
    try:
        found = report_candidates(rate_report_of(rate, enrolled))
    except ValueError as exc:
        raise InputError(
            path,
            f"{where}.estimate_percent",
            f"no (responders, evaluable) reproduces the printed rate: {exc}; check the numbers, "
            "max_evaluable, decimals and rounding",
        ) from None
    _check(
        len(found.candidates) > 0,
        path,
        f"{where}.estimate_percent",
        "no (responders, evaluable) reproduces the printed rate",
    )


# ---------------------------------------------------------------------------------------------
# time-to-event endpoints
# ---------------------------------------------------------------------------------------------


def time_unit(trial: TrialV2, tte: TimeToEvent) -> str:
    """The unit of a time-to-event endpoint's times (its own, else the trial's)."""
    return tte.unit or trial.trial.time_unit


def time_to_event_data(
    loaded: LoadedTrial, key: str
) -> tuple[pd.DataFrame, str, Path, bool] | None:
    """The patient data a time-to-event endpoint names, in the endpoint's unit.

    Returns ``(data, origin, path, reconstructed)`` with columns ``time`` (endpoint unit) and
    ``event``, or None when the endpoint names no CSV. Read with the run's own readers.
    """
    trial = loaded.trial
    tte = trial.time_to_event[key]
    enrolled = trial.enrolled.value
    base = loaded.base
    if tte.patient_data is not None:
        pd_ = tte.patient_data
        path = base / pd_.path
        data = read_patient_data(path, enrolled)
        unit = pd_.unit or time_unit(trial, tte)
        factor = DAYS_PER_UNIT[unit] / DAYS_PER_UNIT[time_unit(trial, tte)]
        if factor != 1.0:
            data = data.assign(time=data["time"] * factor)
        return data, f"patient data ({pd_.source})", path, False
    if tte.digitised_curve is not None:
        dc = tte.digitised_curve
        total = _known(dc.total_events)
        curve_path = base / dc.curve
        data = read_digitised_curve(curve_path, base / dc.at_risk, total, enrolled, clean=dc.clean)
        origin = f"reconstructed from a digitised curve (Guyot et al. 2012; {dc.source})"
        return data, origin, curve_path, True
    return None


def _assumption_values(a: Any) -> list[tuple[str, Any]]:
    return [("default", a.default)] + [(f"sweep[{i}]", v) for i, v in enumerate(a.sweep)]


def _check_time_to_event(loaded: LoadedTrial, key: str, path: Path) -> None:
    """Every cross-field rule of one time-to-event endpoint: counts against patients and
    enrolment, the median against its limits, the assumptions, and the patient data or curve."""
    trial = loaded.trial
    tte = trial.time_to_event[key]
    where = f"time_to_event.{key}"
    enrolled = trial.enrolled.value
    patients = _known(tte.patients) or enrolled
    _check(
        patients <= enrolled,
        path,
        f"{where}.patients",
        f"{patients} exceeds the {enrolled} enrolled",
    )
    _check_counts(tte, where, patients, path)
    has_data = tte.patient_data is not None or tte.digitised_curve is not None
    if tte.median != "not reported" and tte.median.reached and not has_data:
        _check_median_limits(tte, where, path)
    _check_tte_assumptions(tte, where, patients, enrolled, path)
    if not has_data:
        return
    which = "patient_data" if tte.patient_data is not None else "digitised_curve"
    try:
        found = time_to_event_data(loaded, key)
        if found is not None and tte.median != "not reported" and tte.median.reached:
            _check_data_median(found[0], tte.median.value, found[2], time_unit(trial, tte))
    except InputError as exc:  # name the trial file too: it is where the CSV was named
        raise InputError(
            exc.source, exc.field, f"{exc.problem} (the CSV of {where}.{which} in {path})"
        ) from None


def _check_counts(tte: TimeToEvent, where: str, patients: int, path: Path) -> None:
    """Events and censored each at most the patients, together too, censoring at most
    :data:`MAX_CENSORING_FRACTION` (the summary likelihood's calibration stops there)."""
    events, censored = _known(tte.events), _known(tte.censored)
    for name, value in (("events", events), ("censored", censored)):
        if value is not None:
            _check(
                value <= patients,
                path,
                f"{where}.{name}",
                f"{value} exceeds the {patients} patients of this analysis",
            )
    if events is None or censored is None:
        return
    _check(
        events + censored <= patients,
        path,
        f"{where}.censored",
        f"events + censored = {events + censored} exceeds the {patients} patients",
    )
    if events + censored > 0:
        frac = censored / (events + censored)
        _check(
            frac <= MAX_CENSORING_FRACTION,
            path,
            f"{where}.censored",
            f"censored fraction {frac:.2f} above {MAX_CENSORING_FRACTION} (the calibration "
            "of the summary likelihood cannot represent it)",
        )


def _check_median_limits(tte: TimeToEvent, where: str, path: Path) -> None:
    """A printed median analysed from its summary: limits distinct from it, one event at least."""
    m = tte.median.value
    if tte.ci != "not reported":
        lo, hi = tte.ci.value
        tie = (
            "equals the median: the order-statistic likelihood needs distinct limits "
            "(a tie from scheduled scans cannot be analysed from the summary; give the "
            "patient data or a digitised curve)"
        )
        _check(lo is None or lo < m, path, f"{where}.ci", f"lower limit {lo} {tie}")
        _check(hi is None or m < hi, path, f"{where}.ci", f"upper limit {hi} {tie}")
    events = _known(tte.events)
    if events is not None:
        _check(events >= 1, path, f"{where}.events", "a median needs at least one event")


def _check_tte_assumptions(
    tte: TimeToEvent, where: str, patients: int, enrolled: int, path: Path
) -> None:
    """The declared assumption values: CI transform, n at risk, censoring ranges."""
    a = tte.assumptions
    if a.ci_transform is not None:
        for what, v in _assumption_values(a.ci_transform):
            _check(
                v in ("plain", "log", "log-log"),
                path,
                f"{where}.assumptions.ci_transform.{what}",
                f"{v!r} must be plain, log or log-log",
            )
    if a.n_at_risk is not None:
        for what, n in _assumption_values(a.n_at_risk):
            _check(
                isinstance(n, int) and not isinstance(n, bool) and 1 <= n <= patients,
                path,
                f"{where}.assumptions.n_at_risk.{what}",
                f"{n!r} must be a whole number in 1..{patients} ("
                + ("the patients of this analysis)" if patients < enrolled else "enrolled)"),
            )
    if a.censoring_fraction is not None:
        for what, v in _assumption_values(a.censoring_fraction):
            field = f"{where}.assumptions.censoring_fraction.{what}"
            ok = (
                isinstance(v, list | tuple)
                and len(v) == 2
                and all(isinstance(c, int | float) and not isinstance(c, bool) for c in v)
            )
            _check(ok, path, field, f"{v!r} must be a range [lo, hi] of fractions")
            _check(0 <= v[0] <= v[1], path, field, f"lower {v[0]} > upper {v[1]} or negative")
            _check(
                v[1] <= MAX_CENSORING_FRACTION,
                path,
                field,
                f"upper {v[1]} above {MAX_CENSORING_FRACTION} (100 % censoring leaves no median)",
            )


def _check_data_median(data: pd.DataFrame, reported: float, source: Path, unit: str) -> None:
    """Patient data whose KM median is far from the reported one are in another unit."""
    from trial_reanalysis.analysis.frequentist.survival import kaplan_meier

    km = kaplan_meier(data["time"].to_numpy(), data["event"].to_numpy())
    median = km.median_ci("log")[0]
    if math.isfinite(median) and median > 0:
        ratio = median / reported
        _check(
            1 / MEDIAN_RATIO_LIMIT <= ratio <= MEDIAN_RATIO_LIMIT,
            source,
            "time",
            f"Kaplan-Meier median {median:.3g} vs the reported {reported} {unit} (ratio "
            f"{ratio:.3g}): are the times in another unit? Set patient_data.unit (days, weeks, "
            "months, years)",
        )


# ---------------------------------------------------------------------------------------------
# groupings and comparisons
# ---------------------------------------------------------------------------------------------


def _check_groupings(trial: TrialV2, path: Path) -> None:
    enrolled = trial.enrolled.value
    for gkey, g in trial.groupings.items():
        where = f"groupings.{gkey}"
        ne, nr = _known(g.exposed.n), _known(g.reference.n)
        for side, n in (("exposed", ne), ("reference", nr)):
            if n is not None:
                _check(
                    n < enrolled,
                    path,
                    f"{where}.{side}.n",
                    f"{n} leaves no patient of the {enrolled} enrolled in the other group",
                )
        if ne is not None and nr is not None:
            _check(
                ne + nr <= enrolled,
                path,
                f"{where}.exposed.n",
                f"the two groups hold {ne + nr} patients, more than the {enrolled} enrolled",
            )
        a = g.assumptions
        if a.test is not None:
            for what, v in _assumption_values(a.test):
                _check(
                    v in ("fisher", "chi2"),
                    path,
                    f"{where}.assumptions.test.{what}",
                    f"{v!r} must be fisher or chi2",
                )
        ranges = []
        if a.split_range is not None:
            for what, v in _assumption_values(a.split_range):
                field = f"{where}.assumptions.split_range.{what}"
                ok = (
                    isinstance(v, list | tuple)
                    and len(v) == 2
                    and all(isinstance(c, int) and not isinstance(c, bool) for c in v)
                )
                _check(ok, path, field, f"{v!r} must be a range [lo, hi] of whole numbers")
                _check(v[0] <= v[1], path, field, f"lower {v[0]} > upper {v[1]}")
                _check(
                    1 <= v[0] and v[1] <= enrolled - 1,
                    path,
                    field,
                    f"[{v[0]}, {v[1]}] must lie inside 1..{enrolled - 1} (enrolled - 1)",
                )
                ranges.append(tuple(v))
        if ne is not None and nr is not None:
            continue  # one published split: a single small grid
        if not any(c.grouping == gkey for c in trial.comparisons.values()):
            continue
        ranges = ranges or [default_split_range(enrolled)]
        work = sum(
            n * (enrolled - n) * enrolled
            for n in {n for lo, hi in ranges for n in range(lo, hi + 1)}
        )
        _check(
            work <= MAX_AE_WORK,
            path,
            f"{where}.assumptions.split_range" if a.split_range is not None else "enrolled",
            f"enumerating every 2x2 table of every split of {enrolled} patients would take too "
            f"long (work {work:.2g} > {MAX_AE_WORK:.0e}); declare a narrower split_range or "
            "publish both group sizes",
        )


def _check_comparisons(trial: TrialV2, path: Path) -> None:
    enrolled = trial.enrolled.value
    for key, c in trial.comparisons.items():
        where = f"comparisons.{key}"
        g = trial.groupings[c.grouping]
        names = (g.exposed.name, g.reference.name)
        if c.more_frequent_in != "unknown":
            _check(
                c.more_frequent_in.value in names,
                path,
                f"{where}.more_frequent_in",
                f"{c.more_frequent_in.value!r} is neither group of groupings.{c.grouping} {names}",
            )
        for side, group in (("exposed", g.exposed), ("reference", g.reference)):
            events = _known(getattr(c, f"events_{side}"))
            if events is not None:
                limit = _known(group.n) or enrolled
                _check(
                    events <= limit,
                    path,
                    f"{where}.events_{side}",
                    f"{events} events exceed the {limit} patients of group {group.name!r}",
                )
        _check_direction(trial, key, path)


def _compatible(ne: int, nr: int, a: int | None, b: int | None, direction: int | None) -> bool:
    """Can (a of ne) vs (b of nr) events hold, with the exposed group's rate higher (direction
    1) or lower (-1) than the reference's (None: either)?"""
    if ne < 1 or nr < 1 or (a is not None and a > ne) or (b is not None and b > nr):
        return False
    if direction is None:
        return True
    if a is not None and b is not None:
        return (a * nr > b * ne) - (a * nr < b * ne) == direction
    if a is not None:  # some b in 0..nr gives the direction
        return a > 0 if direction == 1 else a < ne
    if b is not None:
        return b < nr if direction == 1 else b > 0
    return True


def _check_direction(trial: TrialV2, key: str, path: Path) -> None:
    """Published counts must allow the reported direction for some group sizes the analysis
    considers: the published sizes, else every split of each declared split range (default:
    :func:`default_split_range`), the other group holding the remaining patients."""
    c = trial.comparisons[key]
    g = trial.groupings[c.grouping]
    a, b = _known(c.events_exposed), _known(c.events_reference)
    if a is None and b is None:
        return
    direction = None
    if c.more_frequent_in != "unknown":
        direction = 1 if c.more_frequent_in.value == g.exposed.name else -1
    enrolled = trial.enrolled.value
    ne, nr = _known(g.exposed.n), _known(g.reference.n)
    where = f"comparisons.{key}"
    shown = f"{'?' if a is None else a} vs {'?' if b is None else b} events"
    if ne is not None and nr is not None:
        ok = _compatible(ne, nr, a, b, direction)
        _check(
            ok,
            path,
            f"{where}.more_frequent_in",
            f"the counts {shown} in groups of {ne} and {nr} contradict the reported direction",
        )
        return
    if ne is not None or nr is not None:
        splits = [(ne, enrolled - ne)] if ne is not None else [(enrolled - nr, nr)]
        ok = any(_compatible(x, y, a, b, direction) for x, y in splits)
        _check(
            ok,
            path,
            f"{where}.more_frequent_in",
            f"the counts {shown} contradict the reported direction with groups of "
            f"{splits[0][0]} and {splits[0][1]} (of {enrolled} enrolled)",
        )
        return
    a_ = g.assumptions.split_range
    ranges = (
        [(w, tuple(v)) for w, v in _assumption_values(a_)]
        if a_ is not None
        else [("default", default_split_range(enrolled))]
    )
    for what, (lo, hi) in ranges:
        ok = any(_compatible(x, enrolled - x, a, b, direction) for x in range(lo, hi + 1))
        field = (
            f"groupings.{c.grouping}.assumptions.split_range.{what}"
            if a_ is not None
            else f"{where}.more_frequent_in"
        )
        _check(
            ok,
            path,
            field,
            f"no split of the {enrolled} enrolled with {lo}..{hi} in group "
            f"{g.exposed.name!r} fits the counts of {where} ({shown}) and the reported "
            "direction",
        )


def _check_priors(trial: TrialV2, path: Path) -> None:
    endpoints: list[tuple[str, str, dict]] = [
        *((f"rates.{k}", "rate", r.priors) for k, r in trial.rates.items()),
        *(
            (f"time_to_event.{k}", "time_to_event", t.priors)
            for k, t in trial.time_to_event.items()
        ),
        *((f"comparisons.{k}", "comparison", c.priors) for k, c in trial.comparisons.items()),
    ]
    for where, kind, priors in endpoints:
        primaries = [name for name, p in priors.items() if p.primary]
        _check(
            len(primaries) <= 1,
            path,
            f"{where}.priors",
            f"at most one prior is primary, got {primaries}",
        )
        for name, prior in priors.items():
            field = f"{where}.priors.{name}"
            allowed = PRIOR_PARAMETERS[kind]
            _check(
                prior.family in allowed,
                path,
                f"{field}.family",
                f"{prior.family!r}: a {kind.replace('_', '-')} prior is {' or '.join(allowed)}",
            )
            want = set(allowed[prior.family])
            _check(
                set(prior.parameters) == want,
                path,
                f"{field}.parameters",
                f"needs exactly {sorted(want)}, got {sorted(prior.parameters)}",
            )
            for pname, v in prior.parameters.items():
                positive = pname in ("alpha", "beta") or pname.endswith(("_sd", "_sigma"))
                _check(
                    v > 0 or not positive,
                    path,
                    f"{field}.parameters.{pname}",
                    f"{v} must be > 0",
                )


def check_trial(loaded: LoadedTrial) -> None:
    """Every cross-field check of a loaded trial and its CSV inputs.

    Raises:
        InputError: naming the file (the trial or its CSV), the field and the problem.
    """
    trial = loaded.trial
    path = Path(loaded.path)
    enrolled = trial.enrolled.value
    _check(
        enrolled <= MAX_ENROLLED,
        path,
        "enrolled.value",
        f"{enrolled} patients, above the limit of {MAX_ENROLLED} (enumeration would not finish)",
    )
    d = trial.design
    p0, p1 = _known(d.p0), _known(d.p1)
    if p0 is not None and p1 is not None:
        _check(p0 < p1, path, "design.p1", f"alternative {p1} must exceed the null {p0}")
    if d.stage1 != "unknown":
        r1, n1 = d.stage1.value
        _check(r1 < n1, path, "design.stage1", f"r1 = {r1} must be below n1 = {n1}")
        _check(n1 <= enrolled, path, "design.stage1", f"n1 = {n1} exceeds the {enrolled} enrolled")
    for key, rate in trial.rates.items():
        _check_rate(key, rate, enrolled, path)
    for key in trial.time_to_event:
        _check_time_to_event(loaded, key, path)
    _check_groupings(trial, path)
    _check_comparisons(trial, path)
    _check_priors(trial, path)
