"""Meta-analytic-predictive (MAP) priors from several published trials (DESIGN.md 5; issue 15).

Compute only: fit the hierarchical models of :mod:`models.map_prior` (one compiled model per
capacity, every refit swaps ``pm.Data``), gate them, approximate the MAP predictive by a mixture,
robustify it, give its effective sample size (ESS) and check a new trial's result against it.

* Rate: the predictive draws of the new trial's rate are fitted by a Beta mixture (maximum
  likelihood, K in 1..3 by BIC: :func:`analysis.planning.followup.fit_beta_mixture`), robustified
  with a
  Beta(1, 1) of weight ``robust_weight`` (:func:`analysis.planning.followup.robust_mixture`); ESS
  is ELIR
  (:func:`analysis.planning.followup.mixture_ess_elir`, Neuenschwander et al. Biometrics 2020) in
  patients.
* Median: the predictive draws of the new trial's log median (log months) are fitted by a normal
  mixture (EM, K in 1..3 by BIC = -2 log L + (3K - 1) log N), robustified with a vague
  N(MAP mean, 2^2) (:data:`VAGUE_LOG_MEDIAN_SD`: 95 % of it within a factor e^3.9 = 50 of the MAP
  median, a quarter of one event's information). ESS in *events*: the reference per-event variance
  of a log median is 1 (exponential times: Var(log median_hat) = 1 / d for d events), so the ELIR
  of a normal mixture is E_prior[-(log p)''(theta)] * 1 (Fisher information of one event is 1,
  constant in theta); for one normal N(m, s^2) it is 1 / s^2, which is also ``ess_moment``
  = 1 / Var(prior) for any mixture.
* Prior-data conflict (Box's prior predictive check): the tail probability of a new trial's
  result under the MAP predictive. Counts x of n: the Beta-binomial mixture gives P(X <= x) and
  P(X >= x); p = min(1, 2 min(both)). A median M (L, U): y = log M with its se from the CI
  (:func:`models.map_prior.log_median_se`) is predicted by the normal mixture convolved with
  N(0, se^2): P(Y <= y) = sum_k w_k Phi((y - m_k) / sqrt(s_k^2 + se^2)); the same two-sided p.

Fits use target acceptance 0.95 (RBesT's ``gMAP`` uses 0.99: the funnel of a hierarchical model
with few trials causes occasional divergences at 0.8); the gates of DESIGN.md 6 apply, with their
one retry.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from functools import cache
from typing import Any

import numpy as np
from scipy import integrate, optimize, special, stats

from trial_reanalysis.analysis.constants import DEFAULT_SEED
from trial_reanalysis.analysis.endpoints.summaries import summarise_draws
from trial_reanalysis.analysis.inference.diagnostics import FitDiagnostics, fit_with_gates
from trial_reanalysis.analysis.inference.fitting import CompiledModel, SamplerSettings, derive_seed
from trial_reanalysis.analysis.planning.followup import (
    MAX_FIT_DRAWS,
    MIXTURE_COMPONENTS,
    ROBUST_WEIGHT,
    BetaMixture,
    _fmt,
    _mixture_prior,
    _sig,
    fit_beta_mixture,
    logsumexp_rows,
    robust_mixture,
)
from trial_reanalysis.analysis.reconstruction.rates import proportion_ci
from trial_reanalysis.models.map_prior import (
    MEAN,
    MEDIAN_MEAN_PRIOR,
    MEDIAN_NEW_LOG,
    MEDIAN_TAU_SCALE,
    MEDIAN_TRIAL,
    MEDIAN_UNIT_SD,
    RATE_MEAN_PRIOR,
    RATE_NEW,
    RATE_TAU_SCALE,
    RATE_TRIAL,
    TAU_UNIT,
    build_map_median_model,
    build_map_rate_model,
    log_median_se,
    median_model_data,
    rate_model_data,
)

#: Sensitivity of the half-normal scale of tau: half, once and twice the default (rates: logit).
RATE_TAU_SCALES = (0.5 * RATE_TAU_SCALE, RATE_TAU_SCALE, 2.0 * RATE_TAU_SCALE)
MEDIAN_TAU_SCALES = (0.5 * MEDIAN_TAU_SCALE, MEDIAN_TAU_SCALE, 2.0 * MEDIAN_TAU_SCALE)
#: sd of the vague component of the robust log-median mixture (log months).
VAGUE_LOG_MEDIAN_SD = 2.0
#: Sampler settings of every MAP fit (see the module docstring).
MAP_SETTINGS = SamplerSettings(target_accept=0.95)
#: Capacities are rounded up to these steps, so similar corpora share one compiled model.
TRIAL_SLOT_STEP = 8
CANDIDATE_SLOT_STEP = 4
RATE_VARIABLE = "response_rate"
MEDIAN_VARIABLE = "log_median_months"
ELIR_NORMAL_METHOD = (
    "ELIR (Neuenschwander et al. 2020) in events: reference per-event variance 1 of a log median"
)
NAME = "map_prior"


# ---------------------------------------------------------------------------------------------
# Inputs
# ---------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class RateTrial:
    """A historical trial's rate: candidate counts (x, n, weight); one if counts are published."""

    name: str
    candidates: tuple[tuple[int, int, float], ...]

    def observed(self) -> dict[str, Any]:
        """The reported data for a forest plot: candidates, and x/n with its exact CI if unique."""
        total = sum(c[2] for c in self.candidates)
        out: dict[str, Any] = {
            "candidates": [
                {"x": int(x), "n": int(n), "weight": float(w / total)}
                for x, n, w in self.candidates
            ]
        }
        if len(self.candidates) == 1:
            x, n, _ = self.candidates[0]
            out.update({"estimate": x / n, "ci95": list(proportion_ci(x, n, "exact"))})
        return out


@dataclass(frozen=True)
class MedianTrial:
    """One historical trial's reported median (months) with its 95 % CI (U may be None)."""

    name: str
    median: float
    lower: float | None
    upper: float | None

    @property
    def se(self) -> float:
        """Standard error of the log median (:func:`models.map_prior.log_median_se`)."""
        return log_median_se(self.median, self.lower, self.upper)

    def observed(self) -> dict[str, Any]:
        """The reported data for a forest plot."""
        return {
            "median": self.median,
            "ci95": [self.lower, self.upper],
            "log_median": math.log(self.median),
            "log_median_se": self.se,
        }


def rate_trials(rows: Iterable[Sequence[Any]]) -> list[RateTrial]:
    """Rows (name, x, n, weight) to trials; rows sharing a name are one trial's candidates.

    Trials keep the order of their first row. Raises ValueError on a malformed row (the model's
    checks of x, n and weight follow when it is built).
    """
    grouped: dict[str, list[tuple[int, int, float]]] = {}
    for row in rows:
        if len(row) != 4:
            raise ValueError(f"a rate row is (name, x, n, weight), got {tuple(row)!r}")
        name, x, n, w = row
        grouped.setdefault(str(name), []).append((int(x), int(n), float(w)))
    if not grouped:
        raise ValueError("a MAP prior needs at least one trial")
    return [RateTrial(name, tuple(c)) for name, c in grouped.items()]


def median_trials(rows: Iterable[Sequence[Any]]) -> list[MedianTrial]:
    """Rows (name, median, lower, upper) to trials (months; upper may be None); names unique."""
    out: list[MedianTrial] = []
    for row in rows:
        if len(row) != 4:
            raise ValueError(f"a median row is (name, median, lower, upper), got {tuple(row)!r}")
        name, m, lo, hi = row
        trial = MedianTrial(
            str(name),
            float(m),
            None if lo is None else float(lo),
            None if hi is None else float(hi),
        )
        _ = trial.se  # validates 0 < L < M < U
        out.append(trial)
    names = [t.name for t in out]
    if not out or len(set(names)) != len(names):
        raise ValueError(f"median trials need at least one row and unique names, got {names}")
    return out


# ---------------------------------------------------------------------------------------------
# Fitting
# ---------------------------------------------------------------------------------------------


def _round_up(k: int, step: int) -> int:
    return step * math.ceil(k / step)


@cache
def compiled_rate_model(trial_slots: int, candidate_slots: int) -> CompiledModel:
    """The rate MAP model for up to ``trial_slots`` trials of up to ``candidate_slots``
    candidates, compiled once per process."""
    placeholder = [[(0, 1, 1.0)]]
    model = build_map_rate_model(placeholder, capacity=(trial_slots, candidate_slots))
    return CompiledModel(model, name=f"{NAME}_rate")


@cache
def compiled_median_model(trial_slots: int) -> CompiledModel:
    """The median MAP model for up to ``trial_slots`` trials, compiled once per process."""
    model = build_map_median_model([0.0], [1.0], capacity=trial_slots)
    return CompiledModel(model, name=f"{NAME}_median")


@dataclass
class MapFit:
    """One gated MAP fit: its trials, draws of what the summaries need, and diagnostics.

    Attributes:
        kind: ``"rate"`` or ``"median"``.
        trials: the trials in model order.
        trial_draws: per-trial draws, shape (trials, draws): rates, or medians in months.
        new_draws: MAP predictive draws (draws,): the new trial's rate, or its log median.
        tau_draws: between-trial sd draws (draws,) (constant when fixed).
        mean_draws: mu draws (draws,) on the logit / log-months scale.
        settings: the prior settings of the fit (tau scale, mean prior, tau_fixed, family).
        diagnostics: the gates' verdict.
        idata: the InferenceData (padded slots included).
    """

    kind: str
    trials: list[RateTrial] | list[MedianTrial]
    trial_draws: np.ndarray
    new_draws: np.ndarray
    tau_draws: np.ndarray
    mean_draws: np.ndarray
    settings: dict[str, Any]
    diagnostics: FitDiagnostics
    idata: Any


def _tau_draws(idata: Any, tau_scale: float, tau_fixed: float | None) -> np.ndarray:
    unit = idata.posterior[TAU_UNIT].values.ravel()
    return np.full(unit.shape, float(tau_fixed)) if tau_fixed is not None else tau_scale * unit


def _flat_trials(idata: Any, var: str, count: int) -> np.ndarray:
    x = idata.posterior[var].values  # (chain, draw, slot)
    return x.reshape(-1, x.shape[-1])[:, :count].T


def fit_map_rate(
    trials: Sequence[RateTrial],
    *,
    seed: int = DEFAULT_SEED,
    tau_scale: float = RATE_TAU_SCALE,
    mean_prior: tuple[float, float] = RATE_MEAN_PRIOR,
    tau_fixed: float | None = None,
    mean_family: str = "normal",
    settings: SamplerSettings = MAP_SETTINGS,
    allow_failed: bool = False,
) -> MapFit:
    """Fit the rate MAP model (logit scale) to trials' candidate counts, gated.

    Raises:
        ValueError: invalid trials or priors (before any sampling).
        DiagnosticsError: the fit failed its gates after the retry and ``allow_failed`` is False.
    """
    trials = list(trials)
    cands = [t.candidates for t in trials]
    slots = (
        _round_up(len(trials), TRIAL_SLOT_STEP),
        _round_up(max(len(c) for c in cands), CANDIDATE_SLOT_STEP),
    )
    data = rate_model_data(
        cands,
        tau_scale=tau_scale,
        mean_prior=mean_prior,
        tau_fixed=tau_fixed,
        mean_family=mean_family,
        capacity=slots,
    )
    settings_used = {
        "tau_scale": tau_scale,
        "mean_prior": list(mean_prior),
        "tau_fixed": tau_fixed,
        "mean_family": mean_family,
    }
    return _fit_map(
        "rate",
        compiled_rate_model(*slots),
        data,
        trials,
        (RATE_TRIAL, RATE_NEW),
        seed=seed,
        settings_used=settings_used,
        settings=settings,
        allow_failed=allow_failed,
    )


def fit_map_median(
    trials: Sequence[MedianTrial],
    *,
    seed: int = DEFAULT_SEED,
    tau_scale: float = MEDIAN_TAU_SCALE,
    mean_prior: tuple[float, float] = MEDIAN_MEAN_PRIOR,
    tau_fixed: float | None = None,
    settings: SamplerSettings = MAP_SETTINGS,
    allow_failed: bool = False,
) -> MapFit:
    """Fit the median MAP model (log months) to trials' reported medians and CIs, gated.

    Raises:
        ValueError: invalid trials or priors (before any sampling).
        DiagnosticsError: the fit failed its gates after the retry and ``allow_failed`` is False.
    """
    trials = list(trials)
    slots = _round_up(len(trials), TRIAL_SLOT_STEP)
    data = median_model_data(
        [math.log(t.median) for t in trials],
        [t.se for t in trials],
        tau_scale=tau_scale,
        mean_prior=mean_prior,
        tau_fixed=tau_fixed,
        capacity=slots,
    )
    settings_used = {"tau_scale": tau_scale, "mean_prior": list(mean_prior), "tau_fixed": tau_fixed}
    return _fit_map(
        "median",
        compiled_median_model(slots),
        data,
        trials,
        (MEDIAN_TRIAL, MEDIAN_NEW_LOG),
        seed=seed,
        settings_used=settings_used,
        settings=settings,
        allow_failed=allow_failed,
    )


def _fit_map(
    kind: str,
    compiled: CompiledModel,
    data: dict[str, Any],
    trials: list[Any],
    variables: tuple[str, str],
    *,
    seed: int,
    settings_used: dict[str, Any],
    settings: SamplerSettings,
    allow_failed: bool,
) -> MapFit:
    """Fit a MAP model with its gates and collect the draws a MAP prior is made of: each
    trial's parameter, a new trial's (``variables``: their names), tau and the mean."""
    tau_scale, tau_fixed = settings_used["tau_scale"], settings_used["tau_fixed"]
    label = f"{kind}, {len(trials)} trials, tau scale {tau_scale}, tau fixed {tau_fixed}"
    idata, diag = fit_with_gates(
        compiled,
        data,
        seed=derive_seed(seed, NAME, label, *(t.name for t in trials)),
        label=label,
        settings=settings,
        allow_failed=allow_failed,
    )
    trial_var, new_var = variables
    return MapFit(
        kind=kind,
        trials=trials,
        trial_draws=_flat_trials(idata, trial_var, len(trials)),
        new_draws=idata.posterior[new_var].values.ravel(),
        tau_draws=_tau_draws(idata, tau_scale, tau_fixed),
        mean_draws=idata.posterior[MEAN].values.ravel(),
        settings=settings_used,
        diagnostics=diag,
        idata=idata,
    )


# ---------------------------------------------------------------------------------------------
# Normal mixtures (log median)
# ---------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class NormalMixture:
    """A mixture of normal distributions (on a log median, log months)."""

    weights: tuple[float, ...]
    mean: tuple[float, ...]
    sd: tuple[float, ...]

    def __post_init__(self) -> None:
        w, m, s = self.arrays
        if not (w.shape == m.shape == s.shape) or w.ndim != 1 or w.size == 0:
            raise ValueError("weights, mean and sd must be equal-length non-empty sequences")
        if np.any(w < 0) or not np.isclose(w.sum(), 1.0, atol=1e-6):
            raise ValueError(f"weights must be non-negative and sum to 1, got {w.tolist()}")
        if not np.all(np.isfinite(m)) or np.any(s <= 0):
            raise ValueError("means must be finite and sds positive")

    @property
    def arrays(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """(weights, mean, sd) as float arrays."""
        return tuple(np.asarray(v, dtype=float) for v in (self.weights, self.mean, self.sd))

    @property
    def n_components(self) -> int:
        """Number of components."""
        return len(self.weights)

    def mixture_mean(self) -> float:
        """Mean."""
        w, m, _ = self.arrays
        return float(np.sum(w * m))

    def var(self) -> float:
        """Variance."""
        w, m, s = self.arrays
        return float(np.sum(w * (s**2 + m**2)) - self.mixture_mean() ** 2)

    def logpdf(self, x: np.ndarray) -> np.ndarray:
        """Log density at ``x``."""
        w, m, s = self.arrays
        x = np.asarray(x, dtype=float)
        return special.logsumexp(np.log(w) + stats.norm.logpdf(x[..., None], m, s), axis=-1)

    def pdf(self, x: np.ndarray) -> np.ndarray:
        """Density at ``x``."""
        return np.exp(self.logpdf(x))

    def cdf(self, x: np.ndarray) -> np.ndarray:
        """Distribution function at ``x``."""
        w, m, s = self.arrays
        x = np.asarray(x, dtype=float)
        return np.sum(w * stats.norm.cdf(x[..., None], m, s), axis=-1)

    def ppf(self, q: np.ndarray) -> np.ndarray:
        """Quantiles (root finding on the cdf)."""
        _, m, s = self.arrays
        lo, hi = float(np.min(m - 40 * s)), float(np.max(m + 40 * s))
        q = np.atleast_1d(np.asarray(q, dtype=float))
        return np.asarray(
            [optimize.brentq(lambda t, qq=qq: float(self.cdf(t)) - qq, lo, hi) for qq in q]
        )

    def to_parameters(self) -> dict[str, list[float]]:
        """``{"weights", "mean", "sd"}`` lists (rounded to the export's significant digits)."""
        return {
            "weights": [_sig(v) for v in self.weights],
            "mean": [_sig(v) for v in self.mean],
            "sd": [_sig(v) for v in self.sd],
        }


#: log sqrt(2 pi), as SciPy's normal log density subtracts it.
_NORM_LOG_C = np.log(np.sqrt(2 * np.pi))


def _norm_logpdf_rows(x: np.ndarray, m: np.ndarray, s: np.ndarray) -> np.ndarray:
    """``stats.norm.logpdf(x[None, :], m[:, None], s[:, None])``, the same bits, shape (K, N).

    SciPy standardises ``z = (x - loc) / scale`` and returns ``-z**2 / 2 - log(sqrt(2 pi)) -
    log(scale)``; these are those operations in that order, without its argument checks and
    dispatch (the EM calls it up to a thousand times per fit; tests/test_map_prior.py checks
    bits)."""
    z = (x[None, :] - m[:, None]) / s[:, None]
    return (-(z**2) / 2.0 - _NORM_LOG_C) - np.log(s[:, None])


def _normal_em(x: np.ndarray, k: int, iterations: int = 1000) -> tuple[NormalMixture, float]:
    """ML K-component normal mixture by EM from a quantile split; returns it and its log L."""
    groups = np.array_split(np.sort(x), k)
    m = np.array([g.mean() for g in groups])
    floor = 1e-6 * x.std()
    s = np.array([max(g.std(), floor) for g in groups])
    w = np.full(k, 1.0 / k)
    previous = -np.inf
    for _ in range(iterations):
        comp = np.log(w)[:, None] + _norm_logpdf_rows(x, m, s)
        total = logsumexp_rows(comp, axis=0)
        loglik = float(total.sum())
        resp = np.exp(comp - total)
        nk = resp.sum(axis=1)
        w = np.clip(nk / x.size, 1e-12, None)
        w /= w.sum()
        m = (resp @ x) / nk
        s = np.sqrt(np.maximum((resp * (x[None, :] - m[:, None]) ** 2).sum(axis=1) / nk, floor**2))
        if loglik - previous < 1e-9 * abs(loglik):
            break
        previous = loglik
    comp = np.log(w)[:, None] + _norm_logpdf_rows(x, m, s)
    order = np.argsort(m)
    mix = NormalMixture(tuple(w[order]), tuple(m[order]), tuple(s[order]))
    return mix, float(logsumexp_rows(comp, axis=0).sum())


def fit_normal_mixture(
    draws: np.ndarray, components: tuple[int, ...] = MIXTURE_COMPONENTS
) -> tuple[NormalMixture, dict[int, float]]:
    """Normal mixture fitted to draws by maximum likelihood (EM); K chosen by the lowest BIC.

    BIC = -2 log L + (3K - 1) log N over N draws (deterministically thinned to at most
    :data:`analysis.planning.followup.MAX_FIT_DRAWS`). Returns the chosen mixture (components
    ordered by
    mean) and the BIC of every K tried.
    """
    x = np.asarray(draws, dtype=float).ravel()
    if x.size < 10 or not np.all(np.isfinite(x)) or not x.std() > 0:
        raise ValueError("draws must be at least 10 finite, not all equal numbers")
    if x.size > MAX_FIT_DRAWS:
        x = x[:: math.ceil(x.size / MAX_FIT_DRAWS)]
    fits: dict[int, NormalMixture] = {}
    bics: dict[int, float] = {}
    for k in components:
        fits[k], loglik = _normal_em(x, k)
        bics[k] = -2 * loglik + (3 * k - 1) * math.log(x.size)
    best = min(bics, key=bics.__getitem__)
    return fits[best], bics


def robust_normal_mixture(
    mix: NormalMixture, weight: float = ROBUST_WEIGHT, vague_sd: float = VAGUE_LOG_MEDIAN_SD
) -> NormalMixture:
    """``(1 - weight) * mix + weight * N(mean of mix, vague_sd^2)``."""
    if not 0 < weight < 1:
        raise ValueError(f"robust weight must be in (0, 1), got {weight}")
    if not vague_sd > 0:
        raise ValueError(f"vague sd must be positive, got {vague_sd}")
    w, m, s = mix.arrays
    return NormalMixture(
        (*((1 - weight) * w).tolist(), weight),
        (*m.tolist(), mix.mixture_mean()),
        (*s.tolist(), float(vague_sd)),
    )


def normal_mixture_ess(mix: NormalMixture, unit_sd: float = MEDIAN_UNIT_SD) -> float:
    """ELIR effective sample size of a normal mixture, in units of one observation of sd
    ``unit_sd`` (events for a log median with the default 1).

    ELIR = unit_sd^2 E_p[-(log p)''(theta)]. With responsibilities r_k(theta) and component
    scores g_k = -(theta - m_k) / s_k^2, -(log p)'' = sum_k r_k / s_k^2 - Var_r(g), so
    ELIR = unit_sd^2 (sum_k w_k / s_k^2 - E_p[Var_r(g)]), the last term by quadrature; for one
    component it is unit_sd^2 / s^2 exactly.
    """
    w, m, s = mix.arrays
    base = float(np.sum(w / s**2))
    if mix.n_components == 1:
        return unit_sd**2 * base

    def integrand(t: float) -> float:
        logf = np.log(w) + stats.norm.logpdf(t, m, s)
        top = logf.max()
        r = np.exp(logf - top)
        density = r.sum() * math.exp(top)
        r = r / r.sum()
        g = -(t - m) / s**2
        return float(density * np.sum(r * (g - np.sum(r * g)) ** 2))

    lo, hi = float(np.min(m - 12 * s)), float(np.max(m + 12 * s))
    correction, _ = integrate.quad(integrand, lo, hi, limit=400, points=sorted(m.tolist()))
    return unit_sd**2 * (base - correction)


def _normal_mixture_prior(
    name: str, mix: NormalMixture, variable: str, note: str, unit_sd: float
) -> dict[str, Any]:
    params = mix.to_parameters()
    rounded = NormalMixture(tuple(params["weights"]), tuple(params["mean"]), tuple(params["sd"]))
    ws, ms, ss = params["weights"], params["mean"], params["sd"]
    wlist = ", ".join(_fmt(v) for v in ws)
    mlist = ", ".join(_fmt(v) for v in ms)
    slist = ", ".join(_fmt(v) for v in ss)
    lpdfs = ", ".join(
        f"normal_lpdf({variable} | {_fmt(a)}, {_fmt(b)})" for a, b in zip(ms, ss, strict=True)
    )
    out = {
        "name": name,
        "family": "normal_mixture",
        "variable": variable,
        "parameters": params,
        "ess": _sig(normal_mixture_ess(rounded, unit_sd)),
        "ess_method": ELIR_NORMAL_METHOD,
        "ess_moment": _sig(unit_sd**2 / rounded.var()),
        "description": note,
        "pymc": f'pm.NormalMixture("{variable}", w=[{wlist}], mu=[{mlist}], sigma=[{slist}])',
        "stan": f"target += log_mix([{wlist}]', [{lpdfs}]');",
    }
    if len(ws) == 1:
        out["pymc"] = f'pm.Normal("{variable}", mu={_fmt(ms[0])}, sigma={_fmt(ss[0])})'
        out["stan"] = f"{variable} ~ normal({_fmt(ms[0])}, {_fmt(ss[0])});"
    return out


# ---------------------------------------------------------------------------------------------
# Prior-data conflict
# ---------------------------------------------------------------------------------------------


def _two_sided(lower: float, upper: float) -> dict[str, float]:
    return {
        "p_lower": float(lower),
        "p_upper": float(upper),
        "p_two_sided": float(min(1.0, 2.0 * min(lower, upper))),
    }


def rate_conflict(prior: BetaMixture, x: int, n: int) -> dict[str, float]:
    """Tail probabilities of x responders of n under the Beta-binomial mixture of ``prior``.

    Returns ``p_lower`` = P(X <= x), ``p_upper`` = P(X >= x) and ``p_two_sided`` =
    min(1, 2 min(p_lower, p_upper)); a small value flags a conflict between the new trial and the
    MAP prior (Box 1980).
    """
    if not (int(x) == x and int(n) == n and 0 <= x <= n and n >= 1):
        raise ValueError(f"need integers 0 <= x <= n, n >= 1; got x={x}, n={n}")
    w, a, b = prior.arrays
    lower = float(np.sum(w * stats.betabinom.cdf(x, n, a, b)))
    upper = float(np.sum(w * stats.betabinom.sf(x - 1, n, a, b)))
    return _two_sided(lower, upper)


def median_conflict(
    prior: NormalMixture, median: float, lower: float | None, upper: float | None
) -> dict[str, float]:
    """Tail probabilities of a new trial's reported median (months, 95 % CI) under ``prior``.

    ``prior`` is on the log median (log months); the observed log median has the se of
    :func:`models.map_prior.log_median_se`, so its predictive is the mixture with variances
    s_k^2 + se^2. Same keys as :func:`rate_conflict`.
    """
    se = log_median_se(median, lower, upper)
    w, m, s = prior.arrays
    z = (math.log(median) - m) / np.sqrt(s**2 + se**2)
    return _two_sided(float(np.sum(w * stats.norm.cdf(z))), float(np.sum(w * stats.norm.sf(z))))


# ---------------------------------------------------------------------------------------------
# Results
# ---------------------------------------------------------------------------------------------


def _tau_summary(fit: MapFit) -> dict[str, Any]:
    if fit.settings["tau_fixed"] is not None:
        return {"fixed": float(fit.settings["tau_fixed"])}
    return {**summarise_draws(fit.tau_draws), "prior": f"HalfNormal({fit.settings['tau_scale']})"}


def _model_description(fit: MapFit) -> dict[str, Any]:
    mu0, sd = fit.settings["mean_prior"]
    scale = "logit rate" if fit.kind == "rate" else "log median (log months)"
    mean_prior = f"Normal({_sig(mu0)}, {_sig(sd)})"
    if fit.settings.get("mean_family") == "logistic":
        mean_prior = "Logistic(0, 1) (typical rate uniform)"
    tau = fit.settings["tau_fixed"]
    return {
        "scale": scale,
        "mean_prior": mean_prior,
        "tau_prior": f"HalfNormal({fit.settings['tau_scale']})" if tau is None else f"fixed {tau}",
        "reference": "Neuenschwander et al., Clinical Trials 2010 (RBesT gMAP)",
        "likelihood": (
            "binomial counts, or a weighted mixture of candidate counts (coarsened report)"
            if fit.kind == "rate"
            else "normal on log median, se from the 95 % CI on the log scale"
        ),
    }


def map_rate_result(
    fit: MapFit, *, robust_weight: float = ROBUST_WEIGHT, variable: str = RATE_VARIABLE
) -> dict[str, Any]:
    """The MAP prior of a rate from a fit: Beta mixture (K by BIC), robust mixture, ELIR ESS,
    per-trial shrinkage, tau and mu summaries and the diagnostics (JSON-serialisable)."""
    mix, bics = fit_beta_mixture(fit.new_draws)
    robust = robust_mixture(mix, robust_weight)
    fitted = _mixture_prior(
        "map", mix, variable, f"MAP predictive, Beta mixture of {mix.n_components} by BIC"
    )
    fitted["bic"] = {str(k): _sig(v) for k, v in bics.items()}
    robust_prior = _mixture_prior(
        "map_robust",
        robust,
        variable,
        f"MAP mixture with a vague Beta(1, 1) component of weight {robust_weight}",
    )
    return {
        "kind": "rate",
        "variable": variable,
        "model": _model_description(fit),
        "trials": [
            {"name": t.name, "observed": t.observed(), "shrinkage": summarise_draws(d)}
            for t, d in zip(fit.trials, fit.trial_draws, strict=True)
        ],
        "tau": _tau_summary(fit),
        "mean": summarise_draws(fit.mean_draws),
        "predictive": summarise_draws(fit.new_draws),
        "priors": [fitted, robust_prior],
        "ess": {
            "map": fitted["ess"],
            "robust": robust_prior["ess"],
            "robust_weight": robust_weight,
            "unit": "patients",
            "method": fitted["ess_method"],
        },
        "diagnostics": fit.diagnostics.summary(),
    }


def map_median_result(
    fit: MapFit,
    *,
    robust_weight: float = ROBUST_WEIGHT,
    vague_sd: float = VAGUE_LOG_MEDIAN_SD,
    variable: str = MEDIAN_VARIABLE,
) -> dict[str, Any]:
    """The MAP prior of a log median from a fit: normal mixture (K by BIC), robust mixture, ESS in
    events, per-trial shrinkage (months), tau and mu summaries and diagnostics (JSON-ready)."""
    mix, bics = fit_normal_mixture(fit.new_draws)
    robust = robust_normal_mixture(mix, robust_weight, vague_sd)
    fitted = _normal_mixture_prior(
        "map",
        mix,
        variable,
        f"MAP predictive of log median, normal mixture of {mix.n_components} by BIC",
        MEDIAN_UNIT_SD,
    )
    fitted["bic"] = {str(k): _sig(v) for k, v in bics.items()}
    robust_prior = _normal_mixture_prior(
        "map_robust",
        robust,
        variable,
        f"MAP mixture with a vague N(MAP mean, {vague_sd}^2) of weight {robust_weight}",
        MEDIAN_UNIT_SD,
    )
    return {
        "kind": "median",
        "variable": variable,
        "model": _model_description(fit),
        "trials": [
            {"name": t.name, "observed": t.observed(), "shrinkage": summarise_draws(d)}
            for t, d in zip(fit.trials, fit.trial_draws, strict=True)
        ],
        "tau": _tau_summary(fit),
        "mean": summarise_draws(fit.mean_draws),
        "predictive": {
            "log_median": summarise_draws(fit.new_draws),
            "median_months": summarise_draws(np.exp(fit.new_draws)),
        },
        "priors": [fitted, robust_prior],
        "ess": {
            "map": fitted["ess"],
            "robust": robust_prior["ess"],
            "robust_weight": robust_weight,
            "unit": "events",
            "method": ELIR_NORMAL_METHOD,
        },
        "diagnostics": fit.diagnostics.summary(),
    }


def map_prior_from_summaries(
    rows: Iterable[Sequence[Any]],
    kind: str,
    *,
    tau_scale: float | None = None,
    tau_fixed: float | None = None,
    robust_weight: float = ROBUST_WEIGHT,
    seed: int = DEFAULT_SEED,
    allow_failed: bool = False,
    variable: str | None = None,
) -> dict[str, Any]:
    """The MAP prior of several published trials, ready for JSON.

    Args:
        rows: for ``kind="rate"`` rows (name, x, n, weight), several rows per name for a trial
            known only through candidate counts (e.g. from the coarsened rate report); for
            ``kind="median"`` rows (name, median, lower, upper) in months, upper None when not
            reached.
        kind: ``"rate"`` or ``"median"``.
        tau_scale: half-normal scale of tau (default 1 on the logit, 0.5 on the log median).
        tau_fixed: fix tau (0: pooling) instead.
        robust_weight: weight of the vague component.
        seed: run seed (the fit's seed is derived from it and the trials' names).
        allow_failed: return a fit that failed its gates (marked in ``diagnostics``).
        variable: the prior's variable name in the one-liners.

    Returns:
        See :func:`map_rate_result` / :func:`map_median_result`.

    Raises:
        ValueError: unknown kind or malformed rows (before any sampling).
        DiagnosticsError: the fit failed its gates and ``allow_failed`` is False.
    """
    if kind == "rate":
        fit = fit_map_rate(
            rate_trials(rows),
            seed=seed,
            tau_scale=RATE_TAU_SCALE if tau_scale is None else tau_scale,
            tau_fixed=tau_fixed,
            allow_failed=allow_failed,
        )
        return map_rate_result(fit, robust_weight=robust_weight, variable=variable or RATE_VARIABLE)
    if kind == "median":
        fit = fit_map_median(
            median_trials(rows),
            seed=seed,
            tau_scale=MEDIAN_TAU_SCALE if tau_scale is None else tau_scale,
            tau_fixed=tau_fixed,
            allow_failed=allow_failed,
        )
        return map_median_result(
            fit, robust_weight=robust_weight, variable=variable or MEDIAN_VARIABLE
        )
    raise ValueError(f"kind must be 'rate' or 'median', got {kind!r}")


def tau_sensitivity(
    rows: Iterable[Sequence[Any]],
    kind: str,
    *,
    scales: Sequence[float] | None = None,
    seed: int = DEFAULT_SEED,
    allow_failed: bool = False,
) -> list[dict[str, Any]]:
    """The MAP prior under several half-normal scales of tau (one compiled model, refitted).

    Returns one row per scale: ``tau_scale``, ``tau`` and ``predictive`` summaries and the ESS of
    the fitted MAP mixture (patients for a rate, events for a median).
    """
    rows = list(rows)
    if kind not in ("rate", "median"):
        raise ValueError(f"kind must be 'rate' or 'median', got {kind!r}")
    scales = tuple(scales or (RATE_TAU_SCALES if kind == "rate" else MEDIAN_TAU_SCALES))
    out = []
    for scale in scales:
        res = map_prior_from_summaries(
            rows, kind, tau_scale=scale, seed=seed, allow_failed=allow_failed
        )
        out.append(
            {
                "tau_scale": scale,
                "tau": res["tau"],
                "predictive": res["predictive"],
                "ess_map": res["ess"]["map"],
                "ess_robust": res["ess"]["robust"],
                "passed": res["diagnostics"]["passed"],
            }
        )
    return out


def conflict_check(result: Mapping[str, Any], new: Mapping[str, Any]) -> dict[str, float]:
    """Conflict check of a new trial against a MAP result dict (its non-robust ``map`` prior).

    ``new`` is ``{"x", "n"}`` for a rate or ``{"median", "lower", "upper"}`` for a median.
    """
    prior = result["priors"][0]
    if result["kind"] == "rate":
        return rate_conflict(BetaMixture.from_prior(prior), new["x"], new["n"])
    p = prior["parameters"]
    mix = NormalMixture(tuple(p["weights"]), tuple(p["mean"]), tuple(p["sd"]))
    return median_conflict(mix, new["median"], new.get("lower"), new.get("upper"))
