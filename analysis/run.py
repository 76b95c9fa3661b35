"""One reanalysis end to end: ``run_analysis(config)`` is what the command line and the end-to-end
test both call.

Flow: load and validate the trial file -> each endpoint's analysis (reconstruction, models,
diagnostic gates, comparison, sensitivity), which also writes its posteriors and figures ->
follow-up priors -> results.json, tables and the report. Everything is written into a temporary
folder beside the output folder and moved into place only when everything succeeded (a failure
leaves the previous output untouched).

The endpoints are independent, so they run in parallel worker processes (one per endpoint up to
the number of cores, forked by a fork server that imported the analysis stack once, or spawned:
:func:`.inference.executors.worker_context`; ``workers=1`` runs them here). Every fit's seed
derives from the run seed and the fit's label, so the numbers do not depend on where an endpoint
ran.
"""

from __future__ import annotations

import importlib
import json
import os
import shutil
from collections.abc import Callable, Mapping
from concurrent.futures import FIRST_COMPLETED, Future, wait
from dataclasses import dataclass, field, replace
from importlib import metadata
from pathlib import Path
from typing import TYPE_CHECKING, Any

from trial_reanalysis.analysis.constants import DEFAULT_SEED, INTERVAL_LEVEL, RESULTS_SCHEMA_VERSION
from trial_reanalysis.analysis.inference.executors import (
    process_pool,
    server_pid,
    stop_server,
    worker_context,
)
from trial_reanalysis.analysis.outdir import (
    check_output_dir,
    clean_stale,
    make_staging_dir,
    output_lock,
    swap_into_place,
    write_manifest,
)
from trial_reanalysis.analysis.provenance import git_commit, jsonable
from trial_reanalysis.analysis.trials.load import LoadedTrial, load_trial

if TYPE_CHECKING:  # kept out of start-up: the worker processes import the heavy stack
    import arviz as az
    import pandas as pd
    from matplotlib.figure import Figure

    from trial_reanalysis.analysis.endpoints.base import EndpointResult
    from trial_reanalysis.analysis.inference.fitting import SamplerSettings

#: Endpoint kind -> (module, function) of its analysis, imported lazily (in the worker). Each is
#: called as ``analyse(loaded, key, *, seed, allow_failed[, settings])`` with the key the file gives
#: the endpoint (a rate, a time-to-event endpoint, or a grouping whose comparisons it analyses).
KINDS: dict[str, tuple[str, str]] = {
    "rate": ("trial_reanalysis.analysis.endpoints.rate", "analyse_rate"),
    "time_to_event": ("trial_reanalysis.analysis.endpoints.time_to_event", "analyse_time_to_event"),
    "comparison": ("trial_reanalysis.analysis.endpoints.comparison", "analyse_comparisons"),
}
#: Endpoint kind -> the report module that words and draws its results: ``present(result,
#: loaded)`` fills ``result.sentences`` and ``result.figures`` from the numbers alone.
PRESENTERS: dict[str, str] = {
    "rate": "trial_reanalysis.analysis.report.rate",
    "time_to_event": "trial_reanalysis.analysis.report.time_to_event",
    "comparison": "trial_reanalysis.analysis.report.comparison",
}
#: Where each kind's results go in results.json (by the endpoint's key within).
RESULT_GROUPS = {"rate": "rates", "time_to_event": "time_to_event", "comparison": "comparisons"}
#: Rough share of the run's time per kind, to start the longest first in the worker pool.
COST_RANK = {"time_to_event": 3, "comparison": 2, "rate": 1}

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
    workers: int | None = None  # processes for the endpoints; None: one per endpoint, <= cores
    #: A historical set (data/historical/*.toml) for the planners' section: MAP priors across
    #: trials and the design comparison. None: no planners' section.
    historical: Path | None = None
    #: NUTS settings of every fit (None: the package's defaults); shorter ones for tests.
    sampler: SamplerSettings | None = None
    #: The primary prior chosen per endpoint (``--prior ENDPOINT=NAME``, repeatable) as (endpoint,
    #: prior name) pairs, the endpoint named as ``reanalysis priors`` lists it; () : the defaults.
    priors: tuple[tuple[str, str], ...] = ()


@dataclass
class RunOutput:
    """What a run produced (also written to disk).

    ``endpoints`` hold each endpoint's results, tables, figures and diagnostics; their posteriors
    are on disk only (``posteriors/*.nc``), so that workers send back little.
    """

    results: dict[str, Any]
    endpoints: list[EndpointResult]
    out_dir: Path
    files: list[str] = field(default_factory=list)
    planning_table: pd.DataFrame | None = None
    planning_figure: Figure | None = None
    planners: dict[str, Any] | None = None  # sentences, tables and figures of that section

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


def trial_endpoints(loaded: LoadedTrial) -> dict[str, tuple[str, str]]:
    """Every endpoint the trial file declares, in report order: name -> (kind, key).

    The primary rate first, then the other rates, the time-to-event endpoints and the groupings
    that have comparisons. A name is the file's key (prefixed by its kind where two kinds share
    a key). Kinds registered beyond the three (test endpoints) analyse every trial, named after
    themselves.
    """
    trial = loaded.trial
    declared: list[tuple[str, str]] = [
        *(("rate", k) for k in sorted(trial.rates, key=lambda k: k != trial.primary_rate)),
        *(("time_to_event", k) for k in trial.time_to_event),
        *(
            ("comparison", g)
            for g in trial.groupings
            if any(c.grouping == g for c in trial.comparisons.values())
        ),
        *((kind, kind) for kind in KINDS if kind not in RESULT_GROUPS),
    ]
    keys = [key for _, key in declared]
    return {
        (key if keys.count(key) == 1 else f"{RESULT_GROUPS.get(kind, kind)}.{key}"): (kind, key)
        for kind, key in declared
    }


def selected_endpoints(
    loaded: LoadedTrial, wanted: tuple[str, ...] | None
) -> dict[str, tuple[str, str]]:
    """The endpoints the trial file declares (and the caller asked for): name -> (kind, key).

    Raises:
        InputError: an asked-for endpoint is not declared by the trial file (checked before any
            work, so ``run --endpoint os`` on a file without it exits 2, naming what it has).
    """
    from trial_reanalysis.analysis.errors import InputError

    declared = trial_endpoints(loaded)
    for name in wanted or ():
        if name not in declared:
            raise InputError(
                loaded.path,
                "--endpoint",
                f"the trial file declares no endpoint {name!r}; it declares {list(declared)}",
            )
    return {n: v for n, v in declared.items() if wanted is None or n in wanted}


def prepare_trial(config: RunConfig) -> tuple[LoadedTrial, dict[str, tuple[str, str]]]:
    """Load the trial and check the run's options against it, before any work: what ``run``
    does first and all that ``validate`` does.

    Returns:
        The loaded trial (with the chosen primary priors recorded) and the endpoints to analyse
        (:func:`selected_endpoints`).

    Raises:
        InputError: an invalid trial file, an ``--endpoint`` it does not declare, or a bad
            ``--prior`` choice (:func:`~trial_reanalysis.analysis.endpoints.priors.choose_priors`).
    """
    loaded = load_trial(config.trial_path)
    names = selected_endpoints(loaded, config.endpoints)
    if config.priors:  # the registries import the models: only when a choice is made
        from trial_reanalysis.analysis.endpoints.priors import choose_priors

        loaded = choose_priors(loaded, config.priors, config.endpoints)
    return loaded, names


def run_analysis(
    config: RunConfig, progress: Callable[[str, int, int], None] | None = None
) -> RunOutput:
    """Run the whole reanalysis and write its outputs atomically into ``config.out_dir``.

    With more than one endpoint and core, the endpoints run in worker processes where that is
    safe (our command line, a notebook or REPL); called from a script, it runs them in this
    process unless ``config.workers`` is given (workers re-import the script, which then needs an
    ``if __name__ == "__main__":`` guard), and says so through ``progress``.

    Args:
        config: what to run and where to write.
        progress: called as ``progress(step_description, step_index, n_steps)``.

    Raises:
        InputError: the trial file is invalid (nothing is written).
        DiagnosticsError: a fit failed its gates and failures are not allowed (nothing is written).
    """
    tell = progress or (lambda *_: None)
    workers = config.workers
    in_process = workers is None and not _safe_to_spawn()
    # The worker processes start before the trial is read: their imports (PyMC, ArviZ, about
    # 2 s) overlap this process's reading and checks. Stopped at once if anything fails.
    one_endpoint = config.endpoints is not None and len(config.endpoints) <= 1
    early = (
        None
        if in_process or one_endpoint  # one endpoint runs here: no workers to start
        else _start_workers(workers or len(os.sched_getaffinity(0)))
    )
    try:
        loaded, names = prepare_trial(config)
        if in_process:
            workers = 1
            tell("running the endpoints in this process (pass workers=N for processes)", 0, 1)
        config = replace(config, workers=workers)
        prepared: dict[str, Any] = {}
        return _write_run(
            config,
            loaded,
            len(names),
            tell,
            lambda tmp: _analyse_endpoints(names, loaded, config, tmp, tell, prepared, early),
            prepared,
        )
    except BaseException:
        if early is not None:
            early.stop()
        raise


def write_run(
    config: RunConfig,
    loaded: LoadedTrial,
    endpoints: list[EndpointResult],
    progress: Callable[[str, int, int], None] | None = None,
) -> RunOutput:
    """Write endpoints analysed in memory (with their posteriors) as a whole run would: the
    notebook API's ``Reanalysis.write_report``. Same files, same checks, same atomic move."""

    def write_endpoints(tmp: Path) -> list[EndpointResult]:
        for e in endpoints:
            _write_endpoint_files(tmp, e)
        return list(endpoints)

    return _write_run(
        config, loaded, len(endpoints), progress or (lambda *_: None), write_endpoints
    )


def _safe_to_spawn() -> bool:
    """Whether spawned worker processes can start here: under our own command line, or where
    the main module is interactive (a notebook, a REPL: no file to re-import). A user's script
    might lack the ``if __name__ == "__main__":`` guard that spawning needs, so it runs here."""
    import sys

    main = sys.modules.get("__main__")
    path = getattr(main, "__file__", None)
    spec = getattr(main, "__spec__", None)
    if path is None:
        return True
    return Path(path).name == "reanalysis" or (
        spec is not None and spec.name.startswith("trial_reanalysis")
    )


def _write_run(
    config: RunConfig,
    loaded: LoadedTrial,
    n_endpoints: int,
    tell: Callable[[str, int, int], None],
    analyse: Callable[[Path], list[EndpointResult]],
    prepared: Mapping[str, Any] | None = None,
) -> RunOutput:
    """Check and lock the output folder, analyse into a staging folder, move it into place.
    ``prepared``: what ``analyse`` computed beside the endpoints (the planners' maps), read after
    it returns."""
    n_steps = n_endpoints + 2
    out = check_output_dir(Path(config.out_dir), input_files(loaded))
    with output_lock(out):
        for done in clean_stale(out):
            tell(done, 0, n_steps)
        out = check_output_dir(out, input_files(loaded))  # a restored backup is checked too
        tmp = make_staging_dir(out)
        try:
            for folder in ("tables", "posteriors", "figures"):
                (tmp / folder).mkdir()
            endpoints = analyse(tmp)
            output = _collect_and_write(
                endpoints, loaded, config, tmp, out, tell, n_steps, dict(prepared or {})
            )
            output.files = write_manifest(tmp)
            swap_into_place(tmp, out)
        except BaseException:
            shutil.rmtree(tmp, ignore_errors=True)
            raise
    if config.figures_dir is not None:
        _copy_figures(out / "figures", Path(config.figures_dir))
    tell("done", n_steps, n_steps)
    return output


def _collect_and_write(
    endpoints: list[EndpointResult],
    loaded: LoadedTrial,
    config: RunConfig,
    tmp: Path,
    out: Path,
    tell: Callable[[str, int, int], None],
    n_steps: int,
    prepared: dict[str, Any] | None = None,
) -> RunOutput:
    """results.json, follow-up priors, planning, tables and the report, into ``tmp``."""
    tell("collecting results", n_steps - 2, n_steps)
    followup = {k: v for e in endpoints for k, v in (e.followup or {}).items()} or None
    results: dict[str, Any] = {"schema_version": RESULTS_SCHEMA_VERSION}
    results["trial"] = {
        "id": loaded.trial.trial.id,
        "title": loaded.trial.trial.title,
        "doi": loaded.trial.trial.doi,
        "registry": loaded.trial.trial.registry,
    }
    results["provenance"] = provenance(loaded, config.seed)
    results["schema_version_read"] = loaded.schema_version_read
    for e in endpoints:
        group = RESULT_GROUPS.get(e.kind)
        if group is None:  # a test-registered kind
            results[e.name] = e.results
        else:
            results.setdefault(group, {})[e.name.split(".")[-1]] = e.results
    if followup is not None:
        results["followup_priors"] = followup
    results["diagnostics_passed"] = all(d.passed for e in endpoints for d in e.diagnostics)

    tell("writing outputs", n_steps - 1, n_steps)
    output = RunOutput(results=results, endpoints=endpoints, out_dir=out)
    design = loaded.trial.design
    rate = design.endpoint or loaded.trial.primary_rate
    p0, p1 = (None if v == "unknown" else v.value for v in (design.p0, design.p1))
    if followup and rate in followup and p0 is not None and p1 is not None:
        from trial_reanalysis.analysis.planning.plan import planning_overview

        table, figure = planning_overview(followup[rate], p0, p1)
        output.planning_table, output.planning_figure = table, figure
        results["followup_planning"] = table.to_dict(orient="records")
    if config.historical is not None:
        tell("planners' section: MAP priors across trials, designs", n_steps - 1, n_steps)
        from trial_reanalysis.analysis.planning.planners import planners_section
        from trial_reanalysis.analysis.report.planners import present_planners

        section = planners_section(
            loaded,
            followup,
            historical=config.historical,
            seed=config.seed,
            allow_failed=config.allow_failed_diagnostics,
            parts=(prepared or {}).get("maps"),
        )
        results["planners"] = section
        output.planners = present_planners(section)
    _write_run_files(tmp, output, loaded, config)
    return output


def input_files(loaded: LoadedTrial) -> list[Path]:
    """Every file a run reads: the trial file and the CSVs it names (never inside ``--out``)."""
    files = [Path(loaded.path)]
    for tte in loaded.trial.time_to_event.values():
        if tte.patient_data is not None:
            files.append(loaded.base / tte.patient_data.path)
        if tte.digitised_curve is not None:
            files += [
                loaded.base / tte.digitised_curve.curve,
                loaded.base / tte.digitised_curve.at_risk,
            ]
    return files


def analyse_endpoint(
    kind: str,
    key: str,
    loaded: LoadedTrial,
    seed: int,
    allow_failed: bool,
    out: Path | None,
    sampler: SamplerSettings | None = None,
) -> EndpointResult:
    """Analyse one endpoint and write its posteriors (netCDF) and figures (PNG) into ``out``
    (``out=None``: keep them in the result, for the notebook API).

    The kind's analysis and presenter are looked up here and passed by name, so that a worker
    process (which imports them) runs what this process registered."""
    return _analyse(
        *KINDS[kind], PRESENTERS.get(kind), kind, key, loaded, seed, allow_failed, out, sampler
    )


def _analyse(
    module: str,
    function: str,
    presenter: str | None,
    kind: str,
    key: str,
    loaded: LoadedTrial,
    seed: int,
    allow_failed: bool,
    out: Path | None,
    sampler: SamplerSettings | None = None,
) -> EndpointResult:
    """What a worker runs: import the analysis by name, run it, derive its follow-up priors,
    word and draw it, write its files."""
    analyse = getattr(importlib.import_module(module), function)
    extra = {} if sampler is None else {"settings": sampler}  # test kinds need not take it
    result = analyse(loaded, key, seed=seed, allow_failed=allow_failed, **extra)
    result.kind = kind
    if result.primary_draws and presenter is not None:
        from trial_reanalysis.analysis.planning.followup import endpoint_followup_priors

        result.followup = endpoint_followup_priors(
            kind, result.primary_draws, analysis_priors=result.analysis_priors
        )
    if presenter is not None:  # words and figures from the numbers (the report's side)
        importlib.import_module(presenter).present(result, loaded)
    if out is not None:
        _write_endpoint_files(Path(out), result)
        result.posteriors = {}  # written; a worker's reply stays small (quick to send, see below)
    return result


@dataclass
class _Workers:
    """Worker processes started ahead of the work (:func:`_start_workers`), with the queue
    through which they report finished fits."""

    pool: Any
    fits: Any
    size: int
    own_server: bool = False  # this run started the fork server the workers come from
    stopped: bool = False

    def stop(self, keep_server: bool = False) -> None:
        """End the workers now, running tasks included (CPython keeps them in ``_processes``;
        without terminating them, shutdown waits for the running tasks to finish), and the fork
        server this run started (still importing, for nothing) unless ``keep_server``."""
        for process in list((getattr(self.pool, "_processes", None) or {}).values()):
            process.terminate()
        self.pool.shutdown(wait=True, cancel_futures=True)
        self._close_queue()
        if self.own_server and not keep_server:
            stop_server()

    def release(self) -> None:
        """Let the workers go once their tasks are done (their exit overlaps what follows)."""
        self.pool.shutdown(wait=False, cancel_futures=True)
        self._close_queue()

    def _close_queue(self) -> None:
        if not self.stopped:
            self.stopped = True
            self.fits.close()


def _start_workers(size: int) -> _Workers | None:
    """``size`` worker processes importing the analysis stack at once; None for one.

    Forked by the fork server (:func:`.executors.worker_context`), which imports the stack once
    and is started here, so its imports overlap this process's reading of the trial (the workers
    themselves start when the first task is submitted); spawned workers are sent a warm-up task
    instead, each importing the stack."""
    if size <= 1:
        return None
    before = server_pid()
    context = worker_context(worker_modules())
    fits = context.Queue()
    pool = process_pool(size, fits, context=context)
    if context.get_start_method() != "forkserver":
        for _ in range(size):
            pool.submit(_warm_up)
    return _Workers(pool, fits, size, own_server=server_pid() not in (None, before))


#: The sampling and plotting stack a worker needs (some of it imported lazily by our modules, so
#: that the run's own process, which only reads results, never loads it).
_WORKER_STACK = ("pymc", "nutpie", "arviz", "xarray", "matplotlib.pyplot")


def worker_modules() -> tuple[str, ...]:
    """What a worker imports before its first task: the sampling stack, every endpoint analysis
    and presenter (a fork server's preload, a spawned worker's warm-up)."""
    return (*_WORKER_STACK, *(m for m, _ in KINDS.values()), *PRESENTERS.values())


def _warm_up() -> None:
    """Import :func:`worker_modules`."""
    for module in worker_modules():
        importlib.import_module(module)


class _FitProgress:
    """The step being run, with a count of the fits done and the last one's label."""

    def __init__(self, tell: Callable[[str, int, int], None], n_steps: int) -> None:
        self.tell, self.n_steps = tell, n_steps
        self.what, self.step, self.fits = "", 0, 0

    def step_to(self, what: str, step: int) -> None:
        self.what, self.step = what, step
        self._show(None)

    def fit(self, label: str) -> None:
        self.fits += 1
        self._show(label)

    def _show(self, label: str | None) -> None:
        text = self.what
        if self.fits:
            text += f": {self.fits} fit{'s' if self.fits > 1 else ''} done"
            if label:
                text += f" (last: {label if len(label) <= 60 else label[:57] + '...'})"
        self.tell(text, self.step, self.n_steps)


def _analyse_endpoints(
    names: dict[str, tuple[str, str]],
    loaded: LoadedTrial,
    config: RunConfig,
    tmp: Path,
    tell: Callable[[str, int, int], None],
    prepared: dict[str, Any] | None = None,
    early: _Workers | None = None,
) -> list[EndpointResult]:
    """Every endpoint's result, in report order: here, or in worker processes (``early``: the
    ones already started, used when processes are wanted, released otherwise). With workers and
    a historical set, the planners' maps (which need no endpoint result) are computed by the
    pool too and left in ``prepared["maps"]``. Progress counts every gated fit as it ends."""
    from trial_reanalysis.analysis.inference.progress import set_sink

    progress = _FitProgress(tell, len(names) + 2)
    workers = config.workers or min(len(names), len(os.sched_getaffinity(0)))
    args = (loaded, config.seed, config.allow_failed_diagnostics, tmp, config.sampler)
    if workers <= 1 or len(names) <= 1:
        if early is not None:  # not needed after all: end them now, not after their imports
            early.stop()
        previous = set_sink(progress.fit)
        try:
            done = []
            for i, (name, (kind, key)) in enumerate(names.items()):
                progress.step_to(f"analysing {name.replace('_', ' ')}", i)
                done.append(analyse_endpoint(kind, key, *args))
            return done
        finally:
            set_sink(previous)
    if early is None or early.size != workers:
        own_server = early is not None and early.own_server
        if early is not None:
            early.stop(keep_server=True)  # another size: the same server forks them
        early = _start_workers(workers)
        if early is not None:
            early.own_server = early.own_server or own_server
    results = _analyse_in_pool(names, loaded, config, args, early, progress)
    if _MAPS in results and prepared is not None:
        prepared["maps"] = results[_MAPS]
    return [results[n] for n in names]


def _analyse_in_pool(
    names: dict[str, tuple[str, str]],
    loaded: LoadedTrial,
    config: RunConfig,
    args: tuple,
    workers: _Workers,
    progress: _FitProgress,
) -> dict[str, Any]:
    """The endpoints (and, with a historical set, the planners' maps) on the workers, which
    report each finished fit through a queue; results by endpoint name (maps: :data:`_MAPS`)."""
    from queue import Empty

    label = ", ".join(n.replace("_", " ") for n in names)
    progress.step_to(f"analysing {label} ({workers.size} processes)", 0)
    pool, fits = workers.pool, workers.fits

    def drain(wait_s: float = 0.0) -> None:
        """Show every fit reported so far (``wait_s``: how long to wait for one in transit)."""
        while True:
            try:
                progress.fit(fits.get(timeout=wait_s) if wait_s else fits.get_nowait())
            except Empty:
                return

    try:
        order = sorted(names, key=lambda n: -COST_RANK.get(names[n][0], 0))
        futures: dict[Future, str] = {
            pool.submit(
                _analyse, *KINDS[names[n][0]], PRESENTERS.get(names[n][0]), *names[n], *args
            ): n
            for n in order
        }
        if config.historical is not None:
            from trial_reanalysis.analysis.planning.planners import map_parts

            maps = pool.submit(
                map_parts,
                loaded,
                config.historical,
                seed=config.seed,
                allow_failed=config.allow_failed_diagnostics,
            )
            futures[maps] = _MAPS
        results: dict[str, Any] = {}
        pending = set(futures)
        while pending:
            finished, pending = wait(pending, timeout=0.25, return_when=FIRST_COMPLETED)
            drain()
            for future in finished:
                results[futures[future]] = future.result()  # re-raises a worker's error
            if finished:
                left = [n.replace("_", " ") for n in names if n not in results]
                if _MAPS in futures.values() and _MAPS not in results:
                    left.append("MAP priors across trials")
                what = f"analysing {', '.join(left)}" if left else "endpoints analysed"
                progress.step_to(what, sum(n in results for n in names))
        drain(0.1)  # a worker's last labels may still be in its queue's feeder thread
    except BaseException:
        # Do not wait for the other endpoints: stop their processes. A worker killed while
        # sending its reply could leave the pool waiting for the rest of it; replies are small
        # (no posteriors), which keeps that window to a fraction of a millisecond.
        workers.stop()
        raise
    # Every task is done; the workers' own exit (about a second) overlaps the writing below.
    workers.release()
    return results


#: Key of the planners' maps among the pool's tasks (no endpoint key starts with "<").
_MAPS = "<planners' maps>"


def _copy_figures(source: Path, figures: Path) -> None:
    """Copy every PNG of a finished run into ``figures`` (each file replaced atomically)."""
    figures.mkdir(parents=True, exist_ok=True)
    for png in sorted(source.glob("*.png")):
        staged = figures / f".{png.name}.tmp"
        shutil.copyfile(png, staged)
        staged.replace(figures / png.name)


def write_posterior(idata: az.InferenceData, path: Path) -> None:
    """Write an InferenceData as ArviZ's ``to_netcdf(engine="netcdf4")`` does, opening the file
    once instead of once per group.

    The same layout (root attributes, one netCDF group per InferenceData group) and the same
    compression (zlib at netCDF4's default level, with shuffle, on every numeric variable), so
    ``az.from_netcdf`` reads back the same groups (``tests/test_figure_writing.py``). ArviZ
    reopens the file for every group through xarray; with three small groups a file, the opening
    and closing was about a fifth of the time. netCDF4 rather than h5netcdf: twice as fast here.
    The netCDF4 library's own lock is passed, which is what xarray would take beside a lock for
    writes scheduled by Dask; finding that second lock imported Dask's distributed scheduler
    (about 0.7 s) in every process where Dask is installed. One thread writes each file here.
    """
    import xarray as xr
    from xarray.backends import NetCDF4DataStore
    from xarray.backends.netCDF4_ import NETCDF4_PYTHON_LOCK

    store = NetCDF4DataStore.open(str(path), mode="w", lock=NETCDF4_PYTHON_LOCK)
    try:
        if idata.attrs:
            xr.Dataset(attrs=idata.attrs).dump_to_store(store)
        for group in idata.groups():
            data = idata[group]
            compressed = {
                name: {"zlib": True}
                for name, variable in data.variables.items()
                if variable.dtype.kind in "biufcS"  # ArviZ's compressible kinds
            }
            data.dump_to_store(store.get_child_store(group), encoding=compressed)
    finally:
        store.close()


def _write_endpoint_files(tmp: Path, e: EndpointResult) -> None:
    """An endpoint's posteriors (netCDF) and figures (PNG, with the trace/rank appendix)."""
    # heavy (jinja2, matplotlib): imported when writing
    from trial_reanalysis.analysis.report import plots
    from trial_reanalysis.analysis.report import render as report

    for stem, idata in e.posteriors.items():
        write_posterior(idata, tmp / "posteriors" / f"{stem}.nc")
    for stem, fig in e.figures.items():
        report.save_figure(fig, tmp / "figures" / f"{stem}.png")
    if e.primary_posterior is not None:
        fig = plots.plot_trace_rank(
            e.posteriors[e.primary_posterior], title=f"{e.title}: primary fit"
        )
        report.save_figure(fig, tmp / "figures" / f"appendix_{e.name}_trace_rank.png")


def _write_run_files(tmp: Path, output: RunOutput, loaded: LoadedTrial, config: RunConfig) -> None:
    """Everything but the endpoints' own files: results.json, tables, follow-up, report."""
    from trial_reanalysis.analysis.report import render as report

    (tmp / "results.json").write_text(dumps_results(output.results))
    for e in output.endpoints:
        e.comparison.to_csv(tmp / "tables" / f"{e.name}_comparison.csv", index=False)
        e.sensitivity.to_csv(tmp / "tables" / f"{e.name}_sensitivity.csv", index=False)
        for stem, table in e.tables.items():
            table.to_csv(tmp / "tables" / f"{stem}.csv", index=False)
    if output.results.get("followup_priors"):
        from trial_reanalysis.analysis.planning.followup import write_followup_priors

        write_followup_priors(output.results["followup_priors"], tmp / "followup_priors.json")
    if output.planning_table is not None:
        output.planning_table.to_csv(tmp / "tables" / "followup_planning.csv", index=False)
        report.save_figure(output.planning_figure, tmp / "figures" / "followup_oc_curves.png")
    if output.planners is not None:
        for stem, table in output.planners["tables"].items():
            table.to_csv(tmp / "tables" / f"{stem}.csv", index=False)
        for stem, fig in output.planners["figures"].items():
            report.save_figure(fig, tmp / "figures" / f"{stem}.png")
    report.write_reports(tmp, output, loaded, config)
