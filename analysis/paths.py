"""Where the package's own files are: the data (trial files, stored calibration and studies) and,
in a source checkout, the committed figures.

In a checkout this module sits in the repository's ``analysis/`` folder and the data in ``data/``
beside it; in an installed wheel both sit inside the ``trial_reanalysis`` package.
"""

from __future__ import annotations

from pathlib import Path

#: The repository root in a checkout; the installed ``trial_reanalysis`` package in a wheel.
PACKAGE_ROOT = Path(__file__).resolve().parents[1]
DATA_DIR = PACKAGE_ROOT / "data"
TRIALS_DIR = DATA_DIR / "trials"
#: The embedded default trial: the seed (sorafenib in mRCC, Cancer 2010).
DEFAULT_TRIAL = TRIALS_DIR / "sorafenib_mrcc_2010.toml"
#: The committed figures (a checkout only; absent in a wheel).
FIGURES_DIR = PACKAGE_ROOT / "figures"
