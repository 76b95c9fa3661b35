"""Provenance and serialisation shared by the run and the stored studies.

``git_commit`` identifies the code behind a result; ``jsonable`` turns results (NumPy scalars and
arrays, dataclasses, tuples) into strict JSON types, with non-finite floats as null.
"""

from __future__ import annotations

import dataclasses
import math
import subprocess
from collections.abc import Mapping
from typing import Any

import numpy as np

from trial_reanalysis.analysis.paths import PACKAGE_ROOT as REPO_ROOT


def _git(*args: str) -> str:
    """Output of a git command run in the repository (raises if git is missing or fails)."""
    return subprocess.run(
        ["git", *args], cwd=REPO_ROOT, capture_output=True, text=True, check=True, timeout=10
    ).stdout.strip()


def git_commit(*, mark_dirty: bool = False) -> str | None:
    """``git rev-parse HEAD`` of the repository (``+dirty`` appended when ``mark_dirty`` and
    tracked files changed), or None outside a git checkout."""
    try:
        sha = _git("rev-parse", "HEAD")
        dirty = mark_dirty and _git("status", "--porcelain", "--untracked-files=no")
    except (OSError, subprocess.SubprocessError):
        return None
    return (sha + ("+dirty" if dirty else "")) or None


def jsonable(value: Any, *, significant: int | None = None) -> Any:
    """Plain JSON types; floats rounded to ``significant`` digits when given; NaN and
    infinities become None (strict JSON)."""
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        value = dataclasses.asdict(value)
    if isinstance(value, Mapping):
        return {str(k): jsonable(v, significant=significant) for k, v in value.items()}
    if isinstance(value, list | tuple | np.ndarray):
        return [jsonable(v, significant=significant) for v in value]
    if isinstance(value, bool | np.bool_):
        return bool(value)
    if isinstance(value, np.integer):
        return int(value)
    if isinstance(value, float | np.floating):
        value = float(value)
        if not math.isfinite(value):
            return None
        return float(f"{value:.{significant}g}") if significant else value
    return value
