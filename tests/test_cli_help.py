"""Every command's --help fits 80 columns and shows each option's full name."""

from __future__ import annotations

from typing import Any

import pytest
import typer
from typer.testing import CliRunner

from trial_reanalysis.analysis.cli import app

runner = CliRunner()


def _commands(group: Any, prefix: tuple[str, ...] = ()):
    """Every command and sub-command (typer carries its own click: duck-typed)."""
    for name, command in group.commands.items():
        yield (*prefix, name), command
        if getattr(command, "commands", None):
            yield from _commands(command, (*prefix, name))


COMMANDS = list(_commands(typer.main.get_command(app)))


@pytest.mark.parametrize(("path", "command"), COMMANDS, ids=[" ".join(p) for p, _ in COMMANDS])
def test_help_fits_80_columns(path: tuple[str, ...], command: Any) -> None:
    result = runner.invoke(app, [*path, "--help"], terminal_width=80)
    assert result.exit_code == 0, result.output
    too_long = [line for line in result.output.splitlines() if len(line) > 80]
    assert not too_long, too_long
    for param in command.params:
        for opt in param.opts if param.param_type_name == "option" else ():
            assert opt in result.output, opt


def test_new_commands_and_options_are_listed() -> None:
    assert {("batch",), ("validate",), ("run",)} <= {p for p, _ in COMMANDS}
    for path in (("run",), ("validate",)):
        text = runner.invoke(app, [*path, "--help"], terminal_width=80).output
        assert "--prior ENDPOINT=NAME" in text and "--endpoint" in text
    text = runner.invoke(app, ["batch", "--help"], terminal_width=80).output
    for opt in ("--out", "--seed", "--workers", "--endpoint", "--keep-going"):
        assert opt in text
