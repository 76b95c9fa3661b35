"""Patient data from a digitised Kaplan-Meier curve: the algorithm of Guyot et al. (BMC Med Res
Methodol 2012) with the explicit cleaning of raw digitisations, events at time 0 and at-risk
intervals without digitised points (see :func:`reconstruct_curve`).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from trial_reanalysis.analysis.errors import InputError

# ---------------------------------------------------------------------------------------------
# Guyot reconstruction: reading and cleaning the digitised inputs
# ---------------------------------------------------------------------------------------------

#: Largest rise of a digitised survival value (fraction) that cleaning levels to the previous
#: value. A digitiser reads a curve to about 0.5-1 % of the axis height, so rises of this size
#: are reading noise; a larger rise is a mistake (wrong order, another curve) and stays an error.
RISE_TOLERANCE = 0.02
#: A survival column whose largest value exceeds this is read as percent (a fraction is <= 1).
PERCENT_THRESHOLD = 1.5


@dataclass(frozen=True)
class CurveChange:
    """One change made by :func:`clean_curve`.

    ``row`` is the data row of the CSV (1 = the first row after the header, so file line
    ``row + 1``), or ``None`` for a change to the whole curve.
    """

    row: int | None
    what: str
    before: str
    after: str

    def __str__(self) -> str:
        where = "all rows" if self.row is None else f"row {self.row} (line {self.row + 1})"
        return f"{where}: {self.what}: {self.before} -> {self.after}"


def _numeric_columns(
    table: pd.DataFrame, source: str, columns: tuple[str, str]
) -> tuple[np.ndarray, np.ndarray]:
    """Two named CSV columns as floats (non-numbers become NaN for the callers' checks)."""
    for col in columns:
        if col not in table.columns:
            raise InputError(source, col, f"missing column (need {','.join(columns)})")
    a, b = (pd.to_numeric(table[c], errors="coerce").to_numpy(dtype=float) for c in columns)
    return a, b


def _row_label(index: int) -> str:
    return f"row {index + 1} (line {index + 2})"


def _finite_curve(curve: pd.DataFrame, source: str) -> tuple[np.ndarray, np.ndarray]:
    t, s = _numeric_columns(curve, source, ("time", "survival"))
    if t.size < 2:
        raise InputError(source, "time", "need at least two digitised points")
    for name, values in (("time", t), ("survival", s)):
        bad = np.flatnonzero(~np.isfinite(values))
        if bad.size:
            raise InputError(source, name, f"{_row_label(bad[0])}: non-numeric or missing value")
    return t, s


def clean_curve(
    curve: pd.DataFrame, *, rise_tolerance: float = RISE_TOLERANCE, source: str = "<curve>"
) -> tuple[pd.DataFrame, list[CurveChange]]:
    """Clean a raw digitisation of a KM curve and list every change made.

    Steps, in order: (1) survival in percent (largest value > ``PERCENT_THRESHOLD``) is divided by
    100; (2) survival within ``rise_tolerance`` outside [0, 1] is clipped; (3) negative times are
    set to 0; (4) rows are sorted by time; (5) of rows sharing a time, the lowest survival is kept
    (a vertical step read at several heights; Guyot's algorithm places the whole drop at that
    time either way); (6) a rise above the running minimum of at most ``rise_tolerance`` is set to
    that minimum; (7) the start (0, 1) is added when missing.

    Args:
        curve: columns ``time`` and ``survival`` (fraction or percent), in any order.
        rise_tolerance: largest rise (fraction) levelled; larger rises are errors.
    Returns:
        The cleaned curve (``time``, ``survival``; first row (0, 1)) and the changes, each with
        the data row of ``curve`` it concerns.
    Raises:
        InputError: missing values, survival outside [0, 1] beyond the tolerance, a rise larger
            than the tolerance (naming the row).
    """
    t, s = _finite_curve(curve, source)
    changes: list[CurveChange] = []
    if s.max() > PERCENT_THRESHOLD:
        changes.append(
            CurveChange(None, "survival in percent, divided by 100", f"max {s.max():g}", "fraction")
        )
        s = s / 100.0
    for i in np.flatnonzero((s < -rise_tolerance) | (s > 1 + rise_tolerance)):
        raise InputError(source, "survival", f"{_row_label(i)}: value {s[i]:g} outside [0, 1]")
    for i in np.flatnonzero((s < 0) | (s > 1)):
        after = min(max(s[i], 0.0), 1.0)
        changes.append(CurveChange(i + 1, "survival clipped to [0, 1]", f"{s[i]:g}", f"{after:g}"))
        s[i] = after
    for i in np.flatnonzero(t < 0):
        changes.append(CurveChange(i + 1, "negative time set to 0", f"{t[i]:g}", "0"))
        t[i] = 0.0
    rows = np.lexsort((-s, t))  # by time, then survival from high to low (a vertical step)
    if np.any(rows != np.arange(t.size)):
        changes.append(CurveChange(None, "rows sorted by time", "file order", "time order"))
    t, s = t[rows], s[rows]
    keep = np.r_[t[1:] != t[:-1], True]  # the last, lowest, row of each repeated time
    for j in np.flatnonzero(~keep):
        k = j + np.flatnonzero(keep[j:])[0]
        changes.append(
            CurveChange(
                int(rows[j]) + 1,
                f"repeated time {t[j]:g}: row dropped, kept row {rows[k] + 1}",
                f"survival {s[j]:g}",
                f"survival {s[k]:g}",
            )
        )
    t, s, rows = t[keep], s[keep], rows[keep]
    low = s[0]
    for j in range(1, s.size):
        if s[j] > low:
            if s[j] - low > rise_tolerance + 1e-12:
                raise InputError(
                    source,
                    "survival",
                    f"{_row_label(rows[j])}: survival rises from {low:g} to {s[j]:g} at time"
                    f" {t[j]:g}, more than the cleaning tolerance {rise_tolerance:g}; a KM curve"
                    " never rises (check the digitisation order or the curve)",
                )
            changes.append(CurveChange(int(rows[j]) + 1, "rise levelled", f"{s[j]:g}", f"{low:g}"))
            s[j] = low
        low = s[j]
    if t[0] > 0 or s[0] < 1:
        changes.append(CurveChange(None, "start of the curve added", "missing", "(0, 1)"))
        t, s = np.r_[0.0, t], np.r_[1.0, s]
    return pd.DataFrame({"time": t, "survival": s}), changes


def _validate_curve(curve: pd.DataFrame, source: str) -> tuple[np.ndarray, np.ndarray]:
    """Strict reading (no cleaning): every problem :func:`clean_curve` would fix is an error that
    names the row and points to ``--clean``. Repeated times are accepted when survival does not
    rise in file order (both corners of a step). Returns the curve sorted by time, from (0, 1)."""
    t, s = _finite_curve(curve, source)
    hint = "; rerun with --clean (clean=True) to fix it and list the change"
    if s.max() > PERCENT_THRESHOLD:
        raise InputError(
            source, "survival", f"values up to {s.max():g} look like percent (give fractions){hint}"
        )
    bad = np.flatnonzero((s < 0) | (s > 1))
    if bad.size:
        i = bad[0]
        fix = hint if abs(s[i] - np.clip(s[i], 0, 1)) <= RISE_TOLERANCE else ""
        raise InputError(
            source, "survival", f"{_row_label(i)}: value {s[i]:g} outside [0, 1] (fractions){fix}"
        )
    neg = np.flatnonzero(t < 0)
    if neg.size:
        raise InputError(source, "time", f"{_row_label(neg[0])}: negative time {t[neg[0]]:g}{hint}")
    order = np.argsort(t, kind="stable")
    t, s = t[order], s[order]
    rises = np.flatnonzero(np.diff(s) > 0)
    if rises.size:
        j = rises[0] + 1
        fix = hint if s[j] - s[j - 1] <= RISE_TOLERANCE + 1e-12 else " (check the digitisation)"
        raise InputError(
            source,
            "survival",
            f"{_row_label(order[j])}: survival rises from {s[j - 1]:g} to {s[j]:g} at time"
            f" {t[j]:g}; a KM curve never rises{fix}",
        )
    if t[0] > 0 or s[0] < 1:
        t, s = np.r_[0.0, t], np.r_[1.0, s]
    return t, s


def _validate_at_risk(at_risk: pd.DataFrame, source: str) -> tuple[np.ndarray, np.ndarray]:
    t, n = _numeric_columns(at_risk, source, ("time", "n_at_risk"))
    if t.size < 1 or np.any(~np.isfinite(t)):
        raise InputError(source, "time", "need at least one numeric time")
    if np.any(~np.isfinite(n)) or np.any(n < 0) or np.any(n != np.round(n)):
        raise InputError(source, "n_at_risk", "counts must be non-negative whole numbers")
    if np.any(t < 0):
        raise InputError(source, "time", f"negative time {t[t < 0][0]:g}")
    if np.any(np.diff(t) <= 0):
        raise InputError(source, "time", "times must be strictly increasing")
    if np.any(np.diff(n) > 0):
        i = int(np.flatnonzero(np.diff(n) > 0)[0])
        raise InputError(
            source,
            "n_at_risk",
            f"number at risk rises from {n[i]:.0f} to {n[i + 1]:.0f} at time {t[i + 1]:g}",
        )
    if t[0] != 0:
        raise InputError(source, "time", "the first number at risk must be at time 0")
    if n[0] < 1:
        raise InputError(source, "n_at_risk", "nobody at risk at time 0")
    return t, n.astype(int)


def read_curve_files(curve_csv: Path, at_risk_csv: Path) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The digitised curve and the numbers at risk as read from their CSV files.

    Raises :class:`InputError` naming the file for a missing or unreadable file.
    """
    frames = []
    for path in (Path(curve_csv), Path(at_risk_csv)):
        try:
            frames.append(pd.read_csv(path))
        except (
            OSError,
            pd.errors.ParserError,
            pd.errors.EmptyDataError,
            UnicodeDecodeError,
        ) as exc:
            raise InputError(path, "<file>", f"cannot read the CSV ({exc})") from exc
    return frames[0], frames[1]


# ---------------------------------------------------------------------------------------------
# Guyot reconstruction: the algorithm
# ---------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class KMReconstruction:
    """Pseudo patient data reconstructed from a digitised curve, with the checks made.

    Attributes:
        ipd: ``time, event`` (1 = event, 0 = censored), one row per patient, sorted by time;
            events at time 0 (a curve starting below 1) are kept at time 0.
        changes: what :func:`clean_curve` changed (empty without cleaning).
        at_risk: per published time used: ``time, published, reconstructed, difference``
            (reconstructed = patients with time >= the published time; difference =
            reconstructed - published).
        events: reconstructed number of events.
        total_events: the published total, if given.
        warnings: every gap between the reconstruction and the published numbers, and notes
            (events at time 0, at-risk times beyond the curve), in words.
    """

    ipd: pd.DataFrame
    changes: tuple[CurveChange, ...]
    at_risk: pd.DataFrame
    events: int
    total_events: int | None
    warnings: tuple[str, ...]


def _run_interval(
    t_pts: np.ndarray,
    s_pts: np.ndarray,
    start: float,
    end: float,
    n_start: int,
    ncen: int,
    km_last: float,
) -> tuple[np.ndarray, np.ndarray, float, int]:
    """Events at the digitised points of one at-risk interval given ``ncen`` censorings.

    The censorings are spread evenly over (start, end) (Guyot et al. 2012, step 3); a patient
    censored at an event time is still at risk at it. The events at point k are
    round(n_k (1 - S_k / KM_last)), with KM_last the reconstructed KM at the last event (step 4).
    Returns (events per point, censoring times, KM after the interval, number at risk at end).
    """
    cen_times = start + np.arange(1, ncen + 1) * (end - start) / (ncen + 1)
    d = np.zeros(t_pts.size, dtype=int)
    removed = 0
    for k in range(t_pts.size):
        n_k = n_start - removed - int(np.searchsorted(cen_times, t_pts[k], side="left"))
        if n_k <= 0 or km_last <= 0:
            continue
        d[k] = int(min(max(round(n_k * (1.0 - s_pts[k] / km_last)), 0), n_k))
        if d[k]:
            km_last *= 1.0 - d[k] / n_k
            removed += d[k]
    return d, cen_times, km_last, n_start - removed - ncen


def _fit_interval(
    t_pts: np.ndarray,
    s_pts: np.ndarray,
    start: float,
    end: float,
    n_start: int,
    km_last: float,
    score: _Target,
) -> tuple[np.ndarray, np.ndarray, float, int]:
    """The censoring count of one interval: the first count in 0..n_start that Guyot's update
    rule (from 0 censorings) finds hitting the target exactly; if the rule cycles without a hit,
    the count minimising ``score(events, n_end)`` over a full scan (ties: fewest censorings).
    A count leaving fewer than 0 patients at risk is never chosen."""

    def key(res: tuple, ncen: int) -> tuple[float, int]:
        bad = res[3] < 0
        return (np.inf if bad else score(int(res[0].sum()), res[3]), ncen)

    best: tuple | None = None
    seen: set[int] = set()
    ncen = 0
    while ncen not in seen:
        seen.add(ncen)
        res = _run_interval(t_pts, s_pts, start, end, n_start, ncen, km_last)
        this = key(res, ncen)
        if best is None or this < best[0]:
            best = (this, res)
        if this[0] == 0:
            return res
        step = int(score.step(int(res[0].sum()), res[3]))
        ncen = int(min(max(ncen + step, 0), n_start))
    for ncen in range(n_start + 1):
        if ncen in seen:
            continue
        res = _run_interval(t_pts, s_pts, start, end, n_start, ncen, km_last)
        this = key(res, ncen)
        if this < best[0]:
            best = (this, res)
    return best[1]


class _Target:
    """Score of an interval's censoring count: distance to a target number at risk at its end
    (earlier intervals) or to a target number of events (the last one, when published)."""

    def __init__(self, n_end: int | None = None, events: int | None = None) -> None:
        self.n_end, self.events = n_end, events

    def __call__(self, events: int, n_end: int) -> int:
        return abs(n_end - self.n_end) if self.n_end is not None else abs(events - self.events)

    def step(self, events: int, n_end: int) -> int:
        """Guyot's update: censor the excess at risk, or fewer patients when too few events."""
        return n_end - self.n_end if self.n_end is not None else self.events - events


def _guyot(
    t_s: np.ndarray,
    s: np.ndarray,
    t_r: np.ndarray,
    n_r: np.ndarray,
    total_events: int | None,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Guyot et al. (2012) on a curve starting at (0, 1) and at-risk rows within the curve.

    Differences from the published algorithm, each so that no patient is lost: the first point
    is not forced to have no events (a curve that starts below 1 has events at time 0); an
    at-risk interval without a digitised point has no events (the curve is flat there) and
    censors the difference to the next published number; every interval starts from the number
    the previous one ended with, so the patients add up to the first number at risk; censorings
    are spread over the at-risk interval itself (the published algorithm uses the first
    digitised times of the intervals). Returns (events per curve point, censoring times,
    number at risk reconstructed at the start of each interval).
    """
    n_int = t_r.size
    lower = np.searchsorted(t_s, t_r, side="left")
    upper = np.r_[lower[1:], t_s.size]  # exclusive
    d = np.zeros(t_s.size, dtype=int)
    cen: list[np.ndarray] = []
    n_start = int(n_r[0])
    starts = np.zeros(n_int, dtype=int)
    km_last = 1.0
    censored_before_last = 0
    for i in range(n_int):
        starts[i] = n_start
        pts = slice(lower[i], upper[i])
        if i < n_int - 1:
            start, end = float(t_r[i]), float(t_r[i + 1])
            target = _Target(n_end=int(n_r[i + 1]))
        else:
            start, end = float(t_r[i]), float(t_s[-1])
            if total_events is not None:
                target = _Target(events=int(total_events - d[: lower[i]].sum()))
            else:
                target = None
        if target is None:
            # no published total: the censoring rate of the earlier intervals continues
            span = float(t_r[-1] - t_r[0])
            rate = censored_before_last / span if span > 0 else 0.0
            ncen = int(min(round(rate * (end - start)), n_start))
            res = _run_interval(t_s[pts], s[pts], start, end, n_start, ncen, km_last)
            while res[3] < 0 and ncen > 0:  # never censor more patients than remain at risk
                ncen = max(ncen + res[3], 0)
                res = _run_interval(t_s[pts], s[pts], start, end, n_start, ncen, km_last)
        else:
            res = _fit_interval(t_s[pts], s[pts], start, end, n_start, km_last, target)
        d[pts], cen_times, km_last, n_start = res
        cen.append(cen_times)
        if i < n_int - 1:
            censored_before_last += cen_times.size
    return d, np.concatenate(cen) if cen else np.array([]), starts


def reconstruct_curve(
    curve: pd.DataFrame,
    at_risk: pd.DataFrame,
    total_events: int | None = None,
    *,
    clean: bool = False,
    rise_tolerance: float = RISE_TOLERANCE,
    source: str = "<curve>",
    at_risk_source: str = "<at_risk>",
) -> KMReconstruction:
    """Pseudo patient data from a digitised KM curve (Guyot et al., BMC Med Res Methodol 2012),
    keeping every patient of the first number at risk, with the checks against the table.

    Args:
        curve: columns ``time`` and ``survival`` read off the figure (fractions; with ``clean``
            also percent, negative times, repeated times and small rises, see
            :func:`clean_curve`).
        at_risk: columns ``time`` and ``n_at_risk`` as printed under the figure; first time 0.
        total_events: total number of events if published (fixes the censoring of the last
            interval); otherwise the last interval's censoring rate is that of the earlier ones.
        clean: clean the curve first and return the list of changes; without it, every problem
            cleaning would fix is an :class:`InputError` naming the row.
    Returns:
        :class:`KMReconstruction`: the data, the changes, the numbers at risk reconstructed at
        each published time against the table, and warnings where they (or the published total
        of events) differ.
    Raises:
        InputError: invalid curve or table (names the file, the column and the row).
    """
    if clean:
        cleaned, changes = clean_curve(curve, rise_tolerance=rise_tolerance, source=source)
        t_s, s = cleaned["time"].to_numpy(float), cleaned["survival"].to_numpy(float)
    else:
        t_s, s = _validate_curve(curve, source)
        changes = []
    t_r_all, n_r_all = _validate_at_risk(at_risk, at_risk_source)
    if total_events is not None and not 0 <= total_events <= n_r_all[0]:
        raise InputError(
            "total_events", "total_events", f"{total_events} not in 0..{n_r_all[0]} (at risk)"
        )
    warnings: list[str] = []
    inside = t_r_all <= t_s[-1]
    if not inside.all():
        late = ", ".join(f"{x:g}" for x in t_r_all[~inside])
        warnings.append(
            f"at-risk times after the last digitised time {t_s[-1]:g} are not used: {late}"
        )
    t_r, n_r = t_r_all[inside], n_r_all[inside]
    d, cen_times, _ = _guyot(t_s, s, t_r, n_r, total_events)
    n_total = int(n_r[0])
    remaining = n_total - int(d.sum()) - cen_times.size
    times = np.concatenate([np.repeat(t_s, d), cen_times, np.full(remaining, t_s[-1])])
    events = np.r_[np.ones(int(d.sum()), dtype=int), np.zeros(cen_times.size + remaining, int)]
    ipd = pd.DataFrame({"time": times, "event": events})
    ipd = ipd.sort_values(["time", "event"], ascending=[True, False], kind="stable")
    ipd = ipd.reset_index(drop=True)
    at_time0 = int(d[t_s == 0].sum())
    if at_time0:
        warnings.append(
            f"the curve starts at {s[t_s == 0].min():g}, not 1: {at_time0} events at time 0"
        )
    rec = np.array([int(np.sum(times >= x)) for x in t_r])
    table = pd.DataFrame(
        {"time": t_r, "published": n_r, "reconstructed": rec, "difference": rec - n_r}
    )
    for row in table[table["difference"] != 0].itertuples():
        warnings.append(
            f"at time {row.time:g}: {row.reconstructed} at risk reconstructed, {row.published}"
            f" published (difference {row.difference:+d})"
        )
    n_events = int(d.sum())
    if total_events is not None and n_events != total_events:
        warnings.append(
            f"{n_events} events reconstructed, {total_events} published"
            f" (difference {n_events - total_events:+d})"
        )
    return KMReconstruction(ipd, tuple(changes), table, n_events, total_events, tuple(warnings))


def reconstruct_km(
    curve: pd.DataFrame,
    at_risk: pd.DataFrame,
    total_events: int | None = None,
    *,
    clean: bool = False,
    source: str = "<curve>",
    at_risk_source: str = "<at_risk>",
) -> pd.DataFrame:
    """The pseudo patient data (``time, event``) of :func:`reconstruct_curve`, alone."""
    return reconstruct_curve(
        curve,
        at_risk,
        total_events,
        clean=clean,
        source=source,
        at_risk_source=at_risk_source,
    ).ipd


def reconstruct_curve_files(
    curve_csv: Path,
    at_risk_csv: Path,
    out_csv: Path,
    total_events: int | None = None,
    *,
    clean: bool = False,
) -> KMReconstruction:
    """Read the digitised curve and numbers at risk (CSV), write ``time,event`` to ``out_csv``.

    Returns the :class:`KMReconstruction` (changes, at-risk comparison, warnings). Raises
    :class:`InputError` naming the file, column and row for unreadable files or invalid values;
    nothing is written then.
    """
    if total_events is not None and total_events < 0:
        raise InputError("--total-events", "total_events", "must be a non-negative integer")
    curve, at_risk = read_curve_files(curve_csv, at_risk_csv)
    result = reconstruct_curve(
        curve,
        at_risk,
        total_events,
        clean=clean,
        source=str(curve_csv),
        at_risk_source=str(at_risk_csv),
    )
    out_csv = Path(out_csv)
    out_csv.parent.mkdir(parents=True, exist_ok=True)
    result.ipd.to_csv(out_csv, index=False)
    return result


def reconstruct_km_files(
    curve_csv: Path, at_risk_csv: Path, out_csv: Path, total_events: int | None = None
) -> int:
    """:func:`reconstruct_curve_files` without cleaning; returns the number of patients written."""
    return len(reconstruct_curve_files(curve_csv, at_risk_csv, out_csv, total_events).ipd)
