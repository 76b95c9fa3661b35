"""Planning a single-arm follow-up trial (DESIGN.md section 5).

Binary endpoint (exact, by enumeration)
---------------------------------------
A trial of n patients observes x responders, x ~ Binomial(n, theta). It declares success when
P(theta > p0 | x) >= success_prob under an *analysis prior* (a Beta or a Beta mixture; default the
vague Beta(1, 1)). The posterior probability increases with x, so success is x >= x_c, the
*critical number of responders*. Then, with binomial sums (no simulation):

* type I error = P(Binomial(n, p0) >= x_c), power = P(Binomial(n, p1) >= x_c);
* prior predictive of x under a *design prior* (Beta or Beta mixture): the beta-binomial mixture;
* assurance (probability of success) = P(x >= x_c) under that prior predictive.

The posterior rule is not a level-``1 - success_prob`` test: P(theta > 0.05 | x) >= 0.95 under
Beta(1, 1) has exact type I error 0.0755 at n = 20 and 0.0787 at n = 60. The *calibrated* rule
takes the smallest threshold c whose exact type I error is <= alpha (:func:`calibrated_rule`).
Because P(theta > p0 | x) increases with x under any prior (the binomial likelihood ratio is
monotone in x), its critical count is the exact binomial test's, whatever the analysis prior: the
analysis prior changes the calibrated threshold c (the posterior probability at that count), and
changes the critical count of a *fixed* threshold, not the calibrated count.

Identity for checks: P(Beta(x, n - x + 1) > p0) = P(Binomial(n, p0) < x), so the limiting analysis
prior Beta(0, 1) reproduces the classical exact one-sided binomial test. Beta(1, 1) gives the
posterior Beta(x + 1, n - x + 1), so its x_c equals the classical critical value *for n + 1* minus
one: the same as the classical one for n or one fewer responder.

PFS endpoint (vectorised simulation)
------------------------------------
Trials of n patients, uniform accrual over A months, further follow-up F months (administrative
censoring at A + F - entry), Weibull PFS S(t) = exp(-(t / lambda)^k), lambda = m / (ln 2)^(1/k).
The Kaplan-Meier median follows R's ``survfit``: the smallest time with S(t) <= 0.5, the midpoint
to the next event time when S is exactly 0.5 there; "not reached" counts as above the threshold.
"""

from __future__ import annotations

import dataclasses
import json
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from matplotlib.figure import Figure
from scipy import special, stats

from trial_reanalysis.analysis.constants import DEFAULT_SEED
from trial_reanalysis.analysis.errors import InputError
from trial_reanalysis.analysis.frequentist.binomial import simon_designs
from trial_reanalysis.analysis.planning.followup import BetaMixture
from trial_reanalysis.analysis.provenance import jsonable
from trial_reanalysis.analysis.trials.validation import MAX_PLAN_N

#: Tolerance for "the KM curve is exactly 0.5" (R's midpoint rule).
_KM_HALF_TOL = 1e-9

PriorLike = BetaMixture | tuple[float, float] | Mapping[str, Any] | None


def as_beta_mixture(prior: PriorLike) -> BetaMixture:
    """Normalise a prior: None (Beta(1, 1)), (a, b), a :class:`BetaMixture` or a prior dict.

    A prior dict is either of family ``beta``/``beta_mixture`` (as in ``followup_priors``) or a
    bare ``{"alpha": a, "beta": b}``.
    """
    if prior is None:
        return BetaMixture.single(1.0, 1.0)
    if isinstance(prior, BetaMixture):
        return prior
    if isinstance(prior, Mapping):
        if "family" in prior:
            return BetaMixture.from_prior(prior)
        return BetaMixture.single(prior["alpha"], prior["beta"])
    a, b = prior
    return BetaMixture.single(a, b)


def _describe(prior: BetaMixture) -> dict[str, Any]:
    if prior.n_components == 1:
        return {"family": "beta", "parameters": {"alpha": prior.alpha[0], "beta": prior.beta[0]}}
    return {"family": "beta_mixture", "parameters": prior.to_parameters()}


def posterior_prob_above(n: int, p0: float, analysis_prior: PriorLike = None) -> np.ndarray:
    """P(theta > p0 | x responders of n) for x = 0..n under the analysis prior (array, n + 1)."""
    mix = as_beta_mixture(analysis_prior)
    x = np.arange(n + 1, dtype=float)
    return _post_prob(mix, np.full_like(x, n), x, p0)


def _post_prob(mix: BetaMixture, n: np.ndarray, x: np.ndarray, p0: float) -> np.ndarray:
    """Vectorised P(theta > p0 | x, n) (n, x broadcastable float arrays)."""
    w, a, b = mix.arrays
    ap = a + x[..., None]
    bp = b + (n - x)[..., None]
    with np.errstate(invalid="ignore", divide="ignore"):
        tail = np.where(ap > 0, special.betaincc(np.maximum(ap, 1e-300), bp, p0), 0.0)
    if mix.n_components == 1:
        return tail[..., 0]
    logw = np.log(w) + special.betaln(ap, bp) - special.betaln(a, b)
    post_w = np.exp(logw - special.logsumexp(logw, axis=-1, keepdims=True))
    return np.sum(post_w * tail, axis=-1)


def critical_responders(
    n: int, p0: float, success_prob: float, analysis_prior: PriorLike = None
) -> int | None:
    """Smallest x with P(theta > p0 | x of n) >= success_prob; None when no x qualifies."""
    _check_design(n, p0, success_prob)
    ok = np.flatnonzero(posterior_prob_above(n, p0, analysis_prior) >= success_prob)
    return int(ok[0]) if ok.size else None


def calibrated_rule(
    n: int, p0: float, alpha: float = 0.05, analysis_prior: PriorLike = None
) -> tuple[int, float, float] | None:
    """The calibrated single-stage rule: the smallest threshold c for which the rule "success
    when P(theta > p0 | x) >= c" has exact type I error P(Binomial(n, p0) >= x_c) <= alpha.

    The type I error of a threshold is a step function of it, so the answer is a critical count
    x_c and the interval (lo, hi] of thresholds that give it: lo is the largest attainable
    posterior probability below hi = P(theta > p0 | x_c) (0 when none). Returns (x_c, lo, hi), or
    None when no rule qualifies (e.g. p0^n > alpha). Ties in the posterior probabilities (values
    rounding to 1) are honoured: a threshold admits every x reaching it.
    """
    if int(n) != n or not 1 <= n <= MAX_PLAN_N:
        raise ValueError(f"n must be an integer in 1..{MAX_PLAN_N}, got {n}")
    if not 0 < p0 < 1:
        raise ValueError(f"p0 must be in (0, 1), got {p0}")
    if not 0 < alpha < 1:
        raise ValueError(f"alpha must be in (0, 1), got {alpha}")
    post = posterior_prob_above(int(n), p0, analysis_prior)
    tails = stats.binom.sf(np.arange(n + 1) - 1, int(n), p0)  # P(X >= x)
    levels = np.unique(post)  # ascending attainable thresholds
    for i, c in enumerate(levels):
        x_c = int(np.argmax(post >= c))
        if tails[x_c] <= alpha:
            return x_c, float(levels[i - 1]) if i else 0.0, float(c)
    return None


def prior_predictive(n: int, design_prior: PriorLike) -> np.ndarray:
    """P(x responders of n) for x = 0..n under a Beta / Beta-mixture design prior."""
    mix = as_beta_mixture(design_prior)
    w, a, b = mix.arrays
    x = np.arange(n + 1, dtype=float)[:, None]
    log_choose = special.gammaln(n + 1) - special.gammaln(x + 1) - special.gammaln(n - x + 1)
    logp = log_choose + special.betaln(a + x, b + n - x) - special.betaln(a, b)
    return np.exp(logp) @ w


def _tail(pmf: np.ndarray, c: int | None) -> float:
    return 0.0 if c is None else float(pmf[c:].sum())


def _check_design(n: int, p0: float, success_prob: float) -> None:
    if int(n) != n or not 1 <= n <= MAX_PLAN_N:
        raise ValueError(f"n must be an integer in 1..{MAX_PLAN_N}, got {n}")
    if not 0 < p0 < 1:
        raise ValueError(f"p0 must be in (0, 1), got {p0}")
    if not 0 < success_prob < 1:
        raise ValueError(f"success_prob must be in (0, 1), got {success_prob}")


@dataclass
class PlanResult:
    """Exact operating characteristics of a single-arm binary design with a Bayesian rule.

    Attributes:
        n: patients. p0, p1: null and target response rates (fractions).
        success_prob: posterior probability threshold of the rule P(theta > p0 | x) >= it.
        analysis_prior, design_prior: ``{"family", "parameters"}`` of each (design may be None).
        design_prior_name: the name of the design prior (e.g. a follow-up prior's name).
        critical_responders: x_c (None when no outcome declares success).
        type1_error, power: P(x >= x_c) at p0 and p1.
        assurance: P(x >= x_c) under the design prior's predictive (None without design prior).
        prior_predictive: P(x) for x = 0..n under the design prior (None without one).
        posterior_prob_above_p0: P(theta > p0 | x) for x = 0..n.
        simon: Simon optimal/minimax designs for the same p0/p1 (None when unavailable).
        alpha: the type I error the calibrated rule keeps to.
        calibrated_critical_responders: x_c of :func:`calibrated_rule` (None when no rule keeps
            to alpha).
        calibrated_success_prob: (lo, hi): every threshold c in (lo, hi] gives that rule.
        calibrated_type1_error, calibrated_power, calibrated_assurance: its OC (assurance None
            without a design prior).
    """

    n: int
    p0: float
    p1: float
    success_prob: float
    analysis_prior: dict[str, Any]
    design_prior: dict[str, Any] | None
    critical_responders: int | None
    type1_error: float
    power: float
    assurance: float | None
    prior_predictive: np.ndarray | None
    posterior_prob_above_p0: np.ndarray
    design_prior_name: str | None = None
    simon: dict[str, Any] | None = None
    notes: list[str] = field(default_factory=list)
    alpha: float = 0.05
    calibrated_critical_responders: int | None = None
    calibrated_success_prob: tuple[float, float] | None = None
    calibrated_type1_error: float = 0.0
    calibrated_power: float = 0.0
    calibrated_assurance: float | None = None

    def to_dict(self) -> dict[str, Any]:
        """JSON-serialisable dict (arrays as lists)."""
        out = dataclasses.asdict(self)
        for key in ("prior_predictive", "posterior_prob_above_p0"):
            if out[key] is not None:
                out[key] = [float(v) for v in out[key]]
        return jsonable(out)


def simon_comparison(
    p0: float, p1: float, alpha: float = 0.05, power: float = 0.80
) -> dict[str, Any]:
    """Simon optimal and minimax designs of the same p0 / p1
    (:mod:`analysis.frequentist.binomial`)."""
    designs = simon_designs(p0, p1, alpha, power)
    return {"alpha": alpha, "power": power, **{k: jsonable(v) for k, v in designs.items()}}


def plan_binary(
    n: int,
    p0: float,
    p1: float,
    success_prob: float,
    design_prior: PriorLike = None,
    analysis_prior: PriorLike = None,
    *,
    design_prior_name: str | None = None,
    simon: bool = True,
    simon_alpha: float = 0.05,
    simon_power: float = 0.80,
    alpha: float = 0.05,
) -> PlanResult:
    """Exact OC, prior predictive and assurance of a single-arm trial of n patients.

    Two rules: the nominal "P(theta > p0 | x) >= success_prob" and the calibrated one of
    :func:`calibrated_rule` (exact type I error <= ``alpha``), both under ``analysis_prior``
    (default Beta(1, 1)); assurance averages success over ``design_prior`` (the prior over the
    true rate). ``design_prior`` None means no assurance / prior predictive. ``simon`` adds the
    Simon designs for (p0, p1, simon_alpha, simon_power) when
    :mod:`analysis.frequentist.binomial` provides them.
    """
    _check_design(n, p0, success_prob)
    if not 0 < p1 < 1:
        raise ValueError(f"p1 must be in (0, 1), got {p1}")
    amix = as_beta_mixture(analysis_prior)
    post = posterior_prob_above(n, p0, amix)
    ok = np.flatnonzero(post >= success_prob)
    crit = int(ok[0]) if ok.size else None
    calibrated = calibrated_rule(n, p0, alpha, amix)
    cal, cal_c = (None, None) if calibrated is None else (calibrated[0], calibrated[1:])
    x = np.arange(n + 1)
    pred = assurance = cal_assurance = None
    dprior = None
    if design_prior is not None:
        dmix = as_beta_mixture(design_prior)
        dprior = _describe(dmix)
        pred = prior_predictive(n, dmix)
        assurance = _tail(pred, crit)
        cal_assurance = _tail(pred, cal)
    notes = [] if crit is not None else ["no outcome of this trial can declare success"]
    if cal is None:
        notes.append(f"no rule of this trial keeps the type I error at or below {alpha:g}")
    null_pmf, alt_pmf = stats.binom.pmf(x, n, p0), stats.binom.pmf(x, n, p1)
    sim = simon_comparison(p0, p1, simon_alpha, simon_power) if simon else None
    return PlanResult(
        n=int(n),
        p0=float(p0),
        p1=float(p1),
        success_prob=float(success_prob),
        analysis_prior=_describe(amix),
        design_prior=dprior,
        critical_responders=crit,
        type1_error=_tail(null_pmf, crit),
        power=_tail(alt_pmf, crit),
        assurance=assurance,
        prior_predictive=pred,
        posterior_prob_above_p0=post,
        design_prior_name=design_prior_name,
        simon=sim,
        notes=notes,
        alpha=float(alpha),
        calibrated_critical_responders=cal,
        calibrated_success_prob=cal_c,
        calibrated_type1_error=_tail(null_pmf, cal),
        calibrated_power=_tail(alt_pmf, cal),
        calibrated_assurance=cal_assurance,
    )


def format_plan(plan: PlanResult) -> str:
    """A readable text summary of a :class:`PlanResult` (for the terminal and the report)."""

    def prior_text(p: dict[str, Any] | None) -> str:
        if p is None:
            return "none"
        q = p["parameters"]
        if p["family"] == "beta":
            return f"Beta({q['alpha']:.4g}, {q['beta']:.4g})"
        parts = [
            f"{w:.3g} Beta({a:.4g}, {b:.4g})"
            for w, a, b in zip(q["weights"], q["alpha"], q["beta"], strict=True)
        ]
        return " + ".join(parts)

    c = plan.critical_responders
    rows = [
        ("patients", f"{plan.n}"),
        ("rule", f"P(theta > {plan.p0:g} | x) >= {plan.success_prob:g}"),
        ("analysis prior", prior_text(plan.analysis_prior)),
        (
            "design prior",
            prior_text(plan.design_prior)
            + (f"  [{plan.design_prior_name}]" if plan.design_prior_name else ""),
        ),
        ("success if responders >=", "never" if c is None else f"{c} of {plan.n}"),
        (f"type I error at p0 = {plan.p0:g}", f"{plan.type1_error:.4f}"),
        (f"power at p1 = {plan.p1:g}", f"{plan.power:.4f}"),
        ("assurance", "-" if plan.assurance is None else f"{plan.assurance:.4f}"),
    ]
    cc = plan.calibrated_critical_responders
    if cc is None:
        rows.append((f"calibrated (type I <= {plan.alpha:g})", "no rule qualifies"))
    else:
        cal_a = "-" if plan.calibrated_assurance is None else f"{plan.calibrated_assurance:.4f}"
        rows += [
            (
                f"calibrated (type I <= {plan.alpha:g})",
                f"responders >= {cc} of {plan.n} (threshold c in "
                f"({plan.calibrated_success_prob[0]:.4f}, {plan.calibrated_success_prob[1]:.4f}])",
            ),
            (
                "  its type I error / power",
                f"{plan.calibrated_type1_error:.4f} / {plan.calibrated_power:.4f}",
            ),
            ("  its assurance", cal_a),
        ]
    if plan.prior_predictive is not None:
        pred = plan.prior_predictive
        mean = float(np.arange(pred.size) @ pred)
        cdf = np.cumsum(pred)
        lo, hi = int(np.searchsorted(cdf, 0.025)), int(np.searchsorted(cdf, 0.975))
        rows.append(("prior predictive responders", f"mean {mean:.2f}, 95% range {lo}-{hi}"))
    width = max(len(k) for k, _ in rows)
    lines = [f"{k.ljust(width)}  {v}" for k, v in rows]
    if plan.simon:
        for kind in ("optimal", "minimax"):
            if kind in plan.simon:
                desc = _simon_text(plan.simon[kind])
                lines.append(f"{('Simon ' + kind).ljust(width)}  {desc}")
    lines += [f"note: {n}" for n in plan.notes]
    return "\n".join(lines)


def _simon_text(d: Any) -> str:
    keys = ("r1", "n1", "r", "n", "en0", "pet0", "alpha", "power")
    if isinstance(d, Mapping) and all(k in d for k in keys):
        return (
            f"{d['r1']}/{d['n1']}, {d['r']}/{d['n']}; EN0 {d['en0']:.1f}, PET0 {d['pet0']:.2f}, "
            f"type I error {d['alpha']:.4f}, power {d['power']:.4f}"
        )
    return ", ".join(f"{k}={v}" for k, v in d.items()) if isinstance(d, Mapping) else str(d)


def _binom_tails(ns: np.ndarray, p: float, nmax: int) -> np.ndarray:
    """tails[i, c] = P(Binomial(ns[i], p) >= c) for c = 0..nmax + 1 (0 beyond n)."""
    c = np.arange(nmax + 2)
    return np.where(c[None, :] <= ns[:, None], stats.binom.sf(c[None, :] - 1, ns[:, None], p), 0.0)


def oc_grid(
    ns: Sequence[int] | np.ndarray,
    success_probs: Sequence[float] | np.ndarray,
    analysis_priors: Mapping[str, PriorLike],
    p0: float,
    p1: float,
    design_prior: PriorLike = None,
) -> pd.DataFrame:
    """Exact OC of every design n x success_prob x analysis prior (one row each, vectorised).

    Columns: ``prior, n, success_prob, critical_responders`` (-1 when no x succeeds), ``type1_error,
    power`` and, with a design prior, ``assurance``.
    """
    ns = np.asarray(ns, dtype=int)
    thr = np.asarray(success_probs, dtype=float)
    if ns.ndim != 1 or np.any(ns < 1):
        raise ValueError("ns must be positive integers")
    nmax = int(ns.max())
    x = np.arange(nmax + 1, dtype=float)
    valid = x[None, :] <= ns[:, None]  # (N, X)
    xx = np.where(valid, x[None, :], 0.0)
    nn = np.broadcast_to(ns[:, None].astype(float), xx.shape)
    names = list(analysis_priors)
    probs = np.stack(
        [
            np.where(valid, _post_prob(as_beta_mixture(analysis_priors[k]), nn, xx, p0), -np.inf)
            for k in names
        ]
    )  # (P, N, X)
    hit = probs[..., None] >= thr  # (P, N, X, T)
    feasible = hit.any(axis=2)
    crit = np.where(feasible, hit.argmax(axis=2), ns[None, :, None] + 1)  # (P, N, T)
    flat = crit.reshape(len(names), ns.size, -1)
    cols: dict[str, np.ndarray] = {}
    for label, p in (("type1_error", p0), ("power", p1)):
        tails = _binom_tails(ns, p, nmax)
        cols[label] = np.take_along_axis(tails[None], flat, axis=2)
    if design_prior is not None:
        dmix = as_beta_mixture(design_prior)
        tails = np.zeros((ns.size, nmax + 2))
        for i, n in enumerate(ns):
            pred = prior_predictive(int(n), dmix)
            tails[i, : n + 1] = np.cumsum(pred[::-1])[::-1]
        cols["assurance"] = np.take_along_axis(tails[None], flat, axis=2)
    shape = crit.shape
    out = pd.DataFrame(
        {
            "prior": np.repeat(np.array(names, dtype=object), shape[1] * shape[2]),
            "n": np.broadcast_to(ns[None, :, None], shape).ravel(),
            "success_prob": np.broadcast_to(thr[None, None, :], shape).ravel(),
            "critical_responders": np.where(feasible, crit, -1).ravel(),
            **{k: v.ravel() for k, v in cols.items()},
        }
    )
    return out


def oc_curves(
    ns: Sequence[int],
    p0: float,
    success_prob: float,
    analysis_prior: PriorLike = None,
    rates: Sequence[float] | np.ndarray | None = None,
) -> pd.DataFrame:
    """Probability of success against the true response rate for a few n (tidy DataFrame).

    Columns: ``n, critical_responders`` (-1 if none), ``true_rate, prob_success``.
    """
    rates = np.linspace(0.0, 1.0, 101) if rates is None else np.asarray(rates, dtype=float)
    frames = []
    for n in ns:
        c = critical_responders(int(n), p0, success_prob, analysis_prior)
        prob = np.zeros_like(rates) if c is None else stats.binom.sf(c - 1, int(n), rates)
        frames.append(
            pd.DataFrame(
                {
                    "n": int(n),
                    "critical_responders": -1 if c is None else c,
                    "true_rate": rates,
                    "prob_success": prob,
                }
            )
        )
    return pd.concat(frames, ignore_index=True)


def plot_oc_curves(curves: pd.DataFrame, ax=None, *, p0: float | None = None, p1=None) -> Figure:
    """Plot :func:`oc_curves` output (one line per n); returns the figure."""
    if ax is None:
        fig = Figure(figsize=(6, 4))
        ax = fig.subplots()
    else:
        fig = ax.figure
    for n, d in curves.groupby("n"):
        c = int(d["critical_responders"].iloc[0])
        ax.plot(d["true_rate"], d["prob_success"], label=f"n = {n} (success if x >= {c})")
    for p, style in ((p0, ":"), (p1, "--")):
        if p is not None:
            ax.axvline(p, color="grey", linestyle=style, linewidth=1)
    ax.set_xlabel("true response rate")
    ax.set_ylabel("probability of success")
    ax.set_ylim(0, 1)
    ax.legend(frameon=False)
    return fig


def plan_from_results(
    results: Mapping[str, Any],
    endpoint: str,
    prior_name: str,
    n: int,
    p0: float,
    p1: float,
    success_prob: float,
    analysis_prior: PriorLike = None,
    *,
    source: str = "results.json",
    alpha: float = 0.05,
) -> PlanResult:
    """Plan a binary follow-up whose design prior is ``results['followup_priors'][endpoint]``.

    The prior is the entry named ``prior_name``.

    Raises :class:`~analysis.errors.InputError` (source ``source``) when the endpoint or prior is
    missing or is not a Beta / Beta mixture.
    """
    by_name = _priors_by_name(results, endpoint, source)
    if prior_name not in by_name:
        raise InputError(
            source,
            f"followup_priors.{endpoint}",
            f"no prior named {prior_name!r}; available: {', '.join(map(str, by_name))}",
        )
    prior = by_name[prior_name]
    if prior.get("family") not in ("beta", "beta_mixture"):
        raise InputError(
            source,
            f"followup_priors.{endpoint}.{prior_name}",
            f"family {prior.get('family')!r} is not a response-rate prior (beta or beta_mixture)",
        )
    try:
        as_beta_mixture(prior)
    except (ValueError, KeyError, TypeError) as exc:
        raise InputError(
            source, f"followup_priors.{endpoint}.{prior_name}", f"not a usable prior ({exc})"
        ) from None
    return plan_binary(
        n, p0, p1, success_prob, prior, analysis_prior, design_prior_name=prior_name, alpha=alpha
    )


def _priors_by_name(results: Any, endpoint: str, source: str) -> dict[Any, dict[str, Any]]:
    """The exported priors of one endpoint of a results.json, by name (InputError naming the
    file and key when the document is not what ``reanalysis run`` writes)."""
    if not isinstance(results, Mapping):
        raise InputError(source, "<top level>", "must be a JSON object (the results.json of a run)")
    all_priors = results.get("followup_priors")
    if not isinstance(all_priors, Mapping):
        raise InputError(source, "followup_priors", "missing; rerun the analysis to produce it")
    if endpoint not in all_priors:
        raise InputError(
            source,
            f"followup_priors.{endpoint}",
            f"no such endpoint; available: {', '.join(sorted(map(str, all_priors)))}",
        )
    priors = all_priors[endpoint]
    if (
        not isinstance(priors, list)
        or not priors
        or not all(isinstance(p, Mapping) for p in priors)
    ):
        raise InputError(
            source, f"followup_priors.{endpoint}", "must be a non-empty list of prior objects"
        )
    return {p.get("name"): p for p in priors}


# ---------------------------------------------------------------------------------------------
# PFS
# ---------------------------------------------------------------------------------------------


def km_medians(times: np.ndarray, events: np.ndarray) -> np.ndarray:
    """Kaplan-Meier medians of many trials at once (rows = trials; inf when not reached).

    ``times`` (months) and ``events`` (bool, True = progression) have shape (trials, n).
    """
    times = np.asarray(times, dtype=float)
    events = np.asarray(events, dtype=bool)
    order = np.lexsort((~events, times), axis=-1)  # by time; events before censorings at ties
    t = np.take_along_axis(times, order, axis=1)
    d = np.take_along_axis(events, order, axis=1)
    n = t.shape[1]
    at_risk = n - np.arange(n)
    surv = np.cumprod(1.0 - d / at_risk, axis=1)
    reached = d & (surv <= 0.5 + _KM_HALF_TOL)
    any_reached = reached.any(axis=1)
    j = reached.argmax(axis=1)
    rows = np.arange(t.shape[0])
    med = t[rows, j]
    ev_t = np.where(d, t, np.inf)
    later = np.minimum.accumulate(ev_t[:, ::-1], axis=1)[:, ::-1]  # min event time at >= index
    nxt = np.concatenate([later[:, 1:], np.full((t.shape[0], 1), np.inf)], axis=1)[rows, j]
    flat = np.abs(surv[rows, j] - 0.5) <= _KM_HALF_TOL
    # R's rule where the curve sits at exactly 0.5: the midpoint to the next event time, or to the
    # last follow-up time when no event follows (as analysis.frequentist.survival does).
    nxt = np.where(np.isfinite(nxt), nxt, t[:, -1])
    med = np.where(flat, (med + nxt) / 2, med)
    return np.where(any_reached, med, np.inf)


@dataclass
class PfsPlanResult:
    """Simulated probability that a single-arm trial observes a KM median PFS above a threshold.

    Attributes:
        probability: P(KM median > threshold) (not reached counts as above).
        mc_se: its Monte Carlo standard error.
        p_not_reached: share of trials whose KM curve never reached 0.5.
        km_median_quantiles: 2.5 %, 50 %, 97.5 % of the simulated KM medians (months).
        exact_probability: the same probability by quadrature of the order-statistic closed
            form, when it exists (no censoring, odd n; :func:`tte_assurance_no_censoring`).
    """

    n: int
    accrual_months: float
    followup_months: float
    threshold_months: float
    n_trials: int
    seed: int
    design: str
    probability: float
    mc_se: float
    p_not_reached: float
    km_median_quantiles: list[float]
    exact_probability: float | None = None

    def to_dict(self) -> dict[str, Any]:
        """JSON-serialisable dict."""
        return jsonable(dataclasses.asdict(self))


def _median_quantiles(med: np.ndarray) -> np.ndarray:
    """2.5 %, 50 %, 97.5 % of simulated KM medians, inf ("not reached") included: empirical
    quantiles without interpolation (interpolating between infinities is undefined)."""
    return np.quantile(med, [0.025, 0.5, 0.975], method="inverted_cdf")


def simulate_pfs_trials(
    n: int,
    accrual_months: float,
    followup_months: float,
    median_months: np.ndarray | float,
    shape: np.ndarray | float,
    n_trials: int,
    rng: np.random.Generator,
) -> tuple[np.ndarray, np.ndarray]:
    """Observed times and event flags (trials x n) with uniform accrual and admin censoring.

    ``median_months`` and ``shape`` are scalars or one value per trial.
    """
    m = np.broadcast_to(np.asarray(median_months, dtype=float), (n_trials,))[:, None]
    k = np.broadcast_to(np.asarray(shape, dtype=float), (n_trials,))[:, None]
    lam = m / np.log(2.0) ** (1.0 / k)
    pfs = lam * rng.exponential(size=(n_trials, n)) ** (1.0 / k)
    entry = rng.uniform(0.0, accrual_months, size=(n_trials, n))
    censor = accrual_months + followup_months - entry
    return np.minimum(pfs, censor), pfs <= censor


def pfs_success_probability(
    n: int,
    accrual_months: float,
    followup_months: float,
    threshold_months: float,
    *,
    median_months: float | None = None,
    shape: float | None = None,
    draws: Mapping[str, np.ndarray] | None = None,
    n_trials: int = 10_000,
    seed: int = DEFAULT_SEED,
) -> PfsPlanResult:
    """P(KM median PFS > threshold) for a trial of n patients, by seeded vectorised simulation.

    Either fixed ``median_months`` and ``shape``, or ``draws`` = {"median_pfs", "weibull_shape"}
    (joint design-prior draws, resampled with replacement, one pair per simulated trial).
    ``followup_months`` may be ``inf`` (no censoring).
    """
    if not 1 <= n <= MAX_PLAN_N or n_trials < 1:
        raise ValueError(f"n must lie in 1..{MAX_PLAN_N} and n_trials be positive")
    if not (0 <= accrual_months < np.inf) or not followup_months >= 0:
        raise ValueError("accrual must be finite and non-negative, follow-up non-negative")
    if not np.isfinite(threshold_months) or threshold_months <= 0:
        raise ValueError(
            f"threshold must be a finite positive number of months, got {threshold_months}"
        )
    rng = np.random.default_rng(seed)
    if draws is not None:
        md = np.asarray(draws["median_pfs"], dtype=float).ravel()
        kd = np.asarray(draws["weibull_shape"], dtype=float).ravel()
        if md.shape != kd.shape or np.any(md <= 0) or np.any(kd <= 0):
            raise ValueError("draws must hold equal-length positive median_pfs and weibull_shape")
        idx = rng.integers(0, md.size, size=n_trials)
        m, k, design = md[idx], kd[idx], f"design prior ({md.size} joint draws)"
    elif median_months is not None and shape is not None:
        if median_months <= 0 or shape <= 0:
            raise ValueError("median_months and shape must be positive")
        m, k, design = median_months, shape, f"fixed median {median_months:g}, shape {shape:g}"
    else:
        raise ValueError("give draws, or both median_months and shape")
    y, ev = simulate_pfs_trials(n, accrual_months, followup_months, m, k, n_trials, rng)
    med = km_medians(y, ev)
    hit = med > threshold_months
    prob = float(hit.mean())
    finite = med[np.isfinite(med)]
    q = _median_quantiles(med) if finite.size else np.full(3, np.inf)
    return PfsPlanResult(
        n=int(n),
        accrual_months=float(accrual_months),
        followup_months=float(followup_months),
        threshold_months=float(threshold_months),
        n_trials=int(n_trials),
        seed=int(seed),
        design=design,
        probability=prob,
        mc_se=math.sqrt(prob * (1 - prob) / n_trials),
        p_not_reached=float(np.mean(~np.isfinite(med))),
        km_median_quantiles=[float(v) for v in q],
    )


# ---------------------------------------------------------------------------------------------
# Time-to-event follow-ups: assurance under the single-trial or a MAP prior
# ---------------------------------------------------------------------------------------------

#: A shape for a prior on the log median only: a fixed Weibull shape, or (mean, sd) of a normal
#: prior on the log shape (independent of the median).
ShapeLike = float | tuple[float, float] | None


@dataclass(frozen=True)
class TtePriorComponent:
    """One bivariate normal component on (log median, log Weibull shape).

    Attributes:
        weight: mixture weight. mean: (log median, log shape). sd: their sds (log shape sd 0 for a
            fixed shape). rho: their correlation.
    """

    weight: float
    mean: tuple[float, float]
    sd: tuple[float, float]
    rho: float = 0.0


def tte_prior_components(prior: Any, shape: ShapeLike = None) -> list[TtePriorComponent]:
    """A design prior for a time-to-event follow-up as bivariate normal components.

    ``prior`` is an exported prior dict of family ``mvnormal`` (the single-trial follow-up prior
    on log median and log shape: ``parameters.mean``, ``parameters.cov``; ``shape`` must be None),
    ``normal_mixture`` (a MAP prior on the log median: ``parameters.weights/mean/sd``) or
    ``normal`` (``parameters.mu/sigma``), or an object with ``arrays`` = (weights, mean, sd) such
    as :class:`analysis.planning.map_prior.NormalMixture`. A prior on the log median alone needs
    ``shape``: a fixed Weibull shape or (mean, sd) of a normal on the log shape.

    Raises:
        ValueError: unknown family, malformed parameters, or a shape missing / given twice.
    """
    family = prior.get("family") if isinstance(prior, Mapping) else None
    if family == "mvnormal":
        if shape is not None:
            raise ValueError("an mvnormal prior carries its own shape; do not give a shape")
        mean = np.asarray(prior["parameters"]["mean"], dtype=float)
        cov = np.asarray(prior["parameters"]["cov"], dtype=float)
        if mean.shape != (2,) or cov.shape != (2, 2) or not np.all(np.isfinite(cov)):
            raise ValueError("an mvnormal prior needs a 2-vector mean and a 2x2 cov")
        sd = np.sqrt(np.diag(cov))
        if np.any(sd <= 0) or abs(cov[0, 1] - cov[1, 0]) > 1e-12 * (1 + abs(cov[0, 1])):
            raise ValueError("the cov must be symmetric with positive variances")
        rho = float(cov[0, 1] / (sd[0] * sd[1]))
        if not -1 <= rho <= 1:
            raise ValueError(f"the cov is not positive semi-definite (correlation {rho:.3g})")
        return [TtePriorComponent(1.0, (mean[0], mean[1]), (sd[0], sd[1]), rho)]
    if family == "normal_mixture":
        q = prior["parameters"]
        w, m, sd = (np.asarray(q[k], dtype=float) for k in ("weights", "mean", "sd"))
    elif family == "normal":
        q = prior["parameters"]
        w, m, sd = np.ones(1), np.asarray([q["mu"]], float), np.asarray([q["sigma"]], float)
    elif family is None and hasattr(prior, "arrays"):
        w, m, sd = (np.asarray(v, dtype=float) for v in prior.arrays)
    else:
        raise ValueError(f"not a time-to-event design prior (family {family!r})")
    if not (w.shape == m.shape == sd.shape) or w.ndim != 1 or w.size == 0:
        raise ValueError("weights, mean and sd must be equal-length non-empty lists")
    if np.any(w < 0) or not np.isclose(w.sum(), 1.0, atol=1e-6) or np.any(sd <= 0):
        raise ValueError("weights must be non-negative and sum to 1, sds positive")
    if not np.all(np.isfinite(m)):
        raise ValueError("means must be finite")
    if shape is None:
        raise ValueError("a prior on the log median alone needs a shape (fixed, or a log-normal)")
    if isinstance(shape, tuple):
        shape_mean, shape_sd = float(shape[0]), float(shape[1])
        if not (np.isfinite(shape_mean) and shape_sd >= 0):
            raise ValueError("the log-shape prior needs a finite mean and a non-negative sd")
    else:
        if not (np.isfinite(shape) and shape > 0):
            raise ValueError(f"the shape must be a finite positive number, got {shape}")
        shape_mean, shape_sd = math.log(shape), 0.0
    return [
        TtePriorComponent(float(wk / w.sum()), (float(mk), shape_mean), (float(sk), shape_sd))
        for wk, mk, sk in zip(w, m, sd, strict=True)
    ]


def draw_tte_parameters(
    components: Sequence[TtePriorComponent], size: int, rng: np.random.Generator
) -> tuple[np.ndarray, np.ndarray]:
    """``size`` joint draws (median, Weibull shape) from the mixture of bivariate normals on the
    log scale (component by its weight, then log median and the log shape given it)."""
    w = np.array([c.weight for c in components])
    k = rng.choice(len(components), size=size, p=w / w.sum())
    mean = np.array([c.mean for c in components])[k]
    sd = np.array([c.sd for c in components])[k]
    rho = np.array([c.rho for c in components])[k]
    z = rng.standard_normal((size, 2))
    log_median = mean[:, 0] + sd[:, 0] * z[:, 0]
    log_shape = mean[:, 1] + sd[:, 1] * (rho * z[:, 0] + np.sqrt(1 - rho**2) * z[:, 1])
    return np.exp(log_median), np.exp(log_shape)


def tte_assurance_no_censoring(
    n: int,
    threshold: float,
    components: Sequence[TtePriorComponent],
    *,
    grid_points: int = 2001,
    shape_nodes: int = 32,
) -> float:
    """P(KM median > threshold) without censoring, n odd, averaged over the design prior.

    Without censoring the KM median of an odd n is the j-th order statistic, j = (n + 1) / 2, so
    given (m, k): P(median > t) = P(U_(j) > F(t)) = P(Beta(j, n + 1 - j) > F(t)), with
    F(t) = 1 - 2^(-(t / m)^k) (Weibull with median m). The prior average is a trapezoid rule in
    the standardised log median over +-9 sd (``grid_points``) and Gauss-Hermite (``shape_nodes``)
    in the log shape given the log median.

    Raises:
        ValueError: n even (the KM median is then a midpoint, with no such closed form).
    """
    if n % 2 == 0 or n < 1:
        raise ValueError(f"the order-statistic closed form needs an odd n, got {n}")
    j = (n + 1) // 2
    u = np.linspace(-9.0, 9.0, grid_points)
    wu = stats.norm.pdf(u) * (u[1] - u[0])
    wu[[0, -1]] /= 2
    v, wv = np.polynomial.hermite_e.hermegauss(shape_nodes)
    wv = wv / wv.sum()
    total = 0.0
    for c in components:
        log_m = c.mean[0] + c.sd[0] * u[:, None]
        log_k = c.mean[1] + c.sd[1] * (c.rho * u[:, None] + math.sqrt(1 - c.rho**2) * v[None, :])
        cdf = -np.expm1(-math.log(2.0) * np.exp(np.exp(log_k) * (math.log(threshold) - log_m)))
        prob = stats.beta.sf(cdf, j, n + 1 - j)
        total += c.weight * float(wu @ prob @ wv)
    return total


def tte_assurance(
    n: int,
    accrual: float,
    followup: float,
    threshold: float,
    prior: Any,
    *,
    shape: ShapeLike = None,
    n_trials: int = 10_000,
    seed: int = DEFAULT_SEED,
    name: str | None = None,
) -> PfsPlanResult:
    """Assurance of a single-arm time-to-event follow-up: P(KM median > threshold) averaged over
    a design prior, by seeded vectorised simulation (one prior draw per simulated trial).

    ``prior`` and ``shape`` as in :func:`tte_prior_components`: the single-trial follow-up prior
    (bivariate normal on log median and log shape) or a MAP prior on the log median (normal
    mixture) with a shape. Times in the endpoint's unit (``accrual``, ``followup``, ``threshold``;
    the result's ``*_months`` fields hold them). Uniform accrual over ``accrual``, administrative
    censoring ``followup`` after the last entry (``inf``: none). Without censoring and with n odd
    the result also holds the closed form (``exact_probability``).
    """
    if not 1 <= n <= MAX_PLAN_N or n_trials < 1:
        raise ValueError(f"n must lie in 1..{MAX_PLAN_N} and n_trials be positive")
    if not (0 <= accrual < np.inf) or not followup >= 0:
        raise ValueError("accrual must be finite and non-negative, follow-up non-negative")
    if not np.isfinite(threshold) or threshold <= 0:
        raise ValueError(f"threshold must be a finite positive time, got {threshold}")
    components = tte_prior_components(prior, shape)
    rng = np.random.default_rng(seed)
    m, k = draw_tte_parameters(components, n_trials, rng)
    y, ev = simulate_pfs_trials(n, accrual, followup, m, k, n_trials, rng)
    med = km_medians(y, ev)
    prob = float(np.mean(med > threshold))
    q = _median_quantiles(med)
    exact = None
    if math.isinf(followup) and n % 2 == 1:
        exact = tte_assurance_no_censoring(n, threshold, components)
    if len(components) == 1 and components[0].rho != 0.0:
        kind = "bivariate normal on (log median, log shape)"
    else:
        kind = f"normal mixture of {len(components)} on the log median"
    label = f"design prior {name!r}: {kind}" if name else f"design prior: {kind}"
    return PfsPlanResult(
        n=int(n),
        accrual_months=float(accrual),
        followup_months=float(followup),
        threshold_months=float(threshold),
        n_trials=int(n_trials),
        seed=int(seed),
        design=label,
        probability=prob,
        mc_se=math.sqrt(prob * (1 - prob) / n_trials),
        p_not_reached=float(np.mean(~np.isfinite(med))),
        km_median_quantiles=[float(v) for v in q],
        exact_probability=exact,
    )


# ---------------------------------------------------------------------------------------------
# What the run and the command line show planners
# ---------------------------------------------------------------------------------------------

#: Follow-up designs the report shows by default: n patients, success if P(rate > p0) >= 0.95.
REPORT_NS = (20, 30, 40, 60)
REPORT_SUCCESS_PROB = 0.95
#: Type I error the report's calibrated rule keeps to.
REPORT_ALPHA = 0.05


def planning_overview(
    rate_priors: Sequence[Mapping[str, Any]],
    p0: float,
    p1: float,
    ns: Sequence[int] = REPORT_NS,
    success_prob: float = REPORT_SUCCESS_PROB,
    alpha: float = REPORT_ALPHA,
    analysis_prior: PriorLike = None,
) -> tuple[pd.DataFrame, Figure]:
    """For the report: per design prior and n, the nominal rule P(rate > p0 | x) >= success_prob
    (its critical count and exact type I error) beside the calibrated rule of
    :func:`calibrated_rule` (critical count, exact type I error, power, assurance under that
    design prior); analysis prior ``analysis_prior`` (default Beta(1, 1)). Eight columns. Also the
    OC curves (probability of success against the true rate) of the nominal rule."""
    rows = []
    for prior in rate_priors:
        for n in ns:
            plan = plan_binary(
                n,
                p0,
                p1,
                success_prob,
                prior,
                analysis_prior,
                design_prior_name=prior["name"],
                simon=False,
                alpha=alpha,
            )
            rows.append(
                {
                    "design prior": prior["name"],
                    "n": n,
                    f"success if x >= (P >= {success_prob:g})": plan.critical_responders,
                    f"its type I error at {p0:g}": plan.type1_error,
                    f"success if x >= (type I <= {alpha:g})": plan.calibrated_critical_responders,
                    "its type I error": plan.calibrated_type1_error,
                    f"its power at {p1:g}": plan.calibrated_power,
                    "its assurance": plan.calibrated_assurance,
                }
            )
    curves = oc_curves(ns, p0, success_prob, analysis_prior)
    fig = plot_oc_curves(curves, p0=p0, p1=p1)
    amix = as_beta_mixture(analysis_prior)
    vague = amix.n_components == 1 and amix.alpha[0] == amix.beta[0] == 1.0
    fig.axes[0].set_title(
        f"Follow-up trial: success if P(rate > {p0:g} | data) >= {success_prob:g}"
        + (" (vague prior)" if vague else " (chosen analysis prior)")
    )
    return pd.DataFrame(rows), fig


def _pick(by_name: Mapping[Any, Any], name: str | None, source: str, where: str) -> Any:
    """The prior named ``name`` (the first when None), or an InputError listing the names."""
    if name is None:
        return next(iter(by_name.values()))
    if name not in by_name:
        raise InputError(
            source, where, f"no prior named {name!r}; available: {', '.join(map(str, by_name))}"
        )
    return by_name[name]


def pfs_plan_from_results(
    results: Mapping[str, Any],
    prior_name: str | None,
    n: int,
    accrual_months: float,
    followup_months: float,
    threshold_months: float,
    *,
    source: str = "results.json",
    seed: int = DEFAULT_SEED,
    endpoint: str = "pfs",
    map_prior: Mapping[str, Any] | None = None,
    map_source: str = "map prior",
    shape: ShapeLike = None,
    n_trials: int = 10_000,
) -> PfsPlanResult:
    """Assurance (P(KM median > threshold)) of a time-to-event follow-up, by
    :func:`tte_assurance` (times in the endpoint's unit, which the ``*_months`` arguments then
    stand for).

    Design prior: the exported prior ``prior_name`` of ``followup_priors.<endpoint>`` (a bivariate
    normal on log median and log shape; default the first, the primary one), or, with
    ``map_prior`` (what ``reanalysis prior map`` writes: ``priors`` of family ``normal_mixture``
    on the log median, or one such prior), its prior ``prior_name`` (default the first). A MAP
    prior needs a shape: ``shape`` (fixed, or (mean, sd) of the log shape), else the log-shape
    marginal of the endpoint's primary exported prior.

    Raises:
        InputError: a missing endpoint or prior, or a prior that is not a usable design prior.
    """
    if map_prior is None:
        by_name = _priors_by_name(results, endpoint, source)
        prior = _pick(by_name, prior_name, source, f"followup_priors.{endpoint}")
        where, origin, shape_used = f"followup_priors.{endpoint}.{prior.get('name')}", source, None
        if prior.get("family") != "mvnormal":
            raise InputError(source, where, "not an mvnormal prior")
    else:
        listed = map_prior.get("priors") if isinstance(map_prior, Mapping) else None
        entries = listed if isinstance(listed, list) else [map_prior]
        by_name = {
            e.get("name", str(i)): e for i, e in enumerate(entries) if isinstance(e, Mapping)
        }
        if not by_name:
            raise InputError(map_source, "priors", "no prior objects")
        prior = _pick(by_name, prior_name, map_source, "priors")
        where, origin = f"priors.{prior.get('name')}", map_source
        if prior.get("family") not in ("normal_mixture", "normal"):
            raise InputError(map_source, where, "not a prior on the log median (normal mixture)")
        shape_used = shape if shape is not None else _shape_from_results(results, endpoint, source)
    try:
        plan = tte_assurance(
            n,
            accrual_months,
            followup_months,
            threshold_months,
            prior,
            shape=shape_used,
            n_trials=n_trials,
            seed=seed,
            name=prior.get("name"),
        )
    except (KeyError, TypeError, ValueError) as exc:
        raise InputError(origin, f"{where}.parameters", f"not a usable prior ({exc})") from None
    if map_prior is not None:
        plan.design += f"; shape {_shape_text(shape_used)}"
    return plan


def _shape_from_results(results: Mapping[str, Any], endpoint: str, source: str) -> ShapeLike:
    """(mean, sd) of the log shape in the endpoint's primary exported (mvnormal) prior."""
    first = next(iter(_priors_by_name(results, endpoint, source).values()))
    try:
        mean = float(first["parameters"]["mean"][1])
        sd = math.sqrt(float(first["parameters"]["cov"][1][1]))
    except (KeyError, TypeError, ValueError, IndexError):
        raise InputError(
            source, f"followup_priors.{endpoint}", "no log-shape prior to borrow; give --shape"
        ) from None
    return (mean, sd)


def _shape_text(shape: ShapeLike) -> str:
    if isinstance(shape, tuple):
        return f"log-normal (log shape {shape[0]:.3g} +- {shape[1]:.3g})"
    return f"fixed at {shape:g}"


def analysis_prior_from_spec(
    spec: str | None, results: Mapping[str, Any], endpoint: str, source: str
) -> BetaMixture:
    """``--analysis-prior``: None (Beta(1, 1)), ``"a,b"`` (Beta(a, b)) or the name of an exported
    Beta / Beta-mixture prior of the endpoint."""
    if spec is None:
        return BetaMixture.single(1.0, 1.0)
    parts = spec.split(",")
    if len(parts) == 2:
        try:
            a, b = (float(v) for v in parts)
        except ValueError:
            pass
        else:
            if not (a > 0 and b > 0 and math.isfinite(a) and math.isfinite(b)):
                raise InputError("--analysis-prior", "analysis-prior", f"Beta({a:g}, {b:g})")
            return BetaMixture.single(a, b)
    by_name = _priors_by_name(results, endpoint, source)
    prior = _pick(by_name, spec, source, f"followup_priors.{endpoint}")
    try:
        return as_beta_mixture(prior)
    except (ValueError, KeyError, TypeError) as exc:
        raise InputError(
            source, f"followup_priors.{endpoint}.{spec}", f"not a Beta prior ({exc})"
        ) from None


#: The note ``plan`` adds when the old ``--prior`` option is used.
PRIOR_ALIAS_NOTE = (
    "--prior is an alias of --design-prior (the prior over the true rate, for the assurance and "
    "the prior predictive); the prior of the final analysis is --analysis-prior"
)


def plan_command(
    results_path: str | Path,
    endpoint: str,
    prior_name: str | None,
    n: int,
    p0: float,
    p1: float,
    success_prob: float,
    *,
    as_json: bool = False,
    accrual_months: float = 12.0,
    followup_months: float = 12.0,
    threshold_months: float | None = None,
    analysis_prior: str | None = None,
    alpha: float = 0.05,
    map_prior_path: str | Path | None = None,
    shape: float | None = None,
    prior_alias_used: bool = False,
) -> str:
    """What ``reanalysis plan`` prints: read a results.json, plan, format as text or JSON.

    ``prior_name`` is the design prior. A time-to-event endpoint (``time_to_event.<key>`` of the
    results, or ``pfs``) plans on the KM median (needs ``threshold_months``; ``map_prior_path``
    switches the design prior to a MAP prior file); any other endpoint key of ``followup_priors``
    with Beta priors plans a binary trial under ``analysis_prior`` (see
    :func:`analysis_prior_from_spec`), with the rule calibrated to ``alpha`` beside it.
    """
    path = Path(results_path)
    results = _read_json(path)
    tte = results.get("time_to_event") if isinstance(results, dict) else None
    if endpoint == "pfs" or (isinstance(tte, dict) and endpoint in tte):
        # a time-to-event endpoint (results schema 2: time_to_event.<key>); times in its unit
        if threshold_months is None:
            raise InputError(
                "--threshold-months", "threshold", f"required for --endpoint {endpoint}"
            )
        map_prior = None if map_prior_path is None else _read_json(Path(map_prior_path))
        pfs = pfs_plan_from_results(
            results,
            prior_name,
            n,
            accrual_months,
            followup_months,
            threshold_months,
            source=str(path),
            endpoint=endpoint,
            map_prior=map_prior,
            map_source=str(map_prior_path),
            shape=shape,
        )
        if as_json:
            return json.dumps(pfs.to_dict(), indent=2)
        lo, mid, hi = pfs.km_median_quantiles
        rows = [
            ("patients", f"{pfs.n}"),
            ("accrual / extra follow-up", f"{pfs.accrual_months:g} / {pfs.followup_months:g}"),
            ("design", pfs.design),
            (
                f"assurance P(KM median > {pfs.threshold_months:g})",
                f"{pfs.probability:.3f} (Monte Carlo se {pfs.mc_se:.3f},"
                f" {pfs.n_trials} simulated trials)",
            ),
            ("KM median not reached", f"{pfs.p_not_reached:.3f}"),
            ("simulated KM median", f"{mid:.2f} (95 % range {lo:.2f}-{hi:.2f})"),
        ]
        if pfs.exact_probability is not None:
            rows.append(("closed form (no censoring)", f"{pfs.exact_probability:.4f}"))
        width = max(len(k) for k, _ in rows)
        return "\n".join(f"{k.ljust(width)}  {v}" for k, v in rows)
    if map_prior_path is not None or shape is not None:
        raise InputError("--map-prior", "map-prior", "only for a time-to-event endpoint")
    if prior_name is None:
        prior_name = next(iter(_priors_by_name(results, endpoint, str(path))))
    amix = analysis_prior_from_spec(analysis_prior, results, endpoint, str(path))
    plan = plan_from_results(
        results, endpoint, prior_name, n, p0, p1, success_prob, amix, source=str(path), alpha=alpha
    )
    if prior_alias_used:
        plan.notes.append(PRIOR_ALIAS_NOTE)
    return json.dumps(plan.to_dict(), indent=2) if as_json else format_plan(plan)


def _read_json(path: Path) -> Any:
    try:
        return json.loads(path.read_text())
    except OSError as exc:
        raise InputError(path, "<file>", f"cannot read ({exc.strerror})") from exc
    except json.JSONDecodeError as exc:
        raise InputError(path, "<file>", f"not valid JSON: {exc}") from exc
