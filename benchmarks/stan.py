"""Side by side with rstan: the package's three core models as Stan programs (issue 7, item 3).

    python benchmarks/stan.py           # prints the markdown section (about 3-5 minutes)

The Stan programs in ``benchmarks/stan/`` are line-for-line equivalents of the PyMC models:

- ``beta_binomial.stan``: models/rate.py ``build_rate_model`` with one candidate, 14/47, uniform
  prior (the report-mixture likelihood with one candidate is the beta-binomial);
- ``weibull_patient.stan``: models/time_to_event.py ``build_patient_model`` (right-censored
  Weibull) on a real data set with patient-level data, lifelines' ``load_lung`` (NCCTG lung
  cancer, 228 patients, 165 events; days converted to months), primary prior (months);
- ``weibull_summary.stan``: models/time_to_event.py ``build_summary_model`` (order-statistic
  Dirichlet likelihood with its Jacobian; PyMC samples it as (log shape, median offset), Stan as
  (median, shape): the same target density) on the seed trial's (L, M, U) = (3.6, 4.4, 5.9),
  alpha from the stored calibration (n = 48, log transform, censoring 0-20 %), primary prior.

For each model, ``benchmarks/stan/run_stan.R`` compiles with rstan and samples 4 chains x 1000 draws
after 1000 warmup (``cores = 2``), timing ``stan_model`` and ``sampling`` separately; the package
compiles the same model with :class:`analysis.inference.fitting.CompiledModel` (nutpie) and fits it
twice
(the first fit pays nutpie's one-off set-up; the second is the steady-state cost of a refit). Min
bulk ESS comes from arviz for both. Posterior means and 2.5 %/97.5 % quantiles of the shared
parameters must agree within 3 * sqrt(mcse_rstan^2 + mcse_nutpie^2). R and rstan are needed only
here: without them the section is a one-line note. Compiled Stan models go to a temporary folder;
nothing is cached in the repository.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

import trial_reanalysis  # noqa: E402,F401  (sets the pytensor BLAS flag before pymc loads)

STAN_DIR = Path(__file__).resolve().with_name("stan")
R_SCRIPT = STAN_DIR / "run_stan.R"
CHAINS, WARMUP, DRAWS, CORES = 4, 1000, 1000, 2
STAN_SEED = 20101115
#: Agreement tolerance in Monte Carlo standard errors of the difference.
TOLERANCE_SE = 3.0
#: Days per month (lung data are in days; the package works in months).
DAYS_PER_MONTH = 365.25 / 12


@dataclass
class Case:
    """One model: its Stan program, Stan data, PyMC builder, the pm.Data values of its fit, and
    the parameters compared (PyMC name -> Stan name)."""

    name: str
    stan_file: str
    stan_data: dict[str, Any]
    build: Callable[[], Any]
    params: dict[str, str]
    fit_data: dict[str, Any] = field(default_factory=dict)


def _pfs_prior_data() -> dict[str, float]:
    from trial_reanalysis.models.priors import primary
    from trial_reanalysis.models.time_to_event import default_priors, prior_data

    return {k: float(v) for k, v in prior_data(primary(default_priors("months"))).items()}


def cases() -> list[Case]:
    """The three models with the data both samplers get."""
    import numpy as np
    from lifelines.datasets import load_lung

    from trial_reanalysis.analysis.inference.calibration import dirichlet_alpha
    from trial_reanalysis.models.rate import (
        RATE,
        build_rate_model,
        burden_reduction_priors,
        model_data,
    )
    from trial_reanalysis.models.time_to_event import (
        MEDIAN,
        SCALE,
        SHAPE,
        build_patient_model,
        build_summary_model,
        summary_data,
    )

    uniform = burden_reduction_priors()["uniform"]
    beta_binomial = Case(
        "burden reduction (beta-binomial, 14/47)",
        "beta_binomial.stan",
        {
            "evaluable": 47,
            "responders": 14,
            "prior_alpha": float(uniform.parameters["alpha"]),
            "prior_beta": float(uniform.parameters["beta"]),
        },
        build_rate_model,  # the rate model with one candidate (14/47) is the beta-binomial
        {RATE: "burden_reduction_rate"},
        model_data(14, 47, uniform),
    )

    lung = load_lung()
    time_months = lung["time"].to_numpy(dtype=float) / DAYS_PER_MONTH
    event = (lung["status"].to_numpy() == 1).astype(int)  # lifelines: 1 = death, 0 = censored
    pfs = {MEDIAN: "median_pfs", SHAPE: SHAPE, SCALE: SCALE}
    patient = Case(
        f"right-censored Weibull (lifelines lung, n = {len(lung)}, {event.sum()} events)",
        "weibull_patient.stan",
        {
            "n_event": int(event.sum()),
            "n_censored": int((event == 0).sum()),
            "time_event": time_months[event == 1].tolist(),
            "time_censored": time_months[event == 0].tolist(),
            **_pfs_prior_data(),
        },
        lambda: build_patient_model(time_months, event),
        pfs,
    )

    alpha, _, _ = dirichlet_alpha(48, "log", (0.0, 0.2))
    summary = Case(
        "summary-likelihood Weibull (L, M, U = 3.6, 4.4, 5.9)",
        "weibull_summary.stan",
        {
            "pfs_lower": 3.6,
            "pfs_median": 4.4,
            "pfs_upper": 5.9,
            "pfs_has_upper": 1,
            "dirichlet_alpha": np.asarray(alpha, dtype=float).tolist(),
            **_pfs_prior_data(),
        },
        lambda: build_summary_model("L,M,U", summary_data(4.4, 3.6, 5.9, alpha)),
        pfs,
    )
    return [beta_binomial, patient, summary]


def rstan_missing() -> str | None:
    """Why rstan cannot run here (no Rscript, no rstan or jsonlite), or None when it can."""
    rscript = shutil.which("Rscript")
    if rscript is None:
        return "Rscript not found on PATH"
    check = (
        'for (p in c("rstan", "jsonlite")) '
        "if (!requireNamespace(p, quietly = TRUE)) { cat(p); quit(status = 3) }"
    )
    try:
        proc = subprocess.run([rscript, "-e", check], capture_output=True, text=True, timeout=120)
    except (OSError, subprocess.SubprocessError) as exc:
        return f"Rscript failed to start ({exc})"
    if proc.returncode != 0:
        missing = proc.stdout.strip() or "rstan"
        return f"R package '{missing}' is not installed"
    return None


def run_rstan(case: Case, workdir: Path) -> dict[str, Any]:
    """Compile and sample one case with rstan in a subprocess; draws as InferenceData."""
    import arviz as az
    import numpy as np
    import pandas as pd

    stem = workdir / case.stan_file.removesuffix(".stan")
    data_file, draws_file, timing_file = (
        stem.with_suffix(".json"),
        stem.with_suffix(".csv"),
        stem.with_name(stem.name + "_timing.json"),
    )
    data_file.write_text(json.dumps(case.stan_data))
    tmp = workdir / "Rtmp"
    tmp.mkdir(exist_ok=True)
    env = dict(os.environ, TMPDIR=str(tmp))  # R's tempdir(): where rstan compiles
    args = [
        shutil.which("Rscript") or "Rscript",
        str(R_SCRIPT),
        str(STAN_DIR / case.stan_file),
        str(data_file),
        str(draws_file),
        str(timing_file),
        str(STAN_SEED),
        str(CHAINS),
        str(WARMUP),
        str(DRAWS),
        str(CORES),
    ]
    t0 = time.perf_counter()
    proc = subprocess.run(args, capture_output=True, text=True, env=env, timeout=1800)
    process_s = time.perf_counter() - t0
    if proc.returncode != 0:
        tail = " ".join(proc.stderr.strip().splitlines()[-3:])
        raise RuntimeError(f"rstan failed on {case.stan_file}: {tail}")
    timing = json.loads(timing_file.read_text())
    frame = pd.read_csv(draws_file)
    n_chains, n_draws = frame["chain"].nunique(), frame["draw"].nunique()
    posterior = {
        ours: frame.sort_values(["chain", "draw"])[theirs].to_numpy().reshape(n_chains, n_draws)
        for ours, theirs in case.params.items()
    }
    return {
        "idata": az.from_dict(posterior={k: np.asarray(v) for k, v in posterior.items()}),
        "compile_s": float(timing["compile_s"]),
        "sample_s": float(timing["sample_s"]),
        # Stan's own sampling time without R's parallel set-up: the chains' times packed on
        # CORES cores (a lower bound of the wall time sampling() needs).
        "chain_s": _packed(
            [w + s for w, s in zip(timing["chain_warmup_s"], timing["chain_sample_s"], strict=True)]
        ),
        "divergent": int(timing["divergent"]),
        "process_s": process_s,
        "versions": f"rstan {timing['rstan']} (Stan {timing['stan']}), {timing['r']}",
    }


def _packed(chain_times: list[float]) -> float:
    """Lower bound of the wall time of chains run on CORES cores: max(longest, total / CORES)."""
    return max(max(chain_times), sum(chain_times) / CORES)


def run_nutpie(case: Case) -> dict[str, Any]:
    """Compile the PyMC model once with nutpie, fit it twice (first fit, then a refit)."""
    from trial_reanalysis.analysis.inference.fitting import (
        CompiledModel,
        SamplerSettings,
        derive_seed,
    )

    settings = SamplerSettings(draws=DRAWS, tune=WARMUP, chains=CHAINS)
    model = case.build()
    t0 = time.perf_counter()
    compiled = CompiledModel(model, name=case.stan_file, cache=False)  # a real compilation
    compile_s = time.perf_counter() - t0
    t0 = time.perf_counter()
    compiled.fit(case.fit_data, seed=derive_seed(STAN_SEED, case.name, "first"), settings=settings)
    first_s = time.perf_counter() - t0
    t0 = time.perf_counter()
    idata = compiled.fit(case.fit_data, seed=derive_seed(STAN_SEED, case.name), settings=settings)
    sample_s = time.perf_counter() - t0
    return {
        "idata": idata,
        "compile_s": compile_s,
        "first_s": first_s,
        "sample_s": sample_s,
        "divergent": int(idata.sample_stats["diverging"].sum()),
    }


def min_ess(idata: Any, params: list[str]) -> float:
    import arviz as az

    return float(az.ess(idata, var_names=params, method="bulk").to_array().min())


def agreement(case: Case, stan: Any, ours: Any) -> list[dict[str, Any]]:
    """Per parameter and statistic (mean, q2.5, q97.5): |difference| against 3 combined MCSEs."""
    import arviz as az
    import numpy as np

    rows = []
    for p in case.params:
        a = stan.posterior[p].values
        b = ours.posterior[p].values
        stats = [("mean", np.mean, {"method": "mean"})] + [
            (f"q{100 * q:g}", lambda x, q=q: np.quantile(x, q), {"method": "quantile", "prob": q})
            for q in (0.025, 0.975)
        ]
        for label, fn, mcse_kw in stats:
            va, vb = float(fn(a)), float(fn(b))
            sa = float(np.ravel(az.mcse(a, **mcse_kw))[0])
            sb = float(np.ravel(az.mcse(b, **mcse_kw))[0])
            tol = TOLERANCE_SE * float(np.hypot(sa, sb))
            diff = abs(va - vb)
            rows.append(
                {
                    "param": p,
                    "stat": label,
                    "rstan": va,
                    "nutpie": vb,
                    "diff": diff,
                    "tol": tol,
                    "pass": diff < tol,
                }
            )
    return rows


def _short(case: Case) -> str:
    return case.stan_file.removesuffix(".stan")


def stan_section(facts: dict[str, float] | None = None) -> list[str]:
    """Markdown lines of the rstan comparison (a one-line note when R/rstan is unavailable).

    ``facts`` receives ``stan_total_s`` (rstan compile + sampling of every model) and
    ``esss_ratio_min`` (smallest nutpie / rstan ESS-per-second ratio) for the targets table.
    """
    facts = facts if facts is not None else {}
    reason = rstan_missing()
    if reason is not None:
        return [f"_Skipped: {reason}; the rstan comparison needs R with rstan and jsonlite._"]
    results = []
    failures = []
    with tempfile.TemporaryDirectory(prefix="stan_bench_") as tmp:
        for case in cases():
            try:
                stan = run_rstan(case, Path(tmp))
            except (RuntimeError, OSError, subprocess.SubprocessError) as exc:
                failures.append(f"- {case.name}: {exc}")
                continue
            ours = run_nutpie(case)
            results.append((case, stan, ours))
    if not results:
        return ["_rstan comparison failed for every model:_", *failures]

    lines = [
        f"Each model: {CHAINS} chains x {DRAWS} draws after {WARMUP} warmup, chains in parallel "
        f"({CORES} cores). rstan: `stan_model` (compile) and `sampling` timed in R; 'in-chain' is "
        "the chains' own warmup + sampling times (`get_elapsed_time`) packed on the cores; the "
        "rest of `sampling` is rstan's parallel set-up (a socket cluster per call). nutpie: "
        "`CompiledModel` (compile, without the compiled-model cache), first fit "
        "(pays the one-off set-up) and a refit of the compiled model. ESS/s uses the sampling "
        "time without compilation (rstan `sampling`, nutpie refit).",
        "",
        "| model | sampler | compile (s) | sampling (s) | min bulk ESS | ESS/s | divergences |",
        "|---|---|---|---|---|---|---|",
    ]
    ratio_lines = [
        "| model | wall time rstan / nutpie, compile included | compile excluded | "
        "rstan in-chain only / nutpie refit | ESS/s nutpie / rstan |",
        "|---|---|---|---|---|",
    ]
    check_lines = [
        "| model | parameter | statistic | rstan | nutpie | abs. difference | "
        f"{TOLERANCE_SE:g} x combined MCSE | agree |",
        "|---|---|---|---|---|---|---|---|",
    ]
    totals = {"stan_compile": 0.0, "stan_sample": 0.0, "stan_process": 0.0, "nut_total": 0.0}
    esss_ratios = []
    all_pass = True
    for case, stan, ours in results:
        ess_s = min_ess(stan["idata"], list(case.params))
        ess_n = min_ess(ours["idata"], list(case.params))
        esss_s = ess_s / stan["sample_s"]
        esss_n = ess_n / ours["sample_s"]
        esss_ratios.append(esss_n / esss_s)
        short = _short(case)
        facts[f"stan_chain_s:{short}"] = stan["chain_s"]
        lines.append(
            f"| {case.name} | rstan | {stan['compile_s']:.1f} | {stan['sample_s']:.2f} "
            f"(in-chain {stan['chain_s']:.2f}) | {ess_s:.0f} | {esss_s:.0f} | "
            f"{stan['divergent']} |"
        )
        lines.append(
            f"| {case.name} | nutpie | {ours['compile_s']:.1f} | {ours['sample_s']:.2f} "
            f"(first fit {ours['first_s']:.2f}) | {ess_n:.0f} | {esss_n:.0f} | "
            f"{ours['divergent']} |"
        )
        wall_stan = stan["compile_s"] + stan["sample_s"]
        wall_ours = ours["compile_s"] + ours["first_s"]
        ratio_lines.append(
            f"| {short} | {wall_stan / wall_ours:.2f} ({wall_stan:.1f} s / {wall_ours:.1f} s) | "
            f"{stan['sample_s'] / ours['sample_s']:.2f} ({stan['sample_s']:.2f} s / "
            f"{ours['sample_s']:.2f} s) | {stan['chain_s'] / ours['sample_s']:.2f} | "
            f"{esss_n / esss_s:.2f} |"
        )
        for row in agreement(case, stan["idata"], ours["idata"]):
            all_pass &= row["pass"]
            check_lines.append(
                f"| {short} | {row['param']} | {row['stat']} | {row['rstan']:.4f} | "
                f"{row['nutpie']:.4f} | {row['diff']:.4f} | {row['tol']:.4f} | "
                f"{'pass' if row['pass'] else 'FAIL'} |"
            )
        totals["stan_compile"] += stan["compile_s"]
        totals["stan_sample"] += stan["sample_s"]
        totals["stan_process"] += stan["process_s"]
        totals["nut_total"] += wall_ours
    stan_total = totals["stan_compile"] + totals["stan_sample"]
    facts["stan_total_s"] = stan_total
    facts["esss_ratio_min"] = min(esss_ratios)
    lines += [
        "",
        "Ratios (compile included: rstan compile + sampling against nutpie compile + first fit; "
        "compile excluded: rstan sampling against nutpie refit; in-chain only: Stan's "
        "chain times packed on the cores, i.e. Stan's sampler without R's parallel set-up, a "
        "lower bound of its sampling cost). Ratios above 1 favour nutpie:",
        "",
        *ratio_lines,
        "",
        f"Posterior agreement (means and 2.5 %/97.5 % quantiles within {TOLERANCE_SE:g} x "
        "sqrt(mcse_rstan^2 + mcse_nutpie^2)): "
        + ("all pass." if all_pass else "**some checks FAIL**."),
        "",
        *check_lines,
        "",
        f"Total rstan time for the {len(results)} models: {stan_total:.1f} s "
        f"(compile {totals['stan_compile']:.1f} s + sampling {totals['stan_sample']:.1f} s; "
        f"{totals['stan_process']:.1f} s with R start-up and data exchange), against "
        f"{totals['nut_total']:.1f} s for nutpie (compile + first fit). Compare with the "
        "package's full default run (`reanalysis run`, cold) in the whole-runs table above, "
        "which fits every endpoint, prior scenario and sensitivity assumption.",
        "",
        f"- Versions: {results[0][1]['versions']}.",
        "- Stan programs: `benchmarks/stan/*.stan`; R driver: `benchmarks/stan/run_stan.R`. "
        "Timings are wall-clock on a shared machine; rerun to refresh.",
    ]
    if failures:
        lines += ["", "Models rstan could not run:", *failures]
    return lines


if __name__ == "__main__":
    print("\n".join(stan_section()))
