"""Exact binomial test, Simon two-stage designs and the trial's decision under them."""

from __future__ import annotations

import json
import math
from functools import cache

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from trial_reanalysis.analysis.frequentist.binomial import (
    SIMON_SETTINGS,
    SimonDesign,
    exact_binomial_test,
    most_powerful_n,
    simon_designs,
    simon_table,
    single_stage_n,
    trial_decision,
)

P0, P1 = 0.05, 0.20


@cache
def designs_for(alpha: float, power: float, n_max: int = 70) -> dict[str, SimonDesign]:
    """simon_designs for p0 = .05, p1 = .20, computed once per setting (keeps the suite fast)."""
    return simon_designs(P0, P1, alpha, power, n_max=n_max)


@cache
def pmf(k: int, size: int, p: float) -> float:
    """Binomial pmf from its definition (independent of scipy)."""
    return math.comb(size, k) * p**k * (1 - p) ** (size - k)


def reject_brute(r1: int, n1: int, r: int, n: int, p: float) -> float:
    """P(X1 > r1 and X1 + X2 > r) by a plain double loop over (x1, x2)."""
    total = 0.0
    for x1 in range(n1 + 1):
        for x2 in range(n - n1 + 1):
            if x1 > r1 and x1 + x2 > r:
                total += pmf(x1, n1, p) * pmf(x2, n - n1, p)
    return total


def test_exact_binomial_test_matches_survival_function() -> None:
    for n in (1, 10, 47, 48):
        for x in range(n + 1):
            assert exact_binomial_test(x, n, P0) == pytest.approx(
                stats.binom.sf(x - 1, n, P0), rel=1e-10, abs=1e-300
            )
    assert exact_binomial_test(0, 47, P0) == pytest.approx(1.0)
    assert exact_binomial_test(14, 47, P0) < 1e-6


def test_exact_binomial_test_rejects_bad_input() -> None:
    with pytest.raises(ValueError, match="p0 must lie strictly between 0 and 1"):
        exact_binomial_test(3, 10, 1.5)
    with pytest.raises(ValueError, match="responders must lie in"):
        exact_binomial_test(11, 10, 0.05)


# Simon (1989) Table 1, p0 = .05, p1 = .20 (DESIGN.md 4.1): (r1, n1, r, n, EN0, PET0).
SIMON_TABLE_1 = {
    (0.10, 0.90): {"optimal": (0, 12, 3, 37, 23.5, 0.54), "minimax": (0, 18, 3, 32, 26.4, 0.40)},
    (0.05, 0.80): {"optimal": (0, 10, 3, 29, 17.6, 0.60), "minimax": (0, 13, 3, 27, 19.8, 0.51)},
    (0.05, 0.90): {"optimal": (1, 21, 4, 41, 26.7, 0.72), "minimax": (1, 29, 4, 38, 32.9, 0.57)},
}


@pytest.mark.parametrize("setting", list(SIMON_TABLE_1))
def test_simon_designs_match_published_table(setting: tuple[float, float]) -> None:
    alpha, power = setting
    designs = designs_for(alpha, power)
    assert set(designs) == {"optimal", "minimax"}
    for kind, (r1, n1, r, n, en0, pet0) in SIMON_TABLE_1[setting].items():
        d = designs[kind]
        assert d.kind == kind
        assert (d.r1, d.n1, d.r, d.n) == (r1, n1, r, n)
        assert d.en0 == pytest.approx(en0, abs=0.05 + 1e-9)
        assert d.pet0 == pytest.approx(pet0, abs=0.005 + 1e-9)
        assert (d.alpha_target, d.power_target) == (alpha, power)


@pytest.mark.parametrize("setting", SIMON_SETTINGS)
def test_designs_meet_constraints_by_brute_force(setting: tuple[float, float]) -> None:
    alpha, power = setting
    for d in designs_for(alpha, power).values():
        assert d.alpha == pytest.approx(reject_brute(d.r1, d.n1, d.r, d.n, P0), abs=1e-12)
        assert d.power == pytest.approx(reject_brute(d.r1, d.n1, d.r, d.n, P1), abs=1e-12)
        assert d.alpha <= alpha
        assert d.power >= power
        pet0 = sum(pmf(k, d.n1, P0) for k in range(d.r1 + 1))
        assert d.pet0 == pytest.approx(pet0, abs=1e-12)
        assert d.en0 == pytest.approx(d.n1 + (1 - pet0) * (d.n - d.n1), abs=1e-10)
        assert 1 <= d.n1 < d.n and 0 <= d.r1 <= d.n1 and d.r1 <= d.r <= d.n


def test_no_better_design_by_brute_force() -> None:
    """Search every (r1, n1, r, n), n <= 35, for alpha .05 / power .80 by plain loops.

    Only designs that would beat the answer are evaluated (EN0 below the optimal's; n below the
    minimax's, or the same n with lower EN0): none may meet the constraints.
    """
    alpha, power, n_max = 0.05, 0.80, 35
    designs = designs_for(alpha, power, n_max)
    opt, mini = designs["optimal"], designs["minimax"]
    assert designs == designs_for(alpha, power)  # answer inside n <= 35
    checked = 0
    for n in range(2, n_max + 1):
        for n1 in range(1, n):
            for r1 in range(n1 + 1):
                pet0 = sum(pmf(k, n1, P0) for k in range(r1 + 1))
                en0 = n1 + (1 - pet0) * (n - n1)
                beats_opt = en0 < opt.en0 - 1e-9
                beats_mini = n < mini.n or (n == mini.n and en0 < mini.en0 - 1e-9)
                if not (beats_opt or beats_mini):
                    continue
                for r in range(r1, n + 1):
                    checked += 1
                    if reject_brute(r1, n1, r, n, P1) < power:
                        break  # power only falls as r grows
                    assert reject_brute(r1, n1, r, n, P0) > alpha, (r1, n1, r, n)
    assert checked > 1000


def test_simon_table_has_every_setting_and_kind() -> None:
    table = simon_table(P0, P1)
    assert isinstance(table, pd.DataFrame)
    assert len(table) == 2 * len(SIMON_SETTINGS)
    for col in ("kind", "alpha_target", "power_target", "r1", "n1", "r", "n", "alpha", "power"):
        assert col in table.columns
    assert {"pet0", "en0", "label"} <= set(table.columns)
    assert set(zip(table.alpha_target, table.power_target, strict=True)) == set(SIMON_SETTINGS)
    assert (table.alpha <= table.alpha_target).all()
    assert (table.power >= table.power_target).all()
    row = table[(table.alpha_target == 0.05) & (table.power_target == 0.80)]
    assert dict(zip(row.kind, row.label, strict=True)) == {
        "optimal": "0/10, 3/29",
        "minimax": "0/13, 3/27",
    }


def test_simon_designs_reject_bad_input() -> None:
    with pytest.raises(ValueError, match="must exceed p0"):
        simon_designs(0.2, 0.05, 0.05, 0.8)
    with pytest.raises(ValueError, match="alpha must lie strictly between 0 and 1"):
        simon_designs(0.05, 0.2, 0.0, 0.8)
    with pytest.raises(ValueError, match="increase n_max"):
        simon_designs(0.05, 0.2, 0.05, 0.8, n_max=10)


def hypergeom_brute(x: int, m: int, d: SimonDesign) -> tuple[float, float]:
    """P(stop at stage 1) and P(go) for the first n1 / n of m patients, by counting."""
    n2 = d.n - d.n1
    stop = sum(math.comb(x, a) * math.comb(m - x, d.n1 - a) for a in range(d.r1 + 1))
    stop /= math.comb(m, d.n1)
    go = 0.0
    for a in range(d.r1 + 1, min(d.n1, x) + 1):
        first = math.comb(x, a) * math.comb(m - x, d.n1 - a) / math.comb(m, d.n1)
        for b in range(n2 + 1):
            if a + b > d.r:
                go += (
                    first
                    * math.comb(x - a, b)
                    * math.comb(m - d.n1 - x + a, n2 - b)
                    / math.comb(m - d.n1, n2)
                )
    return stop, go


def test_trial_decision_for_the_reconstructed_outcome() -> None:
    for d in designs_for(0.05, 0.80).values():
        out = trial_decision(d, 14, 47)
        json.dumps(out)
        assert out["design_n"] == d.n and out["trial_n"] == 47
        assert out["n_matches_trial"] is False
        assert out["go_by_count"] is True  # 14 > r = 3
        assert out["go_by_rate"] is True  # 14/47 > 3/29
        assert out["rate"] == pytest.approx(14 / 47)
        assert out["threshold_rate"] == pytest.approx(d.r / d.n)
        stop, go = hypergeom_brute(14, 47, d)
        assert out["prob_stop_stage1"] == pytest.approx(stop, rel=1e-10)
        assert out["prob_go_first_n"] == pytest.approx(go, rel=1e-10)
        assert "differs from the trial's (47)" in out["summary"]


def test_trial_decision_negative_and_small_trials() -> None:
    d = designs_for(0.05, 0.80)["optimal"]  # 0/10, 3/29
    out = trial_decision(d, 3, 29)
    assert out["n_matches_trial"] is True
    assert out["go_by_count"] is False and out["go_by_rate"] is False
    stop, go = hypergeom_brute(3, 29, d)
    assert out["prob_stop_stage1"] == pytest.approx(stop)
    assert go == 0.0  # never more than r = 3 responders in all 29
    assert out["prob_go_first_n"] == 0.0
    small = trial_decision(d, 2, 8)  # fewer patients than stage 1: no stage-1 probability
    assert small["prob_stop_stage1"] is None and small["prob_go_first_n"] is None
    json.dumps(small)
    assert np.isclose(small["rate"], 0.25)


def test_design_from_a_table_row_is_json_ready() -> None:
    """A design rebuilt from a DataFrame row (numpy scalars) holds built-in types."""
    row = simon_table(P0, P1, settings=[(0.05, 0.80)]).iloc[0]
    d = SimonDesign(**{k: row[k] for k in SimonDesign.__dataclass_fields__})
    assert d == designs_for(0.05, 0.80)["optimal"]
    assert type(d.n) is int and type(d.alpha) is float and type(d.kind) is str
    json.dumps(d.to_dict())
    json.dumps(trial_decision(d, 14, 47))


# --- Wide designs (issue 12 item 6) ------------------------------------------------------------


def brute_force_check(p0: float, p1: float, alpha: float, power: float, n_max: int) -> int:
    """Plain loops over every (r1, n1, r, n), n <= n_max: no design beats simon_designs' answer.

    Only designs that would beat the answer are evaluated (as in the test above); returns how
    many were checked.
    """
    designs = simon_designs(p0, p1, alpha, power, n_max=n_max)
    opt, mini = designs["optimal"], designs["minimax"]
    for d in designs.values():
        assert d.alpha == pytest.approx(reject_brute(d.r1, d.n1, d.r, d.n, p0), abs=1e-12)
        assert d.power == pytest.approx(reject_brute(d.r1, d.n1, d.r, d.n, p1), abs=1e-12)
        assert d.alpha <= alpha + 1e-12 and d.power >= power - 1e-12
        # The reported r is the smallest meeting alpha (highest power for that stage 1).
        if d.r > d.r1:
            assert reject_brute(d.r1, d.n1, d.r - 1, d.n, p0) > alpha
    checked = 0
    for n in range(2, n_max + 1):
        for n1 in range(1, n):
            for r1 in range(n1 + 1):
                pet0 = sum(pmf(k, n1, p0) for k in range(r1 + 1))
                en0 = n1 + (1 - pet0) * (n - n1)
                beats_opt = en0 < opt.en0 - 1e-9
                beats_mini = n < mini.n or (n == mini.n and en0 < mini.en0 - 1e-9)
                if not (beats_opt or beats_mini):
                    continue
                for r in range(r1, n + 1):
                    checked += 1
                    if reject_brute(r1, n1, r, n, p1) < power:
                        break
                    assert reject_brute(r1, n1, r, n, p0) > alpha, (r1, n1, r, n)
    return checked


@pytest.mark.parametrize(
    "p0,p1,alpha,power,n_max",
    [
        (0.30, 0.60, 0.05, 0.80, 30),  # p0 away from 0: the search bands do not start at 0
        (0.70, 0.95, 0.10, 0.80, 24),  # high rates: bands far from 0 on both axes
        (0.01, 0.20, 0.05, 0.90, 26),  # p0 near 0
    ],
)
def test_no_better_design_by_brute_force_for_other_rates(p0, p1, alpha, power, n_max) -> None:
    assert brute_force_check(p0, p1, alpha, power, n_max) > 100


def test_common_30_vs_45_design_is_found_beyond_70_patients() -> None:
    """A18: p0 = .30, p1 = .45 needs n > 70; the table sizes its search and finds every design.

    Each design's alpha, power, PET0 and EN0 are recomputed by plain loops, and raising n_max
    beyond the automatic range changes nothing. (Optimality itself is checked by brute force on
    smaller cases above.)
    """
    table = simon_table(0.30, 0.45)
    assert table["found"].all()
    assert (table["n"] > 70).any()
    for row in table.itertuples():
        assert row.alpha == pytest.approx(
            reject_brute(row.r1, row.n1, row.r, row.n, 0.30), abs=1e-12
        )
        assert row.power == pytest.approx(
            reject_brute(row.r1, row.n1, row.r, row.n, 0.45), abs=1e-12
        )
        assert row.alpha <= row.alpha_target and row.power >= row.power_target
        pet0 = sum(pmf(k, row.n1, 0.30) for k in range(row.r1 + 1))
        assert row.pet0 == pytest.approx(pet0, abs=1e-12)
        assert row.en0 == pytest.approx(row.n1 + (1 - pet0) * (row.n - row.n1), abs=1e-9)
        assert row.n <= row.n_max_searched
    with pytest.raises(ValueError, match="increase n_max"):
        simon_designs(0.30, 0.45, 0.05, 0.90, n_max=70)  # the failure A18 reported
    auto = simon_designs(0.30, 0.45, 0.05, 0.90)
    assert auto["minimax"].n > 70 and auto["optimal"].n > 70
    assert simon_designs(0.30, 0.45, 0.05, 0.90, n_max=220) == auto


def test_simon_table_never_raises_and_says_how_far_it_searched() -> None:
    """30 % vs 31 % needs thousands of patients: the table keeps its rows and says why."""
    table = simon_table(0.30, 0.31)
    assert len(table) == 2 * len(SIMON_SETTINGS)
    assert not table["found"].any()
    assert table["note"].str.contains("capped at n = 300").all()
    assert table["n"].isna().all()


def test_single_stage_and_most_powerful_n_by_loops() -> None:
    """The sizes that set the search range, against plain loops over n and the boundary."""

    def single_loop(p0, p1, alpha, power):
        for n in range(1, 400):
            r = next(
                r for r in range(n + 1) if 1 - sum(pmf(k, n, p0) for k in range(r + 1)) <= alpha
            )
            if 1 - sum(pmf(k, n, p1) for k in range(r + 1)) >= power:
                return n

    def np_loop(p0, p1, alpha, power):
        for n in range(1, 400):
            sf0 = [1 - sum(pmf(k, n, p0) for k in range(c + 1)) for c in range(n + 1)]
            c = next(c for c in range(n + 1) if sf0[c] <= alpha + 1e-12)
            gamma = (alpha - sf0[c]) / pmf(c, n, p0) if pmf(c, n, p0) > 0 else 0.0
            sf1 = 1 - sum(pmf(k, n, p1) for k in range(c + 1))
            if sf1 + min(gamma, 1.0) * pmf(c, n, p1) >= power - 1e-12:
                return n

    for p0, p1, alpha, power in [
        (0.05, 0.2, 0.05, 0.8),
        (0.3, 0.45, 0.1, 0.9),
        (0.8, 0.95, 0.05, 0.9),
    ]:
        assert single_stage_n(p0, p1, alpha, power) == single_loop(p0, p1, alpha, power)
        assert most_powerful_n(p0, p1, alpha, power, 400) == np_loop(p0, p1, alpha, power)
        assert most_powerful_n(p0, p1, alpha, power, 400) <= single_stage_n(p0, p1, alpha, power)
