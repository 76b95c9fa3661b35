"""Sequential designs: boundaries and exact OC against independent checks and published values.

Independent references written here: a brute-force sum over every 0/1 outcome sequence, a forward
recursion by binomial convolution (not the package's hypergeometric one), seeded Monte Carlo
simulation of trials, numerical quadrature, scipy's exact binomial test, and published numbers:
Lee and Liu (2008, p. 97), the R packages ph2bayes 0.0.2 (stopbound_pred example) and BOP2FE
(README example), and Simon (1989, Table 1).
"""

from __future__ import annotations

import itertools
import json
import re

import numpy as np
import pytest
from scipy import integrate, special, stats
from typer.testing import CliRunner

from trial_reanalysis.analysis.cli import app
from trial_reanalysis.analysis.frequentist.binomial import simon_designs
from trial_reanalysis.analysis.planning import sequential as seq
from trial_reanalysis.analysis.planning.followup import BetaMixture

MIX = BetaMixture((0.7, 0.3), (3.0, 1.0), (9.0, 1.0))


# --------------------------------------------------------------------------------------------
# Independent helpers
# --------------------------------------------------------------------------------------------


def forward_oc(looks, fut, eff, p):
    """OC by convolving the binomial increments (absorbing stops); independent of the package."""
    dist = stats.binom.pmf(np.arange(looks[0] + 1), looks[0], p)
    stop_f, stop_e = [], []
    for k, n in enumerate(looks):
        x = np.arange(n + 1)
        stop_f.append(dist[x <= fut[k]].sum())
        stop_e.append(dist[x >= eff[k]].sum())
        if k + 1 < len(looks):
            cont = np.where((x > fut[k]) & (x < eff[k]), dist, 0.0)
            m = looks[k + 1] - n
            dist = np.convolve(cont, stats.binom.pmf(np.arange(m + 1), m, p))
    early = np.array(stop_f[:-1]) + np.array(stop_e[:-1])
    en = float(early @ np.array(looks[:-1]) + (1 - early.sum()) * looks[-1])
    return {
        "reject": float(sum(stop_e)),
        "early_futility": stop_f[:-1],
        "early_efficacy": stop_e[:-1],
        "pet": float(early.sum()),
        "expected_n": en,
    }


def brute_force_oc(looks, decide, p):
    """Sum over all 2^N outcome sequences; ``decide(k, x)`` -> "futility", "efficacy" or None."""
    n_max = looks[-1]
    res = {"reject": 0.0, "stop": np.zeros((len(looks), 2)), "expected_n": 0.0}
    verdicts = {(k, x): decide(k, x) for k, n in enumerate(looks) for x in range(n + 1)}
    for seq_ in itertools.product((0, 1), repeat=n_max):
        s = sum(seq_)
        prob = p**s * (1 - p) ** (n_max - s)
        for k, n in enumerate(looks):
            x = sum(seq_[:n])
            verdict = verdicts[(k, x)]
            if verdict is not None or k == len(looks) - 1:
                if verdict == "efficacy":
                    res["reject"] += prob
                res["stop"][k, 0 if verdict == "futility" else 1] += prob
                res["expected_n"] += prob * n
                break
    return res


def simulate(looks, fut, eff, p, n_trials, rng):
    """Seeded Monte Carlo of whole trials: stage counts, cumulative sums, first stop."""
    sizes = np.diff(np.concatenate([[0], looks]))
    x = np.cumsum(rng.binomial(sizes, p, size=(n_trials, len(looks))), axis=1)
    alive = np.ones(n_trials, dtype=bool)
    reject = np.zeros(n_trials, dtype=bool)
    n_used = np.full(n_trials, looks[-1])
    pet = np.zeros(n_trials, dtype=bool)
    for k, n in enumerate(looks):
        stop_f = alive & (x[:, k] <= fut[k])
        stop_e = alive & (x[:, k] >= eff[k])
        reject |= stop_e
        if k < len(looks) - 1:
            pet |= stop_f | stop_e
            n_used[stop_f | stop_e] = n
        alive &= ~(stop_f | stop_e)
    return reject.mean(), pet.mean(), n_used.mean(), n_used.std()


# --------------------------------------------------------------------------------------------
# Posterior and predictive probabilities
# --------------------------------------------------------------------------------------------


def test_mixture_posterior_matches_quadrature() -> None:
    x, n, p0 = 4, 17, 0.2
    prior_pdf = lambda t: 0.7 * stats.beta.pdf(t, 3, 9) + 0.3 * stats.beta.pdf(t, 1, 1)  # noqa: E731
    post = lambda t: prior_pdf(t) * t**x * (1 - t) ** (n - x)  # noqa: E731
    z = integrate.quad(post, 0, 1, epsabs=1e-14, epsrel=1e-12)[0]
    above = integrate.quad(post, p0, 1, epsabs=1e-14, epsrel=1e-12)[0] / z
    assert seq.posterior_prob_above(x, n, p0, MIX) == pytest.approx(above, abs=1e-9)
    # Component weights: prior weight times each component's marginal likelihood, by quadrature.
    marg = [
        integrate.quad(
            lambda t, a=a, b=b: stats.beta.pdf(t, a, b) * t**x * (1 - t) ** (n - x), 0, 1
        )[0]
        for a, b in ((3, 9), (1, 1))
    ]
    w = np.array([0.7, 0.3]) * marg
    post_mix = seq.posterior_mixture(MIX, x, n)
    np.testing.assert_allclose(post_mix.weights, w / w.sum(), atol=1e-9)
    assert post_mix.alpha == (7.0, 5.0) and post_mix.beta == (22.0, 14.0)


def test_predictive_probability_reproduces_lee_liu_page_97() -> None:
    """Lee and Liu (2008) p. 97: Beta(0.6, 0.4) prior, 16/23 responders, Nmax = 40, p0 = 0.6,
    theta_T = 0.9 gives PP = 0.5656 (ph2bayes 0.0.2 `predprob(16, 23, 40, 0.6, 0.4, 0.6, 0.9)`
    prints 0.5655589)."""
    pp = float(seq.predictive_probability(16, 23, 40, 0.6, 0.9, (0.6, 0.4)))
    assert abs(pp - 0.5656) < 5e-5
    assert abs(pp - 0.5655589) < 1e-7


def _mix_moment(r: int, f: int, lo: float = 0.0) -> float:
    """Integral over (lo, 1) of the mixture prior density times t^r (1 - t)^f (quadrature)."""
    return integrate.quad(lambda t: MIX.pdf(t) * t**r * (1 - t) ** f, lo, 1, epsabs=1e-15)[0]


def test_predictive_probability_matches_an_explicit_sum_under_a_mixture() -> None:
    n, n_max, p0, theta = 9, 25, 0.25, 0.85
    for x in range(n + 1):
        den = _mix_moment(x, n - x)
        total = 0.0
        for y in range(n_max - n + 1):  # posterior predictive of Y by quadrature, then the rule
            r, f = x + y, n_max - x - y
            prob_y = special.comb(n_max - n, y) * _mix_moment(r, f) / den
            total += prob_y * (_mix_moment(r, f, p0) / _mix_moment(r, f) > theta)
        got = float(seq.predictive_probability(x, n, n_max, p0, theta, MIX))
        assert got == pytest.approx(total, abs=1e-8)


def test_beta01_posterior_rule_is_the_exact_binomial_test() -> None:
    """DESIGN.md section 5: P(Beta(x, n - x + 1) > p0) = P(Binomial(n, p0) < x), so one look with
    prior Beta(0, 1) and c_T = 1 - alpha rejects exactly when the exact test's P value < alpha."""
    for n, p0, alpha in ((20, 0.05, 0.05), (37, 0.2, 0.1), (48, 0.05, 0.025), (15, 0.3, 0.2)):
        x = np.arange(n + 1)
        np.testing.assert_allclose(
            seq.posterior_prob_above(x, n, p0, (0.0, 1.0)),
            stats.binom.cdf(x - 1, n, p0),
            atol=1e-12,
        )
        d = seq.posterior_design(p0, [n], 1 - alpha, prior=(0.0, 1.0))
        pvals = [stats.binomtest(int(k), n, p0, alternative="greater").pvalue for k in x]
        crit = min(int(k) for k in x if pvals[k] < alpha)
        assert d.efficacy[-1] == crit
        oc = seq.operating_characteristics(d, p0)
        assert oc.reject == pytest.approx(stats.binom.sf(crit - 1, n, p0), abs=1e-12)
        assert oc.reject <= alpha


# --------------------------------------------------------------------------------------------
# Boundaries against published examples
# --------------------------------------------------------------------------------------------


def test_predictive_futility_boundaries_match_ph2bayes_example() -> None:
    """ph2bayes 0.0.2, `stopbound_pred(0.05, "futility", 40, 0.6, 1.4, 0.3, 0.85)`, example
    output (rdrr.io): the first n at which each bound appears: n = 4: 0, 8: 1, 11: 2, 14: 3,
    17: 4, 20: 5, 22: 6, 25: 7, 27: 8, 29: 9 (no bound for n = 1..3)."""
    d = seq.predictive_design(0.3, list(range(1, 41)), 0.85, 0.05, None, (0.6, 1.4))
    first = {}
    for n, a in zip(d.looks[:-1], d.futility[:-1], strict=True):
        first.setdefault(a, n)
    published = {-1: 1, 0: 4, 1: 8, 2: 11, 3: 14, 4: 17, 5: 20, 6: 22, 7: 25, 8: 27, 9: 29}
    assert {a: first[a] for a in published} == published


def test_bop2_matches_the_bop2fe_readme_example() -> None:
    """BOP2FE README: `BOP2FE_binary(H0 = 0.2, H1 = 0.4, n = c(10, 5, 5, 5, 5, 5, 5),
    lambda = 0.909, gamma = 1, method = "OF", nsim = 10000, seed = 1234)`, prior Beta(0.2, 0.8):
    futility 1 2 3 5 7 9 11, superiority 7 8 9 10 11 11 12; simulated OC (10,000 trials) under
    H0 / H1: early futility 87.7 / 10.3 %, early superiority 7.22 / 85.9 %, average sample size
    20.5 / 23.6, null rejection 8.58 / 88.5 %. Exact values must lie within 4 simulation SEs."""
    d = seq.bop2_design(0.2, [10, 15, 20, 25, 30, 35, 40], 0.909, 1.0, True, (0.2, 0.8))
    assert d.futility == (1, 2, 3, 5, 7, 9, 11)
    assert d.efficacy == (7, 8, 9, 10, 11, 11, 12)
    published = {0.2: (0.877, 0.0722, 20.5, 0.0858), 0.4: (0.103, 0.859, 23.6, 0.885)}
    for p, (fut, eff, en, rej) in published.items():
        oc = seq.operating_characteristics(d, p)
        for exact, sim in ((oc.pet_futility, fut), (oc.pet_efficacy, eff), (oc.reject, rej)):
            assert abs(exact - sim) < 4 * np.sqrt(sim * (1 - sim) / 10_000) + 5e-4
        assert abs(oc.expected_n - en) < 0.35


def test_simon_designs_reproduce_simon_1989_table_1() -> None:
    """Simon (1989) Table 1, p0 = .05, p1 = .20, alpha = beta = .10: optimal 0/12, 3/37 with EN0
    23.5, PET0 .54; minimax 0/18, 3/32 with EN0 26.4, PET0 .40."""
    opt, mini = seq.simon_sequential(0.05, 0.20, 0.10, 0.90)
    for d, (looks, fut, en0, pet0) in (
        (opt, ((12, 37), (0, 3), 23.5, 0.54)),
        (mini, ((18, 32), (0, 3), 26.4, 0.40)),
    ):
        assert d.looks == looks and d.futility == fut
        oc0, oc1 = seq.operating_characteristics(d, [0.05, 0.20])
        assert abs(oc0.expected_n - en0) < 0.05 and abs(oc0.pet - pet0) < 0.005
        assert oc0.reject <= 0.10 and oc1.reject >= 0.90


# --------------------------------------------------------------------------------------------
# Enumeration against brute force and simulation
# --------------------------------------------------------------------------------------------

TINY = (4, 8, 12)


def _tiny_rules(p0, a, b):
    """Decision functions of the three rules written from their definitions (scipy only)."""

    def post(x, n):
        return stats.beta.sf(p0, a + x, b + n - x)

    n_max = TINY[-1]

    def pp(x, n, theta_t):
        m = n_max - n
        y = np.arange(m + 1)
        ok = np.array([post(x + yy, n_max) > theta_t for yy in y])
        return float(np.sum(stats.betabinom.pmf(y, m, a + x, b + n - x) * ok))

    def posterior_rule(k, x, c_f=0.1, c_e=0.95, c_t=0.8):
        n = TINY[k]
        if k == len(TINY) - 1:
            return "efficacy" if post(x, n) > c_t else "futility"
        return "futility" if post(x, n) < c_f else ("efficacy" if post(x, n) > c_e else None)

    def predictive_rule(k, x, t_l=0.1, t_u=0.95, t_t=0.8):
        n = TINY[k]
        if k == len(TINY) - 1:
            return "efficacy" if post(x, n) > t_t else "futility"
        v = pp(x, n, t_t)
        return "futility" if v < t_l else ("efficacy" if v > t_u else None)

    def bop2_rule(k, x, lam=0.85, gamma=1.5):
        n = TINY[k]
        t = n / n_max
        cf = lam * t**gamma
        ce = 2 * stats.norm.cdf(stats.norm.ppf((1 + lam) / 2) / np.sqrt(t)) - 1
        if k == len(TINY) - 1:
            return "efficacy" if post(x, n) > lam else "futility"
        return "futility" if post(x, n) < cf else ("efficacy" if post(x, n) > ce else None)

    return posterior_rule, predictive_rule, bop2_rule


@pytest.mark.parametrize("method", ["posterior", "predictive", "bop2"])
def test_enumeration_matches_brute_force_over_all_sequences(method) -> None:
    p0, a, b = 0.3, 0.5, 1.5
    rules = dict(zip(("posterior", "predictive", "bop2"), _tiny_rules(p0, a, b), strict=True))
    design = {
        "posterior": lambda: seq.posterior_design(p0, TINY, 0.8, 0.1, 0.95, (a, b)),
        "predictive": lambda: seq.predictive_design(p0, TINY, 0.8, 0.1, 0.95, (a, b)),
        "bop2": lambda: seq.bop2_design(p0, TINY, 0.85, 1.5, True, (a, b)),
    }[method]()
    # The printed boundaries are the rule: every x at every look gets the same verdict.
    rule = rules[method]
    for k, n in enumerate(TINY):
        for x in range(n + 1):
            verdict = "futility" if x <= design.futility[k] else None
            verdict = "efficacy" if x >= design.efficacy[k] else verdict
            if k == len(TINY) - 1 and verdict is None:
                verdict = "futility"
            assert rule(k, x) == verdict, (k, x)
    for p in (0.15, 0.3, 0.55):
        brute = brute_force_oc(TINY, rule, p)
        oc = seq.operating_characteristics(design, p)
        assert oc.reject == pytest.approx(brute["reject"], abs=1e-12)
        np.testing.assert_allclose(oc.early_futility, brute["stop"][:-1, 0], atol=1e-12)
        np.testing.assert_allclose(oc.early_efficacy, brute["stop"][:-1, 1], atol=1e-12)
        assert oc.expected_n == pytest.approx(brute["expected_n"], abs=1e-10)


@pytest.mark.parametrize("method", ["posterior", "predictive", "bop2"])
def test_enumeration_matches_monte_carlo(method) -> None:
    cal = seq.calibrate(method, 0.2, 0.4, [10, 20, 30, 40], 0.1, efficacy=True)
    d = cal.design
    rng = np.random.default_rng(20101115 + len(method))
    for p in (0.2, 0.4):
        oc = seq.operating_characteristics(d, p)
        rej, pet, en, sd = simulate(d.looks, d.futility, d.efficacy, p, 200_000, rng)
        for exact, sim in ((oc.reject, rej), (oc.pet, pet)):
            assert abs(exact - sim) <= 4 * np.sqrt(exact * (1 - exact) / 200_000) + 1e-12
        assert abs(oc.expected_n - en) <= 4 * sd / np.sqrt(200_000) + 1e-9


def test_forward_convolution_agrees_on_a_long_design() -> None:
    d = seq.bop2_design(0.1, list(range(20, 201, 20)), 0.9, 1.0, True, MIX)
    for p in (0.05, 0.1, 0.25):
        ref = forward_oc(d.looks, d.futility, d.efficacy, p)
        oc = seq.operating_characteristics(d, p)
        assert oc.reject == pytest.approx(ref["reject"], abs=1e-12)
        np.testing.assert_allclose(oc.early_futility, ref["early_futility"], atol=1e-12)
        assert oc.expected_n == pytest.approx(ref["expected_n"], abs=1e-9)


# --------------------------------------------------------------------------------------------
# Assurance
# --------------------------------------------------------------------------------------------


def test_assurance_exact_matches_quadrature_and_simulation() -> None:
    d = seq.calibrate("predictive", 0.2, 0.4, [10, 20, 30, 40], 0.1).design
    design_prior = BetaMixture((0.6, 0.4), (6.0, 2.0), (14.0, 2.0))
    exact = seq.assurance(d, design_prior)
    # (1) adaptive quadrature of P(reject | p) times the prior density (scipy quad, independent
    #     forward recursion for P(reject | p)).
    quad = integrate.quad(
        lambda p: forward_oc(d.looks, d.futility, d.efficacy, p)["reject"] * design_prior.pdf(p),
        0,
        1,
        epsabs=1e-12,
        limit=200,
    )[0]
    assert exact.reject == pytest.approx(quad, abs=1e-8)
    # (2) the package's Gauss-Legendre path for a density.
    assert seq.assurance(d, design_prior.pdf).reject == pytest.approx(exact.reject, abs=1e-8)
    # (3) simulation: p from the prior, then a trial.
    rng = np.random.default_rng(7)
    comp = rng.random(200_000) < 0.6
    p = np.where(comp, rng.beta(6, 14, 200_000), rng.beta(2, 2, 200_000))
    rej, _, en, sd = simulate(d.looks, d.futility, d.efficacy, p[:, None], 200_000, rng)
    assert abs(exact.reject - rej) <= 4 * np.sqrt(exact.reject * (1 - exact.reject) / 200_000)
    assert abs(exact.expected_n - en) <= 4 * sd / np.sqrt(200_000)


# --------------------------------------------------------------------------------------------
# Calibration
# --------------------------------------------------------------------------------------------


def test_bop2_calibration_picks_the_best_design_of_an_exhaustive_brute_force() -> None:
    lam, gam = [0.6, 0.7, 0.8, 0.85, 0.9, 0.95], [0.0, 0.5, 1.0, 2.0]
    p0, p1, alpha = 0.2, 0.45, 0.15
    cal = seq.calibrate_bop2(p0, p1, TINY, alpha, lambda_grid=lam, gamma_grid=gam)
    best = None
    _, _, rule = _tiny_rules(p0, 1.0, 1.0)
    for lv, gv in itertools.product(lam, gam):

        def g(k, x, lv=lv, gv=gv):
            # rule() also stops for efficacy; the calibrated design does not: drop those stops.
            verdict = rule(k, x, lv, gv)
            return None if (verdict == "efficacy" and k < len(TINY) - 1) else verdict

        t1 = brute_force_oc(TINY, g, p0)["reject"]
        pw = brute_force_oc(TINY, g, p1)["reject"]
        if t1 <= alpha and (best is None or pw > best + 1e-12):
            best = pw
    assert cal.type1_error <= alpha
    assert cal.power == pytest.approx(best, abs=1e-12)


def test_posterior_calibration_is_tight() -> None:
    """Type I error <= alpha, and one responder fewer at the end would exceed alpha."""
    for prior in ((1.0, 1.0), MIX):
        cal = seq.calibrate_posterior(0.15, 0.35, [10, 20, 30], 0.05, prior=prior)
        d = cal.design
        ref = forward_oc(d.looks, d.futility, d.efficacy, 0.15)
        assert cal.type1_error == pytest.approx(ref["reject"], abs=1e-12) and ref["reject"] <= 0.05
        fut = (*d.futility[:-1], d.futility[-1] - 1)
        eff = (*d.efficacy[:-1], d.efficacy[-1] - 1)
        assert forward_oc(d.looks, fut, eff, 0.15)["reject"] > 0.05


def test_compare_designs_rows() -> None:
    rows = seq.compare_designs(0.2, 0.4, [10, 20, 30, 40], 0.1, 0.8)
    names = [r["design"] for r in rows]
    assert names[:3] == ["posterior probability", "predictive probability", "BOP2"]
    assert names[3:] == ["Simon optimal 2/12, 7/25", "Simon minimax 2/14, 7/24"]
    simon = simon_designs(0.2, 0.4, 0.1, 0.8)
    assert rows[3]["en0"] == pytest.approx(simon["optimal"].en0, abs=1e-10)
    assert rows[4]["pet0"] == pytest.approx(simon["minimax"].pet0, abs=1e-10)
    for r in rows:
        assert r["type1_error"] <= 0.1 and set(r) >= {"boundaries", "power", "en1"}


# --------------------------------------------------------------------------------------------
# Input checks
# --------------------------------------------------------------------------------------------


def test_invalid_inputs_raise() -> None:
    with pytest.raises(ValueError, match="strictly increasing"):
        seq.check_looks([10, 10, 20])
    with pytest.raises(ValueError, match="at most 1000"):
        seq.check_looks([500, 1001])
    with pytest.raises(ValueError, match="futility"):
        seq.SequentialDesign("posterior", (10, 20), (5, 8), (5, 9), 0.2)
    with pytest.raises(ValueError, match="p1"):
        seq.calibrate_posterior(0.3, 0.2, [10, 20], 0.1)
    with pytest.raises(ValueError, match="no threshold"):
        seq.calibrate_posterior(0.2, 0.4, [10], 0.01, grid=[0.5, 0.6])


# --------------------------------------------------------------------------------------------
# Command line
# --------------------------------------------------------------------------------------------

runner = CliRunner()
BASE = ["design", "--p0", "0.2", "--p1", "0.4", "--looks", "10,20,30,40", "--alpha", "0.1"]


@pytest.mark.parametrize("method", ["posterior", "predictive", "bop2"])
def test_cli_printed_boundaries_reproduce_the_printed_oc(method) -> None:
    res = runner.invoke(app, [*BASE, "--method", method, "--efficacy", "--json"])
    assert res.exit_code == 0, res.output
    rec = json.loads(res.output)["designs"][0]
    rows = rec["design"]["boundaries"]
    looks = [r["n"] for r in rows]
    fut = [-1 if r["futility"] is None else r["futility"] for r in rows]
    eff = [
        n + 1 if r["efficacy"] is None else r["efficacy"] for r, n in zip(rows, looks, strict=True)
    ]
    for key, p in (("p0", 0.2), ("p1", 0.4)):
        ref, printed = forward_oc(looks, fut, eff, p), rec["oc"][key]
        for name in ("reject", "pet", "expected_n"):
            assert printed[name] == pytest.approx(ref[name], abs=1e-10)
    assert rec["oc"]["p0"]["reject"] <= 0.1

    # The table output: parse the boundary rows and the OC rows, re-enumerate, compare.
    text = runner.invoke(app, [*BASE, "--method", method, "--efficacy"]).output
    cells = [
        [c.strip() for c in line.strip("│ ").split("│")]
        for line in text.splitlines()
        if "│" in line
    ]
    bounds = [c for c in cells if c[0].isdigit()]
    looks = [int(c[1]) for c in bounds]
    fut = [int(c[2].split()[-1]) if c[2] != "-" else -1 for c in bounds]
    eff = [
        int(c[3].split()[-1]) if c[3] != "-" else n + 1 for c, n in zip(bounds, looks, strict=True)
    ]
    oc_rows = {c[0]: c for c in cells if c[0] in ("type I error", "power")}
    for name, p in (("type I error", 0.2), ("power", 0.4)):
        ref = forward_oc(looks, fut, eff, p)
        row = oc_rows[name]
        assert float(row[2]) == pytest.approx(ref["reject"], abs=5e-5)
        assert float(row[3]) == pytest.approx(ref["pet"], abs=5e-5)
        assert float(row[4]) == pytest.approx(sum(ref["early_futility"]), abs=5e-5)
        assert float(row[6]) == pytest.approx(ref["expected_n"], abs=5e-3)


def test_cli_simon_and_prior_json(tmp_path) -> None:
    res = runner.invoke(
        app, ["design", "--method", "simon", "--p0", "0.05", "--p1", "0.2", "--power", "0.9"]
    )
    assert res.exit_code == 0 and "0/12, 3/37" in res.output and "0/18, 3/32" in res.output
    priors = {
        "burden_reduction": [
            {"name": "beta", "family": "beta", "parameters": {"alpha": 14.5, "beta": 33.5}},
            {
                "name": "robust",
                "family": "beta_mixture",
                "parameters": {"weights": [0.8, 0.2], "alpha": [14.5, 1], "beta": [33.5, 1]},
            },
        ]
    }
    path = tmp_path / "followup_priors.json"
    path.write_text(json.dumps(priors))
    args = [*BASE, "--method", "posterior", "--prior-json", str(path), "--prior", "robust"]
    res = runner.invoke(app, [*args, "--design-prior", "beta", "--json"])
    assert res.exit_code == 0, res.output
    rec = json.loads(res.output)["designs"][0]
    assert rec["design"]["analysis_prior"]["family"] == "beta_mixture"
    d = rec["design"]["boundaries"]
    looks = [r["n"] for r in d]
    fut = [-1 if r["futility"] is None else r["futility"] for r in d]
    eff = [n + 1 if r["efficacy"] is None else r["efficacy"] for r, n in zip(d, looks, strict=True)]
    quad = integrate.quad(
        lambda p: forward_oc(looks, fut, eff, p)["reject"] * stats.beta.pdf(p, 14.5, 33.5), 0, 1
    )[0]
    assert rec["assurance"]["reject"] == pytest.approx(quad, abs=1e-7)


@pytest.mark.parametrize(
    ("args", "option"),
    [
        (["--p0", "0.4", "--p1", "0.2", "--looks", "10,20"], "--p1"),
        (["--p0", "1.2", "--p1", "0.4", "--looks", "10,20"], "--p0"),
        (["--p0", "0.2", "--p1", "0.4", "--looks", "20,10"], "--looks"),
        (["--p0", "0.2", "--p1", "0.4", "--looks", "10,x"], "--looks"),
        (["--p0", "0.2", "--p1", "0.4", "--looks", "500,1001"], "--looks"),
        (["--p0", "0.2", "--p1", "0.4"], "--looks"),
        (["--p0", "0.2", "--p1", "0.4", "--looks", "10,20", "--prior", "x"], "--prior-json"),
    ],
)
def test_cli_bad_input_exits_2_naming_the_option(args, option) -> None:
    res = runner.invoke(app, ["design", "--method", "posterior", *args])
    assert res.exit_code == 2
    assert re.search(re.escape(option), res.output)
