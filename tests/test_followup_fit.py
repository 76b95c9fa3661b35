"""The Beta-mixture fit behind the follow-up and MAP priors: its analytic gradient, the optimum it
reaches against SciPy's finite-difference L-BFGS-B, the EM start's early stop, small draw sets."""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy import optimize, special, stats
from threadpoolctl import threadpool_limits

import trial_reanalysis.analysis.planning.followup as followup
from trial_reanalysis.analysis.planning.followup import (
    _em_start,
    _fit_k,
    _group_start,
    _neg_loglik_and_grad,
    beta_moment_match,
    fit_beta_mixture,
)


def _params(th: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(weights, alpha, beta) of the unconstrained vector, written out here (softmax, exp)."""
    lw = np.concatenate([[0.0], th[: k - 1]])
    return np.exp(lw) / np.exp(lw).sum(), np.exp(th[k - 1 : 2 * k - 1]), np.exp(th[2 * k - 1 :])


def _loglik(th: np.ndarray, k: int, x: np.ndarray) -> float:
    """Mixture log likelihood from scipy.stats' Beta log density and SciPy's logsumexp."""
    w, a, b = _params(th, k)
    comp = np.log(w)[:, None] + stats.beta.logpdf(x[None, :], a[:, None], b[:, None])
    return float(np.sum(special.logsumexp(comp, axis=0)))


def _richardson_gradient(f, th: np.ndarray, h: float = 1e-3) -> np.ndarray:
    """Central differences at steps h and h/2, Richardson-extrapolated (error O(h^4))."""
    out = np.empty_like(th)
    for i in range(th.size):
        e = np.zeros_like(th)
        e[i] = 1.0
        d1 = (f(th + h * e) - f(th - h * e)) / (2 * h)
        d2 = (f(th + h / 2 * e) - f(th - h / 2 * e)) / h
        out[i] = (4 * d2 - d1) / 3
    return out


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


@pytest.mark.parametrize("k", [1, 2, 3])
@pytest.mark.parametrize("case", ["seed", "narrow_at_0", "bimodal"])
def test_gradient_matches_finite_differences(k: int, case: str) -> None:
    """Value: the scipy.stats log likelihood (rel 1e-12). Gradient: extrapolated central
    differences of that log likelihood at random points, within 1e-6 of its norm."""
    x = np.clip(DRAWS[case][:300], 1e-12, 1 - 1e-12)
    lx, l1x = np.log(x), np.log1p(-x)
    rng = np.random.default_rng(k)
    for _ in range(3):
        th = np.concatenate(
            [rng.normal(0.0, 1.0, k - 1), rng.uniform(-1.0, 7.0, 2 * k)]  # a, b in 0.37..1100
        )
        value, grad = _neg_loglik_and_grad(th, k, lx, l1x)
        assert -value == pytest.approx(_loglik(th, k, x), rel=1e-12)
        reference = -_richardson_gradient(lambda t: _loglik(t, k, x), th)
        assert np.linalg.norm(grad - reference) <= 1e-6 * np.linalg.norm(reference)
        # SciPy's own (forward-difference) check agrees at its resolution
        err = optimize.check_grad(
            lambda t: -_loglik(t, k, x), lambda t: _neg_loglik_and_grad(t, k, lx, l1x)[1], th
        )
        assert err <= 1e-4 * np.linalg.norm(reference)


@pytest.mark.parametrize("case", ["seed", "narrow_at_0_a_below_1", "narrow_at_1", "u_shaped"])
def test_one_component_fit_is_the_beta_maximum_likelihood(case: str) -> None:
    """K = 1: the Beta MLE solves psi(a) - psi(a + b) = mean log x, psi(b) - psi(a + b) =
    mean log(1 - x); root-found here to a residual below 1e-12. (SciPy's defaults with finite
    differences stopped 2.5e-4 away from it on the seed run's 20,000 rate draws.)"""
    x = np.clip(DRAWS[case], 1e-12, 1 - 1e-12)
    g = np.array([np.mean(np.log(x)), np.mean(np.log1p(-x))])

    def score(p: np.ndarray) -> np.ndarray:
        a, b = np.exp(p)
        return special.psi([a, b]) - special.psi(a + b) - g

    a0, b0 = beta_moment_match(x)
    root = optimize.root(score, np.log([a0, b0]), tol=1e-14)
    assert np.max(np.abs(score(root.x))) < 1e-12
    mix, _ = _fit_k(x, 1)
    np.testing.assert_allclose([mix.alpha[0], mix.beta[0]], np.exp(root.x), rtol=1e-6)


def _finite_difference_fit(x: np.ndarray, k: int) -> float:
    """The previous fit: L-BFGS-B from the same EM start with SciPy's finite differences and
    default tolerances, on the scipy.stats log likelihood. Returns the log likelihood reached."""
    lx, l1x = np.log(x), np.log1p(-x)

    def loglik(th: np.ndarray) -> float:  # the Beta density written out (faster than stats')
        w, a, b = _params(th, k)
        comp = (a - 1)[:, None] * lx + (b - 1)[:, None] * l1x - special.betaln(a, b)[:, None]
        return float(np.sum(special.logsumexp(np.log(w)[:, None] + comp, axis=0)))

    w, a, b = _em_start(x, k)
    start = np.concatenate([np.log(w[1:] / w[0]), np.log(a), np.log(b)])
    assert loglik(start) == pytest.approx(_loglik(start, k, x), rel=1e-12)
    bounds = [(-20, 20)] * (k - 1) + [(np.log(0.05), np.log(1e5))] * (2 * k)
    with threadpool_limits(1, user_api="blas"):  # speed only (see test below)
        res = optimize.minimize(lambda t: -loglik(t), start, method="L-BFGS-B", bounds=bounds)
    return max(-res.fun, loglik(start))


@pytest.mark.parametrize("case", sorted(DRAWS))
def test_fit_reaches_the_finite_difference_optimum_and_bic_choice(case: str) -> None:
    """For K = 1, 2, 3 the analytic-gradient fit's log likelihood (recomputed with scipy.stats
    from the mixture it returns) is at least the finite-difference optimum's minus 1e-6, and the
    BIC choice of K is the same."""
    x = np.clip(DRAWS[case], 1e-12, 1 - 1e-12)
    bics_fd = {}
    for k in (1, 2, 3):
        mix, loglik = _fit_k(x, k)
        w, a, b = (np.asarray(v) for v in (mix.weights, mix.alpha, mix.beta))
        comp = np.log(w)[:, None] + stats.beta.logpdf(x[None, :], a[:, None], b[:, None])
        assert loglik == pytest.approx(np.sum(special.logsumexp(comp, axis=0)), rel=1e-12)
        fd = _finite_difference_fit(x, k)
        assert loglik >= fd - 1e-6, (k, loglik, fd)
        bics_fd[k] = -2 * fd + (3 * k - 1) * math.log(x.size)
    fit, bics = fit_beta_mixture(x)
    assert fit.n_components == min(bics_fd, key=bics_fd.__getitem__)
    assert min(bics, key=bics.__getitem__) == fit.n_components


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


def test_optimiser_runs_with_one_blas_thread(monkeypatch: pytest.MonkeyPatch) -> None:
    """L-BFGS-B runs with every BLAS pool at one thread; the previous limits come back after."""
    import threadpoolctl

    def blas_threads() -> list[int]:
        return [
            p["num_threads"] for p in threadpoolctl.threadpool_info() if p["user_api"] == "blas"
        ]

    seen = []
    minimize = optimize.minimize

    def spy(*args, **kwargs):
        seen.append(blas_threads())
        return minimize(*args, **kwargs)

    monkeypatch.setattr(followup.optimize, "minimize", spy)
    before = blas_threads()
    fit_beta_mixture(DRAWS["bimodal"])
    assert seen and all(t == [1] * len(before) for t in seen)
    assert blas_threads() == before
