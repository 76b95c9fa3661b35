"""A time-to-event endpoint (PFS, OS, TTP, duration of response) of a trial file: Weibull posteriors
from what was printed (DESIGN.md 4.2 and 4.4). Computes only: the words and figures are made by
:mod:`analysis.report.time_to_event` from the numbers returned here.

Everything is in the endpoint's own unit (:func:`analysis.trials.checks.time_unit`). What is used:

- the **printed summary**: the KM median with two, one or no CI limits (the order-statistic
  Dirichlet likelihood of :mod:`models.time_to_event`, alpha from the stored calibration or
  computed on the fly, :mod:`analysis.inference.calibration`). A median **not reached** says that
  the KM curve stayed above one half up to the last follow-up. The last follow-up time is never
  printed; what is used is the printed median follow-up (the curve extends at least that far, so
  "not reached by then" is true, and weaker than the truth: the posterior is conservative). Without
  a median follow-up, the lower CI limit if printed (the statement then reduces to the limit's own
  density), else the median carries nothing usable and is left out (said in the warnings).
- **landmark rates** (a normal likelihood on the complementary log-log scale, se from the printed
  CI, else from the binomial variance with the n at risk);
- **events**: with the patients of the analysis they fix the censored fraction of the
  calibration (no sweep); the n at risk is ``patients`` when printed, else enrolled, unless the
  file declares an ``n_at_risk`` assumption;
- **patient data or a digitised curve** (:func:`analysis.trials.checks.time_to_event_data`):
  a right-censored Weibull fit of its own, checked against the printed median, events and
  enrolment (each gap becomes a warning).

The calibration needs at least ``MIN_PFS_N_AT_RISK`` (20) patients at risk: below, the summary is
not analysed (the result says so and why); landmarks and patient data of any n still are.

Every prior (the file's and the defaults, :func:`models.time_to_event.endpoint_priors`) is fitted
under the primary assumptions; the primary prior under every combination of the declared
assumptions (CI transform x n at risk x censoring range), all with one compiled model per summary
pattern and process.
"""

from __future__ import annotations

import itertools
import math
from dataclasses import dataclass, field
from functools import cache
from typing import Any

import arviz as az
import numpy as np
import pandas as pd
from scipy import optimize

from trial_reanalysis.analysis.constants import INTERVAL_TAILS
from trial_reanalysis.analysis.endpoints.base import (
    EndpointResult,
    comparison_frame,
    sensitivity_frame,
)
from trial_reanalysis.analysis.endpoints.summaries import interval
from trial_reanalysis.analysis.errors import InputError
from trial_reanalysis.analysis.frequentist.survival import (
    kaplan_meier,
    km_median_ci_batch,
    weibull_mle,
    weibull_survival,
)
from trial_reanalysis.analysis.inference.calibration import (
    dirichlet_alpha,
    simulate_trials,
    stored_validation,
)
from trial_reanalysis.analysis.inference.diagnostics import FitDiagnostics, fit_with_gates
from trial_reanalysis.analysis.inference.fitting import CompiledModel, SamplerSettings, derive_seed
from trial_reanalysis.analysis.inference.weibull_quadrature import (
    QuadratureError,
    weibull_posterior_by_quadrature,
)
from trial_reanalysis.analysis.reconstruction.curve_checks import check_against_report
from trial_reanalysis.analysis.trials.checks import time_to_event_data, time_unit
from trial_reanalysis.analysis.trials.load import LoadedTrial
from trial_reanalysis.analysis.trials.v2 import DAYS_PER_UNIT, TimeToEvent
from trial_reanalysis.analysis.trials.validation import (
    MAX_CENSORING_FRACTION,
    MIN_PFS_N_AT_RISK,
)
from trial_reanalysis.models.priors import PriorScenario, primary, with_primary
from trial_reanalysis.models.time_to_event import (
    LANDMARK_KEYS,
    MEDIAN,
    PATIENT_DATA_KEYS,
    SHAPE,
    build_patient_model,
    build_summary_model,
    endpoint_priors,
    landmark_data,
    patient_data,
    prior_data,
    reference_time,
    summary_data,
    summary_loglik,
    summary_pattern,
)

#: Survival is reported at these times (months) converted to the unit, when no landmark is printed.
DEFAULT_SURVIVAL_MONTHS = (3, 6, 12)
PPC_DRAWS = 400
#: The summary maximum likelihood is reported only when it lies inside these shapes (else the
#: shape is not identified by the summary and the maximum runs off).
ML_SHAPE_RANGE = (0.05, 30.0)
#: The sensitivity table's ``assumption`` of the assumption-sweep rows (exact posteriors).
SWEEP_ASSUMPTION = "ci_transform x n_at_risk x censoring (exact: quadrature)"
#: Placeholder summary of the model compiled for the tests' fixture (any pattern's data work).
_PLACEHOLDER = (4.4, 3.6, 5.9)


# ---------------------------------------------------------------------------------------------
# what the file says
# ---------------------------------------------------------------------------------------------


def _known(value: Any) -> Any:
    return None if isinstance(value, str) else value.value


def survival_times(tte: TimeToEvent, unit: str) -> list[float]:
    """Times (endpoint unit) at which survival is reported: the printed landmarks' times, else
    3, 6 and 12 months converted to the unit (rounded to 2 decimals)."""
    if tte.landmarks:
        return sorted({float(lm.time) for lm in tte.landmarks})
    per_month = DAYS_PER_UNIT["months"] / DAYS_PER_UNIT[unit]
    return [round(t * per_month, 2) for t in DEFAULT_SURVIVAL_MONTHS]


def time_key(t: float) -> str:
    """results.json key of a time: 6 -> "6", 13.04 -> "13.04"."""
    return f"{t:g}"


def assumption_sets(loaded: LoadedTrial, key: str) -> dict[str, Any]:
    """Defaults and sweeps of the three summary assumptions (CI transform, n at risk, censored
    fraction range). A printed transform is not swept; printed events fix the censored fraction
    (censored / (events + censored) when both are printed, else 1 - events / patients)."""
    trial = loaded.trial
    tte = trial.time_to_event[key]
    a = tte.assumptions
    if tte.ci_transform != "unknown":
        value = tte.ci_transform.value
        transform = {"default": value, "sweep": [value], "origin": "reported"}
    elif a.ci_transform is not None:
        transform = {"default": a.ci_transform.default, "sweep": list(a.ci_transform.sweep)}
        transform["origin"] = "assumed"
    else:
        transform = {"default": "log", "sweep": ["log"], "origin": "default (R survfit)"}
    patients = _known(tte.patients) or trial.enrolled.value
    if a.n_at_risk is not None:
        n = {"default": int(a.n_at_risk.default), "sweep": [int(v) for v in a.n_at_risk.sweep]}
        n["origin"] = "assumed"
    else:
        origin = "patients (reported)" if tte.patients != "unknown" else "enrolled"
        n = {"default": patients, "sweep": [patients], "origin": origin}
    events, censored = _known(tte.events), _known(tte.censored)
    if events is not None:
        if censored is not None and events + censored > 0:
            frac = censored / (events + censored)
            how = "censored / (events + censored), both reported"
        else:
            frac = 1 - events / patients
            how = f"1 - events / patients = 1 - {events}/{patients}"
        frac = float(min(max(frac, 0.0), MAX_CENSORING_FRACTION))
        cens = {"default": (frac, frac), "sweep": [(frac, frac)], "origin": f"from events: {how}"}
    elif a.censoring_fraction is not None:
        cens = {
            "default": tuple(float(c) for c in a.censoring_fraction.default),
            "sweep": [tuple(float(c) for c in s) for s in a.censoring_fraction.sweep],
            "origin": "assumed",
        }
    else:
        cens = {"default": (0.0, 0.2), "sweep": [(0.0, 0.2)], "origin": "default"}
    return {"transform": transform, "n_at_risk": n, "censoring": cens}


def scenario_label(transform: str, n: int, censoring: tuple[float, float]) -> str:
    """A summary scenario's label: "log, n=48, censored 0%-20%"."""
    return f"{transform}, n={n}, censored {censoring[0]:.0%}-{censoring[1]:.0%}"


def _printed_summary(tte: TimeToEvent, warnings: list[str]) -> dict[str, Any]:
    """The printed median, limits and follow-up, and the pattern the summary likelihood uses."""
    median_printed = tte.median != "not reported"
    reached = median_printed and tte.median.reached
    median = tte.median.value if reached else None
    lower = upper = None
    if tte.ci != "not reported":
        if math.isclose(tte.ci_level, 0.95):
            lower, upper = tte.ci.value
        else:
            warnings.append(
                f"the CI of the median is a {tte.ci_level:.0%} CI; the calibration is for 95 % "
                "CIs, so only the median is used"
            )
    followup = _known(tte.followup_median)
    out = {"median": median, "lower": lower, "upper": upper, "followup": followup}
    if not median_printed:
        out["pattern"] = ""
        return out
    if not reached and followup is None and lower is None:
        warnings.append(
            "the median was not reached, but neither the median follow-up nor a lower CI limit "
            "is printed: the time up to which survival stayed above one half is unknown, so the "
            "report carries nothing the model can use"
        )
        out["pattern"] = ""
        return out
    out["pattern"] = summary_pattern(lower, median, upper, followup)
    return out


# ---------------------------------------------------------------------------------------------
# compiled models and numbers
# ---------------------------------------------------------------------------------------------


def compiled_summary_model(pattern: str = "L,M,U") -> CompiledModel:
    """The summary model of one pattern, compiled once per process (placeholder data: every fit
    swaps its own)."""
    return _compiled_summary_model(pattern)


@cache
def _compiled_summary_model(pattern: str) -> CompiledModel:
    m, lo, hi = _PLACEHOLDER
    parts = pattern.split(",") if pattern else []
    data = summary_data(
        None if any(p.startswith(">") for p in parts) or (parts == ["L"]) else m,
        lo if "L" in parts else None,
        hi if "U" in parts else None,
        np.array([16.0, 6.0, 8.0, 14.0]),
        followup=2 * hi if ">F" in parts else None,
    )
    return CompiledModel(build_summary_model(pattern, data), name=f"time_to_event[{pattern}]")


def posterior_summary(idata: az.InferenceData, times: list[float]) -> dict[str, Any]:
    """results.json posterior entry: median and shape {mean, median, ci95}, survival_at each time
    {mean, ci95}, P(k > 1) and the sd of log k (all in the endpoint's unit)."""
    m = idata.posterior[MEDIAN].values.reshape(-1)
    k = idata.posterior[SHAPE].values.reshape(-1)
    out: dict[str, Any] = {}
    for name, draws in (("median", m), ("shape", k)):
        out[name] = {
            "mean": float(draws.mean()),
            "median": float(np.median(draws)),
            "ci95": interval(draws),
        }
    out["survival_at"] = {}
    for t in times:
        s = weibull_survival(t, m, k)
        out["survival_at"][time_key(t)] = {"mean": float(s.mean()), "ci95": interval(s)}
    out["p_shape_above_1"] = float(np.mean(k > 1))
    out["sd_log_shape"] = float(np.std(np.log(k)))
    return out


#: The MCMC check flags a prior when any |z| = |MCMC - exact| / MCSE reaches this (4, not the
#: rate's 3: each prior's check holds 10 z values with 3 survival times, so a limit of 3 would
#: flag a correct fit about once in 30 runs).
MCMC_Z_LIMIT = 4.0


def mcmc_check(
    idata: az.InferenceData, exact: dict[str, Any], times: list[float]
) -> dict[str, Any]:
    """The MCMC fit beside the exact (quadrature) posterior: its own summary
    (:func:`posterior_summary`) and z = (MCMC - exact) / MCSE of the mean, median and 2.5 / 97.5 %
    quantiles of the median and the shape and of the mean survival at each time (MCSE by ArviZ);
    ``within_limit`` when every |z| < :data:`MCMC_Z_LIMIT`."""
    summary = posterior_summary(idata, times)
    post = idata.posterior
    z: dict[str, Any] = {}
    for var, key in ((MEDIAN, "median"), (SHAPE, "shape")):
        one = post[[var]]
        se_mean = float(az.mcse(one, method="mean")[var])
        se_q = [float(az.mcse(one, method="quantile", prob=p)[var]) for p in (0.5, *INTERVAL_TAILS)]
        got = [summary[key]["median"], *summary[key]["ci95"]]
        want = [exact[key]["median"], *exact[key]["ci95"]]
        zq = [(a - b) / s for a, b, s in zip(got, want, se_q, strict=True)]
        z[key] = {
            "mean": (summary[key]["mean"] - exact[key]["mean"]) / se_mean,
            "median": zq[0],
            "ci95": zq[1:],
        }
    z["survival_at"] = {}
    for t in times:
        # S(t) = exp(-ln 2 (t/m)^k) per draw, kept with its (chain, draw) dims for the MCSE
        s = np.exp(-math.log(2.0) * (t / post[MEDIAN]) ** post[SHAPE]).rename("survival")
        s = s.to_dataset()
        se = float(az.mcse(s, method="mean")["survival"])
        key = time_key(t)
        z["survival_at"][key] = {
            "mean": (summary["survival_at"][key]["mean"] - exact["survival_at"][key]["mean"]) / se
        }
    flat = [
        abs(v) for k in ("median", "shape") for v in (z[k]["mean"], z[k]["median"], *z[k]["ci95"])
    ] + [abs(v["mean"]) for v in z["survival_at"].values()]
    return {
        "summary": summary,
        "z": z,
        "max_abs_z": float(max(flat)),
        "z_limit": MCMC_Z_LIMIT,
        "within_limit": bool(max(flat) < MCMC_Z_LIMIT),
        "draws": int(post[MEDIAN].size),
    }


def summary_ml(
    pattern: str, data: dict[str, Any], landmarks: dict[str, Any] | None, start_median: float
) -> dict[str, Any] | None:
    """Maximum of the summary (and landmark) likelihood over (median, shape) (Nelder-Mead on the
    logs); None when the maximum runs off (shape outside :data:`ML_SHAPE_RANGE`: the printed
    numbers do not identify the shape)."""

    def nll(theta: np.ndarray) -> float:
        val = float(summary_loglik(np.exp(theta[0]), np.exp(theta[1]), data, pattern, landmarks))
        return -val if np.isfinite(val) else 1e300

    res = optimize.minimize(
        nll,
        np.array([np.log(start_median), 0.0]),
        method="Nelder-Mead",
        options={"xatol": 1e-9, "fatol": 1e-12, "maxiter": 4000},
    )
    m, k = (float(v) for v in np.exp(res.x))
    if not ML_SHAPE_RANGE[0] < k < ML_SHAPE_RANGE[1]:
        return None
    scale = m / math.log(2) ** (1 / k)
    return {"median": m, "shape": k, "scale": scale, "loglik": float(-res.fun)}


def posterior_predictive_check(
    idata: az.InferenceData,
    reported: tuple[float, float | None, float | None],
    *,
    n: int,
    transform: str,
    censoring: tuple[float, float],
    seed: int,
    draws: int = PPC_DRAWS,
) -> dict[str, Any]:
    """Where the reported (M, L, U) fall in their posterior predictive distribution.

    Simulates one trial per posterior draw (n patients, censoring as assumed), computes its KM
    median and CI with the assumed transform, and returns P(simulated <= reported) per quantity
    (times in the endpoint's unit; the simulation does not depend on the unit).
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
            entry["predictive_ci95"] = interval(col[defined])
        out[name] = entry
    return out


def check_patient_events(event: pd.Series | np.ndarray, path: Any) -> None:
    """Raise InputError (naming ``path`` and the field ``event``) when no patient has an event:
    the Weibull shape and scale are then not identified."""
    if int(np.sum(np.asarray(event) == 1)) == 0:
        raise InputError(
            path,
            "event",
            "no events: every patient is censored, so the Weibull shape and scale are not "
            "identified from these data (remove patient_data to analyse the reported summary "
            "alone)",
        )


def weibull_mle_censored(time: np.ndarray, event: np.ndarray) -> dict[str, float]:
    """Weibull maximum likelihood of patient data with events at time 0 (endpoint unit).

    Same convention as :func:`models.time_to_event.patient_data`: events at 0 are
    interval-censored in (0, t1] (t1 the smallest positive time), patients censored at 0 are left
    out, so log L = sum_events log f(t) + sum_censored log S(t) + sum_at_0 log F(t1). Without
    time-0 rows this is :func:`analysis.frequentist.survival.weibull_mle`. Returns {shape, scale,
    median, loglik}.
    """
    data = patient_data(time, event)
    if data["events_at_zero"] == 0 and data["censored_at_zero_dropped"] == 0:
        return weibull_mle(np.asarray(time, dtype=float), np.asarray(event, dtype=float))
    t = data["event_time"]
    exact = np.isinf(data["censor_at"]) & np.isinf(data["left_censor_at"])
    right = np.isfinite(data["censor_at"])
    left = np.isfinite(data["left_censor_at"])
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


def _file_stem(label: str) -> str:
    """A fit label as a file name (posteriors/<stem>.nc)."""
    return (
        label.replace("|", "__")
        .replace(" ", "")
        .replace(",", "_")
        .replace("%", "pct")
        .replace(">", "gt")
    )


def _reported(tte: TimeToEvent, unit: str) -> dict[str, Any]:
    median: Any = None
    if tte.median != "not reported":
        median = tte.median.value if tte.median.reached else "not reached"
    ci = None if tte.ci == "not reported" else list(tte.ci.value)
    return {
        "median": median,
        "ci95": ci,
        "ci_level": tte.ci_level,
        "unit": unit,
        "events": _known(tte.events),
        "censored": _known(tte.censored),
        "patients": _known(tte.patients),
        "followup_median": _known(tte.followup_median),
        "landmarks": [
            {
                "time": lm.time,
                "percent": lm.percent,
                "ci_percent": None if lm.ci_percent is None else list(lm.ci_percent),
            }
            for lm in tte.landmarks
        ],
    }


def _priors_entry(priors: dict[str, PriorScenario]) -> dict[str, Any]:
    return {
        name: {
            "family": p.family,
            "parameters": dict(p.parameters),
            "rationale": p.rationale,
            "declared_in_trial_file": "declared" in p.tags,
        }
        for name, p in priors.items()
    }


# ---------------------------------------------------------------------------------------------
# the analysis
# ---------------------------------------------------------------------------------------------


#: One assumption scenario of the summary likelihood: (transform, n at risk, censoring range).
Scenario = tuple[str, int, tuple[float, float]]


@dataclass
class _SummarySetup:
    """What the printed summary allows: the pattern analysed (``""``: none), the primary
    scenario, the Dirichlet calibration per scenario label, and why a printed median was dropped."""

    pattern: str
    primary: Scenario
    calibration: dict[str, Any]
    note: str | None


def _summary_setup(sets: dict[str, Any], pattern: str, warnings: list[str]) -> _SummarySetup:
    """The primary scenario and its calibration; a median that cannot be calibrated (too few at
    risk, no calibration) is dropped with a warning saying why."""
    n_default = int(sets["n_at_risk"]["default"])
    prim = (sets["transform"]["default"], n_default, tuple(sets["censoring"]["default"]))
    note = None
    if pattern and n_default < MIN_PFS_N_AT_RISK:
        note = (
            f"the printed median was not analysed: with {n_default} patients at risk the "
            f"order-statistic calibration is not defined (it needs at least {MIN_PFS_N_AT_RISK}: "
            "with fewer, simulated trials rarely have a lower limit, median and upper limit all "
            "defined)"
        )
        warnings.append(note)
        pattern = ""
    calibration: dict[str, Any] = {}
    if pattern:
        try:
            calibration[scenario_label(*prim)] = _calibration_entry(prim)
        except ValueError as exc:
            note = f"the printed median was not analysed: {exc}"
            warnings.append(note)
            pattern = ""
    return _SummarySetup(pattern, prim, calibration, note)


def _calibration_entry(scen: Scenario) -> dict[str, Any]:
    """The Dirichlet alpha of a scenario (:func:`dirichlet_alpha`), as stored in results.json."""
    transform, n, cens = scen
    alpha, entry, origin = dirichlet_alpha(n, transform, cens)
    return {"alpha": alpha.tolist(), "alpha0": entry["alpha0"], "origin": origin}


@dataclass
class _SummaryFits:
    """The summary-likelihood fits of one endpoint: builds each scenario's data and fits it
    with the gates, keeping every fit and its diagnostics (labels ``key|summary|prior|scenario``).
    """

    key: str
    setup: _SummarySetup
    printed: dict[str, Any]
    landmarks: list[Any]
    priors: dict[str, PriorScenario]
    seed: int
    allow_failed: bool
    settings: SamplerSettings | None
    fits: dict[str, az.InferenceData] = field(default_factory=dict)
    diags: list[FitDiagnostics] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.model = compiled_summary_model(self.setup.pattern)

    def label(self, prior_name: str, scen: Scenario) -> str:
        return f"{self.key}|summary|{prior_name}|{scenario_label(*scen)}"

    def scenario_data(self, scen: Scenario) -> dict[str, Any]:
        """Every datum of the summary model under scenario ``scen`` (priors excluded)."""
        pattern, printed = self.setup.pattern, self.printed
        data: dict[str, Any] = {}
        if pattern:
            slabel = scenario_label(*scen)
            if slabel not in self.setup.calibration:
                self.setup.calibration[slabel] = _calibration_entry(scen)
            alpha = np.asarray(self.setup.calibration[slabel]["alpha"])
            data.update(
                summary_data(
                    printed["median"],
                    printed["lower"],
                    printed["upper"],
                    alpha,
                    followup=printed["followup"],
                )
            )
        lm = landmark_data(self.landmarks, scen[1])
        data.update(lm)
        data["reference_time"] = np.array(reference_time(pattern, data, lm))
        return data

    def fit(self, prior_name: str, scen: Scenario) -> az.InferenceData:
        """Fit scenario ``scen`` under prior ``prior_name``, gated (raises as fit_with_gates)."""
        data = self.scenario_data(scen)
        data.update(prior_data(self.priors[prior_name]))
        data = {k: v for k, v in data.items() if k in self.model.data_names}
        label = self.label(prior_name, scen)
        idata, diag = fit_with_gates(
            self.model,
            data,
            seed=derive_seed(self.seed, self.key, label),
            label=label,
            settings=self.settings,
            allow_failed=self.allow_failed,
        )
        self.fits[label] = idata
        self.diags.append(diag)
        return idata

    def quadrature(
        self, prior_name: str, scen: Scenario, times: list[float]
    ) -> tuple[dict[str, Any], dict[str, Any]]:
        """The exact posterior summary of scenario ``scen`` under prior ``prior_name`` by 2-D
        quadrature (:func:`weibull_posterior_by_quadrature`, the same likelihood and prior as
        :meth:`fit`), and its record for results.json's ``diagnostics`` (method, grid, checks).

        Raises QuadratureError when the grid's checks fail, ValueError as :meth:`scenario_data`.
        """
        data = self.scenario_data(scen)
        landmarks = {k: data[k] for k in LANDMARK_KEYS} if self.landmarks else None
        out = weibull_posterior_by_quadrature(
            self.setup.pattern,
            data,
            landmarks,
            self.priors[prior_name],
            times,
            reference=float(data["reference_time"]),
        )
        record = {**out.pop("grid"), "passed": True}  # its checks passed, else it raised
        out["survival_at"] = {
            time_key(t): s for t, s in zip(times, out["survival_at"], strict=True)
        }
        return out, record


def _fit_priors(
    fitter: _SummaryFits, primary_name: str, n_points: int, times: list[float]
) -> dict[str, dict[str, Any]]:
    """Each prior under the primary scenario: its exact posterior by quadrature (the reported
    one), the MCMC fit of the same model beside it as the check (:func:`mcmc_check`; its draws
    feed the follow-up priors, the predictive check and the figures), the fit's diagnostics, the
    quadrature's record, and the priors not fitted with why (keys ``posterior``, ``mcmc_check``,
    ``diagnostics``, ``quadrature``, ``priors_not_fitted``).

    With fewer than two printed time points (L, M, U, landmarks) the shape is not identified by
    the summary, and a vague prior's posterior runs to shapes near 0 (medians of thousands of
    months), where the sampler diverges: that prior is not fitted (nor its check), and the
    result says so. A quadrature that fails its own checks (a posterior its adaptive grid cannot
    resolve, e.g. a median not reached under a wide shape prior) leaves the MCMC fit, which
    passed its gates, as the reported posterior: the record says so (``method``, ``error``) and
    the tables do not call that prior's numbers exact.
    """
    out: dict[str, dict[str, Any]] = {
        k: {} for k in ("posterior", "mcmc_check", "diagnostics", "quadrature", "priors_not_fitted")
    }
    for name in fitter.priors:
        if name == "vague" and n_points < 2 and name != primary_name:
            out["priors_not_fitted"][name] = (
                f"not fitted: the printed numbers hold {n_points} time point(s), which do not "
                "identify the Weibull shape; under this prior the posterior runs to shapes "
                "near 0, where the sampler cannot be trusted"
            )
            continue
        idata = fitter.fit(name, fitter.setup.primary)
        out["diagnostics"][name] = fitter.diags[-1].summary()
        try:
            exact, record = fitter.quadrature(name, fitter.setup.primary, times)
        except QuadratureError as exc:
            out["posterior"][name] = posterior_summary(idata, times)
            out["quadrature"][name] = {"method": "mcmc (quadrature failed)", "error": str(exc)}
            continue
        out["posterior"][name] = exact
        out["quadrature"][name] = record
        out["mcmc_check"][name] = mcmc_check(idata, exact, times)
    return out


def _fit_sweep(
    fitter: _SummaryFits,
    sets: dict[str, Any],
    primary_name: str,
    times: list[float],
    primary_exact: tuple[dict[str, Any], dict[str, Any]] | None = None,
) -> tuple[dict[str, Any], list[str]]:
    """The assumption sweep under the primary prior (transform x n at risk x censoring; the
    primary scenario only without a printed median): per scenario its exact posterior summary by
    2-D quadrature (no sampling, so rows differ only by their assumptions, without Monte Carlo
    noise; the primary scenario's row too) and the quadrature's record as its ``diagnostics``,
    and the scenarios skipped with why (a quadrature that fails its own checks is skipped, and
    ``scenarios_skipped`` says why: no number is reported from it). ``primary_exact``: the
    primary prior's (summary, record) under the primary scenario when already computed."""
    prim = fitter.setup.primary
    sweep = (
        list(
            itertools.product(
                sets["transform"]["sweep"],
                sets["n_at_risk"]["sweep"],
                sets["censoring"]["sweep"],
            )
        )
        if fitter.setup.pattern
        else [prim]
    )
    scenarios: dict[str, Any] = {}
    skipped: list[str] = []
    for transform, n, cens in sweep:
        scen = (transform, int(n), tuple(cens))
        label = scenario_label(*scen)
        if scen != prim and scen[1] < MIN_PFS_N_AT_RISK:
            skipped.append(f"{label}: n at risk below {MIN_PFS_N_AT_RISK}")
            continue
        try:
            if scen == prim and primary_exact is not None:
                summ, record = primary_exact
            else:
                summ, record = fitter.quadrature(primary_name, scen, times)
        except QuadratureError as exc:
            skipped.append(f"{label}: {exc}")
            continue
        except ValueError as exc:
            skipped.append(f"{label}: {exc}")
            continue
        scenarios[label] = {
            "transform": transform,
            "n_at_risk": int(n),
            "censoring": list(cens),
            "primary": scen == prim,
            "posterior": summ,
            "diagnostics": record,
        }
    return scenarios, skipped


def _summary_analysis(
    fitter: _SummaryFits,
    sets: dict[str, Any],
    primary_name: str,
    reported: dict[str, Any],
    times: list[float],
) -> dict[str, Any]:
    """Every fit of the printed summary and landmarks, with the maximum-likelihood estimate and
    the posterior predictive check of the printed median: the results.json entries it gives."""
    setup, printed = fitter.setup, fitter.printed
    prim, pattern = setup.primary, setup.pattern
    n_points = sum(p in ("L", "M", "U") for p in pattern.split(",")) + len(fitter.landmarks)
    by_prior = _fit_priors(fitter, primary_name, n_points, times)
    record = by_prior["quadrature"].get(primary_name, {})
    primary_exact = None
    if record.get("method") == "quadrature":
        primary_exact = (by_prior["posterior"][primary_name], record)
    scenarios, skipped = _fit_sweep(fitter, sets, primary_name, times, primary_exact)
    primary_fit = fitter.fits[fitter.label(primary_name, prim)]
    ml = None
    if n_points >= 2:
        data = fitter.scenario_data(prim)
        start = printed["median"] or printed["lower"] or printed["followup"] or times[-1]
        ml = summary_ml(pattern, data, data if fitter.landmarks else None, float(start))
    ppc = None
    if "M" in pattern.split(","):
        ppc = posterior_predictive_check(
            primary_fit,
            (printed["median"], printed["lower"], printed["upper"]),
            n=prim[1],
            transform=prim[0],
            censoring=prim[2],
            seed=derive_seed(fitter.seed, fitter.key, "ppc"),
        )
    return {
        "posterior": by_prior["posterior"],
        "diagnostics": by_prior["diagnostics"],
        "priors_not_fitted": by_prior["priors_not_fitted"],
        "mcmc_check": by_prior["mcmc_check"],
        "quadrature": by_prior["quadrature"],
        "primary_assumptions": {
            "transform": prim[0],
            "n_at_risk": prim[1],
            "censoring": list(prim[2]),
            "origin": {k: sets[k]["origin"] for k in ("transform", "n_at_risk", "censoring")},
        },
        "assumption_sweeps": {
            "transform": list(sets["transform"]["sweep"]),
            "n_at_risk": list(sets["n_at_risk"]["sweep"]),
            "censoring": [list(c) for c in sets["censoring"]["sweep"]],
        },
        "scenarios": scenarios,
        "scenarios_skipped": skipped,
        "calibration": setup.calibration,
        "frequentist": {
            "reported_km": {
                "median": reported["median"],
                "ci95": reported["ci95"],
                "method": "Kaplan-Meier median, Brookmeyer-Crowley CI (as published)",
            },
            "summary_ml": ml,
        },
        "posterior_predictive": ppc,
        "validation": stored_validation() if pattern else None,
    }


def analyse_time_to_event(
    loaded: LoadedTrial,
    key: str,
    *,
    seed: int,
    allow_failed: bool = False,
    settings: SamplerSettings | None = None,
) -> EndpointResult:
    """Fit the Weibull models of the time-to-event endpoint ``key`` of a trial file and return
    its numbers (results, comparison and sensitivity tables, posteriors, diagnostics).

    The printed summary and landmarks are fitted under every prior (primary scenario) and every
    assumption scenario (primary prior); patient data, when given, are fitted too and are the
    headline only when nothing printed can be analysed.

    Raises:
        InputError: the file has no such endpoint, or its patient data cannot be analysed.
        DiagnosticsError: a fit failed its gates (unless ``allow_failed``).
    """
    tte = _endpoint(loaded, key)
    unit = time_unit(loaded.trial, tte)
    warnings: list[str] = []
    # Patient data are read (and checked) before any fit, so a bad file fails at once.
    found = time_to_event_data(loaded, key)
    printed = _printed_summary(tte, warnings)
    sets = assumption_sets(loaded, key)
    times = survival_times(tte, unit)
    priors = with_primary(
        endpoint_priors(tte.priors, unit), loaded.chosen_prior("time_to_event", key)
    )
    primary_prior = primary(priors)
    landmarks_in = _landmarks(tte)
    setup = _summary_setup(sets, printed["pattern"], warnings)
    used = {
        "summary": bool(setup.pattern),
        "landmarks": len(landmarks_in) > 0,
        "patient_data": found is not None,
    }
    reported = _reported(tte, unit)
    results: dict[str, Any] = {
        "label": tte.label,
        "unit": unit,
        "reported": reported,
        "summary_pattern": setup.pattern,
        "data_used": used,
    }
    if not any(used.values()):
        reason = setup.note or (warnings[-1] if warnings else "nothing printed can be analysed")
        results.update(analysed=False, reason=reason, warnings=warnings)
        return EndpointResult(key, tte.label, results, comparison_frame([]), sensitivity_frame([]))

    fits: dict[str, az.InferenceData] = {}
    diags: list[FitDiagnostics] = []
    summary: dict[str, Any] = {}
    primary_label = scenario_label(*setup.primary)
    if used["summary"] or used["landmarks"]:
        fitter = _SummaryFits(
            key, setup, printed, landmarks_in, priors, seed, allow_failed, settings, fits, diags
        )
        summary = _summary_analysis(fitter, sets, primary_prior.name, reported, times)
    patient_args = (tte, loaded.trial.enrolled.value, unit, priors, times, key, seed)
    patient_results = _analyse_patient_data(
        found, *patient_args, allow_failed, setup.primary[0], settings
    )
    if patient_results is not None:
        fits.update(patient_results.pop("_fits"))
        diags.extend(patient_results.pop("_diags"))
        warnings.extend(patient_results["warnings"])
    source, primary_key, headline = _headline(
        summary, patient_results, key, primary_prior.name, primary_label
    )
    results.update(
        analysed=True,
        posterior_source=source,
        survival_times=times,
        primary_prior=primary_prior.name,
        priors=_priors_entry(priors),
        **headline,
        **summary,
        parametrisation=f"S(t) = exp(-(t/lambda)^k); median = lambda (ln 2)^(1/k); times in {unit}",
    )
    if patient_results is not None:
        results["patient_data"] = patient_results
    results["warnings"] = warnings

    return EndpointResult(
        name=key,
        title=tte.label,
        results=results,
        comparison=_comparison(results, tte.label, unit, primary_label),
        sensitivity=_sensitivity(results, primary_prior.name, primary_label),
        posteriors={_file_stem(k): v for k, v in fits.items()},
        diagnostics=diags,
        primary_posterior=_file_stem(primary_key),
        primary_draws={key: _draws(fits[primary_key])},
        analysis_priors={
            key: {
                "family": primary_prior.family,
                "parameters": dict(primary_prior.parameters),
                "unit": unit,
            }
        },
    )


def _headline(
    summary: dict[str, Any], patient: dict[str, Any] | None, key: str, prior: str, scenario: str
) -> tuple[str, str, dict[str, Any]]:
    """Which analysis is the headline (the printed summary when fitted, else the patient data):
    its source, the key of its primary fit, and its posterior, diagnostics and priors not
    fitted (taken out of ``summary``, whose remaining keys follow them in results.json)."""
    if summary:
        headline = {k: summary.pop(k) for k in ("posterior", "diagnostics", "priors_not_fitted")}
        return "summary", f"{key}|summary|{prior}|{scenario}", headline
    headline = {
        "posterior": patient["posterior"],
        "diagnostics": patient["diagnostics"],
        "priors_not_fitted": {},
    }
    return "patient data", f"{key}|patient|{prior}", headline


def _landmarks(tte: TimeToEvent) -> list[tuple[float, float, tuple[float, float] | None]]:
    """The printed landmark rates as (time, percent, CI percent or None)."""
    return [
        (lm.time, lm.percent, None if lm.ci_percent is None else tuple(lm.ci_percent))
        for lm in tte.landmarks
    ]


def _endpoint(loaded: LoadedTrial, key: str) -> TimeToEvent:
    """The time-to-event endpoint ``key`` of the trial file (InputError naming those it has)."""
    if key not in loaded.trial.time_to_event:
        raise InputError(
            loaded.path,
            f"time_to_event.{key}",
            f"no such endpoint; the file declares {sorted(loaded.trial.time_to_event)}",
        )
    return loaded.trial.time_to_event[key]


def _draws(idata: az.InferenceData) -> dict[str, np.ndarray]:
    """Flat draws of the median (endpoint unit) and Weibull shape: the follow-up priors' input."""
    return {
        "median": idata.posterior[MEDIAN].values.ravel(),
        "weibull_shape": idata.posterior[SHAPE].values.ravel(),
    }


def _analyse_patient_data(
    found: Any,
    tte: TimeToEvent,
    enrolled: int,
    unit: str,
    priors: dict[str, PriorScenario],
    times: list[float],
    key: str,
    seed: int,
    allow_failed: bool,
    transform: str,
    settings: SamplerSettings | None = None,
) -> dict[str, Any] | None:
    """The right-censored Weibull fits of the endpoint's patient data (None without data)."""
    if found is None:
        return None
    ipd, origin, path, reconstructed = found
    time = ipd["time"].to_numpy(float)
    event = ipd["event"].to_numpy(int)
    check_patient_events(event, path)
    median = None
    if tte.median != "not reported":
        median = tte.median.value if tte.median.reached else math.inf
    ci = None
    if tte.ci != "not reported":
        ci = tuple(math.inf if v is None else v for v in tte.ci.value)
    gaps = check_against_report(
        time,
        event,
        unit=unit,
        median=median,
        median_ci=ci,
        events=_known(tte.events),
        enrolled=_known(tte.patients) or enrolled,
    )
    km = kaplan_meier(time, event)
    pdata = patient_data(time, event)
    compiled = CompiledModel(build_patient_model(time, event), name=f"time_to_event_patient[{key}]")
    out: dict[str, Any] = {
        "origin": origin,
        "reconstructed": reconstructed,
        "patients": len(ipd),
        "events": int(event.sum()),
        "events_at_time_zero": pdata["events_at_zero"],
        "censored_at_time_zero_left_out": pdata["censored_at_zero_dropped"],
        "first_assessment": pdata["first_assessment"],
        "km_median_ci95": list(km.median_ci(transform)),
        "km_transform": transform,
        "km_curve": {"time": km.time.tolist(), "survival": km.survival.tolist()},
        "mle": weibull_mle_censored(time, event),
        "warnings": [f"patient data: {g}" for g in gaps],
        "posterior": {},
        "diagnostics": {},
        "_fits": {},
        "_diags": [],
    }
    for name, prior in priors.items():
        label = f"{key}|patient|{name}"
        idata, diag = fit_with_gates(
            compiled,
            {**{k: pdata[k] for k in PATIENT_DATA_KEYS}, **prior_data(prior)},
            seed=derive_seed(seed, key, label),
            label=label,
            settings=settings,
            allow_failed=allow_failed,
        )
        out["_fits"][label] = idata
        out["_diags"].append(diag)
        out["posterior"][name] = posterior_summary(idata, times)
        out["diagnostics"][name] = diag.summary()
    return out


def _comparison(results: dict[str, Any], label: str, unit: str, primary_label: str) -> pd.DataFrame:
    rep = results["reported"]
    q_median = f"median {label} ({unit})"
    rows: list[dict[str, Any]] = []
    if rep["median"] is not None:
        lo, hi = rep["ci95"] if rep["ci95"] is not None else (None, None)
        rows.append(
            {
                "quantity": q_median,
                "side": "reported",
                "method": "Kaplan-Meier median, Brookmeyer-Crowley CI",
                "scenario": "published",
                "estimate": rep["median"] if rep["median"] != "not reached" else None,
                "ci_low": lo,
                "ci_high": hi,
                "interval": f"{rep['ci_level']:.0%} CI" if rep["ci95"] is not None else None,
                "probability_label": "not reached" if rep["median"] == "not reached" else None,
            }
        )
    for lm in rep["landmarks"]:
        ci = lm["ci_percent"] or [None, None]
        rows.append(
            {
                "quantity": f"survival at {lm['time']:g} {unit}",
                "side": "reported",
                "method": "Kaplan-Meier estimate (as published)",
                "scenario": "published",
                "estimate": lm["percent"] / 100,
                "ci_low": None if ci[0] is None else ci[0] / 100,
                "ci_high": None if ci[1] is None else ci[1] / 100,
                "interval": "95% CI" if lm["ci_percent"] else None,
            }
        )
    ml = (results.get("frequentist") or {}).get("summary_ml")
    if ml is not None:
        for quantity, k in ((q_median, "median"), ("Weibull shape", "shape")):
            rows.append(
                {
                    "quantity": quantity,
                    "side": "frequentist",
                    "method": "maximum of the summary likelihood",
                    "scenario": primary_label,
                    "estimate": ml[k],
                }
            )
    rows += _posterior_rows(results, q_median, unit, primary_label)
    patient = results.get("patient_data")
    if patient is not None:
        for quantity, k in ((q_median, "median"), ("Weibull shape", "shape")):
            rows.append(
                {
                    "quantity": quantity,
                    "side": "frequentist",
                    "method": "Weibull maximum likelihood, patient data",
                    "scenario": patient["origin"],
                    "estimate": patient["mle"][k],
                }
            )
    return comparison_frame(rows)


def _posterior_rows(
    results: dict[str, Any], q_median: str, unit: str, primary_label: str
) -> list[dict[str, Any]]:
    """Per prior: the posterior median and shape (median, 95 % equal-tailed interval, P(k > 1))
    and survival at each time (posterior mean and interval)."""
    rows: list[dict[str, Any]] = []
    source = results["posterior_source"]
    for name, post in results["posterior"].items():
        how = f"{source}, exact: quadrature" if is_exact(results, name) else source
        for quantity, k in ((q_median, "median"), ("Weibull shape", "shape")):
            row = {
                "quantity": quantity,
                "side": "bayesian",
                "method": f"posterior ({how}), prior '{name}'",
                "scenario": primary_label if source == "summary" else "patient data",
                "estimate": post[k]["median"],
                "ci_low": post[k]["ci95"][0],
                "ci_high": post[k]["ci95"][1],
                "interval": "95% equal-tailed credible",
            }
            if k == "shape":
                row.update(probability=post["p_shape_above_1"], probability_label="P(k > 1)")
            rows.append(row)
        for t, s in post["survival_at"].items():
            rows.append(
                {
                    "quantity": f"survival at {t} {unit}",
                    "side": "bayesian",
                    "method": f"posterior ({how}), prior '{name}'",
                    "scenario": primary_label if source == "summary" else "patient data",
                    "estimate": s["mean"],
                    "ci_low": s["ci95"][0],
                    "ci_high": s["ci95"][1],
                    "interval": "95% equal-tailed credible",
                }
            )
    return rows


def is_exact(results: dict[str, Any], prior: str) -> bool:
    """Whether the reported posterior of ``prior`` is the exact one (quadrature of the printed
    summary), not an MCMC summary (patient data, or a quadrature that failed)."""
    record = (results.get("quadrature") or {}).get(prior) or {}
    return results.get("posterior_source") == "summary" and record.get("method") == "quadrature"


def _sensitivity(results: dict[str, Any], primary_name: str, primary_label: str) -> pd.DataFrame:
    rows = []
    for name, post in results["posterior"].items():
        for quantity, k in (("median", "median"), ("weibull_shape", "shape")):
            rows.append(
                {
                    "quantity": quantity,
                    "prior": name,
                    "assumption": "prior (exact: quadrature)"
                    if is_exact(results, name)
                    else "prior",
                    "scenario": f"{name}; {primary_label}",
                    "primary": name == primary_name,
                    "estimate": post[k]["median"],
                    "ci_low": post[k]["ci95"][0],
                    "ci_high": post[k]["ci95"][1],
                }
            )
    for label, sc in (results.get("scenarios") or {}).items():
        for quantity, k in (("median", "median"), ("weibull_shape", "shape")):
            p = sc["posterior"][k]
            rows.append(
                {
                    "quantity": quantity,
                    "prior": primary_name,
                    "assumption": SWEEP_ASSUMPTION,
                    "scenario": label,
                    "primary": sc["primary"],
                    "estimate": p["median"],
                    "ci_low": p["ci95"][0],
                    "ci_high": p["ci95"][1],
                }
            )
            if k == "shape":
                rows[-1].update(
                    probability=sc["posterior"]["p_shape_above_1"], probability_label="P(k > 1)"
                )
    return sensitivity_frame(rows)
