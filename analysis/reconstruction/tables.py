"""2x2 tables compatible with a published, rounded P value and direction (DESIGN.md section 4.3).

A table is (a, c): ``a`` events among the ``n_exposed`` patients of a grouping's exposed group
(the odds ratio's numerator) and ``c`` events among the ``n_reference`` patients of its reference
group. For every such table this module computes, vectorised:

- the two-sided **Fisher exact** P: the sum of the hypergeometric probabilities (margins fixed) of
  every table no more probable than the observed one, with the relative tolerance ``1 + 1e-7`` of
  R's ``fisher.test`` (scipy uses ``1 + 1e-14``; the two differ only on float near-ties). Binomial
  coefficients are exact integers, so ties are exact for the group sizes of phase 2 trials;
- the **Pearson chi-square** P with one degree of freedom and **no continuity correction**
  (``scipy.stats.chi2_contingency(table, correction=False)``). A table with an empty margin (no
  events at all, or every patient with the event) has no defined statistic; its P is set to 1.

A table *reproduces* a report when its P lies in the report's half-open interval [low, high) and
its direction matches the reported one. The interval is what the printed P stands for
(``ReportedPValue.interval``): "P = .03" -> [0.025, 0.035) (rounding), "P < .001" -> [0, 0.001),
"P > .05" -> [0.05, 1], "NS" -> [0.05, 1] (with the paper's threshold). "More frequent in the
exposed group" means a / n_exposed > c / n_reference. When the direction was not published (an
"NS" printed without it), the report says nothing about it and every direction reproduces it.
"""

from __future__ import annotations

import math
from decimal import Decimal
from typing import Literal

import numpy as np
from scipy import special, stats

from trial_reanalysis.analysis.trials.validation import MAX_TABLE_GROUP

#: Relative tolerance of "no more probable than the observed table" (R's fisher.test).
FISHER_RELATIVE_TOLERANCE = 1e-7
#: Default names of the two groups, in odds-ratio order (numerator, denominator).
GROUPS = ("exposed", "reference")
TESTS = ("fisher", "chi2")

Test = Literal["fisher", "chi2"]


def _check_sizes(n_exposed: int, n_reference: int) -> None:
    for name, n in (("n_exposed", n_exposed), ("n_reference", n_reference)):
        if isinstance(n, bool) or int(n) != n or n <= 0:
            raise ValueError(f"{name} must be a positive whole number of patients, got {n!r}")


def _check_test(test: str) -> None:
    if test not in TESTS:
        raise ValueError(f"unknown test {test!r}: choose 'fisher' or 'chi2'")


def _log_comb(n: int) -> np.ndarray:
    """log C(n, k) for k = 0..n, from exact integers (so equal coefficients stay equal)."""
    return np.array([math.log(math.comb(n, k)) for k in range(n + 1)])


def fisher_grid(n_exposed: int, n_reference: int) -> np.ndarray:
    """Two-sided Fisher exact P of every table, shape (n_exposed + 1, n_reference + 1)."""
    n1, n2 = int(n_exposed), int(n_reference)
    total = n1 + n2
    log_w = _log_comb(n1)[:, None] + _log_comb(n2)[None, :]  # log C(n1,a) C(n2,c)
    # Re-index by the event margin m = a + c: row m holds the tables (a, m - a).
    a = np.arange(n1 + 1)
    m = np.arange(total + 1)[:, None]
    c = m - a[None, :]
    valid = (c >= 0) & (c <= n2)
    by_margin = np.where(valid, log_w[a[None, :], np.clip(c, 0, n2)], -np.inf)
    log_norm = special.gammaln(total + 1) - special.gammaln(m + 1) - special.gammaln(total - m + 1)
    prob = np.exp(by_margin - log_norm)  # hypergeometric pmf of a given the margin, 0 if invalid
    # P(m, a) = sum over a' of pmf(m, a') where pmf(m, a') <= pmf(m, a) * (1 + tol).
    threshold = by_margin + math.log1p(FISHER_RELATIVE_TOLERANCE)
    as_extreme = by_margin[:, None, :] <= threshold[:, :, None]
    p_margin = np.minimum(np.einsum("mab,mb->ma", as_extreme, prob), 1.0)
    aa, cc = np.meshgrid(np.arange(n1 + 1), np.arange(n2 + 1), indexing="ij")
    return p_margin[aa + cc, aa]


def chi2_grid(n_exposed: int, n_reference: int) -> np.ndarray:
    """Pearson chi-square P (1 df, no continuity correction) of every table, shape
    (n_exposed + 1, n_reference + 1)."""
    n1, n2 = int(n_exposed), int(n_reference)
    total = n1 + n2
    a = np.arange(n1 + 1, dtype=float)[:, None]
    c = np.arange(n2 + 1, dtype=float)[None, :]
    events = a + c
    margins = n1 * n2 * events * (total - events)
    with np.errstate(divide="ignore", invalid="ignore"):
        statistic = total * (a * (n2 - c) - c * (n1 - a)) ** 2 / margins
    return np.where(margins > 0, stats.chi2.sf(statistic, df=1), 1.0)


def p_value_grid(n_exposed: int, n_reference: int, test: Test = "fisher") -> np.ndarray:
    """Two-sided P of every table (a of n_exposed, c of n_reference): array
    (n_exposed + 1, n_reference + 1)."""
    _check_sizes(n_exposed, n_reference)
    _check_test(test)
    return (
        fisher_grid(n_exposed, n_reference)
        if test == "fisher"
        else chi2_grid(n_exposed, n_reference)
    )


def infer_decimals(p_value: float) -> int:
    """Number of decimals a reported P was printed with (0.03 -> 2, 0.001 -> 3, 0.5 -> 1)."""
    exponent = Decimal(repr(float(p_value))).normalize().as_tuple().exponent
    return max(0, -int(exponent))


def rounding_interval(p_value: float, decimals: int | None = None) -> tuple[float, float]:
    """Half-open interval [lo, hi) of unrounded P values that print as ``p_value``.

    "P = .03" (2 decimals) means 0.025 <= P < 0.035.
    """
    if not (isinstance(p_value, int | float) and 0 < p_value < 1):
        # P = 1 printed with 0 decimals would mean [0.5, 1.5): outside every P value's range
        raise ValueError(f"the reported P value must lie in (0, 1), got {p_value!r}")
    if decimals is None:
        decimals = infer_decimals(p_value)
    if decimals < 0:
        raise ValueError(f"decimals must be >= 0, got {decimals}")
    half = 0.5 * 10.0 ** (-decimals)
    return max(0.0, p_value - half), p_value + half


def p_interval(
    p_value: str | float | tuple[float, float],
    decimals: int | None = None,
    ns_threshold: float = 0.05,
) -> tuple[float, float]:
    """The half-open interval [low, high) of unrounded P values a report stands for.

    ``p_value`` is a printed form (``"= .03"``, ``"< .001"``, ``"> .05"``, ``"NS"``, read by
    :func:`analysis.trials.v2.parse_p_value` with ``ns_threshold`` for "NS"), a number (rounded
    as printed: :func:`rounding_interval`, ``decimals`` inferred when None) or an interval
    ``(low, high)`` already read (as ``ReportedPValue.interval`` gives it).

    Raises:
        ValueError: a form that cannot be read, or an interval outside [0, 1 + 1e-12] or empty.
    """
    from trial_reanalysis.analysis.trials.v2 import parse_p_value

    if isinstance(p_value, tuple | list):
        lo, hi = (float(v) for v in p_value)
    elif isinstance(p_value, str):
        lo, hi, _ = parse_p_value(p_value, ns_threshold)
    else:
        lo, hi = rounding_interval(p_value, decimals)
    if not 0.0 <= lo < hi <= 1.0 + 1e-12:
        raise ValueError(f"a P value interval lies in [0, 1] with low < high, got [{lo}, {hi})")
    return lo, hi


def direction_sign(more_frequent_in: str | None, groups: tuple[str, str]) -> int | None:
    """+1 when the event was more frequent in the first (exposed) group (OR > 1), -1 in the
    second (reference), None when the direction was not published (``more_frequent_in`` None
    or ``"unknown"``).

    Raises:
        ValueError: a name that is neither group's.
    """
    if more_frequent_in is None or more_frequent_in == "unknown":
        return None
    if more_frequent_in not in groups:
        raise ValueError(
            f"unknown group {more_frequent_in!r}: more_frequent_in must be one of {list(groups)}"
        )
    return 1 if more_frequent_in == groups[0] else -1


def reproduces_mask(p_grid: np.ndarray, lo: float, hi: float, sign: int | None) -> np.ndarray:
    """Boolean mask of the tables whose P lies in [lo, hi) and whose direction has ``sign``.

    ``sign`` is +1 (a/n_exposed > c/n_reference), -1 (a/n_exposed < c/n_reference), 0 (equal
    proportions) or None: the direction was not reported and is not part of the report, so every
    table whose P lies in [lo, hi) reproduces it, whichever way it points (e.g. "NS" printed
    without a direction).
    """
    keep = (p_grid >= lo) & (p_grid < hi)
    if sign is None:
        return keep
    if sign not in (-1, 0, 1):
        raise ValueError(f"sign must be +1, -1, 0 or None, got {sign!r}")
    n1, n2 = p_grid.shape[0] - 1, p_grid.shape[1] - 1
    a = np.arange(n1 + 1)[:, None]
    c = np.arange(n2 + 1)[None, :]
    return keep & (np.sign(a * n2 - c * n1) == sign)


def compatible_tables(
    p_value: str | float | tuple[float, float],
    n_exposed: int,
    n_reference: int,
    more_frequent_in: str | None,
    *,
    groups: tuple[str, str] = GROUPS,
    test: Test = "fisher",
    decimals: int | None = None,
    ns_threshold: float = 0.05,
) -> list[dict[str, float | int]]:
    """Every table whose P lies in the report's interval and whose direction matches the report.

    Args:
        p_value: the report as printed ("= .03", "< .001", "NS"...), a number (rounded as
            printed) or an interval (low, high); see :func:`p_interval`.
        n_exposed, n_reference: group sizes (first group: the odds ratio's numerator).
        more_frequent_in: the group (one of ``groups``) with the higher event rate, or None
            when the direction was not published (then every direction reproduces the report).
        groups: the two groups' names, exposed first.
        test: "fisher" (two-sided exact) or "chi2" (Pearson, no continuity correction).
        decimals: decimals of a numeric report; inferred when None.
        ns_threshold: the significance level behind "NS".

    Returns:
        ``[{"exposed_events", "reference_events", "p_value"}]`` sorted by exposed then
        reference events.

    Raises:
        ValueError: an unreadable P, a group size above the cap or not a positive integer,
            unknown group or test.
    """
    for name, n in (("n_exposed", n_exposed), ("n_reference", n_reference)):
        if isinstance(n, int) and n > MAX_TABLE_GROUP:
            raise ValueError(f"{name} = {n} is above the enumeration cap of {MAX_TABLE_GROUP}")
    lo, hi = p_interval(p_value, decimals, ns_threshold)
    sign = direction_sign(more_frequent_in, groups)
    grid = p_value_grid(n_exposed, n_reference, test)
    mask = reproduces_mask(grid, lo, hi, sign)
    return [
        {"exposed_events": int(a), "reference_events": int(c), "p_value": float(grid[a, c])}
        for a, c in zip(*np.nonzero(mask), strict=True)
    ]
