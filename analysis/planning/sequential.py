"""Bayesian sequential designs for a single-arm follow-up trial with a binary endpoint.

A design enrols patients in groups and looks at the cumulative number of responders x_k after
n_1 < ... < n_K = N patients. Every design here, Bayesian or not, reduces to integer boundaries:

* at an interim look k < K: stop for futility if x_k <= a_k, stop for efficacy (declare the drug
  active) if x_k >= b_k, otherwise continue (a_k = -1: no futility stop; b_k = n_k + 1: none for
  efficacy);
* at the final look K: success (reject H0: p <= p0) if x_K >= b_K, failure otherwise
  (a_K = b_K - 1).

So every design is a table anyone can re-check. The rules behind the boundaries, with the
analysis prior pi (a Beta or a Beta mixture; its posterior is the Beta mixture with components
Beta(a_m + x, b_m + n - x) and weights w_m B(a_m + x, b_m + n - x) / B(a_m, b_m), renormalised):

* ``posterior`` (Thall and Simon 1994, Biometrics 50:337-349): futility if
  P(p > p0 | x_k) < c_f, efficacy if P(p > p0 | x_k) > c_e, success if P(p > p0 | x_K) > c_T.
* ``predictive`` (Lee and Liu 2008, Clinical Trials 5:93-106): the predictive probability
  PP(x_k) = P(P(p > p0 | x_k + Y) > theta_T), Y ~ the posterior-predictive (beta-binomial mixture)
  number of responders among the N - n_k patients still to come; futility if PP < theta_L,
  efficacy if PP > theta_U; success if P(p > p0 | x_K) > theta_T.
* ``bop2`` (Zhou, Lee and Yuan 2017, Stat Med 36:3302-3314, single binary endpoint): futility if
  P(p > p0 | x_k) < C(n_k) = lambda (n_k / N)^gamma (that is P(p <= p0 | x_k) > 1 - C(n_k)),
  success if P(p > p0 | x_K) > C(N) = lambda. Optional efficacy stopping uses the
  O'Brien-Fleming-type cutoff of the BOP2-FE extension (Xu et al., R package BOP2FE):
  P(p > p0 | x_k) > 2 Phi(Phi^-1((1 + lambda) / 2) / sqrt(n_k / N)) - 1, which equals lambda at N.
* ``simon``: Simon's (1989) two-stage designs (:mod:`analysis.frequentist.binomial`) as two looks.

P(p > p0 | x) increases with x for every prior (the binomial family has a monotone likelihood
ratio), and so does PP, so each rule is a threshold on x.

Exact operating characteristics (no simulation)
-----------------------------------------------
Every rule depends on the data only through x_k, so given x_k = x at n_k the patients' order is
exchangeable whatever p. Let q_k(x) be the probability, given x_k = x, that the trial did not stop
before look k: it does not depend on p. Forward recursion over looks with absorbing stops:
q_1 = 1 and

    q_{k+1}(y) = sum_x q_k(x) 1[a_k < x < b_k] H(x; n_{k+1}, y, n_k),

with H the hypergeometric probability that the first n_k of n_{k+1} patients hold x of the y
responders (a banded matrix, vectorised with numpy). Then for any rate p

    P(stop for futility at look k | p) = sum_{x <= a_k} q_k(x) Binomial(x | n_k, p)

(likewise for efficacy and final success), and under a design prior pi_d the binomial is replaced
by the prior predictive of x_k, which for a Beta mixture is the beta-binomial mixture: assurance =
sum over terminal states of q_k(x) BetaBinomial(x | n_k, pi_d), exact. A design prior given as a
density is integrated by Gauss-Legendre quadrature. Expected sample size:
EN = sum_{k<K} n_k P(stop at k) + N P(reach look K).

Calibration chooses the rule's threshold(s) on a grid so that the type I error P(reject | p0) is
at most alpha with maximum power P(reject | p1) (ties: smaller EN0, then the grid's first point);
different thresholds giving the same boundaries are evaluated once.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from functools import lru_cache
from itertools import pairwise
from typing import Any, Literal

import numpy as np
from scipy import special, stats

from trial_reanalysis.analysis.frequentist.binomial import SimonDesign, simon_designs
from trial_reanalysis.analysis.planning.followup import BetaMixture
from trial_reanalysis.analysis.planning.plan import PriorLike, as_beta_mixture
from trial_reanalysis.analysis.provenance import jsonable

Method = Literal["posterior", "predictive", "bop2", "simon"]
METHODS: tuple[str, ...] = ("simon", "posterior", "predictive", "bop2")

#: Largest total sample size accepted (the recursion is O(N^2); 1000 takes well under a second).
MAX_N = 1000
#: Default futility cutoffs: c_f (posterior) and theta_L (predictive).
DEFAULT_FUTILITY_CUT = 0.05
#: Default efficacy cutoffs when efficacy stopping is on: c_e (posterior), theta_U (predictive).
DEFAULT_EFFICACY_CUT = 0.99
#: Default calibration grids.
FINAL_CUT_GRID = np.round(np.arange(0.5, 0.9995, 0.0005), 4)
BOP2_LAMBDA_GRID = np.round(np.arange(0.5, 0.9995, 0.0025), 4)
BOP2_GAMMA_GRID = np.round(np.arange(0.0, 3.0001, 0.05), 2)
#: Gauss-Legendre nodes for a design prior given as a density.
QUADRATURE_NODES = 400


# ---------------------------------------------------------------------------------------------
# Posterior and predictive probabilities under a Beta-mixture analysis prior
# ---------------------------------------------------------------------------------------------


def _log_choose(n: np.ndarray | float, k: np.ndarray | float) -> np.ndarray:
    n, k = np.asarray(n, dtype=float), np.asarray(k, dtype=float)
    return special.gammaln(n + 1) - special.gammaln(k + 1) - special.gammaln(n - k + 1)


def posterior_weights(prior: PriorLike, responders: Any, n: Any) -> np.ndarray:
    """Posterior component weights of a Beta-mixture prior after x responders of n.

    w'_m proportional to w_m B(a_m + x, b_m + n - x) / B(a_m, b_m) (exact conjugate update).
    ``responders`` and ``n`` broadcast; the result has one more axis (components) at the end.
    """
    mix = as_beta_mixture(prior)
    w, a, b = mix.arrays
    x = np.asarray(responders, dtype=float)[..., None]
    nn = np.asarray(n, dtype=float)[..., None]
    if mix.n_components == 1:
        return np.ones(np.broadcast(x, nn).shape)
    with np.errstate(divide="ignore"):
        logw = np.log(w) + special.betaln(a + x, b + nn - x) - special.betaln(a, b)
    return np.exp(logw - special.logsumexp(logw, axis=-1, keepdims=True))


def posterior_mixture(prior: PriorLike, responders: int, n: int) -> BetaMixture:
    """The exact posterior (a Beta mixture) of a Beta / Beta-mixture prior after x of n."""
    mix = as_beta_mixture(prior)
    _, a, b = mix.arrays
    w = posterior_weights(mix, responders, n)
    return BetaMixture(
        tuple(float(v) for v in w / w.sum()),
        tuple(float(v) for v in a + responders),
        tuple(float(v) for v in b + n - responders),
    )


def posterior_prob_above(responders: Any, n: Any, p0: float, prior: PriorLike = None) -> np.ndarray:
    """P(p > p0 | x responders of n) under the analysis prior (Beta or Beta mixture).

    ``responders`` and ``n`` broadcast. The limiting prior Beta(0, b) is allowed: after x = 0 its
    posterior is a point mass at 0 (probability 0).
    """
    mix = as_beta_mixture(prior)
    _, a, b = mix.arrays
    x = np.asarray(responders, dtype=float)[..., None]
    nn = np.asarray(n, dtype=float)[..., None]
    ap, bp = a + x, b + nn - x
    tail = np.where(ap > 0, special.betaincc(np.maximum(ap, 1e-300), bp, p0), 0.0)
    return np.sum(posterior_weights(mix, responders, n) * tail, axis=-1)


def _success_boundary(values: np.ndarray, cut: float) -> int:
    """Smallest x with values[x] > cut (values nondecreasing in x); len(values) if none."""
    return int(np.searchsorted(np.maximum.accumulate(values), cut, side="right"))


def _futility_boundary(values: np.ndarray, cut: float) -> int:
    """Largest x with values[x] < cut (values nondecreasing in x); -1 if none."""
    return int(np.searchsorted(np.maximum.accumulate(values), cut, side="left")) - 1


def final_success_boundary(n_max: int, p0: float, cut: float, prior: PriorLike = None) -> int:
    """Smallest x_N with P(p > p0 | x_N of N) > cut; N + 1 when no outcome succeeds."""
    values = posterior_prob_above(np.arange(n_max + 1), n_max, p0, prior)
    return _success_boundary(values, cut)


def _predictive_given_boundary(
    responders: np.ndarray, n: int, n_max: int, b_final: int, prior: PriorLike
) -> np.ndarray:
    """P(x + Y >= b_final), Y the posterior-predictive responders among the n_max - n to come."""
    mix = as_beta_mixture(prior)
    _, a, b = mix.arrays
    x = np.asarray(responders, dtype=float)
    m = n_max - n
    need = b_final - x  # responders still needed
    ap, bp = a + x[..., None], b + (n - x)[..., None]
    k = need[..., None] - 1.0
    with np.errstate(invalid="ignore"):
        sf = stats.betabinom.sf(k, m, np.maximum(ap, 1e-300), bp)
    # A component at a point mass on 0 (Beta(0, b) after x = 0) gives Y = 0.
    sf = np.where(ap > 0, sf, (need[..., None] <= 0).astype(float))
    sf = np.where(need[..., None] <= 0, 1.0, np.where(need[..., None] > m, 0.0, sf))
    return np.sum(posterior_weights(mix, x, n) * sf, axis=-1)


def predictive_probability(
    responders: Any, n: int, n_max: int, p0: float, theta_t: float, prior: PriorLike = None
) -> np.ndarray:
    """Lee and Liu's predictive probability that the trial succeeds at N = ``n_max``.

    PP = sum_y P(Y = y | x, n) 1[P(p > p0 | x + y of N) > theta_t], Y beta-binomial (mixture)
    over the N - n patients to come. Vectorised over ``responders``.
    """
    b_final = final_success_boundary(n_max, p0, theta_t, prior)
    return _predictive_given_boundary(np.asarray(responders), n, n_max, b_final, prior)


# ---------------------------------------------------------------------------------------------
# Designs
# ---------------------------------------------------------------------------------------------


def _check_rate(name: str, value: float) -> None:
    if not np.isfinite(value) or not 0.0 < value < 1.0:
        raise ValueError(f"{name} must lie strictly between 0 and 1, got {value}")


def check_looks(looks: Sequence[int]) -> tuple[int, ...]:
    """Cumulative sample sizes as a tuple: positive, strictly increasing integers, N <= 1000.

    Raises ValueError naming the problem.
    """
    out = []
    for v in looks:
        if int(v) != v:
            raise ValueError(f"looks must be integers, got {v}")
        out.append(int(v))
    if not out:
        raise ValueError("give at least one look")
    if out[0] < 1 or any(b <= a for a, b in pairwise(out)):
        raise ValueError(f"looks must be positive and strictly increasing, got {out}")
    if out[-1] > MAX_N:
        raise ValueError(f"the total sample size must be at most {MAX_N}, got {out[-1]}")
    return tuple(out)


@dataclass(frozen=True)
class SequentialDesign:
    """A single-arm design with integer boundaries per look (see the module docstring).

    Attributes:
        method: ``posterior``, ``predictive``, ``bop2`` or ``simon``.
        looks: cumulative sample sizes n_1 < ... < n_K (patients).
        futility: a_k, stop for futility if x_k <= a_k (-1: never); at the last look b_K - 1.
        efficacy: b_k, stop for efficacy if x_k >= b_k (n_k + 1: never); at the last look the
            success boundary.
        p0: null response rate (fraction).
        parameters: the rule's thresholds (c_f, c_T, theta_L, lambda, ...).
        analysis_prior: ``{"family", "parameters"}`` of the analysis prior (None for Simon).
        label: short name for tables.
    """

    method: str
    looks: tuple[int, ...]
    futility: tuple[int, ...]
    efficacy: tuple[int, ...]
    p0: float
    parameters: dict[str, float] = field(default_factory=dict)
    analysis_prior: dict[str, Any] | None = None
    label: str = ""

    def __post_init__(self) -> None:
        looks = check_looks(self.looks)
        fut = tuple(int(v) for v in self.futility)
        eff = tuple(int(v) for v in self.efficacy)
        if not len(fut) == len(eff) == len(looks):
            raise ValueError("looks, futility and efficacy must have one entry per look")
        for n, a, b in zip(looks, fut, eff, strict=True):
            if not -1 <= a < b <= n + 1:
                raise ValueError(f"at n = {n} need -1 <= futility ({a}) < efficacy ({b}) <= n + 1")
        if fut[-1] != eff[-1] - 1:
            raise ValueError("at the last look futility must be the success boundary minus one")
        object.__setattr__(self, "looks", looks)
        object.__setattr__(self, "futility", fut)
        object.__setattr__(self, "efficacy", eff)

    @property
    def n_max(self) -> int:
        """Total sample size N (patients)."""
        return self.looks[-1]

    def boundary_rows(self) -> list[dict[str, Any]]:
        """One row per look: ``look, n, futility`` (stop if x <= it; None when never) and
        ``efficacy`` (stop / succeed if x >= it; None when never)."""
        rows = []
        for k, (n, a, b) in enumerate(zip(self.looks, self.futility, self.efficacy, strict=True)):
            rows.append(
                {
                    "look": k + 1,
                    "n": n,
                    "futility": a if a >= 0 else None,
                    "efficacy": b if b <= n else None,
                }
            )
        return rows

    def describe(self) -> str:
        """Compact text of the boundaries, e.g. ``10: <=1 | 20: <=3, >=9 | 30: success >=7``."""
        parts = []
        for r in self.boundary_rows()[:-1]:
            bits = [f"<={r['futility']}" if r["futility"] is not None else "-"]
            if r["efficacy"] is not None:
                bits.append(f">={r['efficacy']}")
            parts.append(f"{r['n']}: {', '.join(bits)}")
        last = self.boundary_rows()[-1]
        success = "never" if last["efficacy"] is None else f">={last['efficacy']}"
        parts.append(f"{last['n']}: success {success}")
        return " | ".join(parts)

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready dict (boundaries as rows)."""
        return jsonable(
            {
                "method": self.method,
                "label": self.label,
                "p0": self.p0,
                "looks": list(self.looks),
                "parameters": dict(self.parameters),
                "analysis_prior": self.analysis_prior,
                "boundaries": self.boundary_rows(),
            }
        )


def _describe_prior(mix: BetaMixture) -> dict[str, Any]:
    if mix.n_components == 1:
        return {"family": "beta", "parameters": {"alpha": mix.alpha[0], "beta": mix.beta[0]}}
    return {
        "family": "beta_mixture",
        "parameters": {
            "weights": list(mix.weights),
            "alpha": list(mix.alpha),
            "beta": list(mix.beta),
        },
    }


@lru_cache(maxsize=16)
def _posterior_tables(
    looks: tuple[int, ...], p0: float, mix: BetaMixture
) -> tuple[np.ndarray, ...]:
    """P(p > p0 | x of n_k) for x = 0..n_k at every look (cached: calibration reuses them)."""
    tables = tuple(posterior_prob_above(np.arange(n + 1), n, p0, mix) for n in looks)
    for t in tables:
        t.setflags(write=False)
    return tables


@lru_cache(maxsize=64)
def _predictive_tables(
    looks: tuple[int, ...], b_final: int, mix: BetaMixture
) -> tuple[np.ndarray, ...]:
    """PP(x) for x = 0..n_k at every look given the final success boundary (cached)."""
    tables = tuple(
        _predictive_given_boundary(np.arange(n + 1), n, looks[-1], b_final, mix) for n in looks
    )
    for t in tables:
        t.setflags(write=False)
    return tables


def _design_from_tables(
    method: str,
    looks: tuple[int, ...],
    p0: float,
    futility_values: Sequence[np.ndarray],
    futility_cuts: Sequence[float],
    efficacy_values: Sequence[np.ndarray] | None,
    efficacy_cuts: Sequence[float] | None,
    b_final: int,
    parameters: dict[str, float],
    mix: BetaMixture,
    label: str,
) -> SequentialDesign:
    fut, eff = [], []
    for k, n in enumerate(looks[:-1]):
        a = _futility_boundary(futility_values[k], futility_cuts[k])
        b = n + 1
        if efficacy_values is not None and efficacy_cuts is not None:
            b = _success_boundary(efficacy_values[k], efficacy_cuts[k])
        if a >= b:
            raise ValueError(
                f"futility and efficacy boundaries overlap at n = {n}; lower the futility cutoff"
            )
        fut.append(a)
        eff.append(b)
    fut.append(b_final - 1)
    eff.append(b_final)
    return SequentialDesign(
        method, looks, tuple(fut), tuple(eff), p0, parameters, _describe_prior(mix), label
    )


def posterior_design(
    p0: float,
    looks: Sequence[int],
    c_t: float,
    c_f: float = DEFAULT_FUTILITY_CUT,
    c_e: float | None = None,
    prior: PriorLike = None,
) -> SequentialDesign:
    """Thall-Simon posterior-probability monitoring: futility if P(p > p0 | x_k) < c_f,
    efficacy if > ``c_e`` (None: no efficacy stop), success at N if > c_t."""
    _check_rate("p0", p0)
    looks = check_looks(looks)
    mix = as_beta_mixture(prior)
    tables = _posterior_tables(looks, p0, mix)
    k = len(looks) - 1
    params = {"c_f": c_f, "c_T": c_t} | ({"c_e": c_e} if c_e is not None else {})
    return _design_from_tables(
        "posterior",
        looks,
        p0,
        tables,
        [c_f] * k,
        tables if c_e is not None else None,
        [c_e] * k if c_e is not None else None,
        _success_boundary(tables[-1], c_t),
        params,
        mix,
        "posterior probability",
    )


def predictive_design(
    p0: float,
    looks: Sequence[int],
    theta_t: float,
    theta_l: float = DEFAULT_FUTILITY_CUT,
    theta_u: float | None = None,
    prior: PriorLike = None,
) -> SequentialDesign:
    """Lee-Liu predictive-probability monitoring: futility if PP < theta_l, efficacy if PP >
    ``theta_u`` (None: none), success at N if P(p > p0 | x_N) > theta_t."""
    _check_rate("p0", p0)
    looks = check_looks(looks)
    mix = as_beta_mixture(prior)
    b_final = _success_boundary(_posterior_tables(looks, p0, mix)[-1], theta_t)
    pp = _predictive_tables(looks, b_final, mix)
    k = len(looks) - 1
    params = {"theta_L": theta_l, "theta_T": theta_t}
    if theta_u is not None:
        params["theta_U"] = theta_u
    return _design_from_tables(
        "predictive",
        looks,
        p0,
        pp,
        [theta_l] * k,
        pp if theta_u is not None else None,
        [theta_u] * k if theta_u is not None else None,
        b_final,
        params,
        mix,
        "predictive probability",
    )


def bop2_cutoffs(looks: Sequence[int], lam: float, gamma: float) -> tuple[np.ndarray, np.ndarray]:
    """BOP2 futility cutoffs lambda (n_k / N)^gamma and the O'Brien-Fleming-type efficacy cutoffs
    2 Phi(Phi^-1((1 + lambda) / 2) / sqrt(n_k / N)) - 1 (BOP2-FE), one per look."""
    t = np.asarray(looks, dtype=float) / looks[-1]
    fut = lam * t**gamma
    eff = 2.0 * stats.norm.cdf(stats.norm.ppf((1.0 + lam) / 2.0) / np.sqrt(t)) - 1.0
    return fut, eff


def bop2_design(
    p0: float,
    looks: Sequence[int],
    lam: float,
    gamma: float,
    efficacy: bool = False,
    prior: PriorLike = None,
) -> SequentialDesign:
    """BOP2 (Zhou, Lee and Yuan 2017): futility if P(p > p0 | x_k) < lambda (n_k / N)^gamma,
    success at N if > lambda; with ``efficacy``, the O'Brien-Fleming-type efficacy stop."""
    _check_rate("p0", p0)
    if not 0.0 < lam < 1.0 or gamma < 0:
        raise ValueError(f"need 0 < lambda < 1 and gamma >= 0, got {lam}, {gamma}")
    looks = check_looks(looks)
    mix = as_beta_mixture(prior)
    tables = _posterior_tables(looks, p0, mix)
    fut, eff = bop2_cutoffs(looks, lam, gamma)
    return _design_from_tables(
        "bop2",
        looks,
        p0,
        tables,
        list(fut[:-1]),
        tables if efficacy else None,
        list(eff[:-1]) if efficacy else None,
        _success_boundary(tables[-1], lam),
        {"lambda": lam, "gamma": gamma},
        mix,
        "BOP2" + (" (efficacy: O'Brien-Fleming type)" if efficacy else ""),
    )


def simon_as_sequential(design: SimonDesign, p0: float) -> SequentialDesign:
    """A Simon design r1/n1, r/n as two looks: futility x_1 <= r1, success x_2 >= r + 1."""
    return SequentialDesign(
        "simon",
        (design.n1, design.n),
        (design.r1, design.r),
        (design.n1 + 1, design.r + 1),
        p0,
        {"alpha_target": design.alpha_target, "power_target": design.power_target},
        None,
        f"Simon {design.kind} {design.label}",
    )


# ---------------------------------------------------------------------------------------------
# Exact operating characteristics
# ---------------------------------------------------------------------------------------------


@lru_cache(maxsize=8)
def _hypergeometric_bands(looks: tuple[int, ...]) -> tuple[np.ndarray, ...]:
    """Per pair of looks, h[x, j] = P(x of the y = x + j responders among n_{k+1} fall in the
    first n_k) = C(n_k, x) C(m, j) / C(n_{k+1}, x + j), m = n_{k+1} - n_k (read-only)."""
    bands = []
    for nk, nk1 in pairwise(looks):
        x = np.arange(nk + 1)
        j = np.arange(nk1 - nk + 1)
        h = np.exp(
            _log_choose(nk, x)[:, None]
            + _log_choose(nk1 - nk, j)[None, :]
            - _log_choose(nk1, x[:, None] + j[None, :])
        )
        h.setflags(write=False)
        bands.append(h)
    return tuple(bands)


def continuation_fractions(design: SequentialDesign) -> list[np.ndarray]:
    """q_k(x) for x = 0..n_k: probability, given x_k = x, of reaching look k (any p).

    Forward recursion with the banded hypergeometric matrix (module docstring).
    """
    looks, fut, eff = design.looks, design.futility, design.efficacy
    bands = _hypergeometric_bands(looks)
    q = [np.ones(looks[0] + 1)]
    for k, h in enumerate(bands):
        x = np.arange(looks[k] + 1)
        g = q[k] * ((x > fut[k]) & (x < eff[k]))
        y = x[:, None] + np.arange(h.shape[1])[None, :]
        new = np.bincount(y.ravel(), weights=(g[:, None] * h).ravel(), minlength=looks[k + 1] + 1)
        q.append(np.minimum(new, 1.0))
    return q


def _terminal_masks(design: SequentialDesign) -> tuple[list[np.ndarray], list[np.ndarray]]:
    """(futility, efficacy) terminal fractions per look: q_k(x) times the stop indicator; at the
    last look, final failure and final success."""
    q = continuation_fractions(design)
    fut, eff = [], []
    for k, n in enumerate(design.looks):
        x = np.arange(n + 1)
        fut.append(q[k] * (x <= design.futility[k]))
        eff.append(q[k] * (x >= design.efficacy[k]))
    return fut, eff


@dataclass
class OperatingCharacteristics:
    """Exact operating characteristics of a design at one true response rate.

    Attributes:
        rate: the true response rate p (fraction).
        reject: P(the drug is declared active: early efficacy stop or final success).
        early_futility, early_efficacy: P(stop at look k) for k = 1..K-1.
        final_success, final_failure: P(reach look K and succeed / fail).
        pet: probability of early termination (any interim stop), = sum of both lists.
        expected_n: expected number of patients.
    """

    rate: float
    reject: float
    early_futility: list[float]
    early_efficacy: list[float]
    final_success: float
    final_failure: float
    pet: float
    pet_futility: float
    pet_efficacy: float
    expected_n: float

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready dict."""
        return jsonable(self)


def _weighted_oc(
    design: SequentialDesign, pmfs: list[np.ndarray]
) -> list[OperatingCharacteristics]:
    """OC for rows of x-distributions: pmfs[k] has shape (R, n_k + 1)."""
    fut, eff = _terminal_masks(design)
    pf = np.stack([pmfs[k] @ fut[k] for k in range(len(fut))], axis=-1)  # (R, K)
    pe = np.stack([pmfs[k] @ eff[k] for k in range(len(eff))], axis=-1)
    looks = np.asarray(design.looks, dtype=float)
    early = pf[:, :-1] + pe[:, :-1]
    reach = 1.0 - early.sum(axis=1)
    en = early @ looks[:-1] + reach * looks[-1]
    out = []
    for i in range(pf.shape[0]):
        out.append(
            OperatingCharacteristics(
                rate=float("nan"),
                reject=float(pe[i].sum()),
                early_futility=[float(v) for v in pf[i, :-1]],
                early_efficacy=[float(v) for v in pe[i, :-1]],
                final_success=float(pe[i, -1]),
                final_failure=float(pf[i, -1]),
                pet=float(early[i].sum()),
                pet_futility=float(pf[i, :-1].sum()),
                pet_efficacy=float(pe[i, :-1].sum()),
                expected_n=float(en[i]),
            )
        )
    return out


@lru_cache(maxsize=32)
def _binomial_pmfs(looks: tuple[int, ...], rates: tuple[float, ...]) -> tuple[np.ndarray, ...]:
    """Binomial(x | n_k, p) for every rate (rows) and x = 0..n_k, per look (cached)."""
    p = np.asarray(rates)[:, None]
    return tuple(stats.binom.pmf(np.arange(n + 1)[None, :], n, p) for n in looks)


def operating_characteristics(
    design: SequentialDesign, rates: float | Sequence[float] | np.ndarray
) -> OperatingCharacteristics | list[OperatingCharacteristics]:
    """Exact OC at one rate (returns one object) or at several (returns a list)."""
    p = np.atleast_1d(np.asarray(rates, dtype=float))
    if np.any((p < 0) | (p > 1)):
        raise ValueError("rates must lie in [0, 1]")
    res = _weighted_oc(design, _binomial_pmfs(design.looks, tuple(float(v) for v in p)))
    for r, pv in zip(res, p, strict=True):
        r.rate = float(pv)
    return res[0] if np.ndim(rates) == 0 else res


def oc_curve(design: SequentialDesign, rates: Sequence[float] | np.ndarray | None = None):
    """OC against the true rate as a DataFrame: ``rate, reject, pet, pet_futility,
    pet_efficacy, expected_n`` (default rates 0, 0.01, ..., 1)."""
    import pandas as pd

    rates = np.linspace(0.0, 1.0, 101) if rates is None else np.asarray(rates, dtype=float)
    res = operating_characteristics(design, rates)
    keys = ("rate", "reject", "pet", "pet_futility", "pet_efficacy", "expected_n")
    return pd.DataFrame({k: [getattr(r, k) for r in res] for k in keys})


def prior_predictive_pmf(n: int, design_prior: PriorLike) -> np.ndarray:
    """P(x responders of n), x = 0..n, under a Beta / Beta-mixture prior (beta-binomial mix)."""
    mix = as_beta_mixture(design_prior)
    w, a, b = mix.arrays
    x = np.arange(n + 1, dtype=float)[:, None]
    logp = _log_choose(n, x) + special.betaln(a + x, b + n - x) - special.betaln(a, b)
    return np.exp(logp) @ w


def assurance(
    design: SequentialDesign,
    design_prior: PriorLike | Callable[[np.ndarray], np.ndarray],
    *,
    nodes: int = QUADRATURE_NODES,
) -> OperatingCharacteristics:
    """OC averaged over a design prior; ``.reject`` is the assurance (probability of success).

    A Beta / Beta mixture (or a prior dict, or (a, b)) is exact: terminal fractions times the
    beta-binomial prior predictive. A callable is taken as a density on (0, 1) and integrated by
    Gauss-Legendre quadrature with ``nodes`` nodes (renormalised to integrate to one; accurate for
    densities that are smooth on [0, 1], less so with singular endpoints).
    """
    if callable(design_prior) and not isinstance(design_prior, BetaMixture | Mapping | tuple):
        t, wq = np.polynomial.legendre.leggauss(int(nodes))
        p = 0.5 * (t + 1.0)
        dens = np.asarray(design_prior(p), dtype=float) * 0.5 * wq
        if np.any(~np.isfinite(dens)) or np.any(dens < 0) or dens.sum() <= 0:
            raise ValueError("the design-prior density must be finite and non-negative on (0, 1)")
        dens = dens / dens.sum()
        pmfs = [
            (dens @ stats.binom.pmf(np.arange(n + 1)[None, :], n, p[:, None]))[None, :]
            for n in design.looks
        ]
    else:
        pmfs = [prior_predictive_pmf(n, design_prior)[None, :] for n in design.looks]
    return _weighted_oc(design, pmfs)[0]


# ---------------------------------------------------------------------------------------------
# Calibration
# ---------------------------------------------------------------------------------------------


@dataclass
class Calibration:
    """A calibrated design and what the search found.

    Attributes:
        design: the chosen design. type1_error, power: its exact values at p0 and p1.
        alpha: the type I error bound. p1: the rate of the power.
        grid_points: thresholds tried; distinct_designs: distinct boundary tables evaluated;
        feasible_designs: those with type I error <= alpha.
    """

    design: SequentialDesign
    type1_error: float
    power: float
    alpha: float
    p1: float
    grid_points: int
    distinct_designs: int
    feasible_designs: int

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready dict."""
        return jsonable({**self.__dict__, "design": self.design.to_dict()})


def _check_calibration(p0: float, p1: float, alpha: float) -> None:
    _check_rate("p0", p0)
    _check_rate("p1", p1)
    _check_rate("alpha", alpha)
    if p1 <= p0:
        raise ValueError(f"p1 ({p1}) must exceed p0 ({p0})")


def _select(
    candidates: Sequence[SequentialDesign],
    p0: float,
    p1: float,
    alpha: float,
    grid_points: int,
) -> Calibration:
    """Evaluate distinct boundary tables (in grid order); keep type I <= alpha; take the maximum
    power, then the minimum EN0, then the first."""
    seen: dict[tuple, tuple[SequentialDesign, float, float, float]] = {}
    for design in candidates:
        key = (design.futility, design.efficacy)
        if key in seen:
            continue
        oc0, oc1 = operating_characteristics(design, [p0, p1])
        seen[key] = (design, oc0.reject, oc1.reject, oc0.expected_n)
    feasible = [v for v in seen.values() if v[1] <= alpha + 1e-12]
    if not feasible:
        raise ValueError(
            f"no threshold on the grid gives a type I error <= {alpha}; widen the grid or add "
            "patients"
        )
    best = max(feasible, key=lambda v: (round(v[2], 12), -round(v[3], 9)))
    return Calibration(
        design=best[0],
        type1_error=float(best[1]),
        power=float(best[2]),
        alpha=float(alpha),
        p1=float(p1),
        grid_points=int(grid_points),
        distinct_designs=len(seen),
        feasible_designs=len(feasible),
    )


def calibrate_posterior(
    p0: float,
    p1: float,
    looks: Sequence[int],
    alpha: float,
    *,
    prior: PriorLike = None,
    c_f: float = DEFAULT_FUTILITY_CUT,
    c_e: float | None = None,
    grid: Sequence[float] | np.ndarray = FINAL_CUT_GRID,
) -> Calibration:
    """Posterior-probability design whose final cutoff c_T (on ``grid``) gives type I error
    <= alpha with maximum power; c_f and c_e are kept as given."""
    _check_calibration(p0, p1, alpha)
    cands = [posterior_design(p0, looks, float(c), c_f, c_e, prior) for c in grid]
    return _select(cands, p0, p1, alpha, len(cands))


def calibrate_predictive(
    p0: float,
    p1: float,
    looks: Sequence[int],
    alpha: float,
    *,
    prior: PriorLike = None,
    theta_l: float | Sequence[float] = DEFAULT_FUTILITY_CUT,
    theta_u: float | None = None,
    grid: Sequence[float] | np.ndarray = FINAL_CUT_GRID,
) -> Calibration:
    """Predictive-probability design: theta_T on ``grid`` (and theta_L over the values given)
    chosen for type I error <= alpha with maximum power.

    Searching theta_L by power alone favours the smallest value (less futility stopping), so the
    default keeps theta_L fixed at 0.05; give several values to see the trade-off.
    """
    _check_calibration(p0, p1, alpha)
    looks = check_looks(looks)
    mix = as_beta_mixture(prior)
    finals = posterior_prob_above(np.arange(looks[-1] + 1), looks[-1], p0, mix)
    # theta_T acts only through the final boundary: the first grid value giving each boundary
    # stands for all the others (same design).
    first_theta: dict[int, float] = {}
    for c in grid:
        first_theta.setdefault(_success_boundary(finals, float(c)), float(c))
    theta_ls = np.atleast_1d(np.asarray(theta_l, dtype=float))
    cands = [
        predictive_design(p0, looks, tt, float(tl), theta_u, mix)
        for tt in first_theta.values()
        for tl in theta_ls
    ]
    return _select(cands, p0, p1, alpha, len(grid) * theta_ls.size)


def calibrate_bop2(
    p0: float,
    p1: float,
    looks: Sequence[int],
    alpha: float,
    *,
    prior: PriorLike = None,
    efficacy: bool = False,
    lambda_grid: Sequence[float] | np.ndarray = BOP2_LAMBDA_GRID,
    gamma_grid: Sequence[float] | np.ndarray = BOP2_GAMMA_GRID,
) -> Calibration:
    """BOP2 design whose (lambda, gamma) on the grids maximise power subject to type I error
    <= alpha (Zhou, Lee and Yuan 2017, section 2)."""
    _check_calibration(p0, p1, alpha)
    looks = check_looks(looks)
    mix = as_beta_mixture(prior)
    tables = _posterior_tables(looks, p0, mix)
    mono = [np.maximum.accumulate(t) for t in tables]
    lam = np.asarray(lambda_grid, dtype=float)
    gam = np.asarray(gamma_grid, dtype=float)
    t = np.asarray(looks, dtype=float) / looks[-1]
    fut_cut = lam[:, None, None] * t[None, None, :] ** gam[None, :, None]  # (L, G, K)
    keys = np.stack(
        [np.searchsorted(mono[k], fut_cut[..., k], side="left") for k in range(len(looks))],
        axis=-1,
    ).reshape(-1, len(looks))
    if efficacy:
        eff_cut = np.stack([bop2_cutoffs(looks, v, 1.0)[1] for v in lam])  # (L, K)
        eff_keys = np.stack(
            [np.searchsorted(mono[k], eff_cut[:, k], side="right") for k in range(len(looks))],
            axis=-1,
        )
        keys = np.concatenate([keys, np.repeat(eff_keys, gam.size, axis=0)], axis=1)
    _, first = np.unique(keys, axis=0, return_index=True)
    cands = []
    for idx in np.sort(first):
        i, j = divmod(int(idx), gam.size)
        try:
            cands.append(bop2_design(p0, looks, float(lam[i]), float(gam[j]), efficacy, mix))
        except ValueError:  # overlapping futility / efficacy boundaries: not a valid design
            continue
    return _select(cands, p0, p1, alpha, lam.size * gam.size)


def calibrate(
    method: str,
    p0: float,
    p1: float,
    looks: Sequence[int],
    alpha: float,
    *,
    prior: PriorLike = None,
    efficacy: bool = False,
) -> Calibration:
    """Calibrate a Bayesian design with the defaults: ``posterior`` (c_T; c_f = 0.05, c_e = 0.99
    with efficacy), ``predictive`` (theta_T; theta_L = 0.05, theta_U = 0.99 with efficacy) or
    ``bop2`` (lambda, gamma)."""
    eff_cut = DEFAULT_EFFICACY_CUT if efficacy else None
    if method == "posterior":
        return calibrate_posterior(p0, p1, looks, alpha, prior=prior, c_e=eff_cut)
    if method == "predictive":
        return calibrate_predictive(p0, p1, looks, alpha, prior=prior, theta_u=eff_cut)
    if method == "bop2":
        return calibrate_bop2(p0, p1, looks, alpha, prior=prior, efficacy=efficacy)
    raise ValueError(f"unknown method {method!r}; choose from posterior, predictive, bop2")


# ---------------------------------------------------------------------------------------------
# Side by side with Simon
# ---------------------------------------------------------------------------------------------


def design_row(design: SequentialDesign, p1: float) -> dict[str, Any]:
    """One comparison row: ``design, boundaries, N, type1_error, power, pet0, en0, en1``."""
    oc0, oc1 = operating_characteristics(design, [design.p0, p1])
    return {
        "design": design.label,
        "boundaries": design.describe(),
        "n_max": design.n_max,
        "type1_error": oc0.reject,
        "power": oc1.reject,
        "pet0": oc0.pet,
        "en0": oc0.expected_n,
        "en1": oc1.expected_n,
    }


def simon_sequential(
    p0: float, p1: float, alpha: float, power: float, n_max: int = 70
) -> list[SequentialDesign]:
    """Simon's optimal and minimax designs (:func:`analysis.frequentist.binomial.simon_designs`) as
    :class:`SequentialDesign` objects."""
    designs = simon_designs(p0, p1, alpha, power, n_max=n_max)
    return [simon_as_sequential(designs[k], p0) for k in ("optimal", "minimax")]


def compare_designs(
    p0: float,
    p1: float,
    looks: Sequence[int],
    alpha: float,
    power: float = 0.8,
    *,
    prior: PriorLike = None,
    efficacy: bool = False,
    simon_n_max: int = 70,
) -> list[dict[str, Any]]:
    """The three Bayesian designs calibrated on ``looks`` and Simon's optimal and minimax designs
    (for ``alpha``, ``power``), one :func:`design_row` each. Simon rows are left out when no
    Simon design with n <= ``simon_n_max`` exists."""
    rows = [
        design_row(calibrate(m, p0, p1, looks, alpha, prior=prior, efficacy=efficacy).design, p1)
        for m in ("posterior", "predictive", "bop2")
    ]
    try:
        rows += [design_row(d, p1) for d in simon_sequential(p0, p1, alpha, power, simon_n_max)]
    except ValueError:
        pass
    return rows
