"""The one validation layer: every input is checked here before any work starts.

``load_trial`` runs :func:`read_trial_document` (the file itself), the schema, and
:func:`trial_reanalysis.analysis.trials.checks.check_trial` (every cross-field bound and the CSV
files the trial names, read with the readers here), so ``validate``, ``run``, ``plan`` and
``reconstruct`` accept exactly the same trial files. The other commands' arguments are checked by
the ``check_*_arguments`` functions. Every problem is an :class:`~analysis.errors.InputError`
naming the file (or option), the field and what to do; nothing else is reported as bad input.

Limits (documented in docs/trial-files.md) keep every run bounded in time and memory:

========================  =========  ===========================================================
limit                     value      why
========================  =========  ===========================================================
trial file size           1 MiB      a trial file is a few kB of reported numbers
TOML nesting depth        8          the deepest legitimate value (a sweep of ranges) is 5 deep
comparisons               50         one joint fit holds every comparison of a grouping
enrolled                  2000       enumeration over (responders, evaluable) and splits
sweep length              20 (v1 10) every sweep value is another fit (caps of v2 in v2.py)
list length (v1)          100        version 1 lists (most common adverse events)
comparison work           4e9        sum over splits of n_exp n_ref (n_exp + n_ref): ~15 s
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


# ---------------------------------------------------------------------------------------------
# arguments of the other commands
# ---------------------------------------------------------------------------------------------


def _check(ok: bool, path: str | Path, field: str, problem: str) -> None:
    if not ok:
        raise InputError(path, field, problem)


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
