"""Shared fixtures. Importing `analysis` first sets the pytensor BLAS flag before pymc loads."""

import sys

import pytest

import trial_reanalysis  # noqa: F401  (sets PYTENSOR_FLAGS before any test imports pymc)


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
