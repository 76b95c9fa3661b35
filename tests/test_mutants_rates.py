"""Printed numbers of a rate: the level of every interval (exact 95 %, not "between"), the exact
Beta-mixture posterior's moments, tails, equal-tailed interval and HDI, and the rounding rule.

References: scipy's Beta distribution, statsmodels' ``proportion_confint`` (an independent
implementation of the Clopper-Pearson, Wilson and Jeffreys intervals), an HDI solved here from its
two defining equations (equal density at both ends, mass 0.95), quadrature of the likelihood
against the prior for posterior weights, and the rounding rule written with ``decimal``.
Written to kill the mutants of ``tools/mutants.py`` (tests/mutation/RESULTS.md).
"""

from __future__ import annotations

from decimal import ROUND_HALF_EVEN, ROUND_HALF_UP, Decimal

import numpy as np
import pytest
from scipy import integrate, optimize, stats
from statsmodels.stats.proportion import proportion_confint

from trial_reanalysis.analysis.reconstruction.rate_report import (
    BetaMixtureDistribution,
    posterior_mixture,
)
from trial_reanalysis.analysis.reconstruction.rates import (
    ci_limits,
    printed_match,
    proportion_ci,
    reconstruct_rate,
)

STATSMODELS = {"exact": "beta", "wilson": "wilson", "jeffreys": "jeffreys"}


@pytest.mark.parametrize("method", sorted(STATSMODELS))
@pytest.mark.parametrize(("x", "n"), [(14, 47), (15, 48), (3, 20), (1, 9)])
def test_default_level_is_95_percent_against_statsmodels(method: str, x: int, n: int) -> None:
    ref = proportion_confint(x, n, alpha=0.05, method=STATSMODELS[method])
    assert proportion_ci(x, n, method) == pytest.approx(ref, abs=1e-9)
    lo, hi = ci_limits(np.array([x]), np.array([n]), method)
    assert [lo[0], hi[0]] == pytest.approx(ref, abs=1e-9)


def test_clopper_pearson_tails_are_2_5_percent_each() -> None:
    """Defining property: P(X >= x | lower) = P(X <= x | upper) = 0.025 (scipy binomial)."""
    x, n = 15, 48
    lo, hi = proportion_ci(x, n, "exact")
    assert stats.binom.sf(x - 1, n, lo) == pytest.approx(0.025, abs=1e-9)
    assert stats.binom.cdf(x, n, hi) == pytest.approx(0.025, abs=1e-9)


def test_exact_posterior_beta_against_scipy() -> None:
    d = BetaMixtureDistribution.beta(15.0, 34.0)
    ref = stats.beta(15.0, 34.0)
    assert d.mean() == pytest.approx(ref.mean(), rel=1e-12)
    assert d.var() == pytest.approx(ref.var(), rel=1e-10)
    assert d.interval() == pytest.approx(ref.interval(0.95), abs=1e-10)
    for t in (0.1, 0.2, 0.45):
        assert float(d.sf(t)) == pytest.approx(ref.sf(t), rel=1e-10)
        assert float(d.cdf(t)) == pytest.approx(ref.cdf(t), rel=1e-10)


def test_hdi_solves_equal_density_and_lies_left_of_the_equal_tailed_interval() -> None:
    """For the right-skewed Beta(15, 34) the HDI is shifted left of the equal-tailed interval."""
    ref = stats.beta(15.0, 34.0)

    def equations(v: np.ndarray) -> list[float]:
        lo, hi = v
        return [ref.pdf(lo) - ref.pdf(hi), ref.cdf(hi) - ref.cdf(lo) - 0.95]

    lo, hi = optimize.fsolve(equations, ref.interval(0.95), xtol=1e-13)
    got = BetaMixtureDistribution.beta(15.0, 34.0).hdi()
    assert got == pytest.approx([lo, hi], abs=1e-7)
    et_lo, et_hi = ref.interval(0.95)
    assert got[0] < et_lo and got[1] < et_hi


def test_mixture_posterior_weights_by_quadrature() -> None:
    """Two candidate counts and a two-component prior: each posterior weight is the integral of
    its likelihood times the prior, over the total (scipy quad)."""
    prior = BetaMixtureDistribution.from_weights([0.7, 0.3], [1.0, 6.0], [1.0, 4.0])
    x, n, w = np.array([14, 15]), np.array([47, 48]), np.array([0.4, 0.6])

    def prior_pdf(t: float) -> float:
        return 0.7 * stats.beta.pdf(t, 1, 1) + 0.3 * stats.beta.pdf(t, 6, 4)

    mass = [
        integrate.quad(lambda t, i=i: w[i] * stats.binom.pmf(x[i], n[i], t) * prior_pdf(t), 0, 1)[0]
        for i in range(2)
    ]
    post, weights = posterior_mixture(x, n, w, prior)
    assert weights == pytest.approx(np.array(mass) / sum(mass), rel=1e-8)
    mean = sum(
        integrate.quad(
            lambda t, i=i: t * w[i] * stats.binom.pmf(x[i], n[i], t) * prior_pdf(t), 0, 1
        )[0]
        for i in range(2)
    ) / sum(mass)
    assert post.mean() == pytest.approx(mean, rel=1e-8)


def _rounds_to(value: float, printed: str) -> bool:
    """Whether ``value`` prints as ``printed`` under half-up or half-even rounding."""
    q = Decimal(printed)
    exp = Decimal(1).scaleb(q.as_tuple().exponent)
    v = Decimal(repr(value))
    return any(v.quantize(exp, rounding=r) == q for r in (ROUND_HALF_UP, ROUND_HALF_EVEN))


def test_printed_match_is_half_a_unit_wide() -> None:
    for value in (29.5, 29.9, 30.0, 30.49, 30.5, 30.51, 30.9, 31.0, 29.4):
        expect = _rounds_to(value, "30")
        assert bool(printed_match(value, 30.0, 0, "round")) is expect, value
    assert bool(printed_match(9.64, 9.6, 1, "round")) and not printed_match(9.66, 9.6, 1, "round")


def test_reconstructed_counts_round_to_the_report() -> None:
    """Every candidate of "30 % (95 % CI 18-45 %)" prints as reported (checked with decimal)."""
    cands = reconstruct_rate(30, (18, 45), max_n=60)
    assert cands
    for c in cands:
        assert _rounds_to(100 * c.responders / c.evaluable, "30"), c.label
        for method in c.ci_methods:
            lo, hi = c.intervals[method]
            assert _rounds_to(100 * lo, "18") and _rounds_to(100 * hi, "45"), (c.label, method)
