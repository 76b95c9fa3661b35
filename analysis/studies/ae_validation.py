"""Simulation-based calibration (SBC) of the comparison coarsened-data model (DESIGN.md 8).

Each replicate draws the truth from the primary prior and a split from the split prior, draws a
table from the two binomials, computes its two-sided P, rounds it (2 decimals, half-open) and keeps
only the rounded P and the direction: the report the model sees. The model then fits that report
with the split marginalised. Over many replicates the rank of the true log OR among L posterior
draws is uniform on 0..L when the model is calibrated (Talts et al. 2018, arXiv:1804.06788), and
95 % intervals cover the truth 95 % of the time.

Replicates are independent, so ``batch`` of them are fitted at once as the independent ``ae``
coordinates of one model. Batches run in parallel processes, each compiling the model once.

Long run (writes ``data/validation/ae_sbc.json`` with provenance)::

    python -m trial_reanalysis.analysis.studies.ae_validation [--sims 1000] [--batch 8]
    [--processes 2] [--seed N]
"""

from __future__ import annotations

import argparse
import datetime as dt
import functools
import json
import math
import sys
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np
from scipy import stats

from trial_reanalysis.analysis.constants import INTERVAL_TAILS
from trial_reanalysis.analysis.inference.executors import map_tasks
from trial_reanalysis.analysis.inference.fitting import CompiledModel, SamplerSettings
from trial_reanalysis.analysis.paths import DATA_DIR
from trial_reanalysis.analysis.provenance import git_commit
from trial_reanalysis.analysis.reconstruction.tables import p_value_grid
from trial_reanalysis.models.comparison import (
    AE_PRIORS,
    BASELINE_NODES,
    LOG_OR_GRID,
    build_comparison_model,
    coarsened_report,
    model_data,
)

SBC_PATH = DATA_DIR / "validation" / "ae_sbc.json"
#: Posterior draws each rank is computed from (thinned evenly): ranks take values 0..RANK_DRAWS.
RANK_DRAWS = 99
RANK_BINS = 10


@dataclass(frozen=True)
class SbcSettings:
    """What one SBC run simulates and how it fits."""

    sims: int = 1000
    batch: int = 8
    total: int = 48
    split_range: tuple[int, int] = (12, 36)
    test: str = "fisher"
    decimals: int = 2
    prior: str = "weakly_informative"
    draws: int = 1000
    tune: int = 1000
    chains: int = 4


def simulate_reports(
    rng: np.random.Generator, count: int, settings: SbcSettings
) -> list[dict[str, Any]]:
    """Draw ``count`` truths from the prior and the rounded report each one produces."""
    prior = AE_PRIORS[settings.prior].parameters
    lo_split, hi_split = settings.split_range
    out = []
    for _ in range(count):
        alpha = rng.normal(prior["baseline_mu"], prior["baseline_sigma"])
        beta = rng.normal(prior["log_or_mu"], prior["log_or_sigma"])
        n_exposed = int(rng.integers(lo_split, hi_split + 1))
        n_reference = settings.total - n_exposed
        a = int(rng.binomial(n_exposed, 1 / (1 + math.exp(-(alpha + beta)))))
        c = int(rng.binomial(n_reference, 1 / (1 + math.exp(-alpha))))
        p = float(p_value_grid(n_exposed, n_reference, settings.test)[a, c])
        scale = 10**settings.decimals
        rounded = math.floor(p * scale + 0.5) / scale  # half-open rounding, as in the reports
        out.append(
            {
                "baseline_log_odds": alpha,
                "log_odds_ratio": beta,
                "n_exposed": n_exposed,
                "n_reference": n_reference,
                "exposed_events": a,
                "reference_events": c,
                "p_value": p,
                "reported_p": rounded,
                "sign": int(np.sign(a * n_reference - c * n_exposed)),
            }
        )
    return out


def _report_cells(sim: dict[str, Any], settings: SbcSettings):
    half = 0.5 * 10.0 ** (-settings.decimals)
    lo_split, hi_split = settings.split_range
    splits = [(n, settings.total - n) for n in range(lo_split, hi_split + 1)]
    report = coarsened_report(
        max(0.0, sim["reported_p"] - half),
        sim["reported_p"] + half,
        sim["sign"],
        splits,
        test=settings.test,
    )
    truth = (sim["n_exposed"], sim["exposed_events"], sim["reference_events"])
    cells = set(
        zip(
            report.n_exposed.tolist(),
            report.exposed_events.tolist(),
            report.reference_events.tolist(),
            strict=True,
        )
    )
    if truth not in cells:
        raise RuntimeError(f"simulated table {truth} does not reproduce its own report")
    return report


def fit_batch(
    compiled: CompiledModel, sims: list[dict[str, Any]], settings: SbcSettings, seed: int
) -> list[dict[str, Any]]:
    """Fit one batch of simulated reports jointly: ranks, intervals, diagnostics per replicate."""
    from trial_reanalysis.analysis.inference.diagnostics import check_diagnostics

    reports = [_report_cells(s, settings) for s in sims]
    data = model_data(reports, AE_PRIORS[settings.prior])
    sampler = SamplerSettings(settings.draws, settings.tune, settings.chains)
    idata = compiled.fit(data, seed=seed, settings=sampler)
    diag = check_diagnostics(idata, model=compiled.name, label="sbc")
    out = []
    for j, sim in enumerate(sims):
        row = {**sim, "n_cells": reports[j].n_cells, "fit_passed": diag.passed}
        for var in ("log_odds_ratio",):
            draws = idata.posterior[var].values[:, :, j].reshape(-1)
            thinned = draws[np.linspace(0, draws.size - 1, RANK_DRAWS).round().astype(int)]
            lo, hi = np.quantile(draws, INTERVAL_TAILS)
            row[f"{var}_rank"] = int(np.sum(thinned < sim[var]))
            row[f"{var}_mean"] = float(draws.mean())
            row[f"{var}_covered"] = bool(lo <= sim[var] <= hi)
        out.append(row)
    return out


def _names(batch: int) -> list[str]:
    return [f"sim{j}" for j in range(batch)]


@functools.cache
def _compiled_for(batch: int, prior: str) -> CompiledModel:
    """One compiled SBC model per (worker) process; every batch swaps its cells in."""
    placeholder = coarsened_report(0.0, 0.5, 1, [(10, 10)])
    model = build_comparison_model(
        [placeholder] * batch, prior=AE_PRIORS[prior], names=_names(batch)
    )
    return CompiledModel(model, name="adverse_events_sbc")


def _job(args: tuple[SbcSettings, int, list[dict[str, Any]]]) -> list[dict[str, Any]]:
    """Fit one batch of simulated reports (a task of
    :func:`analysis.inference.executors.map_tasks`)."""
    settings, seed, sims = args
    return fit_batch(_compiled_for(settings.batch, settings.prior), sims, settings, seed)


def summarise(rows: list[dict[str, Any]]) -> dict[str, Any]:
    """Rank-uniformity chi-square tests, interval coverage and recovery over all replicates."""
    out: dict[str, Any] = {"replicates": len(rows)}
    for var in ("log_odds_ratio",):
        ranks = np.array([r[f"{var}_rank"] for r in rows])
        counts = np.bincount(ranks * RANK_BINS // (RANK_DRAWS + 1), minlength=RANK_BINS)
        chi2 = stats.chisquare(counts)
        truth = np.array([r[var] for r in rows])
        mean = np.array([r[f"{var}_mean"] for r in rows])
        out[var] = {
            "rank_counts": counts.tolist(),
            "rank_chi2": float(chi2.statistic),
            "rank_chi2_p_value": float(chi2.pvalue),
            "coverage95": float(np.mean([r[f"{var}_covered"] for r in rows])),
            "corr_truth_posterior_mean": float(np.corrcoef(truth, mean)[0, 1]),
            "rmse_posterior_mean": float(np.sqrt(np.mean((mean - truth) ** 2))),
        }
    out["fits_failing_gates"] = int(sum(not r["fit_passed"] for r in rows))
    return out


def run_sbc(
    settings: SbcSettings,
    *,
    seed: int,
    processes: int = 1,
    compiled: CompiledModel | None = None,
    dask_address: str | None = None,
) -> dict[str, Any]:
    """Simulate, fit and summarise ``settings.sims`` replicates (rounded up to whole batches).

    With ``compiled`` (a model with ``settings.batch`` events) everything runs in this process;
    otherwise batches run in ``processes`` local processes or on the Dask cluster at
    ``dask_address`` (same results: every batch carries its own seed).
    """
    n_batches = math.ceil(settings.sims / settings.batch)
    root = np.random.SeedSequence(seed)
    data_seed, *fit_seeds = root.spawn(n_batches + 1)
    sims = simulate_reports(np.random.default_rng(data_seed), n_batches * settings.batch, settings)
    jobs = [
        (int(ss.generate_state(1)[0]), sims[i * settings.batch : (i + 1) * settings.batch])
        for i, ss in enumerate(fit_seeds)
    ]
    start = time.perf_counter()
    if compiled is not None:
        rows = [r for s, sims in jobs for r in fit_batch(compiled, sims, settings, s)]
    else:
        tasks = [(settings, s, batch) for s, batch in jobs]
        parts = map_tasks(_job, tasks, workers=processes, dask_address=dask_address)
        rows = [r for part in parts for r in part]
    return {
        "settings": asdict(settings),
        "seed": seed,
        "rank_draws": RANK_DRAWS,
        "rank_bins": RANK_BINS,
        "summary": summarise(rows),
        "elapsed_seconds": time.perf_counter() - start,
        "replicates": rows,
    }


def provenance() -> dict[str, Any]:
    """Date, git commit (None when there is none) and package versions of a stored result."""
    import arviz
    import nutpie
    import pymc
    import scipy

    return {
        "date": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        "git_commit": git_commit(),
        "python": sys.version.split()[0],
        "versions": {
            "pymc": pymc.__version__,
            "nutpie": nutpie.__version__,
            "arviz": arviz.__version__,
            "numpy": np.__version__,
            "scipy": scipy.__version__,
        },
        "command": "python -m trial_reanalysis.analysis.studies.ae_validation "
        + " ".join(sys.argv[1:]),
        "model": {
            "baseline_quadrature_nodes": len(BASELINE_NODES),
            "baseline_range_sd": float(BASELINE_NODES[-1]),
            "log_or_grid": [float(LOG_OR_GRID[0]), float(LOG_OR_GRID[-1]), LOG_OR_GRID.size],
        },
    }


def main(argv: list[str] | None = None) -> int:
    """Run the long SBC and store it with provenance."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sims", type=int, default=SbcSettings.sims)
    parser.add_argument("--batch", type=int, default=SbcSettings.batch)
    parser.add_argument("--processes", type=int, default=2)
    parser.add_argument("--seed", type=int, default=20101115)
    parser.add_argument("--out", type=Path, default=SBC_PATH)
    parser.add_argument("--draws", type=int, default=SbcSettings.draws)
    parser.add_argument("--dask", metavar="ADDRESS", help="run on the Dask cluster at ADDRESS")
    args = parser.parse_args(argv)
    settings = SbcSettings(sims=args.sims, batch=args.batch, draws=args.draws, tune=args.draws)
    result = run_sbc(settings, seed=args.seed, processes=args.processes, dask_address=args.dask)
    result = {"provenance": provenance(), **result}
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=1) + "\n")
    s = result["summary"]["log_odds_ratio"]
    print(
        f"{result['summary']['replicates']} replicates in {result['elapsed_seconds']:.0f} s: "
        f"log OR rank chi-square p = {s['rank_chi2_p_value']:.3f}, "
        f"95 % coverage {s['coverage95']:.3f}; written to {args.out}"
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
