"""trial_reanalysis: Bayesian reanalysis of published single-arm phase 2 trials from their
published summaries.

    import trial_reanalysis as tr
    r = tr.analyse(tr.load_trial("my_trial.toml"))   # in this process; see analysis/api.py
    r.write_report("results")
    tr.list_priors("my_trial.toml")                  # every prior of every endpoint, as data

One import namespace: the models live in :mod:`trial_reanalysis.models`, the analyses in
:mod:`trial_reanalysis.analysis` (in a source checkout these are the repository's top-level
``models/`` and ``analysis/`` folders; an installed wheel holds them inside this package).
"""

from __future__ import annotations

import ctypes.util
import os
import tempfile
from pathlib import Path

from trial_reanalysis import _arviz_numba_cache

__version__ = "0.2.0"

# In a source checkout without an installation, models/ and analysis/ sit beside this folder.
_here = Path(__file__).resolve().parent
if not (_here / "analysis").is_dir() and (_here.parent / "analysis" / "__init__.py").is_file():
    __path__.append(str(_here.parent))

# pytensor links BLAS only when told to; without a flag and without BLAS it warns on import.
# Link the system BLAS when there is one, otherwise say "none" so pytensor uses its NumPy
# fallback quietly (our samplers run through nutpie's numba backend). A user's own flag wins.
if "PYTENSOR_FLAGS" not in os.environ:
    _blas = ctypes.util.find_library("blas") and ctypes.util.find_library("lapack")
    os.environ["PYTENSOR_FLAGS"] = "blas__ldflags=" + ("-lblas -llapack" if _blas else "")


def _writable(folder: Path) -> bool:
    """Whether files can be created in ``folder`` (tried: access() says yes to root anywhere)."""
    try:
        folder.mkdir(parents=True, exist_ok=True)
        with tempfile.TemporaryFile(dir=folder):
            return True
    except OSError:
        return False


# ArviZ (on import), pytensor and matplotlib write caches under the home folder. Where it cannot
# be written (a locked-down account, a read-only container), use a private folder under the
# system's temporary folder instead of failing with a traceback. Users' own settings win.
_home = Path(os.environ.get("HOME") or "~").expanduser()
_cache = Path(os.environ.get("XDG_CACHE_HOME") or _home / ".cache")
if not (_writable(_cache) and _writable(_home / ".pytensor")):
    _fallback = Path(tempfile.gettempdir()) / f"trial-reanalysis-{os.getuid()}"
    _fallback.mkdir(mode=0o700, exist_ok=True)
    os.environ.setdefault("XDG_CACHE_HOME", str(_fallback / "cache"))
    os.environ.setdefault("MPLCONFIGDIR", str(_fallback / "matplotlib"))
    if "base_compiledir" not in os.environ["PYTENSOR_FLAGS"]:
        os.environ["PYTENSOR_FLAGS"] += f",base_compiledir={_fallback / 'pytensor'}"

# ArviZ compiles numba functions in every process without caching them; cache them (same code,
# same numbers). Only arms an import hook: nothing is imported here.
_arviz_numba_cache.install()

#: The public surface (imported on first use, so that ``import trial_reanalysis`` stays light).
_PUBLIC = {
    "load_trial": "trial_reanalysis.analysis.api",
    "analyse": "trial_reanalysis.analysis.api",
    "Reanalysis": "trial_reanalysis.analysis.api",
    "list_priors": "trial_reanalysis.analysis.api",
    "run_analysis": "trial_reanalysis.analysis.run",
    "RunConfig": "trial_reanalysis.analysis.run",
}
__all__ = ["__version__", *_PUBLIC]


def __getattr__(name: str) -> object:
    """``trial_reanalysis.analyse`` and the rest of the public surface, imported when used."""
    if name in _PUBLIC:
        import importlib

        return getattr(importlib.import_module(_PUBLIC[name]), name)
    raise AttributeError(f"module 'trial_reanalysis' has no attribute {name!r}")
