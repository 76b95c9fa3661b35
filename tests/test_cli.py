"""Command line: help, the reconstruction acceptance criterion, and error exits."""

from __future__ import annotations

import json

from typer.testing import CliRunner

from analysis.cli import app

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
    result = runner.invoke(app, ["run", "--endpoint", "os", "--out", str(tmp_path / "o")])
    assert result.exit_code == 2 and "unknown endpoint" in result.output
    assert not (tmp_path / "o").exists()


def test_schema_prints_json() -> None:
    result = runner.invoke(app, ["schema"])
    assert result.exit_code == 0 and json.loads(result.output)["title"].startswith("Trial file")
