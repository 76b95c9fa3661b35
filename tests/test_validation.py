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


# (replacement in the seed file, field named, problem matched)
CHECKS = [
    (
        ('responders = "unknown"', 'responders = { value = 50, source = "t" }'),
        "burden_reduction.responders",
        "50 exceeds max_evaluable 48",
    ),
    (
        ('events = "unknown"', 'events = { value = 500, source = "t" }'),
        "pfs.events",
        "500 exceeds the 48",
    ),
    (
        (
            'events = "unknown"\ncensored = "unknown"',
            'events = { value = 40, source = "t" }\ncensored = { value = 9, source = "t" }',
        ),
        "pfs.censored",
        "events + censored = 49",
    ),
    (
        (
            CENSORING,
            "default = [0.0, 1.0]\nsweep = [[0.0, 1.0]]",
        ),
        "assumptions.pfs_censoring_fraction.default",
        "100 % censoring",
    ),
    (
        (
            CENSORING,
            "default = [0.4, 0.2]\nsweep = [[0.4, 0.2]]",
        ),
        "assumptions.pfs_censoring_fraction.default",
        "lower 0.4 > upper 0.2",
    ),
    (
        ("default = 48\nsweep = [40, 44, 48]", "default = 48\nsweep = [40, 60, 48]"),
        "assumptions.pfs_n_at_risk.sweep[1]",
        "60 must lie in 20..48",
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
    (("value = 0.20, source", "value = 0.05, source"), "design.p1", "must exceed null"),
    (("value = 0.20, source", "value = 1.0, source"), "design.p1", "strictly between 0 and 1"),
    (("value = 0.05, source", "value = 0, source"), "design.p0", "strictly between 0 and 1"),
    (
        ("default = [12, 36]\nsweep = [[12, 36]", "default = [12, 48]\nsweep = [[12, 48]"),
        "assumptions.ae_split_range.default",
        "inside 1..47",
    ),
    (
        ("default = [12, 36]\nsweep = [[12, 36]", "default = [36, 12]\nsweep = [[36, 12]"),
        "assumptions.ae_split_range.default",
        "lower 36 > upper 12",
    ),
    (
        ("value = [3.6, 5.9]", "value = [4.4, 5.9]"),
        "pfs.ci95_months",
        "lower limit 4.4 equals the median",
    ),
    (("value = [3.6, 5.9]", "value = [3.6, nan]"), "pfs.ci95_months.value[1]", "finite"),
    (("value = [3.6, 5.9]", "value = [-inf, 5.9]"), "pfs.ci95_months.value[0]", "finite"),
    (("value = 48\n", "value = true\n"), "enrolled.value", "valid integer"),
    (("value = 48\n", "value = 48.0\n"), "enrolled.value", "valid integer"),
    (("value = 48\n", "value = 5000\n"), "enrolled.value", "above the limit of 2000"),
    (("value = 0.03,", 'value = "0.03",'), "ppe.p_value.value", "valid number"),
    (("value = 0.03,", "value = false,"), "ppe.p_value.value", "valid number"),
    (("year = 2010", "year = -3"), "trial.year", "greater than or equal to 1900"),
    (
        ('"bevacizumab"\nreference = "sunitinib"', '"sunitinib"\nreference = "sunitinib"'),
        "prior_therapy.reference",
        "must differ",
    ),
]


@pytest.mark.parametrize(("change", "field", "problem"), CHECKS, ids=lambda v: str(v)[:40])
def test_each_check_names_file_and_field(tmp_path, change, field, problem) -> None:
    path = _variant(tmp_path, *change)
    with pytest.raises(InputError, match=re.escape(problem)) as info:
        load_trial(path)
    assert field in info.value.field and info.value.source == str(path)


def test_integers_are_accepted_for_real_numbers(tmp_path) -> None:
    """TOML integers where the format takes real numbers (months, fractions) stay valid."""
    path = _variant(tmp_path, "value = [3.6, 5.9]", "value = [3, 6]")
    assert load_trial(path).trial.pfs.ci95_months.value == (3.0, 6.0)


def test_upper_limit_not_estimable_is_written_NE(tmp_path) -> None:
    path = _variant(tmp_path, "value = [3.6, 5.9]", 'value = [3.6, "NE"]')
    assert load_trial(path).trial.pfs.ci95_months.value == (3.6, None)


def test_adverse_event_cap_and_enumeration_budget(tmp_path) -> None:
    block = SEED[SEED.index("[adverse_events.by_prior_therapy.rash]") :]
    block = block[: block.index("\n\n")]
    extra = "".join("\n\n" + block.replace(".rash]", f".e{j}]") for j in range(48))
    path = tmp_path / "many.toml"
    path.write_text(SEED.replace(block, block + extra, 1))
    with pytest.raises(InputError, match="at most 50") as info:
        load_trial(path)
    assert info.value.field == "adverse_events.by_prior_therapy"
    # 1500 enrolled with the default split range: sum n(1500-n)1500 over 375..1125 > 4e9
    big = SEED.replace("value = 48\n", "value = 1500\n", 1)
    big = big.replace(
        "default = [12, 36]\nsweep = [[12, 36], [18, 30]]",
        "default = [375, 1125]\nsweep = [[375, 1125]]",
    )
    big = big.replace("default = 48\nsweep = [40, 44, 48]", "default = 48\nsweep = [48]")
    (tmp_path / "big.toml").write_text(big)
    work = sum(n * (1500 - n) * 1500 for n in range(375, 1126))
    assert work > 4e9
    with pytest.raises(InputError, match="narrower ae_split_range"):
        load_trial(tmp_path / "big.toml")


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
    assert load_trial(path).trial.pfs.digitised_curve.curve == "c.csv"


# ---------------------------------------------------------------------------------------------
# the handed inputs (README rows of ../shared/cases) and the command line
# ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "field", "problem"),
    [
        ("pfs_ci_upper_inf.toml", "pfs.ci95_months.value[1]", 'write "NE"'),
        ("ipd_missing_but_validate_ok.toml", "<file>", "No such file"),
        ("responders_50_gt_max_evaluable_48.toml", "burden_reduction.responders", "50 exceeds"),
        ("ae_p_value_1.toml", "adverse_events.by_prior_therapy.ppe.p_value.value", "less than 1"),
        ("markup_in_value.toml", "trial.year", "'[/x]'"),
        ("A05b_acc_os_upper_NE_inf.toml", "pfs.ci95_months.value[1]", "finite"),
        ("A10_nonacc_pfs_L_equals_M.toml", "pfs.ci95_months", "equals the median"),
    ],
)
def test_handed_inputs_are_rejected_with_the_field_named(name, field, problem) -> None:
    with pytest.raises(InputError, match=re.escape(problem)) as info:
        load_trial(CASES / name)
    assert info.value.field == field
    assert name in str(info.value)


def test_one_rule_for_p_values_in_the_schema_and_the_model() -> None:
    """Every P the schema accepts has a rounding interval inside (0, 1] (what the model and the
    Sellke-Bayarri-Berger bound need); P = 1 would give [0.5, 1.5)."""
    from trial_reanalysis.analysis.endpoints.comparison import sbb_calibration
    from trial_reanalysis.analysis.reconstruction.tables import rounding_interval

    for p in (0.001, 0.03, 0.06, 0.5, 0.9, 0.99, 0.999):
        lo, hi = rounding_interval(p)
        assert 0 < lo < p < hi <= 1
        sbb_calibration(hi)
    with pytest.raises(ValueError, match=r"\(0, 1\)"):
        rounding_interval(1.0)


def test_validate_never_hangs_on_a_fifo(tmp_path) -> None:
    fifo = tmp_path / "t.toml"
    os.mkfifo(fifo)
    result = CliRunner().invoke(app, ["validate", str(fifo)])
    assert result.exit_code == 2 and "not a regular file" in result.output


def test_run_endpoint_missing_from_the_trial_exits_2_before_any_work(tmp_path) -> None:
    start = SEED.index("[pfs]")
    end = SEED.index("[prior_therapy]")
    path = tmp_path / "no_pfs.toml"
    path.write_text(SEED[:start] + SEED[end:])
    out = tmp_path / "out"
    result = CliRunner().invoke(app, ["run", str(path), "--out", str(out), "--endpoint", "pfs"])
    assert result.exit_code == 2
    text = _squash(result.output)
    assert "pfs" in text and _squash(str(path)) in text and "nopfstable" in text
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
    base = ["reconstruct", "table", "--more-frequent-after", "bevacizumab"]
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
