"""Hand-made mutation testing of the statistical core (issue 13, item 6).

A fixed list of mutants (one textual change each: a sign, a direction, an interval level, a gate,
a conversion constant, an off-by-one) is applied, one at a time, to a copy of the working tree
(never to the tree itself); for each, only the fast test files that concern the mutated module run,
with a timeout. A mutant is *killed* when a test fails (or the run errors or times out) and
*survives* when every selected test passes. Results are written as JSON; ``--markdown`` turns
one or two JSON files (before and after new tests) into ``tests/mutation/RESULTS.md``.

Usage (from the repository root):

    python tools/mutants.py --list
    python tools/mutants.py --out tests/mutation/after.json [--only D1,D2] [--timeout 600]
    python tools/mutants.py --markdown tests/mutation/before.json tests/mutation/after.json

The copy is made with ``shutil.copytree`` of the working tree (without .git, caches, results),
and tests run as ``python -m pytest <files> -x -q -p no:cacheprovider`` from the copy with
``PYTHONPATH`` set to the copy, so its code wins over any installed one.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from dataclasses import asdict, dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]

# Test files of each concern; a file missing from the tree is skipped (so the same list serves
# the run before the new tests exist and the run after).
T_DIAG = ["tests/test_diagnostics.py", "tests/test_mutants_diagnostics.py"]
T_SURV = [
    "tests/test_time_to_event_model.py",
    "tests/test_time_to_event_survival.py",
    "tests/test_mutants_survival.py",
]
T_TTE = ["tests/test_time_to_event_analysis.py", "tests/test_mutants_survival.py"]
T_PLAN = ["tests/test_planning.py", "tests/test_mutants_survival.py"]
T_RATES = ["tests/test_reconstruction.py", "tests/test_mutants_rates.py"]
T_RATE_REPORT = [
    "tests/test_rate_report.py",
    "tests/test_reconstruction.py",
    "tests/test_mutants_rates.py",
]
T_TABLES = ["tests/test_tables.py", "tests/test_mutants_comparison.py"]
T_COMPARISON = [
    "tests/test_comparison_evidence.py",
    "tests/test_tables.py",
    "tests/test_mutants_comparison.py",
]
T_BINOMIAL = ["tests/test_frequentist.py", "tests/test_mutants_binomial.py"]
T_FOLLOWUP = ["tests/test_followup.py", "tests/test_mutants_planning.py"]
T_SEQ = ["tests/test_sequential.py", "tests/test_mutants_planning.py"]
T_MAP = ["tests/test_map_prior.py", "tests/test_mutants_planning.py"]
T_LEVEL = ["tests/test_rate_report.py", "tests/test_mutants_rates.py"]


@dataclass(frozen=True)
class Mutant:
    """One textual change: ``old`` (which must occur exactly once in ``file``) becomes ``new``."""

    id: str
    file: str
    old: str
    new: str
    what: str
    tests: tuple[str, ...]


def _m(id_: str, file: str, old: str, new: str, what: str, tests: list[str]) -> Mutant:
    return Mutant(id_, file, old, new, what, tuple(tests))


DIAG = "analysis/inference/diagnostics.py"
SURV = "analysis/frequentist/survival.py"
TTE = "analysis/endpoints/time_to_event.py"
MTTE = "models/time_to_event.py"
RATES = "analysis/reconstruction/rates.py"
RR = "analysis/reconstruction/rate_report.py"
TABLES = "analysis/reconstruction/tables.py"
COMP = "analysis/endpoints/comparison.py"
MCOMP = "models/comparison.py"
BIN = "analysis/frequentist/binomial.py"
FOLLOW = "analysis/planning/followup.py"
SEQ = "analysis/planning/sequential.py"
MAP = "analysis/planning/map_prior.py"
PLAN = "analysis/planning/plan.py"
SUMM = "analysis/endpoints/summaries.py"
CONST = "analysis/constants.py"

MUTANTS: tuple[Mutant, ...] = (
    # --- diagnostic gates -------------------------------------------------------------------
    _m(
        "D1",
        DIAG,
        "r_hat_max: float = 1.01",
        "r_hat_max: float = 1.1",
        "R-hat gate 1.01 -> 1.1",
        T_DIAG,
    ),
    _m(
        "D2",
        DIAG,
        'for kind in ("ess_bulk", "ess_tail"):',
        'for kind in ("ess_bulk",):',
        "tail ESS ignored",
        T_DIAG,
    ),
    _m(
        "D3",
        DIAG,
        "divergences = int(np.sum(diverging))",
        "divergences = int(np.mean(diverging))",
        "divergences averaged over draws",
        T_DIAG,
    ),
    _m(
        "D4",
        DIAG,
        "ebfmi = float(np.min(az.bfmi(idata)))",
        "ebfmi = float(np.max(az.bfmi(idata)))",
        "E-BFMI of the best chain",
        T_DIAG,
    ),
    _m(
        "D5",
        DIAG,
        "    idata = compiled.fit(data, seed=seed + 1, settings=settings.stricter())\n",
        "",
        "retry flagged but never run (first fit re-checked)",
        T_DIAG,
    ),
    _m(
        "D6",
        DIAG,
        "        return not self.failures",
        "        return True",
        "passed true after failures",
        T_DIAG,
    ),
    _m(
        "D7",
        DIAG,
        "ess_min: float = 400.0",
        "ess_min: float = 100.0",
        "ESS gate 400 -> 100",
        T_DIAG,
    ),
    _m(
        "D8",
        DIAG,
        "ebfmi_min: float = 0.3",
        "ebfmi_min: float = 0.2",
        "E-BFMI gate 0.3 -> 0.2",
        T_DIAG,
    ),
    _m(
        "D9",
        "analysis/run.py",
        'results["diagnostics_passed"] = all(d.passed for e in endpoints for d in e.diagnostics)',
        'results["diagnostics_passed"] = True',
        "results.json diagnostics_passed true after allowed failures",
        T_DIAG,
    ),
    _m(
        "D10",
        DIAG,
        '"ess_tail_min": float(self.table["ess_tail"].min()),',
        '"ess_tail_min": float(self.table["ess_tail"].max()),',
        "summary reports the best tail ESS as the minimum",
        T_DIAG,
    ),
    # --- Weibull median <-> scale, survival at t --------------------------------------------
    _m(
        "S1",
        SURV,
        "np.exp(-np.log(2.0) * (np.asarray(t)",
        "np.exp(-1.0 * (np.asarray(t)",
        "ln 2 dropped from survival at t",
        T_SURV,
    ),
    _m(
        "S2",
        SURV,
        "return np.asarray(median) / np.log(2.0) ** (1.0 / np.asarray(shape))",
        "return np.asarray(median) / np.log(2.0)",
        "median -> scale conversion without the 1/k power",
        T_SURV,
    ),
    _m(
        "S3",
        SURV,
        '"median": lam * np.log(2.0) ** (1 / k), "loglik"',
        '"median": lam, "loglik"',
        "Weibull MLE median without ln 2",
        T_SURV,
    ),
    _m(
        "S4",
        TTE,
        "scale = m / math.log(2) ** (1 / k)",
        "scale = m",
        "summary ML scale without ln 2",
        T_TTE,
    ),
    _m(
        "S5",
        TTE,
        'out["p_shape_above_1"] = float(np.mean(k > 1))',
        'out["p_shape_above_1"] = float(np.mean(k < 1))',
        "P(k > 1) computed as P(k < 1)",
        T_TTE,
    ),
    _m(
        "S6",
        TTE,
        "        s = weibull_survival(t, m, k)\n",
        "        s = np.exp(-((t / m) ** k))\n",
        "survival at t: median used as the scale",
        T_TTE,
    ),
    _m(
        "S7",
        MTTE,
        "    log_ln2 = float(np.log(LN2))",
        "    log_ln2 = 0.0",
        "summary likelihood hazard without ln 2",
        T_SURV,
    ),
    _m(
        "S8",
        MTTE,
        "mu = float(np.log(LN2)) + shape[..., None]",
        "mu = shape[..., None]",
        "landmark likelihood cloglog without ln 2",
        T_SURV,
    ),
    _m(
        "S9",
        PLAN,
        "lam = m / np.log(2.0) ** (1.0 / k)",
        "lam = m",
        "planning PFS simulation without ln 2",
        T_PLAN,
    ),
    _m(
        "S10",
        TTE,
        'out["sd_log_shape"] = float(np.std(np.log(k)))',
        'out["sd_log_shape"] = float(np.std(k))',
        "sd of log k computed on k",
        T_TTE,
    ),
    # --- rates and their intervals ----------------------------------------------------------
    _m(
        "R1",
        RATES,
        "lo = np.where(x > 0, special.betaincinv(x, n - x + 1, tail), 0.0)",
        "lo = np.where(x > 0, special.betaincinv(x, n - x + 1, 2 * tail), 0.0)",
        "Clopper-Pearson lower limit at alpha instead of alpha/2",
        T_RATES,
    ),
    _m(
        "R2",
        RATES,
        "hi = np.where(x < n, special.betaincinv(x + 1, n - x, 1.0 - tail), 1.0)",
        "hi = np.where(x < n, special.betaincinv(x, n - x + 1, 1.0 - tail), 1.0)",
        "Clopper-Pearson upper limit off by one (Beta(x, n-x+1))",
        T_RATES,
    ),
    _m(
        "R3",
        RATES,
        "half_unit = 0.5 * 10.0 ** (-int(decimals)) + _EPSILON",
        "half_unit = 1.0 * 10.0 ** (-int(decimals)) + _EPSILON",
        "rounding half-width doubled in reconstruct_rate",
        T_RATES,
    ),
    _m(
        "R4",
        RATES,
        "return np.abs(values - printed) <= 0.5 * unit + _EPSILON",
        "return np.abs(values - printed) <= unit + _EPSILON",
        "printed_match half-width doubled",
        T_RATE_REPORT,
    ),
    _m(
        "R5",
        RATES,
        "lo = np.where(x > 0, special.betaincinv(x + 0.5, n - x + 0.5, tail), 0.0)",
        "lo = np.where(x > 0, special.betaincinv(x + 1, n - x + 1, tail), 0.0)",
        "Jeffreys lower limit from Beta(x+1, n-x+1)",
        T_RATES,
    ),
    _m(
        "R6",
        RATES,
        "confidence_level=level, method=_SCIPY_METHOD[method]",
        "confidence_level=0.90, method=_SCIPY_METHOD[method]",
        "proportion_ci at 90 % whatever the level",
        T_RATES,
    ),
    _m(
        "R7",
        RATES,
        "centre = (x + z**2 / 2) / (n + z**2)",
        "centre = (x + z**2) / (n + z**2)",
        "Wilson centre wrong",
        T_RATES,
    ),
    _m(
        "R8",
        RR,
        "second = a * (a + 1) / ((a + b) * (a + b + 1))",
        "second = a * (a + 1) / ((a + b) * (a + b))",
        "Beta-mixture variance wrong",
        T_RATE_REPORT,
    ),
    _m(
        "R9",
        RR,
        "total = np.sum(self.weights * special.betaincc(self.alpha, self.beta, t), axis=-1)",
        "total = np.sum(self.weights * special.betainc(self.alpha, self.beta, t), axis=-1)",
        "posterior sf P(rate > t) computed as P(rate < t)",
        T_RATE_REPORT,
    ),
    _m(
        "R10",
        RR,
        "        tail = (1.0 - level) / 2.0\n        return self.ppf(tail)",
        "        tail = 1.0 - level\n        return self.ppf(tail)",
        "exact posterior interval at 90 % labelled 95 %",
        T_RATE_REPORT,
    ),
    _m(
        "R11",
        RR,
        "grid = np.linspace(0.0, spare, 41)",
        "grid = np.linspace(spare / 2, spare, 41)",
        "HDI search only right of the equal-tailed interval",
        T_RATE_REPORT,
    ),
    _m(
        "R12",
        RR,
        "        - special.betaln(a, b)\n    )",
        "    )",
        "mixture-prior posterior weights without the prior normaliser",
        T_RATE_REPORT,
    ),
    _m(
        "R13",
        CONST,
        "INTERVAL_LEVEL: Final = 0.95",
        "INTERVAL_LEVEL: Final = 0.90",
        "every interval at 90 % (labels still say 95 %)",
        T_LEVEL,
    ),
    _m(
        "R14",
        SUMM,
        "lo, hi = np.quantile(np.asarray(draws).ravel(), INTERVAL_TAILS)",
        "lo, hi = np.quantile(np.asarray(draws).ravel(), (0.05, 0.95))",
        "MCMC equal-tailed interval at 90 %",
        ["tests/test_mutants_survival.py", *T_LEVEL],
    ),
    # --- 2x2 tables, P values, comparison ----------------------------------------------------
    _m(
        "T1",
        TABLES,
        'if test == "fisher"',
        'if test != "fisher"',
        "Fisher and chi-square swapped",
        T_TABLES,
    ),
    _m(
        "T2",
        TABLES,
        "half = 0.5 * 10.0 ** (-decimals)",
        "half = 1.0 * 10.0 ** (-decimals)",
        "P rounding half-width doubled",
        T_TABLES,
    ),
    _m(
        "T3",
        TABLES,
        "return 1 if more_frequent_in == groups[0] else -1",
        "return -1 if more_frequent_in == groups[0] else 1",
        "reported direction inverted",
        T_TABLES,
    ),
    _m(
        "T4",
        TABLES,
        "return keep & (np.sign(a * n2 - c * n1) == sign)",
        "return keep & (np.sign(a * n1 - c * n2) == sign)",
        "direction of a table compares counts, not proportions",
        T_TABLES,
    ),
    _m(
        "T5",
        TABLES,
        "stats.chi2.sf(statistic, df=1)",
        "stats.chi2.sf(statistic, df=2)",
        "chi-square with 2 df",
        T_TABLES,
    ),
    _m(
        "T6",
        TABLES,
        "keep = (p_grid >= lo) & (p_grid < hi)",
        "keep = (p_grid > lo) & (p_grid < hi)",
        "P interval open at its lower end",
        T_TABLES,
    ),
    _m(
        "C1",
        COMP,
        '"p_reported_direction": None if sign is None else (p_above if sign > 0 else p_below),',
        '"p_reported_direction": None if sign is None else p_above,',
        "sign of the log OR ignored for an event more frequent in the reference group",
        T_COMPARISON,
    ),
    _m(
        "C2",
        COMP,
        "p_above = float(np.mean(draws > 0))",
        "p_above = float(np.mean(draws < 0))",
        "P(OR > 1) computed as P(OR < 1)",
        T_COMPARISON,
    ),
    _m(
        "C3",
        COMP,
        "bf0 = -math.e * p_value * math.log(p_value) if",
        "bf0 = -p_value * math.log(p_value) if",
        "SBB calibration without e",
        T_COMPARISON,
    ),
    _m(
        "C4",
        COMP,
        'return {"min_bayes_factor_h0": bf0, "bayes_factor": 1 / bf0}',
        'return {"min_bayes_factor_h0": 1 / bf0, "bayes_factor": bf0}',
        "SBB bound inverted",
        T_COMPARISON,
    ),
    _m(
        "C5",
        MCOMP,
        "mass[side] = float(stats.norm.sf(0.0, mu, sd) if side > 0 else "
        "stats.norm.cdf(0.0, mu, sd))",
        "mass[side] = float(stats.norm.cdf(0.0, mu, sd) if side > 0"
        " else stats.norm.sf(0.0, mu, sd))",
        "side mass of the directional Bayes factor swapped",
        T_COMPARISON,
    ),
    _m(
        "C6",
        COMP,
        "lo, hi = np.quantile(draws, INTERVAL_TAILS)",
        "lo, hi = np.quantile(draws, (0.05, 0.95))",
        "OR interval at 90 %",
        T_COMPARISON,
    ),
    # --- frequentist binomial, Simon --------------------------------------------------------
    _m(
        "B1",
        BIN,
        'alternative="greater"',
        'alternative="two-sided"',
        "exact binomial test two-sided",
        T_BINOMIAL,
    ),
    _m(
        "B2",
        BIN,
        "ok = stats.binom.sf(r, n, p1) >= power - _TOL",
        "ok = stats.binom.sf(r - 1, n, p1) >= power - _TOL",
        "single-stage power at the critical value minus one",
        T_BINOMIAL,
    ),
    _m(
        "B3",
        BIN,
        "    x1 = np.arange(r1 + 1, n1 + 1)\n    return",
        "    x1 = np.arange(r1, n1 + 1)\n    return",
        "Simon rejection sums from r1 (off by one)",
        T_BINOMIAL,
    ),
    _m(
        "B4",
        BIN,
        "go_count = x > design.r",
        "go_count = x >= design.r",
        "trial decision: go at r responders",
        T_BINOMIAL,
    ),
    _m(
        "B5",
        BIN,
        "prob_stop = float(hyper_stage1.cdf(design.r1))",
        "prob_stop = float(hyper_stage1.cdf(design.r1 - 1))",
        "P(stop at stage 1) off by one",
        T_BINOMIAL,
    ),
    # --- planning -----------------------------------------------------------------------------
    _m(
        "F1",
        FOLLOW,
        "return float(alpha + beta)",
        "return float(alpha + beta - 1)",
        "Beta ESS a + b - 1",
        T_FOLLOWUP,
    ),
    _m(
        "F2",
        FOLLOW,
        '"ess": _sig(4.0 / (p * (1 - p) * sigma**2)),',
        '"ess": _sig(1.0 / (p * (1 - p) * sigma**2)),',
        "log OR prior ESS without the 4",
        T_FOLLOWUP,
    ),
    _m(
        "F3",
        FOLLOW,
        "return 1 + d * (alpha - 1), 1 + d * (beta - 1)",
        "return d * alpha, d * beta",
        "power prior discounts the initial prior too",
        T_FOLLOWUP,
    ),
    _m(
        "F4",
        FOLLOW,
        "common = m * (1 - m) / v - 1",
        "common = m * (1 - m) / v",
        "Beta moment match off by one",
        T_FOLLOWUP,
    ),
    _m(
        "F5",
        FOLLOW,
        "base = float(np.sum(w * (np.where(a > 1, b, 0.0) + np.where(b > 1, a, 0.0))))",
        "base = float(np.sum(w * (a + b)))",
        "ELIR counts a vague component",
        T_FOLLOWUP,
    ),
    _m(
        "Q1",
        SEQ,
        "special.betaincc(np.maximum(ap, 1e-300), bp, p0)",
        "special.betainc(np.maximum(ap, 1e-300), bp, p0)",
        "P(p > p0 | x) computed as P(p < p0)",
        T_SEQ,
    ),
    _m(
        "Q2",
        SEQ,
        'cut, side="right"))',
        'cut, side="left"))',
        "success boundary >= cut instead of > cut",
        T_SEQ,
    ),
    _m(
        "Q3",
        SEQ,
        "stats.norm.ppf((1.0 + lam) / 2.0) / np.sqrt(t)",
        "stats.norm.ppf((1.0 + lam) / 2.0) * np.sqrt(t)",
        "BOP2 efficacy cut-off scaled wrong",
        T_SEQ,
    ),
    _m(
        "Q4",
        SEQ,
        "eff.append(q[k] * (x >= design.efficacy[k]))",
        "eff.append(q[k] * (x > design.efficacy[k]))",
        "efficacy stop off by one",
        T_SEQ,
    ),
    _m(
        "Q5",
        SEQ,
        "k = need[..., None] - 1.0",
        "k = need[..., None]",
        "predictive P(x + Y >= b) as P(x + Y > b)",
        T_SEQ,
    ),
    _m(
        "M1",
        MAP,
        "base = float(np.sum(w / s**2))",
        "base = float(np.sum(w / s))",
        "normal ESS 1/s instead of 1/s^2",
        T_MAP,
    ),
    _m(
        "M2",
        MAP,
        "upper = float(np.sum(w * stats.betabinom.sf(x - 1, n, a, b)))",
        "upper = float(np.sum(w * stats.betabinom.sf(x, n, a, b)))",
        "rate conflict upper tail excludes x",
        T_MAP,
    ),
)


#: Why each survivor of the run before the new tests mattered (a printed number or not).
SURVIVOR_NOTES: dict[str, str] = {
    "D2": "printed: a fit failing only on tail ESS would be reported as passing its gates",
    "D3": "printed: a few divergences (fewer than the draws) vanish from gates and results.json",
    "D4": "printed: ebfmi_min in results.json and the E-BFMI gate read the best chain",
    "D7": "printed: fits with ESS 100-400 pass (gate and report)",
    "D8": "printed: fits with E-BFMI 0.2-0.3 pass",
    "D9": "printed: results.json diagnostics_passed true after failures allowed through "
    "(the test read only the in-memory property)",
    "D10": "printed: ess_tail_min in results.json",
    "S2": "not printed: weibull_scale is defined but used nowhere in the package (dead code); "
    "tested anyway",
    "S4": "printed: frequentist.summary_ml.scale in results.json (the test compared the package "
    "with itself)",
    "S10": "printed: sd_log_shape in results.json",
    "R14": "printed: the MCMC intervals built by endpoints.summaries.interval (time-to-event "
    "median, shape and survival at t, among others)",
    "T6": "printed only at an exact tie: a table whose P equals the interval's lower end",
    "C1": "printed: P(reported direction) for an event more frequent in the reference group",
    "C4": "printed: the SBB minimum Bayes factor and its inverse",
    "C5": "printed: the directional Bayes factor under a prior on the log OR not centred at 0 "
    "(a trial file may declare one; the shipped priors are centred, where the swap is invisible)",
    "C6": "printed: the odds ratio's and log OR's 95 % interval",
    "Q2": "printed only at an exact tie: a design boundary where P(p > p0 | x) equals the cut",
}


def _copy_tree(dest: Path, rev: str | None = None) -> None:
    """Copy the working tree to ``dest``, or the committed tree of ``rev`` (git archive)."""
    if rev is not None:
        dest.mkdir(parents=True)
        archive = subprocess.run(
            ["git", "-C", str(ROOT), "archive", rev], capture_output=True, check=True
        ).stdout
        subprocess.run(["tar", "-x", "-C", str(dest)], input=archive, check=True)
        return
    ignore = shutil.ignore_patterns(
        ".git", "__pycache__", ".pytest_cache", ".ruff_cache", "results", ".venv", "site", "*.nc"
    )
    shutil.copytree(ROOT, dest, ignore=ignore, dirs_exist_ok=True)


def _run_tests(tree: Path, files: list[str], timeout: float) -> tuple[str, str, float]:
    """(status, detail, seconds): status "passed", "failed", "error" or "timeout"."""
    env = dict(os.environ, PYTHONPATH=str(tree))
    cmd = [sys.executable, "-m", "pytest", *files, "-x", "-q", "-p", "no:cacheprovider"]
    start = time.monotonic()
    try:
        proc = subprocess.run(
            cmd, cwd=tree, env=env, capture_output=True, text=True, timeout=timeout, check=False
        )
    except subprocess.TimeoutExpired:
        return "timeout", f"no result within {timeout:.0f} s", time.monotonic() - start
    seconds = time.monotonic() - start
    out = proc.stdout + proc.stderr
    if proc.returncode == 0:
        return "passed", "", seconds
    failed = re.findall(r"^(?:FAILED|ERROR) (\S+)", out, flags=re.MULTILINE)
    if proc.returncode == 1 and failed:
        return "failed", failed[0], seconds
    return "error", (failed[0] if failed else out.strip().splitlines()[-1][:200]), seconds


def run(mutants: list[Mutant], timeout: float, rev: str | None = None) -> list[dict]:
    """Apply each mutant to a fresh copy's file, run its tests, restore; return one row each."""
    rows = []
    with tempfile.TemporaryDirectory(prefix="mutants-") as tmp:
        tree = Path(tmp) / "tree"
        _copy_tree(tree, rev)
        for mut in mutants:
            path = tree / mut.file
            original = path.read_text()
            count = original.count(mut.old)
            # the new test files first: with -x a mutant they kill stops before the slow files
            files = sorted(
                (f for f in mut.tests if (tree / f).exists()),
                key=lambda f: "test_mutants_" not in f,
            )
            row = {**asdict(mut), "tests_run": files}
            if count != 1:
                row.update(status="invalid", detail=f"'old' occurs {count} times", seconds=0.0)
            else:
                path.write_text(original.replace(mut.old, mut.new))
                try:
                    status, detail, seconds = _run_tests(tree, files, timeout)
                finally:
                    path.write_text(original)
                row.update(
                    status="survived" if status == "passed" else "killed",
                    how=status,
                    detail=detail,
                    seconds=round(seconds, 1),
                )
            rows.append(row)
            print(f"{mut.id:4s} {row['status']:8s} {row.get('detail', '')}", flush=True)
    return rows


def _load(spec: str) -> list[dict]:
    """Rows of comma-joined JSON files, in the order of :data:`MUTANTS` (later files win)."""
    by_id = {}
    for name in spec.split(","):
        by_id.update({r["id"]: r for r in json.loads(Path(name).read_text())})
    return [by_id[m.id] for m in MUTANTS if m.id in by_id]


def markdown(before: list[dict], after: list[dict] | None) -> str:
    """The RESULTS.md table: one row per mutant, killed by which test or survived."""

    def score(rows: list[dict]) -> str:
        valid = [r for r in rows if r["status"] in ("killed", "survived")]
        killed = sum(r["status"] == "killed" for r in valid)
        return f"{killed}/{len(valid)} killed ({100 * killed / len(valid):.0f} %)"

    def cell(row: dict | None) -> str:
        if row is None:
            return "-"
        if row["status"] == "survived":
            return "**survived**"
        if row["status"] == "invalid":
            return f"invalid ({row['detail']})"
        if row["how"] == "as before":
            return "killed (as before, not rerun)"
        return f"killed ({row['how']}): `{row['detail']}`"

    # Tests are only ever added, so a mutant killed before and not rerun stays killed.
    if after is not None:
        rerun = {r["id"]: r for r in after}
        after = [rerun.get(r["id"], {**r, "how": "as before"}) for r in before]
    after_by_id = {r["id"]: r for r in after or []}
    lines = [
        "# Mutation testing of the statistical core",
        "",
        "Generated by `python tools/mutants.py --markdown ...` from the JSON files beside it;",
        "each mutant is one textual change applied to a copy of the tree, with only the listed",
        "fast test files run (`-x`, timeout). Killed: a test failed (or errored or timed out).",
        "",
        "The run before the new tests mutated commit 10fc919 (`--rev`); its D1-D3 rows",
        "(before_d1.json) were read from the log of a first run over the same tree, stopped to",
        "split the work in two processes. The run after covered only the survivors: tests were",
        "only added, so a mutant killed before stays killed.",
        "",
        f"- before the new tests: {score(before)}",
    ]
    if after is not None:
        lines.append(f"- after the new tests: {score(after)}")
    lines += ["", "| id | file | mutant | before | after |", "|---|---|---|---|---|"]
    for row in before:
        lines.append(
            f"| {row['id']} | `{row['file']}` | {row['what']} | {cell(row)} | "
            f"{cell(after_by_id.get(row['id']))} |"
        )
    survivors = [r for r in before if r["status"] == "survived"]
    if survivors:
        lines += [
            "",
            "## Survivors before the new tests",
            "",
            "Each was a gap in the tests, not a defect of the code (the unmutated code gives the",
            "reference values); the new test files `tests/test_mutants_*.py` (and one assertion",
            "added to `tests/test_diagnostics.py`) kill every one.",
            "",
        ]
        lines += [
            f"- {r['id']} ({r['what']}): {SURVIVOR_NOTES.get(r['id'], '')}" for r in survivors
        ]
    return "\n".join(lines) + "\n"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--list", action="store_true", help="print the mutants and exit")
    parser.add_argument("--only", default="", help="comma-separated mutant ids")
    parser.add_argument("--out", type=Path, help="JSON file of the results")
    parser.add_argument("--timeout", type=float, default=600.0, help="seconds per mutant")
    parser.add_argument("--rev", help="mutate this commit's tree instead of the working tree")
    parser.add_argument(
        "--markdown",
        nargs="+",
        help="before.json[,more.json] [after.json[,more.json]]: one or two comma-joined lists",
    )
    args = parser.parse_args()
    if args.list:
        for mut in MUTANTS:
            print(f"{mut.id:4s} {mut.file:42s} {mut.what}")
        return
    if args.markdown:
        runs = [_load(spec) for spec in args.markdown]
        before, after = runs[0], (runs[1] if len(runs) > 1 else None)
        out = Path(args.markdown[0].split(",")[0]).parent / "RESULTS.md"
        out.write_text(markdown(before, after))
        print(out)
        return
    wanted = {s.strip() for s in args.only.split(",") if s.strip()}
    chosen = [m for m in MUTANTS if not wanted or m.id in wanted]
    rows = run(chosen, args.timeout, args.rev)
    if args.out:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(json.dumps(rows, indent=1) + "\n")


if __name__ == "__main__":
    main()
