"""Trial files: a versioned TOML format describing what a single-arm phase 2 trial published.

Every reported number is a ``{value, source}`` table (``source`` says where it was published:
abstract, registry, table, page). What was not published is the string ``"unknown"`` — never a
filled-in guess. What the analysis must assume is declared under ``[assumptions]`` with its default,
the values swept in the sensitivity analysis, and a rationale. Loading validates the structure
(pydantic, ``extra="forbid"``) and then the consistency of the numbers; any problem raises
:class:`analysis.errors.InputError` naming the file, the field and what is wrong.

The JSON schema of the format is ``data/trial.schema.json`` (``reanalysis schema`` rewrites it).
"""

from __future__ import annotations

import hashlib
import tomllib
from pathlib import Path
from typing import Annotated, Any, Generic, Literal, TypeVar

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from analysis.errors import InputError

TRIAL_SCHEMA_VERSION = 1
REPO_ROOT = Path(__file__).resolve().parents[1]
DATA_DIR = REPO_ROOT / "data"
DEFAULT_TRIAL = DATA_DIR / "sorafenib_mrcc_2010.toml"

T = TypeVar("T")
Unknown = Literal["unknown"]
Percent = Annotated[float, Field(ge=0, le=100)]
Fraction = Annotated[float, Field(ge=0, le=1)]
PValue = Annotated[float, Field(gt=0, le=1)]
PositiveInt = Annotated[int, Field(gt=0)]
NonNegativeInt = Annotated[int, Field(ge=0)]
Months = Annotated[float, Field(gt=0)]


class Strict(BaseModel):
    """Base of every table in a trial file: unknown keys are errors, objects are frozen."""

    model_config = ConfigDict(extra="forbid", frozen=True, strict=False)


class Reported(Strict, Generic[T]):
    """A published number (or label) and where it was published."""

    value: T
    source: Annotated[str, Field(min_length=1)]
    note: str | None = None


class Assumption(Strict, Generic[T]):
    """A quantity the paper does not give: the analysis's default and the sensitivity sweep."""

    default: T
    sweep: list[T]
    rationale: Annotated[str, Field(min_length=1)]


class TrialInfo(Strict):
    id: str
    title: str
    journal: str
    year: int
    doi: str
    registry: str | None = None
    treatment: str
    population: str
    design: str


class Design(Strict):
    stages: Reported[PositiveInt]
    p0: Reported[Fraction]
    p1: Reported[Fraction]
    alpha: Reported[Fraction] | Unknown
    power: Reported[Fraction] | Unknown
    stage1: Reported[tuple[NonNegativeInt, PositiveInt]] | Unknown = Field(
        "unknown", description="(r1, n1): stop after stage 1 with r1 or fewer responses of n1"
    )


class BurdenReduction(Strict):
    definition: str
    estimate_percent: Reported[Percent]
    ci95_percent: Reported[tuple[Percent, Percent]]
    reported_decimals: Reported[NonNegativeInt]
    max_evaluable: Reported[PositiveInt]
    evaluable: Reported[PositiveInt] | Unknown
    responders: Reported[NonNegativeInt] | Unknown
    ci_method: Reported[Literal["exact", "wilson", "wilson_cc", "jeffreys", "wald"]] | Unknown


class ObjectiveResponse(Strict):
    confirmed_responses: Reported[NonNegativeInt] | Unknown
    unconfirmed_partial_responses: Reported[NonNegativeInt] | Unknown


class PatientData(Strict):
    path: str = Field(description="CSV with columns time (months) and event (1 = progression)")
    source: str


class DigitisedCurve(Strict):
    curve: str = Field(description="CSV time,survival read off the published KM figure")
    at_risk: str = Field(description="CSV time,n_at_risk as printed under the figure")
    total_events: Reported[PositiveInt] | Unknown = "unknown"
    source: str


class Pfs(Strict):
    median_months: Reported[Months]
    ci95_months: Reported[tuple[Months, Months | None]]
    events: Reported[NonNegativeInt] | Unknown
    censored: Reported[NonNegativeInt] | Unknown
    ci_transform: Reported[Literal["plain", "log", "log-log"]] | Unknown
    association_with_prior_response: Reported[str] | Unknown = "unknown"
    patient_data: PatientData | None = None
    digitised_curve: DigitisedCurve | None = None


class PriorTherapy(Strict):
    exposed: str = Field(description="group in the numerator of every odds ratio")
    reference: str = Field(description="group in the denominator of every odds ratio")
    n_exposed: Reported[PositiveInt] | Unknown
    n_reference: Reported[PositiveInt] | Unknown


class AdverseEvent(Strict):
    name: str
    p_value: Reported[PValue]
    more_frequent_after: Reported[str]
    events_exposed: Reported[NonNegativeInt] | Unknown
    events_reference: Reported[NonNegativeInt] | Unknown


class AdverseEvents(Strict):
    test: Reported[Literal["fisher", "chi2"]] | Unknown
    most_common: Reported[list[str]] | Unknown = "unknown"
    severity: Reported[str] | Unknown = "unknown"
    by_prior_therapy: dict[str, AdverseEvent]


class Assumptions(Strict):
    """What the analysis assumes where the paper is silent; each is swept in a sensitivity run."""

    burden_reduction_candidates: Assumption[Literal["all_compatible"]] | None = None
    pfs_ci_transform: Assumption[Literal["plain", "log", "log-log"]] | None = None
    pfs_n_at_risk: Assumption[PositiveInt] | None = None
    pfs_censoring_fraction: Assumption[tuple[Fraction, Fraction]] | None = None
    ae_test: Assumption[Literal["fisher", "chi2"]] | None = None
    ae_split_range: Assumption[tuple[PositiveInt, PositiveInt]] | None = None


class Trial(Strict):
    """A whole trial file (schema version 1)."""

    schema_version: Literal[1]
    trial: TrialInfo
    enrolled: Reported[PositiveInt]
    design: Design
    burden_reduction: BurdenReduction
    objective_response: ObjectiveResponse | None = None
    pfs: Pfs | None = None
    prior_therapy: PriorTherapy | None = None
    adverse_events: AdverseEvents | None = None
    assumptions: Assumptions = Assumptions()


class LoadedTrial(Strict):
    """A validated trial with where it came from (path and SHA-256 of its bytes)."""

    path: str
    sha256: str
    trial: Trial

    def __reduce__(self) -> tuple:
        """Pickle as plain data, validated again on load (worker processes receive trials;
        pydantic's parametrised ``Reported[...]`` classes cannot be pickled by reference)."""
        dump = self.trial.model_dump(mode="json", by_alias=True)
        return (_loaded_from_dump, (self.path, self.sha256, dump))


def _loaded_from_dump(path: str, sha256: str, dump: dict[str, Any]) -> LoadedTrial:
    return LoadedTrial(path=path, sha256=sha256, trial=Trial.model_validate(dump))


def _field_path(loc: tuple[Any, ...]) -> str:
    """Dotted field path of a pydantic error location, without union-member tags."""
    parts = []
    for item in loc:
        if isinstance(item, int):
            parts.append(f"[{item}]")
        elif "[" in item or item.startswith(("function-", "literal", "tagged")):
            continue
        else:
            parts.append(("." if parts else "") + item)
    return "".join(parts) or "<top level>"


def _first_problem(err: ValidationError) -> tuple[str, str]:
    """The most useful single (field, problem) of a validation error.

    A field that is a reported value or "unknown" fails on both members of the union; when the
    input is neither a table nor "unknown", say exactly that; otherwise prefer the member error that
    got furthest into the value, which is the one the user meant to write.
    """
    errors = err.errors(include_url=False)
    best = max(errors, key=lambda e: len(e["loc"]))
    problem = best["msg"]
    either = any(e["type"] == "literal_error" and "'unknown'" in e["msg"] for e in errors)
    if best["type"] == "extra_forbidden":
        problem = "unknown field (not in the trial-file schema; check the spelling)"
    elif best["type"] == "missing":
        problem = "missing required field"
    elif either and best["type"] in ("model_type", "dict_type", "literal_error"):
        problem = 'must be a {value = ..., source = "..."} table or the string "unknown"'
    elif best["type"] == "model_type":
        problem = 'must be a {value = ..., source = "..."} table'
    if "input" in best and best["type"] != "missing":
        problem += f" (got {best['input']!r})"
    return _field_path(best["loc"]), problem


def _check(ok: bool, path: Path, field: str, problem: str) -> None:
    if not ok:
        raise InputError(path, field, problem)


def _check_consistency(trial: Trial, path: Path) -> None:
    """Cross-field checks pydantic's per-field types cannot express."""
    br = trial.burden_reduction
    lo, hi = br.ci95_percent.value
    _check(lo <= hi, path, "burden_reduction.ci95_percent", f"lower {lo} > upper {hi}")
    est = br.estimate_percent.value
    _check(
        lo <= est <= hi,
        path,
        "burden_reduction.estimate_percent",
        f"estimate {est} lies outside its CI [{lo}, {hi}]",
    )
    n_max = br.max_evaluable.value
    _check(
        n_max <= trial.enrolled.value,
        path,
        "burden_reduction.max_evaluable",
        f"{n_max} exceeds the {trial.enrolled.value} patients enrolled",
    )
    if br.evaluable != "unknown":
        n = br.evaluable.value
        _check(n <= n_max, path, "burden_reduction.evaluable", f"{n} exceeds max_evaluable {n_max}")
        if br.responders != "unknown":
            x = br.responders.value
            _check(x <= n, path, "burden_reduction.responders", f"{x} exceeds evaluable {n}")
    d = trial.design
    _check(
        d.p0.value < d.p1.value,
        path,
        "design.p1",
        f"alternative {d.p1.value} must exceed null {d.p0.value}",
    )
    if trial.pfs is not None:
        m = trial.pfs.median_months.value
        plo, phi = trial.pfs.ci95_months.value
        _check(phi is None or plo <= phi, path, "pfs.ci95_months", f"lower {plo} > upper {phi}")
        _check(
            plo <= m and (phi is None or m <= phi),
            path,
            "pfs.median_months",
            f"median {m} lies outside its CI [{plo}, {phi}]",
        )
    pt, ae = trial.prior_therapy, trial.adverse_events
    if ae is not None:
        _check(pt is not None, path, "prior_therapy", "adverse_events need a [prior_therapy] table")
        groups = (pt.exposed, pt.reference)
        for key, event in ae.by_prior_therapy.items():
            where = f"adverse_events.by_prior_therapy.{key}"
            after = event.more_frequent_after.value
            _check(
                after in groups,
                path,
                f"{where}.more_frequent_after",
                f"'{after}' is neither group of prior_therapy {groups}",
            )
            for side, n in (("exposed", pt.n_exposed), ("reference", pt.n_reference)):
                events = getattr(event, f"events_{side}")
                if events != "unknown" and n != "unknown":
                    _check(
                        events.value <= n.value,
                        path,
                        f"{where}.events_{side}",
                        f"{events.value} events exceed n_{side} = {n.value}",
                    )
    if pt is not None and pt.n_exposed != "unknown" and pt.n_reference != "unknown":
        total = pt.n_exposed.value + pt.n_reference.value
        _check(
            total <= trial.enrolled.value,
            path,
            "prior_therapy.n_exposed",
            f"n_exposed + n_reference = {total} exceeds the {trial.enrolled.value} enrolled",
        )
    for name in type(trial.assumptions).model_fields:
        assumption = getattr(trial.assumptions, name)
        if assumption is not None:
            _check(
                assumption.default in assumption.sweep,
                path,
                f"assumptions.{name}.sweep",
                f"must include the default {assumption.default!r}",
            )


def load_trial(path: str | Path | None = None) -> LoadedTrial:
    """Read, validate and freeze a trial file (the seed trial when ``path`` is None).

    Raises:
        InputError: the file is missing, not TOML, or fails a check; the message names the file,
            the field and the problem.
    """
    path = Path(path) if path is not None else DEFAULT_TRIAL
    try:
        raw = path.read_bytes()
    except OSError as exc:
        raise InputError(path, "<file>", f"cannot read the trial file ({exc.strerror})") from exc
    try:
        document = tomllib.loads(raw.decode("utf-8"))
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise InputError(path, "<file>", f"not valid TOML: {exc}") from exc
    try:
        trial = Trial.model_validate(document)
    except ValidationError as exc:
        field, problem = _first_problem(exc)
        raise InputError(path, field, problem) from None
    _check_consistency(trial, path)
    return LoadedTrial(path=str(path), sha256=hashlib.sha256(raw).hexdigest(), trial=trial)


def trial_json_schema() -> dict[str, Any]:
    """JSON schema of the trial-file format (what ``data/trial.schema.json`` holds)."""
    schema = Trial.model_json_schema()
    schema["$schema"] = "https://json-schema.org/draft/2020-12/schema"
    schema["title"] = f"Trial file, schema version {TRIAL_SCHEMA_VERSION}"
    return schema
