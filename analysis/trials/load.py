"""Trial files: a versioned TOML format describing what a single-arm phase 2 trial published.

Every reported number is a ``{value, source}`` table (``source`` says where it was published:
abstract, registry, table, page). What was not published is the string ``"unknown"`` — never a
filled-in guess. What the analysis must assume is declared under ``[assumptions]`` with its default,
the values swept in the sensitivity analysis, and a rationale. Loading validates the structure
(pydantic, ``extra="forbid"``) and then the consistency of the numbers; any problem raises
:class:`trial_reanalysis.analysis.errors.InputError` naming the file, the field and what is wrong.

The JSON schema of the format is ``data/trial.schema.json`` (``reanalysis schema`` rewrites it).
"""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import Annotated, Any, Generic, Literal, TypeVar

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, ValidationError
from pydantic import Strict as StrictType

from trial_reanalysis.analysis.errors import InputError
from trial_reanalysis.analysis.paths import DATA_DIR
from trial_reanalysis.analysis.trials.validation import (
    MAX_ADVERSE_EVENTS,
    MAX_LIST,
    MAX_SWEEP,
    check_trial,
    read_trial_document,
)

TRIAL_SCHEMA_VERSION = 1
DEFAULT_TRIAL = DATA_DIR / "sorafenib_mrcc_2010.toml"  # schema version 1 until the v2 port

T = TypeVar("T")
Unknown = Literal["unknown"]
# Numbers are strict: no booleans or strings taken as numbers, no floats where counts belong;
# TOML integers are accepted for real numbers; inf and nan (valid TOML) are refused.
Real = Annotated[float, StrictType(), Field(allow_inf_nan=False)]
Count = Annotated[int, StrictType()]
Percent = Annotated[Real, Field(ge=0, le=100)]
Fraction = Annotated[Real, Field(ge=0, le=1)]
#: A reported two-sided P value. P = 1 is refused: the rounding interval of a printed "1" would
#: reach above 1, and a P of 1 with a direction carries no evidence of a difference.
PValue = Annotated[Real, Field(gt=0, lt=1)]
PositiveInt = Annotated[Count, Field(gt=0)]
NonNegativeInt = Annotated[Count, Field(ge=0)]
Months = Annotated[Real, Field(gt=0)]
#: The upper CI limit of a median: a number of months, or "NE" (not estimable, as printed).
UpperMonths = Annotated[
    Months | Literal["NE"] | None, AfterValidator(lambda v: None if v == "NE" else v)
]


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
    sweep: Annotated[list[T], Field(min_length=1, max_length=MAX_SWEEP)]
    rationale: Annotated[str, Field(min_length=1)]


class TrialInfo(Strict):
    id: str
    title: str
    journal: str
    year: Annotated[Count, Field(ge=1900, le=2100, description="year of publication")]
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
    ci95_months: Reported[tuple[Months, UpperMonths]] = Field(
        description='(lower, upper) in months; upper "NE" when not estimable'
    )
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
    most_common: Reported[Annotated[list[str], Field(max_length=MAX_LIST)]] | Unknown = "unknown"
    severity: Reported[str] | Unknown = "unknown"
    by_prior_therapy: Annotated[
        dict[str, AdverseEvent], Field(min_length=1, max_length=MAX_ADVERSE_EVENTS)
    ]


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
        elif "[" in item or item.startswith(("function-", "literal", "tagged", "constrained-")):
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
    elif best["type"] == "finite_number":
        problem = "must be a finite number (inf and nan are not reported values"
        if "ci95_months" in _field_path(best["loc"]):
            problem += '; write "NE" for an upper limit that was not estimable'
        problem += ")"
    elif best["type"] in ("too_long", "too_short"):
        problem = f"{problem} (a documented limit; see data/README.md)"
    if "input" in best and best["type"] != "missing":
        problem += f" (got {best['input']!r})"
    return _field_path(best["loc"]), problem


def load_trial(path: str | Path | None = None) -> LoadedTrial:
    """Read, validate and freeze a trial file (the seed trial when ``path`` is None).

    Runs the whole validation layer (:mod:`analysis.trials.validation`): the file (a regular file of
    at most 1 MiB, nesting depth), the schema (strict types), every cross-field bound and the
    CSV files the trial names, so every command accepts exactly the files ``run`` accepts.

    Raises:
        InputError: the file is missing, not TOML, or fails a check; the message names the file,
            the field and the problem.
    """
    path = Path(path) if path is not None else DEFAULT_TRIAL
    raw, document = read_trial_document(path)
    try:
        trial = Trial.model_validate(document)
    except ValidationError as exc:
        field, problem = _first_problem(exc)
        raise InputError(path, field, problem) from None
    check_trial(trial, path)
    return LoadedTrial(path=str(path), sha256=hashlib.sha256(raw).hexdigest(), trial=trial)


def trial_json_schema() -> dict[str, Any]:
    """JSON schema of the trial-file format (what ``data/trial.schema.json`` holds)."""
    schema = Trial.model_json_schema()
    schema["$schema"] = "https://json-schema.org/draft/2020-12/schema"
    schema["title"] = f"Trial file, schema version {TRIAL_SCHEMA_VERSION}"
    return schema
