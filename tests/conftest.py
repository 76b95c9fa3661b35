"""Shared fixtures. Importing `analysis` first sets the pytensor BLAS flag before pymc loads."""

import analysis  # noqa: F401  (sets PYTENSOR_FLAGS before any test imports pymc)
