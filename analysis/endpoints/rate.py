"""Any rate of any trial, end to end: the printed report as coarsened data, exact posteriors, an
MCMC check, the frequentist side and the sensitivity analysis (compute only; DESIGN.md 4.1).

The report ("30 % (17-45 %)", or published counts) enters through its own likelihood: a sum over
the counts (x, n) that reproduce it, weighted by prior(n) * prior(method)
(:mod:`~trial_reanalysis.analysis.reconstruction.rate_report`). Under a Beta prior the posterior
is a mixture of Betas, computed exactly: it is the headline (mean, sd, equal-tailed interval, HDI
by optimisation, tail probabilities, the Bayes factor of the design's hypotheses). The same
likelihood, fitted by MCMC (:func:`~trial_reanalysis.models.rate.build_rate_model`, compiled
once per padded size, gated), stands beside it as the check: its MCSE and the z of its difference
from the exact value (issue 13 item 2). Words and figures are the report's
(:mod:`trial_reanalysis.analysis.report.rate`); this module returns numbers.

Which hypotheses: the design's p0 and p1 belong to one rate (``design.endpoint``, else the primary
rate); every other rate, and every rate of a trial without a printed p0 and p1, is analysed
without design hypotheses (no tail probabilities, Bayes factor, skeptical or enthusiastic prior,
exact test or Simon table).
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache
from typing import Any

import arviz as az
import numpy as np
import pandas as pd
from scipy import stats

from trial_reanalysis.analysis.constants import INTERVAL_LEVEL, INTERVAL_TAILS
from trial_reanalysis.analysis.endpoints.base import (
    EndpointResult,
    comparison_frame,
    sensitivity_frame,
)
from trial_reanalysis.analysis.errors import InputError
from trial_reanalysis.analysis.frequentist.binomial import (
    SimonDesign,
    exact_binomial_test,
    simon_table,
    trial_decision,
)
from trial_reanalysis.analysis.inference.diagnostics import FitDiagnostics, fit_with_gates
from trial_reanalysis.analysis.inference.fitting import CompiledModel, SamplerSettings, derive_seed
from trial_reanalysis.analysis.reconstruction.rate_report import (
    BetaMixtureDistribution,
    RateReport,
    RateReportPosterior,
    ReportCandidates,
    posterior_mixture,
    report_candidates,
)
from trial_reanalysis.analysis.reconstruction.rates import proportion_ci
from trial_reanalysis.analysis.trials.checks import rate_report_of
from trial_reanalysis.analysis.trials.load import LoadedTrial
from trial_reanalysis.analysis.trials.v2 import Rate, TrialV2
from trial_reanalysis.models.priors import PriorScenario, with_primary
from trial_reanalysis.models.rate import (
    MIN_CANDIDATES,
    RATE,
    build_rate_model,
    model_data,
    padded_size,
    prior_registry,
)

#: Points of the exact primary posterior handed to the follow-up priors (stratified quantiles).
FOLLOWUP_DRAWS = 100_000
#: Single-candidate sensitivity rows shown at most (largest posterior weight first).
MAX_CANDIDATE_ROWS = 12
#: A candidate table longer than this is written as CSV only.
MAX_CANDIDATES_IN_REPORT = 20
#: |z| of the MCMC-exact difference beyond which the check is flagged (3 Monte Carlo SE).
MCMC_Z_LIMIT = 3.0
#: Smallest component weight kept in the stored exact posterior (the rest sum to < 1e-9 each).
MIN_STORED_WEIGHT = 1e-12


@dataclass(frozen=True)
class RateDesign:
    """The design's hypotheses of a rate: H0 rate < p0, H1 rate > p1 (both printed)."""

    p0: float
    p1: float
    source: str


def rate_design(trial: TrialV2, key: str) -> RateDesign | None:
    """p0 and p1 of this rate: the design's, when it is for this rate and both were printed."""
    d = trial.design
    target = d.endpoint or trial.primary_rate
    if target != key or d.p0 == "unknown" or d.p1 == "unknown":
        return None
    return RateDesign(float(d.p0.value), float(d.p1.value), f"{d.p0.source}; {d.p1.source}")


def file_priors(rate: Rate) -> dict[str, PriorScenario]:
    """The trial file's own priors of a rate (Beta, checked at load), as scenarios."""
    return {
        name: PriorScenario(
            name,
            "beta",
            {"alpha": float(p.parameters["alpha"]), "beta": float(p.parameters["beta"])},
            p.rationale,
            primary=p.primary,
            tags=("trial file",),
        )
        for name, p in rate.priors.items()
    }


def rate_priors_of(trial: TrialV2, key: str) -> dict[str, PriorScenario]:
    """Every prior of a rate (:func:`~trial_reanalysis.models.rate.prior_registry`)."""
    design = rate_design(trial, key)
    return prior_registry(
        design.p0 if design else None,
        design.p1 if design else None,
        file_priors(trial.rates[key]),
    )


def primary_name(priors: dict[str, PriorScenario]) -> str:
    """Name of the one primary prior."""
    (name,) = [n for n, s in priors.items() if s.primary]
    return name


def beta_prior(prior: PriorScenario) -> BetaMixtureDistribution:
    """A Beta scenario as the one-component mixture the exact posterior takes."""
    return BetaMixtureDistribution.beta(prior.parameters["alpha"], prior.parameters["beta"])


def candidates_of(
    loaded: LoadedTrial, key: str, *, dropout: float | None = None, rounding: str | None = None
) -> ReportCandidates:
    """The candidates of the report's likelihood (published counts: one candidate).

    Raises:
        InputError: no count reproduces even the printed estimate (``rates.<key>``).
    """
    trial = loaded.trial
    report = rate_report_of(
        trial.rates[key], trial.enrolled.value, dropout=dropout, rounding=rounding
    )
    try:
        return report_candidates(report)
    except ValueError as exc:
        raise InputError(
            loaded.path,
            f"rates.{key}.estimate_percent",
            f"no (responders, evaluable) reproduces the printed rate: {exc}",
        ) from None


def exact_posterior_of(
    cands: ReportCandidates, prior: PriorScenario | BetaMixtureDistribution
) -> RateReportPosterior:
    """The exact Beta-mixture posterior of the report's candidates under a prior."""
    pri = prior if isinstance(prior, BetaMixtureDistribution) else beta_prior(prior)
    x, n, w = cands.arrays
    post, weights = posterior_mixture(x, n, w, pri)
    return RateReportPosterior(cands, pri, post, weights)


def tail_numbers(post: RateReportPosterior, design: RateDesign | None) -> dict[str, float | None]:
    """P(rate > p0), P(rate > p1) and the Bayes factor of H1: rate > p1 against H0: rate < p0.

    The Bayes factor is the posterior odds of H1 against H0 over their prior odds (both exact);
    infinite (written null) when no posterior mass is left below p0 in double precision.
    """
    if design is None:
        return {"p_above_p0": None, "p_above_p1": None, "bf_h1_vs_h0": None}
    d, pri = post.posterior, post.prior
    p0, p1 = design.p0, design.p1
    post_h1, post_h0 = float(d.sf(p1)), float(d.cdf(p0))
    prior_odds = float(pri.sf(p1)) / float(pri.cdf(p0))
    with np.errstate(divide="ignore"):
        bf = float(np.float64(post_h1) / np.float64(post_h0) / prior_odds)
    return {"p_above_p0": float(d.sf(p0)), "p_above_p1": post_h1, "bf_h1_vs_h0": bf}


def exact_summary(post: RateReportPosterior, design: RateDesign | None) -> dict[str, Any]:
    """The headline numbers of an exact posterior and its components (for figures and checks)."""
    d = post.posterior
    keep = d.weights >= MIN_STORED_WEIGHT
    return {
        "mean": d.mean(),
        "sd": d.sd(),
        "ci95": list(d.interval(INTERVAL_LEVEL)),
        "hdi95": list(d.hdi(INTERVAL_LEVEL)),
        **tail_numbers(post, design),
        "exact": {
            "family": "beta_mixture",
            "weights": (d.weights[keep] / d.weights[keep].sum()).tolist(),
            "alpha": d.alpha[keep].tolist(),
            "beta": d.beta[keep].tolist(),
        },
        "candidate_weights": {
            c.label: float(w)
            for c, w in zip(post.candidates.candidates, post.posterior_weights, strict=True)
        },
    }


def mcmc_check(idata: az.InferenceData, exact: BetaMixtureDistribution) -> dict[str, Any]:
    """The MCMC fit beside the exact posterior: mean and 2.5 / 97.5 % quantiles, their MCSE and
    z = (MCMC - exact) / MCSE; ``within_3_mcse`` when every |z| < 3."""
    draws = idata.posterior[RATE]
    flat = draws.values.ravel()
    mean = float(flat.mean())
    mcse_mean = float(az.mcse(idata, var_names=[RATE], method="mean")[RATE])
    q = [float(np.quantile(flat, p)) for p in INTERVAL_TAILS]
    mcse_q = [
        float(az.mcse(idata, var_names=[RATE], method="quantile", prob=p)[RATE])
        for p in INTERVAL_TAILS
    ]
    exact_q = [exact.ppf(p) for p in INTERVAL_TAILS]
    z_mean = (mean - exact.mean()) / mcse_mean
    z_q = [(a - b) / s for a, b, s in zip(q, exact_q, mcse_q, strict=True)]
    return {
        "mean": mean,
        "sd": float(flat.std(ddof=1)),
        "ci95": q,
        "mcse_mean": mcse_mean,
        "mcse_ci95": mcse_q,
        "z_mean": z_mean,
        "z_ci95": z_q,
        "within_3_mcse": bool(max(abs(z_mean), *map(abs, z_q)) < MCMC_Z_LIMIT),
        "draws": int(flat.size),
    }


@cache
def compiled_model(size: int = MIN_CANDIDATES) -> CompiledModel:
    """The rate model for ``size`` candidate slots, compiled once per process and size."""
    return CompiledModel(build_rate_model(size), name="rate")


def mixture_quantile_draws(dist: BetaMixtureDistribution, size: int = FOLLOWUP_DRAWS) -> np.ndarray:
    """``size`` stratified points of an exact Beta mixture: each component gets its share of the
    points (largest remainder), placed at its quantiles (i + 1/2) / m.

    Their mean and variance match the mixture's to about 1e-5 relative (no Monte Carlo error), so
    a Beta fitted to them by moments is the posterior's own Beta: (a + x, b + n - x) for a single
    count. Sorted, shape (size,).
    """
    w = dist.weights
    raw = w * size
    counts = np.floor(raw).astype(int)
    counts[np.argsort(-(raw - counts))[: size - counts.sum()]] += 1
    parts = [
        stats.beta.ppf((np.arange(m) + 0.5) / m, a, b)
        for m, a, b in zip(counts, dist.alpha, dist.beta, strict=True)
        if m > 0
    ]
    return np.sort(np.concatenate(parts))


def _candidate_records(post: RateReportPosterior, level: float) -> list[dict[str, Any]]:
    """results.json candidates: one per count, with its most likely reproducing method."""
    order = list(post.candidates.method_prior)
    out = []
    for row in post.table():
        methods = sorted(row["ci_methods"], key=order.index)
        method = methods[0] if methods else None
        ci = (
            row["computed_ci"][method]
            if method
            else list(proportion_ci(row["responders"], row["evaluable"], "exact", level))
        )
        out.append(
            {
                "responders": row["responders"],
                "evaluable": row["evaluable"],
                "estimate": row["estimate"],
                "ci_method": method,
                "ci_methods": methods,
                "ci95": ci,
                "rules": row["rules"],
                "prior_weight": row["prior_weight"],
                "posterior_weight": row["posterior_weight"],
            }
        )
    return out


def _frequentist(
    records: list[dict[str, Any]], design: RateDesign | None, level: float
) -> dict[str, Any]:
    """Exact CI (and exact one-sided test vs p0 when known) of every candidate; the headline is
    the candidate of largest posterior weight under the primary prior."""
    rows = []
    for r in records:
        x, n = r["responders"], r["evaluable"]
        rows.append(
            {
                "responders": x,
                "evaluable": n,
                "estimate": x / n,
                "ci95": list(proportion_ci(x, n, "exact", INTERVAL_LEVEL)),
                "p_value_vs_p0": exact_binomial_test(x, n, design.p0) if design else None,
                "posterior_weight": r["posterior_weight"],
            }
        )
    best = rows[0]
    p_values = [r["p_value_vs_p0"] for r in rows if r["p_value_vs_p0"] is not None]
    return {
        "estimate": best["estimate"],
        "ci95": best["ci95"],
        "ci_method": "exact",
        "p_value_vs_p0": best["p_value_vs_p0"],
        "p_value_range": [min(p_values), max(p_values)] if p_values else None,
        "candidate": f"{best['responders']}/{best['evaluable']}",
        "test": (
            f"exact one-sided binomial test of rate <= {design.p0:g} (P(X >= x | n, p0))"
            if design
            else None
        ),
        "by_candidate": rows,
    }


def design_rows(designs: pd.DataFrame, responders: int, evaluable: int) -> list[dict[str, Any]]:
    """Simon designs (rows of :func:`simon_table`) with the trial's outcome under each found one.

    A setting for which the search found no design keeps its row (with its note) and no
    decision; missing numbers become None (strict JSON).
    """
    out = []
    for row in designs.to_dict(orient="records"):
        clean = {
            k: (None if isinstance(v, float) and not np.isfinite(v) else v) for k, v in row.items()
        }
        if clean.get("found", True):
            design = SimonDesign(**{k: clean[k] for k in SimonDesign.__dataclass_fields__})
            decision = trial_decision(design, responders, evaluable)
            clean["trial"] = {
                k: decision[k]
                for k in (
                    "go_by_count",
                    "go_by_rate",
                    "threshold_rate",
                    "prob_stop_stage1",
                    "prob_go_first_n",
                    "n_matches_trial",
                )
            }
        out.append(clean)
    return out


def design_table(rows: list[dict[str, Any]], candidate: str) -> pd.DataFrame:
    """The design table of the report: eight columns (issue 13 item 7)."""
    out = []
    for r in rows:
        name = f"{r['kind']} (alpha {r['alpha_target']:g}, power {r['power_target']:g})"
        if not r.get("found", True):
            out.append({"design": name, "r1/n1": "none found", "trial's decision": r.get("note")})
            continue
        t = r["trial"]
        out.append(
            {
                "design": name,
                "r1/n1": f"{r['r1']}/{r['n1']}",
                "r/n": f"{r['r']}/{r['n']}",
                "alpha": r["alpha"],
                "power": r["power"],
                "EN0": r["en0"],
                "PET0": r["pet0"],
                f"trial's decision ({candidate})": ("go" if t["go_by_rate"] else "no go")
                + f": rate {'above' if t['go_by_rate'] else 'not above'} r/n",
            }
        )
    return pd.DataFrame(out)


def _sensitivity(
    loaded: LoadedTrial,
    key: str,
    cands: ReportCandidates,
    priors: dict[str, PriorScenario],
    primary: str,
    design: RateDesign | None,
    posts: dict[str, RateReportPosterior],
) -> list[dict[str, Any]]:
    """Exact rows: each prior (whole report), each single candidate (primary prior), each
    rounding rule and each dropout allowance of the file's sweep (when counts are not published).
    """
    rate = loaded.trial.rates[key]
    rows: list[dict[str, Any]] = []
    p1 = design.p1 if design else None

    def row(*args: Any, **kwargs: Any) -> None:
        rows.append(_sensitivity_row(p1, *args, **kwargs))

    for name, post in posts.items():
        row("prior", name, name, post, name == primary)
    primary_post = posts[primary]
    by_weight = sorted(
        zip(primary_post.posterior_weights, cands.candidates, strict=True), key=lambda t: -t[0]
    )
    for _, c in by_weight[:MAX_CANDIDATE_ROWS]:
        single = ReportCandidates(
            cands.report, (c,), cands.basis, cands.ci_reproduced, cands.n_prior, cands.method_prior
        )
        row("count", c.label, primary, exact_posterior_of(single, priors[primary]), False)
    if cands.basis == "counts":
        return rows
    for rule in ("round", "truncate"):
        try:
            alt = candidates_of(loaded, key, rounding=rule)
        except InputError:
            row("rounding", rule, primary, None, False, "no count prints as reported")
            continue
        row("rounding", rule, primary, exact_posterior_of(alt, priors[primary]), False)
    a = rate.assumptions.dropout_allowance
    if rate.evaluable == "unknown" and a is not None:
        for value in a.sweep:
            try:
                alt = candidates_of(loaded, key, dropout=float(value))
            except InputError:
                row("dropout allowance", f"{value:g}", primary, None, False, "no count fits")
                continue
            post = exact_posterior_of(alt, priors[primary])
            row("dropout allowance", f"{value:g}", primary, post, False)
    return rows


def _sensitivity_row(
    p1: float | None,
    assumption: str,
    scenario: str,
    prior: str,
    post: RateReportPosterior | None,
    is_primary: bool,
    note: str | None = None,
) -> dict[str, Any]:
    """One exact sensitivity row: posterior mean, 95 % equal-tailed interval and P(rate > p1)
    (None without a design) of ``post``; an empty row (with ``note``) when nothing fits."""
    if post is None:
        return {
            "assumption": assumption,
            "scenario": scenario,
            "prior": prior,
            "primary": False,
            "mean": None,
            "ci95": None,
            "p_above_p1": None,
            "n_candidates": 0,
            "basis": None,
            "note": note,
        }
    d = post.posterior
    return {
        "assumption": assumption,
        "scenario": scenario,
        "prior": prior,
        "primary": is_primary,
        "mean": d.mean(),
        "ci95": list(d.interval(INTERVAL_LEVEL)),
        "p_above_p1": float(d.sf(p1)) if p1 is not None else None,
        "n_candidates": len(post.candidates.candidates),
        "basis": post.candidates.basis,
        "note": note,
    }


def _sensitivity_frame(rows: list[dict[str, Any]], label: str, design: RateDesign | None):
    return sensitivity_frame(
        [
            {
                "quantity": label,
                "prior": r["prior"],
                "assumption": r["assumption"],
                "scenario": r["scenario"],
                "primary": r["primary"],
                "estimate": r["mean"],
                "ci_low": r["ci95"][0] if r["ci95"] else None,
                "ci_high": r["ci95"][1] if r["ci95"] else None,
                "probability": r["p_above_p1"],
                "probability_label": f"P(rate > {design.p1:g})" if design else None,
            }
            for r in rows
            if r["mean"] is not None
        ]
    )


def _comparison_rows(
    rate: Rate,
    results: dict[str, Any],
    design: RateDesign | None,
) -> list[dict[str, Any]]:
    """Reported, frequentist (headline candidate), exact Bayesian (equal-tailed and HDI) and
    MCMC-check rows; every estimate is a proportion (Bayesian rows: the posterior mean)."""
    q = rate.label
    level = f"{INTERVAL_LEVEL:.0%}"
    rows = []
    rep = results["reported"]
    if rep["estimate"] is not None:
        rows.append(
            {
                "quantity": q,
                "side": "reported",
                "method": f"paper ({rep['source']})",
                "scenario": "as published",
                "estimate": rep["estimate"],
                "ci_low": rep["ci95"][0] if rep["ci95"] else None,
                "ci_high": rep["ci95"][1] if rep["ci95"] else None,
                "interval": f"{rep['ci_level']:.0%} CI as printed" if rep["ci95"] else None,
            }
        )
    f = results["frequentist"]
    rows.append(
        {
            "quantity": q,
            "side": "frequentist",
            "method": "Clopper-Pearson exact" + ("; exact binomial test" if design else ""),
            "scenario": f["candidate"],
            "estimate": f["estimate"],
            "ci_low": f["ci95"][0],
            "ci_high": f["ci95"][1],
            "interval": f"{level} exact CI",
            "probability": f["p_value_vs_p0"],
            "probability_label": f"one-sided exact P vs {design.p0:g}" if design else None,
        }
    )
    for name, v in results["posterior"].items():
        common = {"quantity": q, "side": "bayesian", "scenario": "report likelihood"}
        rows.append(
            {
                **common,
                "method": f"exact posterior mean, prior '{name}'",
                "estimate": v["mean"],
                "ci_low": v["ci95"][0],
                "ci_high": v["ci95"][1],
                "interval": f"{level} equal-tailed credible",
                "probability": v["p_above_p0"],
                "probability_label": f"P(rate > {design.p0:g})" if design else None,
            }
        )
        rows.append(
            {
                **common,
                "method": f"exact posterior mean, prior '{name}'",
                "estimate": v["mean"],
                "ci_low": v["hdi95"][0],
                "ci_high": v["hdi95"][1],
                "interval": f"{level} HDI",
                "probability": v["p_above_p1"],
                "probability_label": f"P(rate > {design.p1:g})" if design else None,
            }
        )
        m = v["mcmc"]
        rows.append(
            {
                **common,
                "method": f"MCMC check (posterior mean), prior '{name}'",
                "estimate": m["mean"],
                "ci_low": m["ci95"][0],
                "ci_high": m["ci95"][1],
                "interval": f"{level} equal-tailed credible (MCMC)",
            }
        )
    return rows


def _reported(rate: Rate, enrolled: int, report: RateReport) -> dict[str, Any]:
    def val(v: Any) -> Any:
        return None if isinstance(v, str) else v.value

    est, ci = rate.estimate_percent, rate.ci_percent
    return {
        "estimate": None if est == "not reported" else est.value / 100,
        "ci95": None if ci == "not reported" else [v / 100 for v in ci.value],
        "ci_level": rate.ci_level,
        "source": None if est == "not reported" else est.source,
        "ci_source": None if ci == "not reported" else ci.source,
        "responders": val(rate.responders),
        "evaluable": val(rate.evaluable),
        "max_evaluable": val(rate.max_evaluable),
        "enrolled": enrolled,
        "ci_method": val(rate.ci_method),
        "rounding": rate.rounding,
        "estimate_percent": None if est == "not reported" else est.value,
        "ci_percent": None if ci == "not reported" else list(ci.value),
        "decimals": report.estimate_printed[1],
        "ci_decimals": report.ci_printed[0][1] if report.ci_printed else None,
    }


def analyse_rate(
    loaded: LoadedTrial,
    key: str,
    *,
    seed: int,
    allow_failed: bool = False,
    settings: SamplerSettings | None = None,
) -> EndpointResult:
    """Reanalyse the rate ``rates.<key>`` of a trial: exact posteriors under every prior, the
    MCMC check of each, the frequentist side, the design (when known) and the sensitivity rows.

    Raises:
        InputError: the key names no rate, or no count reproduces the printed estimate.
        DiagnosticsError: an MCMC check failed its gates after a retry (unless ``allow_failed``).
    """
    trial = loaded.trial
    if key not in trial.rates:
        raise InputError(loaded.path, "rates", f"no rate {key!r} (have {sorted(trial.rates)})")
    rate = trial.rates[key]
    enrolled = trial.enrolled.value
    design = rate_design(trial, key)
    priors = with_primary(rate_priors_of(trial, key), loaded.chosen_prior("rate", key))
    primary = primary_name(priors)
    cands = candidates_of(loaded, key)
    level = rate.ci_level
    posts = {name: exact_posterior_of(cands, prior) for name, prior in priors.items()}

    posterior, diagnostics, idatas = _exact_with_mcmc_checks(
        key, cands, priors, posts, design, seed, allow_failed, settings
    )
    fit_diag = {name: diag.summary() for name, diag in zip(priors, diagnostics, strict=True)}

    records = _candidate_records(posts[primary], level)
    best = records[0]
    frequentist = _frequentist(records, design, level)
    dropout_assumption = rate.assumptions.dropout_allowance
    results: dict[str, Any] = {
        "label": rate.label,
        "definition": rate.definition,
        "primary_endpoint": rate.primary or trial.primary_rate == key,
        "reported": _reported(rate, enrolled, cands.report),
        "design": {
            "known": design is not None,
            "p0": design.p0 if design else None,
            "p1": design.p1 if design else None,
            "source": design.source if design else None,
        },
        "p0": design.p0 if design else None,
        "p1": design.p1 if design else None,
        "reconstruction": _reconstruction(cands, best, records, dropout_assumption),
        "frequentist": frequentist,
        "primary_prior": primary,
        "priors": _priors_entry(priors),
        "posterior": posterior,
        "diagnostics": fit_diag,
    }
    sens = _sensitivity(loaded, key, cands, priors, primary, design, posts)
    results["sensitivity"] = sens
    tables = {f"{key}_candidates": _candidates_table(records)}
    csv_only = set()
    if len(records) > MAX_CANDIDATES_IN_REPORT:
        csv_only.add(f"{key}_candidates")
    if design is not None:
        rows = design_rows(simon_table(design.p0, design.p1), best["responders"], best["evaluable"])
        results["two_stage_designs"] = rows
        tables[f"{key}_designs"] = design_table(rows, f"{best['responders']}/{best['evaluable']}")
    exact_primary = posts[primary].posterior
    results["followup_basis"] = {
        "draws": FOLLOWUP_DRAWS,
        "method": "stratified quantiles of the exact posterior mixture (primary prior)",
        "analysis_prior": primary,
        "analysis_prior_ess": results["priors"][primary]["ess"],
    }
    return EndpointResult(
        name=key,
        title=rate.label + (" (primary endpoint)" if results["primary_endpoint"] else ""),
        results=results,
        comparison=comparison_frame(_comparison_rows(rate, results, design)),
        sensitivity=_sensitivity_frame(sens, rate.label, design),
        posteriors=idatas,
        diagnostics=diagnostics,
        tables=tables,
        csv_only=frozenset(csv_only),
        primary_posterior=f"{key}_{primary}",
        primary_draws={key: {"rate": mixture_quantile_draws(exact_primary)}},
        analysis_priors={key: {k: results["priors"][primary][k] for k in ("family", "parameters")}},
    )


def _exact_with_mcmc_checks(
    key: str,
    cands: Any,
    priors: dict[str, PriorScenario],
    posts: dict[str, Any],
    design: RateDesign | None,
    seed: int,
    allow_failed: bool,
    settings: SamplerSettings | None,
) -> tuple[dict[str, dict[str, Any]], list[FitDiagnostics], dict[str, az.InferenceData]]:
    """Per prior: the exact summary with its MCMC check beside it (one gated fit each), the
    fits' diagnostics in prior order, and the InferenceData by file stem."""
    x, n, w = cands.arrays
    size = padded_size(x.size)
    compiled = compiled_model(size)
    posterior: dict[str, dict[str, Any]] = {}
    diagnostics: list[FitDiagnostics] = []
    idatas: dict[str, az.InferenceData] = {}
    for name, prior in priors.items():
        summary = exact_summary(posts[name], design)
        idata, diag = fit_with_gates(
            compiled,
            model_data(x.astype(int), n.astype(int), prior, w, size),
            seed=derive_seed(seed, "rate", key, name),
            label=f"{key}, prior {name}",
            settings=settings,
            allow_failed=allow_failed,
        )
        summary["mcmc"] = mcmc_check(idata, posts[name].posterior)
        posterior[name] = summary
        diagnostics.append(diag)
        idatas[f"{key}_{name}"] = idata
    return posterior, diagnostics, idatas


def _reconstruction(
    cands: Any, best: dict[str, Any], records: list[dict[str, Any]], dropout_declared: Any
) -> dict[str, Any]:
    """results.json ``reconstruction``: the most probable count, how the candidates were found
    and weighted (rounding rules, dropout, n and method priors), every candidate."""
    report: RateReport = cands.report
    return {
        "responders": best["responders"],
        "evaluable": best["evaluable"],
        "basis": cands.basis,
        "ci_reproduced": cands.ci_reproduced,
        "fallback": cands.basis == "estimate_fallback",
        "counts_reproduce_estimate": cands.counts_reproduce_estimate,
        "counts_reproduce_ci": cands.counts_reproduce_ci,
        "rounding_rules": list(report.rules),
        "dropout": report.dropout if report.evaluable is None else None,
        "dropout_declared": dropout_declared is not None,
        "evaluable_range": [min(cands.n_prior), max(cands.n_prior)],
        "n_prior": {str(k): v for k, v in cands.n_prior.items()},
        "method_prior": dict(cands.method_prior),
        "candidates": records,
    }


def _priors_entry(priors: dict[str, PriorScenario]) -> dict[str, Any]:
    """results.json ``priors`` of a rate: family, parameters, rationale, ESS (a + b), source."""
    return {
        name: {
            "family": s.family,
            "parameters": dict(s.parameters),
            "rationale": s.rationale,
            "ess": float(s.parameters["alpha"] + s.parameters["beta"]),
            "source": "trial file" if "trial file" in s.tags else "package",
            "primary": s.primary,
        }
        for name, s in priors.items()
    }


def _candidates_table(records: list[dict[str, Any]]) -> pd.DataFrame:
    """The candidate counts as a table: count, estimate, CI methods, rounding, weights."""
    return pd.DataFrame(
        [
            {
                "count": f"{r['responders']}/{r['evaluable']}",
                "estimate": r["estimate"],
                "CI methods": ", ".join(r["ci_methods"]) or "none (estimate only)",
                "rounding": ", ".join(r["rules"]),
                "prior weight": r["prior_weight"],
                "posterior weight": r["posterior_weight"],
            }
            for r in records
        ]
    )


__all__ = [
    "FOLLOWUP_DRAWS",
    "RateDesign",
    "analyse_rate",
    "candidates_of",
    "compiled_model",
    "exact_posterior_of",
    "exact_summary",
    "file_priors",
    "mcmc_check",
    "mixture_quantile_draws",
    "rate_design",
    "rate_priors_of",
    "tail_numbers",
]
