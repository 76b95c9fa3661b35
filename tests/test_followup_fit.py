"""The Beta-mixture fit behind the follow-up and MAP priors: the EM start's early stop, small
draw sets."""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy import special

import trial_reanalysis.analysis.planning.followup as followup
from trial_reanalysis.analysis.planning.followup import (
    _em_start,
    _group_start,
    beta_moment_match,
    fit_beta_mixture,
)


def _draws(rng: np.random.Generator) -> dict[str, np.ndarray]:
    """The seed trial's rate posterior Beta(15, 34) and hostile sets: narrow near 0 and 1, a
    100 % rate's posterior, U-shaped, bimodal, and 10 draws."""
    bimodal = np.where(rng.random(2000) < 0.5, rng.beta(5, 50, 2000), rng.beta(50, 5, 2000))
    return {
        "seed": rng.beta(15, 34, 4000),
        "narrow_at_0": rng.beta(2, 20000, 2000),
        "narrow_at_0_a_below_1": rng.beta(0.6, 3000, 2000),
        "narrow_at_1": rng.beta(20000, 3, 2000),
        "all_responded": rng.beta(35, 1, 2000),
        "u_shaped": rng.beta(0.3, 0.4, 2000),
        "bimodal": bimodal,
        "ten": rng.beta(15, 34, 10),
        "ten_bimodal": np.r_[rng.beta(5, 50, 5), rng.beta(50, 5, 5)],
    }


DRAWS = _draws(np.random.default_rng(20240611))


@pytest.mark.parametrize(
    ("case", "k"), [("seed", 1), ("bimodal", 2), ("ten_bimodal", 3), ("seed", 2)]
)
def test_em_start_stops_at_a_fixed_point_with_the_bits_of_all_iterations(
    case: str, k: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Stopping where an EM iteration changes no bit gives the state of all EM_ITERATIONS
    iterations (iterated here from the same start), in fewer when the EM settles."""
    x = np.clip(DRAWS[case], 1e-12, 1 - 1e-12)
    calls = []
    step = followup._em_step
    monkeypatch.setattr(followup, "_em_step", lambda *a: calls.append(1) or step(*a))
    got = _em_start(x, k)
    groups = np.array_split(np.sort(x), k)
    a, b = np.array([_group_start(g) for g in groups]).T
    state = (np.full(k, 1.0 / k), a, b)
    logs = (special.xlogy(1.0, x), special.xlog1py(1.0, -x))
    for _ in range(followup.EM_ITERATIONS):
        state = step(x, logs, *state)
    for p, q in zip(got, state, strict=True):
        np.testing.assert_array_equal(p, q)
    if k == 1:  # all responsibilities are 1: the second iteration repeats the first
        assert len(calls) == 2
    elif case == "seed":  # two components of one Beta: the EM drifts, all iterations run
        assert len(calls) == followup.EM_ITERATIONS
    else:  # separated modes: the EM settles (3 and 45 iterations here)
        assert len(calls) < followup.EM_ITERATIONS


def test_group_start_is_the_moment_match_and_takes_small_groups() -> None:
    """Ten draws or more: beta_moment_match's bits. Fewer (a K = 3 start on 10 draws): still a
    moment match; a group whose variance is too large for a Beta, or 0, starts at Beta(1, 1)."""
    x = DRAWS["seed"][:50]
    assert _group_start(x) == beta_moment_match(x)
    few = DRAWS["seed"][:3]
    a, b = _group_start(few)
    m, v = few.mean(), few.var(ddof=1)
    assert a / (a + b) == pytest.approx(m, rel=1e-12)
    assert a * b / ((a + b) ** 2 * (a + b + 1)) == pytest.approx(v, rel=1e-10)
    assert _group_start(np.array([1e-12, 1 - 1e-12])) == (1.0, 1.0)
    assert _group_start(np.array([0.3, 0.3, 0.3])) == (1.0, 1.0)


def test_fit_of_ten_draws() -> None:
    """Ten draws, the fewest accepted: every K is fitted (a K = 2 start split them in groups of
    5, which beta_moment_match refused)."""
    _, bics = fit_beta_mixture(DRAWS["ten"])
    assert sorted(bics) == [1, 2, 3] and all(math.isfinite(v) for v in bics.values())
