"""Shared fixtures. Importing `analysis` first sets the pytensor BLAS flag before pymc loads."""

import sys
from pathlib import Path

import pytest

import trial_reanalysis  # noqa: F401  (sets PYTENSOR_FLAGS before any test imports pymc)

#: Modules whose tests run whole reanalyses or whole endpoint analyses, spawn processes, compile
#: models afresh, or build the wheel or the docs: the "integration" tier. `make test-fast` leaves
#: them out (the unit tier, for the edit-test loop); `make test` and CI run everything but the
#: `slow` validations. A single such test in another module carries the mark itself.
INTEGRATION_MODULES = frozenset(
    {
        "test_api.py",
        "test_arviz_numba_cache.py",
        "test_cli_batch.py",
        "test_cli_priors.py",
        "test_comparison.py",
        "test_corpus_end_to_end.py",
        "test_docs.py",
        "test_fitting_batch.py",
        "test_fitting_cache.py",
        "test_fuzz_trials.py",
        "test_handed_cases.py",
        "test_light_imports.py",
        "test_model_cacheable.py",
        "test_outdir.py",
        "test_rate_endpoint.py",
        "test_report_browser.py",
        "test_report_escaping.py",
        "test_run.py",
        "test_time_to_event_analysis.py",
        "test_wheel.py",
    }
)


def pytest_configure(config: pytest.Config) -> None:
    """A name in :data:`INTEGRATION_MODULES` that is no test module is a typo: stop."""
    here = Path(__file__).parent
    missing = sorted(n for n in INTEGRATION_MODULES if not (here / n).is_file())
    if missing:
        raise pytest.UsageError(f"INTEGRATION_MODULES names no such module: {missing}")


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Mark every test of :data:`INTEGRATION_MODULES` ``integration``."""
    for item in items:
        if item.path.name in INTEGRATION_MODULES:
            item.add_marker(pytest.mark.integration)


@pytest.fixture(scope="session")
def compiled_summary():
    """The PFS summary model, compiled once per test session and shared by every PFS test."""
    from trial_reanalysis.analysis.endpoints.time_to_event import compiled_summary_model

    return compiled_summary_model()


@pytest.fixture(autouse=True)
def _close_figures():
    """Close every pyplot figure after each test: figures left open by one test (an in-memory
    reanalysis keeps its figures) would otherwise add up to matplotlib's 20-figure warning, which
    the suite turns into an error in whichever test comes next."""
    yield
    pyplot = sys.modules.get("matplotlib.pyplot")
    if pyplot is not None:
        pyplot.close("all")
