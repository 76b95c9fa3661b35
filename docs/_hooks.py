"""MkDocs hook: lets mkdocstrings find ``trial_reanalysis.analysis`` and ``.models`` in a checkout.

In a source checkout the sub-packages are the repository's top-level ``analysis/`` and
``models/`` folders, joined to ``trial_reanalysis`` at import time (its ``__path__``); griffe
reads packages from disk and would not see them. This builds the installed layout in a temporary
folder (symbolic links to the real folders) and points the Python handler there.
"""

from __future__ import annotations

import atexit
import shutil
import tempfile
from pathlib import Path
from typing import Any

from mkdocs.plugins import event_priority

ROOT = Path(__file__).resolve().parents[1]


@event_priority(100)  # before mkdocstrings reads its handlers' configuration
def on_config(config: Any) -> Any:
    """Build the installed layout and put it first on the Python handler's search paths."""
    mirror = Path(tempfile.mkdtemp(prefix="trial-reanalysis-docs-"))
    atexit.register(shutil.rmtree, mirror, ignore_errors=True)
    package = mirror / "trial_reanalysis"
    package.mkdir()
    for path in (ROOT / "trial_reanalysis").iterdir():
        if path.suffix == ".py":
            (package / path.name).symlink_to(path)
    for name in ("analysis", "models", "data"):
        (package / name).symlink_to(ROOT / name, target_is_directory=True)
    handler = config["plugins"]["mkdocstrings"].config["handlers"].setdefault("python", {})
    handler["paths"] = [str(mirror), *handler.get("paths", [])]
    return config
