"""One reanalysis end to end: ``run_analysis(config)`` is what the command line and the end-to-end
test both call.

Flow: load and validate the trial file -> each endpoint's analysis (reconstruction, models,
diagnostic gates, comparison, sensitivity) -> follow-up priors -> results.json, tables, posteriors,
figures and the report, written into a temporary folder beside the output folder and moved into
place only when everything succeeded (a failure leaves the previous output untouched).
"""

from __future__ import annotations

import importlib
import json
import os
import shutil
import tempfile
from collections.abc import Callable
from dataclasses import dataclass, field
from importlib import metadata
from pathlib import Path
from typing import Any

import pandas as pd
from matplotlib.figure import Figure

from analysis.constants import DEFAULT_SEED, INTERVAL_LEVEL, RESULTS_SCHEMA_VERSION
from analysis.endpoint import EndpointResult
from analysis.provenance import git_commit, jsonable
from analysis.trial import LoadedTrial, load_trial

#: Endpoint name -> (module, function, trial section that enables it). Imported lazily.
ENDPOINTS: dict[str, tuple[str, str, str]] = {
    "burden_reduction": (
        "analysis.burden_reduction",
        "analyse_burden_reduction",
        "burden_reduction",
    ),
    "pfs": ("analysis.pfs", "analyse_pfs", "pfs"),
    "adverse_events": ("analysis.adverse_events", "analyse_adverse_events", "adverse_events"),
}

VERSIONED_PACKAGES = (
    "pymc",
    "pytensor",
    "arviz",
    "nutpie",
    "numpy",
    "scipy",
    "pandas",
    "lifelines",
)


@dataclass(frozen=True)
class RunConfig:
    """What a run needs. ``figures_dir`` also receives a copy of every figure (the repository's
    ``figures/`` on the default run)."""

    trial_path: Path | None = None
    out_dir: Path = Path("results")
    seed: int = DEFAULT_SEED
    allow_failed_diagnostics: bool = False
    figures_dir: Path | None = None
    endpoints: tuple[str, ...] | None = None


@dataclass
class RunOutput:
    """What a run produced (also written to disk)."""

    results: dict[str, Any]
    endpoints: list[EndpointResult]
    out_dir: Path
    files: list[str] = field(default_factory=list)
    planning_table: pd.DataFrame | None = None
    planning_figure: Figure | None = None

    @property
    def diagnostics_passed(self) -> bool:
        return all(d.passed for e in self.endpoints for d in e.diagnostics)


def dumps_results(results: dict[str, Any]) -> str:
    """results.json text: stable key order as built, two-space indent, trailing newline."""
    return json.dumps(jsonable(results), indent=2, allow_nan=False) + "\n"


def provenance(loaded: LoadedTrial, seed: int) -> dict[str, Any]:
    """What identifies a run: trial file hash, seed, package versions, git commit."""
    return {
        "trial_file": Path(loaded.path).name,
        "trial_sha256": loaded.sha256,
        "seed": seed,
        "interval_level": INTERVAL_LEVEL,
        "git_commit": git_commit(mark_dirty=True),
        "packages": {p: metadata.version(p) for p in VERSIONED_PACKAGES},
    }


def selected_endpoints(loaded: LoadedTrial, wanted: tuple[str, ...] | None) -> list[str]:
    """Endpoints the trial file describes (and the caller asked for), in report order."""
    names = [
        name
        for name, (_, _, section) in ENDPOINTS.items()
        if getattr(loaded.trial, section) is not None
    ]
    return [n for n in names if wanted is None or n in wanted]


def run_analysis(
    config: RunConfig, progress: Callable[[str, int, int], None] | None = None
) -> RunOutput:
    """Run the whole reanalysis and write its outputs atomically into ``config.out_dir``.

    Args:
        config: what to run and where to write.
        progress: called as ``progress(step_description, step_index, n_steps)``.

    Raises:
        InputError: the trial file is invalid (nothing is written).
        DiagnosticsError: a fit failed its gates and failures are not allowed (nothing is written).
    """
    loaded = load_trial(config.trial_path)
    names = selected_endpoints(loaded, config.endpoints)
    steps = [*names, "follow-up priors", "writing outputs"]
    tell = progress or (lambda *_: None)

    endpoints: list[EndpointResult] = []
    for i, name in enumerate(names):
        tell(f"analysing {name.replace('_', ' ')}", i, len(steps))
        module, function, _ = ENDPOINTS[name]
        analyse = getattr(importlib.import_module(module), function)
        endpoints.append(
            analyse(loaded, seed=config.seed, allow_failed=config.allow_failed_diagnostics)
        )

    tell("deriving follow-up priors", len(names), len(steps))
    followup = _followup_priors(endpoints)

    results: dict[str, Any] = {"schema_version": RESULTS_SCHEMA_VERSION}
    results["trial"] = {
        "id": loaded.trial.trial.id,
        "title": loaded.trial.trial.title,
        "doi": loaded.trial.trial.doi,
        "registry": loaded.trial.trial.registry,
    }
    results["provenance"] = provenance(loaded, config.seed)
    for e in endpoints:
        results[e.name] = e.results
    if followup is not None:
        results["followup_priors"] = followup
    results["diagnostics_passed"] = all(d.passed for e in endpoints for d in e.diagnostics)

    tell("writing outputs", len(steps) - 1, len(steps))
    output = RunOutput(results=results, endpoints=endpoints, out_dir=Path(config.out_dir))
    if followup and "burden_reduction" in followup:
        from analysis.planning import planning_overview

        design = loaded.trial.design
        table, figure = planning_overview(
            followup["burden_reduction"], design.p0.value, design.p1.value
        )
        output.planning_table, output.planning_figure = table, figure
        results["followup_planning"] = table.to_dict(orient="records")
    _write_atomically(output, loaded, config)
    tell("done", len(steps), len(steps))
    return output


def _followup_priors(endpoints: list[EndpointResult]) -> dict[str, Any] | None:
    """Priors for follow-up trials from the primary posteriors (None until planning exists)."""
    try:
        followup = importlib.import_module("analysis.followup")
    except ModuleNotFoundError:
        return None
    draws = {key: d for e in endpoints for key, d in e.primary_draws.items()}
    return followup.followup_priors(draws) if draws else None


def _write_atomically(output: RunOutput, loaded: LoadedTrial, config: RunConfig) -> None:
    out = output.out_dir.resolve()
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{out.name}-", dir=out.parent))
    try:
        files = _write_all(tmp, output, loaded, config)
        backup = None
        if out.exists():
            backup = out.with_name(f".{out.name}-old-{os.getpid()}")
            out.rename(backup)
        tmp.rename(out)
        if backup is not None:
            shutil.rmtree(backup)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    output.files = files
    if config.figures_dir is not None:
        figures = Path(config.figures_dir)
        figures.mkdir(parents=True, exist_ok=True)
        for png in sorted((out / "figures").glob("*.png")):
            staged = figures / f".{png.name}.tmp"
            shutil.copyfile(png, staged)
            staged.replace(figures / png.name)


def _write_all(tmp: Path, output: RunOutput, loaded: LoadedTrial, config: RunConfig) -> list[str]:
    """Write every output into ``tmp``; returns the files written (relative paths)."""
    from analysis import plots, report  # heavy (jinja2, matplotlib): imported when writing

    (tmp / "tables").mkdir()
    (tmp / "posteriors").mkdir()
    (tmp / "figures").mkdir()
    (tmp / "results.json").write_text(dumps_results(output.results))
    for e in output.endpoints:
        e.comparison.to_csv(tmp / "tables" / f"{e.name}_comparison.csv", index=False)
        e.sensitivity.to_csv(tmp / "tables" / f"{e.name}_sensitivity.csv", index=False)
        for stem, table in e.tables.items():
            table.to_csv(tmp / "tables" / f"{stem}.csv", index=False)
        for stem, idata in e.posteriors.items():
            idata.to_netcdf(str(tmp / "posteriors" / f"{stem}.nc"))
        for stem, fig in e.figures.items():
            report.save_figure(fig, tmp / "figures" / f"{stem}.png")
        if e.primary_posterior is not None:
            fig = plots.plot_trace_rank(
                e.posteriors[e.primary_posterior], title=f"{e.title}: primary fit"
            )
            report.save_figure(fig, tmp / "figures" / f"appendix_{e.name}_trace_rank.png")
    if output.results.get("followup_priors"):
        from analysis.followup import write_followup_priors

        write_followup_priors(output.results["followup_priors"], tmp / "followup_priors.json")
    if output.planning_table is not None:
        output.planning_table.to_csv(tmp / "tables" / "followup_planning.csv", index=False)
        report.save_figure(output.planning_figure, tmp / "figures" / "followup_oc_curves.png")
    report.write_reports(tmp, output, loaded, config)
    return sorted(str(p.relative_to(tmp)) for p in tmp.rglob("*") if p.is_file())
