"""ArviZ's numba functions are kept in numba's file cache (trial_reanalysis/_arviz_numba_cache.py):
cached where our package is imported first, untouched otherwise, the same numbers either way, and
loaded (not compiled) by a second process."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import numba
import pytest

from trial_reanalysis import _arviz_numba_cache

PROBE = """
import sys
if sys.argv[1] == "ours":
    import trial_reanalysis  # arms the hook before ArviZ is imported
import numpy as np
import arviz
from arviz.stats import ecdf_utils, stats_utils
print("binom_pmf", type(ecdf_utils._binom_pmf._dispatcher.cache).__name__)
print("sqrt", type(stats_utils._sqrt._dispatcher.cache).__name__)
print("band", type(ecdf_utils._ecdf_band_interior_probability_numba._cache).__name__)
print("variance", stats_utils.stats_variance_1d.kwargs.get("cache", False))
draws = np.random.default_rng(1).normal(size=(4, 500))
print("ess", repr(float(arviz.ess(draws))), repr(float(arviz.rhat(draws))))
"""


def _probe(which: str, cache_dir: Path, debug: bool = False) -> str:
    env = {**os.environ, "NUMBA_CACHE_DIR": str(cache_dir)}
    env.pop("NUMBA_DEBUG_CACHE", None)
    if debug:
        env["NUMBA_DEBUG_CACHE"] = "1"
    done = subprocess.run(
        [sys.executable, "-W", "ignore", "-c", PROBE, which],
        capture_output=True,
        text=True,
        env=env,
        timeout=300,
        check=True,
    )
    return done.stdout


def _lines(out: str) -> dict[str, str]:
    return {
        line.split(" ", 1)[0]: line.split(" ", 1)[1]
        for line in out.splitlines()
        if line.split(" ", 1)[0] in {"binom_pmf", "sqrt", "band", "variance", "ess"}
    }


def test_arviz_numba_functions_are_cached_with_the_same_numbers(tmp_path: Path) -> None:
    ours = _lines(_probe("ours", tmp_path / "a"))
    plain = _lines(_probe("plain", tmp_path / "b"))
    assert ours["binom_pmf"] == ours["sqrt"] == ours["band"] == "FunctionCache"
    assert ours["variance"] == "True"
    # ArviZ imported without our package: numba's default (no cache), as before
    assert plain["binom_pmf"] == plain["sqrt"] == plain["band"] == "NullCache"
    assert plain["variance"] == "False"
    assert ours["ess"] == plain["ess"]  # ESS and R-hat to the last bit


def test_a_second_process_loads_them_instead_of_compiling(tmp_path: Path) -> None:
    first = _probe("ours", tmp_path, debug=True)
    assert "data saved" in first and "_binom_pmf" in first and "stats_variance_1d" in first
    second = _probe("ours", tmp_path, debug=True)
    loaded = [line for line in second.splitlines() if "data loaded" in line]
    assert any("_binom_pmf" in line for line in loaded)
    assert any("stats_variance_1d" in line for line in loaded)
    assert "data saved" not in second


@pytest.mark.parametrize("module, cached", [(__name__, False), ("arviz.stats.x", True)])
def test_only_arviz_functions_get_the_cache(module: str, cached: bool) -> None:
    def f(x: float) -> float:
        return x + 1.0

    f.__module__ = module
    expected = "FunctionCache" if cached else "NullCache"
    vectorize = _arviz_numba_cache._caching(numba.vectorize)
    jit = _arviz_numba_cache._caching(numba.jit)
    assert type(vectorize()(f)._dispatcher.cache).__name__ == expected  # ``@vectorize()``
    assert type(vectorize(f)._dispatcher.cache).__name__ == expected  # bare ``@vectorize``
    assert type(jit(nopython=True)(f)._cache).__name__ == expected
    assert type(jit(f)._cache).__name__ == expected
    # a keyword the caller gave wins
    assert type(jit(cache=False)(f)._cache).__name__ == "NullCache"


def test_install_does_nothing_once_arviz_is_imported() -> None:
    import arviz  # noqa: F401

    before = list(sys.meta_path)
    _arviz_numba_cache.install()
    assert sys.meta_path == before


def test_an_arviz_without_the_lazy_jit_wrapper_is_left_alone(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    import arviz.utils

    monkeypatch.delattr(arviz.utils, "maybe_numba_fn")
    _arviz_numba_cache._cache_lazy_jits()  # no ImportError: the import of ArviZ goes on
