"""``reanalysis batch FILES --out DIR``: one run folder per file, stop or keep going, exit codes.

Two small fixture trials with a ``burden_reduction`` rate: A02 (5 of 52 responders published,
so under the uniform prior the posterior is exactly Beta(1 + 5, 1 + 47)) and A11; ``--endpoint
burden_reduction --workers 1`` keeps every run short and in this process.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from scipy import stats
from typer.testing import CliRunner

import trial_reanalysis.analysis.batch as batch_module
from trial_reanalysis.analysis.cli import app
from trial_reanalysis.analysis.errors import DiagnosticsError, InputError

runner = CliRunner()
CASES = Path(__file__).parent / "fixtures" / "cases"
A02 = CASES / "A02_dilorenzo_sorafenib_after_sunitinib_2009.toml"
A11 = CASES / "A11_sorafenib_hfsr_by_bevacizumab_2009.toml"
FAST = ["--endpoint", "burden_reduction", "--workers", "1"]


@pytest.fixture
def trials(tmp_path: Path) -> dict[str, Path]:
    folder = tmp_path / "trials"
    folder.mkdir()
    broken = folder / "broken.toml"
    broken.write_text("schema_version = 2\n[trial\n")  # not TOML: exit 2
    return {
        "a02": Path(shutil.copy(A02, folder / "a02.toml")),
        "a11": Path(shutil.copy(A11, folder / "a11.toml")),
        "broken": broken,
    }


def _batch(*args: object) -> object:
    return runner.invoke(app, ["batch", *map(str, args)], terminal_width=300)


def _rows(output: str) -> dict[str, str]:
    """trial file -> status, from the summary table."""
    rows = {}
    for line in output.splitlines():
        cells = [c.strip() for c in line.split("│")]
        if len(cells) > 3 and cells[1].endswith(".toml"):
            rows[cells[1]] = cells[2]
    return rows


def test_keep_going_runs_every_file_and_exits_with_the_failure(trials, tmp_path) -> None:
    out = tmp_path / "out"
    result = _batch(trials["a02"], trials["broken"], trials["a11"], "--out", out, *FAST,
                    "--keep-going")  # fmt: skip
    assert result.exit_code == 2, result.output
    assert _rows(result.output) == {"a02.toml": "ok", "broken.toml": "failed", "a11.toml": "ok"}
    assert "bad input" in result.output and "not valid TOML" in result.output
    assert sorted(p.name for p in out.iterdir()) == ["a02", "a11"]
    # each file's folder is a complete run; A02's published 5/52 under Beta(1, 1): Beta(6, 48)
    rate = json.loads((out / "a02" / "results.json").read_text())["rates"]["burden_reduction"]
    post, exact = rate["posterior"]["uniform"], stats.beta(6, 48)
    assert post["mean"] == pytest.approx(exact.mean(), abs=1e-9)
    assert post["ci95"] == pytest.approx(exact.ppf([0.025, 0.975]), abs=1e-7)
    assert (out / "a11" / "report.html").is_file()


def test_without_keep_going_the_first_failure_stops_the_batch(trials, tmp_path) -> None:
    out = tmp_path / "out"
    result = _batch(trials["broken"], trials["a02"], "--out", out, *FAST)
    assert result.exit_code == 2
    assert _rows(result.output) == {"broken.toml": "failed", "a02.toml": "not run"}
    assert f"error: {trials['broken']} failed (bad input), the batch stopped" in result.output
    assert not (out / "a02").exists() and not (out / "broken").exists()


def _fake_run(failing: dict[str, Exception]):
    def run(config):
        raise failing[Path(config.trial_path).stem]

    return run


@pytest.mark.parametrize(
    ("errors", "keep_going", "code"),
    [
        ({"a": DiagnosticsError("gates"), "b": RuntimeError("boom")}, True, 3),
        ({"a": RuntimeError("boom"), "b": InputError("f", "x", "bad")}, True, 2),
        ({"a": RuntimeError("boom"), "b": DiagnosticsError("gates")}, False, 1),
        ({"a": DiagnosticsError("gates"), "b": RuntimeError("boom")}, False, 3),
    ],
)
def test_exit_code_is_the_worst_failure_or_the_first(
    errors, keep_going, code, tmp_path, monkeypatch
) -> None:
    """2 input, 3 diagnostics, 1 anything else; --keep-going: the largest of them."""
    monkeypatch.setattr(batch_module, "run_analysis", _fake_run(errors))
    files = [Path(shutil.copy(A02, tmp_path / f"{stem}.toml")) for stem in ("a", "b")]
    flags = ["--keep-going"] if keep_going else []
    result = _batch(*files, "--out", tmp_path / "out", *FAST, *flags)
    assert result.exit_code == code, result.output
    expected = {"a.toml": "failed", "b.toml": "failed" if keep_going else "not run"}
    assert _rows(result.output) == expected
    why = {DiagnosticsError: "failed diagnostics", InputError: "bad input", RuntimeError: "error"}
    for error in list(errors.values())[: 2 if keep_going else 1]:
        assert f"{why[type(error)]}: {error}" in result.output


def test_output_folders_are_checked_before_any_file_runs(trials, tmp_path, monkeypatch) -> None:
    """DIR holding a trial file is refused; a DIR/<stem> holding a file the package did not
    write is refused (and kept); both before any run (exit 2)."""

    def never(config):  # pragma: no cover - must not be called
        raise AssertionError("a file ran")

    monkeypatch.setattr(batch_module, "run_analysis", never)
    result = _batch(trials["a02"], "--out", trials["a02"].parent, *FAST)
    assert result.exit_code == 2 and "holds the input file" in result.output
    mine = tmp_path / "out" / "a11" / "notes.txt"
    mine.parent.mkdir(parents=True)
    mine.write_text("mine")
    result = _batch(trials["a02"], trials["a11"], "--out", tmp_path / "out", *FAST)
    assert result.exit_code == 2 and "did not write (notes.txt)" in result.output
    assert mine.read_text() == "mine" and not (tmp_path / "out" / "a02").exists()
    result = _batch(trials["a02"], tmp_path / "missing.toml", "--out", tmp_path / "o2", *FAST)
    assert result.exit_code == 2 and "no such file" in result.output


@pytest.mark.parametrize("name", ["..toml", ".hidden.toml"])
def test_a_file_name_starting_with_a_dot_is_refused(trials, tmp_path, monkeypatch, name) -> None:
    """'..toml' has the stem '.': its run folder would be OUT itself (replaced whole); a hidden
    stem would hide the run. Refused before any run, naming the file, and OUT keeps its files."""

    def never(config):  # pragma: no cover - must not be called
        raise AssertionError("a file ran")

    monkeypatch.setattr(batch_module, "run_analysis", never)
    odd = Path(shutil.copy(A02, trials["a02"].parent / name))
    out = tmp_path / "out"
    out.mkdir()
    (out / "keep.txt").write_text("mine")
    result = _batch(odd, trials["a11"], "--out", out, *FAST)
    assert result.exit_code == 2 and "must not start with '.'" in result.output
    assert sorted(p.name for p in out.iterdir()) == ["keep.txt"]


def test_prior_option_chooses_the_primary_in_every_file(trials, tmp_path) -> None:
    """``batch --prior`` is ``run --prior`` for each file: A02's published 5/52 under the Jeffreys
    Beta(1/2, 1/2) prior is exactly Beta(5.5, 47.5), and that is its headline; a bad pair is
    refused before any file runs (exit 2, nothing written)."""
    out = tmp_path / "out"
    result = _batch(trials["a02"], trials["a11"], "--out", out, *FAST,
                    "--prior", "burden_reduction=jeffreys")  # fmt: skip
    assert result.exit_code == 0, result.output
    for stem in ("a02", "a11"):
        rate = json.loads((out / stem / "results.json").read_text())["rates"]["burden_reduction"]
        assert rate["primary_prior"] == "jeffreys"
        assert [k for k, v in rate["priors"].items() if v["primary"]] == ["jeffreys"]
    rate = json.loads((out / "a02" / "results.json").read_text())["rates"]["burden_reduction"]
    post, exact = rate["posterior"]["jeffreys"], stats.beta(5.5, 47.5)
    assert post["mean"] == pytest.approx(exact.mean(), abs=1e-9)
    assert post["ci95"] == pytest.approx(exact.ppf([0.025, 0.975]), abs=1e-7)
    bad = _batch(trials["a02"], "--out", tmp_path / "o2", *FAST, "--prior", "burden_reduction")
    assert bad.exit_code == 2 and "expected ENDPOINT=NAME" in bad.output
    assert not (tmp_path / "o2").exists()
