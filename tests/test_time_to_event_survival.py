"""KM, Brookmeyer-Crowley CI, crossing levels, Weibull MLE and Guyot reconstruction."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from lifelines import KaplanMeierFitter, WeibullFitter
from lifelines.datasets import load_larynx, load_lung
from scipy import stats

from trial_reanalysis.analysis.errors import InputError
from trial_reanalysis.analysis.frequentist.survival import (
    TRANSFORMS,
    crossing_levels,
    kaplan_meier,
    km_median_ci_batch,
    smallest_n_with_crossings,
    weibull_mle,
)
from trial_reanalysis.analysis.reconstruction.curves import reconstruct_km, reconstruct_km_files

DAYS_PER_MONTH = 365.25 / 12


@pytest.mark.parametrize(
    ("transform", "expected"),
    [
        ("plain", (0.364, 0.5, 0.636)),
        ("log", (0.377, 0.5, 0.664)),
        ("log-log", (0.348, 0.5, 0.634)),
    ],
)
def test_crossing_levels_n48(transform, expected):
    """DESIGN.md 4.2: F-levels of (L, M, U) for n = 48, per transform."""
    assert np.round(crossing_levels(48, transform), 3).tolist() == list(expected)


Z_975 = float(stats.norm.ppf(0.975))


def _limit(s: float, n: float, transform: str, upper: bool) -> float:
    """R's pointwise limit of S on ``transform`` with se(log S) = sqrt((1 - S) / (S n)), written
    here from its formula (clipped to [0, 1])."""
    z = Z_975
    se = np.sqrt((1 - s) / (s * n))
    sign = 1.0 if upper else -1.0
    if transform == "plain":
        value = s + sign * z * s * se
    elif transform == "log":
        value = s * np.exp(sign * z * se)
    else:
        with np.errstate(over="ignore"):  # near S = 1 the lower limit's exponent overflows: 0
            value = np.exp(-np.exp(np.log(-np.log(s)) + sign * z * se / np.log(s)))
    return min(max(value, 0.0), 1.0)


@pytest.mark.parametrize(
    ("transform", "n"),
    [
        (t, n)
        for t in TRANSFORMS
        for n in (11, 12, 14, 20, 48, 228)
        if not (t == "log" and n < 14)  # no upper crossing there (the next test)
    ],
)
def test_crossing_levels_solve_the_limit_equations(transform, n):
    """Independently of the walk: with se(S) = sqrt(S (1 - S) / n), R's pointwise limit on each
    transform (written here from its formula) equals 0.5 at S = 1 - F_L (lower limit) and at
    S = 1 - F_U (upper limit), and the walk found the first crossings away from 0.5 (a scalar
    scan written here finds the same brackets). Small n where both limits exist included (log:
    n >= 14; log-log: n >= 11)."""

    def limit(s: float, upper: bool) -> float:
        return _limit(s, n, transform, upper)

    f_lower, half, f_upper = crossing_levels(n, transform)
    assert half == 0.5
    assert abs(limit(1 - f_lower, upper=False) - 0.5) < 1e-12
    assert abs(limit(1 - f_upper, upper=True) - 0.5) < 1e-12
    scan = np.linspace(0.5, 1e-6, 2001)
    first = next(s for s in scan if limit(s, upper=True) < 0.5)
    assert first <= 1 - f_upper < first + (scan[0] - scan[1])
    scan = np.linspace(0.5, 1 - 1e-9, 2001)
    first = next(s for s in scan if limit(s, upper=False) > 0.5)
    assert first - (scan[1] - scan[0]) < 1 - f_lower <= first


def _log_upper_least(n: float) -> float:
    """The least upper log limit on (0, 0.5) in closed form: log U(S) = log S + z sqrt((1 - S) /
    (S n)) turns once, where S (1 - S) = z^2 / (4 n), and there U = S exp(z^2 / (2 n S))."""
    s = (1 - np.sqrt(1 - Z_975**2 / n)) / 2
    return s * np.exp(Z_975**2 / (2 * n * s))


def test_crossing_levels_refuse_small_n_where_a_limit_never_reaches_one_half():
    """n = 12 on the log transform used to raise IndexError (the walk found no sign change): the
    upper limit never falls to 0.5 there, so the median's upper CI limit is never reached and no
    F_U exists. Now a ValueError names the limit and the least n, which is checked against the
    closed form of the upper log limit's minimum (and a dense scan of the formula); on log-log the
    lower limit is the one that fails, checked by a dense scan."""
    from scipy import optimize

    scan = np.linspace(1e-6, 0.5, 20_001)
    least = min(_limit(s, 12, "log", upper=True) for s in scan)
    assert least == pytest.approx(_log_upper_least(12), abs=1e-7)  # two ways: 0.5439
    assert least > 0.5
    with pytest.raises(
        ValueError,
        match=r"upper 95% pointwise limit on the log transform never "
        r"reaches 0.5 for n = 12 \(its least value is 0.5439",
    ) as refused:
        crossing_levels(12, "log")
    n_log = optimize.brentq(lambda n: _log_upper_least(n) - 0.5, 4.0, 100.0, xtol=1e-12)
    assert n_log == pytest.approx(13.1540, abs=1e-4)
    assert f"it needs n >= {n_log:.2f}" in str(refused.value)
    assert smallest_n_with_crossings("log") == pytest.approx(n_log, abs=1e-7)
    # either side of the limit: levels that solve the equations just above, a refusal below
    f_lower, _, f_upper = crossing_levels(n_log + 1e-3, "log")
    assert abs(_limit(1 - f_upper, n_log + 1e-3, "log", upper=True) - 0.5) < 1e-12
    assert abs(_limit(1 - f_lower, n_log + 1e-3, "log", upper=False) - 0.5) < 1e-12
    with pytest.raises(ValueError, match="upper"):
        crossing_levels(n_log - 1e-3, "log")

    # log-log: the lower limit's greatest value on (0.5, 1) by a dense scan of its formula
    def lower_greatest(n: float) -> float:
        grid = np.linspace(0.5, 1 - 1e-9, 20_001)
        i = int(np.argmax([_limit(s, n, "log-log", upper=False) for s in grid]))
        fine = np.linspace(grid[max(i - 1, 0)], grid[i + 1], 2_001)
        return max(_limit(s, n, "log-log", upper=False) for s in fine)

    assert lower_greatest(10) == pytest.approx(0.4748, abs=1e-4)
    with pytest.raises(ValueError, match=r"lower 95% pointwise limit on the log-log transform"):
        crossing_levels(10, "log-log")
    n_loglog = optimize.brentq(lambda n: lower_greatest(n) - 0.5, 10.0, 11.0, xtol=1e-9)
    assert smallest_n_with_crossings("log-log") == pytest.approx(n_loglog, abs=1e-6)
    assert smallest_n_with_crossings("plain") == 1.0  # plain: both limits at any n >= 1
    with pytest.raises(ValueError, match="at least 1"):
        crossing_levels(0.5, "plain")


def test_crossing_levels_shrink_with_n():
    lo100, _, hi100 = crossing_levels(100, "log")
    lo48, _, hi48 = crossing_levels(48, "log")
    assert lo48 < lo100 < 0.5 < hi100 < hi48


def _lung():
    df = load_lung()
    return df["time"].to_numpy(float), df["status"].to_numpy(int)


def test_km_matches_lifelines_survival_and_loglog_ci():
    time, event = _lung()
    km = kaplan_meier(time, event)
    ref = KaplanMeierFitter().fit(time, event)
    s_ref = ref.survival_function_["KM_estimate"]
    np.testing.assert_allclose(km.at(s_ref.index.to_numpy()), s_ref.to_numpy(), rtol=1e-12)
    ci = ref.confidence_interval_.loc[km.time]
    lo, hi = km.limits("log-log")
    np.testing.assert_allclose(lo, ci.iloc[:, 0].to_numpy(), atol=1e-10)
    np.testing.assert_allclose(hi, ci.iloc[:, 1].to_numpy(), atol=1e-10)
    assert km.median_ci("log")[0] == ref.median_survival_time_


def test_km_median_ci_matches_r_survfit_on_lung():
    """R 4.x, survival 3.x:  survfit(Surv(time, status) ~ 1, data = lung)
    n = 228, events = 165, median = 310, 0.95LCL = 285, 0.95UCL = 363 (default conf.type "log")."""
    time, event = _lung()
    assert kaplan_meier(time, event).median_ci("log") == (310.0, 285.0, 363.0)


def test_median_midpoint_rule_without_censoring():
    """Even n, no censoring: S = 0.5 exactly after the n/2-th event -> midpoint (R rule)."""
    time = np.arange(1.0, 11.0)
    km = kaplan_meier(time, np.ones(10))
    assert km.median_ci("log")[0] == 5.5
    batch = km_median_ci_batch(time[None, :], np.ones((1, 10)), "log")
    assert batch[0, 0] == 5.5


@pytest.mark.parametrize("transform", TRANSFORMS)
def test_batch_equals_single(transform):
    rng = np.random.default_rng(3)
    time = rng.weibull(1.7, (40, 48)) * 5
    event = (rng.random((40, 48)) > 0.15).astype(int)
    batch = km_median_ci_batch(time, event, transform)
    single = np.array(
        [kaplan_meier(t, e).median_ci(transform) for t, e in zip(time, event, strict=True)]
    )
    np.testing.assert_array_equal(np.isnan(batch), np.isnan(single))
    np.testing.assert_allclose(np.nan_to_num(batch), np.nan_to_num(single), rtol=0, atol=0)


def test_weibull_mle_matches_lifelines():
    time, event = _lung()
    time = time / DAYS_PER_MONTH
    ours = weibull_mle(time, event)
    ref = WeibullFitter().fit(time, event)
    assert ours["scale"] == pytest.approx(ref.lambda_, rel=1e-5)
    assert ours["shape"] == pytest.approx(ref.rho_, rel=1e-5)


# ---------------------------------------------------------------- Guyot reconstruction


def digitise(time: np.ndarray, event: np.ndarray, risk_times: list[float]):
    """Read a KM curve off at digitiser precision: both corners of every step, 3 decimals."""
    km = kaplan_meier(time, event)
    steps = km.events > 0
    t = np.r_[0, np.repeat(km.time[steps], 2)]
    prev = np.r_[1, km.survival[steps][:-1]]
    s = np.r_[1, np.column_stack([prev, km.survival[steps]]).ravel()]
    curve = pd.DataFrame({"time": np.round(t, 3), "survival": np.round(s, 3)})
    at_risk = pd.DataFrame(
        {"time": risk_times, "n_at_risk": [int(np.sum(time >= r)) for r in risk_times]}
    )
    return km, curve, at_risk


CASES = {
    # NCCTG advanced lung cancer (lifelines.datasets.load_lung), months; 228 patients, 165 deaths
    "lung": (load_lung, "time", "status", DAYS_PER_MONTH, [0, 6, 12, 18, 24], [6, 12, 18]),
    # larynx cancer (Kardaun 1983; lifelines.datasets.load_larynx), years; 90 patients, 50 deaths
    "larynx": (load_larynx, "time", "death", 1.0, [0, 2, 4, 6, 8], [1, 3, 5]),
}


@pytest.mark.parametrize("case", sorted(CASES))
@pytest.mark.parametrize("with_total", [False, True])
def test_guyot_reconstruction_on_real_data(case, with_total):
    loader, tcol, ecol, unit, risk_times, checks = CASES[case]
    df = loader()
    time = df[tcol].to_numpy(float) / unit
    event = df[ecol].to_numpy(int)
    km, curve, at_risk = digitise(time, event, risk_times)
    ipd = reconstruct_km(curve, at_risk, int(event.sum()) if with_total else None)
    assert len(ipd) == len(df)
    assert abs(int(ipd["event"].sum()) - int(event.sum())) <= 3
    rec = kaplan_meier(ipd["time"].to_numpy(), ipd["event"].to_numpy())
    true_median, rec_median = km.median_ci("log")[0], rec.median_ci("log")[0]
    assert abs(rec_median / true_median - 1) < 0.05
    np.testing.assert_allclose(rec.at(checks), km.at(checks), atol=0.02)


def _good_inputs():
    curve = pd.DataFrame({"time": [0, 1, 1, 2, 2, 3], "survival": [1, 1, 0.8, 0.8, 0.6, 0.6]})
    at_risk = pd.DataFrame({"time": [0, 2], "n_at_risk": [10, 8]})
    return curve, at_risk


@pytest.mark.parametrize(
    ("which", "column", "value", "match"),
    [
        ("curve", "survival", 1.2, "outside \\[0, 1\\]"),
        ("curve", "time", -1.0, "negative time"),
        ("curve", "survival", "rise", "survival rises"),
        ("at_risk", "n_at_risk", "rise", "number at risk rises"),
    ],
)
def test_guyot_input_errors(which, column, value, match):
    curve, at_risk = _good_inputs()
    frame = curve if which == "curve" else at_risk
    if value == "rise":
        frame.loc[frame.index[-1], column] = (
            frame[column].max() + 1 if column == "n_at_risk" else 0.9
        )
    else:
        frame.loc[2, column] = value
    with pytest.raises(InputError, match=match) as err:
        reconstruct_km(curve, at_risk, None)
    assert err.value.field == column
    assert err.value.exit_code == 2


def test_reconstruct_km_files(tmp_path):
    df = load_larynx()
    _, curve, at_risk = digitise(
        df["time"].to_numpy(float), df["death"].to_numpy(int), [0, 2, 4, 6]
    )
    curve.to_csv(tmp_path / "curve.csv", index=False)
    at_risk.to_csv(tmp_path / "risk.csv", index=False)
    n = reconstruct_km_files(
        tmp_path / "curve.csv", tmp_path / "risk.csv", tmp_path / "o" / "ipd.csv", None
    )
    out = pd.read_csv(tmp_path / "o" / "ipd.csv")
    assert n == len(out) == 90
    assert list(out.columns) == ["time", "event"]
    (tmp_path / "bad.csv").write_text("t,s\n0,1\n")
    with pytest.raises(InputError, match="missing column") as err:
        reconstruct_km_files(tmp_path / "bad.csv", tmp_path / "risk.csv", tmp_path / "x.csv", None)
    assert err.value.source.endswith("bad.csv")
    with pytest.raises(InputError, match="cannot read"):
        reconstruct_km_files(tmp_path / "nope.csv", tmp_path / "risk.csv", tmp_path / "x.csv", None)


def test_no_ci_limit_where_the_curve_reaches_zero():
    """Five uncensored patients at 1..5: S = .8, .6, .4, .2, 0; Greenwood var log S(1) = 1/20.
    By hand: log lower(1) = .8 exp(-1.96 sqrt(.05)) = .516 > .5, lower(2) = .293, so L = 2;
    log-log lower(1) = .204, so L = 1. The upper bands stay above .5 until S = 0, where R's
    survfit has NA limits: no upper limit (the old rule of a 0 limit there gave U = 5)."""
    from trial_reanalysis.analysis.frequentist.survival import kaplan_meier

    km = kaplan_meier(np.arange(1.0, 6.0), np.ones(5, dtype=int))
    for transform, lower_expected in (("log", 2.0), ("log-log", 1.0)):
        median, lower, upper = km.median_ci(transform)
        assert (median, lower) == (3.0, lower_expected) and np.isnan(upper), transform
    assert km.limits("log")[0][0] == pytest.approx(0.8 * np.exp(-1.959964 * np.sqrt(0.05)))
