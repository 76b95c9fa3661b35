"""Benchmarks of the reanalysis: one entry point that measures and writes benchmarks/RESULTS.md.

    python benchmarks/run.py            # everything available (about 5-10 minutes)
    python benchmarks/run.py --quick    # skip the cold runs and the PyMC-NUTS comparison

Measures: cold and warm wall time, CPU time and peak memory of `reanalysis run` (full default run
and the primary endpoint alone) and of the batch over the real-trial corpus (`run_batch`,
data/trials/*.toml); per model, compile time from scratch and from the compiled-model cache,
sampling time and ESS per second with nutpie and with PyMC's default NUTS; where the time of one
fit goes (sampler start, sampling, trace conversion, gates) beside Stan's in-chain time; how the
cost of a sensitivity grid grows with the number of scenarios (1, 4, 16, 64) with one
compilation; the throughput of the exact operating-characteristic grid and of the P-value
enumeration. "Cold" runs get fresh PyTensor, numba and compiled-model cache folders; "warm" runs
reuse them (each is a new process). Timings are wall-clock on this machine, with the load average
recorded: on a shared machine CPU time is the steadier number. With R and rstan installed, adds
the side-by-side rstan comparison of benchmarks/stan.py (+3-5 min).
"""

from __future__ import annotations

import argparse
import ctypes
import os
import platform
import shutil
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


@dataclass
class Timing:
    """One measured process: wall time (s), CPU time (s, user + system of the process and the
    worker processes it waited for) and peak resident memory (MiB, all processes summed)."""

    wall: float
    cpu: float
    peak: float


_PR_SET_CHILD_SUBREAPER = 36  # linux/prctl.h


def _adopt_orphans(on: bool = True) -> None:
    """Make this process the reaper of its orphaned descendants (Linux ``prctl``; ``on=False``
    undoes it): a run's fork server and its workers outlive the run's own process by a moment,
    and would otherwise be reaped by init, their CPU time lost to :func:`run_process`."""
    try:
        ctypes.CDLL(None, use_errno=True).prctl(_PR_SET_CHILD_SUBREAPER, int(on), 0, 0, 0)
    except (OSError, AttributeError):  # pragma: no cover - not Linux
        pass


def _reap_orphans(timeout: float = 60.0) -> float:
    """Wait for every remaining child (the measured run's orphaned descendants, adopted by
    :func:`_adopt_orphans`) and return their CPU time (s), their own reaped children included."""
    cpu, deadline = 0.0, time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            pid, _, usage = os.wait4(-1, os.WNOHANG)
        except ChildProcessError:  # none left
            break
        if pid:
            cpu += usage.ru_utime + usage.ru_stime
        else:
            time.sleep(0.05)
    return cpu


def run_process(command: list[str], env: dict[str, str], what: str) -> Timing:
    """Run ``command`` to its end, sampling the memory of its process tree every 0.1 s; its CPU
    time includes every descendant (workers forked by a fork server too, see _adopt_orphans)."""
    _adopt_orphans()
    start = time.perf_counter()
    proc = subprocess.Popen(command, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    peak = 0.0
    while True:
        pid, status, usage = os.wait4(proc.pid, os.WNOHANG)
        if pid:
            break
        peak = max(peak, _tree_rss_mib(proc.pid))
        time.sleep(0.1)
    wall = time.perf_counter() - start
    orphans = _reap_orphans()  # nothing else of this process runs meanwhile
    _adopt_orphans(False)
    proc.returncode = os.waitstatus_to_exitcode(status)
    if proc.returncode != 0:
        tail = " ".join((proc.stderr.read() if proc.stderr else b"").decode().splitlines()[-3:])
        raise RuntimeError(f"{what} failed with status {proc.returncode}: {tail}")
    return Timing(wall, usage.ru_utime + usage.ru_stime + orphans, peak)


def run_cli(args: list[str], env: dict[str, str]) -> Timing:
    """Wall time, CPU time and peak memory of one `reanalysis` process."""
    exe = Path(sys.executable).with_name("reanalysis")
    return run_process([str(exe), *args], env, f"reanalysis {' '.join(args)}")


def _cache_env(folder: str) -> dict[str, str]:
    """Environment whose caches all live in ``folder`` (empty folder: cold): PyTensor's (its
    numba cache sits under ``base_compiledir``), numba's own, and the compiled-model cache."""
    env = dict(os.environ)
    env["PYTENSOR_FLAGS"] = (
        env.get("PYTENSOR_FLAGS", "blas__ldflags=") + f",base_compiledir={folder}/pytensor"
    ).lstrip(",")
    env["NUMBA_CACHE_DIR"] = f"{folder}/numba"
    env["TRIAL_REANALYSIS_MODEL_CACHE"] = f"{folder}/models"
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(ROOT), env.get("PYTHONPATH")]))
    return env


def _load() -> str:
    """The load average (1 min) of the machine now: other work on a shared machine."""
    return f"{os.getloadavg()[0]:.1f}"


#: Cold runs of the full default run (the median is compared with the targets and rstan).
COLD_REPEATS = 3


def _timing_row(label: str, cache: str, runs: list[Timing]) -> str:
    """A table row: median wall (range when repeated), median CPU, peak memory."""
    walls = sorted(t.wall for t in runs)
    cpus = sorted(t.cpu for t in runs)
    spread = f" (range {walls[0]:.1f}-{walls[-1]:.1f}, {len(runs)} runs)" * (len(runs) > 1)
    return (
        f"| {label} | {cache} | {walls[len(walls) // 2]:.1f}{spread} | "
        f"{cpus[len(cpus) // 2]:.1f} | {max(t.peak for t in runs):.0f} | {_load()} |"
    )


def bench_runs(quick: bool, facts: dict[str, float]) -> list[str]:
    """Cold and warm wall time, CPU time and peak memory of the full run and of the primary
    endpoint."""
    lines = [
        "| run | cache | wall time (s) | CPU time (s) | peak memory (MiB) | load after |",
        "|---|---|---|---|---|---|",
    ]
    runs = (
        ("primary endpoint (`--endpoint burden_reduction`)", ["--endpoint", "burden_reduction"], 1),
        ("full default run (endpoints in worker processes, the default)", [], COLD_REPEATS),
        ("full default run, one process (`--workers 1`)", ["--workers", "1"], 1),
    )
    with tempfile.TemporaryDirectory() as tmp:
        for k, (label, extra, repeats) in enumerate(runs):
            args = ["run", "--out", f"{tmp}/o", "--no-refresh-figures", *extra]
            cold: list[Timing] = []
            if not quick:
                cold = [run_cli(args, _cache_env(f"{tmp}/run{k}-{i}")) for i in range(repeats)]
                lines.append(_timing_row(label, "cold", cold))
            warm_env = _cache_env(f"{tmp}/run{k}-0")
            if quick:
                run_cli(args, warm_env)  # fills the caches
            warm = [run_cli(args, warm_env) for _ in range(repeats)]
            lines.append(_timing_row(label, "warm", warm))
            if not extra:
                if cold:
                    facts["full_cold_s"] = sorted(t.wall for t in cold)[len(cold) // 2]
                    facts["full_cold_max_s"] = max(t.wall for t in cold)
                    facts["full_cold_cpu_s"] = sorted(t.cpu for t in cold)[len(cold) // 2]
                facts["full_warm_s"] = sorted(t.wall for t in warm)[len(warm) // 2]
                facts["full_warm_cpu_s"] = sorted(t.cpu for t in warm)[len(warm) // 2]
                facts["full_peak_mib"] = max(t.peak for t in [*cold, *warm])
    lines += [
        "",
        "Cold: fresh PyTensor, numba and compiled-model cache folders; warm: the same folders "
        "again (each run is a new process). CPU time: user + system time of the `reanalysis` "
        "process and its worker processes. Peak memory: resident memory of all of them summed, "
        "sampled every 0.1 s (shared library pages count once per process, so this overstates "
        "the true total). Load: the machine's 1-minute load average after the run (2 cores: "
        "above 2, other work competed for them).",
    ]
    return lines


#: The batch benchmark's driver: run_batch over the corpus, workers from argv.
_BATCH_DRIVER = r"""
import sys
from pathlib import Path
from trial_reanalysis.analysis.batch import run_batch
failed = []
out = run_batch(sorted(Path(sys.argv[1]).glob("*.toml")), sys.argv[2], workers=int(sys.argv[3]),
                on_error=lambda p, e: failed.append(f"{p.name}: {type(e).__name__}"))
Path(sys.argv[4]).write_text("\n".join([str(len(out)), *failed]))
"""


def bench_batch(quick: bool, facts: dict[str, float], workers: int = 2) -> list[str]:
    """The real-trial corpus (data/trials/*.toml) through `run_batch`, cold and warm."""
    corpus = ROOT / "data" / "trials"
    n_files = len(list(corpus.glob("*.toml")))
    lines = [
        f"`run_batch` over the {n_files} trial files of `data/trials/` ({workers} worker "
        "processes, each file `run_analysis` with its endpoints one after another; every model "
        "compiled at most once per process, the compiled-model cache serving the rest).",
        "",
        "| batch | cache | wall time (s) | CPU time (s) | peak memory (MiB) | load after | files "
        "analysed |",
        "|---|---|---|---|---|---|---|",
    ]
    with tempfile.TemporaryDirectory() as tmp:
        env = _cache_env(f"{tmp}/cache")
        modes = ["warm"] if quick else ["cold", "warm"]
        if quick:  # fill the caches first
            modes.insert(0, "(filling the caches)")
        for mode in modes:
            report = Path(tmp) / "report.txt"
            command = [sys.executable, "-c", _BATCH_DRIVER, str(corpus), f"{tmp}/out", str(workers)]
            try:
                t = run_process([*command, str(report)], env, "the corpus batch")
            except RuntimeError as exc:
                lines.append(f"| corpus | {mode} | failed: {exc} | | | | |")
                return lines
            shutil.rmtree(f"{tmp}/out", ignore_errors=True)
            done, *failed = report.read_text().splitlines()
            if mode.startswith("("):
                continue
            lines.append(
                f"| corpus | {mode} | {t.wall:.1f} | {t.cpu:.1f} | {t.peak:.0f} | {_load()} | "
                f"{done} of {n_files} |"
            )
            facts[f"batch_{mode}_s"] = t.wall
            facts[f"batch_{mode}_cpu_s"] = t.cpu
            facts["batch_files"] = float(done)
            facts["batch_total"] = float(n_files)
            if failed:
                lines.append(f"| | | failed: {'; '.join(failed)} | | | | |")
    return lines


@dataclass
class ModelCase:
    """A model to benchmark: its builder and the pm.Data values of one fit."""

    name: str
    build: Callable[[], object]
    data: dict


def model_cases() -> list[ModelCase]:
    """The package's models with the seed trial's primary data."""
    from trial_reanalysis.models.rate import build_rate_model, burden_reduction_priors, model_data

    uniform = burden_reduction_priors()["uniform"]
    cases = [
        ModelCase(
            "rate, report likelihood (one candidate: 14/47)",
            build_rate_model,
            model_data(14, 47, uniform),
        )
    ]
    try:
        from benchmarks.cases import extra_cases  # the other endpoints' models
    except ImportError:
        return cases
    return cases + extra_cases()


def bench_models(quick: bool) -> list[str]:
    """Per model: compile time (from scratch, and loaded from the compiled-model cache),
    sampling time (4 chains x 1000 draws) and min ESS/s."""
    import arviz as az
    import pymc as pm

    from trial_reanalysis.analysis.inference import model_cache
    from trial_reanalysis.analysis.inference.fitting import CompiledModel

    lines = [
        "| model | sampler | compile (s) | from the model cache (s) | sampling (s) | min bulk ESS "
        "| ESS/s (sampling) |",
        "|---|---|---|---|---|---|---|",
    ]
    for case in model_cases():
        model = case.build()
        t0 = time.perf_counter()
        compiled = CompiledModel(model, name=case.name, cache=False)
        t_compile = time.perf_counter() - t0
        CompiledModel(case.build(), name=case.name)  # stores it in the (empty) model cache
        model_cache._MEMORY.clear()  # as in a new process: load from disk
        t0 = time.perf_counter()
        cached = CompiledModel(case.build(), name=case.name)
        t_cached = time.perf_counter() - t0
        hit = "" if cached.cache.hit else f" ({cached.cache.callbacks})"
        compiled.fit(case.data, seed=1)  # first call pays one-off set-up
        t0 = time.perf_counter()
        idata = compiled.fit(case.data, seed=2)
        t_sample = time.perf_counter() - t0
        ess = float(az.ess(idata).to_array().min())
        lines.append(
            f"| {case.name} | nutpie | {t_compile:.1f} | {t_cached:.2f}{hit} | {t_sample:.2f} | "
            f"{ess:.0f} | {ess / t_sample:.0f} |"
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
            f"| {case.name} | PyMC NUTS (compile included) | - | - | {t_total:.2f} | "
            f"{ess:.0f} | {ess / t_total:.0f} |"
        )
    lines += [
        "",
        "nutpie compile: the model compiled without the compiled-model cache (PyTensor's own "
        "numba cache of this machine as it is); from the model cache: the same model built "
        "again and loaded from the cache as a new process would "
        "(`analysis/inference/model_cache.py`).",
    ]
    return lines


#: Refits per model in the per-fit anatomy (medians are reported).
ANATOMY_REFITS = 15


def bench_fit_anatomy(facts: dict[str, float]) -> list[str]:
    """Where one refit's time goes, for the models that also exist in Stan: sampler start,
    sampling (nutpie's threads: tuning + draws), trace conversion (ours and nutpie's
    arviz.from_dict), the rest of ``CompiledModel.fit`` and the gates; beside Stan's in-chain
    time (the ``stan_chain_s:<model>`` facts of the rstan section, when it ran)."""
    import numpy as np
    import nutpie

    from benchmarks.stan import CHAINS, DRAWS, WARMUP, _short, cases
    from trial_reanalysis.analysis.inference.diagnostics import check_diagnostics
    from trial_reanalysis.analysis.inference.fitting import (
        CompiledModel,
        SamplerSettings,
        trace_to_inference_data,
    )

    settings = SamplerSettings(draws=DRAWS, tune=WARMUP, chains=CHAINS)
    lines = [
        f"Median of {ANATOMY_REFITS} refits, {CHAINS} chains x {DRAWS} draws after {WARMUP} "
        "tuning steps on 2 cores (milliseconds).",
        "",
        "| model | sampler start | sampling | trace to InferenceData (ours; nutpie's) | "
        "rest of fit() | CompiledModel.fit total | gates | Stan in-chain | fit / Stan in-chain |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for case in cases():
        compiled = CompiledModel(case.build(), name=case.stan_file)
        model = compiled._compiled.with_data(**case.fit_data) if case.fit_data else None
        model = model or compiled._compiled
        kwargs = dict(
            draws=DRAWS, tune=WARMUP, chains=CHAINS, save_warmup=False, progress_bar=False
        )
        compiled.fit(case.fit_data, seed=0, settings=settings)
        parts: list[list[float]] = []
        for i in range(ANATOMY_REFITS):
            t0 = time.perf_counter()
            sampler = nutpie.sample(model, seed=i, blocking=False, **kwargs)
            t1 = time.perf_counter()
            sampler._sampler.wait(None)
            t2 = time.perf_counter()
            raw = sampler._sampler.take_results()
            trace_to_inference_data(raw, compiled.var_names, model.coords)
            t3 = time.perf_counter()
            reference = nutpie.sample(model, seed=i, blocking=False, **kwargs)
            reference._sampler.wait(None)
            results = reference._sampler.take_results()
            t4 = time.perf_counter()
            reference._extract(results)
            t5 = time.perf_counter()
            idata = compiled.fit(case.fit_data, seed=i, settings=settings)
            t6 = time.perf_counter()
            check_diagnostics(idata, model=case.stan_file, label="anatomy")
            t7 = time.perf_counter()
            parts.append([t1 - t0, t2 - t1, t3 - t2, t5 - t4, t6 - t5, t7 - t6])
        start, sampling, ours, theirs, fit, gates = (1000 * x for x in np.median(parts, axis=0))
        rest = fit - start - sampling - ours
        stan = facts.get(f"stan_chain_s:{_short(case)}")
        stan_cells = "- | -" if stan is None else f"{1000 * stan:.0f} | {fit / (1000 * stan):.1f}"
        lines.append(
            f"| {_short(case)} | {start:.1f} | {sampling:.1f} | {ours:.1f}; {theirs:.1f} | "
            f"{rest:.1f} | {fit:.1f} | {gates:.1f} | {stan_cells} |"
        )
        facts[f"anatomy_fit_ms:{_short(case)}"] = fit
    lines += [
        "",
        "Sampler start: `nutpie.sample(..., blocking=False)` until its threads run (the sampler "
        "object, the model's callbacks, the chains' initial points); sampling: until the chains "
        "end; conversion: the Arrow trace to InferenceData, as `CompiledModel.fit` builds it "
        "(`trace_to_inference_data`) and as nutpie does (`arviz.from_dict`, which fit() used "
        "before); rest: `with_data`, the constant data and the InferenceData of fit(); gates: "
        "R-hat, ESS, divergences and E-BFMI of `check_diagnostics` (run on every fit). Stan "
        "in-chain: the chains' own warmup + sampling times packed on the 2 cores (rstan "
        "section).",
    ]
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


def _cpu_model() -> str:
    """The processor's name as /proc/cpuinfo gives it (Linux), else platform's."""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown processor"


def _reference_seconds() -> float:
    """Seconds of a fixed single-core NumPy task (best of 3): machines differ by this factor."""
    import numpy as np

    x = np.random.default_rng(0).standard_normal(4_000_000)
    best = float("inf")
    for _ in range(3):
        start = time.perf_counter()
        for _ in range(5):
            np.sort(x)
        best = min(best, time.perf_counter() - start)
    return best


def environment() -> list[str]:
    packages = ("pymc", "pytensor", "arviz", "nutpie", "numpy", "scipy")
    versions = ", ".join(f"{p} {metadata.version(p)}" for p in packages)
    return [
        f"- date: {datetime.now(UTC):%Y-%m-%d %H:%M UTC}",
        f"- machine: {platform.machine()}, {os.cpu_count()} cores ({_cpu_model()}), "
        f"Python {platform.python_version()}",
        f"- reference workload (to compare machines): {_reference_seconds():.2f} s for a fixed "
        "NumPy task (sort 4 million normal draws, 5 times), best of 3",
        f"- versions: {versions}",
        f"- load average at the start: {_load()}",
    ]


def targets_section(facts: dict[str, float]) -> list[str]:
    """The issues' targets against this run's measurements."""

    def row(target: str, measured: str, met: bool | None) -> str:
        verdict = "n/a (not measured)" if met is None else ("met" if met else "**missed**")
        return f"| {target} | {measured} | {verdict} |"

    def run_row(target: str, key: str, limit: float) -> str:
        wall, cpu = facts.get(f"{key}_s"), facts.get(f"{key}_cpu_s")
        if wall is None or cpu is None:
            return row(target, "-", None)
        return row(target, f"{wall:.1f} s wall ({cpu:.1f} s CPU)", wall <= limit)

    lines = ["| target | measured in this run | verdict |", "|---|---|---|"]
    lines.append(run_row("whole default run, warm (caches filled), <= 6 s", "full_warm", 6))
    lines.append(run_row("whole default run, cold (empty caches), <= 15 s", "full_cold", 15))
    done, total = facts.get("batch_files"), facts.get("batch_total")
    batch = run_row("real-trial corpus batch, cold, <= 60 s", "batch_cold", 60)
    if done is not None and total is not None and done < total:
        batch = batch.replace(" |", f" ({done:.0f} of {total:.0f} files) |", 1)
    lines.append(batch)
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
    parser.add_argument("--no-batch", action="store_true", help="skip the corpus batch")
    parser.add_argument("--out", type=Path, default=ROOT / "benchmarks" / "RESULTS.md")
    args = parser.parse_args()
    facts: dict[str, float] = {}
    # In this process: an empty compiled-model cache of our own (the user's stays untouched).
    scratch = tempfile.TemporaryDirectory(prefix="bench-models-")
    os.environ["TRIAL_REANALYSIS_MODEL_CACHE"] = scratch.name
    sections = [("Environment", environment())]
    sections.append(
        ("Whole runs (`reanalysis run`, new process each)", bench_runs(args.quick, facts))
    )
    if not args.no_batch:
        sections.append(("Batch: the real-trial corpus", bench_batch(args.quick, facts)))
    sections += [
        ("Models: compile once, then sample 4 chains x 1000 draws", bench_models(args.quick)),
        ("Sensitivity grid: refits of one compiled model", bench_sensitivity_grid(facts)),
        ("Throughput", bench_throughput()),
    ]
    try:
        from benchmarks.stan import stan_section
    except ImportError:
        pass
    else:
        sections.append(("Side by side with rstan", stan_section(facts)))
    sections.append(("Per-fit overhead: where one refit's time goes", bench_fit_anatomy(facts)))
    sections.append(("Targets", targets_section(facts)))
    sections[0][1].append(f"- load average at the end: {_load()} (2 cores)")
    text = ["# Benchmarks", "", "Regenerate with `make bench` (`python benchmarks/run.py`).", ""]
    for title, lines in sections:
        text += [f"## {title}", "", *lines, ""]
        print(f"## {title}", *lines, sep="\n", flush=True)
    args.out.write_text("\n".join(text))
    scratch.cleanup()


if __name__ == "__main__":
    main()
