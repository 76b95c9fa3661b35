"""The printed rate report as coarsened data: candidates, weights and the exact mixture posterior.

Every weight is checked against an enumeration written here with plain loops (intervals from
statsmodels, Newcombe's corrected Wilson interval from scipy, binomials from scipy), every
posterior number against quadrature of the unnormalised posterior, and the handed cases of
``../shared/cases/trials/`` (A02, A04, A12, A15) against what their README rows say.
"""

from __future__ import annotations

import itertools
import math

import numpy as np
import pytest
from scipy import integrate, stats
from statsmodels.stats.proportion import proportion_confint

from trial_reanalysis.analysis.planning.followup import annotate_beta_analysis_prior
from trial_reanalysis.analysis.reconstruction.rate_report import (
    DEFAULT_METHOD_PRIOR,
    BetaMixtureDistribution,
    RateReport,
    analyse_rate_report,
    evaluable_prior,
    mixture_logpdf,
    posterior_mixture,
    report_candidates,
    report_log_likelihood,
)
from trial_reanalysis.analysis.reconstruction.rates import printed_match

SM_NAME = {"exact": "beta", "wilson": "wilson", "jeffreys": "jeffreys", "wald": "normal"}


# ---------------------------------------------------------------------------------------------
# The independent enumeration
# ---------------------------------------------------------------------------------------------


def ci_independent(x: int, n: int, method: str) -> tuple[float, float]:
    """Interval (fractions) from statsmodels; corrected Wilson from scipy's binomtest."""
    if method == "wilson_cc":
        ci = stats.binomtest(x, n).proportion_ci(confidence_level=0.95, method="wilsoncc")
        return float(ci.low), float(ci.high)
    lo, hi = proportion_confint(x, n, alpha=0.05, method=SM_NAME[method])
    if method == "jeffreys":  # Brown, Cai and DasGupta's boundary convention
        lo, hi = (0.0 if x == 0 else lo), (1.0 if x == n else hi)
    return float(lo), float(hi)


def prints_as(value: float, printed: float, decimals: int, rule: str) -> bool:
    """Rounded: within half a unit; truncated: cut after the last decimal gives ``printed``."""
    unit = 10.0**-decimals
    if rule == "round":
        return abs(value - printed) <= unit / 2 + 1e-9
    return printed - 1e-9 <= value < printed + unit - 1e-9


def decimals_of(text: str) -> int:
    return len(text.split(".")[1]) if "." in text else 0


def enumerate_weights(
    est: str,
    ci: tuple[str, str] | None,
    enrolled: int,
    rules: tuple[str, ...] = ("round",),
    dropout: float = 0.2,
    mean_missing: float = 0.05,
    responders: int | None = None,
    method_prior: dict[str, float] | None = None,
) -> dict[tuple[int, int], float]:
    """{(x, n): w} by plain loops: w = P(n) * sum of P(method) over reproducing methods.

    P(n) is geometric in k = enrolled - n with ratio r = m / (1 + m), m = mean_missing * enrolled,
    on n >= ceil((1 - dropout) * enrolled), written out here (not taken from the module).
    """
    method_prior = method_prior or dict(DEFAULT_METHOD_PRIOR)
    total_m = sum(method_prior.values())
    m = mean_missing * enrolled
    r = m / (1 + m)
    n_low = math.ceil(round((1 - dropout) * enrolled, 9))
    p_n = {n: r ** (enrolled - n) for n in range(n_low, enrolled + 1)}
    z = sum(p_n.values())
    found: dict[tuple[int, int], float] = {}
    for n in range(n_low, enrolled + 1):
        xs = [responders] if responders is not None else range(n + 1)
        for x in xs:
            if x > n:
                continue
            rules_est = [
                rule for rule in rules if prints_as(100 * x / n, float(est), decimals_of(est), rule)
            ]
            if not rules_est:
                continue
            weight = 0.0
            for method, pm in method_prior.items():
                if ci is None:
                    weight = 1.0
                    break
                lo, hi = ci_independent(x, n, method)
                if any(
                    prints_as(100 * lo, float(ci[0]), decimals_of(ci[0]), rule)
                    and prints_as(100 * hi, float(ci[1]), decimals_of(ci[1]), rule)
                    for rule in rules_est
                ):
                    weight += pm / total_m
            if weight > 0:
                found[(x, n)] = p_n[n] / z * weight
    return found


def as_weights(cands) -> dict[tuple[int, int], float]:
    return {(c.responders, c.evaluable): c.prior_weight for c in cands.candidates}


def assert_same_weights(got: dict, expected: dict) -> None:
    assert set(got) == set(expected)
    for key, w in expected.items():
        assert got[key] == pytest.approx(w, rel=1e-10), key


# ---------------------------------------------------------------------------------------------
# Printed-number rules and priors
# ---------------------------------------------------------------------------------------------


def test_printed_match_rounding_and_truncation() -> None:
    v = 100 * 0.8965047310096809  # Wilson upper limit of 27/34
    assert not printed_match(v, 89.6, 1, "round")
    assert printed_match(v, 89.7, 1, "round")
    assert printed_match(v, 89.6, 1, "truncate")
    assert not printed_match(v, 89.7, 1, "truncate")
    # an exact 31 % is never a truncated 30 %; 30.999 is
    assert not printed_match(100 * 31 / 100, 30, 0, "truncate")
    assert printed_match(30.999, 30, 0, "truncate")
    assert printed_match(29.5, 30, 0, "round") and printed_match(30.5, 30, 0, "round")
    with pytest.raises(ValueError, match="unknown rounding rule"):
        printed_match(1.0, 1.0, 0, "ceil")


def test_geometric_prior_of_n_in_closed_form() -> None:
    rep = RateReport("30", 48, ci=("17", "45"))
    p_n = evaluable_prior(rep)
    assert min(p_n) == 39 and max(p_n) == 48  # ceil(0.8 * 48) = 39
    r = 2.4 / 3.4  # mean missing 0.05 * 48 = 2.4 = r / (1 - r)
    z = sum(r**k for k in range(10))
    assert p_n[48] == pytest.approx(1 / z, rel=1e-12)
    assert p_n[44] == pytest.approx(r**4 / z, rel=1e-12)
    lin = evaluable_prior(rep, "linear")
    assert lin[48] == pytest.approx(10 / 55) and lin[39] == pytest.approx(1 / 55)
    assert evaluable_prior(rep, "uniform")[40] == pytest.approx(0.1)
    assert evaluable_prior(RateReport("30", 48, evaluable=47)) == {47: 1.0}
    assert evaluable_prior(rep, mean_missing_fraction=0.0) == {48: 1.0}
    with pytest.raises(ValueError, match="shape must be one of"):
        evaluable_prior(rep, "poisson")


# ---------------------------------------------------------------------------------------------
# Candidate weights against the independent enumeration
# ---------------------------------------------------------------------------------------------


def test_seed_candidates_and_weights() -> None:
    """DESIGN 4.1: 30 % (17-45 %), 48 enrolled: 14/47 (exact) and 13/44 (exact, Wilson-cc)."""
    cands = report_candidates(RateReport("30", 48, ci=("17", "45")))
    assert cands.basis == "estimate_and_ci" and cands.ci_reproduced is True
    assert [(c.label, c.ci_methods) for c in cands.candidates] == [
        ("14/47", ("exact",)),
        ("13/44", ("exact", "wilson_cc")),
    ]
    assert_same_weights(as_weights(cands), enumerate_weights("30", ("17", "45"), 48))


def test_seed_with_unknown_rounding_adds_truncated_candidates() -> None:
    cands = report_candidates(RateReport("30", 48, ci=("17", "45"), rounding="unknown"))
    expected = enumerate_weights("30", ("17", "45"), 48, rules=("round", "truncate"))
    assert_same_weights(as_weights(cands), expected)
    assert {(14, 46), (12, 40)} <= set(expected)  # 30.4 % (17.7-45.7 %): truncated 30 (17-45)
    by_label = {c.label: c for c in cands.candidates}
    assert by_label["14/46"].rules == ("truncate",)


@pytest.mark.parametrize(
    ("est", "ci", "enrolled", "rules"),
    [
        ("76", ("63", "86"), 58, ("round",)),  # A04
        ("76", ("63", "86"), 58, ("round", "truncate")),
        ("0", ("0", "10.3"), 34, ("round",)),  # A12
        ("84", ("75", "91"), 104, ("round",)),  # issue 12: 84/100 of 104 enrolled
        ("100", ("83", "100"), 20, ("round", "truncate")),
        ("12.5", ("3.5", "28.9"), 32, ("truncate",)),  # 4/32 exact, cut,
    ],
)
def test_weights_match_enumeration(est, ci, enrolled, rules) -> None:
    rounding = rules[0] if len(rules) == 1 else "unknown"
    cands = report_candidates(RateReport(est, enrolled, ci=ci, rounding=rounding))
    assert_same_weights(as_weights(cands), enumerate_weights(est, ci, enrolled, rules=rules))


def test_random_reports_recover_their_counts_and_weights() -> None:
    """Print a random (x, n, method) exactly or truncated; its count is a candidate and every
    weight matches the enumeration."""
    rng = np.random.default_rng(1210)
    methods = list(DEFAULT_METHOD_PRIOR)
    for _ in range(25):
        enrolled = int(rng.integers(10, 70))
        n = enrolled - int(rng.integers(0, 4))
        x = int(rng.integers(0, n + 1))
        method = str(rng.choice(methods))
        rule = "round" if rng.random() < 0.6 else "truncate"
        dec = int(rng.integers(0, 2))
        lo, hi = ci_independent(x, n, method)

        def fmt(v: float, rule: str = rule, dec: int = dec) -> str:
            v = round(v, dec) if rule == "round" else math.floor(v * 10**dec + 1e-9) / 10**dec
            return f"{v:.{dec}f}"

        est, ci = fmt(100 * x / n), (fmt(100 * lo), fmt(100 * hi))
        cands = report_candidates(RateReport(est, enrolled, ci=ci, rounding=rule))
        expected = enumerate_weights(est, ci, enrolled, rules=(rule,))
        assert_same_weights(as_weights(cands), expected)
        hit = [c for c in cands.candidates if (c.responders, c.evaluable) == (x, n)]
        assert len(hit) == 1 and method in hit[0].ci_methods, (x, n, method, est, ci)


def test_published_method_fixes_it() -> None:
    cands = report_candidates(RateReport("30", 48, ci=("17", "45"), ci_method="wilson_cc"))
    assert [c.label for c in cands.candidates] == ["13/44"]
    assert cands.method_prior == {"wilson_cc": 1.0}


def test_rate_without_ci_uses_the_estimate_alone() -> None:
    cands = report_candidates(RateReport("30", 48))
    assert cands.basis == "estimate_only" and cands.ci_reproduced is None
    expected = enumerate_weights("30", None, 48)
    assert_same_weights(as_weights(cands), expected)
    assert {c.label for c in cands.candidates} >= {"14/47", "13/44", "12/40"}


def test_nothing_prints_as_the_estimate() -> None:
    with pytest.raises(ValueError, match=r"prints as 33.3 %"):
        report_candidates(RateReport("33.3", 4, ci=("1.0", "90.0")))


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"estimate": "120", "enrolled": 48}, "estimate must lie in 0-100"),
        ({"estimate": 30.0, "enrolled": 48}, "needs its printed decimals"),
        ({"estimate": "abc", "enrolled": 48}, "cannot read"),
        ({"estimate": "30", "enrolled": 48, "ci": ("45", "17")}, "lower <= upper"),
        ({"estimate": "30", "enrolled": 48, "rounding": "ceil"}, "rounding must be"),
        ({"estimate": "30", "enrolled": 48, "evaluable": 50}, "exceeds max_evaluable"),
        ({"estimate": "30", "enrolled": 48, "responders": 50}, "responders 50 exceed"),
        ({"estimate": "30", "enrolled": 0}, "enrolled must be an integer of at least 1"),
        ({"estimate": "30", "enrolled": 48, "dropout": 1.0}, "dropout must lie"),
        ({"estimate": "30", "enrolled": 48, "ci_method": "score"}, "ci_method must be one of"),
    ],
)
def test_bad_reports_are_refused(kwargs, match) -> None:
    with pytest.raises(ValueError, match=match):
        RateReport(**kwargs)


def test_numeric_report_equals_string_report() -> None:
    a = report_candidates(RateReport(9.6, 52, ci=(5.0, 17.0), decimals=1, ci_decimals=0))
    b = report_candidates(RateReport("9.6", 52, ci=("5", "17")))
    assert as_weights(a) == as_weights(b)


# ---------------------------------------------------------------------------------------------
# The handed cases
# ---------------------------------------------------------------------------------------------


def test_a04_all_evaluated_gives_44_of_58() -> None:
    """76 % (63-86 %), 58 enrolled and evaluated: 44/58 (Clopper-Pearson) is the data."""
    res = analyse_rate_report(RateReport("76", 58, ci=("63", "86"), evaluable=58))
    assert [c.label for c in res.candidates.candidates] == ["44/58"]
    assert "exact" in res.candidates.candidates[0].ci_methods
    assert res.posterior_weights.tolist() == [pytest.approx(1.0)]
    # number evaluated unknown: 44/58 still carries most of the weight, 38/50 (Wilson) little
    table = analyse_rate_report(RateReport("76", 58, ci=("63", "86"))).table()
    assert (table[0]["responders"], table[0]["evaluable"]) == (44, 58)
    weights = {(r["responders"], r["evaluable"]): r["posterior_weight"] for r in table}
    assert weights[(44, 58)] > 0.8 and weights[(38, 50)] < 0.05


def test_issue_12_truth_84_of_100_gets_the_largest_weight() -> None:
    res = analyse_rate_report(RateReport("84", 104, ci=("75", "91")))
    top = res.table()[0]
    assert (top["responders"], top["evaluable"]) == (84, 100)


def test_a02_printed_ci_not_reproduced_by_any_method() -> None:
    """5/52 (9.6 %, CI 5-17 %): counts published -> the data, with the flag."""
    res = analyse_rate_report(RateReport("9.6", 52, ci=("5", "17"), evaluable=52, responders=5))
    c = res.candidates
    assert c.basis == "counts" and c.counts_reproduce_estimate is True
    assert c.counts_reproduce_ci is False and c.ci_reproduced is False
    for method, (lo, hi) in c.candidates[0].intervals.items():  # printed vs computed
        assert (lo, hi) == pytest.approx(ci_independent(5, 52, method), abs=1e-9)
    assert res.posterior.mean() == pytest.approx(6 / 54, abs=1e-12)  # Beta(6, 48)
    # counts hidden: the flag and the fallback to the estimate alone (n in 42-52)
    hidden = report_candidates(RateReport("9.6", 52, ci=("5", "17")))
    assert hidden.basis == "estimate_fallback" and hidden.ci_reproduced is False
    expected = enumerate_weights("9.6", None, 52)
    assert set(expected) == {(5, 52)}
    assert_same_weights(as_weights(hidden), expected)
    assert hidden.candidates[0].ci_methods == ()


def test_a12_zero_rate() -> None:
    """0/34 with the exact CI 0-10.3 %: 1 - 0.025^(1/34) = 10.28 %; Beta(1, 35) under uniform."""
    res = analyse_rate_report(RateReport("0", 34, ci=("0", "10.3")))
    assert [c.label for c in res.candidates.candidates] == ["0/34"]
    assert res.candidates.candidates[0].intervals["exact"][1] == pytest.approx(
        1 - 0.025 ** (1 / 34), abs=1e-12
    )
    s = res.summary(0.05, 0.20)
    assert s["mean"] == pytest.approx(1 / 36, abs=1e-12)
    # Beta(1, 35): cdf 1 - (1 - t)^35, decreasing density, HDI [0, 1 - 0.05^(1/35)]
    assert s["hdi95"] == pytest.approx([0.0, 1 - 0.05 ** (1 / 35)], abs=1e-9)
    assert s["ci95"] == pytest.approx([1 - 0.975 ** (1 / 35), 1 - 0.025 ** (1 / 35)], abs=1e-10)
    assert s["p_above_p0"] == pytest.approx(0.95**35, rel=1e-10)
    # without a CI: every 0/n, n in 28-34
    cands = report_candidates(RateReport("0", 34))
    assert {c.label for c in cands.candidates} == {f"0/{n}" for n in range(28, 35)}
    assert_same_weights(as_weights(cands), enumerate_weights("0", None, 34))


def test_hundred_percent_rate_hdi_reaches_one() -> None:
    res = analyse_rate_report(RateReport("100", 20, ci=("83.2", "100"), ci_method="exact"))
    assert [c.label for c in res.candidates.candidates] == ["20/20"]
    # Beta(21, 1): cdf t^21, HDI [0.05^(1/21), 1]
    assert res.posterior.hdi() == pytest.approx((0.05 ** (1 / 21), 1.0), abs=1e-9)


def test_a15_published_responders_restrict_the_candidates() -> None:
    cands = report_candidates(RateReport("30", 48, ci=("17", "45"), responders=13))
    assert [c.label for c in cands.candidates] == ["13/44"]
    cands = report_candidates(RateReport("30", 48, responders=13))
    assert all(c.responders == 13 for c in cands.candidates)
    assert_same_weights(as_weights(cands), enumerate_weights("30", None, 48, responders=13))


def test_truncated_ci_accepted_under_truncate_or_unknown() -> None:
    """A12's stable disease 79.4 % (63.2-89.6 %): Wilson 27/34 gives 63.20-89.65, cut to 89.6."""
    rounded = report_candidates(RateReport("79.4", 34, ci=("63.2", "89.6"), rounding="round"))
    assert rounded.basis == "estimate_fallback" and rounded.ci_reproduced is False
    for rounding in ("truncate", "unknown"):
        cands = report_candidates(RateReport("79.4", 34, ci=("63.2", "89.6"), rounding=rounding))
        assert cands.ci_reproduced is True
        assert [(c.label, c.ci_methods, c.rules) for c in cands.candidates] == [
            ("27/34", ("wilson",), ("truncate",))
        ]


# ---------------------------------------------------------------------------------------------
# The mixture posterior against quadrature
# ---------------------------------------------------------------------------------------------


def unnormalised(theta, cands, prior_pdf):
    """sum_c w_c C(n, x) theta^x (1 - theta)^(n - x) * prior(theta), by scipy.stats.binom."""
    x = np.array([c.responders for c in cands])
    n = np.array([c.evaluable for c in cands])
    w = np.array([c.prior_weight for c in cands])
    t = np.asarray(theta, dtype=float)
    like = np.sum(w * stats.binom.pmf(x, n, t[..., None]), axis=-1)
    return like * prior_pdf(t)


def quad(f, a: float = 0.0, b: float = 1.0) -> float:
    return integrate.quad(f, a, b, epsabs=1e-14, epsrel=1e-12, limit=200)[0]


PRIORS = {
    "uniform": (BetaMixtureDistribution.beta(1, 1), lambda t: 1.0),
    "jeffreys": (BetaMixtureDistribution.beta(0.5, 0.5), lambda t: stats.beta.pdf(t, 0.5, 0.5)),
    "mixture": (
        BetaMixtureDistribution.from_weights([0.3, 0.7], [2, 1], [10, 3]),
        lambda t: 0.3 * stats.beta.pdf(t, 2, 10) + 0.7 * stats.beta.pdf(t, 1, 3),
    ),
}
REPORTS = {
    "seed": RateReport("30", 48, ci=("17", "45"), rounding="unknown"),
    "a04": RateReport("76", 58, ci=("63", "86")),
    "no_ci": RateReport("30", 30),
}


@pytest.mark.parametrize("prior_name", sorted(PRIORS))
@pytest.mark.parametrize("report_name", sorted(REPORTS))
def test_posterior_against_quadrature(report_name: str, prior_name: str) -> None:
    prior, prior_pdf = PRIORS[prior_name]
    res = analyse_rate_report(REPORTS[report_name], prior)
    cands = res.candidates.candidates

    def f(t: float) -> float:
        return unnormalised(t, cands, prior_pdf)

    z = quad(f)
    mean = quad(lambda t: t * f(t)) / z
    sd = math.sqrt(quad(lambda t: (t - mean) ** 2 * f(t)) / z)
    post = res.posterior
    assert post.mean() == pytest.approx(mean, abs=1e-9)
    assert post.sd() == pytest.approx(sd, abs=1e-9)
    # candidate posterior weights: each candidate's share of the integral
    for c, w in zip(cands, res.posterior_weights, strict=True):
        assert w == pytest.approx(
            quad(lambda t, c=c: unnormalised(t, [c], prior_pdf)) / z, abs=1e-9
        )
    # cdf; quantiles: the quadrature cdf at the module's quantiles
    for t in (0.1, 0.25, 0.5, 0.75):
        assert post.cdf(t) == pytest.approx(quad(f, 0, t) / z, abs=1e-9)
    lo, hi = post.interval()
    assert quad(f, 0, lo) / z == pytest.approx(0.025, abs=1e-9)
    assert quad(f, hi, 1) / z == pytest.approx(0.025, abs=1e-9)
    # log density against the unnormalised density / z
    for t in (0.05, 0.3, 0.77):
        assert post.logpdf(t) == pytest.approx(math.log(f(t) / z), abs=1e-9)


def brute_force_hdi(pdf, level: float = 0.95, size: int = 400_001) -> tuple[float, float]:
    """Shortest single interval with ``level`` mass on a fine grid (cumulative trapezoid)."""
    t = np.linspace(0.0, 1.0, size)
    with np.errstate(divide="ignore", invalid="ignore"):
        dens = np.nan_to_num(np.asarray(pdf(t), dtype=float), posinf=0.0)
    cum = np.concatenate([[0.0], np.cumsum((dens[1:] + dens[:-1]) / 2 * np.diff(t))])
    cum /= cum[-1]
    upper = np.searchsorted(cum, cum + level)
    widths = np.where(upper < size, t[np.minimum(upper, size - 1)] - t, np.inf)
    i = int(np.argmin(widths))
    return float(t[i]), float(t[upper[i]])


def check_hdi(dist: BetaMixtureDistribution, pdf) -> None:
    """The module's HDI against the grid's: same width (well conditioned), the same place within
    the grid's flat optimum, mass 0.95 by quadrature, equal density at interior ends."""
    lo, hi = dist.hdi()
    g_lo, g_hi = brute_force_hdi(pdf)
    assert hi - lo == pytest.approx(g_hi - g_lo, abs=1e-5)
    assert (lo, hi) == pytest.approx((g_lo, g_hi), abs=2e-3)
    z = quad(pdf)
    assert quad(pdf, lo, hi) / z == pytest.approx(0.95, abs=1e-8)
    if 0 < lo and hi < 1:
        assert pdf(lo) == pytest.approx(pdf(hi), rel=1e-5)


@pytest.mark.parametrize("prior_name", ["uniform", "mixture"])
@pytest.mark.parametrize("report_name", ["seed", "a04"])
def test_hdi_against_brute_force(report_name: str, prior_name: str) -> None:
    prior, prior_pdf = PRIORS[prior_name]
    res = analyse_rate_report(REPORTS[report_name], prior)
    cands = res.candidates.candidates
    check_hdi(res.posterior, lambda t: unnormalised(t, cands, prior_pdf))


def test_hdi_of_a_bimodal_mixture() -> None:
    """Two separated components: the shortest single interval, as on a grid."""
    mix = BetaMixtureDistribution.from_weights([0.8, 0.2], [30, 40], [70, 10])

    def pdf(t):
        return 0.8 * stats.beta.pdf(t, 30, 70) + 0.2 * stats.beta.pdf(t, 40, 10)

    check_hdi(mix, pdf)


def test_bayes_factor_and_tails_against_quadrature() -> None:
    prior, prior_pdf = PRIORS["mixture"]
    res = analyse_rate_report(REPORTS["seed"], prior)
    cands = res.candidates.candidates

    def f(t: float) -> float:
        return unnormalised(t, cands, prior_pdf)

    z = quad(f)
    above_p1, below_p0 = quad(f, 0.2, 1) / z, quad(f, 0, 0.05) / z
    prior_odds = quad(prior_pdf, 0.2, 1) / quad(prior_pdf, 0, 0.05)
    s = res.summary(0.05, 0.20)
    assert s["p_above_p1"] == pytest.approx(above_p1, abs=1e-10)
    assert s["p_above_p0"] == pytest.approx(1 - below_p0, abs=1e-10)
    assert s["bf_h1_vs_h0"] == pytest.approx(above_p1 / below_p0 / prior_odds, rel=1e-6)


def test_seed_mixture_against_beta_15_34() -> None:
    """Uniform prior: weights prop. to P(n) P(methods) / (n + 1); the mixture beside Beta(15, 34).

    14/47 gets 0.696 and 13/44 0.304; the mixture's mean moves by -0.0005 and its 95 % interval
    from (0.1866, 0.4406) to (0.1850, 0.4414): the second candidate widens it a little.
    """
    res = analyse_rate_report(RateReport("30", 48, ci=("17", "45")))
    r = 2.4 / 3.4
    w47, w44 = r**1 * 0.6 / 48, r**4 * (0.6 + 0.1) / 45
    weights = dict(
        zip([c.label for c in res.candidates.candidates], res.posterior_weights, strict=True)
    )
    assert weights["14/47"] == pytest.approx(w47 / (w47 + w44), abs=1e-12)
    assert weights["14/47"] == pytest.approx(0.696, abs=5e-4)
    mean = (w47 * 15 / 49 + w44 * 14 / 46) / (w47 + w44)
    s = res.summary(0.05, 0.20)
    assert s["mean"] == pytest.approx(mean, abs=1e-12)
    single = stats.beta(15, 34)
    assert s["mean"] - single.mean() == pytest.approx(-0.0005, abs=1e-4)
    assert s["ci95"][0] < single.ppf(0.025) - 0.001 and s["ci95"][1] > single.ppf(0.975)


# ---------------------------------------------------------------------------------------------
# Oracles for MCMC
# ---------------------------------------------------------------------------------------------


def test_mixture_logpdf_against_scipy() -> None:
    w, a, b = [2.0, 1.0, 1.0], [0.5, 3.0, 20.0], [0.5, 7.0, 5.0]
    theta = np.array([0.0, 1e-6, 0.2, 0.5, 0.9, 1.0 - 1e-9, 1.2])
    with np.errstate(divide="ignore"):
        dens = sum(
            wi / 4 * stats.beta.pdf(theta, ai, bi) for wi, ai, bi in zip(w, a, b, strict=True)
        )
        expected = np.log(dens)
        got = mixture_logpdf(theta, w, a, b)
    np.testing.assert_allclose(got[1:-1], expected[1:-1], rtol=1e-10)
    assert got[0] == np.inf  # Beta(0.5, 0.5) diverges at 0
    assert got[-1] == -np.inf  # outside the support
    with pytest.raises(ValueError, match="equal-length"):
        mixture_logpdf(0.5, [1.0], [1.0, 2.0], [1.0])


def test_report_log_likelihood_and_posterior_agree() -> None:
    """Posterior logpdf = log P(report | theta) + log prior - log evidence (by quadrature)."""
    res = analyse_rate_report(REPORTS["seed"], PRIORS["jeffreys"][0])
    cands = res.candidates
    theta = np.array([0.1, 0.25, 0.31, 0.5])
    direct = np.log(
        [
            sum(
                c.prior_weight * stats.binom.pmf(c.responders, c.evaluable, t)
                for c in cands.candidates
            )
            for t in theta
        ]
    )
    np.testing.assert_allclose(report_log_likelihood(theta, cands), direct, rtol=1e-12)
    log_z = math.log(quad(lambda t: unnormalised(t, cands.candidates, PRIORS["jeffreys"][1])))
    np.testing.assert_allclose(
        res.posterior.logpdf(theta),
        direct + stats.beta.logpdf(theta, 0.5, 0.5) - log_z,
        atol=1e-9,
    )


def test_posterior_mixture_of_counts_is_conjugate() -> None:
    post, w = posterior_mixture([14], [47], [1.0], BetaMixtureDistribution.beta(2.0, 3.0))
    assert w.tolist() == [pytest.approx(1.0)]
    ref = stats.beta(16, 36)
    assert post.mean() == pytest.approx(ref.mean(), abs=1e-14)
    assert post.sd() == pytest.approx(ref.std(), abs=1e-14)
    assert post.ppf(0.3) == pytest.approx(ref.ppf(0.3), abs=1e-11)
    assert post.sf(0.5) == pytest.approx(ref.sf(0.5), rel=1e-10)


# ---------------------------------------------------------------------------------------------
# More published-number paths and sizes
# ---------------------------------------------------------------------------------------------


def test_published_counts_that_misprint_the_estimate_are_flagged() -> None:
    cands = report_candidates(RateReport("31", 48, ci=("17", "45"), responders=14, evaluable=47))
    assert cands.basis == "counts" and [c.label for c in cands.candidates] == ["14/47"]
    assert cands.counts_reproduce_estimate is False and cands.counts_reproduce_ci is False
    ok = report_candidates(RateReport("30", 48, ci=("17", "45"), responders=14, evaluable=47))
    assert ok.counts_reproduce_estimate is True and ok.counts_reproduce_ci is True
    assert ok.candidates[0].ci_methods == ("exact",)


def test_max_evaluable_below_enrolled_moves_the_range() -> None:
    """n runs from ceil(0.8 * 48) = 39 to 45; the geometric decay starts at 45."""
    p_n = evaluable_prior(RateReport("30", 48, max_evaluable=45))
    assert sorted(p_n) == list(range(39, 46))
    r = 2.4 / 3.4
    assert p_n[44] / p_n[45] == pytest.approx(r, rel=1e-12)
    # a maximum below the allowance keeps the maximum alone
    assert sorted(evaluable_prior(RateReport("30", 48, max_evaluable=30))) == [30]


def test_fallback_keeps_published_responders() -> None:
    cands = report_candidates(RateReport("9.6", 52, ci=("5", "17"), responders=5))
    assert cands.basis == "estimate_fallback"
    assert [c.label for c in cands.candidates] == ["5/52"]


def test_table_sets_printed_beside_computed() -> None:
    rows = analyse_rate_report(RateReport("30", 48, ci=("17", "45"))).table()
    assert [(r["responders"], r["evaluable"]) for r in rows] == [(14, 47), (13, 44)]
    assert sum(r["prior_weight"] for r in rows) == pytest.approx(1.0)
    assert sum(r["posterior_weight"] for r in rows) == pytest.approx(1.0)
    assert rows[1]["printed_ci"] == [17.0, 45.0]
    assert set(rows[1]["computed_ci"]) == {"exact", "wilson_cc"}
    assert rows[1]["computed_ci"]["wilson_cc"] == pytest.approx(
        list(ci_independent(13, 44, "wilson_cc")), abs=1e-12
    )


def test_large_trial_without_ci() -> None:
    """400 enrolled, "42 %" printed alone: every x/n of n in 320-400; moments by quadrature."""
    res = analyse_rate_report(RateReport("42", 400))
    cands = res.candidates.candidates
    assert {c.evaluable for c in cands} == set(range(320, 401))
    assert all(abs(100 * c.estimate - 42) <= 0.5 + 1e-9 for c in cands)

    def f(t):
        return unnormalised(t, cands, lambda t: 1.0)

    def integral(g, a: float = 0.0, b: float = 1.0) -> float:
        # split at the bulk so the narrow peak (sd about 0.026) is resolved
        cuts = [a, *[c for c in (0.3, 0.38, 0.42, 0.46, 0.55) if a < c < b], b]
        return sum(quad(g, u, v) for u, v in itertools.pairwise(cuts))

    z = integral(f)
    assert res.posterior.mean() == pytest.approx(integral(lambda t: t * f(t)) / z, abs=1e-9)
    lo, hi = res.posterior.hdi()
    assert integral(f, lo, hi) / z == pytest.approx(0.95, abs=1e-8)


# ---------------------------------------------------------------------------------------------
# Words of the rate section (analysis/report/rate.py, analysis/report/wording.py): values on both
# sides of every threshold
# ---------------------------------------------------------------------------------------------

from trial_reanalysis.analysis.report import rate as words  # noqa: E402
from trial_reanalysis.analysis.report.wording import (  # noqa: E402
    agreement_words,
    closeness_words,
    direction_words,
    format_bayes_factor,
    format_probability,
)


@pytest.mark.parametrize(
    ("p", "text"),
    [
        (1.0, "1"),
        (0.99995, "> 0.9999"),
        (0.99991, "> 0.9999"),
        (0.9999, "0.9999"),
        (0.99988, "0.9999"),  # issue 13: printed "1" before
        (0.5, "0.5000"),
        (0.0001, "0.0001"),
        (0.00009, "< 0.0001"),
        (0.0, "0"),
    ],
)
def test_probability_format_both_sides_of_each_end(p, text) -> None:
    assert format_probability(p) == text


@pytest.mark.parametrize("bad", [-0.1, 1.1, float("nan")])
def test_probability_format_rejects_non_probabilities(bad) -> None:
    with pytest.raises(ValueError, match=r"\[0, 1\]"):
        format_probability(bad)


@pytest.mark.parametrize(
    ("diff", "text"),
    [
        (0.0, "close to"),
        (0.02, "close to"),
        (-0.02, "close to"),
        (0.0201, "different from"),
        (-0.0201, "different from"),
    ],
)
def test_closeness_both_sides_of_the_tolerance(diff, text) -> None:
    assert closeness_words(diff) == text


@pytest.mark.parametrize(
    ("values", "text"),
    [
        ([0.30], "agree within"),
        ([0.30, 0.32], "agree within"),
        ([0.30, 0.3201], "differ by more than"),
    ],
)
def test_agreement_both_sides_of_the_tolerance(values, text) -> None:
    assert agreement_words(values) == text


@pytest.mark.parametrize(
    ("bfs", "text"),
    [
        ([2.0, 3e6], "every prior favours the alternative region"),
        ([None, 1.0001], "every prior favours the alternative region"),
        ([0.9999, 0.04], "every prior favours the null region"),
        ([0.5, 2.0], "the direction depends on the prior"),
        ([1.0, 2.0], "the direction depends on the prior"),
    ],
)
def test_direction_of_several_bayes_factors(bfs, text) -> None:
    assert direction_words(bfs) == text


def test_bayes_factor_format() -> None:
    assert format_bayes_factor(None) == "> 1e+300"
    assert format_bayes_factor(float("inf")) == "> 1e+300"
    assert format_bayes_factor(0.041817) == "0.0418"


@pytest.mark.parametrize(
    ("bf", "bfs", "phrases"),
    [
        (0.0418, [0.0418, 0.775], ["strong evidence for rate < 5 %", "favours the null region"]),
        (0.5, [0.5, 2.0], ["evidence for rate < 5 % not worth", "depends on the prior"]),
        (3.2, [3.2, 9.0], ["substantial evidence for rate > 20 %", "the alternative region"]),
        (None, [None, 1e9], ["decisive evidence for rate > 20 %", "is > 1e+300"]),
    ],
)
def test_bayes_factor_sentence_follows_the_number(bf, bfs, phrases) -> None:
    text = words.bayes_factor_sentence(0.05, 0.20, bf, bfs)
    for phrase in phrases:
        assert phrase in text, text
    assert "decisive" not in text or bf is None


@pytest.mark.parametrize(
    ("credible", "text"),
    [([0.187, 0.444], "close to"), ([0.1530, 0.444], "different from")],
)
def test_closeness_sentence_is_computed(credible, text) -> None:
    out = words.closeness_sentence("uniform", credible, "14/47", [0.1734, 0.4489])
    assert f"is {text} the exact CI of 14/47" in out


def _mcmc(z: float) -> dict:
    return {"mcmc": {"z_mean": 0.1, "z_ci95": [z, -0.2]}}


def test_mcmc_sentence_both_sides_of_3_mcse() -> None:
    assert "agrees with the exact posterior" in words.mcmc_sentence({"u": _mcmc(2.99)})
    out = words.mcmc_sentence({"u": _mcmc(2.99), "s": _mcmc(-3.01)})
    assert "differs from the exact posterior" in out and "'s'" in out and "'u'" not in out


def _result(basis: str, **rec) -> dict:
    cand = {"responders": 5, "evaluable": 52, "ci_methods": [], "posterior_weight": 1.0}
    return {
        "reconstruction": {
            "basis": basis,
            "candidates": [cand],
            "evaluable_range": [42, 52],
            "counts_reproduce_estimate": None,
            "counts_reproduce_ci": None,
            **rec,
        },
        "reported": {
            "estimate_percent": 9.6,
            "ci_percent": [5, 17],
            "decimals": 1,
            "ci_decimals": 0,
        },
    }


def test_reconstruction_sentence_says_the_fallback_plainly() -> None:
    out = words.reconstruction_sentence(_result("estimate_fallback"))
    assert "No interval method reproduces the printed CI 5-17 %" in out
    assert "falls back" in out and "9.6 %" in out
    out = words.reconstruction_sentence(_result("counts", counts_reproduce_ci=False))
    assert "5/52" in out and "No interval method reproduces the printed CI 5-17 %" in out
    assert "No interval" not in words.reconstruction_sentence(
        _result("counts", counts_reproduce_ci=True)
    )


def test_design_sentence_counts_matching_sizes_and_decisions() -> None:
    rows = [
        {"found": True, "trial": {"n_matches_trial": False, "go_by_rate": True}},
        {"found": True, "trial": {"n_matches_trial": True, "go_by_rate": False}},
        {"found": False, "note": "none"},
    ]
    out = words.design_sentence(rows, "14/47", 47)
    assert out.startswith("1 of the 2 Simon designs have the trial's total of 47")
    assert "r/n under 1 of them" in out
    out = words.design_sentence(rows[:1], "14/47", 47)
    assert out.startswith("None of the 1 Simon designs") and "did not follow" in out


def test_followup_ess_without_the_analysis_prior() -> None:
    priors = [{"name": "beta", "ess": 49.0}, {"name": "robust", "ess": 31.0}, {"name": "x"}]
    annotate_beta_analysis_prior(priors, 2.0)  # the robust prior keeps (1 - 0.2) of a0 + b0
    assert [p["ess_without_analysis_prior"] for p in priors] == [47.0, 29.4, None]
    assert [p["ess_analysis_prior"] for p in priors] == [2.0, 1.6, 2.0]
