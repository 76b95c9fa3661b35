"""Burden-reduction model: priors meet their definitions, MCMC matches the exact conjugate
posterior within 3 MCSE under every prior, and changing the prior never recompiles."""

from __future__ import annotations

import arviz as az
import numpy as np
import pytest
from scipy import integrate, stats

from analysis.burden_reduction import Counts, compiled_model, posterior_summary
from analysis.diagnostics import check_diagnostics
from analysis.fitting import CompiledModel, derive_seed
from analysis.frequentist import exact_binomial_test
from models.burden_reduction import (
    RATE,
    beta_hdi,
    build_burden_reduction_model,
    burden_reduction_priors,
    exact_posterior,
    model_data,
)
from models.priors import PriorScenario, primary

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
    assert [v.name for v in model.free_RVs] == [RATE]
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
