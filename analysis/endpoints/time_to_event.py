"""The PFS endpoint: Weibull posterior from the reported KM median and CI (DESIGN.md 4.2).

Every prior of :data:`models.time_to_event.PFS_PRIORS` is fitted under the primary assumptions, and
the
primary prior under every combination of the declared assumptions (CI transform x effective number
at risk x censoring range), all with one compiled model. Beside the posteriors: the maximum of the
summary likelihood (frequentist side), a posterior predictive check of the reported (L, M, U), and,
when the trial file points to patient data or a digitised curve, a right-censored Weibull fit of
those data with its maximum-likelihood counterpart.
"""

from __future__ import annotations

import itertools
import json
from functools import cache
from pathlib import Path
from typing import Any

import arviz as az
import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
from matplotlib.figure import Figure
from scipy import optimize

from trial_reanalysis.analysis.constants import INTERVAL_LEVEL, INTERVAL_TAILS
from trial_reanalysis.analysis.endpoints.base import (
    EndpointResult,
    comparison_frame,
    sensitivity_frame,
)
from trial_reanalysis.analysis.errors import InputError
from trial_reanalysis.analysis.frequentist.survival import (
    KaplanMeier,
    kaplan_meier,
    km_median_ci_batch,
    weibull_mle,
    weibull_survival,
)
from trial_reanalysis.analysis.inference.diagnostics import FitDiagnostics, fit_with_gates
from trial_reanalysis.analysis.inference.fitting import CompiledModel, derive_seed
from trial_reanalysis.analysis.studies.pfs_calibration import dirichlet_alpha, simulate_trials
from trial_reanalysis.analysis.studies.pfs_validation import STUDY_FILE
from trial_reanalysis.analysis.trials.load import LoadedTrial
from trial_reanalysis.analysis.trials.validation import pfs_patient_data
from trial_reanalysis.models.priors import primary
from trial_reanalysis.models.time_to_event import (
    MEDIAN,
    PATIENT_DATA_KEYS,
    PFS_PRIORS,
    SHAPE,
    build_patient_model,
    build_summary_model,
    patient_data,
    prior_data,
    summary_data,
    summary_loglik,
)

SURVIVAL_TIMES = (3, 6, 12)  # months
PPC_DRAWS = 400
PERCENT = f"{INTERVAL_LEVEL:.0%}"


def _scenario_label(transform: str, n: int, censoring: tuple[float, float]) -> str:
    return f"{transform}, n={n}, censored {censoring[0]:.0%}-{censoring[1]:.0%}"


def _assumption_sets(loaded: LoadedTrial) -> dict[str, Any]:
    """Defaults and sweeps of the three PFS assumptions (a reported transform is not swept)."""
    trial = loaded.trial
    a = trial.assumptions
    pfs = trial.pfs
    if pfs.ci_transform != "unknown":
        transform = {"default": pfs.ci_transform.value, "sweep": [pfs.ci_transform.value]}
    elif a.pfs_ci_transform is not None:
        transform = {"default": a.pfs_ci_transform.default, "sweep": list(a.pfs_ci_transform.sweep)}
    else:
        transform = {"default": "log", "sweep": ["log"]}
    n_default = trial.enrolled.value
    n = (
        {"default": a.pfs_n_at_risk.default, "sweep": list(a.pfs_n_at_risk.sweep)}
        if a.pfs_n_at_risk is not None
        else {"default": n_default, "sweep": [n_default]}
    )
    if pfs.events != "unknown" and pfs.censored != "unknown":
        frac = pfs.censored.value / (pfs.events.value + pfs.censored.value)
        cens = {"default": (frac, frac), "sweep": [(frac, frac)]}
    elif a.pfs_censoring_fraction is not None:
        cens = {
            "default": tuple(a.pfs_censoring_fraction.default),
            "sweep": [tuple(c) for c in a.pfs_censoring_fraction.sweep],
        }
    else:
        cens = {"default": (0.0, 0.2), "sweep": [(0.0, 0.2)]}
    return {"transform": transform, "n_at_risk": n, "censoring": cens}


def _interval(draws: np.ndarray) -> list[float]:
    return [float(x) for x in np.quantile(draws, INTERVAL_TAILS)]


def posterior_summary(idata: az.InferenceData) -> dict[str, Any]:
    """results.json posterior entry: median_months, shape, survival_at (3, 6, 12 months)."""
    m = idata.posterior[MEDIAN].values.reshape(-1)
    k = idata.posterior[SHAPE].values.reshape(-1)
    out: dict[str, Any] = {}
    for key, draws in (("median_months", m), ("shape", k)):
        out[key] = {
            "mean": float(draws.mean()),
            "median": float(np.median(draws)),
            "ci95": _interval(draws),
        }
    out["survival_at"] = {}
    for t in SURVIVAL_TIMES:
        s = weibull_survival(t, m, k)
        out["survival_at"][str(t)] = {"mean": float(s.mean()), "ci95": _interval(s)}
    out["p_shape_above_1"] = float(np.mean(k > 1))
    out["sd_log_shape"] = float(np.std(np.log(k)))
    return out


def summary_ml(
    median: float, lower: float, upper: float | None, alpha: np.ndarray
) -> dict[str, float]:
    """Maximum of the summary (Dirichlet) likelihood over (median, shape) (scipy Nelder-Mead)."""
    x = [lower, median, upper if upper is not None else 2 * median]

    def nll(theta: np.ndarray) -> float:
        val = summary_loglik(np.exp(theta[0]), np.exp(theta[1]), x, alpha, upper is not None)
        return -float(val) if np.isfinite(val) else 1e300

    res = optimize.minimize(
        nll,
        np.array([np.log(median), 0.0]),
        method="Nelder-Mead",
        options={"xatol": 1e-9, "fatol": 1e-12, "maxiter": 4000},
    )
    m, k = np.exp(res.x)
    return {
        "median": float(m),
        "shape": float(k),
        "scale": float(m / np.log(2) ** (1 / k)),
        "loglik": float(-res.fun),
    }


def posterior_predictive_check(
    idata: az.InferenceData,
    reported: tuple[float, float, float | None],
    *,
    n: int,
    transform: str,
    censoring: tuple[float, float],
    seed: int,
    draws: int = PPC_DRAWS,
) -> dict[str, Any]:
    """Where the reported (M, L, U) fall in their posterior predictive distribution.

    Simulates one trial per posterior draw (n patients, censoring as assumed), computes its KM
    median and CI with the assumed transform, and returns P(simulated <= reported) per quantity.
    """
    rng = np.random.default_rng(seed)
    m = idata.posterior[MEDIAN].values.reshape(-1)
    k = idata.posterior[SHAPE].values.reshape(-1)
    pick = rng.choice(m.size, size=min(draws, m.size), replace=False)
    time, event = simulate_trials(rng, pick.size, n, m[pick], k[pick], censoring, fast_rates=True)
    sim = km_median_ci_batch(time, event, transform)
    out: dict[str, Any] = {"draws": int(pick.size), "transform": transform}
    for j, (name, value) in enumerate(zip(("median", "lower", "upper"), reported, strict=True)):
        col = sim[:, j]
        defined = np.isfinite(col)
        entry: dict[str, Any] = {"reported": value, "share_defined": float(defined.mean())}
        if value is not None and defined.any():
            entry["p_simulated_at_most_reported"] = float(np.mean(col[defined] <= value))
            entry["predictive_ci95"] = _interval(col[defined])
        out[name] = entry
    return out


def _load_patient_data(loaded: LoadedTrial) -> tuple[pd.DataFrame, str] | None:
    """Patient-level or reconstructed (Guyot) data named by the trial file, if any (read and
    checked by :func:`analysis.trials.validation.pfs_patient_data`, as ``load_trial`` does)."""
    found = pfs_patient_data(loaded.trial, Path(loaded.path).parent)
    return None if found is None else (found[0], found[1])


def check_patient_events(event: pd.Series | np.ndarray, path: Path | str) -> None:
    """Raise InputError (naming ``path`` and the field ``event``) when no patient has an event.

    With every patient censored the Weibull likelihood keeps rising as the scale grows: the
    shape and scale are not identified (the maximum-likelihood search overflows and any
    posterior is the prior's). The trial-file validation layer can call this on the CSV it
    reads, so ``validate`` and ``run`` agree.
    """
    if int(np.sum(np.asarray(event) == 1)) == 0:
        raise InputError(
            path,
            "event",
            "no events: every patient is censored, so the Weibull shape and scale are not "
            "identified from these data (remove patient_data to analyse the reported median "
            "and CI alone)",
        )


def weibull_mle_censored(time: np.ndarray, event: np.ndarray) -> dict[str, float]:
    """Weibull maximum likelihood of patient data with events at time 0 (months).

    Same convention as :func:`models.time_to_event.patient_data`: events at 0 are interval-censored
    in
    (0, t1] (t1 the smallest positive time), patients censored at 0 are left out, so
    log L = sum_events log f(t) + sum_censored log S(t) + sum_at_0 log F(t1). Without time-0
    rows this is :func:`analysis.frequentist.survival.weibull_mle`. Returns {shape, scale, median,
    loglik}.
    """
    data = patient_data(time, event)
    if data["events_at_zero"] == 0 and data["censored_at_zero_dropped"] == 0:
        return weibull_mle(np.asarray(time, dtype=float), np.asarray(event, dtype=float))
    t = data["pfs_time"]
    exact = np.isinf(data["pfs_censor_at"]) & np.isinf(data["pfs_left_censor_at"])
    right = np.isfinite(data["pfs_censor_at"])
    left = np.isfinite(data["pfs_left_censor_at"])
    log_t = np.log(t)

    def nll(theta: np.ndarray) -> float:
        log_k, log_lam = theta
        k = np.exp(log_k)
        h = np.exp((log_t - log_lam) * k)  # cumulative hazard (t / lambda)^k
        ll = np.sum(log_k - log_lam + (k - 1) * (log_t[exact] - log_lam) - h[exact])
        ll += -np.sum(h[right]) + np.sum(np.log(-np.expm1(-h[left])))
        return -float(ll) if np.isfinite(ll) else 1e300

    start = np.array([0.0, float(np.log(np.mean(t)))])
    res = optimize.minimize(
        nll, start, method="Nelder-Mead", options={"xatol": 1e-10, "fatol": 1e-12, "maxiter": 5000}
    )
    k, lam = float(np.exp(res.x[0])), float(np.exp(res.x[1]))
    return {"shape": k, "scale": lam, "median": lam * np.log(2.0) ** (1 / k), "loglik": -res.fun}


def _stored_validation() -> dict[str, Any] | None:
    if not STUDY_FILE.exists():
        return None
    doc = json.loads(STUDY_FILE.read_text())
    return {
        "pooled_coverage95": doc["pooled_coverage95"],
        "sbc_p_values": {v: doc["sbc"][v]["p_value"] for v in (MEDIAN, SHAPE) if doc["sbc"].get(v)},
        "replicates": sum(s["replicates"] for s in doc["coverage"]),
        "sbc_replicates": doc["sbc"]["replicates"],
        "date": doc["provenance"]["date"],
    }


@cache
def compiled_summary_model() -> CompiledModel:
    """The summary model compiled once per process (placeholder data: every fit swaps its own)."""
    alpha, _, _ = dirichlet_alpha(48, "log", (0.0, 0.2))
    return CompiledModel(build_summary_model(4.4, 3.6, 5.9, alpha), name="pfs_summary")


def compile_models(loaded: LoadedTrial | None = None) -> dict[str, CompiledModel]:
    """The compiled models of the endpoint, keyed as ``analyse_pfs(compiled=...)`` expects."""
    return {"pfs_summary": compiled_summary_model()}


def analyse_pfs(
    loaded: LoadedTrial,
    *,
    seed: int,
    allow_failed: bool = False,
    compiled: dict[str, CompiledModel] | None = None,
) -> EndpointResult:
    """Fit the PFS models of a trial and assemble its results, tables, figures and sentences."""
    pfs = loaded.trial.pfs
    if pfs is None:
        raise InputError(loaded.path, "pfs", "the trial file has no [pfs] table")
    compiled = compiled if compiled is not None else {}
    if "pfs_summary" not in compiled:
        compiled.update(compile_models(loaded))
    model = compiled["pfs_summary"]
    # Patient data are read (and checked) before any fit, so a bad file fails at once.
    patient = _load_patient_data(loaded)
    median = pfs.median_months.value
    lower, upper = pfs.ci95_months.value
    reported = (median, lower, upper)
    sets = _assumption_sets(loaded)
    prim = (
        sets["transform"]["default"],
        int(sets["n_at_risk"]["default"]),
        tuple(sets["censoring"]["default"]),
    )
    primary_prior = primary(PFS_PRIORS)

    fits: dict[str, az.InferenceData] = {}
    diags: list[FitDiagnostics] = []
    calibration: dict[str, Any] = {}
    posterior: dict[str, Any] = {}
    diagnostics: dict[str, Any] = {}
    scenarios: dict[str, Any] = {}

    def fit(prior_name: str, scen: tuple[str, int, tuple[float, float]]) -> az.InferenceData:
        transform, n, cens = scen
        alpha, entry, origin = dirichlet_alpha(n, transform, cens)
        slabel = _scenario_label(transform, n, cens)
        calibration[slabel] = {"alpha": alpha.tolist(), "alpha0": entry["alpha0"], "origin": origin}
        data = summary_data(median, lower, upper, alpha)
        data.update(prior_data(PFS_PRIORS[prior_name]))
        label = f"summary|{prior_name}|{slabel}"
        idata, diag = fit_with_gates(
            model,
            data,
            seed=derive_seed(seed, "pfs", label),
            label=label,
            allow_failed=allow_failed,
        )
        fits[label] = idata
        diags.append(diag)
        return idata

    primary_label = _scenario_label(*prim)
    for name in PFS_PRIORS:
        idata = fit(name, prim)
        posterior[name] = posterior_summary(idata)
        diagnostics[name] = diags[-1].summary()
    sweep = list(
        itertools.product(
            sets["transform"]["sweep"], sets["n_at_risk"]["sweep"], sets["censoring"]["sweep"]
        )
    )
    for transform, n, cens in sweep:
        scen = (transform, int(n), tuple(cens))
        label = _scenario_label(*scen)
        if scen == prim:
            idata = fits[f"summary|{primary_prior.name}|{label}"]
            summ, diag = posterior[primary_prior.name], diagnostics[primary_prior.name]
        else:
            idata = fit(primary_prior.name, scen)
            summ, diag = posterior_summary(idata), diags[-1].summary()
        scenarios[label] = {
            "transform": transform,
            "n_at_risk": int(n),
            "censoring": list(cens),
            "primary": scen == prim,
            "posterior": summ,
            "diagnostics": diag,
        }

    primary_fit = fits[f"summary|{primary_prior.name}|{primary_label}"]
    alpha_primary = np.asarray(calibration[primary_label]["alpha"])
    ml = summary_ml(median, lower, upper, alpha_primary)
    ppc = posterior_predictive_check(
        primary_fit,
        reported,
        n=prim[1],
        transform=prim[0],
        censoring=prim[2],
        seed=derive_seed(seed, "pfs", "ppc"),
    )

    patient_results: dict[str, Any] | None = None
    km: KaplanMeier | None = None
    if patient is not None:
        ipd, origin = patient
        km = kaplan_meier(ipd["time"].to_numpy(), ipd["event"].to_numpy())
        pdata = patient_data(ipd["time"].to_numpy(float), ipd["event"].to_numpy())
        if "pfs_patient" not in compiled:
            compiled["pfs_patient"] = CompiledModel(
                build_patient_model(ipd["time"], ipd["event"]), name="pfs_patient"
            )
        patient_results = {
            "origin": origin,
            "patients": len(ipd),
            "events": int(ipd["event"].sum()),
            "events_at_time_zero": pdata["events_at_zero"],
            "censored_at_time_zero_left_out": pdata["censored_at_zero_dropped"],
            "first_assessment": pdata["first_assessment"],
            "km_median_ci95": list(km.median_ci(prim[0])),
            "mle": weibull_mle_censored(ipd["time"].to_numpy(float), ipd["event"].to_numpy()),
            "posterior": {},
            "diagnostics": {},
        }
        for name, prior in PFS_PRIORS.items():
            label = f"patient|{name}"
            idata, diag = fit_with_gates(
                compiled["pfs_patient"],
                {**{k: pdata[k] for k in PATIENT_DATA_KEYS}, **prior_data(prior)},
                seed=derive_seed(seed, "pfs", label),
                label=label,
                allow_failed=allow_failed,
            )
            fits[label] = idata
            diags.append(diag)
            patient_results["posterior"][name] = posterior_summary(idata)
            patient_results["diagnostics"][name] = diag.summary()

    validation = _stored_validation()
    results: dict[str, Any] = {
        "reported": {"median": median, "ci95": [lower, upper]},
        "primary_prior": primary_prior.name,
        "posterior": posterior,
        "diagnostics": diagnostics,
        "primary_assumptions": {
            "transform": prim[0],
            "n_at_risk": prim[1],
            "censoring": list(prim[2]),
        },
        "scenarios": scenarios,
        "calibration": calibration,
        "frequentist": {
            "reported_km": {
                "median": median,
                "ci95": [lower, upper],
                "method": "Kaplan-Meier median, Brookmeyer-Crowley CI (as published)",
            },
            "summary_ml": ml,
        },
        "posterior_predictive": ppc,
        "validation": validation,
        "parametrisation": "S(t) = exp(-(t/lambda)^k); median = lambda (ln 2)^(1/k); months",
    }
    if patient_results is not None:
        results["patient_data"] = patient_results

    comparison = _comparison(reported, ml, posterior, primary_label, patient_results)
    sensitivity = _sensitivity(scenarios, posterior, primary_prior.name, primary_label)
    figures = {
        "pfs_survival": plot_survival(primary_fit, reported, km=km),
        "pfs_forest": plot_forest(posterior, scenarios, primary_label),
    }
    sentences = _sentences(reported, posterior, primary_prior.name, ml, ppc, validation, scenarios)
    assumptions = _assumption_sentences(sets, prim, calibration[primary_label])
    if patient_results is not None:
        assumptions.append(
            "Patient data: the Weibull is fitted with right censoring; an event recorded at time "
            "0 happened before the first assessment and is interval-censored in (0, "
            f"{patient_results['first_assessment']:.3g}] (the smallest positive time in the "
            f"data; {patient_results['events_at_time_zero']} such events); patients censored at "
            f"time 0 carry no information and are left out "
            f"({patient_results['censored_at_time_zero_left_out']})."
        )
    return EndpointResult(
        name="pfs",
        title="Progression-free survival",
        results=results,
        comparison=comparison,
        sensitivity=sensitivity,
        figures=figures,
        posteriors={_file_stem(k): v for k, v in fits.items()},
        diagnostics=diags,
        sentences=sentences,
        assumptions=assumptions,
        primary_posterior=_file_stem(f"summary|{primary_prior.name}|{primary_label}"),
        primary_draws={
            "pfs": {var: primary_fit.posterior[var].values.ravel() for var in (MEDIAN, SHAPE)}
        },
    )


def _file_stem(label: str) -> str:
    """A fit label as a file name (posteriors/<stem>.nc)."""
    return label.replace("|", "__").replace(" ", "").replace(",", "_").replace("%", "pct")


def _comparison(reported, ml, posterior, primary_label, patient) -> pd.DataFrame:
    median, lower, upper = reported
    rows: list[dict[str, Any]] = [
        {
            "quantity": "median PFS (months)",
            "side": "reported",
            "method": "Kaplan-Meier median, Brookmeyer-Crowley CI",
            "scenario": "published",
            "estimate": median,
            "ci_low": lower,
            "ci_high": upper,
            "interval": "95% CI",
        },
        {
            "quantity": "median PFS (months)",
            "side": "frequentist",
            "method": "maximum of the summary (Dirichlet) likelihood",
            "scenario": primary_label,
            "estimate": ml["median"],
        },
        {
            "quantity": "Weibull shape",
            "side": "frequentist",
            "method": "maximum of the summary (Dirichlet) likelihood",
            "scenario": primary_label,
            "estimate": ml["shape"],
        },
    ]
    for name, post in posterior.items():
        for quantity, key in (("median PFS (months)", "median_months"), ("Weibull shape", "shape")):
            row = {
                "quantity": quantity,
                "side": "bayesian",
                "method": f"posterior, prior '{name}'",
                "scenario": primary_label,
                "estimate": post[key]["median"],
                "ci_low": post[key]["ci95"][0],
                "ci_high": post[key]["ci95"][1],
                "interval": f"{PERCENT} equal-tailed credible",
            }
            if key == "shape":
                row.update(probability=post["p_shape_above_1"], probability_label="P(k > 1)")
            rows.append(row)
    if patient is not None:
        rows.append(
            {
                "quantity": "median PFS (months)",
                "side": "frequentist",
                "method": "Weibull maximum likelihood, patient data",
                "scenario": patient["origin"],
                "estimate": patient["mle"]["median"],
            }
        )
        rows.append(
            {
                "quantity": "Weibull shape",
                "side": "frequentist",
                "method": "Weibull maximum likelihood, patient data",
                "scenario": patient["origin"],
                "estimate": patient["mle"]["shape"],
            }
        )
    return comparison_frame(rows)


def _sensitivity(scenarios, posterior, primary_name, primary_label) -> pd.DataFrame:
    rows = []
    for name, post in posterior.items():
        for quantity, key in (("median_pfs", "median_months"), ("weibull_shape", "shape")):
            rows.append(
                {
                    "quantity": quantity,
                    "prior": name,
                    "assumption": "prior",
                    "scenario": f"{name}; {primary_label}",
                    "primary": name == primary_name,
                    "estimate": post[key]["median"],
                    "ci_low": post[key]["ci95"][0],
                    "ci_high": post[key]["ci95"][1],
                }
            )
    for label, sc in scenarios.items():
        for quantity, key in (("median_pfs", "median_months"), ("weibull_shape", "shape")):
            p = sc["posterior"][key]
            rows.append(
                {
                    "quantity": quantity,
                    "prior": primary_name,
                    "assumption": "ci_transform x n_at_risk x censoring",
                    "scenario": label,
                    "primary": sc["primary"],
                    "estimate": p["median"],
                    "ci_low": p["ci95"][0],
                    "ci_high": p["ci95"][1],
                }
            )
            if key == "shape":
                rows[-1].update(
                    probability=sc["posterior"]["p_shape_above_1"], probability_label="P(k > 1)"
                )
    return sensitivity_frame(rows)


def plot_survival(
    idata: az.InferenceData,
    reported: tuple[float, float, float | None],
    *,
    km: KaplanMeier | None = None,
    ax: plt.Axes | None = None,
) -> Figure:
    """Posterior Weibull survival (median and 95 % band), reported median and CI, KM if given."""
    if ax is None:
        fig, ax = plt.subplots(figsize=(6.5, 4.2))
    else:
        fig = ax.figure
    m = idata.posterior[MEDIAN].values.reshape(-1)
    k = idata.posterior[SHAPE].values.reshape(-1)
    t = np.linspace(0, max(18.0, 3 * np.median(m)), 200)
    surv = weibull_survival(t[:, None], m[None, :], k[None, :])
    lo, mid, hi = np.quantile(surv, [INTERVAL_TAILS[0], 0.5, INTERVAL_TAILS[1]], axis=1)
    ax.fill_between(t, lo, hi, alpha=0.3, color="C0", label=f"Weibull, {PERCENT} credible band")
    ax.plot(t, mid, color="C0", label="Weibull, posterior median")
    med, low, up = reported
    ax.errorbar(
        [med],
        [0.5],
        xerr=[[med - low], [(up - med) if up else 0]],
        fmt="o",
        color="C3",
        capsize=4,
        label=f"reported median, {PERCENT} CI",
    )
    if km is not None:
        ax.step(
            np.r_[0, km.time],
            np.r_[1, km.survival],
            where="post",
            color="k",
            lw=1,
            label="Kaplan-Meier (patient data)",
        )
    ax.set_xlabel("months")
    ax.set_ylabel("progression-free survival")
    ax.set_ylim(0, 1.02)
    ax.legend(fontsize=8)
    fig.tight_layout()
    return fig


def plot_forest(posterior, scenarios, primary_label, ax=None) -> Figure:
    """Posterior median and 95 % interval of median PFS and shape, per prior and per scenario."""
    rows = [(f"prior {n}", p) for n, p in posterior.items()]
    rows += [(label, sc["posterior"]) for label, sc in scenarios.items() if not sc["primary"]]
    if ax is None:
        fig, axes = plt.subplots(1, 2, figsize=(9, 0.28 * len(rows) + 1.4), sharey=True)
    else:
        fig, axes = ax.figure, ax
    y = np.arange(len(rows))[::-1]
    for axis, key, title in (
        (axes[0], "median_months", "median PFS (months)"),
        (axes[1], "shape", "Weibull shape k"),
    ):
        for yi, (_, p) in zip(y, rows, strict=True):
            axis.plot(p[key]["ci95"], [yi, yi], color="C0")
            axis.plot(p[key]["median"], yi, "o", color="C0", ms=4)
        axis.set_title(title, fontsize=9)
    axes[1].axvline(1.0, color="grey", ls=":", lw=1)
    axes[0].set_yticks(y, [r[0] for r in rows], fontsize=7)
    fig.suptitle(f"primary assumptions: {primary_label}", fontsize=8)
    fig.tight_layout()
    return fig


def _sentences(reported, posterior, primary_name, ml, ppc, validation, scenarios) -> list[str]:
    p = posterior[primary_name]
    prior = PFS_PRIORS[primary_name].parameters
    med, lo, hi = reported
    out = [
        f"From the published median PFS of {med} months ({PERCENT} CI {lo}-"
        f"{'not estimable' if hi is None else hi}) alone, the Weibull"
        f" posterior median PFS is {p['median_months']['median']:.1f} months ({PERCENT} credible "
        f"interval {p['median_months']['ci95'][0]:.1f}-{p['median_months']['ci95'][1]:.1f}) under "
        f"the '{primary_name}' prior.",
        f"The Weibull shape is {p['shape']['median']:.2f} ({p['shape']['ci95'][0]:.2f}-"
        f"{p['shape']['ci95'][1]:.2f}); P(k > 1, a rising hazard) = {p['p_shape_above_1']:.2f}. "
        f"The width of the CI carries real but weak information about the shape: the sd of log k "
        f"falls from {prior['log_shape_sd']:.2f} (prior) to {p['sd_log_shape']:.2f} (posterior).",
        f"Estimated PFS at 6 months: {p['survival_at']['6']['mean']:.0%} "
        f"({p['survival_at']['6']['ci95'][0]:.0%}-{p['survival_at']['6']['ci95'][1]:.0%}); at 12 "
        f"months: {p['survival_at']['12']['mean']:.0%} "
        f"({p['survival_at']['12']['ci95'][0]:.0%}-{p['survival_at']['12']['ci95'][1]:.0%}).",
        f"The summary likelihood is maximal at median {ml['median']:.2f} months and shape "
        f"{ml['shape']:.2f} (frequentist counterpart; the published KM median is {med}).",
    ]
    parts = []
    for name in ("median", "lower", "upper"):
        e = ppc[name]
        if "p_simulated_at_most_reported" in e:
            parts.append(
                f"{name} {e['reported']} at predictive quantile "
                f"{e['p_simulated_at_most_reported']:.2f}"
            )
    out.append(
        "Posterior predictive check (trials simulated from the posterior, KM median and CI "
        "recomputed): reported " + "; ".join(parts) + " (values near 0 or 1 would signal "
        "misfit)."
    )
    meds = [sc["posterior"]["median_months"]["median"] for sc in scenarios.values()]
    shapes = [sc["posterior"]["shape"]["median"] for sc in scenarios.values()]
    out.append(
        f"Across the {len(scenarios)} assumption scenarios the posterior median PFS ranges "
        f"{min(meds):.1f}-{max(meds):.1f} months and the shape {min(shapes):.2f}-"
        f"{max(shapes):.2f}."
    )
    if validation is not None:
        cov = validation["pooled_coverage95"]
        sbc = validation["sbc_p_values"]
        out.append(
            f"How well the approximation holds (simulation study, {validation['replicates']} "
            f"simulated trials of n = 48): {PERCENT} intervals covered the true median in "
            f"{cov[MEDIAN]:.0%} and the true shape in {cov[SHAPE]:.0%} of trials; SBC over "
            f"{validation['sbc_replicates']} replicates gave chi-square p = "
            f"{sbc.get(MEDIAN, 0):.2f} "
            f"(median) and {sbc.get(SHAPE, 0):.2f} (shape)."
        )
    else:
        out.append(
            "No stored validation study was found (run python -m "
            "trial_reanalysis.analysis.studies.pfs_validation)."
        )
    return out


def _assumption_sentences(sets, prim, cal) -> list[str]:
    transform, n, cens = prim
    return [
        f"The CI of the median is assumed computed on the {transform} scale (Brookmeyer-Crowley); "
        f"swept over {', '.join(sets['transform']['sweep'])}.",
        f"The effective number at risk for PFS is assumed {n}; swept over "
        f"{', '.join(str(x) for x in sets['n_at_risk']['sweep'])}.",
        f"Censoring is assumed to affect {cens[0]:.0%}-{cens[1]:.0%} of patients (independent "
        f"random censoring); swept over "
        f"{', '.join(f'{a:.0%}-{b:.0%}' for a, b in sets['censoring']['sweep'])}.",
        f"PFS times follow a Weibull distribution; the reported (L, M, U) are treated as order "
        f"statistics with a Dirichlet likelihood calibrated by simulation (alpha0 = "
        f"{cal['alpha0']:.1f}, {cal['origin']}).",
    ]
