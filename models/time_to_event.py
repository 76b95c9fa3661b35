r"""Time-to-event endpoints (PFS, OS, TTP, duration of response): a Weibull model fitted to a
reported Kaplan-Meier median (with two, one or no CI limits, or "not reached"), landmark survival
rates, or (reconstructed) patient data (DESIGN.md sections 4.2 and 4.4).

Parametrisation, stated once: :math:`S(t) = \exp(-(t/\lambda)^k)`, median
:math:`m = \lambda (\ln 2)^{1/k}`, so :math:`S(t) = \exp(-\ln 2\,(t/m)^k)`. ``median`` = m and
``weibull_scale`` = :math:`\lambda` are in the endpoint's own time unit (days, weeks, months or
years: every time the model sees is in that unit, and nothing in the likelihood depends on which),
``weibull_shape`` = k (k > 1: rising hazard). Priors are lognormal on m and k (normal on their
logs), hyperparameters ``pm.Data``.

**Summary likelihood** (order-statistic / Dirichlet). The reported (L, M, U) are treated as event
times at CDF levels :math:`u_i = F(x_i) = 1 - e^{-H_i}`, :math:`H_i = \ln 2\,(x_i/m)^k`. The
spacings :math:`(u_L, u_M - u_L, u_U - u_M, 1 - u_U) \sim \mathrm{Dirichlet}(\alpha)`, alpha
calibrated by simulation (:mod:`analysis.inference.calibration`). The density of x adds the
Jacobian of x -> u, :math:`\sum_i [\log k - \log x_i + \log H_i - H_i]`. Spacings are computed on
the log scale with expm1: :math:`\log(u_M - u_L) = -H_L + \log(-\mathrm{expm1}(H_L - H_M))`.
What was printed picks the :data:`PATTERNS` entry (fixed when the model is built, so no branch
that is not used is ever evaluated):

- ``"L,M,U"``: the four spacings above.
- ``"L,M"`` (upper limit not estimable): the last two spacings merge, alpha (a1, a2, a3 + a4).
- ``"M,U"`` (lower limit not printed): the first two merge, alpha (a1 + a2, a3, a4).
- ``"M"`` (a median without CI): :math:`u_M \sim \mathrm{Beta}(a_1 + a_2, a_3 + a_4)`.
- ``">F"`` (median not reached, no lower limit): the KM curve stayed above one half up to the
  follow-up time F, i.e. the level-0.5 order statistic lies beyond it,
  :math:`P(u_M > F(t_F)) = I_{1 - F(t_F)}(a_3 + a_4, a_1 + a_2)` (regularised incomplete beta).
- ``"L,>F"`` (not reached, lower limit printed, F > L): the density of L,
  :math:`u_L \sim \mathrm{Beta}(a_1, a_2 + a_3 + a_4)`, times
  :math:`P(u_M > F(t_F) \mid u_L) = I_{1-z}(a_3 + a_4, a_2)`, :math:`1 - z = e^{-(H_F - H_L)}`
  (given u_L, :math:`(u_M - u_L)/(1 - u_L) \sim \mathrm{Beta}(a_2, a_3 + a_4)`: Dirichlet
  aggregation and neutrality).
- ``"L"`` (not reached, only a lower limit and no later follow-up time): the density of L alone.
- ``""``: no summary term (landmarks or patient data only).

Which follow-up time F the endpoint uses for a median not reached is the analysis's choice
(:mod:`analysis.endpoints.time_to_event` documents it).

**Landmarks** (survival S(t) printed at fixed times, with or without a CI): a normal likelihood on
the complementary log-log scale, where the Weibull is linear:
:math:`g(S(t)) = \log(-\log S(t)) = \log \ln 2 + k(\log t - \log m)`. Each landmark contributes
:math:`N(y_i \mid g(S(t_i)), s_i)` with :math:`y_i = g(\hat S_i)` and :math:`s_i` from the printed
CI on the same scale (:func:`landmark_data`).

**Patient data**: censored Weibull likelihood via ``pm.Censored``: events f(t), right-censored
patients S(t). Events recorded at time 0 (a Guyot reconstruction keeps them; patient data may
hold them) happened before the first assessment: they are interval-censored in (0, t1], t1 the
smallest positive time in the data, so they contribute F(t1); patients censored at time 0 carry
no information and are left out (:func:`patient_data`).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from functools import cache
from typing import Any

import numpy as np
import pymc as pm
import pytensor.tensor as pt
from scipy import stats

from trial_reanalysis.models.priors import PriorScenario, primary

MEDIAN = "median"
SHAPE = "weibull_shape"
SCALE = "weibull_scale"
LN2 = float(np.log(2.0))
#: What a printed summary can hold (see the module docstring).
PATTERNS = ("L,M,U", "L,M", "M,U", "M", "L,>F", "L", ">F", "")
#: Landmarks a model holds (the trial-file schema allows at most 20 per endpoint).
MAX_LANDMARKS = 20
#: Days per unit (a month is a twelfth of 365.25 days), as the trial files define them.
DAYS_PER_UNIT = {"days": 1.0, "weeks": 7.0, "months": 365.25 / 12, "years": 365.25}
#: Centre of the default prior of the median, in months (converted to the endpoint's unit).
DEFAULT_PRIOR_MEDIAN_MONTHS = 12.0
#: Landmark survival is clipped into [EPS, 1 - EPS] before the cloglog (0 % and 100 % are
#: printed, and their cloglog is infinite).
LANDMARK_EPS = 0.005
Z95 = float(stats.norm.ppf(0.975))


# ---------------------------------------------------------------------------------------------
# priors
# ---------------------------------------------------------------------------------------------


def default_priors(unit: str = "months") -> dict[str, PriorScenario]:
    """The documented default priors of (median, weibull_shape) in ``unit`` (lognormal).

    Never centred on a reported median: the median's prior is centred at 12 months converted to
    the unit (days 365.25, weeks 52.18, months 12, years 1) whatever the trial printed.
    """
    if unit not in DAYS_PER_UNIT:
        raise ValueError(f"unknown time unit {unit!r}; use one of {sorted(DAYS_PER_UNIT)}")
    centre = DEFAULT_PRIOR_MEDIAN_MONTHS * DAYS_PER_UNIT["months"] / DAYS_PER_UNIT[unit]
    mu = float(np.log(centre))
    lo, hi = centre * np.exp(-1.96 * 1.5), centre * np.exp(1.96 * 1.5)
    return {
        s.name: s
        for s in [
            PriorScenario(
                "weakly_informative",
                "lognormal",
                {
                    "log_median_mu": mu,
                    "log_median_sd": 1.5,
                    "log_shape_mu": 0.0,
                    "log_shape_sd": 0.6,
                },
                f"Median centred at 12 months ({centre:.4g} {unit}) with a 95 % prior range of "
                f"{lo:.3g}-{hi:.3g} {unit} (from weeks to decades: any phase 2 endpoint); shape "
                "centred at 1 (constant hazard), 95 % range 0.3-3.2. Not centred on the reported "
                "median.",
                primary=True,
            ),
            PriorScenario(
                "vague",
                "lognormal",
                {
                    "log_median_mu": mu,
                    "log_median_sd": 3.0,
                    "log_shape_mu": 0.0,
                    "log_shape_sd": 1.0,
                },
                "Very wide: median over 0.003-4,300 times its centre, shape 0.14-7.1 (95 %; "
                "wider shapes are not seen in clinical time-to-event data, and with a median "
                "alone they leave the sampler a funnel): lets the reported numbers speak.",
            ),
            PriorScenario(
                "exponential_skeptical",
                "lognormal",
                {
                    "log_median_mu": mu,
                    "log_median_sd": 1.5,
                    "log_shape_mu": 0.0,
                    "log_shape_sd": 0.2,
                },
                "Shape held near 1 (95 % range 0.67-1.5): a constant-hazard (exponential) skeptic "
                "the data must move towards a rising or falling hazard.",
            ),
        ]
    }


def endpoint_priors(declared: Mapping[str, Any], unit: str = "months") -> dict[str, PriorScenario]:
    """The defaults of :func:`default_priors` plus the priors a trial file declares.

    ``declared`` maps a name to an object with ``family`` ("lognormal"), ``parameters``
    (log_median_mu, log_median_sd, log_shape_mu, log_shape_sd, the median's in the endpoint's
    unit), ``rationale`` and ``primary``. A declared prior replaces a default of the same name; a
    declared prior marked primary becomes the primary (else the default weakly informative one
    stays primary).
    """
    priors = default_priors(unit)
    marked = [name for name, p in declared.items() if p.primary]
    if marked:
        priors = {
            n: PriorScenario(s.name, s.family, s.parameters, s.rationale, False)
            for n, s in priors.items()
        }
    for name, p in declared.items():
        if p.family != "lognormal":
            raise ValueError(f"prior {name!r}: a time-to-event prior is lognormal")
        params = {k: float(v) for k, v in p.parameters.items()}
        priors[name] = PriorScenario(
            name, "lognormal", params, p.rationale, bool(p.primary), tags=("declared",)
        )
    primary(priors)  # exactly one
    return priors


def prior_data(prior: PriorScenario) -> dict[str, float]:
    """``pm.Data`` values of a prior scenario."""
    p = prior.parameters
    return {
        "prior_log_median_mu": p["log_median_mu"],
        "prior_log_median_sd": p["log_median_sd"],
        "prior_log_shape_mu": p["log_shape_mu"],
        "prior_log_shape_sd": p["log_shape_sd"],
    }


def _priors(prior: PriorScenario) -> tuple[Any, Any]:
    pd_ = prior_data(prior)
    mu_m = pm.Data("prior_log_median_mu", pd_["prior_log_median_mu"])
    sd_m = pm.Data("prior_log_median_sd", pd_["prior_log_median_sd"])
    mu_k = pm.Data("prior_log_shape_mu", pd_["prior_log_shape_mu"])
    sd_k = pm.Data("prior_log_shape_sd", pd_["prior_log_shape_sd"])
    median = pm.LogNormal(MEDIAN, mu=mu_m, sigma=sd_m)
    shape = pm.LogNormal(SHAPE, mu=mu_k, sigma=sd_k)
    pm.Deterministic(SCALE, median / LN2 ** (1.0 / shape))
    return median, shape


# ---------------------------------------------------------------------------------------------
# summary likelihood
# ---------------------------------------------------------------------------------------------


def summary_pattern(
    lower: float | None, median: float | None, upper: float | None, followup: float | None
) -> str:
    """The :data:`PATTERNS` entry of a printed summary (None: not printed / not reached).

    ``median`` None means "not reached" (then ``followup`` is the time up to which the curve is
    known to stay above one half, or None).
    """
    if median is not None:
        return ",".join(n for n, v in (("L", lower), ("M", median), ("U", upper)) if v is not None)
    if upper is not None:
        raise ValueError("a median not reached cannot have a finite upper limit")
    if lower is not None:
        return "L,>F" if followup is not None and followup > lower else "L"
    if followup is None:
        raise ValueError("a median not reached needs a follow-up time or a lower limit")
    return ">F"


def summary_data(
    median: float | None,
    lower: float | None,
    upper: float | None,
    alpha: Sequence[float],
    *,
    followup: float | None = None,
) -> dict[str, Any]:
    """``pm.Data`` values of a printed (L, M, U) (any may be None; M None = not reached), the
    follow-up time F of a median not reached, and the Dirichlet alpha.

    Times the pattern does not use get finite placeholders (never read by the model).

    Raises:
        ValueError: limits out of order (0 < L < M < U), a non-positive time, or alpha not 4
            positive numbers.
    """
    alpha = np.asarray(alpha, dtype=float)
    if alpha.shape != (4,) or np.any(alpha <= 0) or not np.all(np.isfinite(alpha)):
        raise ValueError("alpha must be 4 positive numbers")
    for name, v in (("L", lower), ("M", median), ("U", upper), ("F", followup)):
        if v is not None and not (np.isfinite(v) and v > 0):
            raise ValueError(f"{name} must be a positive time, got {v}")
    if median is not None:
        if (lower is not None and not lower < median) or (upper is not None and not median < upper):
            raise ValueError(f"need 0 < L < M < U, got L={lower}, M={median}, U={upper}")
        m = median
        lo = lower if lower is not None else m / 2
        hi = upper if upper is not None else 2 * m
        f = m
    else:
        f = followup if followup is not None else (lower if lower is not None else 1.0)
        lo = lower if lower is not None else f / 2
        m, hi = 2 * max(f, lo), 4 * max(f, lo)
    return {
        "reported_lower": np.array(float(lo)),
        "reported_median": np.array(float(m)),
        "reported_upper": np.array(float(hi)),
        "followup_time": np.array(float(f)),
        "dirichlet_alpha": alpha,
    }


def _offset_priors(prior: PriorScenario, reference: Any) -> tuple[Any, Any]:
    """(median, shape) of the summary model, sampled as (log_shape, median_offset).

    With few printed numbers the median is pinned to within a spread that shrinks as 1/k (the
    CDF at a printed time moves with (x/m)^k): a funnel in (log m, log k). The sampler moves
    instead on ``log_shape`` = log k and ``median_offset`` w = k (log m - log c), c a printed
    time (``reference_time``), on which the likelihood depends almost alone. The target density
    is the same lognormal prior: p(w, log k) = N(log m; mu_m, sd_m) N(log k; mu_k, sd_k) / k
    (|d log m / d w| = 1 / k).
    """
    pd_ = prior_data(prior)
    mu_m = pm.Data("prior_log_median_mu", pd_["prior_log_median_mu"])
    sd_m = pm.Data("prior_log_median_sd", pd_["prior_log_median_sd"])
    mu_k = pm.Data("prior_log_shape_mu", pd_["prior_log_shape_mu"])
    sd_k = pm.Data("prior_log_shape_sd", pd_["prior_log_shape_sd"])
    log_k = pm.Normal("log_shape", mu=mu_k, sigma=sd_k)
    w = pm.Flat("median_offset")
    shape = pt.exp(log_k)
    log_m = pt.log(reference) + w / shape
    pm.Potential("median_prior", pm.logp(pm.Normal.dist(mu_m, sd_m), log_m) - log_k)
    median = pm.Deterministic(MEDIAN, pt.exp(log_m))
    shape = pm.Deterministic(SHAPE, shape)
    pm.Deterministic(SCALE, median / LN2 ** (1.0 / shape))
    return median, shape


def _dirichlet_logp(alphas: list[Any], log_spacings: list[Any]) -> Any:
    """log Dirichlet density at spacings given by their logs (pytensor, elementwise)."""
    total = alphas[0]
    for a in alphas[1:]:
        total = total + a
    out = pt.gammaln(total)
    for a, ls in zip(alphas, log_spacings, strict=True):
        out = out - pt.gammaln(a) + (a - 1.0) * ls
    return out


def summary_loglik_graph(
    median: Any,
    shape: Any,
    lower: Any,
    mid: Any,
    upper: Any,
    followup: Any,
    alpha: Any,
    pattern: str,
) -> Any:
    """Log likelihood of a printed summary (pytensor; elementwise in ``median`` and ``shape``).

    ``lower``, ``mid``, ``upper``, ``followup`` are scalar times (L, M, U, F), ``alpha`` the
    4-vector; ``pattern`` (:data:`PATTERNS`) says which of them are data.
    """
    if pattern not in PATTERNS:
        raise ValueError(f"unknown summary pattern {pattern!r}; one of {PATTERNS}")
    if pattern == "":
        return pt.zeros_like(median * shape)
    a1, a2, a3, a4 = alpha[0], alpha[1], alpha[2], alpha[3]
    log_ln2 = float(np.log(LN2))

    def log_h(x: Any) -> Any:
        return log_ln2 + shape * (pt.log(x) - pt.log(median))

    lh = {"L": log_h(lower), "M": log_h(mid), "U": log_h(upper), "F": log_h(followup)}
    h = {k: pt.exp(v) for k, v in lh.items()}
    x = {"L": lower, "M": mid, "U": upper}

    def jac(name: str) -> Any:
        return pt.log(shape) - pt.log(x[name]) + lh[name] - h[name]

    def log_u(name: str) -> Any:
        return pt.log(-pt.expm1(-h[name]))

    def log_gap(a: str, b: str) -> Any:
        return -h[a] + pt.log(-pt.expm1(h[a] - h[b]))

    if pattern == "L,M,U":
        return _dirichlet_logp(
            [a1, a2, a3, a4], [log_u("L"), log_gap("L", "M"), log_gap("M", "U"), -h["U"]]
        ) + (jac("L") + jac("M") + jac("U"))
    if pattern == "L,M":
        return _dirichlet_logp([a1, a2, a3 + a4], [log_u("L"), log_gap("L", "M"), -h["M"]]) + (
            jac("L") + jac("M")
        )
    if pattern == "M,U":
        return _dirichlet_logp([a1 + a2, a3, a4], [log_u("M"), log_gap("M", "U"), -h["U"]]) + (
            jac("M") + jac("U")
        )
    if pattern == "M":
        return _dirichlet_logp([a1 + a2, a3 + a4], [log_u("M"), -h["M"]]) + jac("M")
    if pattern == ">F":
        return pt.log(pt.betainc(a3 + a4, a1 + a2, pt.exp(-h["F"])))
    density_l = _dirichlet_logp([a1, a2 + a3 + a4], [log_u("L"), -h["L"]]) + jac("L")
    if pattern == "L":
        return density_l
    return density_l + pt.log(pt.betainc(a3 + a4, a2, pt.exp(h["L"] - h["F"])))


@cache
def _compiled_loglik(pattern: str, landmarks: bool) -> Any:
    m, k = pt.dvector("m"), pt.dvector("k")
    lo, mid, hi, f = pt.dscalars("lo", "mid", "hi", "f")
    a = pt.dvector("a")
    t, y, se, w = pt.dvectors("t", "y", "se", "w")
    out = summary_loglik_graph(m, k, lo, mid, hi, f, a, pattern)
    if landmarks:
        out = out + landmark_loglik_graph(m, k, t, y, se, w)
    # Compiled once per machine, not per process (model_cache.cached_function), with numba as
    # the sampler's model is: PyTensor's C backend probes the compiler in every new process
    # (about 0.6 s) even when its code is cached. The "median not reached" patterns hold
    # betainc, which numba's cache cannot store (a SciPy function pointer): C backend there.
    from trial_reanalysis.analysis.inference.model_cache import cached_function

    mode = None if ">F" in pattern.split(",") else "NUMBA"
    return cached_function(
        [m, k, lo, mid, hi, f, a, t, y, se, w], out, on_unused_input="ignore", mode=mode
    )


def summary_loglik(
    median: np.ndarray | float,
    shape: np.ndarray | float,
    data: Mapping[str, Any],
    pattern: str,
    landmarks: Mapping[str, Any] | None = None,
) -> np.ndarray:
    """NumPy evaluation of the summary log likelihood (plus the landmarks' when given), the very
    graph the model uses, vectorised over ``median`` and ``shape`` (broadcast together).

    ``data`` as :func:`summary_data` returns it (pattern "": may be empty); ``landmarks`` as
    :func:`landmark_data`.
    """
    m, k = np.broadcast_arrays(np.asarray(median, float), np.asarray(shape, float))
    lm = landmarks or landmark_data([], 1)
    f = _compiled_loglik(pattern, landmarks is not None)
    out = f(
        m.ravel(),
        k.ravel(),
        *(float(data.get(n, 1.0)) for n in ("reported_lower", "reported_median", "reported_upper")),
        float(data.get("followup_time", 1.0)),
        np.asarray(data.get("dirichlet_alpha", np.ones(4)), float),
        *(np.asarray(lm[n], float) for n in LANDMARK_KEYS),
    )
    return np.asarray(out).reshape(m.shape)


# ---------------------------------------------------------------------------------------------
# landmarks
# ---------------------------------------------------------------------------------------------

#: ``pm.Data`` names of the landmark arrays (padded to MAX_LANDMARKS; weight 0 = padding).
LANDMARK_KEYS = ("landmark_time", "landmark_cloglog", "landmark_se", "landmark_weight")


def cloglog(s: np.ndarray | float) -> np.ndarray:
    """g(S) = log(-log S), decreasing in S."""
    return np.log(-np.log(np.asarray(s, dtype=float)))


def landmark_data(
    landmarks: Sequence[tuple[float, float, tuple[float, float] | None]], n_at_risk: int
) -> dict[str, np.ndarray]:
    """``pm.Data`` arrays of printed landmark rates: (time, percent, CI in percent or None).

    y = g(S) with g the complementary log-log. With a CI, its se is the half-width on the g scale,
    (g(lower) - g(upper)) / (2 z) (exact when the CI was computed on the log-log scale, as SAS,
    Stata and lifelines do; an average of the two half-widths otherwise). Without a CI, the
    binomial variance of a KM estimate without censoring, Var(S) = S(1-S)/n, by the delta method:
    se = sqrt((1-S) / (n S)) / |log S| (n = patients at risk at time 0; censoring before t would
    make it larger). Survival is clipped into [LANDMARK_EPS, 1 - LANDMARK_EPS].

    Raises:
        ValueError: more than MAX_LANDMARKS, a non-positive time or n, a CI not containing the
            percent.
    """
    if len(landmarks) > MAX_LANDMARKS:
        raise ValueError(f"at most {MAX_LANDMARKS} landmarks")
    if n_at_risk < 1:
        raise ValueError("n at risk must be positive")
    t = np.ones(MAX_LANDMARKS)
    y = np.zeros(MAX_LANDMARKS)
    se = np.ones(MAX_LANDMARKS)
    w = np.zeros(MAX_LANDMARKS)
    for i, (time, percent, ci) in enumerate(landmarks):
        if not time > 0:
            raise ValueError(f"landmark time must be positive, got {time}")
        s = float(np.clip(percent / 100, LANDMARK_EPS, 1 - LANDMARK_EPS))
        t[i], y[i], w[i] = time, float(cloglog(s)), 1.0
        if ci is not None:
            lo, hi = (float(np.clip(c / 100, LANDMARK_EPS, 1 - LANDMARK_EPS)) for c in ci)
            if not lo <= s <= hi or not lo < hi:
                raise ValueError(f"landmark at {time}: CI {ci} does not hold {percent}")
            se[i] = float((cloglog(lo) - cloglog(hi)) / (2 * Z95))
        else:
            se[i] = float(np.sqrt((1 - s) / (n_at_risk * s)) / abs(np.log(s)))
    return dict(zip(LANDMARK_KEYS, (t, y, se, w), strict=True))


def landmark_loglik_graph(median: Any, shape: Any, t: Any, y: Any, se: Any, w: Any) -> Any:
    """Sum over landmarks of w_i log N(y_i | log ln 2 + k (log t_i - log m), se_i) (pytensor;
    elementwise in ``median``/``shape``, which may be vectors)."""
    mu = float(np.log(LN2)) + shape[..., None] * (pt.log(t) - pt.log(median)[..., None])
    z = (y - mu) / se
    return pt.sum(w * (-0.5 * z**2 - pt.log(se) - 0.5 * np.log(2 * np.pi)), axis=-1)


# ---------------------------------------------------------------------------------------------
# the summary model
# ---------------------------------------------------------------------------------------------


def pattern_data_names(pattern: str) -> tuple[str, ...]:
    """The summary ``pm.Data`` names a pattern's model holds (the times it reads, and alpha)."""
    parts = pattern.split(",") if pattern else []
    names = {
        "L": "reported_lower",
        "M": "reported_median",
        "U": "reported_upper",
        ">F": "followup_time",
    }
    out = tuple(names[p] for p in parts)
    return (*out, "dirichlet_alpha") if out else ()


def reference_time(
    pattern: str, data: Mapping[str, Any], landmarks: Mapping[str, Any] | None = None
) -> float:
    """The printed time the summary model's median offset is measured from (see
    :func:`_offset_priors`): M, else L, else F, else U, else the geometric mean of the landmark
    times, else 1."""
    parts = pattern.split(",") if pattern else []
    for part, name in (
        ("M", "reported_median"),
        ("L", "reported_lower"),
        (">F", "followup_time"),
        ("U", "reported_upper"),
    ):
        if part in parts:
            return float(data[name])
    if landmarks is not None and np.any(np.asarray(landmarks["landmark_weight"]) > 0):
        used = np.asarray(landmarks["landmark_weight"]) > 0
        # the geometric mean: log t centred, so the offset and the shape part (the intercept and
        # slope of the landmarks' cloglog line) are nearly uncorrelated
        return float(np.exp(np.mean(np.log(np.asarray(landmarks["landmark_time"])[used]))))
    return 1.0


def build_summary_model(
    pattern: str,
    data: Mapping[str, Any],
    landmarks: Mapping[str, Any] | None = None,
    *,
    prior: PriorScenario | None = None,
) -> pm.Model:
    """The Weibull model of a printed summary (``pattern``, ``data`` from :func:`summary_data`)
    and landmark rates (``landmarks`` from :func:`landmark_data`; none: all weights 0).

    Sampled as (``log_shape``, ``median_offset``), with ``median``, ``weibull_shape`` and
    ``weibull_scale`` deterministic (:func:`_offset_priors`). Every datum the pattern reads
    (:func:`pattern_data_names`), the landmark arrays, ``reference_time`` and the four prior
    hyperparameters are ``pm.Data`` (scalars for the times, so
    each ``constant_data`` entry has its own shape): refit any scenario, prior or trial of the
    same pattern with :meth:`analysis.inference.fitting.CompiledModel.fit`.
    """
    prior = prior or primary(default_priors())
    lm = landmarks if landmarks is not None else landmark_data([], 1)
    used = pattern_data_names(pattern)
    with pm.Model() as model:
        times = [
            pm.Data(n, np.asarray(data[n], float)) if n in used else pt.constant(1.0)
            for n in ("reported_lower", "reported_median", "reported_upper", "followup_time")
        ]
        a = (
            pm.Data("dirichlet_alpha", np.asarray(data["dirichlet_alpha"], float))
            if pattern
            else pt.ones(4)
        )
        lmd = [pm.Data(n, np.asarray(lm[n], float)) for n in LANDMARK_KEYS]
        reference = pm.Data("reference_time", float(reference_time(pattern, data, lm)))
        m, k = _offset_priors(prior, reference)
        if pattern:
            pm.Potential(
                "order_statistic_likelihood", summary_loglik_graph(m, k, *times, a, pattern)
            )
        pm.Potential("landmark_likelihood", landmark_loglik_graph(m, k, *lmd))
    return model


# ---------------------------------------------------------------------------------------------
# patient data
# ---------------------------------------------------------------------------------------------


def first_assessment_time(time: Sequence[float]) -> float:
    """The smallest positive time in patient data (endpoint unit): the stand-in for the first
    assessment, the upper end of the interval in which an event recorded at time 0 happened.

    Raises ValueError when no time is positive.
    """
    t = np.asarray(time, dtype=float)
    positive = t[t > 0]
    if positive.size == 0:
        raise ValueError("no positive time: the first assessment cannot be placed")
    return float(positive.min())


def patient_data(time: Sequence[float], event: Sequence[int]) -> dict[str, Any]:
    """``pm.Data`` values of patient data (endpoint unit; event 1 = event), with events at 0.

    A time of 0 cannot be a Weibull event time (the density needs t > 0). An event recorded at
    time 0 happened before the first assessment: it is taken as interval-censored in (0, t1],
    t1 = :func:`first_assessment_time` (the smallest positive time in the data), i.e. left-
    censored at t1 (its likelihood is F(t1) = 1 - exp(-(t1/lambda)^k)). A patient censored at
    time 0 carries no information (S(0) = 1) and is left out. Returns ``event_time`` (observed;
    t1 for the events at 0), ``censor_at`` (right-censoring time, +inf for events),
    ``left_censor_at`` (t1 for the events at 0, -inf otherwise), and counts
    ``events_at_zero`` and ``censored_at_zero_dropped`` (not model data).

    Raises ValueError on negative or non-finite times, events other than 0/1, mismatched
    lengths, or data without any event (the Weibull is then not identified).
    """
    t = np.asarray(time, dtype=float)
    e = np.asarray(event)
    if t.shape != e.shape or t.ndim != 1 or t.size == 0:
        raise ValueError("time and event must be non-empty and of the same length")
    if not np.all(np.isfinite(t)) or np.any(t < 0):
        raise ValueError("times must be finite and >= 0")
    if not np.all(np.isin(e, (0, 1))):
        raise ValueError("events must be 0 (censored) or 1 (event)")
    e = e.astype(bool)
    if not e.any():
        raise ValueError(
            "no events: every patient is censored, so the Weibull shape and scale are not "
            "identified"
        )
    at_zero = t == 0
    keep = ~(at_zero & ~e)
    t1 = first_assessment_time(t)
    left = at_zero & e
    t, e, left = t[keep], e[keep], left[keep]
    return {
        "event_time": np.where(left, t1, t),
        "censor_at": np.where(e, np.inf, t),
        "left_censor_at": np.where(left, t1, -np.inf),
        "events_at_zero": int(left.sum()),
        "censored_at_zero_dropped": int((~keep).sum()),
        "first_assessment": t1,
    }


#: Keys of :func:`patient_data` that are ``pm.Data`` of the patient model.
PATIENT_DATA_KEYS = ("event_time", "censor_at", "left_censor_at")


def build_patient_model(
    time: Sequence[float], event: Sequence[int], *, prior: PriorScenario | None = None
) -> pm.Model:
    """Censored Weibull model of patient data (time in the endpoint's unit, event 1 = event).

    Right-censored patients contribute S(t), events f(t), and events recorded at time 0 F(t1)
    (interval-censored before the first assessment t1; see :func:`patient_data`). ``event_time``,
    ``censor_at`` (+inf for events) and ``left_censor_at`` (-inf except events at 0) are
    ``pm.Data``. Raises ValueError as :func:`patient_data`.
    """
    prior = prior or primary(default_priors())
    data = patient_data(time, event)
    with pm.Model() as model:
        t = pm.Data("event_time", data["event_time"])
        upper = pm.Data("censor_at", data["censor_at"])
        lower = pm.Data("left_censor_at", data["left_censor_at"])
        _, k = _priors(prior)
        scale = model[SCALE]
        pm.Censored(
            "observed_times",
            pm.Weibull.dist(alpha=k, beta=scale),
            lower=lower,
            upper=upper,
            observed=t,
        )
    return model
