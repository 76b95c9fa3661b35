"""Priors for a follow-up trial, derived from this trial's posterior draws (DESIGN.md section 5).

Every function here is a pure function of posterior draws (numpy arrays), so it is tested without
MCMC. For each endpoint it returns a list of prior dicts, each with the keys

``name, family, variable, parameters, ess, ess_method, pymc, stan``

(``results.json`` keeps them under ``followup_priors: {<endpoint>: [...]}``; the keys ``name,
family, parameters, ess`` are the contract, the others are extra). Endpoint keys are flat strings:
``"burden_reduction"``, ``"pfs"`` and ``"adverse_events.<ae>"`` (e.g. ``"adverse_events.ppe"``).

Families and parameters
-----------------------
* ``beta``: ``{"alpha", "beta"}`` — density proportional to theta^(alpha-1) (1-theta)^(beta-1).
* ``beta_mixture``: ``{"weights", "alpha", "beta"}`` (lists, one entry per component).
* ``mvnormal``: on ``[log median_pfs (the endpoint's time unit), log weibull_shape]``:
  ``{"variables", "mean", "sd", "correlation", "cov"}``.
* ``normal``: ``{"mu", "sigma"}`` on a log odds ratio.

Conventions
-----------
* Power-prior discounting with weight d of a Beta(a, b) posterior obtained from a uniform initial
  prior: the posterior carries a - 1 successes and b - 1 failures; raising that likelihood to d
  gives Beta(1 + d(a - 1), 1 + d(b - 1)). For normal priors the covariance is inflated by 1/d.
* Effective sample size (ESS), in patients:
  - Beta(a, b): a + b (moment-based; equals the ELIR of a Beta).
  - Beta mixtures: expected local information ratio (ELIR; Neuenschwander, Weber, Schmidli and
    O'Hagan, Biometrics 2020), E_prior[i_prior(theta) / i_F(theta)] with the Bernoulli unit
    information i_F = 1 / (theta (1 - theta)). Writing the mixture's observed information as the
    responsibility-weighted component information minus the responsibility variance of the
    component scores gives ELIR = sum_k w_k (a_k + b_k) - E_p[theta (1 - theta) Var_r(score)], the
    last term by quadrature; for one component it is exactly a + b.
  - PFS bivariate normal: information-based relative to one *uncensored* Weibull observation.
    With c = log median and s = log shape, one observation has Fisher information
    I1 = [[k^2, k g], [k g, g^2 + pi^2 / 6]] with g = log(log 2) - 1 + Euler's gamma and k the
    shape at the prior's centre. Per parameter, ESS_j = (I1^-1)_jj / Var_prior(j) (the number of
    patients whose maximum-likelihood estimate has the prior's variance); overall,
    ESS = sqrt(det(I1^-1) / det(Cov_prior)) (generalised variance). Censoring lowers the unit
    information, so these are patients followed to progression.
  - Log odds ratio, normal with sd sigma: a 1:1 two-group comparison of n patients with event
    rate p in both groups has Var(log OR) ~ 4 / (n p (1 - p)), so ESS = 4 / (p (1 - p) sigma^2).
    p is the AE's overall event rate when given (``event_rate`` draws or ``ae_event_rates``),
    otherwise 0.5, which gives the smallest ESS (a lower bound; stated in ``ess_method``).
* ESS with and without the analysis prior (issue 13 item 4). ``ess`` counts everything the
  follow-up prior holds, the analysis prior's own information included. When the analysis prior
  of the draws is given (:func:`endpoint_followup_priors`' ``analysis_priors``), each prior also
  carries ``ess_analysis_prior`` (the analysis prior's share), ``ess_without_analysis_prior``
  (the data's share) and ``ess_note`` (which is which):
  - Beta and Beta mixtures: ``ess`` minus the analysis prior's share (a0 + b0; discounted for a
    power prior, weighted for the robust mixture), as :func:`beta_analysis_share` says.
  - Normal (log OR) and bivariate normal (PFS): the posterior precision is the analysis prior's
    precision plus the data's (normal approximation), so the data's information is the follow-up
    prior's precision minus the analysis prior's, on the same scale, and its ESS is the same
    unit-information ESS applied to that difference: for a log OR, 4/(p(1-p)) (1/sigma^2 -
    1/s0^2) = ESS(sigma) (1 - sigma^2/s0^2); for PFS, Cov^-1 - Cov0^-1 with Cov0 the lognormal
    analysis prior's diag(sd_median^2, sd_shape^2) on the logs. A power prior of weight d
    inflates the whole covariance by 1/d, so it holds d times each part: its data share is d
    times the undiscounted one, as for the rate (whose power priors keep the uniform initial
    prior and discount the data alone). A difference that is not positive (the analysis prior is
    not weaker than the follow-up prior: prior-data conflict, or a prior stronger than the data)
    is clipped at 0 (for PFS, eigenvalues below 0), and ``ess_note`` says so.
  Without a known analysis prior ``ess_note`` says that ``ess`` includes the analysis prior.
"""

from __future__ import annotations

import functools
import json
import math
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from scipy import integrate, optimize, special, stats
from threadpoolctl import ThreadpoolController

from trial_reanalysis.analysis.provenance import jsonable

#: Default weight of the vague Beta(1, 1) component of the robust mixture.
ROBUST_WEIGHT = 0.2
#: Power-prior weights of the discounted versions.
DISCOUNTS = (0.5, 0.25)
#: Component counts tried when fitting a Beta mixture to draws (chosen by BIC).
MIXTURE_COMPONENTS = (1, 2, 3)
#: Significant digits of every number written in a prior (stable JSON and code strings).
SIGNIFICANT_DIGITS = 6
#: Draws used at most in a mixture fit (more are thinned deterministically).
MAX_FIT_DRAWS = 20_000

RATE_VARIABLE = "burden_reduction_rate"
PFS_VARIABLE = "log_pfs"
PFS_COMPONENTS = ("log_median_pfs", "log_weibull_shape")
ELIR_METHOD = "ELIR (Neuenschwander et al. 2020), Bernoulli unit information"
BETA_ESS_METHOD = "a + b (Beta; equals ELIR)"
_EULER = float(np.euler_gamma)


def _sig(x: float, digits: int = SIGNIFICANT_DIGITS) -> float:
    """``x`` rounded to ``digits`` significant digits, as a plain float."""
    x = float(x)
    if x == 0.0 or not math.isfinite(x):
        return x
    return float(f"{x:.{digits}g}")


def _fmt(x: float) -> str:
    """Float literal for code strings (always with a decimal point)."""
    return repr(_sig(x))


# ---------------------------------------------------------------------------------------------
# Beta mixtures
# ---------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class BetaMixture:
    """A mixture of Beta distributions on a proportion (a single Beta is one component).

    Attributes:
        weights: component weights (sum to 1).
        alpha, beta: component shape parameters (> 0; Beta(0, b) is allowed as a one-component
            limiting prior for planning only).
    """

    weights: tuple[float, ...]
    alpha: tuple[float, ...]
    beta: tuple[float, ...]

    def __post_init__(self) -> None:
        w, a, b = (np.asarray(v, dtype=float) for v in (self.weights, self.alpha, self.beta))
        if not (w.shape == a.shape == b.shape) or w.ndim != 1 or w.size == 0:
            raise ValueError("weights, alpha and beta must be equal-length non-empty sequences")
        if np.any(w < 0) or not np.isclose(w.sum(), 1.0, atol=1e-6):
            raise ValueError(f"weights must be non-negative and sum to 1, got {w.tolist()}")
        if np.any(a < 0) or np.any(b <= 0) or (w.size > 1 and np.any(a <= 0)):
            raise ValueError("Beta parameters must be positive")

    @classmethod
    def single(cls, alpha: float, beta: float) -> BetaMixture:
        """One Beta(alpha, beta)."""
        return cls((1.0,), (float(alpha),), (float(beta),))

    @property
    def arrays(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """(weights, alpha, beta) as float arrays."""
        return tuple(np.asarray(v, dtype=float) for v in (self.weights, self.alpha, self.beta))

    @property
    def n_components(self) -> int:
        """Number of components."""
        return len(self.weights)

    def mean(self) -> float:
        """Mean (fraction)."""
        w, a, b = self.arrays
        return float(np.sum(w * a / (a + b)))

    def var(self) -> float:
        """Variance."""
        w, a, b = self.arrays
        m = a / (a + b)
        second = m * (a + 1) / (a + b + 1)
        return float(np.sum(w * second) - self.mean() ** 2)

    def pdf(self, x: np.ndarray) -> np.ndarray:
        """Density at ``x``."""
        w, a, b = self.arrays
        x = np.asarray(x, dtype=float)
        return np.sum(w * stats.beta.pdf(x[..., None], a, b), axis=-1)

    def cdf(self, x: np.ndarray) -> np.ndarray:
        """Distribution function at ``x``."""
        w, a, b = self.arrays
        x = np.asarray(x, dtype=float)
        return np.sum(w * stats.beta.cdf(x[..., None], a, b), axis=-1)

    def ppf(self, q: np.ndarray) -> np.ndarray:
        """Quantiles (by root finding on the cdf)."""
        q = np.atleast_1d(np.asarray(q, dtype=float))
        out = [optimize.brentq(lambda t, qq=qq: float(self.cdf(t)) - qq, 0.0, 1.0) for qq in q]
        return np.asarray(out)

    def to_parameters(self) -> dict[str, list[float]]:
        """``{"weights", "alpha", "beta"}`` lists (rounded)."""
        return {
            "weights": [_sig(v) for v in self.weights],
            "alpha": [_sig(v) for v in self.alpha],
            "beta": [_sig(v) for v in self.beta],
        }

    @classmethod
    def from_prior(cls, prior: Mapping[str, Any]) -> BetaMixture:
        """From a prior dict of family ``beta`` or ``beta_mixture`` (as written by this module)."""
        family = prior.get("family")
        p = prior.get("parameters", {})
        if family == "beta":
            return cls.single(p["alpha"], p["beta"])
        if family == "beta_mixture":
            return cls(tuple(p["weights"]), tuple(p["alpha"]), tuple(p["beta"]))
        raise ValueError(f"not a Beta or Beta-mixture prior: family {family!r}")


def beta_moment_match(draws: np.ndarray) -> tuple[float, float]:
    """Beta(a, b) with the draws' mean and variance (draws are fractions in (0, 1))."""
    x = _check_unit(draws)
    m, v = float(np.mean(x)), float(np.var(x, ddof=1))
    if not v < m * (1 - m):
        raise ValueError("draws' variance too large for a Beta with their mean")
    common = m * (1 - m) / v - 1
    return m * common, (1 - m) * common


def beta_ess(alpha: float, beta: float) -> float:
    """Moment-based ESS of Beta(alpha, beta): alpha + beta (patients)."""
    return float(alpha + beta)


def mixture_ess_elir(mix: BetaMixture) -> float:
    """ELIR effective sample size (patients) of a Beta mixture; a + b for a single Beta.

    ELIR = E_p[-(log p)''(theta) theta (1 - theta)]. With responsibilities r_k(theta),
    -(log p)'' = sum_k r_k i_k - Var_r(score_k), i_k = (a_k-1)/theta^2 + (b_k-1)/(1-theta)^2, and
    E_k[theta (1-theta) i_k] = b_k [a_k > 1] + a_k [b_k > 1] (the 1/theta^2 term contributes
    nothing when a_k = 1, and makes the information -infinite near 0 when a_k < 1). So a vague
    Beta(1, 1) component adds 0, and a component with a or b below 1 leaves ELIR undefined (NaN).
    """
    w, a, b = mix.arrays
    if np.any(a < 1) or np.any(b < 1):
        return float("nan")
    base = float(np.sum(w * (np.where(a > 1, b, 0.0) + np.where(b > 1, a, 0.0))))
    if mix.n_components == 1:
        return base
    return base - _elir_correction(w, a, b)


#: Lower end of the ELIR quadrature in s = log theta (and log(1 - theta)): the integrand is
#: finite there (theta underflows to 0 but s is used directly) and is about C d^2 e^(d s), d the
#: gap between the two smallest a_k (b_k), so what lies below is about C d e^(-2000 d) <= C / 5400
#: (a component with b = 1.00004 beside Beta(1, 1), from a 100 % rate, made quadrature to -inf
#: warn "probably divergent").
_ELIR_S_FLOOR = -2000.0


def _elir_correction(w: np.ndarray, a: np.ndarray, b: np.ndarray) -> float:
    """E_p[theta (1 - theta) Var_r(score)] of a Beta mixture (every a, b >= 1), by quadrature.

    Each half of (0, 1) is integrated in s = log theta (lower) or s = log(1 - theta) (upper) over
    (-inf, log 1/2], with theta * score_k = (a_k - 1) - (b_k - 1) theta / (1 - theta) (upper:
    the mirror image), so nothing overflows near 0 or 1. Near 0 the integrand behaves like
    theta^(d - 1), d the gap between the two smallest a_k: a component with a_k just above 1
    puts much of the integral at theta < 1e-100, which quadrature on (0, 1) misses (it warned
    and lost about 2e-4 on a MAP robust prior); in s that tail is a smooth exponential,
    integrated on its own from :data:`_ELIR_S_FLOOR` to s_min; above it, quadrature is told
    where the components' means lie, so it cannot step over a narrow peak (a + b of 10^4 and
    more).
    """
    log_w = np.log(w) - special.betaln(a, b)

    def half(s: float, lower: bool) -> float:
        e = math.exp(s)
        rest = -math.expm1(s)
        log_rest = math.log1p(-e)
        ratio = e / rest
        if lower:  # theta = e^s
            log_t, log_u, scaled = s, log_rest, (a - 1) - (b - 1) * ratio
        else:  # 1 - theta = e^s
            log_t, log_u, scaled = log_rest, s, (a - 1) * ratio - (b - 1)
        logf = log_w + (a - 1) * log_t + (b - 1) * log_u
        top = special.logsumexp(logf)
        r = np.exp(logf - top)
        mean = float(np.sum(r * scaled))
        return math.exp(top) * rest * float(np.sum(r * (scaled - mean) ** 2))

    means = a / (a + b)
    total = 0.0
    for lower, centres in ((True, means[means < 0.5]), (False, 1 - means[means > 0.5])):
        # Peaks at the components' means (quad must not step over a narrow one), and a smooth
        # exponential tail below s_min.
        peaks = sorted({math.log(c) for c in centres if 0 < c < 0.5})
        s_min = min([-50.0, *(p - 10.0 for p in peaks)])
        total += integrate.quad(half, _ELIR_S_FLOOR, s_min, args=(lower,), limit=200)[0]
        total += integrate.quad(
            half, s_min, math.log(0.5), args=(lower,), limit=400, points=peaks or None
        )[0]
    return total


def _check_unit(draws: np.ndarray) -> np.ndarray:
    x = np.asarray(draws, dtype=float).ravel()
    if x.size < 10 or not np.all(np.isfinite(x)) or np.any((x < 0) | (x > 1)):
        raise ValueError("rate draws must be at least 10 finite fractions in [0, 1]")
    return np.clip(x, 1e-12, 1 - 1e-12)


def logsumexp_rows(a: np.ndarray, axis: int | None = None) -> np.ndarray | np.float64:
    """``scipy.special.logsumexp(a, axis=axis)`` for real float64 ``a``, the same bits, faster.

    SciPy (1.15+) separates the largest element of each slice from the sum and adds
    ``log1p(rest / count of maxima) + log(count) + max``; this repeats those steps with plain
    NumPy (no array-API dispatch, no second pass over ``exp(a)`` unless a result is not finite,
    where SciPy's direct ``log(sum(exp(a)))`` is used as it does). The mixture fit's EM calls it
    about 700 times per run, so the dispatch cost counted (tests/test_followup.py checks bits).
    """
    a = np.asarray(a, dtype=float)
    if a.ndim == 0:
        a = a.reshape(1)
    axes = tuple(range(a.ndim)) if axis is None else axis
    with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
        a_max = np.max(a, axis=axes, keepdims=True)
        top = a == a_max
        m = np.sum(top.astype(a.dtype), axis=axes, keepdims=True, dtype=a.dtype)
        s = np.sum(np.exp(np.where(top, -np.inf, a) - a_max), axis=axes, keepdims=True)
        s = np.where(s == 0, s, s / m)
        sgn = np.sign(s + 1) * np.sign(m)
        s = np.where(s < -1, -s - 2, s)
        out = np.log1p(s) + np.log(np.abs(m)) + a_max
        out[sgn < 0] = np.nan
        finite = np.isfinite(out)
        if not finite.all():
            direct = np.log(np.sum(np.exp(a), axis=axes, keepdims=True))
            out = np.where(finite, out, direct)
    out = np.squeeze(out, axis=axes)
    return out[()] if out.ndim == 0 else out


def _mix_loglik(x_logs: tuple[np.ndarray, np.ndarray], w, a, b) -> float:
    lx, l1x = x_logs
    comp = (
        np.log(w)[:, None]
        + (a - 1)[:, None] * lx
        + (b - 1)[:, None] * l1x
        - special.betaln(a, b)[:, None]
    )
    return float(np.sum(logsumexp_rows(comp, axis=0)))


def _beta_logpdf_rows(
    xlog: np.ndarray, xlog1m: np.ndarray, a: np.ndarray, b: np.ndarray
) -> np.ndarray:
    """``stats.beta.logpdf(x[None, :], a[:, None], b[:, None])``, same bits, shape (K, N).

    SciPy's Beta log density is ``xlog1py(b - 1, -x) + xlogy(a - 1, x) - betaln(a, b)``, and
    ``xlogy(c, x)`` is ``c * log(x)`` (C ``log``; 0 when c = 0), so with ``xlog = xlogy(1, x)``
    and ``xlog1m = xlog1py(1, -x)`` computed once the per-iteration cost is two products. Valid
    for x in (0, 1) and a, b > 0 (what the mixture fit passes); a zero term may differ in sign
    only, which no sum sees.
    """
    out = (b - 1.0)[:, None] * xlog1m + (a - 1.0)[:, None] * xlog
    out -= special.betaln(a, b)[:, None]
    return out


def _unpack(th: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(weights, alpha, beta) of a K-component mixture from its unconstrained parameters
    ``th = (log w_2/w_1, ..., log w_K/w_1, log a_1, ..., log a_K, log b_1, ..., log b_K)``."""
    lw = np.concatenate([[0.0], th[: k - 1]])
    ww = np.exp(lw - logsumexp_rows(lw))
    return ww, np.exp(th[k - 1 : 2 * k - 1]), np.exp(th[2 * k - 1 :])


def _neg_loglik_and_grad(
    th: np.ndarray, k: int, lx: np.ndarray, l1x: np.ndarray
) -> tuple[float, np.ndarray]:
    """Negative mixture log likelihood at ``th`` (:func:`_unpack`) and its analytic gradient.

    With responsibilities r_ik and N_k = sum_i r_ik, d logL / d log(w_k/w_1) = N_k - N w_k and
    d logL / d log a_k = a_k sum_i r_ik (log x_i - psi(a_k) + psi(a_k + b_k)) (b_k alike, with
    log(1 - x_i)). ``lx``, ``l1x``: log x and log(1 - x) of the draws. One pass of ``exp`` gives
    both the log-sum-exp (max + log of the scaled sum; :func:`_mix_loglik` within rounding) and
    the responsibilities. Row sums, not BLAS products (a threaded gemv stalls on a busy machine).
    """
    w, a, b = _unpack(th, k)
    comp = (
        np.log(w)[:, None]
        + (a - 1)[:, None] * lx
        + (b - 1)[:, None] * l1x
        - special.betaln(a, b)[:, None]
    )
    top = comp.max(axis=0)
    e = np.exp(comp - top)
    s = e.sum(axis=0)
    r = e / s
    n_k = r.sum(axis=1)
    psi_ab = special.psi(a + b)
    grad = np.concatenate(
        [
            n_k[1:] - lx.size * w[1:],
            a * ((r * lx).sum(axis=1) - n_k * (special.psi(a) - psi_ab)),
            b * ((r * l1x).sum(axis=1) - n_k * (special.psi(b) - psi_ab)),
        ]
    )
    return -float(np.sum(top + np.log(s))), -grad


def _group_start(g: np.ndarray) -> tuple[float, float]:
    """Moment-matched Beta(a, b) of one group of draws (:func:`beta_moment_match`'s arithmetic,
    without its 10-draw minimum); Beta(1, 1) when the group's variance is 0 or too large."""
    m = float(np.mean(g))
    v = float(np.var(g, ddof=1)) if g.size > 1 else 0.0
    if not 0 < v < m * (1 - m):
        return 1.0, 1.0
    common = m * (1 - m) / v - 1
    return m * common, (1 - m) * common


#: Most EM iterations of the mixture fit's start (fewer when it reaches a fixed point).
EM_ITERATIONS = 100
#: L-BFGS-B options of the mixture fit. With the analytic gradient an iteration costs one
#: likelihood evaluation, so it can converge further than SciPy's defaults (ftol 2.2e-9, gtol
#: 1e-5), which stopped flat K = 2, 3 fits up to 3.5 log-likelihood units short (tests check it
#: reaches at least the finite-difference optimum).
LBFGS_OPTIONS: dict[str, float] = {"ftol": 1e-13, "gtol": 1e-7}


@functools.cache
def _blas_controller() -> ThreadpoolController:
    """The process's BLAS thread pools (threadpoolctl), found once. L-BFGS-B runs with one BLAS
    thread: its tiny products are not worth threads, and waking a pool of them cost about 2 ms
    per iteration (most of a fit's time) on a busy two-core machine."""
    return ThreadpoolController()


def _em_step(
    x: np.ndarray, logs: tuple[np.ndarray, np.ndarray], w: np.ndarray, a: np.ndarray, b: np.ndarray
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """One EM iteration with a weighted method-of-moments M-step: new (weights, alpha, beta).

    ``logs``: SciPy's ``xlogy(1, x)`` and ``xlog1py(1, -x)``. Inputs are not modified.
    """
    comp = np.log(w)[:, None] + _beta_logpdf_rows(*logs, a, b)
    resp = np.exp(comp - logsumexp_rows(comp, axis=0))
    w = np.clip(resp.mean(axis=1), 1e-6, None)
    w /= w.sum()
    a, b = a.copy(), b.copy()
    for j in range(len(w)):
        rj = resp[j] / resp[j].sum()
        m = float(np.sum(rj * x))
        v = float(np.sum(rj * (x - m) ** 2))
        if v > 0 and v < m * (1 - m):
            c = m * (1 - m) / v - 1
            a[j], b[j] = max(m * c, 0.05), max((1 - m) * c, 0.05)
    return w, a, b


def _em_start(x: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(weights, alpha, beta) to start the likelihood maximisation from: K groups of the sorted
    draws, moment-matched (:func:`_group_start`), then :data:`EM_ITERATIONS` of :func:`_em_step`,
    or fewer when one changes no bit (a fixed point: every further one would repeat it; one
    component gets there in two)."""
    groups = np.array_split(np.sort(x), k)
    a, b = np.array([_group_start(g) for g in groups]).T
    state = (np.full(k, 1.0 / k), a, b)
    logs = (special.xlogy(1.0, x), special.xlog1py(1.0, -x))
    for _ in range(EM_ITERATIONS):
        new = _em_step(x, logs, *state)
        if all(np.array_equal(p, q) for p, q in zip(state, new, strict=True)):
            break
        state = new
    return state


def _fit_k(x: np.ndarray, k: int) -> tuple[BetaMixture, float]:
    """Maximum-likelihood K-component Beta mixture: EM start (:func:`_em_start`), then L-BFGS-B
    with the analytic gradient (:func:`_neg_loglik_and_grad`)."""
    w, a, b = _em_start(x, k)
    lx, l1x = np.log(x), np.log1p(-x)
    start = np.concatenate([np.log(w[1:] / w[0]), np.log(a), np.log(b)])
    bounds = [(-20, 20)] * (k - 1) + [(np.log(0.05), np.log(1e5))] * (2 * k)
    with _blas_controller().limit(limits=1, user_api="blas"):
        res = optimize.minimize(
            _neg_loglik_and_grad,
            start,
            args=(k, lx, l1x),
            jac=True,
            method="L-BFGS-B",
            bounds=bounds,
            options=LBFGS_OPTIONS,
        )
    better = _mix_loglik((lx, l1x), *_unpack(res.x, k)) >= _mix_loglik((lx, l1x), w, a, b)
    th = res.x if better else start
    ww, aa, bb = _unpack(th, k)
    order = np.argsort(aa / (aa + bb))
    mix = BetaMixture(tuple(ww[order] / ww.sum()), tuple(aa[order]), tuple(bb[order]))
    return mix, _mix_loglik((lx, l1x), ww, aa, bb)


def fit_beta_mixture(
    draws: np.ndarray, components: tuple[int, ...] = MIXTURE_COMPONENTS
) -> tuple[BetaMixture, dict[int, float]]:
    """Beta mixture fitted to rate draws by maximum likelihood; K chosen by the lowest BIC.

    BIC = -2 log L + (3K - 1) log N over N draws (deterministically thinned to at most
    :data:`MAX_FIT_DRAWS`). Returns the chosen mixture (components ordered by mean) and the BIC of
    every K tried.
    """
    x = _check_unit(draws)
    if x.size > MAX_FIT_DRAWS:
        x = x[:: math.ceil(x.size / MAX_FIT_DRAWS)]
    bics: dict[int, float] = {}
    fits: dict[int, BetaMixture] = {}
    for k in components:
        mix, ll = _fit_k(x, k)
        fits[k] = mix
        bics[k] = -2 * ll + (3 * k - 1) * math.log(x.size)
    best = min(bics, key=bics.__getitem__)
    return fits[best], bics


def robust_mixture(mix: BetaMixture, weight: float = ROBUST_WEIGHT) -> BetaMixture:
    """``(1 - weight) * mix + weight * Beta(1, 1)``."""
    if not 0 < weight < 1:
        raise ValueError(f"robust weight must be in (0, 1), got {weight}")
    w, a, b = mix.arrays
    return BetaMixture(
        (*((1 - weight) * w).tolist(), weight), (*a.tolist(), 1.0), (*b.tolist(), 1.0)
    )


def power_discount_beta(alpha: float, beta: float, d: float) -> tuple[float, float]:
    """Power prior with weight d of Beta(alpha, beta) from a uniform initial prior."""
    if not 0 < d <= 1:
        raise ValueError(f"discount must be in (0, 1], got {d}")
    return 1 + d * (alpha - 1), 1 + d * (beta - 1)


# ---------------------------------------------------------------------------------------------
# Prior dicts (with PyMC / Stan one-liners)
# ---------------------------------------------------------------------------------------------


def _beta_prior(name: str, a: float, b: float, variable: str, note: str) -> dict[str, Any]:
    a, b = _sig(a), _sig(b)
    return {
        "name": name,
        "family": "beta",
        "variable": variable,
        "parameters": {"alpha": a, "beta": b},
        "ess": _sig(beta_ess(a, b)),
        "ess_method": BETA_ESS_METHOD,
        "description": note,
        "pymc": f'pm.Beta("{variable}", alpha={_fmt(a)}, beta={_fmt(b)})',
        "stan": f"{variable} ~ beta({_fmt(a)}, {_fmt(b)});",
    }


def _mixture_prior(name: str, mix: BetaMixture, variable: str, note: str) -> dict[str, Any]:
    params = mix.to_parameters()
    rounded = BetaMixture.from_prior({"family": "beta_mixture", "parameters": params})
    a_mm, b_mm = _moment_beta_of(rounded)
    elir = mixture_ess_elir(rounded)
    ws, as_, bs = params["weights"], params["alpha"], params["beta"]
    comps = ", ".join(
        f"pm.Beta.dist(alpha={_fmt(a)}, beta={_fmt(b)})" for a, b in zip(as_, bs, strict=True)
    )
    lpdfs = ", ".join(
        f"beta_lpdf({variable} | {_fmt(a)}, {_fmt(b)})" for a, b in zip(as_, bs, strict=True)
    )
    wlist = ", ".join(_fmt(w) for w in ws)
    out = {
        "name": name,
        "family": "beta_mixture",
        "variable": variable,
        "parameters": params,
        "ess": _sig(elir) if math.isfinite(elir) else _sig(a_mm + b_mm),
        "ess_method": ELIR_METHOD
        if math.isfinite(elir)
        else "moment-matched Beta a + b (ELIR undefined: a component has a or b < 1)",
        "ess_moment": _sig(a_mm + b_mm),
        "description": note,
        "pymc": f'pm.Mixture("{variable}", w=[{wlist}], comp_dists=[{comps}])',
        "stan": f"target += log_mix([{wlist}]', [{lpdfs}]');",
    }
    if len(ws) == 1:  # a one-component mixture is a Beta: plain one-liners
        out["pymc"] = f'pm.Beta("{variable}", alpha={_fmt(as_[0])}, beta={_fmt(bs[0])})'
        out["stan"] = f"{variable} ~ beta({_fmt(as_[0])}, {_fmt(bs[0])});"
    return out


def _moment_beta_of(mix: BetaMixture) -> tuple[float, float]:
    m, v = mix.mean(), mix.var()
    c = m * (1 - m) / v - 1
    return m * c, (1 - m) * c


#: ``ess_note`` of a rate's follow-up prior whose analysis prior is known.
BETA_ESS_NOTE = (
    "ess counts the analysis prior's information: a0 + b0 in the moment-matched Beta and the "
    "mixture, 2 + d (a0 + b0 - 2) in a power prior of weight d, (1 - w) (a0 + b0) in the robust "
    "mixture (approximate: ELIR is not additive); ess_without_analysis_prior = ess minus it"
)


def beta_analysis_share(name: str, analysis_prior_ess: float, robust_weight: float) -> float:
    """The analysis prior's share of a rate follow-up prior's ESS (patients).

    The exact posterior is Beta(a0 + x, b0 + n - x), so the moment-matched Beta and the fitted
    mixture carry a0 + b0; a power prior of weight d, Beta(1 + d(a - 1), 1 + d(b - 1)), carries
    2 + d (a0 + b0 - 2) (its uniform base and the discounted rest: d n is then the data's); the
    robust mixture carries (1 - w)(a0 + b0) of its informative part (an approximation).
    """
    if name.startswith("power_"):
        d = float(name.removeprefix("power_"))
        return 2.0 + d * (analysis_prior_ess - 2.0)
    if name == "robust":
        return (1.0 - robust_weight) * analysis_prior_ess
    return analysis_prior_ess


def annotate_beta_analysis_prior(
    priors: list[dict[str, Any]], analysis_prior_ess: float, robust_weight: float = ROBUST_WEIGHT
) -> None:
    """Add ``ess_analysis_prior``, ``ess_without_analysis_prior``, ``ess_clipped`` and
    ``ess_note`` to a rate's follow-up priors (in place), given the analysis prior's a0 + b0
    (:func:`beta_analysis_share`); a negative data share is set to 0 and flagged, as for the
    other kinds. ``ess`` keeps the full value.
    """
    for p in priors:
        ess = p.get("ess")
        share = beta_analysis_share(p.get("name", ""), analysis_prior_ess, robust_weight)
        p["ess_analysis_prior"] = _sig(share)
        data = None if ess is None else float(ess) - share
        p["ess_clipped"] = data is not None and data < 0
        p["ess_without_analysis_prior"] = None if data is None else _sig(max(data, 0.0))
        p["ess_note"] = BETA_ESS_NOTE + (
            "; clipped at 0: the analysis prior is not weaker than this prior"
            if p["ess_clipped"]
            else ""
        )


def rate_priors(
    draws: np.ndarray,
    robust_weight: float = ROBUST_WEIGHT,
    *,
    analysis_prior_ess: float | None = None,
) -> list[dict[str, Any]]:
    """Priors for a follow-up trial's response rate from rate draws (fractions).

    Returns, in order: ``beta`` (moment-matched), ``mixture`` (ML Beta mixture, K by BIC),
    ``robust`` (mixture with a vague Beta(1, 1) at ``robust_weight``), ``power_0.5`` and
    ``power_0.25`` (power-prior discounts of the moment-matched Beta). ``analysis_prior_ess``:
    a0 + b0 of the Beta analysis prior the draws come from (then each prior carries its ESS
    without it, :func:`annotate_beta_analysis_prior`; else ``ess_note`` says ``ess`` includes
    it).
    """
    a, b = beta_moment_match(draws)
    mix, bics = fit_beta_mixture(draws)
    out = [_beta_prior("beta", a, b, RATE_VARIABLE, "Beta matched to posterior mean and variance")]
    fitted = _mixture_prior(
        "mixture", mix, RATE_VARIABLE, f"ML Beta mixture, {mix.n_components} component(s) by BIC"
    )
    fitted["bic"] = {str(k): _sig(v) for k, v in bics.items()}
    out.append(fitted)
    out.append(
        _mixture_prior(
            "robust",
            robust_mixture(mix, robust_weight),
            RATE_VARIABLE,
            f"fitted mixture with a vague Beta(1, 1) component of weight {robust_weight}",
        )
    )
    for d in DISCOUNTS:
        ad, bd = power_discount_beta(a, b, d)
        out.append(
            _beta_prior(
                f"power_{d}",
                ad,
                bd,
                RATE_VARIABLE,
                f"power prior, weight {d}: Beta(1+d(a-1), 1+d(b-1))",
            )
        )
    if analysis_prior_ess is None:
        for p in out:
            p["ess_note"] = ESS_NOTE_UNSEPARATED
    else:
        annotate_beta_analysis_prior(out, float(analysis_prior_ess), robust_weight)
    return out


def weibull_unit_information(shape: float) -> np.ndarray:
    """Fisher information of one uncensored Weibull observation in (log median, log shape)."""
    g = math.log(math.log(2.0)) - 1 + _EULER
    k = float(shape)
    return np.array([[k * k, k * g], [k * g, g * g + math.pi**2 / 6]])


def _mvnormal_prior(
    name: str,
    mean: np.ndarray,
    cov: np.ndarray,
    note: str,
    *,
    analysis_sd: tuple[float, float] | None = None,
    discount: float = 1.0,
    unit: str | None = None,
) -> dict[str, Any]:
    mean = np.array([_sig(v) for v in mean])
    cov = np.array([[_sig(v) for v in row] for row in cov])
    sd = np.sqrt(np.diag(cov))
    corr = float(cov[0, 1] / (sd[0] * sd[1]))
    info1 = weibull_unit_information(math.exp(mean[1]))
    inv1 = np.linalg.inv(info1)
    ess_each = np.diag(inv1) / np.diag(cov)
    ess = math.sqrt(np.linalg.det(inv1) / np.linalg.det(cov))
    mu_s = f"[{_fmt(mean[0])}, {_fmt(mean[1])}]"
    cov_s = f"[[{_fmt(cov[0, 0])}, {_fmt(cov[0, 1])}], [{_fmt(cov[1, 0])}, {_fmt(cov[1, 1])}]]"
    out = {
        "name": name,
        "family": "mvnormal",
        "variable": PFS_VARIABLE,
        "parameters": {
            "variables": list(PFS_COMPONENTS),
            "mean": mean.tolist(),
            "sd": [_sig(v) for v in sd],
            "correlation": _sig(corr),
            "cov": cov.tolist(),
        },
        "ess": _sig(ess),
        "ess_components": {c: _sig(e) for c, e in zip(PFS_COMPONENTS, ess_each, strict=True)},
        "ess_method": (
            "information-based, uncensored Weibull unit information at the prior's shape: "
            "sqrt(det(I1^-1)/det(Cov)); per parameter (I1^-1)_jj / Var_j"
        ),
        "description": note,
        "pymc": (
            f'pm.MvNormal("{PFS_VARIABLE}", mu={mu_s}, cov={cov_s})'
            f"  # [log median_pfs ({unit or 'the endpoint unit'}), log weibull_shape]"
        ),
        "stan": f"{PFS_VARIABLE} ~ multi_normal({mu_s}', {cov_s});",
    }
    if analysis_sd is None:
        out["ess_note"] = ESS_NOTE_UNSEPARATED
        return out
    split = mvnormal_ess_split(cov, analysis_sd, math.exp(mean[1]), discount)
    for part in ("analysis_prior", "without_analysis_prior"):
        out[f"ess_{part}"] = _sig(split[f"ess_{part}"])
        out[f"ess_components_{part}"] = {
            c: _sig(v) for c, v in split[f"ess_components_{part}"].items()
        }
    out["ess_clipped"] = split["clipped"]
    d = f"{discount:g}"
    weight = "" if discount == 1 else f"{d} "
    out["ess_note"] = (
        "ess counts the analysis prior's own information (independent normals on log median "
        f"and log shape, sds {_sig(analysis_sd[0])} and {_sig(analysis_sd[1])}); "
        "ess_without_analysis_prior is the data's share alone, the same ESS of the precision "
        f"Cov^-1 - {weight}Cov0^-1"
        + (
            f" (power weight {d} scales the data's and the prior's precision alike)"
            if weight
            else ""
        )
        + "; information ESS is not additive, so ess is not the sum of the two"
        + (_CLIPPED_NOTE if split["clipped"] else "")
    )
    return out


def pfs_priors(
    median_pfs: np.ndarray,
    weibull_shape: np.ndarray,
    *,
    analysis_sd: tuple[float, float] | None = None,
    unit: str | None = None,
) -> list[dict[str, Any]]:
    """Bivariate normal priors on (log median in the endpoint's time unit, log Weibull shape)
    from joint draws (``unit`` names it in the PyMC line; None: "the endpoint unit").

    Returns ``mvnormal`` and the discounted ``power_0.5``, ``power_0.25`` (covariance / d).
    ``analysis_sd``: (sd of log median, sd of log shape) of the lognormal analysis priors the
    draws come from (then each prior carries its ESS without them, :func:`mvnormal_ess_split`).
    """
    m = np.asarray(median_pfs, dtype=float).ravel()
    k = np.asarray(weibull_shape, dtype=float).ravel()
    if m.shape != k.shape or m.size < 10 or np.any(m <= 0) or np.any(k <= 0):
        raise ValueError("median_pfs and weibull_shape must be equal-length positive draws")
    z = np.log(np.column_stack([m, k]))
    mean, cov = z.mean(axis=0), np.cov(z, rowvar=False)
    prior = {"analysis_sd": analysis_sd, "unit": unit}
    out = [_mvnormal_prior("mvnormal", mean, cov, "normal matched to the joint log draws", **prior)]
    for d in DISCOUNTS:
        out.append(
            _mvnormal_prior(
                f"power_{d}",
                mean,
                cov / d,
                f"power prior, weight {d}: covariance / d",
                **prior,
                discount=d,
            )
        )
    return out


def log_or_unit_information(event_rate: float | None = None) -> float:
    """Information about a log OR carried by one patient of a 1:1 comparison, p (1 - p) / 4.

    Var(log OR) ~ 4 / (n p (1 - p)) for n patients split 1:1 with event rate p in both groups,
    so a normal prior of precision 1 / sigma^2 is worth (1 / sigma^2) / (p (1 - p) / 4) patients.
    ``event_rate`` None means p = 0.5 (the smallest ESS for a given sigma).
    """
    p = 0.5 if event_rate is None else float(event_rate)
    if not 0 < p < 1:
        raise ValueError(f"event rate must be in (0, 1), got {p}")
    return p * (1 - p) / 4


def log_or_ess_split(
    sigma: float, analysis_sigma: float, event_rate: float | None = None, discount: float = 1.0
) -> dict[str, float | bool]:
    """ESS (patients) of a normal log OR prior with sd ``sigma``, with and without the analysis
    prior N(., ``analysis_sigma``) it was derived under.

    The follow-up prior's precision 1/sigma^2 is d (1/s0^2 + data precision) for a power prior
    of weight d = ``discount`` (1 for the undiscounted prior): the analysis prior's share is
    d/s0^2, the data's 1/sigma^2 - d/s0^2, each divided by :func:`log_or_unit_information`.
    Returns ``ess``, ``ess_analysis_prior``, ``ess_without_analysis_prior`` (clipped at 0) and
    ``clipped`` (True when the difference was negative: the analysis prior is stronger than
    the follow-up prior).
    """
    if not (sigma > 0 and analysis_sigma > 0 and 0 < discount <= 1):
        raise ValueError("sigma and analysis_sigma must be positive and discount in (0, 1]")
    unit = log_or_unit_information(event_rate)
    total = 1.0 / sigma**2 / unit
    prior = discount / analysis_sigma**2 / unit
    data = total - prior
    return {
        "ess": total,
        "ess_analysis_prior": prior,
        "ess_without_analysis_prior": max(data, 0.0),
        "clipped": bool(data < 0),
    }


def _information_ess(precision: np.ndarray, inv1: np.ndarray) -> tuple[float, np.ndarray]:
    """Overall sqrt(det(P) det(I1^-1)) and per-parameter (I1^-1)_jj times the marginal
    precision of j (the Schur complement P_jj - P_jo^2 / P_oo; P_jj when P_oo = 0) of a
    positive semi-definite 2 x 2 precision P."""
    overall = math.sqrt(max(float(np.linalg.det(precision)), 0.0) * float(np.linalg.det(inv1)))
    each = []
    for j, o in ((0, 1), (1, 0)):
        p_oo = precision[o, o]
        marginal = precision[j, j] - (precision[j, o] ** 2 / p_oo if p_oo > 0 else 0.0)
        each.append(inv1[j, j] * max(float(marginal), 0.0))
    return overall, np.asarray(each)


def mvnormal_ess_split(
    cov: np.ndarray,
    analysis_sd: tuple[float, float],
    shape: float,
    discount: float = 1.0,
) -> dict[str, Any]:
    """ESS (patients) of a bivariate normal prior on (log median, log shape), with and without
    the analysis prior's information.

    ``cov``: the follow-up prior's 2 x 2 covariance; ``analysis_sd``: the sds of the analysis
    prior's independent normals on log median and log shape (a lognormal prior on each);
    ``shape``: the Weibull shape at which the unit information I1 is taken
    (:func:`weibull_unit_information`); ``discount``: the power weight d (the prior holds d times
    the analysis prior's precision). The data's precision Cov^-1 - d Cov0^-1 has its negative
    eigenvalues (directions where the analysis prior is not weaker) set to 0. Overall ESS
    sqrt(det(P) / det(I1)), per parameter (I1^-1)_jj / Var_j with Var_j = 1 / marginal
    precision, as for ``ess``. Returns ``ess``, ``ess_components`` and the same for
    ``_analysis_prior`` and ``_without_analysis_prior``, and ``clipped``.
    """
    cov = np.asarray(cov, dtype=float)
    sd0 = np.asarray(analysis_sd, dtype=float)
    if cov.shape != (2, 2) or sd0.shape != (2,) or np.any(sd0 <= 0) or not 0 < discount <= 1:
        raise ValueError("cov must be 2 x 2, analysis_sd two positive sds, discount in (0, 1]")
    inv1 = np.linalg.inv(weibull_unit_information(shape))
    precision = np.linalg.inv(cov)
    prior = discount * np.diag(1.0 / sd0**2)
    data = precision - prior
    data = (data + data.T) / 2
    eig, vec = np.linalg.eigh(data)
    clipped = bool(eig.min() < 0)
    data = (vec * np.clip(eig, 0.0, None)) @ vec.T
    out: dict[str, Any] = {"clipped": clipped}
    for suffix, p in (
        ("", precision),
        ("_analysis_prior", prior),
        ("_without_analysis_prior", data),
    ):
        overall, each = _information_ess(p, inv1)
        out[f"ess{suffix}"] = overall
        out[f"ess_components{suffix}"] = dict(zip(PFS_COMPONENTS, each.tolist(), strict=True))
    return out


#: ``ess_note`` of a prior whose analysis prior is not known.
ESS_NOTE_UNSEPARATED = (
    "ess includes the analysis prior's own information (the analysis prior was not given, so "
    "the data's share is not separated)"
)
_CLIPPED_NOTE = (
    "; clipped at 0: the analysis prior is not weaker than the follow-up prior here (prior-data "
    "conflict, or a prior stronger than the data)"
)


def _normal_prior(
    name: str,
    mu: float,
    sigma: float,
    variable: str,
    rate: float | None,
    note: str,
    *,
    analysis_sigma: float | None = None,
    discount: float = 1.0,
) -> dict[str, Any]:
    mu, sigma = _sig(mu), _sig(sigma)
    p = 0.5 if rate is None else float(rate)
    how = (
        "overall event rate p = 0.5 (lower bound)" if rate is None else f"event rate p = {_sig(p)}"
    )
    out = {
        "name": name,
        "family": "normal",
        "variable": variable,
        "parameters": {"mu": mu, "sigma": sigma},
        "ess": _sig(4.0 / (p * (1 - p) * sigma**2)),
        "ess_method": f"unit information of a 1:1 log odds ratio, 4/(p(1-p) sigma^2), {how}",
        "description": note,
        "pymc": f'pm.Normal("{variable}", mu={_fmt(mu)}, sigma={_fmt(sigma)})',
        "stan": f"{variable} ~ normal({_fmt(mu)}, {_fmt(sigma)});",
    }
    if analysis_sigma is None:
        out["ess_note"] = ESS_NOTE_UNSEPARATED
        return out
    split = log_or_ess_split(sigma, analysis_sigma, rate, discount)
    d = f"{discount:g}"
    out["ess_analysis_prior"] = _sig(split["ess_analysis_prior"])
    out["ess_without_analysis_prior"] = _sig(split["ess_without_analysis_prior"])
    out["ess_clipped"] = split["clipped"]
    weight = "" if discount == 1 else f"{d} "
    out["ess_note"] = (
        f"ess counts the analysis prior's own information (sd s0 = {_sig(analysis_sigma)} on "
        "the log OR); ess_without_analysis_prior is the data's share alone, "
        f"4/(p(1-p)) (1/sigma^2 - {d if weight else 1}/s0^2)"
        + (
            f" (power weight {d} scales the data's and the prior's precision alike)"
            if weight
            else ""
        )
        + (_CLIPPED_NOTE if split["clipped"] else "")
    )
    return out


def log_or_priors(
    log_odds_ratio: np.ndarray,
    ae: str,
    event_rate: float | None = None,
    *,
    analysis_sigma: float | None = None,
) -> list[dict[str, Any]]:
    """Normal priors on one AE's log odds ratio (bevacizumab vs sunitinib) from its draws.

    ``analysis_sigma``: sd of the normal analysis prior on the log OR the draws come from (then
    each prior carries its ESS without the analysis prior, :func:`log_or_ess_split`).
    """
    x = np.asarray(log_odds_ratio, dtype=float).ravel()
    if x.size < 10 or not np.all(np.isfinite(x)):
        raise ValueError(f"log odds ratio draws of {ae!r} must be at least 10 finite numbers")
    if event_rate is not None and not 0 < event_rate < 1:
        raise ValueError(f"event rate of {ae!r} must be in (0, 1), got {event_rate}")
    if analysis_sigma is not None and not analysis_sigma > 0:
        raise ValueError(f"analysis prior sd of {ae!r} must be positive, got {analysis_sigma}")
    var = f"log_odds_ratio_{ae}"
    mu, sd = float(x.mean()), float(x.std(ddof=1))
    prior = {"analysis_sigma": analysis_sigma}
    out = [_normal_prior("normal", mu, sd, var, event_rate, "normal matched to the draws", **prior)]
    for d in DISCOUNTS:
        out.append(
            _normal_prior(
                f"power_{d}",
                mu,
                sd / math.sqrt(d),
                var,
                event_rate,
                f"power prior, weight {d}",
                **prior,
                discount=d,
            )
        )
    return out


def followup_priors(
    draws: Mapping[str, Mapping[str, np.ndarray]],
    robust_weight: float = ROBUST_WEIGHT,
    *,
    ae_event_rates: Mapping[str, float] | None = None,
) -> dict[str, list[dict[str, Any]]]:
    """Follow-up priors of every endpoint present in ``draws``.

    ``draws`` maps an endpoint to its posterior draws (primary prior, flattened over chains):
    ``"burden_reduction": {"burden_reduction_rate": ...}``, ``"pfs": {"median_pfs": ...,
    "weibull_shape": ...}``, and either ``"adverse_events.<ae>": {"log_odds_ratio": ...[,
    "event_rate": ...]}`` or ``"adverse_events": {"<ae>": log OR draws}``. Returns
    ``{"burden_reduction": [...], "pfs": [...], "adverse_events.<ae>": [...]}``.
    """
    rates = dict(ae_event_rates or {})
    out: dict[str, list[dict[str, Any]]] = {}
    for endpoint, d in draws.items():
        if endpoint == "burden_reduction":
            out[endpoint] = rate_priors(d[RATE_VARIABLE], robust_weight)
        elif endpoint == "pfs":
            out[endpoint] = pfs_priors(d["median_pfs"], d["weibull_shape"])
        elif endpoint == "adverse_events":
            for ae, x in d.items():
                arr = x["log_odds_ratio"] if isinstance(x, Mapping) else x
                out[f"adverse_events.{ae}"] = log_or_priors(arr, ae, rates.get(ae))
        elif endpoint.startswith("adverse_events."):
            ae = endpoint.split(".", 1)[1]
            rate = rates.get(ae)
            if rate is None and "event_rate" in d:
                rate = float(np.mean(d["event_rate"]))
            out[endpoint] = log_or_priors(d["log_odds_ratio"], ae, rate)
        else:
            raise ValueError(f"unknown endpoint {endpoint!r}")
    return out


#: The draws each endpoint kind hands over for its follow-up priors (primary prior, flattened).
KIND_VARIABLES = {
    "rate": ("rate",),
    "time_to_event": ("median", "weibull_shape"),
    "comparison": ("log_odds_ratio",),  # optional "event_rate" (baseline event probability)
}


def endpoint_followup_priors(
    kind: str,
    draws: Mapping[str, Mapping[str, np.ndarray]],
    robust_weight: float = ROBUST_WEIGHT,
    *,
    analysis_priors: Mapping[str, Mapping[str, Any]] | None = None,
) -> dict[str, list[dict[str, Any]]]:
    """Follow-up priors of one endpoint of a given kind, per name in ``draws``.

    ``draws`` maps a follow-up prior's name (the endpoint's key, or a comparison's key) to the
    kind's variables (:data:`KIND_VARIABLES`): a rate's ``rate`` (fractions); a time-to-event
    endpoint's ``median`` (in its unit) and ``weibull_shape``; a comparison's ``log_odds_ratio``
    (and optionally ``event_rate``). ``analysis_priors`` maps the same names to the analysis
    (primary) prior the draws come from, ``{"family", "parameters"}`` as the endpoint declares
    it: ``beta`` ``{alpha, beta}`` for a rate, ``lognormal`` ``{log_median_sd, log_shape_sd,
    ...}`` for a time-to-event endpoint (with ``unit``, its time unit), ``normal``
    ``{log_or_sigma, ...}`` for a comparison.
    With it every prior carries its ESS without the analysis prior's information; without it
    (a name missing) ``ess_note`` says that ``ess`` includes the analysis prior.

    Raises:
        ValueError: an unknown kind, or an analysis prior of a family the kind does not use.
    """
    known = dict(analysis_priors or {})
    out: dict[str, list[dict[str, Any]]] = {}
    for name, d in draws.items():
        prior = known.get(name)
        if prior is not None:
            _check_analysis_prior(kind, name, prior)
        p = None if prior is None else prior["parameters"]
        if kind == "rate":
            ess0 = None if p is None else float(p["alpha"]) + float(p["beta"])
            out[name] = rate_priors(np.asarray(d["rate"]), robust_weight, analysis_prior_ess=ess0)
        elif kind == "time_to_event":
            sd0 = None if p is None else (float(p["log_median_sd"]), float(p["log_shape_sd"]))
            out[name] = pfs_priors(
                np.asarray(d["median"]),
                np.asarray(d["weibull_shape"]),
                analysis_sd=sd0,
                unit=None if prior is None else prior.get("unit"),
            )
        elif kind == "comparison":
            rate = float(np.mean(d["event_rate"])) if "event_rate" in d else None
            s0 = None if p is None else float(p["log_or_sigma"])
            out[name] = log_or_priors(
                np.asarray(d["log_odds_ratio"]), name, rate, analysis_sigma=s0
            )
        else:
            raise ValueError(f"unknown endpoint kind {kind!r}")
    return out


#: The family of the analysis prior each kind's follow-up priors can separate.
ANALYSIS_PRIOR_FAMILIES = {"rate": "beta", "time_to_event": "lognormal", "comparison": "normal"}


def _check_analysis_prior(kind: str, name: str, prior: Mapping[str, Any]) -> None:
    want = ANALYSIS_PRIOR_FAMILIES.get(kind)
    if want is not None and prior.get("family") != want:
        raise ValueError(
            f"analysis prior of {name!r}: a {kind} follow-up prior separates a {want} analysis "
            f"prior, got family {prior.get('family')!r}"
        )


def write_followup_priors(priors: Mapping[str, list[dict[str, Any]]], path: str | Path) -> Path:
    """Write priors as JSON (sorted keys, floats at :data:`SIGNIFICANT_DIGITS` digits)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(
        json.dumps(jsonable(priors, significant=SIGNIFICANT_DIGITS), sort_keys=True, indent=2)
        + "\n"
    )
    return path


def build_pymc_prior(prior: Mapping[str, Any], name: str | None = None):
    """A ``pm.Model`` holding the prior as a random variable named ``name`` (default: its variable).

    For the ``mvnormal`` PFS prior the model also holds deterministics ``median_pfs`` (the
    endpoint's time unit) and ``weibull_shape``.
    """
    import pymc as pm

    name = name or prior["variable"]
    family, p = prior["family"], prior["parameters"]
    with pm.Model() as model:
        if family == "beta":
            pm.Beta(name, alpha=p["alpha"], beta=p["beta"])
        elif family == "beta_mixture" and len(p["weights"]) == 1:
            pm.Beta(name, alpha=p["alpha"][0], beta=p["beta"][0])
        elif family == "beta_mixture":
            comps = [
                pm.Beta.dist(alpha=a, beta=b) for a, b in zip(p["alpha"], p["beta"], strict=True)
            ]
            pm.Mixture(name, w=np.asarray(p["weights"]), comp_dists=comps)
        elif family == "mvnormal":
            z = pm.MvNormal(name, mu=np.asarray(p["mean"]), cov=np.asarray(p["cov"]))
            pm.Deterministic("median_pfs", pm.math.exp(z[0]))
            pm.Deterministic("weibull_shape", pm.math.exp(z[1]))
        elif family == "normal":
            pm.Normal(name, mu=p["mu"], sigma=p["sigma"])
        else:
            raise ValueError(f"unknown prior family {family!r}")
    return model
