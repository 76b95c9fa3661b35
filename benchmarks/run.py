"""Benchmarks of the reanalysis: one entry point that measures and writes benchmarks/RESULTS.md.

    python benchmarks/run.py            # everything available (about 5-10 minutes)
    python benchmarks/run.py --quick    # skip the cold runs and the PyMC-NUTS comparison

Measures: cold and warm wall time and peak memory of `reanalysis run` (full default run and the
primary endpoint alone); per model, compile time, sampling time and ESS per second with nutpie and
with PyMC's default NUTS; how the cost of a sensitivity grid grows with the number of scenarios
(1, 4, 16, 64) with one compilation; the throughput of the exact operating-characteristic grid and
of the P-value enumeration. "Cold" runs get fresh pytensor and numba cache folders; "warm" runs
reuse them (each is a new process). Timings are wall-clock on this machine; rerun to refresh.
With R and rstan installed, adds the side-by-side rstan comparison of benchmarks/stan.py (+3-5 min).
"""

from __future__ import annotations

import argparse
import os
import platform
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from importlib import metadata
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import trial_reanalysis  # noqa: E402,F401  (sets the pytensor BLAS flag before pymc loads)


def _tree_rss_mib(root: int) -> float:
    """Resident memory (MiB) of a process and all its descendants, read from /proc."""
    children: dict[int, list[int]] = {}
    rss: dict[int, int] = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        children.setdefault(int(fields[1]), []).append(int(entry.name))
        rss[int(entry.name)] = int(fields[21]) * os.sysconf("SC_PAGE_SIZE")
    total, stack = 0, [root]
    while stack:
        pid = stack.pop()
        total += rss.get(pid, 0)
        stack.extend(children.get(pid, []))
    return total / 2**20


def run_cli(args: list[str], env: dict[str, str]) -> tuple[float, float]:
    """Wall time (s) and peak resident memory (MiB, the process and its worker processes summed,
    sampled every 0.1 s) of one `reanalysis` process."""
    exe = Path(sys.executable).with_name("reanalysis")
    start = time.perf_counter()
    proc = subprocess.Popen(
        [str(exe), *args], env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    peak = 0.0
    while proc.poll() is None:
        peak = max(peak, _tree_rss_mib(proc.pid))
        time.sleep(0.1)
    wall = time.perf_counter() - start
    if proc.returncode != 0:
        raise RuntimeError(f"reanalysis {' '.join(args)} failed with status {proc.returncode}")
    return wall, peak


def _cache_env(folder: str) -> dict[str, str]:
    """Environment whose pytensor and numba caches live in ``folder`` (empty folder: cold)."""
    env = dict(os.environ)
    env["PYTENSOR_FLAGS"] = (
        env.get("PYTENSOR_FLAGS", "blas__ldflags=") + f",compiledir={folder}/pytensor"
    ).lstrip(",")
    env["NUMBA_CACHE_DIR"] = f"{folder}/numba"
    return env


#: Cold runs of the full default run (the median is compared with rstan).
COLD_REPEATS = 3


def bench_runs(quick: bool, facts: dict[str, float]) -> list[str]:
    """Cold and warm wall time and peak memory of the full run and of the primary endpoint."""
    lines = ["| run | cache | wall time (s) | peak memory (MiB) |", "|---|---|---|---|"]
    runs = (
        ("primary endpoint (4 priors x 2 candidates)", ["--endpoint", "burden_reduction"], 1),
        ("full default run (endpoints in worker processes, the default)", [], COLD_REPEATS),
        ("full default run, one process (`--workers 1`)", ["--workers", "1"], 1),
    )
    with tempfile.TemporaryDirectory() as tmp:
        for label, extra, repeats in runs:
            args = ["run", "--out", f"{tmp}/o", "--no-refresh-figures", *extra]
            cold: list[tuple[float, float]] = []
            if not quick:
                for i in range(repeats):
                    cold.append(run_cli(args, _cache_env(f"{tmp}/{label[:4]}{i}")))
                walls = sorted(w for w, _ in cold)
                spread = f" (range {walls[0]:.1f}-{walls[-1]:.1f}, {repeats} runs)" * (repeats > 1)
                lines.append(
                    f"| {label} | cold | {walls[len(walls) // 2]:.1f}{spread} | "
                    f"{max(m for _, m in cold):.0f} |"
                )
            warm_env = _cache_env(f"{tmp}/{label[:4]}0")
            if quick:
                run_cli(args, warm_env)  # fills the caches
            wall, mem = run_cli(args, warm_env)
            lines.append(f"| {label} | warm | {wall:.1f} | {mem:.0f} |")
            if not extra:
                if cold:
                    facts["full_cold_s"] = sorted(w for w, _ in cold)[len(cold) // 2]
                    facts["full_cold_max_s"] = max(w for w, _ in cold)
                facts["full_warm_s"] = wall
                facts["full_peak_mib"] = max([mem, *(m for _, m in cold)])
    lines += [
        "",
        "Cold: fresh pytensor and numba cache folders; warm: the same folders again (each run is "
        "a new process). Peak memory: resident memory of the `reanalysis` process and its worker "
        "processes summed, sampled every 0.1 s (shared library pages count once per process, so "
        "this overstates the true total).",
    ]
    return lines


@dataclass
class ModelCase:
    """A model to benchmark: its builder and the pm.Data values of one fit."""

    name: str
    build: Callable[[], object]
    data: dict


def model_cases() -> list[ModelCase]:
    """The package's models with the seed trial's primary data."""
    from trial_reanalysis.models.rate import (
        build_burden_reduction_model,
        burden_reduction_priors,
        model_data,
    )

    uniform = burden_reduction_priors()["uniform"]
    cases = [
        ModelCase(
            "burden reduction (beta-binomial)",
            lambda: build_burden_reduction_model(14, 47),
            model_data(14, 47, uniform),
        )
    ]
    try:
        from benchmarks.cases import extra_cases  # the other endpoints' models
    except ImportError:
        return cases
    return cases + extra_cases()


def bench_models(quick: bool) -> list[str]:
    """Per model: compile time, sampling time (4 chains x 1000 draws) and min ESS/s."""
    import arviz as az
    import pymc as pm

    from trial_reanalysis.analysis.inference.fitting import CompiledModel

    lines = [
        "| model | sampler | compile (s) | sampling (s) | min bulk ESS | ESS/s (sampling) |",
        "|---|---|---|---|---|---|",
    ]
    for case in model_cases():
        model = case.build()
        t0 = time.perf_counter()
        compiled = CompiledModel(model, name=case.name)
        t_compile = time.perf_counter() - t0
        compiled.fit(case.data, seed=1)  # first call pays one-off set-up
        t0 = time.perf_counter()
        idata = compiled.fit(case.data, seed=2)
        t_sample = time.perf_counter() - t0
        ess = float(az.ess(idata).to_array().min())
        lines.append(
            f"| {case.name} | nutpie | {t_compile:.1f} | {t_sample:.2f} | {ess:.0f} | "
            f"{ess / t_sample:.0f} |"
        )
        if quick:
            continue
        with model:
            pm.set_data(case.data)
            t0 = time.perf_counter()
            idata = pm.sample(
                draws=1000,
                tune=1000,
                chains=4,
                cores=2,
                random_seed=2,
                progressbar=False,
                compute_convergence_checks=False,
            )
            t_total = time.perf_counter() - t0
        names = [v.name for v in (*model.free_RVs, *model.deterministics)]
        ess = float(az.ess(idata, var_names=names).to_array().min())
        lines.append(
            f"| {case.name} | PyMC NUTS (compile included) | - | {t_total:.2f} | "
            f"{ess:.0f} | {ess / t_total:.0f} |"
        )
    return lines


def bench_sensitivity_grid(facts: dict[str, float]) -> list[str]:
    """Cost of 1, 4, 16, 64 refits of one compiled model (priors x data), compilations counted."""
    from trial_reanalysis.analysis.endpoints.rate import compiled_model
    from trial_reanalysis.analysis.inference.fitting import CompiledModel, derive_seed
    from trial_reanalysis.models.rate import burden_reduction_priors, model_data

    compiled = compiled_model()
    before = CompiledModel.compilations
    priors = list(burden_reduction_priors().values())
    counts = [(x, 47) for x in range(8, 24)]
    lines = ["| scenarios | wall time (s) | per scenario (s) | compilations |", "|---|---|---|---|"]
    per: list[float] = []
    for k in (1, 4, 16, 64):
        t0 = time.perf_counter()
        for i in range(k):
            x, n = counts[i % len(counts)]
            compiled.fit(model_data(x, n, priors[i % 4]), seed=derive_seed(1, str(i)))
        wall = time.perf_counter() - t0
        per.append(wall / k)
        lines.append(
            f"| {k} | {wall:.2f} | {wall / k:.3f} | {CompiledModel.compilations - before} |"
        )
    facts["grid_per_scenario_spread"] = max(per) / min(per)
    facts["grid_compilations"] = CompiledModel.compilations - before
    return lines


def bench_throughput() -> list[str]:
    """Exact OC grid (10^5 designs) and P-value enumeration (every split 12/36..36/12)."""
    import numpy as np

    from trial_reanalysis.analysis.planning.plan import oc_grid

    lines = ["| computation | size | wall time (s) |", "|---|---|---|"]
    ns = np.arange(10, 110)
    thresholds = np.linspace(0.80, 0.995, 100)
    priors = {
        f"beta({a},{b})": (a, b)
        for a, b in [
            (1, 1),
            (0.5, 0.5),
            (0, 1),
            (2, 8),
            (15, 34),
            (1, 4),
            (3, 3),
            (0.4, 8),
            (2.4, 9.6),
            (5, 5),
        ]
    }
    t0 = time.perf_counter()
    grid = oc_grid(ns, thresholds, priors, 0.05, 0.20, design_prior=(15, 34))
    lines.append(
        f"| exact operating characteristics (n x threshold x prior) | {len(grid):,} "
        f"designs | {time.perf_counter() - t0:.2f} |"
    )
    try:
        from trial_reanalysis.analysis.reconstruction.tables import p_value_grid
    except ImportError:
        return lines
    for test in ("fisher", "chi2"):
        t0 = time.perf_counter()
        tables = 0
        for n_bev in range(12, 37):
            grid = p_value_grid(n_bev, 48 - n_bev, test)
            tables += grid.size
        lines.append(
            f"| every P value ({test}), splits 12/36..36/12 | {tables:,} tables | "
            f"{time.perf_counter() - t0:.3f} |"
        )
    return lines


def environment() -> list[str]:
    packages = ("pymc", "pytensor", "arviz", "nutpie", "numpy", "scipy")
    versions = ", ".join(f"{p} {metadata.version(p)}" for p in packages)
    return [
        f"- date: {datetime.now(UTC):%Y-%m-%d %H:%M UTC}",
        f"- machine: {platform.machine()}, {os.cpu_count()} cores, "
        f"Python {platform.python_version()}",
        f"- versions: {versions}",
    ]


def targets_section(facts: dict[str, float]) -> list[str]:
    """The issue's targets against this run's measurements."""

    def row(target: str, measured: str, met: bool | None) -> str:
        verdict = "n/a (not measured)" if met is None else ("met" if met else "**missed**")
        return f"| {target} | {measured} | {verdict} |"

    lines = ["| target | measured in this run | verdict |", "|---|---|---|"]
    cold, stan = facts.get("full_cold_s"), facts.get("stan_total_s")
    if cold is not None and stan is not None:
        measured = (
            f"{cold:.1f} s cold (median of {COLD_REPEATS}; slowest "
            f"{facts['full_cold_max_s']:.1f} s) vs rstan {stan:.1f} s: ratio {cold / stan:.2f}"
        )
        lines.append(
            row(
                "whole default run, cold, <= 1/3 of rstan compile + sample",
                measured,
                cold <= stan / 3,
            )
        )
    else:
        lines.append(row("whole default run, cold, <= 1/3 of rstan compile + sample", "-", None))
    ratio = facts.get("esss_ratio_min")
    lines.append(
        row(
            "per model ESS/s (compile excluded) >= rstan's",
            "-" if ratio is None else f"smallest nutpie / rstan ratio {ratio:.1f}",
            None if ratio is None else ratio >= 1,
        )
    )
    peak = facts.get("full_peak_mib")
    lines.append(
        row(
            "peak memory of the full run < 2 GiB",
            "-" if peak is None else f"{peak:.0f} MiB (all processes summed)",
            None if peak is None else peak < 2048,
        )
    )
    spread, compiles = facts.get("grid_per_scenario_spread"), facts.get("grid_compilations")
    lines.append(
        row(
            "sensitivity grid linear in scenarios, no recompilation",
            f"per-scenario cost varies x{spread:.2f} over 1-64 scenarios; {compiles:.0f} "
            "compilations",
            spread < 1.5 and compiles == 0,
        )
    )
    return lines


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="skip cold runs and PyMC NUTS")
    parser.add_argument("--out", type=Path, default=ROOT / "benchmarks" / "RESULTS.md")
    args = parser.parse_args()
    facts: dict[str, float] = {}
    sections = [
        ("Environment", environment()),
        ("Whole runs (`reanalysis run`, new process each)", bench_runs(args.quick, facts)),
        (
            "Models: compile once, then sample 4 chains x 1000 draws",
            bench_models(args.quick),
        ),
        ("Sensitivity grid: refits of one compiled model", bench_sensitivity_grid(facts)),
        ("Throughput", bench_throughput()),
    ]
    try:
        from benchmarks.stan import stan_section
    except ImportError:
        pass
    else:
        sections.append(("Side by side with rstan", stan_section(facts)))
    sections.append(("Targets", targets_section(facts)))
    text = ["# Benchmarks", "", "Regenerate with `make bench` (`python benchmarks/run.py`).", ""]
    for title, lines in sections:
        text += [f"## {title}", "", *lines, ""]
        print(f"## {title}", *lines, sep="\n", flush=True)
    args.out.write_text("\n".join(text))


if __name__ == "__main__":
    main()
