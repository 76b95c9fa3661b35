"""The one validation layer: every input is checked here before any work starts.

``load_trial`` runs :func:`read_trial_document` (the file itself) and :func:`check_trial` (every
cross-field bound, every check the analyses would otherwise make only at run time, and the CSV
files the trial names, read with the readers the run uses), so ``validate``, ``run``, ``plan`` and
``reconstruct`` accept exactly the same trial files. The other commands' arguments are checked by
the ``check_*_arguments`` functions. Every problem is an :class:`~analysis.errors.InputError`
naming the file (or option), the field and what to do; nothing else is reported as bad input.

Limits (documented in data/README.md) keep every run bounded in time and memory:

========================  =========  ===========================================================
limit                     value      why
========================  =========  ===========================================================
trial file size           1 MiB      a trial file is a few kB of reported numbers
TOML nesting depth        8          the deepest legitimate value (a sweep of ranges) is 5 deep
adverse events            50         one joint fit holds every event
enrolled                  2000       enumeration over (responders, evaluable) and splits
sweep / list length       10 / 100   every sweep value is another fit
AE enumeration work       4e9        sum over splits of n_bev n_sun (n_bev + n_sun): ~15 s
CSV size / rows           8 MiB /    patient data never exceed the enrolment; curves a few
                          100,000    hundred digitised points
========================  =========  ===========================================================
"""

from __future__ import annotations

import io
import math
import os
import stat
import tomllib
from pathlib import Path
from typing import TYPE_CHECKING, Any

from trial_reanalysis.analysis.errors import InputError

if TYPE_CHECKING:  # pragma: no cover
    import pandas as pd

    from trial_reanalysis.analysis.trials.load import Trial

MAX_TRIAL_BYTES = 1 << 20
MAX_NESTING = 8
MAX_ADVERSE_EVENTS = 50
MAX_ENROLLED = 2000
MAX_SWEEP = 10
MAX_LIST = 100
#: Work of the adverse-event enumeration, sum over candidate splits of n_bev * n_sun * (n_bev +
#: n_sun) (the two-sided Fisher grid of one split costs about that many operations; 4e9 is
#: about 15 s on one core).
MAX_AE_WORK = 4e9
MAX_CSV_BYTES = 8 << 20
MAX_CSV_ROWS = 100_000
#: Smallest number at risk the PFS calibration handles: below 14 (17 with heavy censoring) its
#: log-transform simulation leaves no trial with L < M < U all defined; 20 keeps a margin.
MIN_PFS_N_AT_RISK = 20
#: Largest censoring fraction of the PFS calibration (above it the KM median is rarely defined).
MAX_CENSORING_FRACTION = 0.9
#: A patient-data KM median this many times away from the reported median is another time unit
#: (days: x30, weeks: x4.3) or another trial.
MEDIAN_RATIO_LIMIT = 3.0
#: Caps of the other commands (enumeration stays under a few seconds, memory bounded).
MAX_PLAN_N = 2000
MAX_RATE_N = 5000
MAX_TABLE_GROUP = 500


# ---------------------------------------------------------------------------------------------
# files
# ---------------------------------------------------------------------------------------------


def read_regular_file(path: str | Path, *, limit: int, what: str) -> bytes:
    """The bytes of a regular file of at most ``limit`` bytes.

    Opened non-blocking and checked with ``fstat`` before reading, so a FIFO, a device such as
    /dev/zero or a folder is refused at once instead of blocking or reading for ever.

    Raises:
        InputError: missing, unreadable, not a regular file, or larger than ``limit``.
    """
    path = Path(path)
    flags = os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_NOCTTY", 0)
    try:
        fd = os.open(path, flags)
    except OSError as exc:
        raise InputError(path, "<file>", f"cannot read the {what} ({exc.strerror})") from exc
    try:
        info = os.fstat(fd)
        if not stat.S_ISREG(info.st_mode):
            kind = "a folder" if stat.S_ISDIR(info.st_mode) else "not a regular file"
            raise InputError(path, "<file>", f"the {what} is {kind}; give a regular file")
        if info.st_size > limit:
            raise InputError(
                path,
                "<file>",
                f"the {what} has {info.st_size} bytes, more than the limit of {limit}",
            )
        chunks, size = [], 0
        while size <= limit:
            chunk = os.read(fd, min(1 << 16, limit + 1 - size))
            if not chunk:
                break
            chunks.append(chunk)
            size += len(chunk)
    except OSError as exc:
        raise InputError(path, "<file>", f"cannot read the {what} ({exc.strerror})") from exc
    finally:
        os.close(fd)
    if size > limit:
        raise InputError(path, "<file>", f"the {what} grew beyond the limit of {limit} bytes")
    return b"".join(chunks)


def _depth(document: Any) -> int:
    """Nesting depth of parsed TOML (tables and arrays), computed without recursion."""
    deepest, stack = 0, [(document, 1)]
    while stack:
        value, level = stack.pop()
        deepest = max(deepest, level)
        if isinstance(value, dict):
            stack.extend((v, level + 1) for v in value.values())
        elif isinstance(value, list):
            stack.extend((v, level + 1) for v in value)
    return deepest


def read_trial_document(path: str | Path) -> tuple[bytes, dict[str, Any]]:
    """Bytes and parsed TOML of a trial file, within the size and nesting limits."""
    raw = read_regular_file(path, limit=MAX_TRIAL_BYTES, what="trial file")
    try:
        document = tomllib.loads(raw.decode("utf-8"))
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise InputError(path, "<file>", f"not valid TOML: {exc}") from exc
    except RecursionError:
        raise InputError(
            path, "<file>", f"nesting deeper than {MAX_NESTING} levels (not a trial file)"
        ) from None
    if _depth(document) > MAX_NESTING:
        raise InputError(
            path, "<file>", f"nesting deeper than {MAX_NESTING} levels (not a trial file)"
        )
    return raw, document


# ---------------------------------------------------------------------------------------------
# CSV inputs (the readers the PFS analysis uses)
# ---------------------------------------------------------------------------------------------


def read_csv_table(path: str | Path, what: str) -> pd.DataFrame:
    """A small CSV file as a DataFrame (regular file, size and row limits)."""
    import pandas as pd

    raw = read_regular_file(path, limit=MAX_CSV_BYTES, what=what)
    try:
        table = pd.read_csv(io.BytesIO(raw), nrows=MAX_CSV_ROWS + 1)
    except (pd.errors.ParserError, pd.errors.EmptyDataError, UnicodeDecodeError, ValueError) as e:
        raise InputError(path, "<file>", f"cannot read the {what} as CSV ({e})") from e
    if len(table) > MAX_CSV_ROWS:
        raise InputError(path, "<file>", f"more than {MAX_CSV_ROWS} rows")
    table.columns = [str(c).strip() for c in table.columns]
    return table


def _numeric(table: pd.DataFrame, path: str | Path, column: str) -> Any:
    """A column as finite floats, or an InputError naming the file and the column."""
    import numpy as np
    import pandas as pd

    if column not in table.columns:
        raise InputError(path, column, f"missing column (the file has {list(table.columns)})")
    values = pd.to_numeric(table[column], errors="coerce").to_numpy(dtype=float)
    bad = np.flatnonzero(~np.isfinite(values))
    if bad.size:
        row = int(bad[0])
        raise InputError(
            path,
            column,
            f"row {row + 1}: {table[column].iloc[row]!r} is not a finite number",
        )
    return values


def read_patient_data(path: str | Path, enrolled: int | None = None) -> pd.DataFrame:
    """Patient-level PFS data ``time`` (months, >= 0: an event at 0 happened before the first
    assessment) and ``event`` (1 progression, 0 censored).

    Raises:
        InputError: unreadable file, missing or non-numeric columns, times <= 0, events not 0/1,
            no patient, more patients than enrolled, or no event at all (the Weibull's scale and
            shape are then not identified: the likelihood keeps rising as the scale grows).
    """
    import numpy as np
    import pandas as pd

    table = read_csv_table(path, "patient data")
    time = _numeric(table, path, "time")
    event = _numeric(table, path, "event")
    if time.size == 0:
        raise InputError(path, "time", "no patient rows")
    if np.any(time < 0):
        raise InputError(
            path, "time", f"time {time[time < 0][0]:g} is negative (an event at 0 is allowed)"
        )
    if np.any((event != 0) & (event != 1)):
        raise InputError(path, "event", f"event {event[(event != 0) & (event != 1)][0]:g} not 0/1")
    if enrolled is not None and time.size > enrolled:
        raise InputError(path, "time", f"{time.size} patients, more than the {enrolled} enrolled")
    if not event.any():
        raise InputError(
            path,
            "event",
            "no progression event (all censored): the Weibull is not identified; remove "
            "patient_data to analyse the reported median alone",
        )
    return pd.DataFrame({"time": time, "event": event.astype(int)})


def read_digitised_curve(
    curve_path: str | Path,
    at_risk_path: str | Path,
    total_events: int | None = None,
    enrolled: int | None = None,
    clean: bool = False,
) -> pd.DataFrame:
    """Pseudo patient data (``time``, ``event``) reconstructed from a digitised KM curve
    (``clean``: after the explicit cleaning of a raw digitisation).

    Reads both CSVs with :func:`read_csv_table` and reconstructs with
    :func:`analysis.frequentist.survival.reconstruct_km` (Guyot et al. 2012), which checks their
    values.

    Raises:
        InputError: unreadable files or values, no one at risk at time 0, more at risk than
            enrolled, events above the patients at risk, or no reconstructed event.
    """
    from trial_reanalysis.analysis.reconstruction.curves import reconstruct_km

    curve = read_csv_table(curve_path, "digitised curve")
    at_risk = read_csv_table(at_risk_path, "numbers at risk")
    first = _numeric(at_risk, at_risk_path, "n_at_risk")
    if first.size == 0 or first[0] <= 0:
        raise InputError(at_risk_path, "n_at_risk", "the first number at risk must be above 0")
    if enrolled is not None and first[0] > enrolled:
        raise InputError(
            at_risk_path, "n_at_risk", f"{first[0]:g} at risk, more than the {enrolled} enrolled"
        )
    if total_events is not None and total_events > first[0]:
        raise InputError(
            curve_path,
            "total_events",
            f"{total_events} events, more than the {first[0]:g} patients at risk",
        )
    ipd = reconstruct_km(
        curve,
        at_risk,
        total_events,
        clean=clean,
        source=str(curve_path),
        at_risk_source=str(at_risk_path),
    )
    if len(ipd) == 0 or not ipd["event"].any():
        raise InputError(curve_path, "survival", "the curve never drops: no event to analyse")
    return ipd


def pfs_patient_data(trial: Trial, base: str | Path) -> tuple[pd.DataFrame, str, Path] | None:
    """The patient-level or reconstructed data a trial's [pfs] names (paths relative to ``base``).

    Returns ``(data, origin, path)`` or None when the trial names no CSV. The same call serves
    ``load_trial`` (checks) and the PFS analysis (fits).
    """
    pfs = trial.pfs
    if pfs is None:
        return None
    base = Path(base)
    enrolled = trial.enrolled.value
    if pfs.patient_data is not None:
        path = base / pfs.patient_data.path
        data = read_patient_data(path, enrolled)
        return data, f"patient data ({pfs.patient_data.source})", path
    if pfs.digitised_curve is not None:
        dc = pfs.digitised_curve
        total = None if dc.total_events == "unknown" else dc.total_events.value
        curve_path = base / dc.curve
        data = read_digitised_curve(curve_path, base / dc.at_risk, total, enrolled)
        origin = f"reconstructed from a digitised curve (Guyot et al. 2012; {dc.source})"
        return data, origin, curve_path
    return None


# ---------------------------------------------------------------------------------------------
# cross-field checks of a trial
# ---------------------------------------------------------------------------------------------


def _check(ok: bool, path: str | Path, field: str, problem: str) -> None:
    if not ok:
        raise InputError(path, field, problem)


def default_split_range(enrolled: int) -> tuple[int, int]:
    """Split range (patients after the exposed therapy) used when the file declares none."""
    return enrolled // 4, enrolled - enrolled // 4


def _check_burden_reduction(trial: Trial, path: Path) -> None:
    br = trial.burden_reduction
    enrolled = trial.enrolled.value
    lo, hi = br.ci95_percent.value
    _check(lo <= hi, path, "burden_reduction.ci95_percent", f"lower {lo} > upper {hi}")
    est = br.estimate_percent.value
    _check(
        lo <= est <= hi,
        path,
        "burden_reduction.estimate_percent",
        f"estimate {est} lies outside its CI [{lo}, {hi}]",
    )
    n_max = br.max_evaluable.value
    _check(
        n_max <= enrolled,
        path,
        "burden_reduction.max_evaluable",
        f"{n_max} exceeds the {enrolled} patients enrolled",
    )
    if br.evaluable != "unknown":
        n = br.evaluable.value
        _check(n <= n_max, path, "burden_reduction.evaluable", f"{n} exceeds max_evaluable {n_max}")
        if br.responders != "unknown":
            x = br.responders.value
            _check(x <= n, path, "burden_reduction.responders", f"{x} exceeds evaluable {n}")
    elif br.responders != "unknown":
        x = br.responders.value
        _check(
            x <= n_max,
            path,
            "burden_reduction.responders",
            f"{x} exceeds max_evaluable {n_max} (the most patients that can have been evaluated)",
        )
    if br.responders != "unknown" and br.evaluable != "unknown":
        return  # published counts are the data: no reconstruction
    from trial_reanalysis.analysis.reconstruction.rates import CI_METHODS, reconstruct_rate

    found = reconstruct_rate(est, (lo, hi), n_max, decimals=br.reported_decimals.value)
    if br.evaluable != "unknown":
        found = [c for c in found if c.evaluable == br.evaluable.value]
    _check(
        bool(found),
        path,
        "burden_reduction.ci95_percent",
        f"no (responders, evaluable) with evaluable <= {n_max} reproduces {est} % ({lo}-{hi} %) "
        f"under any of {', '.join(CI_METHODS)}; check the numbers, max_evaluable and "
        "reported_decimals",
    )


def _check_design(trial: Trial, path: Path) -> None:
    d = trial.design
    p0, p1 = d.p0.value, d.p1.value
    _check(0 < p0 < 1, path, "design.p0", f"{p0} must lie strictly between 0 and 1")
    _check(0 < p1 < 1, path, "design.p1", f"{p1} must lie strictly between 0 and 1")
    _check(p0 < p1, path, "design.p1", f"alternative {p1} must exceed null {p0}")
    for name in ("alpha", "power"):
        value = getattr(d, name)
        if value != "unknown":
            v = value.value
            _check(0 < v < 1, path, f"design.{name}", f"{v} must lie strictly between 0 and 1")
    if d.stage1 != "unknown":
        r1, n1 = d.stage1.value
        enrolled = trial.enrolled.value
        _check(r1 < n1, path, "design.stage1", f"r1 = {r1} must be below n1 = {n1}")
        _check(
            n1 <= enrolled,
            path,
            "design.stage1",
            f"n1 = {n1} exceeds the {enrolled} patients enrolled",
        )


def _check_pfs(trial: Trial, path: Path) -> None:
    pfs, a = trial.pfs, trial.assumptions
    enrolled = trial.enrolled.value
    m = pfs.median_months.value
    lo, hi = pfs.ci95_months.value
    _check(hi is None or lo <= hi, path, "pfs.ci95_months", f"lower {lo} > upper {hi}")
    _check(
        lo <= m and (hi is None or m <= hi),
        path,
        "pfs.median_months",
        f"median {m} lies outside its CI [{lo}, {hi}]",
    )
    # The summary likelihood treats (L, M, U) as order statistics at distinct CDF levels: a tie
    # makes a Dirichlet spacing zero, where the density is 0 (the calibration drops such
    # simulated trials for the same reason). Ties need the step-function data themselves.
    tie = "equals the median: the order-statistic likelihood needs distinct L < M < U (a tie "
    tie += "from scheduled scans cannot be analysed from the summary; give patient_data)"
    _check(lo < m, path, "pfs.ci95_months", f"lower limit {lo} {tie}")
    _check(hi is None or m < hi, path, "pfs.ci95_months", f"upper limit {hi} {tie}")
    events = None if pfs.events == "unknown" else pfs.events.value
    censored = None if pfs.censored == "unknown" else pfs.censored.value
    for name, value in (("events", events), ("censored", censored)):
        if value is not None:
            _check(
                value <= enrolled,
                path,
                f"pfs.{name}",
                f"{value} exceeds the {enrolled} patients enrolled",
            )
    if events is not None:
        _check(events >= 1, path, "pfs.events", "a median PFS needs at least one event")
    if events is not None and censored is not None:
        _check(
            events + censored <= enrolled,
            path,
            "pfs.censored",
            f"events + censored = {events + censored} exceeds the {enrolled} patients enrolled",
        )
        frac = censored / (events + censored)
        _check(
            frac <= MAX_CENSORING_FRACTION,
            path,
            "pfs.censored",
            f"censored fraction {frac:.2f} above {MAX_CENSORING_FRACTION} (the PFS calibration "
            "cannot represent it)",
        )
    if a.pfs_n_at_risk is not None:
        for where, n in [("default", a.pfs_n_at_risk.default)] + [
            (f"sweep[{i}]", v) for i, v in enumerate(a.pfs_n_at_risk.sweep)
        ]:
            _check(
                MIN_PFS_N_AT_RISK <= n <= enrolled,
                path,
                f"assumptions.pfs_n_at_risk.{where}",
                f"{n} must lie in {MIN_PFS_N_AT_RISK}..{enrolled} (enrolled)",
            )
    elif enrolled < MIN_PFS_N_AT_RISK:
        _check(
            False,
            path,
            "enrolled",
            f"{enrolled} patients: the PFS analysis needs at least {MIN_PFS_N_AT_RISK}",
        )
    if a.pfs_censoring_fraction is not None:
        for where, (c_lo, c_hi) in [("default", a.pfs_censoring_fraction.default)] + [
            (f"sweep[{i}]", v) for i, v in enumerate(a.pfs_censoring_fraction.sweep)
        ]:
            field = f"assumptions.pfs_censoring_fraction.{where}"
            _check(c_lo <= c_hi, path, field, f"lower {c_lo} > upper {c_hi}")
            _check(
                c_hi <= MAX_CENSORING_FRACTION,
                path,
                field,
                f"upper {c_hi} above {MAX_CENSORING_FRACTION} (100 % censoring leaves no median)",
            )
    try:
        data = pfs_patient_data(trial, Path(path).parent)
        if data is not None:
            _check_patient_median(data[0], m, data[2])
    except InputError as exc:  # name the trial file too: it is where the CSV was named
        which = "patient_data.path" if pfs.patient_data is not None else "digitised_curve"
        raise InputError(
            exc.source, exc.field, f"{exc.problem} (the CSV of pfs.{which} in {path})"
        ) from None


def _check_patient_median(data: pd.DataFrame, reported: float, source: Path) -> None:
    """Patient data whose KM median is far from the reported one are in another unit."""
    from trial_reanalysis.analysis.frequentist.survival import kaplan_meier

    km = kaplan_meier(data["time"].to_numpy(), data["event"].to_numpy())
    median = km.median_ci("log")[0]
    if math.isfinite(median):
        ratio = median / reported
        _check(
            1 / MEDIAN_RATIO_LIMIT <= ratio <= MEDIAN_RATIO_LIMIT,
            source,
            "time",
            f"Kaplan-Meier median {median:.3g} vs the reported {reported} months (ratio "
            f"{ratio:.3g}): times must be in months (days? divide by 30.4375)",
        )


def _check_adverse_events(trial: Trial, path: Path) -> None:
    pt, ae = trial.prior_therapy, trial.adverse_events
    enrolled = trial.enrolled.value
    a = trial.assumptions
    if pt is not None:
        _check(
            pt.exposed != pt.reference,
            path,
            "prior_therapy.reference",
            f"the two groups must differ (both '{pt.exposed}')",
        )
        if pt.n_exposed != "unknown" and pt.n_reference != "unknown":
            total = pt.n_exposed.value + pt.n_reference.value
            _check(
                total <= enrolled,
                path,
                "prior_therapy.n_exposed",
                f"n_exposed + n_reference = {total} exceeds the {enrolled} enrolled",
            )
        for side in ("exposed", "reference"):
            n = getattr(pt, f"n_{side}")
            if n != "unknown":
                _check(
                    n.value < enrolled,
                    path,
                    f"prior_therapy.n_{side}",
                    f"{n.value} leaves no patient of the {enrolled} enrolled in the other group",
                )
    ranges = []
    if a.ae_split_range is not None:
        ranges = [("default", a.ae_split_range.default)] + [
            (f"sweep[{i}]", r) for i, r in enumerate(a.ae_split_range.sweep)
        ]
        for where, (lo, hi) in ranges:
            field = f"assumptions.ae_split_range.{where}"
            _check(lo <= hi, path, field, f"lower {lo} > upper {hi}")
            _check(
                1 <= lo and hi <= enrolled - 1,
                path,
                field,
                f"[{lo}, {hi}] must lie inside 1..{enrolled - 1} (enrolled - 1)",
            )
    if ae is None:
        return
    _check(pt is not None, path, "prior_therapy", "adverse_events need a [prior_therapy] table")
    groups = (pt.exposed, pt.reference)
    for key, event in ae.by_prior_therapy.items():
        where = f"adverse_events.by_prior_therapy.{key}"
        after = event.more_frequent_after.value
        _check(
            after in groups,
            path,
            f"{where}.more_frequent_after",
            f"'{after}' is neither group of prior_therapy {groups}",
        )
        for side, n in (("exposed", pt.n_exposed), ("reference", pt.n_reference)):
            events = getattr(event, f"events_{side}")
            if events != "unknown":
                limit = n.value if n != "unknown" else enrolled
                _check(
                    events.value <= limit,
                    path,
                    f"{where}.events_{side}",
                    f"{events.value} events exceed "
                    + (f"n_{side} = {limit}" if n != "unknown" else f"the {limit} enrolled"),
                )
    if pt.n_exposed != "unknown" and pt.n_reference != "unknown":
        return  # one published split: the enumeration is a single small grid
    if not ranges:
        ranges = [("default", default_split_range(enrolled))]
    work = sum(
        n * (enrolled - n) * enrolled
        for n in {n for _, (lo, hi) in ranges for n in range(lo, hi + 1)}
    )
    field = "assumptions.ae_split_range" if a.ae_split_range is not None else "enrolled"
    _check(
        work <= MAX_AE_WORK,
        path,
        field,
        f"enumerating every 2x2 table of every split of {enrolled} patients would take too long "
        f"(work {work:.2g} > {MAX_AE_WORK:.0e}); declare a narrower ae_split_range or publish "
        "n_exposed and n_reference",
    )


def check_trial(trial: Trial, path: str | Path) -> None:
    """Every cross-field check of a schema-valid trial, and its CSV inputs.

    What the analyses would otherwise find only at run time (no compatible counts, a tie in the
    PFS summary, an unreadable CSV, an enumeration too large) is found here, before any work.

    Raises:
        InputError: naming the file (the trial or its CSV), the field and the problem.
    """
    path = Path(path)
    enrolled = trial.enrolled.value
    _check(
        enrolled <= MAX_ENROLLED,
        path,
        "enrolled.value",
        f"{enrolled} patients, above the limit of {MAX_ENROLLED} (enumeration would not finish)",
    )
    _check_design(trial, path)
    _check_burden_reduction(trial, path)
    if trial.pfs is not None:
        _check_pfs(trial, path)
    _check_adverse_events(trial, path)
    for name in type(trial.assumptions).model_fields:
        assumption = getattr(trial.assumptions, name)
        if assumption is not None:
            _check(
                assumption.default in assumption.sweep,
                path,
                f"assumptions.{name}.sweep",
                f"must include the default {assumption.default!r}",
            )


# ---------------------------------------------------------------------------------------------
# arguments of the other commands
# ---------------------------------------------------------------------------------------------


def _finite(option: str, value: float, *, allow_inf: bool = False) -> None:
    if math.isnan(value) or (math.isinf(value) and not allow_inf):
        raise InputError(option, option.lstrip("-"), f"{value} is not a finite number")


def check_plan_arguments(
    *,
    n: int,
    p0: float,
    p1: float,
    success_prob: float,
    accrual_months: float,
    followup_months: float,
    threshold_months: float | None,
) -> None:
    """``reanalysis plan`` options: n in 1..MAX_PLAN_N, 0 < p0 < p1 < 1, success probability in
    (0, 1), finite non-negative accrual, non-negative follow-up (inf: no censoring), finite
    positive threshold."""
    _check(
        1 <= n <= MAX_PLAN_N, "--n", "n", f"{n} patients: give 1..{MAX_PLAN_N} (enumeration cap)"
    )
    for option, value in (("--p0", p0), ("--p1", p1), ("--success-prob", success_prob)):
        _finite(option, value)
        _check(0 < value < 1, option, option[2:], f"{value} must lie strictly between 0 and 1")
    _check(p0 < p1, "--p1", "p1", f"alternative {p1} must exceed the null p0 = {p0}")
    _finite("--accrual-months", accrual_months)
    _check(accrual_months >= 0, "--accrual-months", "accrual-months", "must be >= 0 months")
    _finite("--followup-months", followup_months, allow_inf=True)
    _check(followup_months >= 0, "--followup-months", "followup-months", "must be >= 0 months")
    if threshold_months is not None:
        _finite("--threshold-months", threshold_months)
        _check(
            threshold_months > 0,
            "--threshold-months",
            "threshold-months",
            f"{threshold_months} must be > 0 months",
        )


def check_rate_arguments(percent: float, ci: tuple[float, float], max_n: int) -> str | None:
    """``reconstruct rate`` options; returns a warning when the numbers look like fractions."""
    for option, value in (("--percent", percent), ("--ci", ci[0]), ("--ci", ci[1])):
        _finite(option, value)
        _check(0 <= value <= 100, option, option[2:], f"{value} must be a percentage in 0-100")
    _check(ci[0] <= ci[1], "--ci", "ci", f"lower {ci[0]} > upper {ci[1]}")
    _check(
        ci[0] <= percent <= ci[1],
        "--percent",
        "percent",
        f"{percent} lies outside its CI [{ci[0]}, {ci[1]}]",
    )
    _check(
        1 <= max_n <= MAX_RATE_N,
        "--max-n",
        "max-n",
        f"{max_n}: give 1..{MAX_RATE_N} (the search is over every n up to it)",
    )
    if percent < 1 and ci[1] <= 1 and ci[1] > 0:
        return (
            f"--percent {percent:g} and --ci {ci[0]:g} {ci[1]:g} look like fractions; the options "
            f"take percentages (e.g. --percent {100 * percent:g} --ci {100 * ci[0]:g} "
            f"{100 * ci[1]:g})"
        )
    return None


def check_table_arguments(p_value: float, n_bev: int, n_sun: int) -> None:
    """``reconstruct table`` options: P in (0, 1), group sizes 1..MAX_TABLE_GROUP."""
    _finite("--p-value", p_value)
    _check(0 < p_value < 1, "--p-value", "p-value", f"{p_value} must lie strictly in (0, 1)")
    for option, n in (("--n-bev", n_bev), ("--n-sun", n_sun)):
        _check(
            1 <= n <= MAX_TABLE_GROUP,
            option,
            option[2:],
            f"{n}: give 1..{MAX_TABLE_GROUP} patients (the enumeration grows as n^3)",
        )
