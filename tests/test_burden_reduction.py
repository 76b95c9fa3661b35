"""Burden-reduction model: priors meet their definitions, MCMC matches the exact conjugate
posterior within 3 MCSE under every prior, and changing the prior never recompiles."""

from __future__ import annotations

from pathlib import Path

import arviz as az
import numpy as np
import pytest
from scipy import integrate, stats

from trial_reanalysis.analysis.endpoints.rate import (
    Counts,
    analyse_burden_reduction,
    bayes_factor_text,
    compiled_model,
    evidence_words,
    posterior_summary,
)
from trial_reanalysis.analysis.frequentist.binomial import exact_binomial_test
from trial_reanalysis.analysis.inference.diagnostics import check_diagnostics
from trial_reanalysis.analysis.inference.fitting import CompiledModel, derive_seed
from trial_reanalysis.analysis.report.plots import plot_rate_posteriors
from trial_reanalysis.analysis.trials.load import load_trial
from trial_reanalysis.models.priors import PriorScenario, primary
from trial_reanalysis.models.rate import (
    RATE,
    beta_hdi,
    build_burden_reduction_model,
    burden_reduction_priors,
    exact_posterior,
    model_data,
)

PRIORS = burden_reduction_priors()
CANDIDATES = [(14, 47), (13, 44)]


def test_registry_has_one_primary_and_rationales() -> None:
    assert primary(PRIORS).name == "uniform"
    assert set(PRIORS) == {"uniform", "jeffreys", "skeptical", "enthusiastic"}
    assert all(len(p.rationale) > 20 for p in PRIORS.values())


def test_skeptical_and_enthusiastic_meet_their_definitions() -> None:
    s, e = PRIORS["skeptical"].parameters, PRIORS["enthusiastic"].parameters
    skeptical, enthusiastic = stats.beta(s["alpha"], s["beta"]), stats.beta(e["alpha"], e["beta"])
    assert skeptical.mean() == pytest.approx(0.05, abs=1e-12)
    assert skeptical.sf(0.20) == pytest.approx(0.05, abs=1e-9)
    assert enthusiastic.mean() == pytest.approx(0.20, abs=1e-12)
    assert enthusiastic.cdf(0.05) == pytest.approx(0.05, abs=1e-9)


def test_model_graph_has_the_papers_variables() -> None:
    model = build_burden_reduction_model(14, 47)
    assert [v.name for v in model.free_RVs] == [f"{RATE}_logodds"]
    assert [v.name for v in model.deterministics] == [RATE]
    assert {v.name for v in model.data_vars} == {
        "prior_alpha",
        "prior_beta",
        "responders",
        "evaluable",
    }


@pytest.fixture(scope="module")
def fits() -> dict[tuple[int, int, str], az.InferenceData]:
    compiled = compiled_model()
    before = CompiledModel.compilations
    out = {}
    for x, n in CANDIDATES:
        for prior in PRIORS.values():
            out[(x, n, prior.name)] = compiled.fit(
                model_data(x, n, prior), seed=derive_seed(7, str(x), str(n), prior.name)
            )
    assert CompiledModel.compilations == before, "changing prior or data recompiled the model"
    return out


@pytest.mark.parametrize("x,n", CANDIDATES)
@pytest.mark.parametrize("prior_name", list(PRIORS))
def test_mcmc_matches_exact_posterior_within_3_mcse(fits, x, n, prior_name) -> None:
    idata = fits[(x, n, prior_name)]
    exact = exact_posterior(x, n, PRIORS[prior_name])
    draws = idata.posterior[RATE]
    mean_mcse = float(az.mcse(idata, method="mean")[RATE])
    assert abs(float(draws.mean()) - exact.mean()) < 3 * mean_mcse
    for prob in (0.025, 0.975):
        q_mcse = float(az.mcse(idata, method="quantile", prob=prob)[RATE])
        q = float(np.quantile(draws.values.ravel(), prob))
        assert abs(q - exact.ppf(prob)) < 3 * q_mcse, (prob, q, exact.ppf(prob), q_mcse)
    assert check_diagnostics(idata, model="t", label="t").passed


def test_mcse_test_has_power_against_a_wrong_posterior(fits) -> None:
    """The 3-MCSE check rejects the posterior of a neighbouring count (one responder fewer)."""
    idata = fits[(14, 47, "uniform")]
    wrong = exact_posterior(13, 47, PRIORS["uniform"])
    mean_mcse = float(az.mcse(idata, method="mean")[RATE])
    assert abs(float(idata.posterior[RATE].mean()) - wrong.mean()) > 3 * mean_mcse


def test_evidence_numbers_against_quadrature(fits) -> None:
    counts = Counts(14, 47, ("exact",), "reconstructed")
    for name, prior in PRIORS.items():
        s = posterior_summary(fits[(14, 47, name)], counts, prior, 0.05, 0.20)
        a, b = prior.parameters["alpha"], prior.parameters["beta"]

        # Unnormalised posterior by quadrature: theta^(a+x-1) (1-theta)^(b+n-x-1).
        def kernel(t, a=a, b=b):
            return t ** (a + 14 - 1) * (1 - t) ** (b + 33 - 1)

        z = integrate.quad(kernel, 0, 1, epsabs=0, epsrel=1e-12)[0]
        above_p1 = integrate.quad(kernel, 0.20, 1, epsabs=0, epsrel=1e-12)[0] / z
        below_p0 = integrate.quad(kernel, 0, 0.05, epsabs=0, epsrel=1e-12)[0] / z
        prior_dist = stats.beta(a, b)
        bf = (above_p1 / below_p0) / (prior_dist.sf(0.20) / prior_dist.cdf(0.05))
        assert s["p_above_p1"] == pytest.approx(above_p1, rel=1e-8)
        assert 1 - s["p_above_p0"] == pytest.approx(below_p0, rel=1e-6)
        assert s["bf_h1_vs_h0"] == pytest.approx(bf, rel=1e-6)
        assert s["hdi95"] == pytest.approx(beta_hdi(exact_posterior(14, 47, prior), 0.95), abs=0.01)


def test_limiting_vague_prior_reproduces_the_exact_binomial_test() -> None:
    """P(theta <= p0 | x) under Beta(0, 1) equals the one-sided exact P value P(X >= x | p0)."""
    vague = PriorScenario("limit", "beta", {"alpha": 0.0, "beta": 1.0}, "limiting case")
    for x, n in [(14, 47), (13, 44), (3, 29), (1, 10), (7, 20)]:
        assert exact_posterior(x, n, vague).cdf(0.05) == pytest.approx(
            exact_binomial_test(x, n, 0.05), rel=1e-9
        )


# --- Degenerate and wide inputs (issue 12 item 6) ----------------------------------------------

DESIGN_GRID = [
    (p0, p1)
    for p0 in (0.001, 0.01, 0.05, 0.3, 0.8)
    for p1 in (0.002, 0.02, 0.1, 0.2, 0.45, 0.5, 0.9, 0.99, 0.999)
    if p1 > p0
]


def _max_tail_with_mean(mean: float, at: float) -> float:
    """Largest P(Beta > at) over Beta with this mean and b >= 1, by a plain concentration scan."""
    c = np.geomspace(1.0 / (1.0 - mean), 1e7, 4000)  # b = (1 - mean) c >= 1
    return float(np.max(stats.beta.sf(at, mean * c, (1 - mean) * c)))


@pytest.mark.parametrize("p0,p1", DESIGN_GRID)
def test_skeptical_and_enthusiastic_exist_for_every_design(p0: float, p1: float) -> None:
    """Every 0 < p0 < p1 < 1 gets both priors, each meeting its stated definition (scipy)."""
    priors = burden_reduction_priors(p0, p1)
    for name, centre, at, upper in (
        ("skeptical", p0, p1, True),
        ("enthusiastic", p1, p0, False),
    ):
        prior = priors[name]
        dist = stats.beta(prior.parameters["alpha"], prior.parameters["beta"])
        tail = dist.sf(at) if upper else dist.cdf(at)
        assert tail == pytest.approx(0.05, abs=1e-9), (name, p0, p1)
        kind = prior.rationale.split()[0]
        got = dist.mean() if kind == "Mean" else dist.median()
        assert kind in {"Mean", "Median"}
        assert got == pytest.approx(centre, rel=1e-7), (name, kind, p0, p1)
        # The median is used only when no Beta with that mean (and no pole at the far end) has
        # the 5 % tail: checked by an independent scan over the concentration.
        if kind == "Median":
            far_mean, far_at = (centre, at) if upper else (1 - centre, 1 - at)
            assert _max_tail_with_mean(far_mean, far_at) < 0.05, (name, p0, p1)


def test_seed_priors_keep_their_mean_definition_and_values() -> None:
    """The seed's skeptical and enthusiastic priors are unchanged (mean-centred, regular root)."""
    s, e = PRIORS["skeptical"], PRIORS["enthusiastic"]
    assert s.rationale.startswith("Mean") and e.rationale.startswith("Mean")
    # The regular root: more concentration only shrinks the tail (the other root, if any, is
    # a near-degenerate U-shaped Beta).
    a, b = s.parameters["alpha"], s.parameters["beta"]
    assert stats.beta(a * 1.01, b * 1.01).sf(0.20) < 0.05 < stats.beta(a / 1.01, b / 1.01).sf(0.2)


def test_priors_reject_impossible_designs() -> None:
    with pytest.raises(ValueError, match="0 < p0 < p1 < 1"):
        burden_reduction_priors(0.2, 0.1)
    with pytest.raises(ValueError, match="0 < p0 < p1 < 1"):
        burden_reduction_priors(0.0, 0.1)


FIXTURES = Path(__file__).parent / "fixtures" / "degenerate"


@pytest.mark.parametrize(
    "file,responders,side",
    [("A12_everolimus_acc_orr_zero.toml", 0, "null"), ("rate_100_percent.toml", 34, "alternative")],
)
def test_zero_and_hundred_percent_rates_give_a_full_analysis(file, responders, side) -> None:
    """0/34 (a real trial) and 34/34 (its constructed mirror) run to the end: posterior against
    the exact Beta, a drawable figure, the design table, and words that follow the numbers."""
    res = analyse_burden_reduction(load_trial(FIXTURES / file), seed=11)
    # Every fit passed its gates (before the log-odds kernel, 34/34 under Jeffreys diverged).
    assert all(d.passed for d in res.diagnostics)
    r = res.results
    assert (r["reconstruction"]["responders"], r["reconstruction"]["evaluable"]) == (responders, 34)
    for name, prior in PRIORS.items():
        a, b = prior.parameters["alpha"], prior.parameters["beta"]
        exact = stats.beta(a + responders, b + 34 - responders)
        post = r["posterior"][name]
        ess = r["diagnostics"][name]["ess_bulk_min"]
        assert abs(post["mean"] - exact.mean()) < 3 * exact.std() / np.sqrt(ess), name
        assert post["p_above_p1"] == pytest.approx(exact.sf(0.20), rel=1e-9, abs=1e-300)
    fig = res.figures["burden_reduction_posterior"]
    low, high = fig.axes[0].get_ylim()
    assert np.isfinite(low) and np.isfinite(high) and high > 0
    assert 0 < fig.axes[0].get_xlim()[1] <= 1.0
    assert len(res.tables["burden_reduction_designs"]) == 8
    assert any(f"evidence for the {side} region" in s for s in res.sentences), res.sentences
    assert not any("decisive" in s for s in res.sentences)


def test_rate_plot_survives_a_density_pole() -> None:
    """The Jeffreys posterior of 0/34, Beta(1/2, 69/2), is infinite at 0: the axes stay finite."""
    rng = np.random.default_rng(3)
    exact = stats.beta(0.5, 34.5)
    idata = az.from_dict(posterior={RATE: exact.rvs((2, 500), random_state=rng)})
    fig = plot_rate_posteriors(
        {"jeffreys": idata},
        var=RATE,
        freq_ci=[0.0, 0.103],
        estimate=0.0,
        p0=0.05,
        p1=0.2,
        title="t",
        exact={"jeffreys": exact},
    )
    low, high = fig.axes[0].get_ylim()
    assert np.isfinite(low) and np.isfinite(high)
    # The axis is set by the histogram (capped at 1.5x its top), not by the pole.
    heights = np.histogram(
        idata.posterior[RATE].values.ravel(), np.linspace(0, 1, 101), density=True
    )[0]
    assert heights.max() <= high <= 1.5 * heights.max() * 1.08 + 1e-9


@pytest.mark.parametrize(
    "bf,words,direction",
    [
        (200.0, "very strong", "H1"),
        (149.0, "strong", "H1"),
        (20.0, "strong", "H1"),
        (19.9, "positive", "H1"),
        (3.0, "positive", "H1"),
        (2.9, "barely worth mentioning", "H1"),
        (1.0, "barely worth mentioning", "H1"),
        (0.5, "barely worth mentioning", "H0"),
        (1 / 3.0, "positive", "H0"),
        (0.04, "strong", "H0"),
        (1e-5, "very strong", "H0"),
        (0.0, "very strong", "H0"),
    ],
)
def test_bayes_factor_words_follow_the_number(bf, words, direction) -> None:
    assert evidence_words(bf) == (words, direction)


def test_bayes_factor_sentence_direction() -> None:
    assert "for the alternative region" in bayes_factor_text(40.0, 900.0, 0.05, 0.2)
    assert "for the null region" in bayes_factor_text(1e-5, 0.04, 0.05, 0.2)
    assert "strong evidence for the null region" in bayes_factor_text(1e-5, 0.04, 0.05, 0.2)
    assert "depends on the prior" in bayes_factor_text(0.5, 2.0, 0.05, 0.2)
