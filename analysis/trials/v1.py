"""Trial files, schema version 1 (the seed's first format): read only to be migrated to version 2
(:mod:`analysis.trials.migrate`); the analyses read version 2 alone.

Every reported number is a ``{value, source}`` table (``source`` says where it was published:
abstract, registry, table, page). What was not published is the string ``"unknown"`` — never a
filled-in guess. What the analysis must assume is declared under ``[assumptions]`` with its default,
the values swept in the sensitivity analysis, and a rationale. Loading validates the structure
(pydantic, ``extra="forbid"``) and then the consistency of the numbers; any problem raises
:class:`trial_reanalysis.analysis.errors.InputError` naming the file, the field and what is wrong.

The JSON schema of the format is ``data/trial.schema.json`` (``reanalysis schema`` rewrites it).
"""

from __future__ import annotations

from typing import Annotated, Generic, Literal, TypeVar

from pydantic import AfterValidator, BaseModel, ConfigDict, Field
from pydantic import Strict as StrictType

from trial_reanalysis.analysis.trials.validation import (
    MAX_ADVERSE_EVENTS,
    MAX_LIST,
    MAX_SWEEP,
)

TRIAL_SCHEMA_VERSION = 1

T = TypeVar("T")
PrintedP = Annotated[str, Field(min_length=1, max_length=20, pattern=r"^[ <>=≤≥.0-9pPNSns]+$")]
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
    p_value: Reported[PValue] | Reported[PrintedP]
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
