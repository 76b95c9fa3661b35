"""Each diagnostic gate tripped by a posterior built to fail it (``az.from_dict``), and the retry.

References are independent of the package: ArviZ's own ``rhat``/``ess`` on the raw arrays, the
E-BFMI computed here by hand (Betancourt 2016, per chain), divergences counted here, and a fake
compiled model that records its fits.
Written to kill the mutants of ``tools/mutants.py`` (tests/mutation/RESULTS.md).
"""

from __future__ import annotations

import arviz as az
import numpy as np
import pytest

from trial_reanalysis.analysis.inference.diagnostics import (
    GATES,
    FitDiagnostics,
    check_diagnostics,
    fit_with_gates,
)
from trial_reanalysis.analysis.inference.fitting import SamplerSettings

CHAINS, DRAWS = 4, 1000


def _ar1(rng: np.random.Generator, rho: float, shape=(CHAINS, DRAWS)) -> np.ndarray:
    """Stationary AR(1) chains with lag-1 correlation rho and unit marginal variance."""
    e = rng.standard_normal(shape) * np.sqrt(1 - rho**2)
    y = np.empty(shape)
    y[:, 0] = rng.standard_normal(shape[0])
    for t in range(1, shape[1]):
        y[:, t] = rho * y[:, t - 1] + e[:, t]
    return y


def _idata(posterior: dict, *, diverging=None, energy=None) -> az.InferenceData:
    rng = np.random.default_rng(99)
    stats = {
        "diverging": np.zeros((CHAINS, DRAWS), bool) if diverging is None else diverging,
        "energy": rng.standard_normal((CHAINS, DRAWS)) if energy is None else energy,
    }
    return az.from_dict(posterior=posterior, sample_stats=stats)


def _good(seed: int) -> np.ndarray:
    return np.random.default_rng(seed).standard_normal((CHAINS, DRAWS))


def test_iid_posterior_passes_and_summary_is_the_worst_over_parameters() -> None:
    a, b = _good(1), _ar1(np.random.default_rng(2), 0.5)
    d = check_diagnostics(_idata({"a": a, "b": b}), model="m", label="ok")
    assert d.passed and d.failures == []
    s = d.summary()
    # ArviZ directly on the arrays, worst parameter
    assert s["ess_tail_min"] == pytest.approx(
        min(az.ess(a, method="tail"), az.ess(b, method="tail")), rel=1e-9
    )
    assert s["ess_bulk_min"] == pytest.approx(
        min(az.ess(a, method="bulk"), az.ess(b, method="bulk")), rel=1e-9
    )
    assert s["r_hat_max"] == pytest.approx(max(az.rhat(a), az.rhat(b)), rel=1e-12)
    assert s["passed"] is True and s["divergences"] == 0


def test_r_hat_between_1_01_and_1_1_fails_the_gate() -> None:
    x = _good(3) + np.array([0.0, 0.0, 0.0, 0.5])[:, None]  # one chain off by 0.5 sd
    r_hat = float(az.rhat(x))
    assert 1.01 < r_hat < 1.1  # the case a 1.1 gate would let through
    d = check_diagnostics(_idata({"theta": x}), model="m", label="rhat")
    assert not d.passed
    assert [f for f in d.failures if f.startswith("theta: R-hat")]
    assert GATES.r_hat_max == 1.01


def test_bulk_ess_between_100_and_400_fails_the_gate() -> None:
    x = _ar1(np.random.default_rng(4), 0.9)
    ess = float(az.ess(x, method="bulk"))
    assert 100 < ess < 400
    d = check_diagnostics(_idata({"theta": x}), model="m", label="ess")
    assert any(f.startswith("theta: ess bulk ESS") for f in d.failures)
    assert GATES.ess_min == 400


def test_tail_ess_below_400_is_its_own_failure() -> None:
    x = _ar1(np.random.default_rng(5), 0.96)
    assert az.ess(x, method="tail") < 400
    d = check_diagnostics(_idata({"theta": x}), model="m", label="tail")
    tail = [f for f in d.failures if f.startswith("theta: ess tail ESS")]
    assert len(tail) == 1 and "tails" in tail[0]
    assert d.summary()["ess_tail_min"] == pytest.approx(az.ess(x, method="tail"), rel=1e-9)


def test_a_few_divergences_fail_and_are_counted_not_averaged() -> None:
    div = np.zeros((CHAINS, DRAWS), bool)
    div[0, 10] = div[2, 500] = div[3, 999] = True  # 3 of 4000 transitions
    d = check_diagnostics(_idata({"theta": _good(6)}, diverging=div), model="m", label="div")
    assert d.divergences == 3
    assert d.failures == [d.failures[0]] and d.failures[0].startswith("3 divergent transitions")
    assert d.summary()["divergences"] == 3 and not d.summary()["passed"]


def test_ebfmi_is_the_worst_chain_by_hand() -> None:
    rng = np.random.default_rng(7)
    energy = rng.standard_normal((CHAINS, DRAWS))  # E-BFMI about 2
    energy[1] = _ar1(rng, 0.875, (1, DRAWS))[0]  # E-BFMI about 2 (1 - rho) = 0.25
    # Betancourt (2016) eq. 3: sum of squared energy changes over the sum of squared deviations
    centred = energy - energy.mean(axis=1, keepdims=True)
    by_hand = np.sum(np.diff(energy, axis=1) ** 2, axis=1) / np.sum(centred**2, axis=1)
    assert 0.2 < by_hand[1] < 0.3 and np.all(np.delete(by_hand, 1) > 1.5)
    d = check_diagnostics(_idata({"theta": _good(8)}, energy=energy), model="m", label="bfmi")
    assert d.ebfmi_min == pytest.approx(by_hand.min(), rel=1e-12)
    assert len(d.failures) == 1 and d.failures[0].startswith("E-BFMI 0.2")
    assert GATES.ebfmi_min == 0.3


def test_failures_make_passed_false() -> None:
    d = FitDiagnostics("m", "x", None, 0, 1.0, ["theta: R-hat 1.2 > 1.01"])
    assert d.passed is False
    assert FitDiagnostics("m", "x", None, 0, 1.0, []).passed is True


class _FakeCompiled:
    """Stands for a CompiledModel: hands out prepared posteriors and records each fit's call."""

    name = "fake"

    def __init__(self, results: list[az.InferenceData]) -> None:
        self.results = list(results)
        self.calls: list[tuple[int, SamplerSettings]] = []

    def fit(self, data, *, seed: int, settings: SamplerSettings) -> az.InferenceData:
        self.calls.append((seed, settings))
        return self.results.pop(0)


def test_a_failed_fit_is_refitted_with_stricter_settings_and_the_refit_is_returned() -> None:
    bad = _idata({"theta": _ar1(np.random.default_rng(9), 0.97)})
    good = _idata({"theta": _good(10)})
    fake = _FakeCompiled([bad, good])
    idata, d = fit_with_gates(fake, None, seed=41, label="x", settings=SamplerSettings())
    assert idata is good and d.passed and d.retried
    assert [c[0] for c in fake.calls] == [41, 42]
    first, second = fake.calls[0][1], fake.calls[1][1]
    assert second.tune == 3 * first.tune and second.target_accept == 0.95


def test_a_failed_refit_allowed_through_is_flagged() -> None:
    bad = [_idata({"theta": _ar1(np.random.default_rng(s), 0.97)}) for s in (11, 12)]
    fake = _FakeCompiled(bad)
    idata, d = fit_with_gates(fake, None, seed=1, label="x", allow_failed=True)
    assert idata is bad[1] and len(fake.calls) == 2
    assert d.retried and not d.passed and d.summary()["passed"] is False
