"""Command line: ``reanalysis run | reconstruct rate|table|km | plan | priors | schema | validate``.

A thin layer: every command calls a library function and only formats its result. Bad input exits
with code 2 and a message naming the file (or option), the field and the problem; a fit that fails
its diagnostic gates exits with code 3. Heavy libraries are imported inside the commands so that
``--help`` stays instant.
"""

from __future__ import annotations

import json
import signal
import sys
from collections.abc import Callable
from functools import wraps
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.markup import escape
from rich.table import Table
from rich.text import Text

from trial_reanalysis.analysis.constants import DEFAULT_SEED
from trial_reanalysis.analysis.errors import InputError, ReanalysisError

app = typer.Typer(
    help=(
        "Bayesian reanalysis of a published single-arm phase 2 trial from its published summaries "
        "(default: sorafenib in mRCC refractory to bevacizumab or sunitinib, Cancer 2010)."
    ),
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    # plain help: it wraps to any terminal width instead of cutting option names at 80 columns
    rich_markup_mode=None,
)
reconstruct_app = typer.Typer(
    help="Reconstruct data compatible with a published summary.",
    no_args_is_help=True,
    rich_markup_mode=None,
)
app.add_typer(reconstruct_app, name="reconstruct")
err = Console(stderr=True)
out = Console()


def _version(value: bool) -> None:
    if value:
        from importlib.metadata import version

        print(f"reanalysis (trial-reanalysis) {version('trial-reanalysis')}")
        raise typer.Exit()


@app.callback()
def main(
    version: Annotated[
        bool | None,
        typer.Option(
            "--version", callback=_version, is_eager=True, help="Print the version and exit."
        ),
    ] = None,
) -> None:
    """Bayesian reanalysis of a published single-arm phase 2 trial from its published summaries
    (default: sorafenib in mRCC refractory to bevacizumab or sunitinib, Cancer 2010)."""


def _exit_on_signal(signum: int, _frame: object) -> None:
    """SIGTERM ends a run like Ctrl-C does: workers stopped, staging folder removed."""
    raise SystemExit(128 + signum)


def say_error(message: object) -> None:
    """One error line on stderr; the message is printed literally (no rich markup in user text)."""
    err.print("[bold red]error:[/] ", end="", highlight=False)
    err.print(str(message), highlight=False, markup=False, soft_wrap=True)


def handles_errors(command: Callable[..., Any]) -> Callable[..., Any]:
    """Turn the package's errors into a one-line message and their exit code (2: bad input).

    Failures of the machine rather than of the input (disk full, a read-only or unwritable folder)
    are one line and exit code 1, not a traceback.
    """

    @wraps(command)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return command(*args, **kwargs)
        except ReanalysisError as exc:
            say_error(exc)
            raise typer.Exit(exc.exit_code) from None
        except ValueError as exc:  # argument checks of the library functions
            say_error(exc)
            raise typer.Exit(2) from None
        except OSError as exc:
            where = f" ({exc.filename})" if exc.filename else ""
            say_error(f"cannot write or read a file{where}: {exc.strerror or exc}")
            raise typer.Exit(1) from None

    return wrapper


def findings_table(output: Any) -> Table:
    """The key finding of each endpoint (its first sentence) as a terminal table."""
    table = Table(title="Key findings", show_lines=True, title_justify="left")
    table.add_column("endpoint", no_wrap=True)
    table.add_column("finding")
    for e in output.endpoints:
        first = e.sentences[0] if e.sentences else "(no sentence)"
        table.add_row(Text(e.title), Text(first))
    return table


def historical_set(
    trial_file: Path | None, historical: Path | None, planners: bool | None
) -> Path | None:
    """The historical set of the planners' section: the one given, else (for the seed trial) the
    packaged set of its setting; None when the section is off."""
    from trial_reanalysis.analysis.planning.historical import DEFAULT_HISTORICAL

    if planners is False:
        return None
    if historical is not None:
        return historical
    return DEFAULT_HISTORICAL if (trial_file is None or planners) else None


def committed_figures_dir(
    trial_file: Path | None,
    seed: int,
    endpoints: list[str] | None,
    refresh: bool | None,
    *,
    priors: list[str] | None = None,
    historical: Path | None = None,
    planners: bool | None = None,
) -> Path | None:
    """The repository's figures/ when this run refreshes it, else None.

    By default only the default run (seed trial, default seed, every endpoint, the default
    priors and planners' section) does, so that any other run never changes the committed
    figures; ``refresh`` overrides.
    """
    from trial_reanalysis.analysis.paths import FIGURES_DIR

    if refresh is None:
        refresh = (
            trial_file is None
            and seed == DEFAULT_SEED
            and not endpoints
            and not priors
            and historical is None
            and planners is not False
        )
    folder = FIGURES_DIR
    return folder if refresh and folder.is_dir() else None


# Options that run, validate and batch share (one declaration each, so they cannot drift apart).
TrialFileArg = Annotated[
    Path | None,
    typer.Argument(help="Trial file (TOML, see docs/trial-files.md). Default: the seed trial."),
]
SeedOpt = Annotated[int, typer.Option(help="Seed of every fit; same seed, same numbers.")]
AllowFailedOpt = Annotated[
    bool,
    typer.Option(
        "--allow-failed-diagnostics",
        help="Write the report even if a fit fails its gates (marked in red).",
    ),
]
EndpointOpt = Annotated[
    list[str] | None,
    typer.Option(
        help="Only this endpoint (repeatable): a key the trial file declares (seed: "
        "burden_reduction, pfs, prior_therapy)."
    ),
]
PriorOpt = Annotated[
    list[str] | None,
    typer.Option(
        "--prior",
        metavar="ENDPOINT=NAME",
        help="Make NAME the primary prior of ENDPOINT (repeatable): one of the priors "
        "'reanalysis priors TRIAL_FILE' lists for it, e.g. burden_reduction=jeffreys. The "
        "headline, the follow-up priors and the key findings then use it.",
    ),
]


def _prior_pairs(prior: list[str] | None) -> tuple[tuple[str, str], ...]:
    """The ``--prior ENDPOINT=NAME`` values as pairs (InputError, exit 2, if malformed)."""
    from trial_reanalysis.analysis.endpoints.priors import parse_prior_options

    return tuple(parse_prior_options(prior or ()))


@app.command()
@handles_errors
def run(
    trial_file: TrialFileArg = None,
    out_dir: Annotated[
        Path,
        typer.Option(
            "--out",
            help="Output folder: new, empty, or one an earlier run wrote (replaced whole at the "
            "end). A folder holding other files is refused, never emptied.",
        ),
    ] = Path("results"),
    seed: SeedOpt = DEFAULT_SEED,
    allow_failed_diagnostics: AllowFailedOpt = False,
    endpoint: EndpointOpt = None,
    prior: PriorOpt = None,
    refresh_figures: Annotated[
        bool | None,
        typer.Option(
            "--refresh-figures/--no-refresh-figures",
            help="Also copy the figures into the repository's figures/ (default: on only for "
            "the default run: seed trial, default seed, every endpoint).",
        ),
    ] = None,
    historical: Annotated[
        Path | None,
        typer.Option(
            help="A historical set (data/historical/*.toml) for the planners' section: MAP "
            "priors across trials and a comparison of follow-up designs. Default: the packaged "
            "set of the seed's setting, for the seed trial only.",
        ),
    ] = None,
    planners: Annotated[
        bool | None,
        typer.Option(
            "--planners/--no-planners",
            help="Add (or leave out) the planners' section (default: on for the seed trial or "
            "when --historical is given).",
        ),
    ] = None,
    workers: Annotated[
        int | None,
        typer.Option(
            min=1,
            help="Processes the endpoints run in (default: one per endpoint, up to the number "
            "of cores; 1 runs them one after another in this process). Same numbers either way.",
        ),
    ] = None,
) -> None:
    """Run the full reanalysis and write results.json, report.md, report.html, tables (CSV),
    posteriors (netCDF) and figures (PNG) into --out."""
    from trial_reanalysis.analysis.run import RunConfig, run_analysis

    # an --endpoint the trial file does not declare, or a bad --prior: run_analysis refuses it
    # (exit 2) before any work
    signal.signal(signal.SIGTERM, _exit_on_signal)  # clean up (workers, staging) on SIGTERM too
    config = RunConfig(
        trial_path=trial_file,
        out_dir=out_dir,
        seed=seed,
        allow_failed_diagnostics=allow_failed_diagnostics,
        figures_dir=committed_figures_dir(
            trial_file,
            seed,
            endpoint,
            refresh_figures,
            priors=prior,
            historical=historical,
            planners=planners,
        ),
        endpoints=tuple(endpoint) if endpoint else None,
        workers=workers,
        historical=historical_set(trial_file, historical, planners),
        priors=_prior_pairs(prior),
    )
    with _progress_display() as progress:
        task = progress.add_task("loading the trial file", total=None)

        def tell(step: str, i: int, n: int) -> None:
            progress.update(task, description=step, completed=i, total=n)

        output = run_analysis(config, progress=tell)
    _print_run_summary(output)


def _progress_display() -> Any:
    """The progress display of run and batch (on stderr: stdout keeps the results)."""
    from rich.progress import BarColumn, Progress, SpinnerColumn, TextColumn, TimeElapsedColumn

    return Progress(
        SpinnerColumn(),
        TextColumn("{task.description}"),
        BarColumn(),
        TextColumn("{task.completed}/{task.total}"),
        TimeElapsedColumn(),
        console=err,
        transient=False,
    )


def _print_run_summary(output: Any) -> None:
    """Key findings, what was written where, and whether every fit passed its gates."""
    status = "[green]all fits passed their diagnostic gates[/]"
    if not output.diagnostics_passed:
        status = "[bold red]some fits FAILED their diagnostic gates (marked in the report)[/]"
    out.print(findings_table(output))
    out.print(f"wrote {len(output.files)} files to {escape(str(output.out_dir))} ({status})")
    out.print(f"open {escape(str(output.out_dir / 'report.html'))}")


@reconstruct_app.command("rate")
@handles_errors
def reconstruct_rate_command(
    percent: Annotated[float, typer.Option(help="Reported percentage, e.g. 30.")],
    ci: Annotated[tuple[float, float], typer.Option(help="Reported CI in percent: LOWER UPPER.")],
    max_n: Annotated[int, typer.Option(help="Largest possible denominator (e.g. enrolled).")],
    decimals: Annotated[int, typer.Option(help="Decimals the report was rounded to.")] = 0,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON instead of a table.")] = False,
) -> None:
    """List every responders/evaluable whose estimate and 95 % CI reproduce a reported rate,
    under each interval method (exact, Wilson, Wilson with continuity correction, Jeffreys,
    Wald)."""
    from trial_reanalysis.analysis.reconstruction.rates import (
        candidates_as_records,
        reconstruct_rate,
    )
    from trial_reanalysis.analysis.trials.validation import check_rate_arguments

    warning = check_rate_arguments(percent, ci, max_n)
    if decimals < 0:
        raise InputError("--decimals", "decimals", f"{decimals} must be >= 0")
    if warning is not None:
        err.print(f"warning: {warning}", markup=False, highlight=False)
    candidates = reconstruct_rate(percent, ci, max_n, decimals=decimals)
    records = candidates_as_records(candidates)
    if as_json:
        print(json.dumps(records, indent=2))
        return
    table = Table(title=f"{percent:g} % ({ci[0]:g}-{ci[1]:g} %), n <= {max_n}: compatible counts")
    for col in ("responders", "evaluable", "interval method", "estimate %", "95 % CI (%)"):
        table.add_column(col)
    for r in records:
        lo, hi = r["ci_percent"]
        table.add_row(
            str(r["responders"]),
            str(r["evaluable"]),
            r["ci_method"],
            f"{r['estimate_percent']:.2f}",
            f"{lo:.2f}-{hi:.2f}",
        )
    out.print(table)
    if not records:
        out.print("no compatible (responders, evaluable)")


@reconstruct_app.command("table")
@handles_errors
def reconstruct_table_command(
    p_value: Annotated[
        str,
        typer.Option(
            help="Two-sided P value as printed: '= .03' (or 0.03), '< .001', '> .05' or 'NS'."
        ),
    ],
    n_exposed: Annotated[
        int,
        typer.Option(
            "--n-exposed", "--n-bev", help="Patients in the exposed group (the OR's numerator)."
        ),
    ],
    n_reference: Annotated[
        int,
        typer.Option(
            "--n-reference", "--n-sun", help="Patients in the reference group (OR's denominator)."
        ),
    ],
    more_frequent_in: Annotated[
        str,
        typer.Option(
            "--more-frequent-in",
            "--more-frequent-after",
            help="Group with the higher event rate (its --exposed or --reference name), or "
            "'unknown' when not published (every direction then reproduces the report).",
        ),
    ],
    exposed: Annotated[str, typer.Option(help="Name of the exposed group.")] = "exposed",
    reference: Annotated[str, typer.Option(help="Name of the reference group.")] = "reference",
    test: Annotated[str, typer.Option(help="Test behind the P value: fisher or chi2.")] = "fisher",
    ns_threshold: Annotated[float, typer.Option(help="Significance level behind 'NS'.")] = 0.05,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON instead of a table.")] = False,
) -> None:
    """List every 2x2 table (events of n_exposed, events of n_reference) whose P value lies in
    the interval the printed P stands for, in the reported direction."""
    from trial_reanalysis.analysis.reconstruction.tables import compatible_tables

    number, (lo, hi), direction = _table_checks(
        p_value, n_exposed, n_reference, more_frequent_in, exposed, reference, test, ns_threshold
    )
    groups = (exposed, reference)
    rows = compatible_tables((lo, hi), n_exposed, n_reference, direction, groups=groups, test=test)
    if as_json:
        print(json.dumps(rows, indent=2))
        return
    shown = p_value if number is None else f"= {number:g}"
    table = Table(
        title=f"P {escape(shown)} ({test}), {n_exposed} vs {n_reference}: compatible tables"
    )
    for col in (f"{exposed} events", f"{reference} events", "P value"):
        table.add_column(escape(col))
    for r in rows:
        table.add_row(
            f"{r['exposed_events']}/{n_exposed}",
            f"{r['reference_events']}/{n_reference}",
            f"{r['p_value']:.4g}",
        )
    out.print(table)
    upper = "1]" if hi >= 1.0 else f"{hi:g})"
    out.print(f"{len(rows)} compatible tables (P in [{lo:g}, {upper})")


def _table_checks(
    p_value: str,
    n_exposed: int,
    n_reference: int,
    more_frequent_in: str,
    exposed: str,
    reference: str,
    test: str,
    ns_threshold: float,
) -> tuple[float | None, tuple[float, float], str | None]:
    """reconstruct table's option checks: the P value as a number (None: a printed form), the
    interval it stands for, and the direction (None: unknown)."""
    from trial_reanalysis.analysis.reconstruction.tables import TESTS, p_interval
    from trial_reanalysis.analysis.trials.validation import check_table_arguments

    try:
        number = float(p_value)
    except ValueError:
        number = None  # a printed form, read below
    # the group sizes (and a numeric P) checked as before; a printed form is read by p_interval
    check_table_arguments(0.5 if number is None else number, n_exposed, n_reference)
    try:
        interval = p_interval(p_value if number is None else number, ns_threshold=ns_threshold)
    except ValueError as error:
        raise InputError("--p-value", "p-value", str(error)) from None
    if exposed == reference:
        raise InputError("--exposed", "exposed", "the two groups need different names")
    groups = (exposed, reference)
    direction = None if more_frequent_in == "unknown" else more_frequent_in
    if direction is not None and direction not in groups:
        raise InputError(
            "--more-frequent-in", "more-frequent-in", f"choose one of {[*groups, 'unknown']}"
        )
    if test not in TESTS:
        raise InputError("--test", "test", f"{test!r}: choose one of {list(TESTS)}")
    return number, interval, direction


@reconstruct_app.command("km")
@handles_errors
def reconstruct_km_command(
    curve: Annotated[Path, typer.Option(help="CSV with columns time,survival (digitised KM).")],
    at_risk: Annotated[Path, typer.Option(help="CSV with columns time,n_at_risk.")],
    out_csv: Annotated[Path, typer.Option("--out", help="Where to write time,event (CSV).")],
    total_events: Annotated[
        int | None, typer.Option(help="Total number of events, if published.")
    ] = None,
    clean: Annotated[
        bool,
        typer.Option(
            "--clean",
            help="Clean a raw digitisation (percent, negative or repeated times, small rises)"
            " and list every change.",
        ),
    ] = False,
) -> None:
    """Reconstruct pseudo patient data from a digitised Kaplan-Meier curve (Guyot et al. 2012)."""
    from trial_reanalysis.analysis.reconstruction.curves import reconstruct_curve_files
    from trial_reanalysis.analysis.trials.validation import read_digitised_curve

    if total_events is not None and total_events < 0:
        raise InputError("--total-events", "total-events", "must be a non-negative integer")
    read_digitised_curve(curve, at_risk, total_events, clean=clean)  # the checks load_trial makes
    result = reconstruct_curve_files(curve, at_risk, out_csv, total_events, clean=clean)
    if clean:
        out.print(f"cleaning {curve}: {len(result.changes)} changes", markup=False)
    for change in result.changes:
        out.print(f"  {change}", markup=False, highlight=False)
    table = Table(title="Numbers at risk: published vs reconstructed")
    for col in ("time", "published", "reconstructed", "difference"):
        table.add_column(col, justify="right")
    for row in result.at_risk.itertuples():
        table.add_row(f"{row.time:g}", *(str(v) for v in row[2:]))
    out.print(table)
    for warning in result.warnings:
        err.print("[bold yellow]warning:[/] ", end="", highlight=False)
        err.print(str(warning), markup=False, highlight=False)
    out.print(
        f"wrote {len(result.ipd)} reconstructed patients ({result.events} events) to {out_csv}",
        markup=False,
    )


# plan's longer options, declared apart so that the command reads as a list of them
_PlanDesignPriorOpt = Annotated[
    str | None,
    typer.Option(
        help="Design prior: the prior over the true rate (or median) for the assurance and "
        "the prior predictive; a follow-up prior's name (default: the primary, first one) "
        "or, with --map-prior, a prior of that file."
    ),
]
_PlanAnalysisPriorOpt = Annotated[
    str | None,
    typer.Option(
        help="Prior of the final analysis: 'a,b' for Beta(a, b) or a follow-up prior's name "
        "(default Beta(1, 1))."
    ),
]
_PlanAccrualMonthsOpt = Annotated[
    float, typer.Option(help="Time to event only: uniform accrual period (endpoint's unit).")
]
_PlanFollowupMonthsOpt = Annotated[
    float,
    typer.Option(help="Time to event only: follow-up after the last patient (inf: none)."),
]
_PlanThresholdMonthsOpt = Annotated[
    float | None,
    typer.Option(help="Time to event only: success if the KM median exceeds this."),
]
_PlanMapPriorOpt = Annotated[
    Path | None,
    typer.Option(
        help="Time to event only: a MAP prior on the log median (JSON of 'reanalysis prior "
        "map') as the design prior."
    ),
]
_PlanShapeOpt = Annotated[
    float | None,
    typer.Option(
        help="With --map-prior: fixed Weibull shape (default: the log-shape prior of the "
        "endpoint's primary follow-up prior)."
    ),
]


@app.command()
@handles_errors
def plan(
    results: Annotated[Path, typer.Option(help="results.json of a run.")],
    endpoint: Annotated[str, typer.Option(help="Endpoint whose prior to use.")] = (
        "burden_reduction"
    ),
    design_prior: _PlanDesignPriorOpt = None,
    prior: Annotated[
        str | None,
        typer.Option(
            help="Alias of --design-prior (kept for old scripts; not run's --prior "
            "ENDPOINT=NAME, which chooses an analysis's primary prior)."
        ),
    ] = None,
    analysis_prior: _PlanAnalysisPriorOpt = None,
    n: Annotated[int, typer.Option(help="Patients in the follow-up trial.")] = 40,
    p0: Annotated[float, typer.Option(help="Uninteresting rate (null).")] = 0.05,
    p1: Annotated[float, typer.Option(help="Target rate (alternative).")] = 0.20,
    success_prob: Annotated[
        float, typer.Option(help="Success when P(rate > p0 | data) >= this.")
    ] = 0.95,
    alpha: Annotated[
        float, typer.Option(help="Type I error the calibrated rule keeps to (binary).")
    ] = 0.05,
    accrual_months: _PlanAccrualMonthsOpt = 12.0,
    followup_months: _PlanFollowupMonthsOpt = 12.0,
    threshold_months: _PlanThresholdMonthsOpt = None,
    map_prior: _PlanMapPriorOpt = None,
    shape: _PlanShapeOpt = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
) -> None:
    """Plan a single-arm follow-up trial with a prior exported by a run.

    Binary endpoint (burden_reduction): the rule P(rate > p0 | data) >= success-prob under the
    analysis prior, its critical number of responders and exact type I error and power
    (enumeration), the calibrated rule (smallest threshold with type I error <= alpha) with its
    power, assurance under the design prior; Simon designs beside them.
    Time to event (--endpoint pfs --threshold-months T): assurance that the trial's KM median
    exceeds T, by seeded simulation of 10^4 trials under the exported prior or a MAP prior."""
    from trial_reanalysis.analysis.planning.plan import plan_command

    _plan_checks(
        prior, design_prior, n, p0, p1, success_prob, alpha, accrual_months, followup_months,
        threshold_months, shape,
    )  # fmt: skip
    text = plan_command(
        results,
        endpoint,
        design_prior if design_prior is not None else prior,
        n,
        p0,
        p1,
        success_prob,
        as_json=as_json,
        accrual_months=accrual_months,
        followup_months=followup_months,
        threshold_months=threshold_months,
        analysis_prior=analysis_prior,
        alpha=alpha,
        map_prior_path=map_prior,
        shape=shape,
        prior_alias_used=prior is not None,
    )
    print(text)


def _plan_checks(
    prior: str | None,
    design_prior: str | None,
    n: int,
    p0: float,
    p1: float,
    success_prob: float,
    alpha: float,
    accrual_months: float,
    followup_months: float,
    threshold_months: float | None,
    shape: float | None,
) -> None:
    """plan's option checks, before any work (InputError naming the option: exit 2)."""
    from trial_reanalysis.analysis.trials.validation import check_plan_arguments

    if prior is not None and design_prior is not None and prior != design_prior:
        raise InputError("--prior", "prior", "alias of --design-prior: give one of them")
    check_plan_arguments(
        n=n,
        p0=p0,
        p1=p1,
        success_prob=success_prob,
        accrual_months=accrual_months,
        followup_months=followup_months,
        threshold_months=threshold_months,
    )
    if not 0 < alpha < 1:
        raise InputError("--alpha", "alpha", f"{alpha} must lie strictly between 0 and 1")
    if shape is not None and not (0 < shape < float("inf")):
        raise InputError("--shape", "shape", f"{shape} must be a finite positive number")


@app.command()
@handles_errors
def validate(
    trial_file: TrialFileArg = None,
    endpoint: EndpointOpt = None,
    prior: PriorOpt = None,
) -> None:
    """Check a trial file, and the --endpoint and --prior choices a run would make with it: say
    what is wrong (exit code 2, as run would) or that it is valid."""
    from trial_reanalysis.analysis.paths import DEFAULT_TRIAL
    from trial_reanalysis.analysis.run import RunConfig, prepare_trial

    config = RunConfig(
        trial_path=trial_file,
        endpoints=tuple(endpoint) if endpoint else None,
        priors=_prior_pairs(prior),
    )
    loaded, names = prepare_trial(config)  # exactly the checks run makes before any work
    version = loaded.schema_version_read
    read = f"schema version {version}" + (", migrated to 2" if version != 2 else "")
    out.print(f"{escape(str(trial_file or DEFAULT_TRIAL))}: valid ({read})")
    if endpoint:
        out.print(Text(f"endpoints: {', '.join(names)}"))
    for _, key, name in loaded.chosen_priors:
        out.print(Text(f"primary prior of {key}: {name}"))


class _BatchStopped(Exception):
    """The first failing file of a batch run without --keep-going (stops the batch)."""

    def __init__(self, path: Path, error: Exception) -> None:
        super().__init__(f"{path}: {error}")
        self.path, self.error = path, error


def exit_code_of(error: BaseException) -> int:
    """The exit code a failure maps to: 2 bad input, 3 failed diagnostics, 1 anything else
    (as :func:`handles_errors` maps them for a single command)."""
    if isinstance(error, ReanalysisError):
        return error.exit_code
    return 2 if isinstance(error, ValueError) else 1


_WHY = {2: "bad input", 3: "failed diagnostics", 1: "error"}


@app.command()
@handles_errors
def batch(
    files: Annotated[
        list[Path],
        typer.Argument(metavar="FILE", help="Trial files (TOML); each writes OUT/<stem>/."),
    ],
    out_dir: Annotated[
        Path,
        typer.Option(
            "--out",
            help="Folder of the batch: OUT/<stem> per file, each new, empty or written by an "
            "earlier run (replaced whole); OUT itself is never emptied.",
        ),
    ],
    seed: SeedOpt = DEFAULT_SEED,
    workers: Annotated[
        int | None,
        typer.Option(
            min=1,
            help="Processes the files run in (default: one per file, up to the number of "
            "cores; 1 runs them one after another here). Same numbers either way.",
        ),
    ] = None,
    endpoint: EndpointOpt = None,
    prior: PriorOpt = None,
    allow_failed_diagnostics: AllowFailedOpt = False,
    keep_going: Annotated[
        bool,
        typer.Option(
            "--keep-going",
            help="Run every file even if some fail; the exit code is then the largest of the "
            "failures' (2 input, 3 diagnostics, 1 other). Default: stop at the first failure.",
        ),
    ] = False,
) -> None:
    """Reanalyse many trial files, each model compiled once per process: every file's run is
    exactly 'reanalysis run FILE --out OUT/<stem>' with the same options (same numbers), and a
    summary table at the end lists each file: ok or failed (why)."""
    from trial_reanalysis.analysis.batch import batch_configs

    signal.signal(signal.SIGTERM, _exit_on_signal)  # stop the workers, remove staging folders
    configs = batch_configs(
        files,
        out_dir,
        seed=seed,
        allow_failed_diagnostics=allow_failed_diagnostics,
        endpoints=endpoint,
        priors=_prior_pairs(prior),
    )
    _check_batch_folders(out_dir, configs)
    outputs, failures, stopped = _run_batch_with_progress(configs, out_dir, workers, keep_going)
    out.print(_batch_table(configs, outputs, failures))
    codes = [exit_code_of(e) for e in failures.values()]
    if stopped is not None:
        why = _WHY.get(exit_code_of(stopped.error), "error")
        say_error(f"{stopped.path} failed ({why}), the batch stopped there: {stopped.error}")
    elif codes:
        say_error(f"{len(codes)} of {len(configs)} trial files failed")
    if codes:
        raise typer.Exit(max(codes))


def _check_batch_folders(out_dir: Path, configs: list[Any]) -> None:
    """OUT and every OUT/<stem> under the output-folder rules, before any file runs."""
    from trial_reanalysis.analysis.outdir import check_batch_dir, check_output_dir

    check_batch_dir(out_dir, [c.trial_path for c in configs])
    for c in configs:
        check_output_dir(c.out_dir, [c.trial_path])


def _run_batch_with_progress(
    configs: list[Any], out_dir: Path, workers: int | None, keep_going: bool
) -> tuple[dict[Path, Any], dict[Path, Exception], _BatchStopped | None]:
    """Run the batch with a progress line per file; a failure is named when it happens.

    Returns each finished file's output and each failure by trial path, and the failure that
    stopped the batch (None with --keep-going or when none failed).
    """
    from trial_reanalysis.analysis.batch import run_batch

    failures: dict[Path, Exception] = {}  # configs is not empty (batch_configs refuses that)

    def on_error(path: Path, error: Exception) -> None:
        failures[path] = error
        if not keep_going:  # named once, by batch(), after the summary
            raise _BatchStopped(path, error)
        progress.console.print(Text(f"failed: {path.name}: {error}", style="red"))

    outputs: dict[Path, Any] = {}
    stopped = None

    def on_done(path: Path, output: Any) -> None:
        outputs[path] = output
        progress.console.print(Text(f"ok: {path.name} -> {output.out_dir}"))

    with _progress_display() as progress:
        task = progress.add_task("starting the batch", total=len(configs))

        def tell(step: str, i: int, n: int) -> None:
            progress.update(task, description=step, completed=len(outputs) + len(failures))

        try:
            run_batch(
                [c.trial_path for c in configs],
                out_dir,
                seed=configs[0].seed,
                workers=workers,
                allow_failed_diagnostics=configs[0].allow_failed_diagnostics,
                endpoints=configs[0].endpoints,
                priors=configs[0].priors,
                on_error=on_error,
                progress=tell,
                on_done=on_done,
            )
        except _BatchStopped as exc:
            stopped = exc
    return outputs, failures, stopped


def _batch_table(
    configs: list[Any], outputs: dict[Path, Any], failures: dict[Path, Exception]
) -> Table:
    """One row per trial file: ok (where, gates) / failed (why) / not run."""
    table = Table(title="Batch", title_justify="left", show_lines=True)
    for col in ("trial file", "status", "output or reason"):
        table.add_column(col, no_wrap=col == "status", overflow="fold")
    for c in configs:
        path = Path(c.trial_path)
        if path in failures:
            error = failures[path]
            why = _WHY.get(exit_code_of(error), "error")
            table.add_row(Text(path.name), Text("failed", style="red"), Text(f"{why}: {error}"))
        elif path in outputs:
            o = outputs[path]
            gates = "" if o.diagnostics_passed else " (some fits FAILED their gates)"
            table.add_row(Text(path.name), Text("ok", style="green"), Text(f"{o.out_dir}{gates}"))
        else:
            table.add_row(Text(path.name), Text("not run"), Text("the batch stopped before it"))
    return table


@app.command()
def schema(
    out_file: Annotated[
        Path | None, typer.Option("--out", help="Write here instead of printing.")
    ] = None,
) -> None:
    """Print (or write) the JSON schema of the trial-file format."""
    from trial_reanalysis.analysis.trials.load import trial_json_schema

    text = json.dumps(trial_json_schema(), indent=2) + "\n"
    if out_file is None:
        sys.stdout.write(text)
    else:
        out_file.write_text(text)


def _design_prior_from_json(path: Path, endpoint: str, name: str, option: str) -> Any:
    """The Beta / Beta-mixture prior ``name`` of ``endpoint`` in a followup_priors.json (or a
    results.json holding ``followup_priors``); InputError naming ``option`` otherwise."""
    try:
        data = json.loads(path.read_text())
    except OSError as exc:
        raise InputError("--prior-json", str(path), f"cannot read ({exc.strerror})") from exc
    except json.JSONDecodeError as exc:
        raise InputError("--prior-json", str(path), f"not valid JSON: {exc}") from exc
    if isinstance(data, dict) and "followup_priors" in data:
        data = data["followup_priors"]
    priors = data.get(endpoint) if isinstance(data, dict) else None
    if not isinstance(priors, list):
        raise InputError("--endpoint", endpoint, f"no priors for this endpoint in {path}")
    by_name = {p.get("name"): p for p in priors if isinstance(p, dict)}
    if name not in by_name:
        available = ", ".join(map(str, by_name))
        raise InputError(option, name, f"no such prior in {path}; available: {available}")
    prior = by_name[name]
    if prior.get("family") not in ("beta", "beta_mixture"):
        raise InputError(option, name, f"family {prior.get('family')!r} is not beta/beta_mixture")
    return prior


@app.command()
@handles_errors
def design(
    method: Annotated[str, typer.Option(help="simon, posterior, predictive or bop2.")],
    p0: Annotated[float, typer.Option(help="Uninteresting response rate (null), a fraction.")],
    p1: Annotated[float, typer.Option(help="Target response rate (alternative), a fraction.")],
    looks: Annotated[
        str | None,
        typer.Option(help="Cumulative patients at each look, e.g. 10,20,30,40 (not for simon)."),
    ] = None,
    alpha: Annotated[float, typer.Option(help="Largest type I error allowed.")] = 0.1,
    power: Annotated[float, typer.Option(help="Power target of the Simon designs.")] = 0.8,
    prior_a: Annotated[float, typer.Option(help="Analysis prior Beta(a, b): a.")] = 1.0,
    prior_b: Annotated[float, typer.Option(help="Analysis prior Beta(a, b): b.")] = 1.0,
    prior_json: Annotated[
        Path | None, typer.Option(help="followup_priors.json (or results.json) of a run.")
    ] = None,
    prior: Annotated[
        str | None,
        typer.Option(
            help="Name of the analysis prior in --prior-json (a follow-up prior exported by "
            "run; not run's --prior ENDPOINT=NAME)."
        ),
    ] = None,
    design_prior: Annotated[
        str | None, typer.Option(help="Name of a design prior in --prior-json (assurance).")
    ] = None,
    endpoint: Annotated[str, typer.Option(help="Endpoint of --prior-json.")] = "burden_reduction",
    efficacy: Annotated[bool, typer.Option("--efficacy", help="Also stop early for efficacy.")] = (
        False
    ),
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
) -> None:
    """Sequential design of a single-arm follow-up with a binary endpoint: integer boundaries per
    look and exact operating characteristics (type I error, power, early stopping, expected n).

    posterior (Thall-Simon), predictive (Lee-Liu) and bop2 (Zhou-Lee-Yuan) are calibrated on a
    grid to type I error <= --alpha with maximum power; simon prints Simon's optimal and minimax
    designs for --alpha and --power."""
    analysis_prior, dprior = _design_checks(
        method, p0, p1, alpha, power, prior_a, prior_b, prior_json, prior, design_prior, endpoint
    )
    designs, records = _design_records(
        method, p0, p1, looks, alpha, power, analysis_prior, dprior, design_prior, efficacy
    )
    if as_json:
        print(json.dumps({"method": method, "p0": p0, "p1": p1, "designs": records}, indent=2))
        return
    for d, rec in zip(designs, records, strict=True):
        _print_design(d, rec, design_prior)


def _design_checks(
    method: str,
    p0: float,
    p1: float,
    alpha: float,
    power: float,
    prior_a: float,
    prior_b: float,
    prior_json: Path | None,
    prior: str | None,
    design_prior: str | None,
    endpoint: str,
) -> tuple[Any, Any]:
    """design's option checks (InputError naming the option); returns the analysis prior (a
    Beta (a, b) or a prior of --prior-json) and the design prior (None: no assurance)."""
    from trial_reanalysis.analysis.planning import sequential as seq

    if method not in seq.METHODS:
        raise InputError("--method", method, f"choose from {', '.join(seq.METHODS)}")
    for option, value in (("--p0", p0), ("--p1", p1), ("--alpha", alpha), ("--power", power)):
        if not 0.0 < value < 1.0:
            raise InputError(
                option, option.lstrip("-"), f"must lie strictly between 0 and 1, got {value}"
            )
    if p1 <= p0:
        raise InputError("--p1", "p1", f"must exceed --p0 ({p0}), got {p1}")
    if prior_a < 0 or prior_b <= 0:
        raise InputError("--prior-a/--prior-b", "prior", "need a >= 0 and b > 0")
    analysis_prior: Any = (prior_a, prior_b)
    dprior: Any = None
    if (prior is not None or design_prior is not None) and prior_json is None:
        raise InputError("--prior-json", "prior_json", "required with --prior or --design-prior")
    if prior_json is not None and prior is not None:
        analysis_prior = _design_prior_from_json(prior_json, endpoint, prior, "--prior")
    if prior_json is not None and design_prior is not None:
        dprior = _design_prior_from_json(prior_json, endpoint, design_prior, "--design-prior")
    return analysis_prior, dprior


def _design_records(
    method: str,
    p0: float,
    p1: float,
    looks: str | None,
    alpha: float,
    power: float,
    analysis_prior: Any,
    dprior: Any,
    design_prior: str | None,
    efficacy: bool,
) -> tuple[list[Any], list[dict[str, Any]]]:
    """The designs (Simon's two, or the calibrated one) and, per design, what --json prints."""
    from trial_reanalysis.analysis.planning import sequential as seq

    if method == "simon":
        designs = seq.simon_sequential(p0, p1, alpha, power)
        calibrations: list[Any] = [None, None]
    else:
        if looks is None:
            raise InputError("--looks", "looks", f"required for --method {method}")
        try:
            parsed = seq.check_looks([int(v) for v in looks.split(",")])
        except ValueError as exc:
            raise InputError("--looks", looks, str(exc)) from None
        cal = seq.calibrate(method, p0, p1, parsed, alpha, prior=analysis_prior, efficacy=efficacy)
        designs, calibrations = [cal.design], [cal]

    records = []
    for d, cal in zip(designs, calibrations, strict=True):
        oc0, oc1 = seq.operating_characteristics(d, [p0, p1])
        assurance = seq.assurance(d, dprior).to_dict() if dprior is not None else None
        records.append(
            {
                "design": d.to_dict(),
                "calibration": None
                if cal is None
                else {
                    "alpha": alpha,
                    "grid_points": cal.grid_points,
                    "distinct_designs": cal.distinct_designs,
                    "feasible_designs": cal.feasible_designs,
                },
                "oc": {"p0": oc0.to_dict(), "p1": oc1.to_dict()},
                "assurance": assurance,
                "design_prior": design_prior,
            }
        )
    return designs, records


def _print_design(d: Any, rec: dict[str, Any], design_prior: str | None) -> None:
    """One design's boundaries, exact operating characteristics and assurance, as tables."""
    params = ", ".join(f"{k} = {v:g}" for k, v in d.parameters.items())
    table = Table(title=f"{d.label} ({params})")
    for col in ("look", "patients", "futility: stop if x <=", "efficacy: stop if x >="):
        table.add_column(col)
    for row in d.boundary_rows():
        last = row["look"] == len(d.looks)
        fut = "-" if row["futility"] is None else str(row["futility"])
        eff = "-" if row["efficacy"] is None else str(row["efficacy"])
        table.add_row(
            str(row["look"]),
            str(row["n"]),
            f"fail if x <= {fut}" if last else fut,
            f"success if x >= {eff}" if last else eff,
        )
    out.print(table)
    oc_table = Table(title="Exact operating characteristics")
    for col in ("", "rate", "P(reject H0)", "PET", "PET fut.", "PET eff.", "EN"):
        oc_table.add_column(col)
    for key, name in (("p0", "type I error"), ("p1", "power")):
        oc = rec["oc"][key]
        oc_table.add_row(
            name,
            f"{oc['rate']:g}",
            f"{oc['reject']:.4f}",
            f"{oc['pet']:.4f}",
            f"{oc['pet_futility']:.4f}",
            f"{oc['pet_efficacy']:.4f}",
            f"{oc['expected_n']:.2f}",
        )
    out.print(oc_table)
    if rec["assurance"] is not None:
        a = rec["assurance"]
        out.print(
            f"assurance under design prior '{design_prior}': {a['reject']:.4f} "
            f"(expected n {a['expected_n']:.2f})"
        )


prior_app = typer.Typer(
    help="Priors for a follow-up trial from several published trials.",
    no_args_is_help=True,
    rich_markup_mode=None,
)
app.add_typer(prior_app, name="prior")


@prior_app.command("map")
@handles_errors
def prior_map_command(
    trials: Annotated[
        list[str] | None,
        typer.Argument(
            help="Trial files, each FILE or FILE:KEY (KEY: the endpoint in that file). "
            "Default: the historical set of --historical."
        ),
    ] = None,
    endpoint: Annotated[
        str | None, typer.Option(help="Endpoint key in every file (unless FILE:KEY).")
    ] = None,
    kind: Annotated[
        str | None, typer.Option(help="rate or median (default: what the endpoints are).")
    ] = None,
    historical: Annotated[
        Path | None,
        typer.Option(help="A historical set (TOML; default: mRCC after VEGF-targeted therapy)."),
    ] = None,
    map_name: Annotated[
        str, typer.Option("--map", help="Which map of the historical set.")
    ] = "pfs_median",
    tau_scale: Annotated[
        float | None,
        typer.Option(help="Half-normal scale of the between-trial sd (default 1 logit, 0.5 log)."),
    ] = None,
    seed: Annotated[int, typer.Option(help="Seed of the fit.")] = DEFAULT_SEED,
    out_file: Annotated[
        Path | None, typer.Option("--out", help="Write the prior as JSON here.")
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
) -> None:
    """A meta-analytic-predictive (MAP) prior from several trials' published summaries: a
    hierarchical model (between-trial sd with a half-normal prior), each trial through its own
    likelihood (counts, the coarsened rate report, or the median's CI), approximated by a
    mixture (K by BIC), robustified with a vague component, with its ESS."""
    from trial_reanalysis.analysis.planning import historical as hist

    kind, entries = _map_entries(trials, endpoint, kind, historical, map_name)
    if tau_scale is not None and not tau_scale > 0:
        raise InputError("--tau-scale", str(tau_scale), "must be > 0")
    result = hist.historical_map(kind, entries, seed=seed, tau_scale=tau_scale)
    text = json.dumps(result, indent=2, allow_nan=False) + "\n"
    if out_file is not None:
        out_file.write_text(text)
    if as_json:
        sys.stdout.write(text)
        return
    _print_map(result, kind)


def _map_entries(
    trials: list[str] | None,
    endpoint: str | None,
    kind: str | None,
    historical: Path | None,
    map_name: str,
) -> tuple[str, list[Any]]:
    """The MAP prior's kind and trials: the FILE[:KEY] given, else a map of the historical set."""
    from trial_reanalysis.analysis.planning import historical as hist

    if trials:
        entries = [hist.parse_entry(spec, endpoint) for spec in trials]
        first = entries[0]
        if kind is None:
            kind = "rate" if first.endpoint in first.loaded.trial.rates else "median"
    else:
        sets = hist.load_historical(historical or hist.DEFAULT_HISTORICAL)
        if map_name not in sets:
            raise InputError("--map", map_name, f"choose from {sorted(sets)}")
        entries = sets[map_name]["entries"]
        kind = sets[map_name]["kind"]
    if kind not in ("rate", "median"):
        raise InputError("--kind", str(kind), "must be rate or median")
    return kind, entries


def _print_map(result: dict[str, Any], kind: str) -> None:
    """The trials and their shrinkage, the between-trial sd, and each prior with its ESS."""
    table = Table(title=f"MAP prior ({kind}): trials and their shrinkage")
    for col in ("trial", "reported", "shrunk (posterior median, 95 % CrI)"):
        table.add_column(col)
    for t in result["trials"]:
        sh = t["shrinkage"]
        sh = sh.get("median_months", sh)
        obs = t["observed"]
        shown = (
            f"{obs['median']:g} ({obs['ci95'][0]}-{obs['ci95'][1]})"
            if "median" in obs
            else ", ".join(f"{c['x']}/{c['n']}" for c in obs["candidates"])
        )
        table.add_row(
            Text(t["name"]), shown, f"{sh['median']:.3g} ({sh['ci95'][0]:.3g}-{sh['ci95'][1]:.3g})"
        )
    out.print(table)
    tau = result["tau"]
    out.print(
        f"between-trial sd tau: median {tau['median']:.3g} (95 % CrI {tau['ci95'][0]:.3g}-"
        f"{tau['ci95'][1]:.3g}), prior {tau['prior']}"
    )
    for p in result["priors"]:
        out.print(Text(f"{p['name']}: {p.get('description', p['family'])}; ESS {p['ess']:.1f}"))
        out.print(Text(f"  PyMC: {p.get('pymc', '')}"))
    for why in result.get("left_out", []):
        err.print(Text(f"left out: {why}"))


@app.command("priors")
@handles_errors
def priors_command(
    trial_file: Annotated[
        Path | None,
        typer.Argument(help="Trial file (TOML, see docs/trial-files.md). Default: the seed trial."),
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
) -> None:
    """List every prior each endpoint of a trial is analysed under: family, parameters, ESS
    (patients), rationale, source (package or trial file) and which one is primary."""
    from trial_reanalysis.analysis.api import list_priors

    listing = list_priors(trial_file)
    if as_json:
        sys.stdout.write(json.dumps(listing, indent=2, allow_nan=False) + "\n")
        return
    for entry in listing:
        unit = f", {entry['unit']}" if entry["unit"] else ""
        table = Table(
            title=f"{entry['endpoint']} ({entry['kind']}{unit}): {entry['label']}",
            title_justify="left",
            show_lines=True,
        )
        for col in ("prior", "family", "parameters", "ESS", "source", "rationale"):
            table.add_column(col, no_wrap=col in ("prior", "ESS"))
        for p in entry["priors"]:
            params = "\n".join(f"{k} = {v:.4g}" for k, v in p["parameters"].items())
            name = p["name"] + (" (primary)" if p["primary"] else "")
            table.add_row(
                Text(name),
                p["family"],
                Text(params),
                f"{p['ess']:.3g}",
                p["source"],
                Text(p["rationale"]),
            )
        out.print(table)
    out.print(
        Text("ESS in patients; how each kind counts it: reanalysis priors --json (ess_method)")
    )


if __name__ == "__main__":  # python -m trial_reanalysis.analysis.cli
    app()
