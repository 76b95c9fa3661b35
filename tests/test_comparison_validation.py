"""The stored long SBC of the comparison model (python -m
trial_reanalysis.analysis.studies.ae_validation)."""

import json

import pytest

from trial_reanalysis.analysis.studies.ae_validation import SBC_PATH


@pytest.fixture(scope="module")
def stored():
    return json.loads(SBC_PATH.read_text())


def test_stored_sbc_has_provenance(stored):
    assert {"date", "git_commit", "versions", "command"} <= set(stored["provenance"])
    assert stored["summary"]["replicates"] >= 1000
    assert "seed" in stored and "settings" in stored


def test_stored_sbc_is_calibrated(stored):
    s = stored["summary"]["log_odds_ratio"]
    assert s["rank_chi2_p_value"] >= 0.01
    assert 0.90 <= s["coverage95"] <= 0.99
    assert sum(s["rank_counts"]) == stored["summary"]["replicates"]


def test_stored_sbc_is_of_the_current_model(stored):
    """The stored study used this model's quadrature and likelihood table, and its fits passed
    their gates (a study of an older model, or of fits that failed the gates, must be rerun)."""
    from trial_reanalysis.models.comparison import BASELINE_NODES, LOG_OR_GRID

    model = stored["provenance"].get("model", {})
    assert model.get("baseline_quadrature_nodes") == len(BASELINE_NODES)
    assert model.get("log_or_grid") == [LOG_OR_GRID[0], LOG_OR_GRID[-1], LOG_OR_GRID.size]
    assert stored["summary"]["fits_failing_gates"] <= 0.05 * stored["summary"]["replicates"]


@pytest.mark.slow
def test_full_sbc_rerun(tmp_path):
    """The long study (1,000 replicates, about 3 minutes on 2 cores): `make validate` reruns and
    stores it."""
    from trial_reanalysis.analysis.studies.ae_validation import main

    assert main(["--sims", "1000", "--batch", "8", "--processes", "2"]) == 0
    rerun = json.loads(SBC_PATH.read_text())
    assert rerun["summary"]["log_odds_ratio"]["rank_chi2_p_value"] >= 0.01
