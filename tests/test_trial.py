"""Trial files: the seed trial holds the facts of record; every kind of bad input is rejected
with one message naming the file, the field and the problem (and exit code 2 from the CLI)."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from typer.testing import CliRunner

from trial_reanalysis.analysis.cli import app
from trial_reanalysis.analysis.errors import InputError
from trial_reanalysis.analysis.trials.load import (
    DATA_DIR,
    DEFAULT_TRIAL,
    load_trial,
    trial_json_schema,
)

SEED_TEXT = DEFAULT_TRIAL.read_text()


def test_seed_trial_holds_the_facts_of_record() -> None:
    t = load_trial().trial
    assert t.trial.doi == "10.1002/cncr.25327" and t.trial.registry == "NCT00866320"
    assert t.enrolled.value == 48 and "49" in t.enrolled.note
    assert (t.design.p0.value, t.design.p1.value, t.design.stages.value) == (0.05, 0.20, 2)
    br = t.burden_reduction
    assert br.estimate_percent.value == 30 and br.ci95_percent.value == (17, 45)
    assert br.evaluable == "unknown" and br.responders == "unknown"
    assert t.objective_response.unconfirmed_partial_responses.value == 1
    assert t.pfs.median_months.value == 4.4 and t.pfs.ci95_months.value == (3.6, 5.9)
    assert t.pfs.events == "unknown" and t.pfs.ci_transform == "unknown"
    ae = t.adverse_events.by_prior_therapy
    reported = {k: (v.p_value.value, v.more_frequent_after.value) for k, v in ae.items()}
    assert reported == {
        "ppe": (0.03, "bevacizumab"),
        "mucositis": (0.06, "bevacizumab"),
        "rash": (0.06, "sunitinib"),
    }
    assert t.adverse_events.test == "unknown"
    assert t.prior_therapy.n_exposed == "unknown" and t.prior_therapy.n_reference == "unknown"
    assert all(v.events_exposed == "unknown" for v in ae.values())


def test_every_reported_number_names_its_source() -> None:
    from trial_reanalysis.analysis.report.render import data_of_record

    reported, unknown = data_of_record(load_trial().trial)
    assert len(reported) >= 20
    assert all(r["source"].strip() for r in reported)
    assert {"burden_reduction.evaluable", "burden_reduction.responders", "pfs.events"} <= set(
        unknown
    )


def test_committed_json_schema_is_current() -> None:
    committed = json.loads((DATA_DIR / "trial.schema.json").read_text())
    assert committed == trial_json_schema(), "run `reanalysis schema --out data/trial.schema.json`"


# Each case: (description, text replacement in the seed file, expected field, expected problem).
BAD_INPUTS = [
    ("missing field", ('doi = "10.1002/cncr.25327"\n', ""), "trial.doi", "missing"),
    ("unknown field", ("[enrolled]\n", "[enrolled]\ncolour = 1\n"), "enrolled.colour", "unknown"),
    ("wrong type", ("value = 48\n", 'value = "many"\n'), "enrolled.value", "integer"),
    (
        "percentage above 100",
        ("estimate_percent = { value = 30,", "estimate_percent = { value = 130,"),
        "burden_reduction.estimate_percent.value",
        "less than or equal to 100",
    ),
    (
        "estimate outside its CI",
        ("estimate_percent = { value = 30,", "estimate_percent = { value = 50,"),
        "burden_reduction.estimate_percent",
        "outside its CI",
    ),
    (
        "lower above upper",
        ("ci95_percent = { value = [17, 45]", "ci95_percent = { value = [45, 17]"),
        "burden_reduction.ci95_percent",
        "lower 45.0 > upper 17.0",
    ),
    (
        "P value above 1",
        ("p_value = { value = 0.03,", "p_value = { value = 1.3,"),
        "adverse_events.by_prior_therapy.ppe.p_value.value",
        "less than 1",
    ),
    (
        "P value of zero",
        ("p_value = { value = 0.03,", "p_value = { value = 0,"),
        "adverse_events.by_prior_therapy.ppe.p_value.value",
        "greater than 0",
    ),
    (
        "x > n",
        (
            'evaluable = "unknown"\nresponders = "unknown"',
            'evaluable = { value = 10, source = "t" }\nresponders = { value = 14, source = "t" }',
        ),
        "burden_reduction.responders",
        "14 exceeds evaluable 10",
    ),
    ("zero n", ("value = 48\n", "value = 0\n"), "enrolled.value", "greater than 0"),
    ("negative n", ("value = 48\n", "value = -3\n"), "enrolled.value", "greater than 0"),
    (
        "median outside its CI",
        ("median_months = { value = 4.4,", "median_months = { value = 6.4,"),
        "pfs.median_months",
        "outside its CI",
    ),
    (
        "unknown misspelt",
        ('responders = "unknown"', 'responders = "unknwon"'),
        "burden_reduction.responders",
        '"unknown"',
    ),
    ("not TOML", ("[enrolled]\n", "[enrolled\n"), "<file>", "not valid TOML"),
]


def _write_bad(tmp_path: Path, old: str, new: str) -> Path:
    assert old in SEED_TEXT, old
    path = tmp_path / "bad_trial.toml"
    path.write_text(SEED_TEXT.replace(old, new, 1))
    return path


@pytest.mark.parametrize(("case", "change", "field", "problem"), BAD_INPUTS, ids=lambda v: v)
def test_bad_input_names_file_field_and_problem(tmp_path, case, change, field, problem) -> None:
    path = _write_bad(tmp_path, *change)
    with pytest.raises(InputError) as info:
        load_trial(path)
    assert info.value.field == field, case
    assert problem in info.value.problem, (case, info.value.problem)
    assert str(path) in str(info.value)


@pytest.mark.parametrize(("case", "change", "field", "problem"), BAD_INPUTS[:6], ids=str)
def test_cli_rejects_bad_input_with_exit_2_and_writes_nothing(
    tmp_path, case, change, field, problem
) -> None:
    path = _write_bad(tmp_path, *change)
    out = tmp_path / "out"
    result = CliRunner().invoke(app, ["run", str(path), "--out", str(out)])
    assert result.exit_code == 2, result.output
    assert re.search(re.escape(field), result.output)
    assert not out.exists()
    assert [p.name for p in tmp_path.iterdir()] == ["bad_trial.toml"]


def test_missing_file_is_exit_2(tmp_path) -> None:
    result = CliRunner().invoke(app, ["validate", str(tmp_path / "nope.toml")])
    assert result.exit_code == 2 and "cannot read" in result.output


def test_validate_accepts_the_seed_trial() -> None:
    result = CliRunner().invoke(app, ["validate", str(DEFAULT_TRIAL)])
    assert result.exit_code == 0 and "valid" in result.output


def test_loaded_trial_survives_pickling():
    """Worker processes receive the validated trial: a pickle round trip gives an equal trial."""
    import pickle

    loaded = load_trial()
    again = pickle.loads(pickle.dumps(loaded))
    assert again == loaded
    assert again.trial.enrolled.value == 48 and again.sha256 == loaded.sha256
