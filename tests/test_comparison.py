"""Comparison model and analysis: quadrature reference, seed-trial analysis, short SBC."""

import math
import re

import arviz as az
import numpy as np
import pytest
from scipy import stats

from trial_reanalysis.analysis.endpoints.base import COMPARISON_COLUMNS, SENSITIVITY_COLUMNS
from trial_reanalysis.analysis.endpoints.comparison import (
    analyse_comparisons,
    compiled_model,
    sbb_calibration,
)
from trial_reanalysis.analysis.inference.fitting import SamplerSettings
from trial_reanalysis.analysis.reconstruction.tables import compatible_tables
from trial_reanalysis.analysis.report.comparison import present
from trial_reanalysis.analysis.studies.ae_validation import SbcSettings, run_sbc
from trial_reanalysis.analysis.trials.load import load_trial
from trial_reanalysis.models.comparison import (
    AE_PRIORS,
    LOG_OR_GRID,
    CoarsenedReport,
    build_comparison_model,
    model_data,
    pooled_event_rate,
    report_from_published,
    report_log_likelihood,
)

GROUPING = "prior_therapy"
SEED_SIGNS = {"ppe": 1, "mucositis": 1, "rash": -1}


@pytest.fixture(scope="session")
def compiled():
    return compiled_model()


@pytest.fixture(scope="session")
def seed_result(compiled):
    settings = SamplerSettings(draws=500, tune=500)
    loaded = load_trial()
    result = analyse_comparisons(loaded, GROUPING, seed=7, settings=settings)
    present(result, loaded)
    return result


def _seed_comparison(key: str):
    return load_trial().trial.comparisons[key]


def test_model_variables(compiled):
    names = {v.name for v in (*compiled.model.free_RVs, *compiled.model.deterministics)}
    assert names == {"log_odds_ratio", "odds_ratio"}


@pytest.mark.parametrize("key", ["ppe", "mucositis", "rash"])
def test_baseline_quadrature_matches_adaptive_integration(key):
    """The 41-node trapezoid rule over the baseline log-odds equals scipy.integrate.quad, per
    compatible cell of the seed report (uniform 12-36 split, Fisher), at several log ORs."""
    from scipy import integrate

    from trial_reanalysis.models.comparison import marginal_cell_log_likelihood

    event = _seed_comparison(key)
    sign = SEED_SIGNS[key]
    report = report_from_published(event.p_value.value, sign, [(n, 48 - n) for n in range(12, 37)])
    one = report.cells()
    prior = AE_PRIORS["weakly_informative"].parameters
    mu, sigma = prior["baseline_mu"], prior["baseline_sigma"]
    log_or = np.array([-2.0, 0.0, 1.0, 2.5])
    grid = marginal_cell_log_likelihood(log_or, one, mu, sigma)
    rng = np.random.default_rng(0)
    for j in rng.choice(report.n_cells, size=6, replace=False):
        for i, b in enumerate(log_or):
            a, n1 = one["exposed_events"][j], one["n_exposed"][j]
            c, n2 = one["reference_events"][j], one["n_reference"][j]

            def integrand(alpha, b=b, a=a, n1=n1, c=c, n2=n2):
                return stats.norm.pdf(alpha, mu, sigma) * np.exp(
                    a * -np.logaddexp(0, -(alpha + b))
                    + (n1 - a) * -np.logaddexp(0, alpha + b)
                    + c * -np.logaddexp(0, -alpha)
                    + (n2 - c) * -np.logaddexp(0, alpha)
                )

            exact = integrate.quad(integrand, -np.inf, np.inf, epsabs=0, epsrel=1e-10, limit=200)[0]
            expected = one["log_weight"][j] + np.log(exact)
            assert grid[i, j] == pytest.approx(expected, abs=1e-4), (key, j, b)


def _seed_reports() -> list:
    splits = [(n, 48 - n) for n in range(12, 37)]
    return [
        report_from_published(_seed_comparison(k).p_value.value, sign, splits)
        for k, sign in SEED_SIGNS.items()
    ]


def test_tabulated_slope_is_the_derivative_of_the_value():
    """The table's exact derivative equals a central difference of the directly computed value."""
    prior = AE_PRIORS["weakly_informative"].parameters
    mu, sigma = prior["baseline_mu"], prior["baseline_sigma"]
    x = np.linspace(-6.0, 6.0, 25)
    for report in _seed_reports():
        _, slope = report_log_likelihood(report, mu, sigma, x)
        up, _ = report_log_likelihood(report, mu, sigma, x + 1e-5)
        down, _ = report_log_likelihood(report, mu, sigma, x - 1e-5)
        np.testing.assert_allclose(slope, (up - down) / 2e-5, rtol=1e-6, atol=1e-6)


def test_model_log_density_matches_direct_evaluation():
    """The compiled model's log density (table + cubic Hermite) equals prior + the directly
    evaluated report likelihood at random log ORs, inside the grid to 1e-6 and beyond it (linear
    continuation) to 1e-3; a wrong table row, knot or coefficient misses by far more."""
    reports = _seed_reports()
    prior = AE_PRIORS["weakly_informative"]
    p = prior.parameters
    model = build_comparison_model(reports, prior=prior)
    logp = model.compile_logp(jacobian=False)
    rng = np.random.default_rng(5)
    for beta in [*rng.uniform(-11.9, 11.9, size=(40, 3)), np.array([-13.0, 12.5, 15.0])]:
        got = logp({"log_odds_ratio": beta})
        direct = [
            report_log_likelihood(r, p["baseline_mu"], p["baseline_sigma"], b)[0][0]
            for r, b in zip(reports, beta, strict=True)
        ]
        expected = stats.norm.logpdf(beta, p["log_or_mu"], p["log_or_sigma"]).sum() + sum(direct)
        tol = 1e-6 if np.all(np.abs(beta) <= 12) else 1e-3
        assert got == pytest.approx(expected, abs=tol), beta


def test_model_gradient_matches_direct_derivative():
    """The compiled model's gradient equals the prior's plus the exact likelihood slope, at grid
    knots (where the interpolating cubics join), between them, and beyond the grid."""
    reports = _seed_reports()
    prior = AE_PRIORS["weakly_informative"]
    p = prior.parameters
    dlogp = build_comparison_model(reports, prior=prior).compile_dlogp(jacobian=False)
    knots = LOG_OR_GRID[[0, 1, 240, 241, 479, 480]]
    rng = np.random.default_rng(9)
    points = [*np.column_stack([knots, knots[::-1], knots]), *rng.uniform(-11.9, 11.9, (20, 3))]
    for beta in [*points, np.array([-14.0, 13.0, 20.0])]:
        got = dlogp({"log_odds_ratio": beta})
        slope = [
            report_log_likelihood(r, p["baseline_mu"], p["baseline_sigma"], b)[1][0]
            for r, b in zip(reports, beta, strict=True)
        ]
        expected = -(beta - p["log_or_mu"]) / p["log_or_sigma"] ** 2 + np.array(slope)
        tol = 1e-4 if np.all(np.abs(beta) <= 12) else 1e-2
        np.testing.assert_allclose(got, expected, rtol=0, atol=tol, err_msg=str(beta))


def _single_table_report():
    """A report (P to 3 decimals, fixed split) that exactly one table reproduces."""
    for n in range(6, 12):
        for p in np.arange(0.001, 0.05, 0.001):
            tables = compatible_tables(round(p, 3), n, n + 2, "exposed", decimals=3)
            if len(tables) == 1:
                return round(p, 3), n, n + 2, tables[0]
    raise AssertionError("no single-table report found")


def test_single_table_posterior_matches_quadrature(compiled):
    p, n1, n2, table = _single_table_report()
    report = report_from_published(p, 1, [(n1, n2)], decimals=3)
    assert report.n_cells == 1
    prior = AE_PRIORS["weakly_informative"].parameters
    data = model_data([report], AE_PRIORS["weakly_informative"])
    idata = compiled.fit(data, seed=11)
    # Reference: the ordinary two-binomial posterior of that table on a fine 2-D grid.
    alpha = np.linspace(-9, 7, 801)[:, None]
    beta = np.linspace(-5, 7, 1201)[None, :]
    log_post = (
        stats.norm.logpdf(alpha, prior["baseline_mu"], prior["baseline_sigma"])
        + stats.norm.logpdf(beta, prior["log_or_mu"], prior["log_or_sigma"])
        + stats.binom.logpmf(table["exposed_events"], n1, 1 / (1 + np.exp(-(alpha + beta))))
        + stats.binom.logpmf(table["reference_events"], n2, 1 / (1 + np.exp(-alpha)))
    )
    marginal = np.exp(log_post - log_post.max()).sum(axis=0)
    marginal /= marginal.sum()
    grid = beta[0]
    cdf = np.cumsum(marginal) - marginal / 2  # CDF at the grid points (midpoint rule)
    exact = {
        "mean": float(np.sum(grid * marginal)),
        0.025: float(np.interp(0.025, cdf, grid)),
        0.975: float(np.interp(0.975, cdf, grid)),
    }
    for j in range(1):
        one = idata.posterior[["log_odds_ratio"]].isel(ae=j)
        draws = one["log_odds_ratio"]
        mc = az.mcse(one, method="mean")["log_odds_ratio"].item()
        assert abs(float(draws.mean()) - exact["mean"]) < 3 * mc
        for q in (0.025, 0.975):
            mcq = az.mcse(one, method="quantile", prob=q)["log_odds_ratio"].item()
            # + 1e-3: the reference grid's spacing is 0.01 (interpolated CDF)
            assert abs(float(draws.quantile(q)) - exact[q]) < 3 * mcq + 1e-3


def test_sbb_calibration_published_values():
    """Sellke, Bayarri, Berger (Am Stat 2001) Table 1: p = .05 -> 0.407, .01 -> 0.125."""
    assert sbb_calibration(0.05)["min_bayes_factor_h0"] == pytest.approx(0.407, abs=5e-4)
    assert sbb_calibration(0.01)["min_bayes_factor_h0"] == pytest.approx(0.125, abs=5e-4)
    assert sbb_calibration(0.01)["bayes_factor"] == pytest.approx(1 / 0.125, rel=5e-3)
    assert sbb_calibration(0.5)["bayes_factor"] == 1.0


def test_seed_trial_results(seed_result):
    r = seed_result.results
    assert seed_result.name == GROUPING
    assert r["grouping"]["label"] == "prior therapy"
    assert (r["grouping"]["exposed"]["name"], r["grouping"]["reference"]["name"]) == (
        "bevacizumab",
        "sunitinib",
    )
    for key, sign in SEED_SIGNS.items():
        ae = r["events"][key]
        assert set(ae) >= {
            "label",
            "reported",
            "primary_prior",
            "posterior",
            "bayes_factor_primary_vs_null",
            "bayes_factor_reported_side_vs_null",
            "bayes_factor_max",
            "sbb_calibration",
            "evidence_note",
            "diagnostics",
            "compatible_tables",
        }
        assert ae["data"] == "reported P value"
        assert ae["reported"]["relation"] == "="
        assert ae["reported"]["more_frequent_in"] == ("bevacizumab" if sign > 0 else "sunitinib")
        p = ae["reported"]["p_value_number"]
        assert ae["reported"]["interval"] == pytest.approx([p - 0.005, p + 0.005])
        assert ae["sbb_calibration"] == pytest.approx(1 / (-math.e * p * math.log(p)))
        assert ae["bayes_factor_bound"] == ae["sbb_calibration"]  # DESIGN.md section 7 name
        lo, hi = ae["sbb_calibration_range"]  # over [p - .005, p + .005)
        assert lo < ae["sbb_calibration"] < hi
        assert 1 / (-math.e * (p + 0.005) * math.log(p + 0.005)) == pytest.approx(lo)
        assert 1 / (-math.e * (p - 0.005) * math.log(p - 0.005)) == pytest.approx(hi)
        # the evidence numbers (checked by brute force in test_comparison_evidence.py)
        assert ae["sbb_calibration"] < ae["bayes_factor_primary_vs_null"] < ae["bayes_factor_max"]
        for name, post in ae["posterior"].items():
            assert set(post["odds_ratio"]) == {"mean", "median", "ci95"}
            lo, hi = post["odds_ratio"]["ci95"]
            assert lo < post["odds_ratio"]["median"] < hi
            assert (post["p_or_above_1"] > 0.5) == (sign > 0)
            assert ae["diagnostics"][name]["passed"]
        weights = [t["posterior_probability"] for t in ae["compatible_tables"]]
        assert sum(weights) == pytest.approx(1.0)
        for t in ae["compatible_tables"]:
            assert 0.025 <= t["p_value"] < 0.035 if key == "ppe" else 0.055 <= t["p_value"] < 0.065
            diff = t["exposed_events"] / t["n_exposed"] - t["reference_events"] / t["n_reference"]
            assert np.sign(diff) == sign
    events = r["events"]
    skeptical = events["ppe"]["posterior"]["skeptical"]["odds_ratio"]["median"]
    assert 1 < skeptical < events["ppe"]["posterior"]["weakly_informative"]["odds_ratio"]["median"]
    assert list(seed_result.comparison.columns) == COMPARISON_COLUMNS
    assert list(seed_result.sensitivity.columns) == SENSITIVITY_COLUMNS
    assert seed_result.sensitivity["primary"].sum() == 3
    assert set(seed_result.figures) == {"prior_therapy_forest", "prior_therapy_evidence"}
    assert set(seed_result.primary_draws) == set(SEED_SIGNS)
    text = " ".join(seed_result.sentences)
    assert "at most 3.5" not in text and "frequentist" not in text.lower()
    assert "a Bayes factor of 3.97 for an effect" in text
    assert "no prior could give more than 17.3" in text
    assert "P = 0.03, 3.5, is not a bound" in text
    assert "substantial evidence for an effect" in text  # 3.97 on the Kass-Raftery scale
    assert "prior therapy" in text and "(bevacizumab vs sunitinib)" in text
    # no bound in the estimate column of an odds-ratio row; Bayes factors have their own rows
    cmp = seed_result.comparison
    or_rows = cmp[cmp["quantity"].str.startswith("odds ratio")]
    assert or_rows["estimate"].dropna().lt(20).all()
    assert not or_rows["method"].str.contains("Sellke").any()
    bf_rows = cmp[cmp["quantity"] == "Bayes factor, effect vs OR = 1, ppe"]
    assert len(bf_rows) == 4
    sbb_row = bf_rows[bf_rows["method"].str.startswith("Sellke")]
    assert sbb_row["estimate"].item() == pytest.approx(events["ppe"]["sbb_calibration"])
    assert "not a bound" in sbb_row["method"].item()
    # the forest plot's axis names the file's groups
    ax = seed_result.figures["prior_therapy_forest"].axes[0]
    assert "bevacizumab vs sunitinib" in ax.get_xlabel()
    assert ax.get_title() == "Events by prior therapy"


def test_short_sbc_smoke(compiled):
    """Smoke test of the SBC code path in CI (6 replicates cannot test calibration: the stored
    long study does, see test_comparison_validation.py)."""
    settings = SbcSettings(sims=6, batch=1, draws=400, tune=400)
    out = run_sbc(settings, seed=3, compiled=compiled)
    rows = out["replicates"]
    assert len(rows) == 6
    assert all(0 <= r["log_odds_ratio_rank"] <= 99 for r in rows)
    assert sum(r["log_odds_ratio_covered"] for r in rows) >= 4


def _grid_posterior(key: str) -> tuple[np.ndarray, np.ndarray]:
    """Independent reference: posterior of the log OR on a grid, by brute force over every split
    (uniform 12..36) and every compatible table, baseline integrated on its own fine grid."""
    from scipy.special import expit

    event = _seed_comparison(key)
    groups = ("bevacizumab", "sunitinib")
    after = event.more_frequent_in.value
    prior = AE_PRIORS["weakly_informative"].parameters
    alpha = np.linspace(-9.0, 7.0, 321)[:, None]
    beta = np.linspace(-5.0, 5.0, 501)[None, :]
    like = np.zeros((alpha.size, beta.size))
    for n1 in range(12, 37):
        n2 = 48 - n1
        for t in compatible_tables(event.p_value.value, n1, n2, after, groups=groups):
            like += stats.binom.pmf(t["exposed_events"], n1, expit(alpha + beta)) * stats.binom.pmf(
                t["reference_events"], n2, expit(alpha)
            )
    post = (
        like
        * stats.norm.pdf(alpha, prior["baseline_mu"], prior["baseline_sigma"])
        * stats.norm.pdf(beta, prior["log_or_mu"], prior["log_or_sigma"])
    ).sum(axis=0)
    return beta[0], post / post.sum()


def _primary_fit(seed_result, key: str):
    stem = f"{GROUPING}_{key}_fisher_uniform_12-36_prior_weakly_informative"
    return seed_result.posteriors[stem].posterior[["log_odds_ratio"]].sel(ae=key)


@pytest.mark.parametrize("key", ["ppe", "mucositis", "rash"])
def test_seed_posterior_matches_brute_force_grid(seed_result, key):
    grid, weights = _grid_posterior(key)
    cdf = np.cumsum(weights) - weights / 2
    one = _primary_fit(seed_result, key)
    draws = one["log_odds_ratio"].values.ravel()
    ess = float(az.ess(one)["log_odds_ratio"])
    p_grid = float(weights[grid > 0].sum())
    p_mcmc = float(np.mean(draws > 0))
    assert abs(p_mcmc - p_grid) < 3 * np.sqrt(p_grid * (1 - p_grid) / ess) + 1e-3, (p_mcmc, p_grid)
    median_mcse = az.mcse(one, method="quantile", prob=0.5)["log_odds_ratio"].item()
    assert abs(np.median(draws) - np.interp(0.5, cdf, grid)) < 3 * median_mcse + 0.01
    assert (
        abs(draws.mean() - float(np.sum(grid * weights)))
        < 3 * az.mcse(one)["log_odds_ratio"].item() + 0.005
    )
    # the same draws are the follow-up priors' and the appendix's
    np.testing.assert_array_equal(seed_result.primary_draws[key]["log_odds_ratio"], draws)
    combined = seed_result.posteriors[seed_result.primary_posterior].posterior
    np.testing.assert_array_equal(combined["log_odds_ratio"].sel(ae=key).values.ravel(), draws)


def _printed_probability(sentence: str, which: str) -> float:
    match = re.search(re.escape(f"P(OR {which} 1) = ") + r"(\d+(?:\.\d+)?)", sentence)
    assert match, sentence
    return float(match.group(1))


@pytest.mark.parametrize("key", ["ppe", "rash"])
def test_printed_direction_of_every_probability(seed_result, key):
    """Issue 13 item 6: P(OR > 1) and P(OR < 1) printed for an event more frequent in either
    group (PPE in the exposed group, rash in the reference group) equal the brute-force grid
    posterior's, in the sentence, the comparison row and results.json, each beside the group it
    favours. A mutant that drops the sign of the log OR (e.g. P(OR < 1) computed as P(OR > 1))
    fails for rash."""
    grid, weights = _grid_posterior(key)
    above, below = float(weights[grid > 0].sum()), float(weights[grid < 0].sum())
    draws = _primary_fit(seed_result, key)["log_odds_ratio"]
    tol = 3 * math.sqrt(above * below / float(az.ess(draws.values))) + 6e-4  # MC + printing
    name = seed_result.results["events"][key]["label"]
    sentence = next(s for s in seed_result.sentences if s.startswith(name))
    assert _printed_probability(sentence, ">") == pytest.approx(above, abs=tol)
    assert _printed_probability(sentence, "<") == pytest.approx(below, abs=tol)
    assert re.search(r"P\(OR > 1\) = [\d.]+ \(more frequent in bevacizumab\)", sentence)
    assert re.search(r"P\(OR < 1\) = [\d.]+ \(more frequent in sunitinib\)", sentence)
    post = seed_result.results["events"][key]["posterior"]["weakly_informative"]
    assert post["p_or_above_1"] == pytest.approx(above, abs=tol)
    assert post["p_or_below_1"] == pytest.approx(below, abs=tol)
    reported = above if key == "ppe" else below
    assert post["p_reported_direction"] == pytest.approx(reported, abs=tol)
    assert reported > 0.9  # the reported direction is the probable one
    cmp = seed_result.comparison
    row = cmp[
        (cmp["quantity"] == f"odds ratio, {key}")
        & (cmp["method"] == "exact posterior median (quadrature), prior 'weakly_informative'")
    ]
    assert row["probability_label"].item() == ("P(OR > 1)" if key == "ppe" else "P(OR < 1)")
    assert row["probability"].item() == pytest.approx(reported, abs=tol)


def test_pooled_event_rate_matches_adaptive_quadrature():
    """The pooled event rate given the log OR (the follow-up priors' ``event_rate``) against
    scipy.integrate.quad over the baseline log-odds, for a report of two (split, table) cells
    of equal split weight."""
    from scipy import integrate
    from scipy.special import expit

    prior = AE_PRIORS["weakly_informative"]
    p = prior.parameters
    mu, sigma = p["baseline_mu"], p["baseline_sigma"]
    cells = [(10, 14, 6, 3), (12, 12, 7, 2)]
    n1s, n2s, a_s, c_s = (np.array(v) for v in zip(*cells, strict=True))
    report = CoarsenedReport(n1s, n2s, a_s, c_s, np.zeros(2), np.log([0.5, 0.5]))
    for beta in (-1.0, 0.0, 1.5):
        num = den = 0.0
        for n1, n2, a, c in cells:

            def like(alpha, n1=n1, n2=n2, a=a, c=c, beta=beta):
                return (
                    stats.norm.pdf(alpha, mu, sigma)
                    * stats.binom.pmf(a, n1, expit(alpha + beta))
                    * stats.binom.pmf(c, n2, expit(alpha))
                )

            def weighted(alpha, n1=n1, n2=n2, beta=beta, like=like):
                return like(alpha) * (n1 * expit(alpha + beta) + n2 * expit(alpha)) / (n1 + n2)

            den += integrate.quad(like, -np.inf, np.inf, epsabs=0, epsrel=1e-11)[0]
            num += integrate.quad(weighted, -np.inf, np.inf, epsabs=0, epsrel=1e-11)[0]
        got = pooled_event_rate(report, np.array([beta]), prior)[0]
        assert got == pytest.approx(num / den, abs=2e-5), beta


def test_seed_posteriors_are_exact_with_the_mcmc_fit_beside_them(seed_result):
    """The primary scenario's posteriors are the quadrature's (the primary sensitivity row holds
    the same numbers), each with its MCMC fit within 4 MCSE; only the primary scenario is fitted
    (3 events x 2 priors) and every sensitivity row records its quadrature rule."""
    assert len(seed_result.diagnostics) == 3 * 2
    assert len(seed_result.posteriors) == 3 * 2 + 1  # and the file of the primary fits
    for event in seed_result.results["events"].values():
        primary_row = next(s for s in event["sensitivity"] if s["primary"])
        post = event["posterior"][event["primary_prior"]]
        assert post["method"] == "quadrature"
        for key in ("mean", "sd", "median", "ci95"):
            assert post["log_odds_ratio"][key] == primary_row["posterior"]["log_odds_ratio"][key]
        for name, p in event["posterior"].items():
            check = p["mcmc_check"]
            assert check["within_limit"] and check["z_limit"] == 4.0, name
            assert abs(check["log_odds_ratio"]["mean"] - p["log_odds_ratio"]["mean"]) < (
                4 * check["mcse_mean"]
            )
        assert len(event["sensitivity"]) == 6 * 2  # 5 split assumptions + chi-square, 2 priors
        for row in event["sensitivity"]:
            d = row["diagnostics"]
            assert row["method"] == d["method"] == "quadrature"
            assert d["edge_mass"] < 1e-9 and d["refinement_change"] < 1e-5


def _cells(report) -> tuple[list[int], list[int], list[int]]:
    return (
        report.n_exposed.tolist(),
        report.exposed_events.tolist(),
        report.reference_events.tolist(),
    )


def test_a_quadrature_that_fails_its_checks_leaves_the_mcmc_numbers_said_so(
    seed_result, monkeypatch
):
    """A row whose quadrature fails raises nothing: under the primary scenario (which has MCMC
    fits) that prior's fit is reported, flagged not exact in results.json, the tables and the
    sentences; under another scenario (no fit) the row is left out and the report says why.
    Forced on the seed: PPE, primary scenario, the primary prior 'weakly_informative'; mucositis,
    'fisher, fixed 16/32', 'skeptical'. The same seed and settings as ``seed_result`` (no
    failure), so the fallback's numbers are the MCMC check's of the same fit there."""
    import trial_reanalysis.analysis.endpoints.comparison as ce
    from trial_reanalysis.analysis.errors import QuadratureError
    from trial_reanalysis.analysis.report import comparison as words
    from trial_reanalysis.analysis.report.render import display_tables

    loaded = load_trial()
    first, scenarios = ce.grouping_scenarios(loaded, GROUPING)
    fixed = next(s for s in scenarios if s.label == "fisher, fixed 16/32")
    targets = [
        (_cells(ce.event_report(loaded, "ppe", first)[0]), "weakly_informative"),
        (_cells(ce.event_report(loaded, "mucositis", fixed)[0]), "skeptical"),
    ]
    real = ce.log_or_posteriors
    forced: list[str] = []

    def flaky(report, priors):
        priors = list(priors)
        for cells, name in targets:
            if _cells(report) == cells and any(p.name == name for p in priors):
                forced.append(name)
                raise QuadratureError(f"forced: edge mass above 1e-9 under {name}")
        return real(report, priors)

    monkeypatch.setattr(ce, "log_or_posteriors", flaky)
    res = analyse_comparisons(
        loaded, GROUPING, seed=7, settings=SamplerSettings(draws=500, tune=500)
    )
    present(res, loaded)
    assert (
        forced.count("weakly_informative") == 2 and forced.count("skeptical") == 2
    )  # joint, alone
    r, seed = res.results["events"], seed_result.results["events"]

    # results.json: the PPE primary prior is its MCMC fit, flagged, the numbers of that fit
    post = r["ppe"]["posterior"]["weakly_informative"]
    assert post["method"] == "mcmc (quadrature failed)" and "mcmc_check" not in post
    assert "forced: edge mass" in post["quadrature_error"]
    check = seed["ppe"]["posterior"]["weakly_informative"]["mcmc_check"]
    for k in ("mean", "median"):
        assert post["log_odds_ratio"][k] == pytest.approx(check["log_odds_ratio"][k], abs=1e-12)
    assert post["log_odds_ratio"]["ci95"] == pytest.approx(check["log_odds_ratio"]["ci95"], 1e-12)
    assert post["p_or_above_1"] == check["p_or_above_1"]
    draws = seed_result.primary_draws["ppe"]["log_odds_ratio"]
    assert post["odds_ratio"]["median"] == pytest.approx(np.median(np.exp(draws)), rel=1e-12)
    assert post["odds_ratio"]["mean"] == pytest.approx(np.exp(draws).mean(), rel=1e-12)
    exact = seed["ppe"]["posterior"]["weakly_informative"]
    assert post["log_odds_ratio"]["mean"] != exact["log_odds_ratio"]["mean"]  # not the exact one
    assert abs(post["log_odds_ratio"]["mean"] - exact["log_odds_ratio"]["mean"]) < (
        4 * check["mcse_mean"]
    )
    assert post["pooled_event_rate_mean"] == exact["pooled_event_rate_mean"]
    # the other prior of the same report keeps its exact posterior (quadrature retried alone)
    other = r["ppe"]["posterior"]["skeptical"]
    assert other["method"] == "quadrature" and other["mcmc_check"]["within_limit"]
    ref = seed["ppe"]["posterior"]["skeptical"]["log_odds_ratio"]
    for k in ("mean", "sd", "median"):
        assert other["log_odds_ratio"][k] == pytest.approx(ref[k], rel=1e-5, abs=1e-6)
    entry = next(s for s in r["ppe"]["sensitivity"] if s["primary"])
    assert entry["method"] == entry["diagnostics"]["method"] == "mcmc (quadrature failed)"
    assert entry["posterior"]["log_odds_ratio"] == post["log_odds_ratio"]
    # the mucositis row under 'fisher, fixed 16/32' has no fit: no posterior, skipped with why
    (skip,) = [s for s in r["mucositis"]["sensitivity"] if s["posterior"] is None]
    assert (skip["split"], skip["prior"], skip["method"]) == ("fixed 16/32", "skeptical", "none")
    assert (
        "forced" in skip["diagnostics"]["reason"] and "no MCMC fit" in skip["diagnostics"]["reason"]
    )
    (why,) = r["mucositis"]["sensitivity_skipped"]
    assert why.startswith("fisher, fixed 16/32, prior 'skeptical': the quadrature failed")
    assert r["ppe"]["sensitivity_skipped"] == r["rash"]["sensitivity_skipped"] == []
    assert all(s["method"] == "quadrature" for s in r["rash"]["sensitivity"])

    # tables: the fallback row flagged (and its own kind), the skipped row absent
    sens = res.sensitivity
    assert len(sens) == len(seed_result.sensitivity) - 1
    assert not (
        (sens["quantity"] == "odds ratio, mucositis")
        & (sens["scenario"] == "fisher, fixed 16/32")
        & (sens["prior"] == "skeptical")
    ).any()
    flagged = sens[sens["assumption"] == ce.FALLBACK_ASSUMPTION]
    assert len(flagged) == 1 and flagged["primary"].item()
    assert flagged["estimate"].item() == post["odds_ratio"]["median"]
    assert res.sensitivity_kinds.count(words.FALLBACK_KIND) == 1
    titles = [t["title"] for t in display_tables(sens, res.sensitivity_kinds, sensitivity=True)]
    assert titles == [
        "MCMC posterior median (quadrature failed: not exact)",
        "Exact posterior median (quadrature)",
    ]
    cmp = res.comparison
    row = (
        cmp["method"]
        == "MCMC posterior median (quadrature failed: not exact), prior 'weakly_informative'"
    )
    assert row.sum() == 1 and cmp.loc[row, "quantity"].item() == "odds ratio, ppe"
    assert cmp.loc[row, "estimate"].item() == post["odds_ratio"]["median"]
    assert [k for k, m in zip(res.estimate_kinds, row, strict=True) if m] == [words.FALLBACK_KIND]
    assert res.estimate_kinds.count(words.FALLBACK_KIND) == 1

    # sentences: which numbers are the MCMC fit's, and which row is not analysed
    text = " ".join(res.sentences)
    assert (
        "Under palmoplantar erythrodysesthesia (PPE) ('weakly_informative') the quadrature did "
        "not meet its own checks" in text
    )
    assert "which passed its diagnostic gates" in text
    assert text.count(words.FALLBACK_WORDS) == 2  # the key finding and PPE's posterior sentence
    assert "except those the next sentence names" in text
    assert words.FALLBACK_SENTENCE in res.assumptions
    assert any(
        a.startswith("Sensitivity row not analysed (mucositis): fisher, fixed 16/32, prior")
        for a in res.assumptions
    )
    assert "Hollow points" in res.captions["prior_therapy_forest"]

    # no failure: no flag anywhere
    seed_text = " ".join(seed_result.sentences)
    for flag in ("did not meet its own checks", words.FALLBACK_WORDS, "except those", "Hollow"):
        assert flag not in seed_text + seed_result.captions["prior_therapy_forest"]
    assert words.FALLBACK_SENTENCE not in seed_result.assumptions
    assert not any(a.startswith("Sensitivity row not analysed") for a in seed_result.assumptions)
    assert set(seed_result.sensitivity_kinds) == {words.EXACT_KIND}
    assert words.FALLBACK_KIND not in seed_result.estimate_kinds
    for event in seed.values():
        assert event["sensitivity_skipped"] == []
        assert all(p["method"] == "quadrature" for p in event["posterior"].values())
