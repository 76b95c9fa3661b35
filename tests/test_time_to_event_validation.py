"""Verification of the PFS summary model by simulation (DESIGN.md 8).

The full study (>= 200 trials per setting, >= 1000 SBC replicates) is stored with provenance in
data/validation/pfs_study.json by `python -m trial_reanalysis.analysis.studies.pfs_validation` (or
the `slow` test
below);
CI checks the stored numbers and runs a short version.
"""

from __future__ import annotations

import json

import numpy as np
import pytest
from scipy import stats

from trial_reanalysis.analysis.frequentist.survival import kaplan_meier
from trial_reanalysis.analysis.inference.calibration import dirichlet_alpha, stored_validation
from trial_reanalysis.analysis.studies import pfs_validation as pv
from trial_reanalysis.models.time_to_event import (
    MEDIAN,
    SHAPE,
    default_priors,
    summary_data,
    summary_loglik,
    summary_pattern,
)


@pytest.fixture(scope="module")
def study():
    if not pv.STUDY_FILE.exists():
        pytest.fail(
            f"{pv.STUDY_FILE} missing: run python -m "
            "trial_reanalysis.analysis.studies.pfs_validation"
        )
    return json.loads(pv.STUDY_FILE.read_text())


def test_stored_study_has_provenance_and_size(study):
    prov = study["provenance"]
    assert {"date", "git_hash", "seed", "settings", "command"} <= set(prov)
    assert all(s["replicates"] >= 200 for s in study["coverage"])
    assert len(study["coverage"]) == len(prov["settings"]["transforms"]) * len(
        prov["settings"]["true_shapes"]
    )
    assert study["sbc"]["replicates"] >= 1000


#: Variable names in the stored study (written before the port: the median was "median_pfs").
STORED = ("median_pfs", "weibull_shape")


def test_stored_coverage_within_band(study):
    """Pooled over the 12 settings (2,400 trials): 0.90-0.98. Per setting (200 trials, binomial sd
    ~0.015 at 0.95) the band is widened by about two sd: 0.88-0.995."""
    for var in STORED:
        assert 0.90 <= study["pooled_coverage95"][var] <= 0.98
    for setting in study["coverage"]:
        for var in STORED:
            assert 0.88 <= setting[var]["coverage95"] <= 0.995, (setting["transform"], var)


def test_stored_recovery_bias_small(study):
    for setting in study["coverage"]:
        assert abs(setting[STORED[0]]["relative_bias_of_posterior_median"]) < 0.05
        assert abs(setting[STORED[1]]["relative_bias_of_posterior_median"]) < 0.15


def test_stored_sbc_ranks_uniform(study):
    for var in STORED:
        res = study["sbc"][var]
        assert sum(res["counts"]) == study["sbc"]["replicates"]
        assert res["p_value"] > 0.01, var


def test_sbc_chi2_detects_nonuniform_ranks():
    rng = np.random.default_rng(1)
    assert pv.sbc_chi2(rng.integers(0, 100, 2000))["p_value"] > 0.001
    assert pv.sbc_chi2(np.clip(rng.normal(50, 10, 2000).astype(int), 0, 99))["p_value"] < 1e-6


def test_short_study_runs_and_recovers(compiled_summary, monkeypatch):
    """A handful of replicates through the same code path as the full study."""
    monkeypatch.setattr(pv, "_COMPILED", {"L,M,U": compiled_summary})
    doc = pv.run_study(
        reps_per_setting=4, sbc_reps=6, workers=1, transforms=("log",), shapes=(1.5,), out=None
    )
    (setting,) = doc["coverage"]
    assert setting["replicates"] == 4
    assert abs(setting[MEDIAN]["relative_bias_of_posterior_median"]) < 0.25
    assert doc["sbc"]["replicates"] == 6
    assert 0 <= doc["pooled_coverage95"][SHAPE] <= 1


@pytest.mark.slow
def test_full_study(tmp_path):
    """The full study (~10-15 min on 2 cores); writes the stored file."""
    doc = pv.run_study()
    for var in (MEDIAN, SHAPE):
        assert 0.90 <= doc["pooled_coverage95"][var] <= 0.98
        assert doc["sbc"][var]["p_value"] > 0.01


def test_stored_study_is_read_by_the_loader_under_the_model_names(study):
    val = stored_validation()
    assert val["pooled_coverage95"][MEDIAN] == study["pooled_coverage95"]["median_pfs"]
    assert val["sbc_p_values"][SHAPE] == study["sbc"]["weibull_shape"]["p_value"]
    assert val["n"] == 48


def _grid_posterior(pattern, data, prior, log_m, log_k):
    """Posterior of (log m, log k) on a grid (quadrature, no MCMC): prior x summary likelihood."""
    lm, lk = np.meshgrid(log_m, log_k, indexing="ij")
    p = prior.parameters
    logp = (
        stats.norm.logpdf(lm, p["log_median_mu"], p["log_median_sd"])
        + stats.norm.logpdf(lk, p["log_shape_mu"], p["log_shape_sd"])
        + summary_loglik(np.exp(lm), np.exp(lk), data, pattern)
    )
    w = np.exp(logp - logp.max())
    return w.sum(axis=1) / w.sum()  # marginal of log m


def test_median_not_reached_likelihood_recovers_by_simulation():
    """Short simulation of the "not reached" likelihood (DESIGN 8): trials of 40 patients, true
    median 36 months (shape 1.2), uniform accrual over 12 months and analysis at 30 months. In
    each trial whose KM median is not reached, the report is (lower limit if defined, "not
    reached", median follow-up F by reverse KM); the posterior of the median by quadrature must
    (a) cover the truth in >= 90 % of trials (the likelihood uses F, weaker than the last
    follow-up: conservative), and (b) put little mass below F, where the prior alone puts most."""
    rng = np.random.default_rng(2024)
    true_m, true_k, n = 36.0, 1.2, 40
    lam = true_m / np.log(2) ** (1 / true_k)
    prior = default_priors("months")["weakly_informative"]
    alpha, _, _ = dirichlet_alpha(40, "log", (0.2, 0.4))
    log_m = np.linspace(np.log(2.0), np.log(2000.0), 240)
    log_k = np.linspace(np.log(0.2), np.log(5.0), 60)
    cdf_grid = np.exp(log_m)
    covered, below_f, prior_below_f, used = 0, [], [], 0
    while used < 150:
        t = lam * rng.weibull(true_k, n)
        censor = 30.0 - rng.uniform(0, 12, n)
        time, event = np.minimum(t, censor), (t <= censor).astype(int)
        km = kaplan_meier(time, event)
        median, lower, _ = km.median_ci("log")
        if np.isfinite(median):
            continue
        followup = kaplan_meier(time, 1 - event).median_ci("log")[0]
        lower = float(lower) if np.isfinite(lower) else None
        pattern = summary_pattern(lower, None, None, float(followup))
        data = summary_data(None, lower, None, alpha, followup=float(followup))
        post = _grid_posterior(pattern, data, prior, log_m, log_k)
        cdf = np.cumsum(post)
        lo, hi = np.interp([0.025, 0.975], cdf, cdf_grid)
        covered += lo <= true_m <= hi
        below_f.append(post[cdf_grid < followup].sum())
        prior_below_f.append(
            stats.norm.cdf(np.log(followup), prior.parameters["log_median_mu"], 1.5)
        )
        used += 1
    assert covered / used >= 0.90
    assert np.mean(below_f) < 0.2 < 0.5 < np.mean(prior_below_f)
