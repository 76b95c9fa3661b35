"""Offline study: the simulation calibration of the Dirichlet (order-statistic) likelihood of a
KM median and its CI, for the seed's scenarios (n = 40, 44, 48; every CI transform; censoring 0 %,
0-20 %, 20-40 %), written to ``data/calibration/pfs_dirichlet.json`` with provenance.

The method and the computation of one entry live in :mod:`analysis.inference.calibration` (the
loader the analyses read); this module only runs it for the stored scenarios and writes the file.
Reproduce with ``python -m trial_reanalysis.analysis.studies.pfs_calibration``.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import time as _time
from pathlib import Path
from typing import Any

import numpy as np

from trial_reanalysis.analysis.frequentist.survival import TRANSFORMS
from trial_reanalysis.analysis.inference import calibration as cal
from trial_reanalysis.analysis.inference.calibration import (
    CALIBRATION_FILE,
    CALIBRATION_SEED,
    DEFAULT_CENSORING,
    DEFAULT_NS,
    SHAPES,
    TRIALS_PER_SHAPE,
    calibrate,
)
from trial_reanalysis.analysis.provenance import git_commit


def run_calibration(
    ns: tuple[int, ...] = DEFAULT_NS,
    censorings: tuple[tuple[float, float], ...] = DEFAULT_CENSORING,
    *,
    seed: int = CALIBRATION_SEED,
    trials_per_shape: int = TRIALS_PER_SHAPE,
    out: Path = CALIBRATION_FILE,
) -> dict[str, Any]:
    """Calibrate every (n, transform, censoring) and write the JSON file with provenance."""
    start = _time.perf_counter()
    entries = {}
    for n in ns:
        for tr in TRANSFORMS:
            for c in censorings:
                entries[cal._key(n, tr, c)] = calibrate(
                    n, tr, c, seed=seed, trials_per_shape=trials_per_shape
                )
    doc = {
        "description": "Dirichlet calibration of (L, M, U) CDF levels of the KM median and its "
        "Brookmeyer-Crowley 95% CI; alpha = alpha0 * mean_spacings "
        "(analysis/inference/calibration.py)",
        "provenance": {
            "date": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
            "git_hash": git_commit(),
            "command": "python -m trial_reanalysis.analysis.studies.pfs_calibration",
            "seed": seed,
            "settings": {
                "shapes": list(SHAPES),
                "trials_per_shape": trials_per_shape,
                "censoring_mechanism": "independent exponential censoring times; per-trial "
                "fraction ~ Uniform(range)",
                "km": "R survfit Greenwood variance and conf.type; quantile.survfit midpoint rule",
                "alpha0_fit": "maximum likelihood of Dirichlet(alpha0 * mean spacings); trials "
                "with "
                "undefined upper limit excluded",
            },
            "seconds": round(_time.perf_counter() - start, 1),
        },
        "entries": entries,
    }
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(doc, indent=1) + "\n")
    cal._stored.cache_clear()
    return doc


def main(argv: list[str] | None = None) -> None:
    """Command line: ``python -m trial_reanalysis.analysis.studies.pfs_calibration [--trials N]
    [--seed S]``."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--trials", type=int, default=TRIALS_PER_SHAPE)
    parser.add_argument("--seed", type=int, default=CALIBRATION_SEED)
    args = parser.parse_args(argv)
    doc = run_calibration(seed=args.seed, trials_per_shape=args.trials)
    for key, e in doc["entries"].items():
        print(f"{key:28s} alpha0={e['alpha0']:6.1f} levels={np.round(e['mean_levels'], 3)}")


if __name__ == "__main__":
    main()
