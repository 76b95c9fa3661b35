"""Compatible 2x2 tables: P values against scipy, exhaustive enumeration, input errors, speed."""

import numpy as np
import pytest
from scipy import stats

from trial_reanalysis.analysis.reconstruction.tables import (
    compatible_tables,
    infer_decimals,
    p_value_grid,
    rounding_interval,
)

SPLITS = [(22, 26), (12, 36), (24, 24), (5, 7), (1, 1), (3, 9), (36, 12)]


@pytest.mark.parametrize(("n_bev", "n_sun"), SPLITS)
def test_fisher_matches_scipy(n_bev, n_sun):
    grid = p_value_grid(n_bev, n_sun, "fisher")
    for a in range(n_bev + 1):
        for c in range(n_sun + 1):
            ref = stats.fisher_exact([[a, n_bev - a], [c, n_sun - c]]).pvalue
            assert grid[a, c] == pytest.approx(ref, rel=1e-9, abs=1e-14)


@pytest.mark.parametrize(("n_bev", "n_sun"), SPLITS)
def test_chi2_matches_scipy_without_correction(n_bev, n_sun):
    grid = p_value_grid(n_bev, n_sun, "chi2")
    for a in range(n_bev + 1):
        for c in range(n_sun + 1):
            if 0 < a + c < n_bev + n_sun:
                table = [[a, n_bev - a], [c, n_sun - c]]
                ref = stats.chi2_contingency(table, correction=False).pvalue
                assert grid[a, c] == pytest.approx(ref, rel=1e-9, abs=1e-14)
            else:  # an empty margin: statistic undefined, P set to 1
                assert grid[a, c] == 1.0


def test_rounding_interval_is_half_open_with_inferred_decimals():
    assert infer_decimals(0.03) == 2
    assert infer_decimals(0.001) == 3
    assert rounding_interval(0.03) == pytest.approx((0.025, 0.035))
    assert rounding_interval(0.06, decimals=3) == pytest.approx((0.0595, 0.0605))


@pytest.mark.parametrize("test", ["fisher", "chi2"])
@pytest.mark.parametrize(("p", "after"), [(0.03, "bevacizumab"), (0.06, "sunitinib")])
def test_enumeration_is_exhaustive(test, p, after):
    n_bev, n_sun = 22, 26
    found = {
        (t["bev_events"], t["sun_events"]) for t in compatible_tables(p, n_bev, n_sun, after, test)
    }
    brute = set()
    for a in range(n_bev + 1):
        for c in range(n_sun + 1):
            table = [[a, n_bev - a], [c, n_sun - c]]
            if test == "fisher":
                ref = stats.fisher_exact(table).pvalue
            elif 0 < a + c < n_bev + n_sun:
                ref = stats.chi2_contingency(table, correction=False).pvalue
            else:
                continue
            more = a / n_bev > c / n_sun if after == "bevacizumab" else a / n_bev < c / n_sun
            if p - 0.005 <= ref < p + 0.005 and more:
                brute.add((a, c))
    assert found == brute
    assert len(found) >= 1


def test_direction_is_respected():
    for t in compatible_tables(0.06, 24, 24, "sunitinib"):
        assert t["bev_events"] < t["sun_events"]


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"p_value": 0.0}, "P value must lie in"),
        ({"p_value": 1.5}, "P value must lie in"),
        ({"n_bev": 0}, "n_bev must be a positive"),
        ({"n_sun": -3}, "n_sun must be a positive"),
        ({"more_frequent_after": "placebo"}, "unknown group"),
        ({"test": "t-test"}, "unknown test"),
    ],
)
def test_errors_are_clear(kwargs, match):
    args = {"p_value": 0.03, "n_bev": 22, "n_sun": 26, "more_frequent_after": "bevacizumab"}
    with pytest.raises(ValueError, match=match):
        compatible_tables(**{**args, **kwargs})


def test_every_split_is_enumerated():
    """Every table of every split 12/36..36/12 (speed: benchmarks/run.py)."""
    cells = 0
    for n_bev in range(12, 37):
        for test in ("fisher", "chi2"):
            grid = p_value_grid(n_bev, 48 - n_bev, test)
            assert np.all((grid > 0) & (grid <= 1 + 1e-12))
            cells += grid.size
    assert cells == 2 * 14325
