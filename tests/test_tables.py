"""Compatible 2x2 tables: P values against scipy, exhaustive enumeration of every printed form
("= .03", "< .001", "> .05", "NS") with named groups in both directions, input errors, the
``reconstruct table`` command."""

import json

import numpy as np
import pytest
from scipy import stats
from typer.testing import CliRunner

from trial_reanalysis.analysis.cli import app
from trial_reanalysis.analysis.reconstruction.tables import (
    compatible_tables,
    direction_sign,
    infer_decimals,
    p_interval,
    p_value_grid,
    rounding_interval,
)

SPLITS = [(22, 26), (12, 36), (24, 24), (5, 7), (1, 1), (3, 9), (36, 12)]
GROUPS = ("high dose", "low dose")


@pytest.mark.parametrize(("n1", "n2"), SPLITS)
def test_fisher_matches_scipy(n1, n2):
    grid = p_value_grid(n1, n2, "fisher")
    for a in range(n1 + 1):
        for c in range(n2 + 1):
            ref = stats.fisher_exact([[a, n1 - a], [c, n2 - c]]).pvalue
            assert grid[a, c] == pytest.approx(ref, rel=1e-9, abs=1e-14)


@pytest.mark.parametrize(("n1", "n2"), SPLITS)
def test_chi2_matches_scipy_without_correction(n1, n2):
    grid = p_value_grid(n1, n2, "chi2")
    for a in range(n1 + 1):
        for c in range(n2 + 1):
            if 0 < a + c < n1 + n2:
                table = [[a, n1 - a], [c, n2 - c]]
                ref = stats.chi2_contingency(table, correction=False).pvalue
                assert grid[a, c] == pytest.approx(ref, rel=1e-9, abs=1e-14)
            else:  # an empty margin: statistic undefined, P set to 1
                assert grid[a, c] == 1.0


def test_rounding_interval_is_half_open_with_inferred_decimals():
    assert infer_decimals(0.03) == 2
    assert infer_decimals(0.001) == 3
    assert rounding_interval(0.03) == pytest.approx((0.025, 0.035))
    assert rounding_interval(0.06, decimals=3) == pytest.approx((0.0595, 0.0605))


@pytest.mark.parametrize(
    ("printed", "interval"),
    [
        ("= .03", (0.025, 0.035)),
        (0.03, (0.025, 0.035)),
        ("P = 0.012", (0.0115, 0.0125)),
        ("< .001", (0.0, 0.001)),
        ("> .05", (0.05, 1.0)),
        ("NS", (0.05, 1.0)),
        ((0.1, 0.2), (0.1, 0.2)),
    ],
)
def test_p_interval_of_each_printed_form(printed, interval):
    lo, hi = p_interval(printed)
    assert lo == pytest.approx(interval[0], abs=1e-15)
    assert hi == pytest.approx(interval[1], abs=1e-11)
    assert p_interval("NS", ns_threshold=0.1)[0] == 0.1


def _brute(n1: int, n2: int, keep, test: str = "fisher") -> set[tuple[int, int]]:
    """Every table (a, c) with keep(P, a / n1 - c / n2), P from scipy, in loops."""
    out = set()
    for a in range(n1 + 1):
        for c in range(n2 + 1):
            table = [[a, n1 - a], [c, n2 - c]]
            if test == "fisher":
                p = stats.fisher_exact(table).pvalue
            elif 0 < a + c < n1 + n2:
                p = stats.chi2_contingency(table, correction=False).pvalue
            else:
                p = 1.0
            if keep(p, a / n1 - c / n2):
                out.add((a, c))
    return out


def _found(rows) -> set[tuple[int, int]]:
    return {(r["exposed_events"], r["reference_events"]) for r in rows}


@pytest.mark.parametrize("test", ["fisher", "chi2"])
@pytest.mark.parametrize(("p", "group"), [(0.03, GROUPS[0]), (0.06, GROUPS[1])])
def test_enumeration_is_exhaustive(test, p, group):
    n1, n2 = 22, 26
    found = _found(compatible_tables(p, n1, n2, group, groups=GROUPS, test=test))
    sign = 1 if group == GROUPS[0] else -1

    def keep(pv, diff):
        return p - 0.005 <= pv < p + 0.005 and np.sign(diff) == sign

    assert found == _brute(n1, n2, keep, test)
    assert len(found) >= 1


def test_below_001_keeps_97_tables_where_typing_0001_kept_14():
    """The handed case A16 (issue): with 22 vs 26 patients, Fisher, more frequent in the exposed
    group, "P < .001" fits 97 tables where the number 0.001 (read as [0.0005, 0.0015)) kept 14;
    both against an independent enumeration."""
    below = _found(compatible_tables("< .001", 22, 26, GROUPS[0], groups=GROUPS))
    typed = _found(compatible_tables(0.001, 22, 26, GROUPS[0], groups=GROUPS))
    assert below == _brute(22, 26, lambda p, d: p < 0.001 and d > 0)
    assert typed == _brute(22, 26, lambda p, d: 0.0005 <= p < 0.0015 and d > 0)
    assert (len(below), len(typed)) == (97, 14)


@pytest.mark.parametrize("test", ["fisher", "chi2"])
def test_not_significant_with_and_without_a_direction(test):
    """ "NS" keeps the tables with P >= the threshold; without a direction every table whichever
    way it points (equal proportions included), with one only that side."""
    n1, n2 = 9, 13
    any_way = _found(compatible_tables("NS", n1, n2, None, groups=GROUPS, test=test))
    assert any_way == _brute(n1, n2, lambda p, d: p >= 0.05, test)
    low = _found(compatible_tables("NS", n1, n2, GROUPS[1], groups=GROUPS, test=test))
    assert low == _brute(n1, n2, lambda p, d: p >= 0.05 and d < 0, test)
    strict = _found(
        compatible_tables("NS", n1, n2, "unknown", groups=GROUPS, test=test, ns_threshold=0.1)
    )
    assert strict == _brute(n1, n2, lambda p, d: p >= 0.1, test)
    above = _found(compatible_tables("> .2", n1, n2, GROUPS[0], groups=GROUPS, test=test))
    assert above == _brute(n1, n2, lambda p, d: p >= 0.2 and d > 0, test)


def test_named_groups_both_ways_and_a_flipped_order_fails():
    """More frequent in the reference group means a / n_exposed < c / n_reference: the tables
    are the mirror of the same report with the groups swapped (and the sizes with them). A
    mutant that flips the group order (or the sign) gives the other set, which differs."""
    n1, n2 = 10, 14
    exposed_more = _found(compatible_tables("= .03", n1, n2, GROUPS[0], groups=GROUPS))
    reference_more = _found(compatible_tables("= .03", n1, n2, GROUPS[1], groups=GROUPS))
    assert exposed_more == _brute(n1, n2, lambda p, d: 0.025 <= p < 0.035 and d > 0)
    assert reference_more == _brute(n1, n2, lambda p, d: 0.025 <= p < 0.035 and d < 0)
    assert exposed_more and reference_more and not exposed_more & reference_more
    swapped = _found(compatible_tables("= .03", n2, n1, GROUPS[0], groups=GROUPS[::-1]))
    assert swapped == {(c, a) for a, c in exposed_more}
    assert direction_sign(GROUPS[1], GROUPS) == -1 and direction_sign(GROUPS[0], GROUPS) == 1
    assert direction_sign(None, GROUPS) is None and direction_sign("unknown", GROUPS) is None


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"p_value": 0.0}, "P value must lie in"),
        ({"p_value": 1.5}, "P value must lie in"),
        ({"p_value": "< 2"}, "cannot read"),
        ({"n_exposed": 0}, "n_exposed must be a positive"),
        ({"n_reference": -3}, "n_reference must be a positive"),
        ({"more_frequent_in": "placebo"}, "unknown group"),
        ({"test": "t-test"}, "unknown test"),
    ],
)
def test_errors_are_clear(kwargs, match):
    args = {"p_value": 0.03, "n_exposed": 22, "n_reference": 26, "more_frequent_in": GROUPS[0]}
    with pytest.raises(ValueError, match=match):
        compatible_tables(**{**args, **kwargs}, groups=GROUPS)


def test_every_split_is_enumerated():
    """Every table of every split 12/36..36/12 (speed: benchmarks/run.py)."""
    cells = 0
    for n1 in range(12, 37):
        for test in ("fisher", "chi2"):
            grid = p_value_grid(n1, 48 - n1, test)
            assert np.all((grid > 0) & (grid <= 1 + 1e-12))
            cells += grid.size
    assert cells == 2 * 14325


def test_reconstruct_table_command_reads_printed_forms_and_group_names():
    runner = CliRunner()
    base = ["reconstruct", "table", "--n-exposed", "22", "--n-reference", "26", "--json"]
    names = ["--exposed", "high dose", "--reference", "low dose"]
    result = runner.invoke(
        app, [*base, *names, "--p-value", "< .001", "--more-frequent-in", "high dose"]
    )
    assert result.exit_code == 0, result.output
    rows = json.loads(result.output)
    assert _found(rows) == _brute(22, 26, lambda p, d: p < 0.001 and d > 0)
    for r in rows:
        a, c = r["exposed_events"], r["reference_events"]
        assert r["p_value"] == pytest.approx(stats.fisher_exact([[a, 22 - a], [c, 26 - c]])[1])
    # the former option names still work; a number is a rounded report
    old = ["reconstruct", "table", "--n-bev", "22", "--n-sun", "26", "--json", "--p-value"]
    result = runner.invoke(app, [*old, "0.03", "--more-frequent-after", "exposed"])
    assert result.exit_code == 0, result.output
    assert _found(json.loads(result.output)) == _brute(
        22, 26, lambda p, d: 0.025 <= p < 0.035 and d > 0
    )
    bad = runner.invoke(app, [*base, *names, "--p-value", "NS", "--more-frequent-in", "placebo"])
    assert bad.exit_code == 2 and "more-frequent-in" in bad.output
    bad = runner.invoke(app, [*base, "--p-value", "< 2", "--more-frequent-in", "unknown"])
    assert bad.exit_code == 2 and "p-value" in bad.output
