"""Trial files (schema version 2): the seed holds the facts of record; the version 1 seed migrates
to the same numbers; every kind of bad input is rejected with one message naming the file, the
field (its version 2 dotted path) and the problem (exit code 2 from the CLI, nothing written);
the forms abstracts print (P values, "NE", "not reached", units) read as documented."""

from __future__ import annotations

import json
import math
import pickle
import re
from pathlib import Path

import numpy as np
import pytest
from typer.testing import CliRunner

from trial_reanalysis.analysis.cli import app
from trial_reanalysis.analysis.errors import InputError
from trial_reanalysis.analysis.paths import DATA_DIR
from trial_reanalysis.analysis.trials.checks import (
    rate_dropout,
    rate_report_of,
    time_to_event_data,
    time_unit,
)
from trial_reanalysis.analysis.trials.load import DEFAULT_TRIAL, load_trial, trial_json_schema
from trial_reanalysis.analysis.trials.migrate import v1_field
from trial_reanalysis.analysis.trials.v2 import parse_p_value

SEED_TEXT = DEFAULT_TRIAL.read_text()
FIXTURES = Path(__file__).parent / "fixtures"
SEED_V1 = FIXTURES / "seed_v1.toml"
CASES = FIXTURES / "cases"


def _write(tmp_path: Path, text: str, name: str = "trial.toml") -> Path:
    path = tmp_path / name
    path.write_text(text)
    return path


def _variant(tmp_path: Path, *changes: tuple[str, str], name: str = "trial.toml") -> Path:
    text = SEED_TEXT
    for old, new in changes:
        assert text.count(old) >= 1, old
        text = text.replace(old, new, 1)
    return _write(tmp_path, text, name)


def _error(path: Path) -> InputError:
    with pytest.raises(InputError) as info:
        load_trial(path)
    return info.value


# ---------------------------------------------------------------------------------------------
# the seed, its sources, its schema
# ---------------------------------------------------------------------------------------------


def test_seed_trial_holds_the_facts_of_record() -> None:
    """DESIGN.md section 2, read off the v2 seed."""
    loaded = load_trial()
    t = loaded.trial
    assert loaded.schema_version_read == 2 and Path(loaded.path) == DEFAULT_TRIAL
    assert t.trial.doi == "10.1002/cncr.25327" and t.trial.registry == "NCT00866320"
    assert t.enrolled.value == 48 and "49" in t.enrolled.note
    assert (t.design.p0.value, t.design.p1.value, t.design.stages.value) == (0.05, 0.20, 2)
    assert t.primary_rate == "burden_reduction" and list(t.rates) == ["burden_reduction"]
    br = t.rates["burden_reduction"]
    assert br.estimate_percent.value == 30 and br.ci_percent.value == (17, 45)
    assert br.evaluable == "unknown" and br.responders == "unknown" and br.ci_method == "unknown"
    pfs = t.time_to_event["pfs"]
    assert time_unit(t, pfs) == "months"
    assert pfs.median.value == 4.4 and pfs.ci.value == (3.6, 5.9)
    assert pfs.events == "unknown" and pfs.ci_transform == "unknown"
    g = t.groupings["prior_therapy"]
    assert (g.exposed.name, g.reference.name) == ("bevacizumab", "sunitinib")
    assert g.exposed.n == "unknown" and g.reference.n == "unknown" and g.test == "unknown"
    reported = {k: (c.p_value.interval, c.more_frequent_in.value) for k, c in t.comparisons.items()}
    # "P = .03": the unrounded P lies in [0.025, 0.035) (DESIGN.md 4.3)
    assert reported["ppe"][1] == "bevacizumab" and reported["rash"][1] == "sunitinib"
    assert reported["ppe"][0] == pytest.approx((0.025, 0.035), abs=1e-15)
    assert reported["mucositis"][0] == pytest.approx((0.055, 0.065), abs=1e-15)
    assert all(c.events_exposed == "unknown" for c in t.comparisons.values())
    assert t.other["unconfirmed_partial_responses"].value == 1


def _reported(node: object, where: str = "") -> list[tuple[str, object]]:
    """Every published value (a model with ``value`` and ``source``) with its dotted path."""
    from pydantic import BaseModel

    found: list[tuple[str, object]] = []
    if isinstance(node, BaseModel):
        fields = type(node).model_fields
        if "source" in fields and "value" in fields:
            return [(where, node)]
        for name in fields:
            found += _reported(getattr(node, name), f"{where}.{name}".lstrip("."))
    elif isinstance(node, dict):
        for key, value in node.items():
            found += _reported(value, f"{where}.{key}")
    return found


def test_every_reported_number_names_its_source() -> None:
    """The seed publishes 20 values (DESIGN.md section 2): enrolled, 3 design values, estimate,
    CI and max_evaluable, median, CI and the association statement, 3 P values and 3
    directions, 4 other statements; each names where it was printed."""
    trial = load_trial().trial
    found = dict(_reported(trial))
    assert len(found) == 20, sorted(found)
    assert all(v.source.strip() for v in found.values())
    unknown = {
        k
        for k in ("evaluable", "responders")
        if getattr(trial.rates["burden_reduction"], k) == "unknown"
    }
    assert unknown == {"evaluable", "responders"}


def test_committed_json_schema_is_current() -> None:
    committed = json.loads((DATA_DIR / "trial.schema.json").read_text())
    assert committed == trial_json_schema(), "run `reanalysis schema --out data/trial.schema.json`"


def test_loaded_trial_survives_pickling() -> None:
    """Worker processes receive the validated trial: a pickle round trip gives an equal trial,
    for a v2 file and for a migrated v1 file (whose ranges must not come back as other types)."""
    for path in (DEFAULT_TRIAL, SEED_V1, CASES / "A11_sorafenib_hfsr_by_bevacizumab_2009.toml"):
        loaded = load_trial(path)
        again = pickle.loads(pickle.dumps(loaded))
        assert again == loaded, path
        assert again.sha256 == loaded.sha256 and again.schema_version_read == (
            loaded.schema_version_read
        )


# ---------------------------------------------------------------------------------------------
# version 1 migrated = version 2
# ---------------------------------------------------------------------------------------------


def test_v1_seed_migrated_equals_the_v2_seed_in_every_analysed_number() -> None:
    old = load_trial(SEED_V1)
    new = load_trial(DEFAULT_TRIAL)
    assert old.schema_version_read == 1 and new.schema_version_read == 2
    a, b = old.trial, new.trial
    assert a.enrolled.value == b.enrolled.value == 48
    assert a.design.model_dump(exclude={"stages", "p0", "p1"}) == b.design.model_dump(
        exclude={"stages", "p0", "p1"}
    )
    for name in ("stages", "p0", "p1"):
        assert getattr(a.design, name).value == getattr(b.design, name).value
    # rates: what the reconstruction reads is identical (same candidates follow)
    assert list(a.rates) == list(b.rates) == ["burden_reduction"]
    ra, rb = a.rates["burden_reduction"], b.rates["burden_reduction"]
    assert ra.primary and rb.primary
    assert rate_report_of(ra, 48) == rate_report_of(rb, 48)
    assert rate_dropout(ra) == rate_dropout(rb) == 0.2
    # the v2 seed adds a dropout sweep that v1 could not say; v1 migrated declares none
    assert ra.assumptions.dropout_allowance is None
    assert rb.assumptions.dropout_allowance.sweep == [0.1, 0.2]
    # times, events, transform and the three PFS assumptions
    pa, pb = a.time_to_event["pfs"], b.time_to_event["pfs"]
    assert time_unit(a, pa) == time_unit(b, pb) == "months"
    assert (pa.median.value, pa.ci.value, pa.ci_level) == (pb.median.value, pb.ci.value, 0.95)
    assert (pa.events, pa.censored, pa.ci_transform) == (pb.events, pb.censored, pb.ci_transform)
    assert pa.assumptions == pb.assumptions
    # comparisons: the same groups, directions and P intervals; the same grouping assumptions
    ga, gb = a.groupings["prior_therapy"], b.groupings["prior_therapy"]
    assert (ga.exposed, ga.reference, ga.test) == (gb.exposed, gb.reference, gb.test)
    assert ga.assumptions == gb.assumptions
    assert list(a.comparisons) == list(b.comparisons) == ["ppe", "mucositis", "rash"]
    for key in a.comparisons:
        ca, cb = a.comparisons[key], b.comparisons[key]
        assert ca.p_value.interval == pytest.approx(cb.p_value.interval, abs=1e-15)
        assert ca.more_frequent_in.value == cb.more_frequent_in.value
        assert (ca.events_exposed, ca.events_reference) == (cb.events_exposed, cb.events_reference)
        assert ca.grouping == cb.grouping and ca.label == cb.label
    assert {k: v.value for k, v in a.other.items()} == {k: v.value for k, v in b.other.items()}


@pytest.mark.parametrize(
    ("v2", "v1"),
    [
        ("rates.burden_reduction.responders", "burden_reduction.responders"),
        ("rates.burden_reduction.ci_percent", "burden_reduction.ci95_percent"),
        ("time_to_event.pfs.ci", "pfs.ci95_months"),
        ("time_to_event.pfs.assumptions.n_at_risk.sweep[1]", "assumptions.pfs_n_at_risk.sweep[1]"),
        ("groupings.prior_therapy.exposed.n", "prior_therapy.n_exposed"),
        (
            "groupings.prior_therapy.assumptions.split_range.default",
            "assumptions.ae_split_range.default",
        ),
        (
            "comparisons.ppe.more_frequent_in",
            "adverse_events.by_prior_therapy.ppe.more_frequent_after",
        ),
        ("design.stage1", "design.stage1"),
    ],
)
def test_v1_field_names_the_line_of_a_version_1_file(v2: str, v1: str) -> None:
    assert v1_field(v2) == v1


def test_errors_in_a_migrated_v1_file_name_both_paths(tmp_path) -> None:
    text = SEED_V1.read_text().replace(
        'responders = "unknown"', 'responders = { value = 50, source = "t" }', 1
    )
    err = _error(_write(tmp_path, text))
    assert err.field == "rates.burden_reduction.responders"
    assert "50 exceeds" in err.problem
    assert "in this version 1 file: burden_reduction.responders" in err.problem


# ---------------------------------------------------------------------------------------------
# bad input: one message naming the file, the field and the problem
# ---------------------------------------------------------------------------------------------

BR = "rates.burden_reduction"
PFS = "time_to_event.pfs"
# (description, replacements in the seed file, expected field, expected problem)
BAD_INPUTS = [
    (
        "missing field",
        [('label = "Tumor burden reduction rate"\n', "")],
        f"{BR}.label",
        "missing required field",
    ),
    ("misspelt field", [("title = ", "titel = ")], "trial.title", "missing required field"),
    ("unknown field", [("[enrolled]\n", "[enrolled]\ncolour = 1\n")], "enrolled.colour", "unknown"),
    ("wrong type", [("value = 48\n", 'value = "many"\n')], "enrolled.value", "whole number"),
    (
        "percentage above 100",
        [("estimate_percent = { value = 30,", "estimate_percent = { value = 130,")],
        f"{BR}.estimate_percent.value",
        "less than or equal to 100",
    ),
    (
        "estimate outside its CI",
        [("estimate_percent = { value = 30,", "estimate_percent = { value = 50,")],
        f"{BR}.estimate_percent",
        "outside its CI",
    ),
    (
        "lower above upper",
        [("ci_percent = { value = [17, 45]", "ci_percent = { value = [45, 17]")],
        f"{BR}.ci_percent.value",
        "lower limit 45 exceeds upper 17",
    ),
    (
        "P value above 1",
        [('p_value = { value = "= .03",', "p_value = { value = 1.3,")],
        "comparisons.ppe.p_value.value",
        "cannot read the P value",
    ),
    (
        "P value of 1",
        [('p_value = { value = "= .03",', 'p_value = { value = "= 1",')],
        "comparisons.ppe.p_value.value",
        "P = 1",
    ),
    (
        "P value of zero",
        [('p_value = { value = "= .03",', "p_value = { value = 0.0,")],
        "comparisons.ppe.p_value.value",
        "(0, 1]",
    ),
    (
        "P value garbage",
        [('p_value = { value = "= .03",', 'p_value = { value = "about .03",')],
        "comparisons.ppe.p_value.value",
        "cannot read the P value",
    ),
    (
        "x > n",
        [
            (
                'evaluable = "unknown"\nresponders = "unknown"',
                'evaluable = { value = 10, source = "t" }\n'
                'responders = { value = 14, source = "t" }',
            )
        ],
        f"{BR}.responders",
        "14 exceeds evaluable 10",
    ),
    ("zero n", [("value = 48\n", "value = 0\n")], "enrolled.value", "greater than 0"),
    ("negative n", [("value = 48\n", "value = -3\n")], "enrolled.value", "greater than 0"),
    (
        "median outside its CI",
        [("median = { value = 4.4,", "median = { value = 6.4,")],
        f"{PFS}.ci",
        "above its upper limit 5.9",
    ),
    (
        "unknown misspelt",
        [('responders = "unknown"', 'responders = "unknwon"')],
        f"{BR}.responders",
        '"unknown"',
    ),
    ("not TOML", [("[enrolled]\n", "[enrolled\n")], "<file>", "not valid TOML"),
    (
        "schema version 3",
        [("schema_version = 2", "schema_version = 3")],
        "schema_version",
        "must be 2",
    ),
    (
        "two primary rates",
        [
            (
                "[time_to_event.pfs]\n",
                '[rates.orr]\nlabel = "ORR"\nprimary = true\n'
                'estimate_percent = { value = 2, source = "t" }\n\n[time_to_event.pfs]\n',
            )
        ],
        "rates.orr.primary",
        "at most one rate is primary",
    ),
    (
        "comparison of an unknown grouping",
        [('grouping = "prior_therapy"', 'grouping = "prior_theraphy"')],
        "comparisons.ppe.grouping",
        "no [groupings.prior_theraphy] table",
    ),
    (
        "design of an unknown rate",
        [('endpoint = "burden_reduction"', 'endpoint = "orr"')],
        "design.endpoint",
        "no rate named 'orr'",
    ),
    (
        "same group twice",
        [('reference = { name = "sunitinib"', 'reference = { name = "bevacizumab"')],
        "groupings.prior_therapy.reference.name",
        "different names",
    ),
    (
        "group above enrolment",
        [
            (
                'exposed = { name = "bevacizumab", n = "unknown" }',
                'exposed = { name = "bevacizumab", n = { value = 48, source = "t" } }',
            )
        ],
        "groupings.prior_therapy.exposed.n",
        "leaves no patient",
    ),
    (
        "groups above enrolment together",
        [
            ('n = "unknown" }', 'n = { value = 30, source = "t" } }'),
            ('n = "unknown" }', 'n = { value = 20, source = "t" } }'),
        ],
        "groupings.prior_therapy.exposed.n",
        "hold 50 patients, more than the 48",
    ),
    (
        "events above the group",
        [
            ('n = "unknown" }', 'n = { value = 20, source = "t" } }'),
            ('events_exposed = "unknown"', 'events_exposed = { value = 21, source = "t" }'),
        ],
        "comparisons.ppe.events_exposed",
        "21 events exceed the 20 patients",
    ),
    (
        "sweep without its default",
        [("sweep = [0.1, 0.2]", "sweep = [0.1, 0.3]")],
        f"{BR}.assumptions.dropout_allowance.sweep",
        "must include the default 0.2",
    ),
]


@pytest.mark.parametrize(("case", "changes", "field", "problem"), BAD_INPUTS, ids=lambda v: v)
def test_bad_input_names_file_field_and_problem(tmp_path, case, changes, field, problem) -> None:
    path = _variant(tmp_path, *changes)
    err = _error(path)
    assert err.field == field, (case, err)
    if problem is not None:
        assert problem in err.problem, (case, err.problem)
    assert err.source == str(path) and str(path) in str(err)


@pytest.mark.parametrize(
    ("case", "changes", "field", "problem"), BAD_INPUTS[:8] + BAD_INPUTS[18:22], ids=str
)
def test_cli_rejects_bad_input_with_exit_2_and_writes_nothing(
    tmp_path, case, changes, field, problem
) -> None:
    path = _variant(tmp_path, *changes, name="bad_trial.toml")
    out = tmp_path / "out"
    for args in (["run", str(path), "--out", str(out)], ["validate", str(path)]):
        result = CliRunner().invoke(app, args)
        assert result.exit_code == 2, (args, result.output)
        text = re.sub(r"\s+", "", result.output)
        assert field in text and "bad_trial.toml" in text and "Traceback" not in text
    assert not out.exists()
    assert [p.name for p in tmp_path.iterdir()] == ["bad_trial.toml"]


def test_missing_file_is_exit_2(tmp_path) -> None:
    result = CliRunner().invoke(app, ["validate", str(tmp_path / "nope.toml")])
    assert result.exit_code == 2 and "cannot read" in result.output


@pytest.mark.parametrize("path", [DEFAULT_TRIAL, SEED_V1], ids=["v2", "v1"])
def test_validate_accepts_the_seed_trial(path: Path) -> None:
    result = CliRunner().invoke(app, ["validate", str(path)])
    assert result.exit_code == 0 and "valid" in result.output


# ---------------------------------------------------------------------------------------------
# P values as printed
# ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("printed", "low", "high"),
    [
        ("= .03", 0.025, 0.035),
        (".03", 0.025, 0.035),
        ("P = .03", 0.025, 0.035),
        (0.03, 0.025, 0.035),
        ("= 0.012", 0.0115, 0.0125),
        (0.00001, 0.000005, 0.000015),  # not read as "1e-05"
        ("= .060", 0.0595, 0.0605),  # a string keeps the printed trailing zero
        ("< .001", 0.0, 0.001),
        ("p<.001", 0.0, 0.001),
        ("<=.05", 0.0, 0.05),
        ("≤ .05", 0.0, 0.05),
        ("> .05", 0.05, 1.0),
        (">= .1", 0.1, 1.0),
        ("NS", 0.05, 1.0),
        ("n.s.", 0.05, 1.0),
        ("= .95", 0.945, 0.955),
    ],
)
def test_p_value_forms_read_as_printed(printed, low, high) -> None:
    lo, hi, _ = parse_p_value(printed)
    assert lo == pytest.approx(low, abs=1e-12) and hi == pytest.approx(high, abs=1e-11)


def test_ns_uses_the_declared_threshold(tmp_path) -> None:
    path = _variant(
        tmp_path,
        (
            'p_value = { value = "= .03", source = "abstract" }',
            'p_value = { value = "NS", ns_threshold = 0.1, source = "abstract" }',
        ),
    )
    assert load_trial(path).trial.comparisons["ppe"].p_value.interval == pytest.approx(
        (0.1, 1.0), abs=1e-11
    )


@pytest.mark.parametrize(
    ("value", "problem"),
    [
        ('"= 1"', "P = 1"),
        ("1", "P = 1"),
        ("1.0", "P = 1"),
        ('"> 1"', "P > 1"),
        ('"= 0"', "cannot read"),
        ('"< 0"', "cannot read"),
        ('"< 0.0"', "(0, 1]"),
        ('"= 1.5"', "cannot read"),
        ('"p = three"', "cannot read"),
        ('"significant"', "cannot read"),
        ('""', "cannot read"),
        ("true", "boolean"),
        ("nan", "finite"),
        ("inf", "finite"),
        ("[0.03]", "valid string"),
    ],
)
def test_unreadable_p_values_are_rejected_at_the_value(tmp_path, value, problem) -> None:
    path = _variant(tmp_path, ('p_value = { value = "= .03",', f"p_value = {{ value = {value},"))
    err = _error(path)
    assert err.field == "comparisons.ppe.p_value.value", err
    assert problem in err.problem, err.problem


# ---------------------------------------------------------------------------------------------
# medians and limits: "NE", not reached, ties, units
# ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize("word", ["NE", "not reached", "NR", "not estimable", "NA"])
def test_an_upper_limit_not_estimable_reads_as_missing(tmp_path, word) -> None:
    path = _variant(tmp_path, ("value = [3.6, 5.9]", f'value = [3.6, "{word}"]'))
    assert load_trial(path).trial.time_to_event["pfs"].ci.value == (3.6, None)


def test_a_median_not_reached_reads_as_missing(tmp_path) -> None:
    path = _variant(
        tmp_path,
        ("median = { value = 4.4,", 'median = { value = "not reached",'),
        ("value = [3.6, 5.9]", 'value = [3.6, "NE"]'),
    )
    pfs = load_trial(path).trial.time_to_event["pfs"]
    assert pfs.median.value is None and not pfs.median.reached and pfs.ci.value == (3.6, None)


@pytest.mark.parametrize(
    ("changes", "field", "problem"),
    [
        (
            [("median = { value = 4.4,", 'median = { value = "not reached",')],
            f"{PFS}.ci",
            "cannot have a finite upper limit (5.9)",
        ),
        ([("value = [3.6, 5.9]", 'value = ["NE", 5.9]')], f"{PFS}.ci", "lower limit is estimable"),
        ([("value = [3.6, 5.9]", "value = [3.6, inf]")], f"{PFS}.ci.value[1]", 'as "NE"'),
        ([("value = [3.6, 5.9]", "value = [nan, 5.9]")], f"{PFS}.ci.value[0]", 'as "NE"'),
        ([("value = [3.6, 5.9]", 'value = [3.6, "never"]')], f"{PFS}.ci.value[1]", "'never'"),
        ([("median = { value = 4.4,", "median = { value = inf,")], f"{PFS}.median.value", "NE"),
        ([("median = { value = 4.4,", "median = { value = 0,")], f"{PFS}.median.value", "positive"),
        ([("value = [3.6, 5.9]", "value = [4.4, 5.9]")], f"{PFS}.ci", "lower limit 4.4 equals"),
        ([("value = [3.6, 5.9]", "value = [3.6, 4.4]")], f"{PFS}.ci", "upper limit 4.4 equals"),
        (
            [('median = { value = 4.4, source = "abstract" }', 'median = "not reported"')],
            f"{PFS}.median",
            "without its median",
        ),
    ],
)
def test_medians_and_limits(tmp_path, changes, field, problem) -> None:
    err = _error(_variant(tmp_path, *changes))
    assert err.field == field, err
    assert problem in err.problem, err.problem


def _km_median(time: np.ndarray, event: np.ndarray) -> float:
    """Kaplan-Meier median by brute force: the first time where the product reaches 0.5."""
    s = 1.0
    for t in np.unique(time):
        at_risk = np.sum(time >= t)
        deaths = np.sum((time == t) & (event == 1))
        s *= 1 - deaths / at_risk
        if s <= 0.5 + 1e-12:
            return float(t)
    return math.inf


def test_patient_data_in_days_with_its_unit_loads_in_months(tmp_path) -> None:
    """C08b's CSV holds days; declared as such it loads, its times are converted to the
    endpoint's months (x 12 / 365.25) and its KM median matches the reported 4.4 months."""
    csv = (CASES / "C08b_times_in_days.csv").read_text()
    (tmp_path / "ipd.csv").write_text(csv)
    block = 'patient_data = { path = "ipd.csv", unit = "days", source = "t" }\n'
    path = _variant(tmp_path, ('ci_transform = "unknown"\n', 'ci_transform = "unknown"\n' + block))
    loaded = load_trial(path)
    data, _, csv_path, reconstructed = time_to_event_data(loaded, "pfs")
    raw = np.loadtxt(CASES / "C08b_times_in_days.csv", delimiter=",", skiprows=1)
    assert csv_path == tmp_path / "ipd.csv" and not reconstructed
    np.testing.assert_allclose(data["time"].to_numpy(), raw[:, 0] * 12 / 365.25, rtol=1e-12)
    months = _km_median(raw[:, 0], raw[:, 1]) * 12 / 365.25
    assert abs(months - 4.4) / 4.4 < 0.1, months
    # the same CSV without its unit is flagged, naming the CSV (C08b)
    path = _variant(
        tmp_path,
        (
            'ci_transform = "unknown"\n',
            'ci_transform = "unknown"\n' + block.replace('unit = "days", ', ""),
        ),
        name="no_unit.toml",
    )
    err = _error(path)
    assert err.source == str(tmp_path / "ipd.csv") and err.field == "time"
    assert "another unit" in err.problem and "no_unit.toml" in err.problem


def test_an_endpoint_in_weeks_reads_its_csv_in_its_own_unit(tmp_path) -> None:
    """Unit of the endpoint (weeks) and of the CSV (months): times are converted to weeks."""
    rng = np.random.default_rng(1)
    t = rng.weibull(1.5, 40) * 4.4 / math.log(2) ** (1 / 1.5)
    (tmp_path / "ipd.csv").write_text("time,event\n" + "".join(f"{x:.4f},1\n" for x in t))
    block = 'patient_data = { path = "ipd.csv", unit = "months", source = "t" }\n'
    weeks = 4.4 * (365.25 / 12) / 7
    path = _variant(
        tmp_path,
        (
            'unit = "months"\nmedian = { value = 4.4,',
            f'unit = "weeks"\nmedian = {{ value = {weeks:.3f},',
        ),
        ("value = [3.6, 5.9]", f"value = [{3.6 * weeks / 4.4:.3f}, {5.9 * weeks / 4.4:.3f}]"),
        ('ci_transform = "unknown"\n', 'ci_transform = "unknown"\n' + block),
    )
    data = time_to_event_data(load_trial(path), "pfs")[0]
    np.testing.assert_allclose(data["time"].to_numpy(), np.round(t, 4) * 365.25 / 12 / 7)


# ---------------------------------------------------------------------------------------------
# priors, counts and directions
# ---------------------------------------------------------------------------------------------

RATE_PRIOR = (
    '\n[rates.burden_reduction.priors.{name}]\nfamily = "{family}"\n'
    'parameters = {params}\nrationale = "t"\n'
)


def _with_prior(tmp_path: Path, where: str, name: str, family: str, params: str) -> Path:
    block = RATE_PRIOR.replace("rates.burden_reduction", where).format(
        name=name, family=family, params=params
    )
    return _write(tmp_path, SEED_TEXT + block)


@pytest.mark.parametrize(
    ("where", "family", "params"),
    [
        ("rates.burden_reduction", "beta", "{ alpha = 1, beta = 1 }"),
        (
            "time_to_event.pfs",
            "lognormal",
            "{ log_median_mu = 1.5, log_median_sd = 1, log_shape_mu = 0, log_shape_sd = 0.5 }",
        ),
        ("comparisons.ppe", "normal", "{ log_or_mu = 0, log_or_sigma = 1.5 }"),
    ],
)
def test_priors_of_the_right_family_load(tmp_path, where, family, params) -> None:
    trial = load_trial(_with_prior(tmp_path, where, "flat", family, params)).trial
    kind, key = where.split(".")
    prior = getattr(trial, kind)[key].priors["flat"]
    assert prior.family == family and all(math.isfinite(v) for v in prior.parameters.values())


@pytest.mark.parametrize(
    ("where", "family", "params", "field", "problem"),
    [
        (
            "rates.burden_reduction",
            "normal",
            "{ log_or_mu = 0, log_or_sigma = 1 }",
            "family",
            "a rate prior is beta",
        ),
        (
            "comparisons.ppe",
            "beta",
            "{ alpha = 1, beta = 1 }",
            "family",
            "a comparison prior is normal",
        ),
        (
            "time_to_event.pfs",
            "beta",
            "{ alpha = 1, beta = 1 }",
            "family",
            "a time-to-event prior is lognormal",
        ),
        ("rates.burden_reduction", "beta", "{ alpha = 1 }", "parameters", "needs exactly"),
        (
            "rates.burden_reduction",
            "beta",
            "{ alpha = 1, beta = 1, gamma = 2 }",
            "parameters",
            "needs exactly",
        ),
        (
            "rates.burden_reduction",
            "beta",
            "{ alpha = 0, beta = 1 }",
            "parameters.alpha",
            "must be > 0",
        ),
        (
            "comparisons.ppe",
            "normal",
            "{ log_or_mu = 0, log_or_sigma = -1 }",
            "parameters.log_or_sigma",
            "must be > 0",
        ),
        (
            "rates.burden_reduction",
            "beta",
            "{ alpha = inf, beta = 1 }",
            "parameters.alpha",
            "finite",
        ),
        (
            "rates.burden_reduction",
            "beta",
            "{ alpha = true, beta = 1 }",
            "parameters.alpha",
            "number",
        ),
        ("rates.burden_reduction", "gamma", "{ alpha = 1, beta = 1 }", "family", "beta"),
    ],
)
def test_priors_are_validated_per_kind(tmp_path, where, family, params, field, problem) -> None:
    err = _error(_with_prior(tmp_path, where, "mine", family, params))
    assert err.field == f"{where}.priors.mine.{field}", err
    assert problem in err.problem, err.problem


def test_at_most_one_primary_prior(tmp_path) -> None:
    block = "".join(
        RATE_PRIOR.format(name=n, family="beta", params="{ alpha = 1, beta = 1 }")
        + "primary = true\n"
        for n in ("a", "b")
    )
    err = _error(_write(tmp_path, SEED_TEXT + block))
    assert err.field == f"{BR}.priors" and "at most one prior is primary" in err.problem


def _counts(ne: str, nr: str, a: int, b: int) -> list[tuple[str, str]]:
    return [
        (
            'exposed = { name = "bevacizumab", n = "unknown" }',
            f'exposed = {{ name = "bevacizumab", n = {ne} }}',
        ),
        (
            'reference = { name = "sunitinib", n = "unknown" }',
            f'reference = {{ name = "sunitinib", n = {nr} }}',
        ),
        ('events_exposed = "unknown"', f'events_exposed = {{ value = {a}, source = "t" }}'),
        ('events_reference = "unknown"', f'events_reference = {{ value = {b}, source = "t" }}'),
    ]


def _n(v: int) -> str:
    return f'{{ value = {v}, source = "t" }}'


@pytest.mark.parametrize(
    ("ne", "nr", "a", "b", "field"),
    [
        # PPE was more frequent after bevacizumab: 5/20 vs 10/28 says the opposite
        (_n(20), _n(28), 5, 10, "comparisons.ppe.more_frequent_in"),
        (_n(20), _n(28), 5, 7, "comparisons.ppe.more_frequent_in"),  # 25 % = 25 %: no direction
        # one size published: the other group holds the rest (28); 5/20 < 10/28
        (_n(20), '"unknown"', 5, 10, "comparisons.ppe.more_frequent_in"),
        # no size published: no split in the declared ranges makes 0 events the higher rate
        ('"unknown"', '"unknown"', 0, 3, "groupings.prior_therapy.assumptions.split_range.default"),
        # 11 events: a split of 12..36 allows it, but not 18..30 with 30 events after sunitinib
        (
            '"unknown"',
            '"unknown"',
            11,
            30,
            "groupings.prior_therapy.assumptions.split_range.sweep[1]",
        ),
    ],
)
def test_counts_contradicting_the_reported_direction_are_rejected(
    tmp_path, ne, nr, a, b, field
) -> None:
    err = _error(_variant(tmp_path, *_counts(ne, nr, a, b)))
    assert err.field == field, err
    assert "direction" in err.problem


def test_counts_agreeing_with_the_direction_load(tmp_path) -> None:
    """6/20 vs 2/28 (bevacizumab higher), with the sizes, with one size, and with none."""
    for ne, nr in ((_n(20), _n(28)), (_n(20), '"unknown"'), ('"unknown"', '"unknown"')):
        trial = load_trial(_variant(tmp_path, *_counts(ne, nr, 6, 2))).trial
        c = trial.comparisons["ppe"]
        assert (c.events_exposed.value, c.events_reference.value) == (6, 2)


def test_exhaustive_direction_check_against_brute_force(tmp_path) -> None:
    """For every (a, b) with sizes unknown and split range 12..36 of 48, the loader accepts
    exactly when some split n in 12..36 has a <= n, b <= 48 - n and a/n > b/(48 - n)."""
    from trial_reanalysis.analysis.trials.checks import _compatible

    for a in range(0, 49, 3):
        for b in range(0, 49, 3):
            brute = any(a <= n and b <= 48 - n and a / n > b / (48 - n) for n in range(12, 37))
            mine = any(_compatible(n, 48 - n, a, b, 1) for n in range(12, 37))
            assert brute == mine, (a, b)


# ---------------------------------------------------------------------------------------------
# rates: counts against the printed estimate, levels, truncation
# ---------------------------------------------------------------------------------------------


def test_published_counts_must_give_the_printed_estimate(tmp_path) -> None:
    counts = (
        'evaluable = "unknown"\nresponders = "unknown"',
        'evaluable = { value = 47, source = "t" }\nresponders = { value = 20, source = "t" }',
    )
    err = _error(_variant(tmp_path, counts))
    assert err.field == f"{BR}.estimate_percent" and "20/47 = 42.55" in err.problem
    ok = (counts[0], counts[1].replace("value = 20", "value = 14"))
    assert load_trial(_variant(tmp_path, ok)).trial.rates["burden_reduction"].responders.value == 14


def test_rate_with_no_compatible_counts_is_rejected_early(tmp_path) -> None:
    """30 % from at most 5 evaluable: x/n for n <= 5 is 0, 20, 25, 33, 40, 50 ... %, never 30
    (rounded or truncated), so nothing reproduces even the estimate."""
    assert not any(
        round(100 * x / n) == 30 or int(100 * x / n) == 30
        for n in range(1, 6)
        for x in range(n + 1)
    )
    path = _variant(tmp_path, ("max_evaluable = { value = 48,", "max_evaluable = { value = 5,"))
    err = _error(path)
    assert err.field == f"{BR}.estimate_percent" and "reproduces the printed rate" in err.problem


def test_a_90_percent_ci_and_truncation_reach_the_reconstruction(tmp_path) -> None:
    """Hensley 2008 (corpus) prints a 90 % CI; gemcitabine 1999 truncates: both reach the
    report the reconstruction reads."""
    trials = DATA_DIR / "trials"
    h = load_trial(trials / "hensley_gemdoc_first_line_2008.toml").trial
    assert rate_report_of(h.rates["orr"], h.enrolled.value).level == 0.90
    g = load_trial(trials / "gemcitabine_nsclc_1999.toml").trial
    assert rate_report_of(g.rates["orr"], g.enrolled.value).rounding == "truncate"


def test_landmark_outside_its_ci_is_rejected(tmp_path) -> None:
    block = 'landmarks = [{ time = 6, percent = 30, ci_percent = [35, 50], source = "t" }]\n'
    path = _variant(tmp_path, ('ci_transform = "unknown"\n', 'ci_transform = "unknown"\n' + block))
    err = _error(path)
    assert err.field == f"{PFS}.landmarks[0].ci_percent" and "outside its CI" in err.problem


def test_n_at_risk_cannot_exceed_the_patients_of_the_analysis(tmp_path) -> None:
    path = _variant(
        tmp_path,
        ('events = "unknown"\n', 'events = "unknown"\npatients = { value = 44, source = "t" }\n'),
    )
    err = _error(path)
    assert err.field == f"{PFS}.assumptions.n_at_risk.default"
    assert "1..44 (the patients of this analysis)" in err.problem
