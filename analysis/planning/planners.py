"""The planners' section of a run: MAP priors of a historical set and a follow-up design comparison.

Compute only (JSON-ready numbers; :mod:`analysis.report.planners` words and draws them).

(a) **MAP priors** (Neuenschwander et al., Clinical Trials 2010): every map of the historical set
(default ``data/historical/mrcc_after_vegf.toml``) is fitted by
:func:`~trial_reanalysis.analysis.planning.historical.historical_map`: per-trial reported and
shrunk values, the between-trial sd tau, the MAP mixture and its robust version with their ESS
(ELIR; the MAP ESS is the ESS without the vague part). Then a prior-data conflict check of *this*
trial's result (Box 1980): its tail probability under the MAP predictive
(:func:`~trial_reanalysis.analysis.planning.map_prior.rate_conflict` /
:func:`~trial_reanalysis.analysis.planning.map_prior.median_conflict`). When this trial is itself
in the set, its own data would be counted twice, so the check is leave-one-out: the MAP prior is
refitted without it. A rate known only through candidate counts (a coarsened report) gets the
candidate-weighted tail probabilities, sum_c w_c P(X_c <= x_c) and sum_c w_c P(X_c >= x_c), each
candidate with its own n.

(b) **Design comparison** for a follow-up of the trial's primary rate, when the file prints p0
and p1: Simon's optimal and minimax two-stage designs (Simon 1989) and the posterior-probability
(Thall and Simon 1994), predictive-probability (Lee and Liu 2008) and BOP2 (Zhou, Lee and Yuan
2017) designs (:mod:`~trial_reanalysis.analysis.planning.sequential`), each calibrated to
type I error <= alpha (the design's printed alpha, else :data:`DEFAULT_ALPHA`), futility stopping
only, with looks at the quarters of N = the Simon minimax n and a vague analysis prior
Beta(1, 1). Assurance (probability of success) under the trial's robust follow-up prior as design
prior, exact (beta-binomial mixture). OC curves: P(declared active) at true rates 0, 0.01, ..., 1.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from trial_reanalysis.analysis.planning.followup import BetaMixture
from trial_reanalysis.analysis.planning.historical import (
    DEFAULT_HISTORICAL,
    HistoricalEntry,
    historical_map,
    load_historical,
    map_rows,
)
from trial_reanalysis.analysis.planning.map_prior import (
    NormalMixture,
    median_conflict,
    rate_conflict,
)
from trial_reanalysis.analysis.provenance import jsonable
from trial_reanalysis.analysis.trials.load import LoadedTrial

#: Type I error of the compared designs when the trial's design does not print one.
DEFAULT_ALPHA = 0.05
#: Power target of the Simon designs when the trial's design does not print one.
DEFAULT_POWER = 0.8
#: The follow-up prior used as design prior (assurance).
DESIGN_PRIOR_NAME = "robust"
#: Vague analysis prior of the Bayesian designs: Beta(1, 1).
ANALYSIS_PRIOR = (1.0, 1.0)
#: Looks at these fractions of N (rounded half up; duplicates dropped).
LOOK_FRACTIONS = (0.25, 0.5, 0.75, 1.0)
#: True rates of the OC curves.
OC_RATES = tuple(round(0.01 * i, 2) for i in range(101))
BAYESIAN_METHODS = ("posterior", "predictive", "bop2")


# ---------------------------------------------------------------------------------------------
# (a) MAP priors
# ---------------------------------------------------------------------------------------------


def _is_this_trial(entry: HistoricalEntry, loaded: LoadedTrial) -> bool:
    return entry.loaded.trial.trial.id == loaded.trial.trial.id


def _matching_entry(
    loaded: LoadedTrial, kind: str, entries: Sequence[HistoricalEntry]
) -> HistoricalEntry | None:
    """This trial's endpoint for a map it is not part of: the one endpoint of the map's kind
    whose key is among the keys the set uses (None when there is not exactly one)."""
    keys = {e.endpoint for e in entries}
    own = loaded.trial.rates if kind == "rate" else loaded.trial.time_to_event
    found = [k for k in own if k in keys]
    if len(found) != 1:
        return None
    return HistoricalEntry(loaded, found[0], f"{loaded.trial.trial.id}:{found[0]}")


def conflict_of_rows(result: Mapping[str, Any], rows: Sequence[Sequence[Any]]) -> dict[str, Any]:
    """Conflict check of one trial's rows (as :func:`historical.map_rows` gives them) against a
    MAP result's non-robust ``map`` prior.

    Rate rows (name, x, n, weight): candidate-weighted tails (module docstring). Median row
    (name, median, lower, upper) in months: :func:`map_prior.median_conflict`.
    Returns ``p_lower``, ``p_upper``, ``p_two_sided`` = min(1, 2 min(p_lower, p_upper)).
    """
    prior = result["priors"][0]
    if result["kind"] == "rate":
        mix = BetaMixture.from_prior(prior)
        total = sum(float(r[3]) for r in rows)
        lower = upper = 0.0
        for _, x, n, w in rows:
            c = rate_conflict(mix, int(x), int(n))
            lower += float(w) / total * c["p_lower"]
            upper += float(w) / total * c["p_upper"]
        out = {"p_lower": lower, "p_upper": upper}
    else:
        if len(rows) != 1:
            raise ValueError(f"a median enters with one row, got {len(rows)}")
        p = prior["parameters"]
        normal = NormalMixture(tuple(p["weights"]), tuple(p["mean"]), tuple(p["sd"]))
        _, m, lo, hi = rows[0]
        c = median_conflict(normal, m, lo, hi)
        out = {"p_lower": c["p_lower"], "p_upper": c["p_upper"]}
    out["p_two_sided"] = min(1.0, 2.0 * min(out["p_lower"], out["p_upper"]))
    return out


def prior_interval(prior: Mapping[str, Any], kind: str, level: float = 0.95) -> dict[str, Any]:
    """Median and central interval of an exported MAP prior on the natural scale (a rate, or a
    median in months: exp of the log-median mixture's quantiles)."""
    q = np.array([(1 - level) / 2, 0.5, (1 + level) / 2])
    if kind == "rate":
        v = np.asarray(BetaMixture.from_prior(prior).ppf(q), dtype=float)
    else:
        p = prior["parameters"]
        v = np.exp(NormalMixture(tuple(p["weights"]), tuple(p["mean"]), tuple(p["sd"])).ppf(q))
    return {"median": float(v[1]), "ci95": [float(v[0]), float(v[2])]}


def map_part(
    loaded: LoadedTrial,
    name: str,
    spec: Mapping[str, Any],
    *,
    seed: int,
    allow_failed: bool = False,
) -> dict[str, Any]:
    """One map of a historical set: the MAP result, its priors' intervals and the conflict check
    of this trial's result (leave-one-out when the trial is in the set)."""
    kind, entries = spec["kind"], list(spec["entries"])
    result = historical_map(kind, entries, seed=seed, allow_failed=allow_failed)
    intervals = {p["name"]: prior_interval(p, kind) for p in result["priors"]}
    own = [e for e in entries if _is_this_trial(e, loaded)]
    conflict: dict[str, Any]
    if own:
        own_rows, _ = map_rows(kind, own)
        rest = [e for e in entries if not _is_this_trial(e, loaded)]
        rest_rows, _ = map_rows(kind, rest)
        if not own_rows:
            conflict = {"basis": None, "reason": "this trial's result cannot enter the check"}
        elif len({r[0] for r in rest_rows}) < 2:
            conflict = {"basis": None, "reason": "fewer than two other trials for leave-one-out"}
        else:
            loo = historical_map(kind, rest, seed=seed, allow_failed=allow_failed)
            conflict = {
                "basis": "leave-one-out",
                "endpoint": own[0].endpoint,
                **conflict_of_rows(loo, own_rows),
                "loo_prior": loo["priors"][0],
                "loo_interval": prior_interval(loo["priors"][0], kind),
                "loo_diagnostics": loo["diagnostics"],
            }
    else:
        entry = _matching_entry(loaded, kind, entries)
        rows = map_rows(kind, [entry])[0] if entry is not None else []
        if not rows:
            keys = sorted({e.endpoint for e in entries})
            conflict = {
                "basis": None,
                "reason": f"this trial reports no {kind} endpoint keyed {', '.join(keys)}"
                + (" with a usable CI" if entry is not None else ""),
            }
        else:
            conflict = {
                "basis": "not in the set",
                "endpoint": entry.endpoint,
                **conflict_of_rows(result, rows),
            }
    return {
        "name": name,
        "label": spec.get("label", name),
        "kind": kind,
        "rationale": spec.get("rationale", ""),
        "excluded": list(spec.get("excluded", [])),
        "this_trial_in_set": bool(own),
        "map": result,
        "intervals": intervals,
        "conflict": conflict,
    }


# ---------------------------------------------------------------------------------------------
# (b) Design comparison
# ---------------------------------------------------------------------------------------------


def quarter_looks(n_max: int, fractions: Sequence[float] = LOOK_FRACTIONS) -> tuple[int, ...]:
    """Cumulative sample sizes at ``fractions`` of ``n_max`` (rounded half up, at least 1,
    duplicates dropped), e.g. 27 -> (7, 14, 20, 27)."""
    if int(n_max) != n_max or n_max < 1:
        raise ValueError(f"n_max must be a positive integer, got {n_max}")
    looks = sorted({max(1, math.floor(f * n_max + 0.5)) for f in fractions})
    return tuple(looks)


def _printed(value: Any) -> float | None:
    return None if value == "unknown" else float(value.value)


def design_part(
    loaded: LoadedTrial,
    followup_priors: Mapping[str, Sequence[Mapping[str, Any]]] | None,
) -> dict[str, Any]:
    """The compared follow-up designs of the trial's primary rate (module docstring), or
    ``{"available": False, "reason"}`` when p0 or p1 is not printed or no Simon design exists."""
    from trial_reanalysis.analysis.frequentist.binomial import simon_designs
    from trial_reanalysis.analysis.planning.sequential import (
        assurance,
        calibrate,
        design_row,
        operating_characteristics,
        simon_as_sequential,
    )

    trial = loaded.trial
    design = trial.design
    endpoint = design.endpoint or trial.primary_rate
    p0, p1 = _printed(design.p0), _printed(design.p1)
    if endpoint is None or p0 is None or p1 is None:
        return {"available": False, "reason": "the trial file prints no p0 and p1 for a rate"}
    alpha_printed, power_printed = _printed(design.alpha), _printed(design.power)
    alpha = alpha_printed if alpha_printed is not None else DEFAULT_ALPHA
    power = power_printed if power_printed is not None else DEFAULT_POWER
    try:
        simon = simon_designs(p0, p1, alpha, power)
    except ValueError as exc:
        return {"available": False, "reason": f"no Simon design ({exc})"}
    n_max = simon["minimax"].n
    looks = quarter_looks(n_max)
    designs = [simon_as_sequential(simon[k], p0) for k in ("optimal", "minimax")]
    calibrations = {}
    for m in BAYESIAN_METHODS:
        cal = calibrate(m, p0, p1, looks, alpha, prior=ANALYSIS_PRIOR)
        calibrations[m] = cal
        designs.append(cal.design)
    priors = {p.get("name"): p for p in (followup_priors or {}).get(endpoint, [])}
    design_prior = priors.get(DESIGN_PRIOR_NAME)
    rows = []
    curves = {}
    for d in designs:
        row = design_row(d, p1)
        row["method"] = d.method
        row["assurance"] = None if design_prior is None else assurance(d, design_prior).reject
        row["design"] = d.to_dict()
        rows.append(row)
        curves[d.label] = [oc.reject for oc in operating_characteristics(d, list(OC_RATES))]
    return {
        "available": True,
        "endpoint": endpoint,
        "label": trial.rates[endpoint].label if endpoint in trial.rates else endpoint,
        "p0": p0,
        "p1": p1,
        "alpha": alpha,
        "alpha_source": "printed" if alpha_printed is not None else "default",
        "power": power,
        "power_source": "printed" if power_printed is not None else "default",
        "n_max": n_max,
        "looks": list(looks),
        "analysis_prior": {
            "family": "beta",
            "parameters": {"alpha": ANALYSIS_PRIOR[0], "beta": ANALYSIS_PRIOR[1]},
        },
        "design_prior": None if design_prior is None else dict(design_prior),
        "calibration": {
            m: {
                "parameters": c.design.parameters,
                "grid_points": c.grid_points,
                "distinct_designs": c.distinct_designs,
                "feasible_designs": c.feasible_designs,
            }
            for m, c in calibrations.items()
        },
        "designs": rows,
        "oc_curves": {"rates": list(OC_RATES), "reject": curves},
    }


# ---------------------------------------------------------------------------------------------
# The section
# ---------------------------------------------------------------------------------------------


def map_parts(
    loaded: LoadedTrial,
    historical: str | Path = DEFAULT_HISTORICAL,
    *,
    seed: int,
    maps: Sequence[str] | None = None,
    allow_failed: bool = False,
) -> dict[str, Any]:
    """Every map of a historical set (:func:`map_part`, in file order or ``maps``' order): the
    part of the planners' section that needs no result of this run, so it can run beside it.

    Raises:
        InputError: an unreadable historical set or an unknown map name.
        DiagnosticsError: a MAP fit failed its gates and ``allow_failed`` is False.
    """
    from trial_reanalysis.analysis.errors import InputError

    specs = load_historical(historical)
    names = list(specs) if maps is None else list(maps)
    for n in names:
        if n not in specs:
            raise InputError(historical, "maps", f"no map {n!r}; available: {', '.join(specs)}")
    return {n: map_part(loaded, n, specs[n], seed=seed, allow_failed=allow_failed) for n in names}


def planners_section(
    loaded: LoadedTrial,
    followup_priors: Mapping[str, Sequence[Mapping[str, Any]]] | None,
    *,
    historical: str | Path = DEFAULT_HISTORICAL,
    seed: int,
    maps: Sequence[str] | None = None,
    allow_failed: bool = False,
    parts: Mapping[str, Any] | None = None,
) -> dict[str, Any]:
    """The planners' section: ``{"historical": {path, maps: {name: map_part}}, "designs":
    design_part}``, JSON-ready.

    Args:
        loaded: this trial.
        followup_priors: the run's ``followup_priors`` (endpoint -> list of prior dicts); its
            primary rate's ``robust`` prior is the design prior.
        historical: a historical set (TOML).
        seed: run seed (every MAP fit derives its own from it).
        maps: which maps of the set (default all, in file order).
        allow_failed: keep MAP fits that fail their gates (marked in their diagnostics).
        parts: the maps already computed by :func:`map_parts` with these arguments (a run
            computes them in a worker process while the endpoints are analysed); None: here.

    Raises:
        InputError: an unreadable historical set or an unknown map name.
        DiagnosticsError: a MAP fit failed its gates and ``allow_failed`` is False.
    """
    if parts is None:
        parts = map_parts(loaded, historical, seed=seed, maps=maps, allow_failed=allow_failed)
    return jsonable(
        {
            "historical": {"path": str(historical), "maps": parts},
            "designs": design_part(loaded, followup_priors),
        }
    )
