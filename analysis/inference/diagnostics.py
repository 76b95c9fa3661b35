"""Diagnostic gates of every MCMC fit (DESIGN.md section 6) and the one retry a failing fit gets.

Per parameter: rank-normalised R-hat, bulk and tail ESS, MCSE of the mean and sd (ArviZ).
Per fit: number of divergent transitions and the smallest per-chain E-BFMI.
Gates: R-hat <= 1.01, bulk and tail ESS >= 400, no divergences, E-BFMI >= 0.3.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from trial_reanalysis.analysis.errors import DiagnosticsError
from trial_reanalysis.analysis.inference.progress import fit_done

if TYPE_CHECKING:  # the sampler stack is imported where fits run, not where results are read
    import arviz as az
    import xarray as xr

    from trial_reanalysis.analysis.inference.fitting import CompiledModel, SamplerSettings


@dataclass(frozen=True)
class Gates:
    """Thresholds a fit must meet before any of its numbers reach a report."""

    r_hat_max: float = 1.01
    ess_min: float = 400.0
    divergences_max: int = 0
    ebfmi_min: float = 0.3


GATES = Gates()

REMEDIES = {
    "r_hat": "chains disagree: run longer (more draws and tuning) or reparametrise the model",
    "ess_bulk": "too few effective draws in the bulk: increase draws",
    "ess_tail": "too few effective draws in the tails: increase draws",
    "divergences": "the sampler hit regions of high curvature: raise target acceptance or "
    "reparametrise",
    "ebfmi": "poor energy exploration (heavy tails?): reparametrise or use more informative priors",
}


@dataclass
class FitDiagnostics:
    """Diagnostics of one fit: a per-parameter table, per-fit numbers, and gate failures."""

    model: str
    label: str
    table: pd.DataFrame
    divergences: int
    ebfmi_min: float
    failures: list[str] = field(default_factory=list)
    retried: bool = False

    @property
    def passed(self) -> bool:
        """True when every gate is met."""
        return not self.failures

    def summary(self) -> dict[str, Any]:
        """The per-fit numbers results.json carries (worst value over parameters)."""
        return {
            "r_hat_max": float(self.table["r_hat"].max()),
            "ess_bulk_min": float(self.table["ess_bulk"].min()),
            "ess_tail_min": float(self.table["ess_tail"].min()),
            "divergences": int(self.divergences),
            "ebfmi_min": float(self.ebfmi_min),
            "passed": self.passed,
            "retried": self.retried,
            "failures": list(self.failures),
        }


#: Columns of :func:`diagnostics_table`, in ArviZ's order of ``_multichain_statistics``.
_STATISTICS = ("mcse_mean", "mcse_sd", "ess_bulk", "ess_tail", "r_hat")


def diagnostics_table(posterior: xr.Dataset) -> pd.DataFrame:
    """Per parameter (each coordinate of a vector one row, labelled as ArviZ labels them):
    ``r_hat, ess_bulk, ess_tail, mcse_mean, mcse_sd``, index named ``parameter``.

    The numbers of ``az.summary(kind="diagnostics", round_to="none")`` to the last digit: the
    same ArviZ routine (``_multichain_statistics``, one pass per parameter sharing the ranks and
    split chains between R-hat, bulk and tail ESS and the MCSEs; ArviZ is pinned to 0.23) on the
    same ``(chain, draw)`` slices, without ``summary``'s xarray assembly, which took about 40 %
    of the time of the 60 gated fits of a default run (tests/test_diagnostics.py checks the
    equality).
    """
    from arviz.labels import BaseLabeller
    from arviz.sel_utils import xarray_sel_iter
    from arviz.stats.diagnostics import _multichain_statistics

    labeller = BaseLabeller()
    arrays = {}
    rows, labels = [], []
    for name, sel, isel in xarray_sel_iter(posterior, combined=False, skip_dims={"chain", "draw"}):
        if name not in arrays:  # chain and draw last, as xarray.apply_ufunc hands them over
            other = [d for d in posterior[name].dims if d not in ("chain", "draw")]
            arrays[name] = (other, posterior[name].transpose(*other, "chain", "draw").values)
        other, values = arrays[name]
        stats = _multichain_statistics(values[tuple(isel[d] for d in other)])
        rows.append([float(v) for v in stats])
        labels.append(labeller.make_label_flat(name, sel, isel))
    table = pd.DataFrame(rows, columns=list(_STATISTICS), index=labels, dtype=float)
    return table.rename_axis("parameter")[["r_hat", "ess_bulk", "ess_tail", "mcse_mean", "mcse_sd"]]


def check_diagnostics(
    idata: az.InferenceData, *, model: str, label: str, gates: Gates | None = None
) -> FitDiagnostics:
    """Compute the diagnostics of a fit and list which gates it fails (with the remedy).

    ``gates`` defaults to the module's :data:`GATES`, read at call time.
    """
    from arviz import bfmi

    gates = gates or GATES
    table = diagnostics_table(idata.posterior)
    diverging = idata.sample_stats["diverging"].values
    divergences = int(np.sum(diverging))
    ebfmi = float(np.min(bfmi(idata)))
    failures = []
    for name, row in table.iterrows():
        if not row["r_hat"] <= gates.r_hat_max:
            failures.append(
                f"{name}: R-hat {row['r_hat']:.3f} > {gates.r_hat_max} ({REMEDIES['r_hat']})"
            )
        for kind in ("ess_bulk", "ess_tail"):
            if not row[kind] >= gates.ess_min:
                failures.append(
                    f"{name}: {kind.replace('_', ' ')} ESS {row[kind]:.0f} < {gates.ess_min:.0f}"
                    f" ({REMEDIES[kind]})"
                )
    if divergences > gates.divergences_max:
        failures.append(f"{divergences} divergent transitions ({REMEDIES['divergences']})")
    if not ebfmi >= gates.ebfmi_min:
        failures.append(f"E-BFMI {ebfmi:.2f} < {gates.ebfmi_min} ({REMEDIES['ebfmi']})")
    return FitDiagnostics(model, label, table, divergences, ebfmi, failures)


def fit_with_gates(
    compiled: CompiledModel,
    data: Mapping[str, Any] | None,
    *,
    seed: int,
    label: str,
    settings: SamplerSettings | None = None,
    allow_failed: bool = False,
    gates: Gates | None = None,
) -> tuple[az.InferenceData, FitDiagnostics]:
    """Fit, check the gates, retry once with stricter settings, and raise if it still fails.
    Each fit tells :func:`.progress.fit_done` when it is done (the command line's progress).

    Raises:
        DiagnosticsError: the retry failed too and ``allow_failed`` is False; the message names the
            model, the fit, each failing parameter and its remedy.
    """
    from trial_reanalysis.analysis.inference.fitting import SamplerSettings

    settings = settings or SamplerSettings()
    idata = compiled.fit(data, seed=seed, settings=settings)
    diagnostics = check_diagnostics(idata, model=compiled.name, label=label, gates=gates)
    if diagnostics.passed:
        fit_done(label)
        return idata, diagnostics
    idata = compiled.fit(data, seed=seed + 1, settings=settings.stricter())
    diagnostics = check_diagnostics(idata, model=compiled.name, label=label, gates=gates)
    diagnostics.retried = True
    fit_done(label)
    if diagnostics.passed or allow_failed:
        return idata, diagnostics
    details = "; ".join(diagnostics.failures)
    raise DiagnosticsError(
        f"model '{compiled.name}', fit '{label}' failed its diagnostic gates after a retry with "
        f"more tuning and target acceptance 0.95: {details}. Rerun with "
        "--allow-failed-diagnostics to write a report that marks this fit in red."
    )
