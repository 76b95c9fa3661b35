"""Reconstruction, frequentist side, fitting, diagnostics, comparison, planning and report.

The one public entry point of a whole reanalysis is :func:`analysis.run.run_analysis`; the command
line (:mod:`analysis.cli`) is a thin layer over it.
"""

import ctypes.util
import os

# pytensor links BLAS only when told to; without a flag and without BLAS it warns on import.
# Link the system BLAS when there is one, otherwise say "none" so pytensor uses its NumPy
# fallback quietly (our samplers run through nutpie's numba backend). A user's own flag wins.
if "PYTENSOR_FLAGS" not in os.environ:
    _blas = ctypes.util.find_library("blas") and ctypes.util.find_library("lapack")
    os.environ["PYTENSOR_FLAGS"] = "blas__ldflags=" + ("-lblas -llapack" if _blas else "")
