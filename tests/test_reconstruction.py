"""Reconstruction of (responders, evaluable) from a reported percentage and confidence interval."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest
from scipy import stats
from statsmodels.stats.proportion import proportion_confint

from trial_reanalysis.analysis.constants import INTERVAL_LEVEL
from trial_reanalysis.analysis.reconstruction.rates import (
    CI_METHOD_LABELS,
    CI_METHODS,
    _ci_arrays,
    candidates_as_records,
    proportion_ci,
    reconstruct_rate,
)

STATSMODELS_NAME = {"exact": "beta", "wilson": "wilson", "jeffreys": "jeffreys", "wald": "normal"}
GRID = [(x, n) for n in range(1, 26) for x in range(n + 1)]


def rounds_to(value: float, reported: float, decimals: int) -> bool:
    """Closed-interval rounding rule of the module, written out independently."""
    return abs(value - reported) <= 0.5 * 10.0**-decimals + 1e-9


def newcombe_wilson_cc(x: int, n: int, level: float = 0.95) -> tuple[float, float]:
    """Wilson score interval with continuity correction, Newcombe (1998) method 4, eqs. in text.

    L = (2np + z^2 - 1 - z sqrt(z^2 - 2 - 1/n + 4p(nq + 1))) / (2(n + z^2)), L = 0 if x = 0;
    U = (2np + z^2 + 1 + z sqrt(z^2 + 2 - 1/n + 4p(nq - 1))) / (2(n + z^2)), U = 1 if x = n.
    """
    z = stats.norm.ppf(0.5 + level / 2)
    p, q = x / n, 1 - x / n
    lower = 0.0
    if x > 0:
        lower = (2 * n * p + z**2 - 1 - z * math.sqrt(z**2 - 2 - 1 / n + 4 * p * (n * q + 1))) / (
            2 * (n + z**2)
        )
    upper = 1.0
    if x < n:
        upper = (2 * n * p + z**2 + 1 + z * math.sqrt(z**2 + 2 - 1 / n + 4 * p * (n * q - 1))) / (
            2 * (n + z**2)
        )
    return max(lower, 0.0), min(upper, 1.0)


def independent_ci(x: int, n: int, method: str) -> tuple[float, float]:
    """The interval from statsmodels (Newcombe's formula for wilson_cc), our Jeffreys boundaries."""
    if method == "wilson_cc":
        return newcombe_wilson_cc(x, n)
    lo, hi = proportion_confint(x, n, alpha=0.05, method=STATSMODELS_NAME[method])
    if method == "jeffreys":
        lo, hi = (0.0 if x == 0 else lo), (1.0 if x == n else hi)
    return float(lo), float(hi)


def test_methods_have_labels() -> None:
    assert set(CI_METHOD_LABELS) == set(CI_METHODS)
    assert CI_METHOD_LABELS["exact"] == "Clopper-Pearson exact"


def test_seed_report_has_exactly_two_candidates() -> None:
    """DESIGN 4.1: 30 % (17-45 %), n <= 48: 14/47 (exact) first, then 13/44 (exact, wilson_cc)."""
    cands = reconstruct_rate(30, (17, 45), max_n=48, decimals=0)
    assert [(c.responders, c.evaluable, c.ci_methods) for c in cands] == [
        (14, 47, ("exact",)),
        (13, 44, ("exact", "wilson_cc")),
    ]
    best = cands[0]
    assert best.label == "14/47"
    assert best.estimate == pytest.approx(14 / 47)
    lo, hi = best.intervals["exact"]
    assert (lo, hi) == pytest.approx((0.1734, 0.4489), abs=5e-5)
    # distance: |29.787 - 30| + |17.339 - 17| + |44.894 - 45| percentage points
    assert best.distance == pytest.approx(
        abs(100 * 14 / 47 - 30) + abs(100 * lo - 17) + abs(100 * hi - 45)
    )
    assert cands[0].distance < cands[1].distance

    records = candidates_as_records(cands)
    assert [(r["responders"], r["evaluable"], r["ci_method"]) for r in records] == [
        (14, 47, "exact"),
        (13, 44, "exact"),
        (13, 44, "wilson_cc"),
    ]
    assert records[0]["estimate_percent"] == pytest.approx(29.79, abs=0.005)
    assert records[0]["ci_percent"] == pytest.approx([17.34, 44.89], abs=0.005)
    assert records[1]["ci_percent"] == pytest.approx([16.76, 45.20], abs=0.005)
    json.dumps(records)  # JSON-ready


def test_seed_report_is_complete_against_brute_force() -> None:
    """A scalar double loop with proportion_ci finds the same set as the vectorised search."""
    found = set()
    for n in range(1, 49):
        for x in range(n + 1):
            if not rounds_to(100 * x / n, 30, 0):
                continue
            for method in CI_METHODS:
                lo, hi = proportion_ci(x, n, method)
                if rounds_to(100 * lo, 17, 0) and rounds_to(100 * hi, 45, 0):
                    found.add((x, n, method))
    cands = reconstruct_rate(30, (17, 45), max_n=48)
    assert found == {(c.responders, c.evaluable, m) for c in cands for m in c.ci_methods}


def test_one_decimal_report_singles_out_14_of_47() -> None:
    cands = reconstruct_rate(29.8, (17.3, 44.9), max_n=48, decimals=1)
    assert [(c.label, c.ci_methods) for c in cands] == [("14/47", ("exact",))]


@pytest.mark.parametrize("method", ["exact", "wilson", "jeffreys", "wald"])
def test_proportion_ci_matches_statsmodels(method: str) -> None:
    for x, n in GRID:
        if method == "jeffreys" and x in (0, n):
            continue  # statsmodels keeps the Beta quantile at the boundary; we use 0 / 1
        expected = proportion_confint(x, n, alpha=1 - 0.95, method=STATSMODELS_NAME[method])
        assert proportion_ci(x, n, method) == pytest.approx(expected, abs=1e-9), (x, n)


def test_jeffreys_boundary_convention() -> None:
    assert proportion_ci(0, 10, "jeffreys")[0] == 0.0
    assert proportion_ci(10, 10, "jeffreys")[1] == 1.0
    inner = stats.beta.ppf(0.975, 0.5, 10.5)
    assert proportion_ci(0, 10, "jeffreys")[1] == pytest.approx(inner)


def test_wilson_cc_matches_newcombe() -> None:
    for x, n in GRID:
        assert proportion_ci(x, n, "wilson_cc") == pytest.approx(
            newcombe_wilson_cc(x, n), abs=1e-12
        ), (x, n)


@pytest.mark.parametrize("method", CI_METHODS)
def test_vectorised_limits_agree_with_proportion_ci(method: str) -> None:
    x = np.array([g[0] for g in GRID])
    n = np.array([g[1] for g in GRID])
    lo, hi = _ci_arrays(x, n, method, INTERVAL_LEVEL)
    expected = np.array([proportion_ci(int(a), int(b), method) for a, b in GRID])
    np.testing.assert_allclose(lo, expected[:, 0], atol=1e-9)
    np.testing.assert_allclose(hi, expected[:, 1], atol=1e-9)


def test_level_changes_interval() -> None:
    lo90, hi90 = proportion_ci(14, 47, "exact", level=0.90)
    lo95, hi95 = proportion_ci(14, 47, "exact")
    assert lo95 < lo90 < hi90 < hi95


def test_random_reports_recover_their_counts() -> None:
    """Property: round the CI of a random (x, n); (x, n) must be among that report's candidates."""
    rng = np.random.default_rng(20101115)
    for _ in range(200):
        n = int(rng.integers(1, 151))
        x = int(rng.integers(0, n + 1))
        decimals = int(rng.integers(0, 2))
        method = "exact" if rng.random() < 0.5 else str(rng.choice(CI_METHODS))
        lo, hi = proportion_ci(x, n, method)
        report = round(100 * x / n, decimals)
        ci = (round(100 * lo, decimals), round(100 * hi, decimals))
        max_n = n + int(rng.integers(0, 20))
        cands = reconstruct_rate(report, ci, max_n=max_n, decimals=decimals)
        hits = [c for c in cands if (c.responders, c.evaluable) == (x, n)]
        assert len(hits) == 1, (x, n, method, report, ci)
        assert method in hits[0].ci_methods
        # every candidate really matches the report, best first
        for c in cands:
            assert c.evaluable <= max_n
            assert rounds_to(100 * c.estimate, report, decimals)
            for m in c.ci_methods:
                c_lo, c_hi = independent_ci(c.responders, c.evaluable, m)
                assert rounds_to(100 * c_lo, ci[0], decimals)
                assert rounds_to(100 * c_hi, ci[1], decimals)
        distances = [c.distance for c in cands]
        assert distances == sorted(distances)


def test_methods_restrict_the_search() -> None:
    cands = reconstruct_rate(30, (17, 45), max_n=48, methods=("wilson_cc",))
    assert [(c.label, c.ci_methods) for c in cands] == [("13/44", ("wilson_cc",))]
    assert set(cands[0].intervals) == {"wilson_cc"}


def test_no_candidate_gives_empty_list() -> None:
    assert reconstruct_rate(30, (29, 31), max_n=48) == []


@pytest.mark.parametrize(
    ("args", "match"),
    [
        ((120, (17, 45), 48), "percent must lie in 0-100"),
        ((30, (-1, 45), 48), "CI lower must lie in 0-100"),
        ((30, (45, 17), 48), "exceeds upper limit"),
        ((50, (17, 45), 48), "outside its CI"),
        ((30, (17, 45), 0), "max_n must be an integer of at least 1"),
    ],
)
def test_reconstruct_rate_rejects_bad_input(args: tuple, match: str) -> None:
    with pytest.raises(ValueError, match=match):
        reconstruct_rate(*args)


def test_bad_method_and_counts() -> None:
    with pytest.raises(ValueError, match="unknown CI method 'agresti'"):
        reconstruct_rate(30, (17, 45), 48, methods=("agresti",))
    with pytest.raises(ValueError, match="unknown CI method"):
        proportion_ci(1, 10, "clopper")
    with pytest.raises(ValueError, match=r"responders must lie in 0\.\.evaluable"):
        proportion_ci(11, 10, "exact")
    with pytest.raises(ValueError, match="evaluable must be at least 1"):
        proportion_ci(0, 0, "exact")
    with pytest.raises(ValueError, match="decimals must be a non-negative integer"):
        reconstruct_rate(30, (17, 45), 48, decimals=-1)
