"""The stored Dirichlet calibration (read through analysis.inference.calibration): provenance,
sanity values, the on-the-fly path, and a calibration that cannot be defined."""

from __future__ import annotations

import json

import numpy as np
import pytest

from trial_reanalysis.analysis.frequentist.survival import TRANSFORMS, crossing_levels
from trial_reanalysis.analysis.inference.calibration import (
    CALIBRATION_FILE,
    calibrate,
    censoring_rate,
    censoring_rate_fast,
    dirichlet_alpha,
    simulate_trials,
)


@pytest.fixture(scope="module")
def stored():
    return json.loads(CALIBRATION_FILE.read_text())


def test_provenance(stored):
    prov = stored["provenance"]
    assert {"date", "git_hash", "seed", "settings", "command"} <= set(prov)
    assert prov["settings"]["trials_per_shape"] >= 5000


def test_every_seed_trial_scenario_is_stored(stored):
    for n in (40, 44, 48):
        for tr in TRANSFORMS:
            for c in ((0.0, 0.0), (0.0, 0.2), (0.2, 0.4)):
                _, _, origin = dirichlet_alpha(n, tr, c)
                assert origin == "stored"


@pytest.mark.parametrize("transform", TRANSFORMS)
def test_sanity_alpha0(transform):
    """DESIGN 4.2: alpha0 ~ n + 1 without censoring, ~44 with 0-20 % censoring, n = 48."""
    _, e0, _ = dirichlet_alpha(48, transform, (0.0, 0.0))
    _, e20, _ = dirichlet_alpha(48, transform, (0.0, 0.2))
    assert 46 < e0["alpha0"] < 53
    assert 41 < e20["alpha0"] < 47
    # mean levels near the analytic crossing levels of the uncensored KM
    np.testing.assert_allclose(e0["mean_levels"], crossing_levels(48, transform), atol=0.015)


def test_alpha_is_alpha0_times_mean_spacings(stored):
    for e in stored["entries"].values():
        np.testing.assert_allclose(e["alpha"], e["alpha0"] * np.array(e["mean_spacings"]))
        assert sum(e["mean_spacings"]) == pytest.approx(1.0)


def test_missing_n_is_computed_on_the_fly():
    alpha, entry, origin = dirichlet_alpha(30, "log", (0.0, 0.0))
    assert origin == "computed on the fly"
    assert 27 < entry["alpha0"] < 35  # about n + 1
    assert alpha.shape == (4,)


def test_calibration_is_reproducible():
    a = calibrate(20, "plain", (0.0, 0.2), seed=5, trials_per_shape=500)
    b = calibrate(20, "plain", (0.0, 0.2), seed=5, trials_per_shape=500)
    assert a == b


def test_censoring_mechanism_hits_the_fraction():
    rng = np.random.default_rng(0)
    _, event = simulate_trials(rng, 4000, 48, 4.5, 1.5, (0.1, 0.3))
    assert 1 - event.mean() == pytest.approx(0.2, abs=0.005)
    fast = censoring_rate_fast(np.array([0.1, 0.25]), np.array([1.0, 2.2]))
    exact = [censoring_rate(0.1, 1.0), censoring_rate(0.25, 2.2)]
    np.testing.assert_allclose(fast, np.ravel(exact), rtol=2e-3)


def test_too_heavy_censoring_for_a_calibration_is_a_clear_error():
    """With 85-90 % censoring of 25 patients almost no simulated trial has (L, M, U) defined:
    the calibration refuses, naming why, instead of fitting alpha to an empty sample."""
    with pytest.raises(ValueError, match="calibration is not defined"):
        calibrate(25, "log", (0.85, 0.9), seed=1, trials_per_shape=200)


def test_analysis_modules_do_not_import_a_study():
    """STYLE.md: an analysis reads stored calibration as data, never imports a study module."""
    from pathlib import Path

    root = Path(__file__).resolve().parents[1] / "analysis"
    for module in ("endpoints/time_to_event.py", "inference/calibration.py"):
        imports = [
            line
            for line in (root / module).read_text().splitlines()
            if line.lstrip().startswith(("import ", "from "))
        ]
        assert imports and not any("studies" in line for line in imports), module


def _fresh_on_the_fly(monkeypatch: pytest.MonkeyPatch, folder) -> None:
    """Point the cache at ``folder`` and forget what this process computed."""
    import trial_reanalysis.analysis.inference.calibration as cal

    monkeypatch.setenv("TRIAL_REANALYSIS_MODEL_CACHE", str(folder))
    cal._on_the_fly.cache_clear()
    monkeypatch.setattr(cal, "TRIALS_PER_SHAPE", 400)  # small simulations: the cache is tested


def test_an_entry_computed_on_the_fly_is_kept_and_read_back_bit_for_bit(tmp_path, monkeypatch):
    """A later run (here: the in-process memory forgotten) reads the kept entry instead of
    simulating, and it is exactly what the simulation gives; cleared with the models."""
    import json

    import trial_reanalysis.analysis.inference.calibration as cal
    from trial_reanalysis.analysis.inference.model_cache import clear_cache

    _fresh_on_the_fly(monkeypatch, tmp_path)
    first = cal._on_the_fly(23, "log-log", (0.0, 0.2))
    direct = calibrate(23, "log-log", (0.0, 0.2), trials_per_shape=200)
    assert json.dumps(first) == json.dumps(direct)  # the simulation itself, not a copy
    kept = list(tmp_path.glob("calibrations-*/n=*.json"))
    assert [p.name for p in kept] == ["n=23|log-log|0.00-0.20.json"]
    cal._on_the_fly.cache_clear()
    monkeypatch.setattr(cal, "calibrate", lambda *a, **k: pytest.fail("simulated again"))
    again = cal._on_the_fly(23, "log-log", (0.0, 0.2))
    assert json.dumps(again) == json.dumps(direct)  # every float back to the last bit
    assert clear_cache(tmp_path) == 1 and not list(tmp_path.iterdir())


def test_a_kept_entry_of_other_code_or_unreadable_is_simulated_again(tmp_path, monkeypatch):
    """An entry written by other code (its fingerprint differs), a broken file, or a disabled
    cache: the entry is simulated now, and (cache enabled) replaced."""
    import json

    import trial_reanalysis.analysis.inference.calibration as cal

    _fresh_on_the_fly(monkeypatch, tmp_path)
    expected = cal._on_the_fly(23, "log", (0.0, 0.0))
    [path] = tmp_path.glob("calibrations-*/n=*.json")
    calls = []
    real = cal.calibrate
    monkeypatch.setattr(cal, "calibrate", lambda *a, **k: calls.append(a) or real(*a, **k))
    for broken in (
        json.dumps({**expected, "alpha": [1, 1, 1, 1], "code": "other code"}),
        "{not json",
    ):
        path.write_text(broken)
        cal._on_the_fly.cache_clear()
        assert json.dumps(cal._on_the_fly(23, "log", (0.0, 0.0))) == json.dumps(expected)
        assert json.loads(path.read_text())["code"] == cal._code_fingerprint()  # replaced
    assert len(calls) == 2
    # the code's fingerprint follows its source: another source, another folder
    assert path.parent.name == f"calibrations-{cal._code_fingerprint()[:16]}"
    monkeypatch.setenv("TRIAL_REANALYSIS_MODEL_CACHE", "off")
    cal._on_the_fly.cache_clear()
    assert json.dumps(cal._on_the_fly(23, "log", (0.0, 0.0))) == json.dumps(expected)
    assert len(calls) == 3


def test_without_the_code_source_nothing_is_kept(tmp_path, monkeypatch):
    """A bytecode-only install has no source to fingerprint: entries are simulated, not kept."""
    import trial_reanalysis.analysis.inference.calibration as cal

    _fresh_on_the_fly(monkeypatch, tmp_path)
    monkeypatch.setattr(cal, "_code_fingerprint", lambda: "")
    entry = cal._on_the_fly(23, "plain", (0.0, 0.0))
    assert entry["n"] == 23 and not list(tmp_path.iterdir())
