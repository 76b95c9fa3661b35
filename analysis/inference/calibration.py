r"""The Dirichlet (order-statistic) calibration of a KM median and its CI: stored data and how
one entry is computed (DESIGN.md 4.2).

For a trial of ``n`` patients, a CI transform and a censoring range, simulate many trials from
Weibulls of unit median (shapes 1, 1.5, 2, 2.5; the levels do not depend on the scale or the time
unit), censor each trial's patients by independent exponential censoring times whose rate gives a
censoring fraction ``c ~ Uniform(range)`` (solved per shape), compute the KM median and
Brookmeyer-Crowley CI exactly as R's ``survfit`` does
(:func:`analysis.frequentist.survival.km_median_ci_batch`), and map (L, M, U) to the true CDF
levels u = F(x). The spacings (u_L, u_M - u_L, u_U - u_M, 1 - u_U) are then fitted by a
Dirichlet(alpha0 * p) with p the mean spacings and alpha0 by maximum likelihood. Trials whose upper
limit is undefined are left out of the fit (their share is stored).

This module is the loader the analyses read (STYLE.md: an analysis never imports a study): the
stored entries of ``data/calibration/pfs_dirichlet.json`` (written by the offline study
:mod:`analysis.studies.pfs_calibration`, which calls :func:`calibrate` here), and a missing entry
computed on the fly (half the stored number of trials, about 0.5-2 s; the origin says which).
Entries computed on the fly are kept in the user's cache folder (beside the compiled models of
:mod:`.model_cache`, ``calibrations-<code>/``), keyed by the source of the code that computes them,
so a later run of the same trial reads them instead of simulating again: the same numbers to the
last bit (JSON keeps every float exactly). Also the stored simulation study of the summary model
(:func:`stored_validation`), read as data.
"""

from __future__ import annotations

import hashlib
import inspect
import json
import os
import sys
import tempfile
from functools import cache
from pathlib import Path
from typing import Any

import numpy as np
from scipy import integrate, optimize, special

from trial_reanalysis.analysis import constants
from trial_reanalysis.analysis.frequentist import survival
from trial_reanalysis.analysis.frequentist.survival import (
    TRANSFORMS,
    Transform,
    crossing_levels,
    km_median_ci_batch,
)
from trial_reanalysis.analysis.paths import DATA_DIR

CALIBRATION_FILE = DATA_DIR / "calibration" / "pfs_dirichlet.json"
#: The stored simulation study of the summary model (written by analysis.studies.pfs_validation).
STUDY_FILE = DATA_DIR / "validation" / "pfs_study.json"
CALIBRATION_SEED = 20240611
SHAPES = (1.0, 1.5, 2.0, 2.5)
TRIALS_PER_SHAPE = 10_000
DEFAULT_NS = (40, 44, 48)
DEFAULT_CENSORING = ((0.0, 0.0), (0.0, 0.2), (0.2, 0.4))
#: Fewest simulated trials with (L, M, U) all defined that a calibration entry rests on.
MIN_USABLE_TRIALS = 200


def _censored_fraction(rate: float, shape: float) -> float:
    """P(C < T) for C ~ Exp(rate), T ~ Weibull(shape) of unit median."""
    if rate <= 0:
        return 0.0
    ln2 = np.log(2.0)
    val, _ = integrate.quad(
        lambda t: rate * np.exp(-rate * t - ln2 * t**shape), 0, np.inf, limit=200
    )
    return float(val)


@cache
def _rate_table(shape: float) -> tuple[np.ndarray, np.ndarray]:
    """Censoring fractions 0..0.9 and the exponential censoring rates that give them."""
    # up to the largest censoring fraction a trial file may declare (0.9); the points 0..0.6
    # are those of the stored calibration
    fractions = np.linspace(0.0, 0.9, 91)
    # a small shape puts much of the event mass near 0, where no censoring rate up to 100 per
    # unit median reaches the heaviest fractions: the table stops at the last one reached
    top = _censored_fraction(100.0, shape)
    fractions = fractions[fractions < top]
    rates = [0.0]
    for c in fractions[1:]:
        rates.append(optimize.brentq(lambda r, c=c: _censored_fraction(r, shape) - c, 1e-8, 100.0))
    return fractions, np.array(rates)


def censoring_rate(fraction: np.ndarray, shape: float) -> np.ndarray:
    """Exponential censoring rate (per unit median) giving the censoring fraction(s)."""
    fractions, rates = _rate_table(float(shape))
    return np.interp(fraction, fractions, rates)


def censoring_rate_fast(fraction: np.ndarray, shape: np.ndarray) -> np.ndarray:
    """Vectorised :func:`censoring_rate` for per-trial shapes (quantile-grid expectation and
    bisection on log rate; agrees with the quadrature to ~1e-3 relative, checked in the tests)."""
    fraction = np.asarray(fraction, dtype=float)
    shape = np.asarray(shape, dtype=float)
    u = (np.arange(1000) + 0.5) / 1000
    t_q = (-np.log1p(-u)[None, :] / np.log(2.0)) ** (1.0 / shape[:, None])
    lo = np.full(shape.shape, np.log(1e-8))
    hi = np.full(shape.shape, np.log(100.0))
    for _ in range(50):
        mid = (lo + hi) / 2
        frac = 1 - np.exp(-np.exp(mid)[:, None] * t_q).mean(axis=1)
        too_high = frac > fraction
        hi = np.where(too_high, mid, hi)
        lo = np.where(too_high, lo, mid)
    return np.where(fraction > 0, np.exp((lo + hi) / 2), 0.0)


def simulate_trials(
    rng: np.random.Generator,
    n_trials: int,
    n: int,
    median: np.ndarray | float,
    shape: np.ndarray | float,
    censoring: tuple[float, float],
    *,
    fast_rates: bool = False,
) -> tuple[np.ndarray, np.ndarray]:
    """Observed (time, event) arrays (n_trials, n) of Weibull trials with random censoring.

    ``median``/``shape`` are scalars or per-trial arrays; each trial draws its censoring fraction
    uniformly from ``censoring``; censoring times are exponential (independent of the event times).
    ``fast_rates`` solves the censoring rates vectorised (for many distinct shapes, e.g. posterior
    predictive draws) instead of by quadrature per shape.
    """
    median = np.broadcast_to(np.asarray(median, dtype=float), (n_trials,))
    shape = np.broadcast_to(np.asarray(shape, dtype=float), (n_trials,))
    u = rng.random((n_trials, n))
    t_unit = (-np.log1p(-u) / np.log(2.0)) ** (1.0 / shape[:, None])  # unit-median Weibull
    lo, hi = censoring
    frac = rng.uniform(lo, hi, n_trials) if hi > lo else np.full(n_trials, lo)
    if fast_rates:
        rate = censoring_rate_fast(frac, shape)
    else:
        rate = np.empty(n_trials)
        for k in np.unique(shape):
            sel = shape == k
            rate[sel] = censoring_rate(frac[sel], float(k))
    with np.errstate(divide="ignore"):
        c_unit = rng.exponential(1.0, (n_trials, n)) / rate[:, None]
    event = (t_unit <= c_unit).astype(int)
    time = np.minimum(t_unit, c_unit) * median[:, None]
    return time, event


def spacings_of_levels(levels: np.ndarray) -> np.ndarray:
    """(trials, 3) CDF levels -> (trials, 4) spacings (u_L, u_M-u_L, u_U-u_M, 1-u_U)."""
    return np.diff(np.c_[np.zeros(len(levels)), levels, np.ones(len(levels))], axis=1)


def _fit_alpha0(spacings: np.ndarray, mean: np.ndarray) -> float:
    """ML concentration alpha0 of Dirichlet(alpha0 * mean) for the given spacings."""
    log_s = np.log(spacings).mean(axis=0)

    def nll(log_a0: float) -> float:
        a = np.exp(log_a0) * mean
        return -float(special.gammaln(a.sum()) - special.gammaln(a).sum() + ((a - 1) * log_s).sum())

    res = optimize.minimize_scalar(nll, bounds=(np.log(2.0), np.log(1e4)), method="bounded")
    return float(np.exp(res.x))


def calibrate(
    n: int,
    transform: Transform,
    censoring: tuple[float, float],
    *,
    seed: int = CALIBRATION_SEED,
    trials_per_shape: int = TRIALS_PER_SHAPE,
    shapes: tuple[float, ...] = SHAPES,
) -> dict[str, Any]:
    """Calibrate alpha = alpha0 * mean spacings for one (n, transform, censoring range)."""
    rng = np.random.default_rng(
        [seed, n, TRANSFORMS.index(transform), *(int(c * 1000) for c in censoring)]
    )
    levels = []
    undefined = 0
    total = 0
    for k in shapes:
        time, event = simulate_trials(rng, trials_per_shape, n, 1.0, k, censoring)
        lmu = km_median_ci_batch(time, event, transform)[:, [1, 0, 2]]  # (L, M, U)
        ok = np.all(np.isfinite(lmu), axis=1)
        undefined += int((~ok).sum())
        total += len(lmu)
        levels.append(-np.expm1(-np.log(2.0) * lmu[ok] ** k))
    lv = np.concatenate(levels)
    sp = spacings_of_levels(lv)
    # a limit can coincide with the median (a large KM step crosses both levels): no density
    positive = np.all(sp > 0, axis=1)
    lv, sp = lv[positive], sp[positive]
    if len(lv) < MIN_USABLE_TRIALS:
        raise ValueError(
            f"only {len(lv)} of {total} simulated trials of n = {n} with {censoring[0]:.0%}-"
            f"{censoring[1]:.0%} censoring have a lower limit, median and upper limit all defined "
            f"and distinct (at least {MIN_USABLE_TRIALS} needed): the calibration is not defined"
        )
    mean = sp.mean(axis=0)
    alpha0 = _fit_alpha0(sp, mean)
    return {
        "n": int(n),
        "transform": transform,
        "censoring": [float(censoring[0]), float(censoring[1])],
        "alpha0": alpha0,
        "mean_levels": [float(x) for x in lv.mean(axis=0)],
        "mean_spacings": [float(x) for x in mean],
        "alpha": [float(x) for x in alpha0 * mean],
        "analytic_levels": list(crossing_levels(n, transform)),
        "share_upper_undefined": undefined / total,
        "share_tied_limit": float(1 - positive.mean()),
        "trials": len(lv),
    }


def _key(n: int, transform: str, censoring: tuple[float, float]) -> str:
    return f"n={int(n)}|{transform}|{float(censoring[0]):.2f}-{float(censoring[1]):.2f}"


@cache
def _stored() -> dict[str, Any]:
    if not CALIBRATION_FILE.exists():
        return {"entries": {}}
    return json.loads(CALIBRATION_FILE.read_text())


def dirichlet_alpha(
    n: int, transform: Transform, censoring: tuple[float, float]
) -> tuple[np.ndarray, dict[str, Any], str]:
    """The calibrated alpha (4-vector) for a scenario, its calibration entry, and its origin.

    Origin is ``"stored"`` (from :data:`CALIBRATION_FILE`) or ``"computed on the fly"`` (the
    scenario is not stored; the same simulation runs now, ~1-2 s).
    """
    entry = _stored()["entries"].get(_key(n, transform, censoring))
    origin = "stored"
    if entry is None:
        entry = _on_the_fly(int(n), transform, (float(censoring[0]), float(censoring[1])))
        origin = "computed on the fly"
    return np.asarray(entry["alpha"], dtype=float), entry, origin


@cache
def _on_the_fly(n: int, transform: Transform, censoring: tuple[float, float]) -> dict[str, Any]:
    """The entry of a scenario not stored in :data:`CALIBRATION_FILE`: from the user's cache
    folder when an earlier run computed it with the same code, else simulated now (and kept)."""
    folder = _cache_dir()
    path = None if folder is None else folder / f"{_key(n, transform, censoring)}.json"
    if path is not None:
        try:
            entry = json.loads(path.read_text())
            if entry.get("code") == _code_fingerprint():
                del entry["code"]
                return entry
        except (OSError, ValueError, AttributeError, KeyError):
            pass  # missing, unreadable or foreign: computed again (and replaced)
    entry = calibrate(n, transform, censoring, trials_per_shape=TRIALS_PER_SHAPE // 2)
    if path is not None:
        _keep(path, {**entry, "code": _code_fingerprint()})
    return entry


@cache
def _code_fingerprint() -> str:
    """SHA-256 (hex) of the code behind an entry ("" when its source cannot be read): the
    sources of this module, of the KM limits (:mod:`..frequentist.survival`) and of the constants
    they use, and the versions of NumPy (its random streams) and SciPy (root finding, quadrature,
    optimiser)."""
    import scipy

    digest = hashlib.sha256(f"numpy {np.__version__} scipy {scipy.__version__}".encode())
    for module in (sys.modules[__name__], survival, constants):
        try:
            digest.update(inspect.getsource(module).encode())
        except (OSError, TypeError):  # no source (a bytecode-only install): nothing is kept
            return ""
    return digest.hexdigest()


def _cache_dir() -> Path | None:
    """``<cache>/calibrations-<code>/`` (None when the cache is disabled or cannot be made).
    It holds a ``versions.json``, so ``model_cache.clear_cache`` removes it with the models."""
    from trial_reanalysis.analysis.inference.model_cache import cache_folder

    root = cache_folder()
    if root is None or not _code_fingerprint():
        return None
    folder = root / f"calibrations-{_code_fingerprint()[:16]}"
    try:
        folder.mkdir(parents=True, exist_ok=True, mode=0o700)
        stamp = folder / "versions.json"
        if not stamp.is_file():
            _keep(stamp, {"kind": "Dirichlet calibrations", "code": _code_fingerprint()})
    except OSError:
        return None
    return folder


def _keep(path: Path, doc: dict[str, Any]) -> None:
    """Write ``doc`` as JSON atomically (a parallel worker never reads half a file); a cache that
    cannot be written is skipped silently (the entry was computed, nothing is lost)."""
    tmp = None
    try:
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".tmp-", suffix=".json")
        with os.fdopen(fd, "w") as handle:
            json.dump(doc, handle)
        os.replace(tmp, path)
    except OSError:
        if tmp is not None:
            Path(tmp).unlink(missing_ok=True)


#: Variable names of the stored study (written before the time-to-event port) -> the model's.
_STUDY_NAMES = {"median_pfs": "median", "weibull_shape": "weibull_shape"}


def stored_validation() -> dict[str, Any] | None:
    """Summary of the stored simulation study of the summary model (None when absent):
    pooled coverage and SBC P values keyed by the model's variables (``median``,
    ``weibull_shape``), replicates, date and the study's n."""
    if not STUDY_FILE.exists():
        return None
    doc = json.loads(STUDY_FILE.read_text())
    names = {k: _STUDY_NAMES.get(k, k) for k in doc["pooled_coverage95"]}
    return {
        "pooled_coverage95": {names[k]: v for k, v in doc["pooled_coverage95"].items()},
        "sbc_p_values": {names[k]: doc["sbc"][k]["p_value"] for k in names if doc["sbc"].get(k)},
        "replicates": sum(s["replicates"] for s in doc["coverage"]),
        "sbc_replicates": doc["sbc"]["replicates"],
        "n": doc["provenance"]["settings"]["n"],
        "date": doc["provenance"]["date"],
    }
