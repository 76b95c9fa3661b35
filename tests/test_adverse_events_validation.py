"""The stored long SBC of the adverse-event model (python -m analysis.ae_validation)."""

import json

import pytest

from analysis.ae_validation import SBC_PATH


@pytest.fixture(scope="module")
def stored():
    return json.loads(SBC_PATH.read_text())


def test_stored_sbc_has_provenance(stored):
    assert {"date", "git_commit", "versions", "command"} <= set(stored["provenance"])
    assert stored["summary"]["replicates"] >= 200
    assert "seed" in stored and "settings" in stored


def test_stored_sbc_is_calibrated(stored):
    s = stored["summary"]["log_odds_ratio"]
    assert s["rank_chi2_p_value"] >= 0.01
    assert 0.90 <= s["coverage95"] <= 0.99
    assert sum(s["rank_counts"]) == stored["summary"]["replicates"]
