"""The validation layer (analysis/validation.py): each check names the file and the field; the
handed inputs of ../shared/cases (copied to tests/fixtures/cases) behave as their README rows say;
the other commands' options are checked before any work."""

from __future__ import annotations

import json
import os
import re
from pathlib import Path

import numpy as np
import pytest
from scipy import stats
from typer.testing import CliRunner

from trial_reanalysis.analysis.cli import app
from trial_reanalysis.analysis.errors import InputError
from trial_reanalysis.analysis.trials.load import DEFAULT_TRIAL, load_trial
from trial_reanalysis.analysis.trials.validation import (
    MAX_CSV_BYTES,
    check_plan_arguments,
    read_patient_data,
    read_regular_file,
)

CASES = Path(__file__).parent / "fixtures" / "cases"
SEED = DEFAULT_TRIAL.read_text()
CENSORING = "default = [0.0, 0.2]\nsweep = [[0.0, 0.0], [0.0, 0.2], [0.2, 0.4]]"


def _variant(tmp_path: Path, old: str, new: str, name: str = "trial.toml") -> Path:
    assert old in SEED, old
    path = tmp_path / name
    path.write_text(SEED.replace(old, new, 1))
    return path


def _squash(text: str) -> str:
    return re.sub(r"\s+", "", text)


BR = "rates.burden_reduction"
PFS = "time_to_event.pfs"
GROUPING = "groupings.prior_therapy"
# (replacement in the seed file, field named, problem matched)
CHECKS = [
    (
        ('responders = "unknown"', 'responders = { value = 50, source = "t" }'),
        f"{BR}.responders",
        "50 exceeds the most evaluable 48",
    ),
    (
        ('evaluable = "unknown"', 'evaluable = { value = 49, source = "t" }'),
        f"{BR}.evaluable",
        "49 exceeds max_evaluable 48",
    ),
    (
        ("max_evaluable = { value = 48,", "max_evaluable = { value = 60,"),
        f"{BR}.max_evaluable",
        "60 exceeds the 48 patients enrolled",
    ),
    (
        ("default = 0.2\nsweep = [0.1, 0.2]", "default = 1.0\nsweep = [0.1, 1.0]"),
        f"{BR}.assumptions.dropout_allowance.default",
        "must be a fraction in [0, 1)",
    ),
    (
        ('events = "unknown"', 'events = { value = 500, source = "t" }'),
        f"{PFS}.events",
        "500 exceeds the 48",
    ),
    (
        ('events = "unknown"', 'events = { value = 0, source = "t" }'),
        f"{PFS}.events",
        "a median needs at least one event",
    ),
    (
        (
            'events = "unknown"\ncensored = "unknown"',
            'events = { value = 40, source = "t" }\ncensored = { value = 9, source = "t" }',
        ),
        f"{PFS}.censored",
        "events + censored = 49",
    ),
    (
        (
            'events = "unknown"\ncensored = "unknown"',
            'events = { value = 2, source = "t" }\ncensored = { value = 40, source = "t" }',
        ),
        f"{PFS}.censored",
        "censored fraction 0.95 above 0.9",
    ),
    (
        (CENSORING, "default = [0.0, 1.0]\nsweep = [[0.0, 1.0]]"),
        f"{PFS}.assumptions.censoring_fraction.default",
        "100 % censoring",
    ),
    (
        (CENSORING, "default = [0.4, 0.2]\nsweep = [[0.4, 0.2]]"),
        f"{PFS}.assumptions.censoring_fraction.default",
        "lower 0.4 > upper 0.2",
    ),
    (
        (CENSORING, "default = [0.0, 0.2, 0.3]\nsweep = [[0.0, 0.2, 0.3]]"),
        f"{PFS}.assumptions.censoring_fraction.default",
        "must be a range [lo, hi]",
    ),
    (
        ("default = 48\nsweep = [40, 44, 48]", "default = 48\nsweep = [40, 60, 48]"),
        f"{PFS}.assumptions.n_at_risk.sweep[1]",
        "60 must be a whole number in 1..48",
    ),
    (
        ("default = 48\nsweep = [40, 44, 48]", "default = 48\nsweep = [40, 44.5, 48]"),
        f"{PFS}.assumptions.n_at_risk.sweep[1]",
        "44.5 must be a whole number",
    ),
    (
        ('sweep = ["plain", "log", "log-log"]', 'sweep = ["plain", "log", "logit"]'),
        f"{PFS}.assumptions.ci_transform.sweep[2]",
        "must be plain, log or log-log",
    ),
    (
        ('stage1 = "unknown"', 'stage1 = { value = [3, 3], source = "t" }'),
        "design.stage1",
        "r1 = 3 must be below n1 = 3",
    ),
    (
        ('stage1 = "unknown"', 'stage1 = { value = [0, 49], source = "t" }'),
        "design.stage1",
        "n1 = 49 exceeds the 48",
    ),
    (("value = 0.20, source", "value = 0.05, source"), "design.p1", "must exceed the null"),
    (("value = 0.20, source", "value = 1.0, source"), "design.p1.value", "less than 1"),
    (("value = 0.05, source", "value = 0, source"), "design.p0.value", "greater than 0"),
    (('alpha = "unknown"', 'alpha = { value = 5, source = "t" }'), "design.alpha.value", "less"),
    (
        ("default = [12, 36]\nsweep = [[12, 36]", "default = [12, 48]\nsweep = [[12, 48]"),
        f"{GROUPING}.assumptions.split_range.default",
        "inside 1..47",
    ),
    (
        ("default = [12, 36]\nsweep = [[12, 36]", "default = [36, 12]\nsweep = [[36, 12]"),
        f"{GROUPING}.assumptions.split_range.default",
        "lower 36 > upper 12",
    ),
    (
        ("default = [12, 36]\nsweep = [[12, 36]", "default = [12, 36.5]\nsweep = [[12, 36.5]"),
        f"{GROUPING}.assumptions.split_range.default",
        "range [lo, hi] of whole numbers",
    ),
    (
        ('sweep = ["fisher", "chi2"]', 'sweep = ["fisher", "t-test"]'),
        f"{GROUPING}.assumptions.test.sweep[1]",
        "must be fisher or chi2",
    ),
    (
        ('more_frequent_in = { value = "bevacizumab"', 'more_frequent_in = { value = "placebo"'),
        "comparisons.ppe.more_frequent_in",
        "'placebo' is neither group",
    ),
    (
        ("value = [3.6, 5.9]", "value = [4.4, 5.9]"),
        f"{PFS}.ci",
        "lower limit 4.4 equals the median",
    ),
    (("value = [3.6, 5.9]", "value = [3.6, nan]"), f"{PFS}.ci.value[1]", "not reached"),
    (("value = [3.6, 5.9]", "value = [-inf, 5.9]"), f"{PFS}.ci.value[0]", 'as "NE"'),
    (("value = [3.6, 5.9]", "value = [-1, 5.9]"), f"{PFS}.ci.value[0]", "between 0 and 1e6"),
    (("value = 48\n", "value = true\n"), "enrolled.value", "whole number, not bool"),
    (("value = 48\n", "value = 48.0\n"), "enrolled.value", "whole number, not float"),
    (("value = 48\n", "value = 5000\n"), "enrolled.value", "above the limit of 2000"),
    (('value = "= .03",', "value = false,"), "comparisons.ppe.p_value.value", "boolean"),
    (("value = 30,", 'value = "30",'), f"{BR}.estimate_percent.value", "number, not str"),
    (("decimals = 0", "decimals = 7"), f"{BR}.decimals", "less than or equal to 4"),
    (("ci_level = 0.95", "ci_level = 95"), f"{BR}.ci_level", "less than 1"),
    (("year = 2010", "year = -3"), "trial.year", "greater than or equal to 1900"),
    (('time_unit = "months"', 'time_unit = "fortnights"'), "trial.time_unit", "'days'"),
    (('id = "sorafenib-mrcc-2010"', 'id = "a b/c"'), "trial.id", "pattern"),
    (("[comparisons.rash]", "[comparisons.Rash]"), "comparisons.Rash", "pattern"),
    (
        (
            '"bevacizumab", n = "unknown" }\nreference = { name = "sunitinib"',
            '"sunitinib", n = "unknown" }\nreference = { name = "sunitinib"',
        ),
        f"{GROUPING}.reference.name",
        "different names",
    ),
]


@pytest.mark.parametrize(("change", "field", "problem"), CHECKS, ids=lambda v: str(v)[:40])
def test_each_check_names_file_and_field(tmp_path, change, field, problem) -> None:
    path = _variant(tmp_path, *change)
    with pytest.raises(InputError, match=re.escape(problem)) as info:
        load_trial(path)
    assert info.value.field == field and info.value.source == str(path)


def test_integers_are_accepted_for_real_numbers(tmp_path) -> None:
    """TOML integers where the format takes real numbers (times, fractions) stay valid."""
    path = _variant(tmp_path, "value = [3.6, 5.9]", "value = [3, 6]")
    assert load_trial(path).trial.time_to_event["pfs"].ci.value == (3.0, 6.0)


def test_upper_limit_not_estimable_is_written_NE(tmp_path) -> None:
    path = _variant(tmp_path, "value = [3.6, 5.9]", 'value = [3.6, "NE"]')
    assert load_trial(path).trial.time_to_event["pfs"].ci.value == (3.6, None)


def test_comparison_cap_and_enumeration_budget(tmp_path) -> None:
    block = SEED[SEED.index("[comparisons.rash]") :]
    block = block[: block.index("\n\n")]
    extra = "".join("\n\n" + block.replace(".rash]", f".e{j}]") for j in range(48))
    path = tmp_path / "many.toml"
    path.write_text(SEED.replace(block, block + extra, 1))
    with pytest.raises(InputError, match="at most 50") as info:
        load_trial(path)
    assert info.value.field == "comparisons"
    # 1500 enrolled with the split range 375..1125: sum n(1500-n)1500 over it > 4e9
    big = SEED.replace("value = 48\n", "value = 1500\n", 1)
    big = big.replace("max_evaluable = { value = 48,", "max_evaluable = { value = 1500,")
    big = big.replace(
        "default = [12, 36]\nsweep = [[12, 36], [18, 30]]",
        "default = [375, 1125]\nsweep = [[375, 1125]]",
    )
    big = big.replace("default = 48\nsweep = [40, 44, 48]", "default = 48\nsweep = [48]")
    (tmp_path / "big.toml").write_text(big)
    work = sum(n * (1500 - n) * 1500 for n in range(375, 1126))
    assert work > 4e9
    with pytest.raises(InputError, match="declare a narrower split_range") as info:
        load_trial(tmp_path / "big.toml")
    assert info.value.field == f"{GROUPING}.assumptions.split_range"


def test_trial_file_must_be_a_small_regular_file(tmp_path) -> None:
    fifo = tmp_path / "fifo.toml"
    os.mkfifo(fifo)
    for path, problem in (
        (fifo, "not a regular file"),
        (Path("/dev/zero"), "not a regular file"),
        (tmp_path, "a folder"),
    ):
        with pytest.raises(InputError, match=problem) as info:
            load_trial(path)
        assert info.value.field == "<file>"
    big = tmp_path / "big.toml"
    big.write_bytes(b"#" * ((1 << 20) + 1))
    with pytest.raises(InputError, match="more than the limit of 1048576"):
        load_trial(big)
    deep = tmp_path / "deep.toml"
    deep.write_text(SEED + "x = " + "[" * 5000 + "]" * 5000 + "\n")
    with pytest.raises(InputError, match="nesting deeper than 8"):
        load_trial(deep)


def test_read_regular_file_caps_what_it_reads(tmp_path) -> None:
    path = tmp_path / "f.csv"
    path.write_bytes(b"a" * 100)
    assert read_regular_file(path, limit=100, what="x") == b"a" * 100
    with pytest.raises(InputError, match="more than the limit of 99"):
        read_regular_file(path, limit=99, what="x")
    assert MAX_CSV_BYTES >= 1 << 20


# ---------------------------------------------------------------------------------------------
# the CSV inputs
# ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("content", "field", "problem"),
    [
        ("t,e\n1,1\n", "time", "missing column"),
        ("time,event\n1,1\nx,0\n", "time", "row 2: 'x' is not a finite number"),
        ("time,event\n1,1\n-1,0\n", "time", "time -1 is negative"),
        ("time,event\n1,1\n2,2\n", "event", "event 2 not 0/1"),
        ("time,event\n1,0\n2,0\n", "event", "all censored"),
        ("time,event\n" + "1,1\n" * 49, "time", "49 patients, more than the 48 enrolled"),
        ("", "<file>", "cannot read the patient data as CSV"),
    ],
)
def test_patient_data_checks(tmp_path, content, field, problem) -> None:
    path = tmp_path / "ipd.csv"
    path.write_text(content)
    with pytest.raises(InputError, match=re.escape(problem)) as info:
        read_patient_data(path, enrolled=48)
    assert info.value.field == field and info.value.source == str(path)


def test_patient_data_in_days_is_flagged_by_its_km_median(tmp_path) -> None:
    """KM median of the C08b data computed independently (every time distinct, so the median
    is the first event time where the product of (1 - 1/n_at_risk) reaches 0.5)."""
    data = np.loadtxt(CASES / "C08b_times_in_days.csv", delimiter=",", skiprows=1)
    order = np.argsort(data[:, 0])
    t, e = data[order, 0], data[order, 1]
    s, median = 1.0, None
    for i, (ti, ei) in enumerate(zip(t, e, strict=True)):
        s *= 1 - ei / (len(t) - i)
        if median is None and s <= 0.5 + 1e-12:
            median = ti
    ratio = median / 4.4
    assert ratio > 3
    with pytest.raises(InputError, match=f"ratio {ratio:.3g}") as info:
        load_trial(CASES / "C08b_times_in_days.toml")
    assert info.value.source.endswith("C08b_times_in_days.csv") and info.value.field == "time"


def test_all_censored_patient_data_is_rejected_at_load_time() -> None:
    """C08a: 48 censored times, the Weibull likelihood has no maximum (it rises as the scale
    grows: with no events log L = -sum (t/lambda)^k, which tends to 0 from below)."""
    data = np.loadtxt(CASES / "C08a_all_censored.csv", delimiter=",", skiprows=1)
    assert data[:, 1].sum() == 0
    loglik = [-np.sum((data[:, 0] / lam) ** 1.2) for lam in (10, 100, 1000)]
    assert loglik[0] < loglik[1] < loglik[2] < 0
    with pytest.raises(InputError, match="the Weibull is not identified") as info:
        load_trial(CASES / "C08a_all_censored.toml")
    assert "C08a_all_censored.toml" in info.value.problem


def test_digitised_curve_is_reconstructed_at_load_time(tmp_path) -> None:
    text = SEED.replace(
        'ci_transform = "unknown"\n',
        'ci_transform = "unknown"\ndigitised_curve = { curve = "c.csv", at_risk = "r.csv", '
        'source = "t" }\n',
        1,
    )
    path = tmp_path / "t.toml"
    path.write_text(text)
    (tmp_path / "c.csv").write_text("time,survival\n0,1\n2,0.8\n4.4,0.5\n8,0.25\n")
    (tmp_path / "r.csv").write_text("time,n_at_risk\n0,0\n4,0\n")
    with pytest.raises(InputError, match="first number at risk must be above 0"):
        load_trial(path)
    (tmp_path / "r.csv").write_text("time,n_at_risk\n0,60\n")
    with pytest.raises(InputError, match="60 at risk, more than the 48 enrolled"):
        load_trial(path)
    (tmp_path / "r.csv").write_text("time,n_at_risk\n0,40\n4,24\n")
    assert load_trial(path).trial.time_to_event["pfs"].digitised_curve.curve == "c.csv"


# ---------------------------------------------------------------------------------------------
# the handed inputs (README rows of ../shared/cases) and the command line
# ---------------------------------------------------------------------------------------------


V1_FILE = "in this version 1 file"


@pytest.mark.parametrize(
    ("name", "source", "field", "problem"),
    [
        # A05b and pfs_ci_upper_inf: inf is refused at the field, saying to write "NE"
        ("pfs_ci_upper_inf.toml", None, "pfs.ci95_months.value[1]", 'not reached as "NE"'),
        ("A05b_acc_os_upper_NE_inf.toml", None, "pfs.ci95_months.value[1]", 'as "NE"'),
        # ipd missing: validate opens the CSV (rejected at load, naming the CSV and the trial)
        ("ipd_missing_but_validate_ok.toml", "no_such_file.csv", "<file>", "No such file"),
        (
            "responders_50_gt_max_evaluable_48.toml",
            None,
            "rates.burden_reduction.responders",
            f"50 exceeds the most evaluable 48 ({V1_FILE}: burden_reduction.responders)",
        ),
        # P = 1: one rule (v1 schema: P < 1; v2 parse: "P = 1" refused)
        (
            "ae_p_value_1.toml",
            None,
            "adverse_events.by_prior_therapy.ppe.p_value.value",
            "less than 1",
        ),
        ("markup_in_value.toml", None, "trial.year", "'[/x]'"),
        # A10: a tie L = M is refused up front, naming the field (v2 path and v1 line)
        (
            "A10_nonacc_pfs_L_equals_M.toml",
            None,
            "time_to_event.pfs.ci",
            "equals the median",
        ),
        # C08a: no event; the CSV and its field are named, and the trial file too
        ("C08a_all_censored.toml", "C08a_all_censored.csv", "event", "not identified"),
        # C08b: days beside a median in months, flagged naming the CSV
        ("C08b_times_in_days.toml", "C08b_times_in_days.csv", "time", "another unit"),
    ],
)
def test_handed_inputs_are_rejected_with_the_field_named(name, source, field, problem) -> None:
    with pytest.raises(InputError, match=re.escape(problem)) as info:
        load_trial(CASES / name)
    err = info.value
    assert err.field == field
    assert name in str(err)
    if source is not None:
        assert Path(err.source).name == source
    else:
        assert err.source == str(CASES / name)
    if name.startswith("A10"):
        assert f"{V1_FILE}: pfs.ci95_months" in err.problem


@pytest.mark.parametrize(
    "name",
    [
        "xss_title.toml",
        "design_p0_001.toml",
        "design_p1_05.toml",
        "A02_dilorenzo_sorafenib_after_sunitinib_2009.toml",
        "A04_fulvestrant_maintenance_2020.toml",
        "A11_sorafenib_hfsr_by_bevacizumab_2009.toml",
        "A12_everolimus_acc_orr_zero.toml",
        "A15_responders_known_evaluable_unknown.toml",
        "A16_pvalue_001.toml",
        "A16_pvalue_NS.toml",
        "A18_simon_nmax_p030_p045.toml",
    ],
)
def test_handed_valid_inputs_load_and_keep_their_numbers(name) -> None:
    """Valid handed files load (version 1, migrated); the numbers the README rows are about
    arrive in version 2 terms."""
    loaded = load_trial(CASES / name)
    t = loaded.trial
    assert loaded.schema_version_read == 1
    if name == "xss_title.toml":
        assert "<script>" in t.trial.title
    if name.startswith("A16_pvalue_001"):
        assert t.comparisons["ppe"].p_value.interval == (0.0, 0.001)
    if name.startswith("A16_pvalue_NS"):
        low, high = t.comparisons["ppe"].p_value.interval
        assert low == t.comparisons["ppe"].p_value.ns_threshold == 0.05 and high >= 1
    if name.startswith("A11"):
        c = t.comparisons["hfsr23"]
        g = t.groupings[c.grouping]
        assert (c.events_exposed.value, g.exposed.n.value) == (24, 42)
        assert (c.events_reference.value, g.reference.n.value) == (16, 54)
    if name.startswith("A15"):
        r = t.rates["burden_reduction"]
        assert r.responders.value == 13 and r.evaluable == "unknown"
    if name.startswith("A12"):
        assert t.rates["burden_reduction"].estimate_percent.value == 0


def test_handed_p_values_read_as_printed() -> None:
    """A16 prints "<.001" and "NS" for PPE beside 0.06 for the others (DESIGN.md 4.3)."""
    low = load_trial(CASES / "A16_pvalue_001.toml").trial.comparisons
    ns = load_trial(CASES / "A16_pvalue_NS.toml").trial.comparisons
    assert low["ppe"].p_value.interval == (0.0, 0.001)
    assert ns["ppe"].p_value.interval == pytest.approx((0.05, 1.0), abs=1e-11)
    for c in (low, ns):
        assert c["mucositis"].p_value.interval == pytest.approx((0.055, 0.065), abs=1e-15)


def test_one_rule_for_p_values_in_the_schema_and_the_model() -> None:
    """Every P the schemas accept has an interval inside [0, 1] that the model and the
    Sellke-Bayarri-Berger calibration take; P = 1 is refused by both schema versions."""
    from trial_reanalysis.analysis.endpoints.comparison import sbb_calibration
    from trial_reanalysis.analysis.reconstruction.tables import rounding_interval
    from trial_reanalysis.analysis.trials.v2 import parse_p_value

    for p in (0.001, 0.03, 0.06, 0.5, 0.9, 0.99, 0.999):
        lo, hi = rounding_interval(p)
        assert 0 < lo < p < hi <= 1
        assert parse_p_value(p)[:2] == pytest.approx((lo, hi), abs=1e-12)
        sbb_calibration(hi)
    for printed in ("< .001", "NS", "> .05", "<= .05"):
        lo, hi, _ = parse_p_value(printed)
        assert 0 <= lo < hi <= 1 + 1e-12
    with pytest.raises(ValueError, match=r"\(0, 1\)"):
        rounding_interval(1.0)
    for printed in (1, 1.0, "= 1", "= 1.00"):
        with pytest.raises(ValueError, match="P = 1"):
            parse_p_value(printed)


def test_validate_never_hangs_on_a_fifo(tmp_path) -> None:
    fifo = tmp_path / "t.toml"
    os.mkfifo(fifo)
    result = CliRunner().invoke(app, ["validate", str(fifo)])
    assert result.exit_code == 2 and "not a regular file" in result.output


def test_run_endpoint_missing_from_the_trial_exits_2_before_any_work(tmp_path) -> None:
    start = SEED.index("[time_to_event.pfs]")
    end = SEED.index("[groupings.prior_therapy]")
    path = tmp_path / "no_pfs.toml"
    path.write_text(SEED[:start] + SEED[end:])
    assert "pfs" not in load_trial(path).trial.time_to_event
    out = tmp_path / "out"
    result = CliRunner().invoke(app, ["run", str(path), "--out", str(out), "--endpoint", "pfs"])
    assert result.exit_code == 2, result.output
    text = _squash(result.output)
    assert _squash(str(path)) in text and "declaresnoendpoint'pfs'" in text
    assert "burden_reduction" in text and "Traceback" not in text
    assert not out.exists()


@pytest.mark.parametrize(
    ("args", "option"),
    [
        (["--n", "100000"], "--n"),
        (["--n", "0"], "--n"),
        (["--p0", "nan"], "--p0"),
        (["--p0", "0.3", "--p1", "0.2"], "--p1"),
        (["--p1", "1"], "--p1"),
        (["--success-prob", "1"], "--success-prob"),
        (["--threshold-months", "-1", "--endpoint", "pfs"], "--threshold-months"),
        (["--threshold-months", "inf", "--endpoint", "pfs"], "--threshold-months"),
        (["--threshold-months", "nan", "--endpoint", "pfs"], "--threshold-months"),
        (["--accrual-months", "-2"], "--accrual-months"),
    ],
)
def test_plan_rejects_bad_options_with_exit_2(tmp_path, args, option) -> None:
    results = tmp_path / "results.json"
    results.write_text("{}")
    result = CliRunner().invoke(app, ["plan", "--results", str(results), *args])
    assert result.exit_code == 2, result.output
    assert option in result.output and "Traceback" not in result.output


@pytest.mark.parametrize(
    ("content", "key"),
    [
        ("[1, 2]", "<top level>"),
        ('"text"', "<top level>"),
        ('{"followup_priors": {"burden_reduction": [1, 2]}}', "followup_priors.burden_reduction"),
        ('{"followup_priors": {"pfs": []}}', "followup_priors.burden_reduction"),
        ('{"followup_priors": 3}', "followup_priors"),
    ],
)
def test_plan_results_file_of_the_wrong_shape_names_file_and_key(tmp_path, content, key) -> None:
    results = tmp_path / "results.json"
    results.write_text(content)
    result = CliRunner().invoke(app, ["plan", "--results", str(results)])
    assert result.exit_code == 2, result.output
    text = _squash(result.output)
    assert _squash(str(results)) in text and _squash(key) in text


def test_plan_accepts_infinite_follow_up_as_no_censoring() -> None:
    check_plan_arguments(
        n=40,
        p0=0.05,
        p1=0.2,
        success_prob=0.95,
        accrual_months=12,
        followup_months=float("inf"),
        threshold_months=4.4,
    )


def test_reconstruct_rate_caps_and_warns_about_fractions() -> None:
    runner = CliRunner()
    result = runner.invoke(
        app, ["reconstruct", "rate", "--percent", "30", "--ci", "17", "45", "--max-n", "100000"]
    )
    assert result.exit_code == 2 and "--max-n" in result.output
    result = runner.invoke(
        app,
        ["reconstruct", "rate", "--percent", "0.3", "--ci", "0.17", "0.45", "--max-n", "48"],
    )
    assert result.exit_code == 0
    assert "look like fractions" in result.output and "--percent30--ci1745" in _squash(
        result.output
    )
    result = runner.invoke(
        app,
        ["reconstruct", "rate", "--percent", "30", "--ci", "17", "45", "--max-n", "48", "--json"],
    )
    records = json.loads(result.output)
    assert {(r["responders"], r["evaluable"]) for r in records} == {(14, 47), (13, 44)}
    # the two pairs are the DESIGN.md 4.1 values: their Clopper-Pearson limits round to 17-45 %
    for x, n in ((14, 47), (13, 44)):
        lo = stats.beta.ppf(0.025, x, n - x + 1)
        hi = stats.beta.ppf(0.975, x + 1, n - x)
        assert (round(100 * lo), round(100 * hi), round(100 * x / n)) == (17, 45, 30)


@pytest.mark.parametrize(
    ("args", "option"),
    [
        (["--n-bev", "1000000", "--n-sun", "20"], "--n-bev"),
        (["--n-bev", "20", "--n-sun", "501"], "--n-sun"),
        (["--n-bev", "20", "--n-sun", "20", "--p-value", "1"], "--p-value"),
        (["--n-bev", "20", "--n-sun", "20", "--p-value", "nan"], "--p-value"),
        (["--n-bev", "20", "--n-sun", "20", "--test", "t"], "--test"),
    ],
)
def test_reconstruct_table_rejects_bad_options(args, option) -> None:
    base = ["reconstruct", "table", "--exposed", "bevacizumab", "--reference", "sunitinib"]
    base += ["--more-frequent-after", "bevacizumab"]
    if "--p-value" not in args:
        base += ["--p-value", "0.03"]
    result = CliRunner().invoke(app, [*base, *args])
    assert result.exit_code == 2, result.output
    assert option in result.output


def test_reconstruct_km_with_no_one_at_risk_exits_2(tmp_path) -> None:
    (tmp_path / "c.csv").write_text("time,survival\n0,1\n2,0.8\n4,0.5\n")
    (tmp_path / "r.csv").write_text("time,n_at_risk\n0,0\n2,0\n")
    out = tmp_path / "ipd.csv"
    result = CliRunner().invoke(
        app,
        [
            "reconstruct",
            "km",
            "--curve",
            str(tmp_path / "c.csv"),
            "--at-risk",
            str(tmp_path / "r.csv"),
            "--out",
            str(out),
        ],
    )
    assert result.exit_code == 2 and "n_at_risk" in result.output
    assert not out.exists()
