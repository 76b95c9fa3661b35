"""2x2 tables compatible with a published, rounded P value and direction (DESIGN.md section 4.3).

A table is (a, c): ``a`` events among ``n_bev`` patients after prior bevacizumab and ``c`` events
among ``n_sun`` after prior sunitinib. For every such table this module computes, vectorised:

- the two-sided **Fisher exact** P: the sum of the hypergeometric probabilities (margins fixed) of
  every table no more probable than the observed one, with the relative tolerance ``1 + 1e-7`` of
  R's ``fisher.test`` (scipy uses ``1 + 1e-14``; the two differ only on float near-ties). Binomial
  coefficients are exact integers, so ties are exact for the group sizes of phase 2 trials;
- the **Pearson chi-square** P with one degree of freedom and **no continuity correction**
  (``scipy.stats.chi2_contingency(table, correction=False)``). A table with an empty margin (no
  events at all, or every patient with the event) has no defined statistic; its P is set to 1.

A table *reproduces* a report "P = .03, more frequent after bevacizumab" when its P lies in the
half-open rounding interval [0.025, 0.035) and its direction matches (a / n_bev > c / n_sun).
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
#: The two groups, in odds-ratio order (numerator, denominator).
GROUPS = ("bevacizumab", "sunitinib")
TESTS = ("fisher", "chi2")

Test = Literal["fisher", "chi2"]


def _check_sizes(n_bev: int, n_sun: int) -> None:
    for name, n in (("n_bev", n_bev), ("n_sun", n_sun)):
        if isinstance(n, bool) or int(n) != n or n <= 0:
            raise ValueError(f"{name} must be a positive whole number of patients, got {n!r}")


def _check_test(test: str) -> None:
    if test not in TESTS:
        raise ValueError(f"unknown test {test!r}: choose 'fisher' or 'chi2'")


def _log_comb(n: int) -> np.ndarray:
    """log C(n, k) for k = 0..n, from exact integers (so equal coefficients stay equal)."""
    return np.array([math.log(math.comb(n, k)) for k in range(n + 1)])


def fisher_grid(n_bev: int, n_sun: int) -> np.ndarray:
    """Two-sided Fisher exact P of every table, shape (n_bev + 1, n_sun + 1)."""
    n1, n2 = int(n_bev), int(n_sun)
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


def chi2_grid(n_bev: int, n_sun: int) -> np.ndarray:
    """Pearson chi-square P (1 df, no continuity correction) of every table, (n_bev+1, n_sun+1)."""
    n1, n2 = int(n_bev), int(n_sun)
    total = n1 + n2
    a = np.arange(n1 + 1, dtype=float)[:, None]
    c = np.arange(n2 + 1, dtype=float)[None, :]
    events = a + c
    margins = n1 * n2 * events * (total - events)
    with np.errstate(divide="ignore", invalid="ignore"):
        statistic = total * (a * (n2 - c) - c * (n1 - a)) ** 2 / margins
    return np.where(margins > 0, stats.chi2.sf(statistic, df=1), 1.0)


def p_value_grid(n_bev: int, n_sun: int, test: Test = "fisher") -> np.ndarray:
    """Two-sided P of every table (a of n_bev, c of n_sun): array (n_bev + 1, n_sun + 1)."""
    _check_sizes(n_bev, n_sun)
    _check_test(test)
    return fisher_grid(n_bev, n_sun) if test == "fisher" else chi2_grid(n_bev, n_sun)


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


def direction_sign(more_frequent_after: str, groups: tuple[str, str] = GROUPS) -> int:
    """+1 when the event was more frequent in the first group (OR > 1), -1 in the second."""
    if more_frequent_after not in groups:
        raise ValueError(
            f"unknown group {more_frequent_after!r}: more_frequent_after must be one of {groups}"
        )
    return 1 if more_frequent_after == groups[0] else -1


def reproduces_mask(p_grid: np.ndarray, lo: float, hi: float, sign: int) -> np.ndarray:
    """Boolean mask of the tables whose P lies in [lo, hi) and whose direction has ``sign``.

    ``sign`` is +1 (a/n_bev > c/n_sun), -1 (a/n_bev < c/n_sun) or 0 (equal proportions).
    """
    n1, n2 = p_grid.shape[0] - 1, p_grid.shape[1] - 1
    a = np.arange(n1 + 1)[:, None]
    c = np.arange(n2 + 1)[None, :]
    direction = np.sign(a * n2 - c * n1)
    return (p_grid >= lo) & (p_grid < hi) & (direction == sign)


def compatible_tables(
    p_value: float,
    n_bev: int,
    n_sun: int,
    more_frequent_after: str,
    test: Test = "fisher",
    decimals: int | None = None,
) -> list[dict[str, float | int]]:
    """Every table whose P rounds to the reported value and whose direction matches the report.

    Args:
        p_value: the reported (rounded) two-sided P, in (0, 1).
        n_bev, n_sun: group sizes (prior bevacizumab, prior sunitinib).
        more_frequent_after: "bevacizumab" (a/n_bev > c/n_sun) or "sunitinib".
        test: "fisher" (two-sided exact) or "chi2" (Pearson, no continuity correction).
        decimals: decimals of the report; inferred from ``p_value`` when None.

    Returns:
        ``[{"bev_events", "sun_events", "p_value"}]`` sorted by bevacizumab then sunitinib events.

    Raises:
        ValueError: P outside (0, 1), a group size above the cap or not a positive integer,
            unknown group or test.
    """
    for name, n in (("n_bev", n_bev), ("n_sun", n_sun)):
        if isinstance(n, int) and n > MAX_TABLE_GROUP:
            raise ValueError(f"{name} = {n} is above the enumeration cap of {MAX_TABLE_GROUP}")
    lo, hi = rounding_interval(p_value, decimals)
    sign = direction_sign(more_frequent_after)
    grid = p_value_grid(n_bev, n_sun, test)
    mask = reproduces_mask(grid, lo, hi, sign)
    return [
        {"bev_events": int(a), "sun_events": int(c), "p_value": float(grid[a, c])}
        for a, c in zip(*np.nonzero(mask), strict=True)
    ]
