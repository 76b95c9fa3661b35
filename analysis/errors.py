"""Exceptions of the package: one per kind of failure a user can act on."""

from __future__ import annotations

from pathlib import Path


class ReanalysisError(Exception):
    """Base class; the command line turns any of these into a message and a non-zero exit."""

    exit_code: int = 1


class InputError(ReanalysisError):
    """Bad input (a trial file, a CSV, a command-line value): exit code 2, nothing is written."""

    exit_code = 2

    def __init__(self, source: str | Path, field: str, problem: str) -> None:
        self.source = str(source)
        self.field = field
        self.problem = problem
        super().__init__(f"{self.source}: field '{field}': {problem}")

    def __reduce__(self) -> tuple:
        """Pickle with the constructor's arguments (errors cross from worker processes)."""
        return (type(self), (self.source, self.field, self.problem))


class DiagnosticsError(ReanalysisError):
    """An MCMC fit failed its gates even after the retry (exit code 3)."""

    exit_code = 3


class QuadratureError(DiagnosticsError):
    """An exact posterior's quadrature could not be made to hold the posterior (edge mass) or to
    converge (refinement): like a fit failing its gates, exit code 3."""
