"""Weibull median <-> scale conversions where printed numbers come from: the posterior summary of
a time-to-event endpoint (survival at t, P(k > 1), the interval level), the summary ML fit, and
the planning simulation of PFS trials, each at shapes other than 1 (where ln 2 matters).

References: scipy's Weibull (``weibull_min``, scale = median / (ln 2)^(1/k)), counts and
quantiles written here with the standard library, and simulation. Written to kill the mutants
of ``tools/mutants.py`` (tests/mutation/RESULTS.md).
"""

from __future__ import annotations

import math
import statistics

import arviz as az
import numpy as np
import pytest
from scipy import stats

from trial_reanalysis.analysis.endpoints.time_to_event import posterior_summary, summary_ml
from trial_reanalysis.analysis.frequentist.survival import weibull_scale
from trial_reanalysis.analysis.inference.calibration import dirichlet_alpha
from trial_reanalysis.analysis.planning.plan import simulate_pfs_trials
from trial_reanalysis.models.time_to_event import MEDIAN, SHAPE, summary_data

TIMES = [3.0, 6.0, 12.0]


def _quantile(values: list[float], q: float) -> float:
    """Linear-interpolation quantile (numpy's default), written out."""
    s = sorted(values)
    pos = q * (len(s) - 1)
    lo = math.floor(pos)
    hi = min(lo + 1, len(s) - 1)
    return s[lo] + (pos - lo) * (s[hi] - s[lo])


@pytest.fixture(scope="module")
def draws() -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(2010)
    m = np.exp(rng.normal(math.log(4.5), 0.15, size=(2, 500)))
    k = np.exp(rng.normal(math.log(1.4), 0.3, size=(2, 500)))  # about 13 % of draws below 1
    return m, k


@pytest.fixture(scope="module")
def summary(draws) -> dict:
    m, k = draws
    return posterior_summary(az.from_dict(posterior={MEDIAN: m, SHAPE: k}), TIMES)


def test_survival_at_t_is_the_weibull_with_median_m(draws, summary) -> None:
    m, k = (a.ravel().tolist() for a in draws)
    for t in TIMES:
        s = [
            float(stats.weibull_min.sf(t, kk, scale=mm / math.log(2) ** (1 / kk)))
            for mm, kk in zip(m, k, strict=True)
        ]
        got = summary["survival_at"][str(int(t))]
        assert got["mean"] == pytest.approx(statistics.fmean(s), abs=1e-12)
        assert got["ci95"] == pytest.approx([_quantile(s, 0.025), _quantile(s, 0.975)], abs=1e-12)
    # at t = median, S = 1/2 whatever the shape: the mean at 4.5 lies near 1/2, not exp(-1)
    assert summary["survival_at"]["3"]["mean"] > 0.6


def test_shape_probability_direction_and_spread(draws, summary) -> None:
    k = draws[1].ravel().tolist()
    above = sum(1 for v in k if v > 1) / len(k)
    assert 0.7 < above < 0.95  # both sides represented, so a reversed inequality shows
    assert summary["p_shape_above_1"] == pytest.approx(above, abs=1e-15)
    assert summary["sd_log_shape"] == pytest.approx(
        statistics.pstdev([math.log(v) for v in k]), rel=1e-12
    )
    assert summary["shape"]["ci95"] == pytest.approx(
        [_quantile(k, 0.025), _quantile(k, 0.975)], abs=1e-12
    )


def test_summary_ml_scale_reproduces_its_median() -> None:
    alpha, _, _ = dirichlet_alpha(48, "log", (0.0, 0.2))
    ml = summary_ml("L,M,U", summary_data(4.4, 3.6, 5.9, alpha), None, 4.4)
    assert ml is not None and ml["shape"] > 1.2  # ln 2 ** (1/k) differs from ln 2 and from 1
    assert stats.weibull_min.median(ml["shape"], scale=ml["scale"]) == pytest.approx(
        ml["median"], rel=1e-12
    )


def test_planning_simulation_has_the_stated_median() -> None:
    """Without censoring the simulated PFS times have median 6 months at shape 1.6 (the sample
    median of 40,000 draws has sd about 0.03 months; a scale taken for the median gives 4.8)."""
    rng = np.random.default_rng(7)
    time, event = simulate_pfs_trials(40_000, 1.0, 1e6, 6.0, 1.6, 1, rng)
    assert event.all()
    assert np.median(time) == pytest.approx(6.0, abs=0.15)
    ks = stats.kstest(time[0], stats.weibull_min(1.6, scale=6.0 / math.log(2) ** (1 / 1.6)).cdf)
    assert ks.pvalue > 0.001


@pytest.mark.parametrize(("median", "shape"), [(4.4, 0.7), (4.4, 1.6), (12.0, 3.0)])
def test_weibull_scale_has_the_median(median: float, shape: float) -> None:
    scale = float(weibull_scale(median, shape))
    assert stats.weibull_min.median(shape, scale=scale) == pytest.approx(median, rel=1e-12)
