"""Keep ArviZ's numba functions in numba's file cache, so that a new process does not compile them.

ArviZ 0.23 compiles numba code in every process that imports it or computes a diagnostic: the
ECDF band's ``_binom_pmf`` (a ``numba.vectorize`` with an explicit signature, compiled while
``import arviz`` runs: 0.3-1.0 s), the variance behind ESS and R-hat (``stats_variance_1d``,
compiled lazily on first use: 0.1-0.4 s) and the ``_sqrt`` ufunc. None of them asks numba to cache
its machine code, so every run and every worker process paid for them again. Installed by
:mod:`trial_reanalysis` before ArviZ is imported, :func:`install` asks numba to cache these (and
only ArviZ's) functions: the same source compiled by the same numba, so the same machine code and
the same numbers; numba keys its cache by source file, signature and CPU and stores it in
ArviZ's ``__pycache__`` (or, where that cannot be written, numba's user-wide cache folder; both
follow ``NUMBA_CACHE_DIR``). ``NUMBA_DISABLE_JIT`` and ``az.Numba.disable_numba()`` are untouched.
"""

from __future__ import annotations

import importlib.abc
import importlib.machinery
import sys
from collections.abc import Sequence
from types import ModuleType
from typing import Any


class _ArvizFinder(importlib.abc.MetaPathFinder):
    """Finds ``arviz`` as Python would, and wraps its loader's ``exec_module`` once."""

    def find_spec(
        self, fullname: str, path: Sequence[str] | None, target: ModuleType | None = None
    ) -> importlib.machinery.ModuleSpec | None:
        if fullname != "arviz":
            return None
        sys.meta_path.remove(self)  # one import only; later imports find it in sys.modules
        spec = importlib.machinery.PathFinder.find_spec(fullname, path)
        if spec is None or spec.loader is None or not hasattr(spec.loader, "exec_module"):
            return spec
        spec.loader.exec_module = _cached_exec(spec.loader.exec_module)  # type: ignore[method-assign]
        return spec


def _cached_exec(exec_module: Any) -> Any:
    def exec_with_cache(module: ModuleType) -> None:
        try:
            import numba
        except ImportError:  # ArviZ runs without numba; nothing to cache
            exec_module(module)
            return
        originals = numba.vectorize, numba.jit
        # seen by ``from numba import jit, vectorize`` in ArviZ's modules as they are imported
        numba.vectorize, numba.jit = (_caching(d) for d in originals)
        try:
            exec_module(module)
        finally:
            numba.vectorize, numba.jit = originals
        _cache_lazy_jits()

    return exec_with_cache


def _caching(decorator: Any) -> Any:
    """``numba.vectorize`` or ``numba.jit`` with ``cache=True`` for functions of ArviZ's own
    modules (another module imported meanwhile keeps numba's default)."""

    def decorate(first: Any = None, **kwargs: Any) -> Any:
        if callable(first):  # used bare: ``@vectorize`` / ``@jit``
            return decorate(**kwargs)(first)

        def wrap(function: Any) -> Any:
            module = getattr(function, "__module__", None) or ""
            ours = module == "arviz" or module.startswith("arviz.")
            options = {"cache": True, **kwargs} if ours else kwargs
            args = () if first is None else (first,)
            return decorator(*args, **options)(function)

        return wrap

    return decorate


def _cache_lazy_jits() -> None:
    """ArviZ's ``conditional_jit`` functions compile on first call with keywords kept on the
    wrapper: add ``cache=True`` before that call (the others already ask for it). An ArviZ
    without these internals is left as it is: a speed-up must never break the import."""
    try:
        from arviz.stats import stats_utils
        from arviz.utils import maybe_numba_fn
    except ImportError:
        return

    for obj in vars(stats_utils).values():
        if isinstance(obj, maybe_numba_fn) and "numba_fn" not in vars(obj):
            obj.kwargs.setdefault("cache", True)


def install() -> None:
    """Put the finder first on ``sys.meta_path`` unless ArviZ is imported already."""
    if "arviz" not in sys.modules and not any(isinstance(f, _ArvizFinder) for f in sys.meta_path):
        sys.meta_path.insert(0, _ArvizFinder())
