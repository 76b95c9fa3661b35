"""An endpoint analysis that fails its gates at once: lets tests check how a run handles an error
raised in a worker process (imported by name there, so it must live in an importable module)."""

from trial_reanalysis.analysis.errors import DiagnosticsError


def analyse(loaded, key: str, *, seed: int, allow_failed: bool):
    raise DiagnosticsError("model 'failing', fit 'test': R-hat 1.5 > 1.01 (test endpoint)")
