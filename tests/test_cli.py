"""Command line: help, the reconstruction acceptance criterion, and error exits."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from trial_reanalysis.analysis.cli import app

runner = CliRunner()


def test_help_lists_every_command() -> None:
    result = runner.invoke(app, ["--help"])
    assert result.exit_code == 0
    for command in ("run", "reconstruct", "plan", "schema", "validate"):
        assert command in result.output
    result = runner.invoke(app, ["reconstruct", "--help"])
    for command in ("rate", "table", "km"):
        assert command in result.output


def test_reconstruct_rate_finds_exactly_the_two_published_candidates() -> None:
    args = ["reconstruct", "rate", "--percent", "30", "--ci", "17", "45", "--max-n", "48"]
    result = runner.invoke(app, [*args, "--json"])
    assert result.exit_code == 0, result.output
    found = {(r["responders"], r["evaluable"], r["ci_method"]) for r in json.loads(result.output)}
    assert found == {(14, 47, "exact"), (13, 44, "exact"), (13, 44, "wilson_cc")}
    table = runner.invoke(app, args)
    assert table.exit_code == 0 and "14" in table.output and "wilson_cc" in table.output


def test_reconstruct_rate_rejects_an_inverted_ci_with_exit_2() -> None:
    args = ["reconstruct", "rate", "--percent", "30", "--ci", "45", "17", "--max-n", "48"]
    result = runner.invoke(app, args)
    assert result.exit_code == 2 and "error" in result.output


def test_unknown_endpoint_is_exit_2(tmp_path) -> None:
    """An endpoint the trial file does not declare (the seed has no OS) is refused before any
    work, naming what the file declares (its keys, not the old fixed names)."""
    result = runner.invoke(app, ["run", "--endpoint", "os", "--out", str(tmp_path / "o")])
    text = "".join(result.output.split())
    assert result.exit_code == 2 and "declaresnoendpoint'os'" in text
    assert "['burden_reduction','pfs','prior_therapy']" in text
    assert not (tmp_path / "o").exists()


def test_validate_names_the_version_read(tmp_path) -> None:
    """validate of a v1 file and of the v2 seed: both valid, saying which version was read."""
    from trial_reanalysis.analysis.paths import DEFAULT_TRIAL

    v1 = Path(__file__).parent / "fixtures" / "seed_v1.toml"
    for path, read in ((DEFAULT_TRIAL, "(schema version 2)"), (v1, "version 1, migrated to 2")):
        result = runner.invoke(app, ["validate", str(path)])
        assert result.exit_code == 0 and read in " ".join(result.output.split()), result.output


def test_zero_workers_is_exit_2(tmp_path) -> None:
    result = runner.invoke(app, ["run", "--workers", "0", "--out", str(tmp_path / "o")])
    assert result.exit_code == 2 and "--workers" in result.output
    assert not (tmp_path / "o").exists()


def test_schema_prints_json() -> None:
    result = runner.invoke(app, ["schema"])
    assert result.exit_code == 0 and json.loads(result.output)["title"].startswith("Trial file")


#: `reanalysis reconstruct table` for the published P = .03 with 22 vs 26 patients (direction next).
TABLE_22_26 = [
    "reconstruct",
    "table",
    "--p-value",
    "0.03",
    "--n-bev",
    "22",
    "--n-sun",
    "26",
    "--exposed",
    "bevacizumab",
    "--reference",
    "sunitinib",
    "--more-frequent-after",
]


def test_reconstruct_table_json_lists_tables_that_reproduce_the_report() -> None:
    from scipy.stats import fisher_exact

    result = runner.invoke(app, [*TABLE_22_26, "bevacizumab", "--json"])
    assert result.exit_code == 0, result.output
    rows = json.loads(result.output)
    assert rows, "the published report must be reproducible with 22/26"
    for r in rows:
        a, c = r["exposed_events"], r["reference_events"]
        p = fisher_exact([[a, 22 - a], [c, 26 - c]]).pvalue
        assert 0.025 <= p < 0.035 and a / 22 > c / 26 and abs(p - r["p_value"]) < 1e-9


def test_reconstruct_table_rejects_bad_group_with_exit_2() -> None:
    result = runner.invoke(app, [*TABLE_22_26, "placebo"])
    assert result.exit_code == 2 and "error" in result.output


def test_reconstruct_km_roundtrip_and_bad_curve(tmp_path) -> None:
    curve = tmp_path / "curve.csv"
    at_risk = tmp_path / "atrisk.csv"
    out = tmp_path / "ipd.csv"
    curve.write_text("time,survival\n0,1\n2,0.9\n4,0.7\n6,0.5\n8,0.3\n10,0.2\n")
    at_risk.write_text("time,n_at_risk\n0,40\n5,22\n10,8\n")
    result = runner.invoke(
        app,
        ["reconstruct", "km", "--curve", str(curve), "--at-risk", str(at_risk), "--out", str(out)],
    )
    assert result.exit_code == 0, result.output
    lines = out.read_text().splitlines()
    assert lines[0] == "time,event" and len(lines) - 1 == 40
    curve.write_text("time,survival\n0,1\n2,0.9\n4,0.95\n")
    result = runner.invoke(
        app,
        [
            "reconstruct",
            "km",
            "--curve",
            str(curve),
            "--at-risk",
            str(at_risk),
            "--out",
            str(tmp_path / "x.csv"),
        ],
    )
    assert result.exit_code == 2 and "survival" in result.output
    assert not (tmp_path / "x.csv").exists()


def test_plan_reads_results_and_answers(tmp_path) -> None:
    results = tmp_path / "results.json"
    results.write_text(
        json.dumps(
            {
                "followup_priors": {
                    "burden_reduction": [
                        {
                            "name": "beta",
                            "family": "beta",
                            "parameters": {"alpha": 15.0, "beta": 34.0},
                            "ess": 49.0,
                        }
                    ]
                }
            }
        )
    )
    result = runner.invoke(
        app, ["plan", "--results", str(results), "--prior", "beta", "--n", "40", "--json"]
    )
    assert result.exit_code == 0, result.output
    plan = json.loads(result.output)
    assert plan["critical_responders"] == 5
    from scipy.stats import betabinom, binom

    assert plan["type1_error"] == pytest.approx(binom.sf(4, 40, 0.05), rel=1e-9)
    assert plan["power"] == pytest.approx(binom.sf(4, 40, 0.20), rel=1e-9)
    assert plan["assurance"] == pytest.approx(betabinom.sf(4, 40, 15.0, 34.0), rel=1e-9)
    missing = runner.invoke(app, ["plan", "--results", str(results), "--prior", "nope"])
    assert missing.exit_code == 2 and "nope" in missing.output


def test_plan_pfs_matches_the_order_statistic_closed_form(tmp_path) -> None:
    """Degenerate prior at median 4.4, shape 1 (exponential), n = 49, no censoring: the KM median
    is the 25th order statistic, so P(median > t) = P(Beta(25, 25) > F(t))."""
    import math

    from scipy.stats import beta

    results = tmp_path / "results.json"
    tiny = 1e-12
    results.write_text(
        json.dumps(
            {
                "followup_priors": {
                    "pfs": [
                        {
                            "name": "point",
                            "family": "mvnormal",
                            "parameters": {
                                "mean": [math.log(4.4), 0.0],
                                "cov": [[tiny, 0.0], [0.0, tiny]],
                            },
                            "ess": 1e9,
                        }
                    ]
                }
            }
        )
    )
    args = [
        "plan",
        "--results",
        str(results),
        "--endpoint",
        "pfs",
        "--n",
        "49",
        "--accrual-months",
        "0",
        "--followup-months",
        "1e6",
        "--threshold-months",
        "5.0",
        "--json",
    ]
    result = runner.invoke(app, args)
    assert result.exit_code == 0, result.output
    plan = json.loads(result.output)
    f = 1 - 2 ** (-5.0 / 4.4)
    exact = beta.sf(f, 25, 25)
    assert abs(plan["probability"] - exact) < 4 * plan["mc_se"], (plan["probability"], exact)
    missing = runner.invoke(app, [*args[:-3], "--json"])
    assert missing.exit_code == 2 and "threshold" in missing.output
