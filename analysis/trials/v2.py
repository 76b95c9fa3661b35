"""Trial files, schema version 2: endpoints declared, named and typed by the file.

A trial file says what one single-arm phase 2 trial published, in the forms abstracts print. The
code does not know the seed's names: the file declares

- any number of **rates** (``[rates.<key>]``: objective response, clinical benefit, burden
  reduction...; one is ``primary``): an estimate in percent as printed (rounded or truncated), with
  or without its CI, with or without responders and evaluable;
- any number of **time-to-event** endpoints (``[time_to_event.<key>]``: PFS, OS, TTP, duration of
  response): a median with two, one or no CI limits, or "not reached"; events; landmark rates; a
  time unit; optionally patient data or a digitised curve;
- **comparisons** of an event between two named groups (``[groupings.<key>]`` names the groups,
  ``[comparisons.<key>]`` the event): a P value as printed ("= .03", "< .001", "NS") with the
  direction, and the counts when published.

Every published number is a table ``{value = ..., source = "..."}``; what was not published is
``"unknown"`` (never a guess); what the analysis must assume sits in the endpoint's
``assumptions`` with its default, the sensitivity sweep and a rationale; priors may be declared per
endpoint with a rationale. Schema version 1 files are migrated on load
(:mod:`analysis.trials.migrate`). The JSON schema generated from these classes documents every
field.
"""

from __future__ import annotations

import math
import re
from decimal import Decimal
from typing import Annotated, Any, Literal

from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    model_validator,
)

SCHEMA_VERSION = 2
Unknown = Literal["unknown"]
NotReported = Literal["not reported"]
TimeUnit = Literal["days", "weeks", "months", "years"]
CiMethod = Literal["exact", "wilson", "wilson_cc", "jeffreys", "wald"]
CiTransform = Literal["plain", "log", "log-log"]
Test = Literal["fisher", "chi2"]
#: Days per unit (a year of 365.25 days; a month is a twelfth of it).
DAYS_PER_UNIT: dict[str, float] = {
    "days": 1.0,
    "weeks": 7.0,
    "months": 365.25 / 12,
    "years": 365.25,
}
#: How an abstract prints a missing CI limit or a median that was not reached.
MISSING_LIMIT_WORDS = ("not reached", "NR", "not estimable", "NE", "NA")
KEY_PATTERN = r"^[a-z][a-z0-9_]{0,39}$"
MAX_TEXT = 2000


class FieldError(ValueError):
    """A cross-field problem located at a field below the model that raises it.

    ``field`` is a dotted path relative to the model (``"ci"``, ``"value[1]"``,
    ``"comparisons.ppe.grouping"``); the loader appends it to the model's own location, so the
    message names the field to edit rather than the table that holds it.
    """

    def __init__(self, field: str, problem: str) -> None:
        super().__init__(problem)
        self.field = field


def _number(value: Any) -> Any:
    """A number, not a boolean or a string that looks like one (TOML has real numbers)."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise ValueError(f"must be a number, not {type(value).__name__}")
    if isinstance(value, float) and not math.isfinite(value):
        raise ValueError("must be a finite number (write a missing value as a word, see docs)")
    return value


def _whole(value: Any) -> Any:
    """A whole number: no booleans, strings or floats (3.0 is not a count)."""
    if isinstance(value, bool) or not isinstance(value, int):
        raise ValueError(f"must be a whole number, not {type(value).__name__}")
    return value


def _not_bool(value: Any) -> Any:
    if isinstance(value, bool):
        raise ValueError("must be a number or a printed form, not a boolean")
    return value


Number = Annotated[float, BeforeValidator(_number)]
Whole = Annotated[int, BeforeValidator(_whole)]
NonNegative = Annotated[int, BeforeValidator(_whole), Field(ge=0, le=1_000_000)]
Positive = Annotated[int, BeforeValidator(_whole), Field(gt=0, le=1_000_000)]
# int | float keeps a printed "30" apart from "30.0" (0 vs 1 printed decimals)
Percent = Annotated[int | float, BeforeValidator(_number), Field(ge=0, le=100)]
Probability = Annotated[float, BeforeValidator(_number), Field(gt=0, lt=1)]
PositiveTime = Annotated[float, BeforeValidator(_number), Field(gt=0, le=1e6)]
Text = Annotated[str, Field(min_length=1, max_length=MAX_TEXT)]
Key = Annotated[str, Field(pattern=KEY_PATTERN)]
Source = Annotated[
    str,
    Field(
        min_length=1,
        max_length=MAX_TEXT,
        description="Where it was published: abstract, Table 2, page 5, registry entry...",
    ),
]


class Strict(BaseModel):
    """Base of every table: unknown keys are errors (a misspelt field is never ignored)."""

    model_config = ConfigDict(extra="forbid", frozen=True)


class _Reported(Strict):
    source: Source
    note: Text | None = Field(None, description="Anything a reader should know about the value.")


#: The base class of every published value (``value`` and ``source``).
Reported = _Reported


class ReportedCount(_Reported):
    """A published count (patients, responders, events) and where it was published."""

    value: NonNegative = Field(description="The count as published.")


class ReportedPositiveCount(_Reported):
    """A published count that cannot be zero (patients enrolled, evaluable)."""

    value: Positive = Field(description="The count as published (at least 1).")


def printed_decimals(value: float) -> int:
    """Decimals a number was written with in the file: 30 -> 0, 8.7 -> 1, 30.0 -> 1."""
    if isinstance(value, int):
        return 0
    text = repr(float(value))
    return 0 if "e" in text else len(text.split(".")[1])


class ReportedPercent(_Reported):
    """A published percentage, as printed (30 for "30 %"; 8.7 for "8.7 %")."""

    value: Percent = Field(description="The percentage as printed, 0-100.")


class ReportedPercentInterval(_Reported):
    """A published confidence interval of a percentage, as printed: [lower, upper]."""

    value: tuple[Percent, Percent] = Field(description="[lower, upper] in percent, as printed.")

    @model_validator(mode="after")
    def _ordered(self) -> ReportedPercentInterval:
        if self.value[0] > self.value[1]:
            raise FieldError("value", f"lower limit {self.value[0]} exceeds upper {self.value[1]}")
        return self


class ReportedFraction(_Reported):
    """A published probability strictly between 0 and 1 (p0, p1, alpha, power)."""

    value: Probability = Field(description="A fraction in (0, 1).")


class ReportedText(_Reported):
    """A published statement without a number."""

    value: Text


class ReportedCiMethod(_Reported):
    value: CiMethod = Field(description="The interval method the paper names.")


class ReportedTransform(_Reported):
    value: CiTransform = Field(
        description="Transform of the Kaplan-Meier CI behind the median's CI (R: log; SAS: "
        "log-log)."
    )


class ReportedTest(_Reported):
    value: Test = Field(description="The test behind the P values: Fisher's exact or chi-square.")


class ReportedStage1(_Reported):
    value: tuple[NonNegative, Positive] = Field(
        description="(r1, n1): stop after stage 1 with r1 or fewer responses among n1 patients."
    )


def _limit(value: Any) -> Any:
    """A CI limit (or a median): a finite number, or a word for "not reached" -> None (None
    itself only comes from a dump of a loaded trial, sent to a worker: TOML has no null)."""
    if value is None:
        return None
    if isinstance(value, str):
        if value.strip() not in MISSING_LIMIT_WORDS:
            raise ValueError(
                f"a time is a number or one of {list(MISSING_LIMIT_WORDS)}, got {value!r}"
            )
        return None
    if isinstance(value, float) and not math.isfinite(value):
        raise ValueError(
            f"{value} is not a time: write a limit (or a median) that was not reached or not "
            'estimable as "NE" (or "not reached")'
        )
    return _number(value)


Limit = Annotated[float | None, BeforeValidator(_limit)]


class ReportedTime(_Reported):
    """A published time (a median, a follow-up) in the endpoint's unit, or "not reached"."""

    value: Annotated[float | None, BeforeValidator(_limit)] = Field(
        description='The time as printed, or "not reached" / "NR" / "NE" (the KM curve never '
        "fell to the level)."
    )

    @model_validator(mode="after")
    def _positive(self) -> ReportedTime:
        if self.value is not None and not 0 < self.value <= 1e6:
            raise FieldError("value", f"a time must be positive and at most 1e6, got {self.value}")
        return self

    @property
    def reached(self) -> bool:
        return self.value is not None


class ReportedTimeInterval(_Reported):
    """A published CI of a median: [lower, upper]; a limit may be "NE" / "not reached"."""

    value: tuple[Limit, Limit] = Field(
        description="[lower, upper] in the endpoint's unit; write a limit that was not reached "
        'or not estimable as "NE" (or "not reached", "NR", "not estimable").'
    )

    @model_validator(mode="after")
    def _ordered(self) -> ReportedTimeInterval:
        lo, hi = self.value
        for i, limit in enumerate((lo, hi)):
            if limit is not None and not 0 <= limit <= 1e6:
                raise FieldError(
                    f"value[{i}]", f"a time limit must be between 0 and 1e6, got {limit}"
                )
        if lo is not None and hi is not None and lo > hi:
            raise FieldError("value", f"lower limit {lo} exceeds upper {hi}")
        return self


_P_PATTERN = re.compile(r"^\s*(?:[pP]\s*)?(=|<|<=|≤|>|>=|≥)?\s*(0?\.\d+|1(?:\.0*)?)\s*$")


def parse_p_value(printed: str | float, ns_threshold: float = 0.05) -> tuple[float, float, str]:
    """The interval a printed P value stands for: (low, high, kind); low <= P < high.

    "= .03" (or 0.03): the unrounded P rounds to it, [0.025, 0.035); "< .001": (0, 0.001);
    "> .05": [0.05, 1]; "NS": not significant at ``ns_threshold``, [threshold, 1].

    Raises:
        ValueError: not a form this package reads.
    """
    if isinstance(printed, bool) or not isinstance(printed, str | int | float):
        raise ValueError("a P value is a number or a printed form such as '= .03'")
    if isinstance(printed, int | float):
        if not math.isfinite(printed):
            raise ValueError(f"a P value is a finite number, got {printed}")
        # positional digits as written (0.00001, not 1e-05): the decimals carry the rounding
        printed = "= " + format(Decimal(repr(float(printed))), "f")
    text = printed.strip()
    if len(text) > 40:
        raise ValueError("a printed P value is a few characters ('= .03', '< .001', 'NS')")
    if text.upper() in ("NS", "N.S.", "NOT SIGNIFICANT"):
        return (ns_threshold, 1.0 + 1e-12, "not significant")
    match = _P_PATTERN.match(text)
    if not match:
        raise ValueError(
            f"cannot read the P value {printed!r}; write it as printed: '= .03', '< .001', "
            "'> .05' or 'NS'"
        )
    sign, digits = match.group(1) or "=", match.group(2)
    value = float(digits)
    if not 0 < value <= 1:
        raise ValueError(f"a P value lies in (0, 1], got {value} in {printed!r}")
    if sign in ("<", "<=", "≤"):
        return (0.0, value, "below")
    if value >= 1.0:
        # "= 1" and "> 1": one rule with schema version 1 (P in (0, 1)); a printed P of 1 with a
        # direction carries no evidence of a difference
        raise ValueError(f"P {sign} 1 is not a report this package reads (P lies below 1)")
    if sign in (">", ">=", "≥"):
        return (value, 1.0 + 1e-12, "above")
    decimals = len(digits.split(".")[1]) if "." in digits else 0
    half = 0.5 * 10.0**-decimals
    return (max(value - half, 0.0), min(value + half, 1.0 + 1e-12), "rounded")


class ReportedPValue(_Reported):
    """A P value as printed: "= .03" (or 0.03), "< .001", "> .05" or "NS"."""

    value: Annotated[str | float, BeforeValidator(_not_bool)] = Field(
        description='As printed: "= .03" (or the number 0.03; the unrounded P rounds to it), '
        '"< .001", "> .05" or "NS" (not significant at ns_threshold).'
    )
    ns_threshold: Probability = Field(
        0.05, description='The significance level the paper used, for "NS".'
    )

    @model_validator(mode="after")
    def _readable(self) -> ReportedPValue:
        try:
            parse_p_value(self.value, self.ns_threshold)
        except ValueError as exc:
            raise FieldError("value", str(exc)) from None
        return self

    @property
    def interval(self) -> tuple[float, float]:
        """(low, high): the unrounded P lies in [low, high)."""
        low, high, _ = parse_p_value(self.value, self.ns_threshold)
        return (low, high)


class Assumption(Strict):
    """A quantity the paper does not give: the analysis's default and the sensitivity sweep."""

    default: Any = Field(description="The value the primary analysis uses.")
    sweep: list[Any] = Field(
        max_length=20, description="Values the sensitivity analysis runs; must include default."
    )
    rationale: Text = Field(description="Why this default and this range.")

    @model_validator(mode="after")
    def _default_swept(self) -> Assumption:
        if self.default not in self.sweep:
            raise FieldError("sweep", f"the sweep must include the default {self.default!r}")
        return self


class Prior(Strict):
    """A prior declared by the trial file (validated against the endpoint kind at load)."""

    family: Literal["beta", "lognormal", "normal"] = Field(
        description="beta (a rate), lognormal (median and Weibull shape), normal (a log OR)."
    )
    parameters: dict[Key, Number] = Field(
        max_length=8, description="The family's parameters by name (see docs: priors)."
    )
    rationale: Text = Field(description="Why this prior: what it says, and on what grounds.")
    primary: bool = Field(False, description="The primary analysis uses this prior.")


class Design(Strict):
    """The trial's design, when printed: every field optional."""

    endpoint: Key | None = Field(
        None, description="The rate the design is for (default: the primary rate)."
    )
    stages: ReportedPositiveCount | Unknown = "unknown"
    p0: ReportedFraction | Unknown = Field("unknown", description="Null (uninteresting) rate.")
    p1: ReportedFraction | Unknown = Field("unknown", description="Alternative (target) rate.")
    alpha: ReportedFraction | Unknown = "unknown"
    power: ReportedFraction | Unknown = "unknown"
    stage1: ReportedStage1 | Unknown = "unknown"


class RateAssumptions(Strict):
    dropout_allowance: Assumption | None = Field(
        None,
        description="Largest fraction of enrolled patients not evaluated (default 0.2 when the "
        "number evaluated is not published): bounds the denominators considered.",
    )


class Rate(Strict):
    """A proportion of patients (response, clinical benefit, burden reduction...)."""

    label: Text = Field(description='Name as the report prints it, e.g. "Objective response rate".')
    definition: Text | None = Field(None, description="The paper's definition of the endpoint.")
    primary: bool = Field(False, description="The trial's primary endpoint (at most one rate).")
    estimate_percent: ReportedPercent | NotReported = Field(
        "not reported", description="The rate as printed, in percent."
    )
    ci_percent: ReportedPercentInterval | NotReported = Field(
        "not reported", description="Its confidence interval as printed, in percent."
    )
    ci_level: Probability = Field(0.95, description="Level of the printed CI (0.90 for a 90 % CI).")
    decimals: NonNegative | None = Field(
        None,
        le=4,
        description="Decimals the estimate and CI were printed with (default: read off the "
        "numbers as written in the file: 30 -> 0, 8.7 -> 1, 30.0 -> 1).",
    )
    rounding: Literal["round", "truncate", "unknown"] = Field(
        "unknown", description="How printed numbers were shortened; unknown allows both."
    )
    responders: ReportedCount | Unknown = "unknown"
    evaluable: ReportedPositiveCount | Unknown = Field(
        "unknown", description="Patients evaluated for this endpoint (the denominator)."
    )
    max_evaluable: ReportedPositiveCount | Unknown = Field(
        "unknown", description="Largest possible denominator (default: enrolled)."
    )
    ci_method: ReportedCiMethod | Unknown = "unknown"
    assumptions: RateAssumptions = RateAssumptions()
    priors: dict[Key, Prior] = Field(default_factory=dict, max_length=10)

    @model_validator(mode="after")
    def _something_reported(self) -> Rate:
        if self.estimate_percent == "not reported" and (
            self.responders == "unknown" or self.evaluable == "unknown"
        ):
            raise FieldError(
                "estimate_percent", "a rate needs its estimate_percent, or responders and evaluable"
            )
        if self.ci_percent != "not reported" and self.estimate_percent == "not reported":
            raise FieldError(
                "estimate_percent", "a CI was printed without its estimate; give estimate_percent"
            )
        if self.ci_percent != "not reported" and self.estimate_percent != "not reported":
            lo, hi = self.ci_percent.value
            est = self.estimate_percent.value
            if not lo <= est <= hi:
                raise FieldError(
                    "estimate_percent", f"the estimate {est} lies outside its CI [{lo}, {hi}]"
                )
        return self


class Landmark(Strict):
    """A survival probability at a fixed time, as printed (e.g. 6-month PFS 45 % (30-60 %))."""

    time: PositiveTime = Field(description="The landmark time, in the endpoint's unit.")
    percent: Percent = Field(description="Survival at that time, in percent.")
    ci_percent: tuple[Percent, Percent] | None = Field(None, description="Its CI, if printed.")
    source: Source

    @model_validator(mode="after")
    def _inside(self) -> Landmark:
        if self.ci_percent is not None:
            lo, hi = self.ci_percent
            if not lo <= self.percent <= hi:
                raise FieldError("ci_percent", f"{self.percent} % lies outside its CI [{lo}, {hi}]")
        return self


class PatientData(Strict):
    """A CSV of patient-level times (columns time, event with 1 = event, 0 = censored)."""

    path: Text = Field(description="CSV path, relative to the trial file.")
    unit: TimeUnit | None = Field(None, description="Unit of its times (default: endpoint's).")
    source: Source


class DigitisedCurve(Strict):
    """A Kaplan-Meier curve read off the published figure, with its numbers at risk."""

    curve: Text = Field(description="CSV time,survival, relative to the trial file.")
    at_risk: Text = Field(description="CSV time,n_at_risk as printed under the figure.")
    total_events: ReportedCount | Unknown = "unknown"
    clean: bool = Field(
        False,
        description="Clean a raw digitisation (percent scale, negative times, small rises, "
        "repeated times); every change is reported.",
    )
    source: Source


class TimeToEventAssumptions(Strict):
    ci_transform: Assumption | None = Field(
        None, description="Transform of the KM CI behind the median's CI: plain, log, log-log."
    )
    n_at_risk: Assumption | None = Field(
        None, description="Patients in the KM analysis (default: enrolled)."
    )
    censoring_fraction: Assumption | None = Field(
        None, description="Range [lo, hi] of the censored fraction, each in [0, 1)."
    )


class TimeToEvent(Strict):
    """A time-to-event endpoint (PFS, OS, TTP, duration of response)."""

    label: Text = Field(description='Name as the report prints it, e.g. "Overall survival".')
    unit: TimeUnit | None = Field(None, description="Unit of every time here (default: trial's).")
    median: ReportedTime | NotReported = Field(
        "not reported", description='The KM median, or "not reached".'
    )
    ci: ReportedTimeInterval | NotReported = Field(
        "not reported", description="CI of the median; a limit may be NE / not reached."
    )
    ci_level: Probability = 0.95
    events: ReportedCount | Unknown = "unknown"
    censored: ReportedCount | Unknown = "unknown"
    patients: ReportedPositiveCount | Unknown = Field(
        "unknown", description="Patients in this analysis (default: enrolled)."
    )
    followup_median: ReportedTime | Unknown = Field(
        "unknown", description="Median follow-up (needed to use a median that was not reached)."
    )
    landmarks: list[Landmark] = Field(default_factory=list, max_length=20)
    ci_transform: ReportedTransform | Unknown = "unknown"
    association: ReportedText | Unknown = Field(
        "unknown", description="A published statement without numbers (shown, not analysed)."
    )
    patient_data: PatientData | None = None
    digitised_curve: DigitisedCurve | None = None
    assumptions: TimeToEventAssumptions = TimeToEventAssumptions()
    priors: dict[Key, Prior] = Field(default_factory=dict, max_length=10)

    @model_validator(mode="after")
    def _consistent(self) -> TimeToEvent:
        if self.patient_data is not None and self.digitised_curve is not None:
            raise FieldError("digitised_curve", "give patient_data or digitised_curve, not both")
        has_data = self.patient_data is not None or self.digitised_curve is not None
        if self.median == "not reported" and self.ci != "not reported":
            raise FieldError("median", "a CI was printed without its median; give the median")
        if self.median == "not reported" and not self.landmarks and not has_data:
            raise FieldError("median", "a time-to-event endpoint needs a median, landmarks or data")
        if self.median != "not reported" and self.ci != "not reported":
            m = self.median.value
            lo, hi = self.ci.value
            if m is None and hi is not None:
                raise FieldError(
                    "ci",
                    f"a median not reached cannot have a finite upper limit ({hi}); write "
                    'the upper limit "NE"',
                )
            if m is not None and lo is None:
                raise FieldError(
                    "ci",
                    "a lower limit is estimable whenever the median is (the KM curve has "
                    "crossed 0.5); write the printed number, or the whole ci as "
                    '"not reported"',
                )
            if m is not None and lo is not None and m < lo:
                raise FieldError("ci", f"the median {m} lies below its lower limit {lo}")
            if m is not None and hi is not None and m > hi:
                raise FieldError("ci", f"the median {m} lies above its upper limit {hi}")
        return self


class Group(Strict):
    name: Text = Field(description='The group as the paper names it, e.g. "bevacizumab".')
    n: ReportedPositiveCount | Unknown = Field("unknown", description="Patients in the group.")


class GroupingAssumptions(Strict):
    test: Assumption | None = Field(None, description="Test behind the P values: fisher, chi2.")
    split_range: Assumption | None = Field(
        None, description="Range [lo, hi] of the exposed group's size when not published."
    )


class Grouping(Strict):
    """Two named groups of the trial's patients that comparisons contrast."""

    label: Text = Field(description='What separates them, e.g. "prior therapy", "dose".')
    exposed: Group = Field(description="Numerator of every odds ratio.")
    reference: Group = Field(description="Denominator of every odds ratio.")
    test: ReportedTest | Unknown = "unknown"
    assumptions: GroupingAssumptions = GroupingAssumptions()

    @model_validator(mode="after")
    def _distinct(self) -> Grouping:
        if self.exposed.name == self.reference.name:
            raise FieldError(
                "reference.name",
                f"the two groups need different names (both {self.exposed.name!r})",
            )
        return self


class Comparison(Strict):
    """An event compared between the two groups of a grouping."""

    label: Text = Field(description='The event, e.g. "palmoplantar erythrodysesthesia (PPE)".')
    grouping: Key = Field(description="Key of the [groupings.<key>] table it compares.")
    p_value: ReportedPValue | Unknown = "unknown"
    more_frequent_in: ReportedText | Unknown = Field(
        "unknown", description="The group with the higher event rate (a group's name)."
    )
    events_exposed: ReportedCount | Unknown = "unknown"
    events_reference: ReportedCount | Unknown = "unknown"
    priors: dict[Key, Prior] = Field(default_factory=dict, max_length=10)

    @model_validator(mode="after")
    def _something_reported(self) -> Comparison:
        counts = self.events_exposed != "unknown" and self.events_reference != "unknown"
        if not counts and (self.p_value == "unknown" or self.more_frequent_in == "unknown"):
            raise FieldError(
                "p_value" if self.p_value == "unknown" else "more_frequent_in",
                "a comparison needs the event counts of both groups, or a P value and the "
                "group in which the event was more frequent",
            )
        return self


class TrialInfo(Strict):
    id: Key | Annotated[str, Field(pattern=r"^[A-Za-z0-9][A-Za-z0-9._-]{0,79}$")] = Field(
        description="Short identifier (letters, digits, . _ -)."
    )
    title: Text
    journal: Text | None = None
    year: Annotated[int, BeforeValidator(_whole), Field(ge=1900, le=2100)] | None = None
    doi: Text | None = None
    registry: Text | None = None
    treatment: Text | None = None
    population: Text | None = None
    design: Text | None = Field(None, description="The design in words, as the paper says it.")
    time_unit: TimeUnit = Field("months", description="Default unit of every time in the file.")


def _unique_primary(rates: dict[str, Rate]) -> dict[str, Rate]:
    primaries = [k for k, r in rates.items() if r.primary]
    if len(primaries) > 1:
        raise FieldError(f"{primaries[1]}.primary", f"at most one rate is primary, got {primaries}")
    return rates


class TrialV2(Strict):
    """A whole trial file (schema version 2)."""

    model_config = ConfigDict(extra="forbid", frozen=True, title="Trial file, schema version 2")

    schema_version: Literal[2]
    trial: TrialInfo
    enrolled: ReportedPositiveCount
    design: Design = Design()
    rates: Annotated[dict[Key, Rate], AfterValidator(_unique_primary)] = Field(
        default_factory=dict, max_length=20
    )
    time_to_event: dict[Key, TimeToEvent] = Field(default_factory=dict, max_length=20)
    groupings: dict[Key, Grouping] = Field(default_factory=dict, max_length=10)
    comparisons: dict[Key, Comparison] = Field(default_factory=dict, max_length=50)
    other: dict[Key, ReportedText | ReportedCount | ReportedPercent] = Field(
        default_factory=dict,
        max_length=50,
        description="Other published numbers and statements, shown but not analysed.",
    )

    @model_validator(mode="after")
    def _references(self) -> TrialV2:
        if not (self.rates or self.time_to_event or self.comparisons):
            raise FieldError(
                "rates", "the file declares no endpoint (rates, time_to_event, comparisons)"
            )
        for key, c in self.comparisons.items():
            if c.grouping not in self.groupings:
                raise FieldError(
                    f"comparisons.{key}.grouping",
                    f"no [groupings.{c.grouping}] table (have {sorted(self.groupings)})",
                )
        if self.design.endpoint is not None and self.design.endpoint not in self.rates:
            raise FieldError(
                "design.endpoint",
                f"no rate named {self.design.endpoint!r} (have {sorted(self.rates)})",
            )
        return self

    @property
    def primary_rate(self) -> str | None:
        """Key of the primary rate (the one marked primary, else the first), or None."""
        marked = [k for k, r in self.rates.items() if r.primary]
        return marked[0] if marked else next(iter(self.rates), None)
