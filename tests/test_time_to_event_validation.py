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

from trial_reanalysis.analysis.studies import pfs_validation as pv
from trial_reanalysis.models.time_to_event import MEDIAN, SHAPE


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


def test_stored_coverage_within_band(study):
    """Pooled over the 12 settings (2,400 trials): 0.90-0.98. Per setting (200 trials, binomial sd
    ~0.015 at 0.95) the band is widened by about two sd: 0.88-0.995."""
    for var in (MEDIAN, SHAPE):
        assert 0.90 <= study["pooled_coverage95"][var] <= 0.98
    for setting in study["coverage"]:
        for var in (MEDIAN, SHAPE):
            assert 0.88 <= setting[var]["coverage95"] <= 0.995, (setting["transform"], var)


def test_stored_recovery_bias_small(study):
    for setting in study["coverage"]:
        assert abs(setting[MEDIAN]["relative_bias_of_posterior_median"]) < 0.05
        assert abs(setting[SHAPE]["relative_bias_of_posterior_median"]) < 0.15


def test_stored_sbc_ranks_uniform(study):
    for var in (MEDIAN, SHAPE):
        res = study["sbc"][var]
        assert sum(res["counts"]) == study["sbc"]["replicates"]
        assert res["p_value"] > 0.01, var


def test_sbc_chi2_detects_nonuniform_ranks():
    rng = np.random.default_rng(1)
    assert pv.sbc_chi2(rng.integers(0, 100, 2000))["p_value"] > 0.001
    assert pv.sbc_chi2(np.clip(rng.normal(50, 10, 2000).astype(int), 0, 99))["p_value"] < 1e-6


def test_short_study_runs_and_recovers(compiled_summary, monkeypatch):
    """A handful of replicates through the same code path as the full study."""
    monkeypatch.setattr(pv, "_COMPILED", compiled_summary)
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
