"""Shared fixtures. Importing `analysis` first sets the pytensor BLAS flag before pymc loads."""

import pytest

import trial_reanalysis  # noqa: F401  (sets PYTENSOR_FLAGS before any test imports pymc)


@pytest.fixture(scope="session")
def compiled_summary():
    """The PFS summary model, compiled once per test session and shared by every PFS test."""
    from trial_reanalysis.analysis.endpoints.time_to_event import compiled_summary_model

    return compiled_summary_model()
