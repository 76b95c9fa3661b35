"""The notebook API: load a trial, analyse all or some of its endpoints in this process, look at
posteriors, tables and figures, and write the report when asked.

    import trial_reanalysis as tr

    trial = tr.load_trial()                      # the seed trial, or a path to a trial file
    r = tr.analyse(trial, endpoints=["burden_reduction"])
    r.summary("burden_reduction")                # the comparison table (pandas DataFrame)
    r.posterior("burden_reduction")              # the primary fit (ArviZ InferenceData)
    r.results["rates"]["burden_reduction"]       # the numbers results.json holds
    r.write_report("my_results")                 # results.json, report.html/.md, tables...
    tr.list_priors(trial)                        # every prior of every endpoint, as data

Everything runs in the calling process, so it works in a notebook and in a plain script without
an ``if __name__ == "__main__":`` guard (the command line runs endpoints in parallel processes;
the numbers are the same, since every fit's seed derives from the run seed and its label).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from trial_reanalysis.analysis.constants import DEFAULT_SEED
from trial_reanalysis.analysis.run import (
    RESULT_GROUPS,
    RunConfig,
    RunOutput,
    analyse_endpoint,
    selected_endpoints,
    write_run,
)
from trial_reanalysis.analysis.trials.load import LoadedTrial, load_trial

if TYPE_CHECKING:  # pragma: no cover
    import arviz as az
    import pandas as pd
    from matplotlib.figure import Figure

    from trial_reanalysis.analysis.endpoints.base import EndpointResult

__all__ = ["Reanalysis", "analyse", "list_priors", "load_trial"]

#: How each kind's prior ESS is counted (patients), as :func:`list_priors` reports it; the same
#: conventions as the follow-up priors (``analysis/planning/followup.py`` module docstring).
ESS_METHODS = {
    "rate": "a + b (Beta)",
    "time_to_event": "information-based: sqrt(det(I1^-1) / det(Cov)), I1 the Fisher information "
    "of one uncensored Weibull observation in (log median, log shape) at the prior's centre shape",
    "comparison": "4 / (p (1 - p) sigma^2) for a 1:1 comparison, at an event rate p = 0.5 "
    "(a lower bound over p)",
}


@dataclass
class Reanalysis:
    """The endpoints of one trial analysed in memory.

    Attributes:
        trial: the loaded trial.
        seed: the run seed every fit's seed derives from.
        endpoints: endpoint name -> its result (posteriors kept in memory).
        allow_failed_diagnostics: whether fits failing their gates were let through.
    """

    trial: LoadedTrial
    seed: int
    endpoints: dict[str, EndpointResult]
    allow_failed_diagnostics: bool = False
    _written: list[Path] = field(default_factory=list, repr=False)

    def _endpoint(self, name: str) -> EndpointResult:
        if name not in self.endpoints:
            raise KeyError(f"no endpoint {name!r}; analysed: {list(self.endpoints)}")
        return self.endpoints[name]

    @property
    def results(self) -> dict[str, Any]:
        """Each endpoint's numbers as results.json holds them, grouped by kind and key."""
        out: dict[str, Any] = {}
        for name, e in self.endpoints.items():
            out.setdefault(RESULT_GROUPS.get(e.kind, e.kind), {})[name.split(".")[-1]] = e.results
        return out

    def summary(self, name: str) -> pd.DataFrame:
        """The comparison table of an endpoint: reported, frequentist and Bayesian rows."""
        return self._endpoint(name).comparison

    def sensitivity(self, name: str) -> pd.DataFrame:
        """The sensitivity table of an endpoint (every assumption and prior)."""
        return self._endpoint(name).sensitivity

    def posterior(self, name: str, label: str | None = None) -> az.InferenceData:
        """An endpoint's fit (the primary one unless ``label`` names another) as InferenceData."""
        e = self._endpoint(name)
        key = label or e.primary_posterior
        if key not in e.posteriors:
            raise KeyError(f"no fit {key!r} of {name!r}; fits: {sorted(e.posteriors)}")
        return e.posteriors[key]

    def figures(self, name: str) -> dict[str, Figure]:
        """An endpoint's figures (matplotlib), by file stem."""
        return self._endpoint(name).figures

    def sentences(self, name: str) -> list[str]:
        """An endpoint's plain-language findings, generated from its numbers."""
        return list(self._endpoint(name).sentences)

    def write_report(self, out_dir: str | Path) -> RunOutput:
        """Write everything a run writes (results.json, report.md/.html, tables, posteriors,
        figures) into ``out_dir``, with the same folder checks and atomic move as ``run``."""
        config = RunConfig(
            trial_path=Path(self.trial.path),
            out_dir=Path(out_dir),
            seed=self.seed,
            allow_failed_diagnostics=self.allow_failed_diagnostics,
            workers=1,
        )
        return write_run(config, self.trial, list(self.endpoints.values()))


def analyse(
    trial: LoadedTrial | str | Path | None = None,
    *,
    endpoints: Iterable[str] | None = None,
    seed: int = DEFAULT_SEED,
    allow_failed_diagnostics: bool = False,
    priors: Mapping[str, str] | None = None,
) -> Reanalysis:
    """Analyse a trial's endpoints in this process and return them in memory.

    Args:
        trial: a loaded trial, a path to a trial file, or None for the seed trial.
        endpoints: names of the endpoints to analyse (the keys the file declares); all if None.
        seed: the run seed (same seed, same numbers as ``reanalysis run --seed``).
        allow_failed_diagnostics: let fits that fail their gates through (flagged).
        priors: endpoint -> name of the prior to make primary (``reanalysis run --prior
            ENDPOINT=NAME``), among those :func:`list_priors` lists for that endpoint.

    Raises:
        InputError: an invalid trial file, an endpoint it does not declare, or a ``priors``
            entry naming an endpoint without priors (or not analysed) or an unknown prior.
        DiagnosticsError: a fit failed its gates (unless allowed).
    """
    loaded = trial if isinstance(trial, LoadedTrial) else load_trial(trial)
    wanted = tuple(endpoints) if endpoints is not None else None
    names = selected_endpoints(loaded, wanted)
    if priors:
        from trial_reanalysis.analysis.endpoints.priors import choose_priors

        loaded = choose_priors(loaded, priors, wanted, option="priors")
    done = {
        name: analyse_endpoint(kind, key, loaded, seed, allow_failed_diagnostics, out=None)
        for name, (kind, key) in names.items()
    }
    return Reanalysis(loaded, seed, done, allow_failed_diagnostics)


def _prior_entry(scenario: Any, ess: float, method: str, source: str) -> dict[str, Any]:
    return {
        "name": scenario.name,
        "family": scenario.family,
        "parameters": {k: float(v) for k, v in scenario.parameters.items()},
        "rationale": scenario.rationale,
        "ess": float(ess),
        "ess_method": method,
        "primary": bool(scenario.primary),
        "source": source,
    }


def _lognormal_ess(parameters: dict[str, Any]) -> float:
    """ESS (patients followed to the event) of independent normal priors on (log median, log
    shape): sqrt(det(I1^-1) / det(Cov)), I1 at the prior's centre shape (followup.py's rule)."""
    import numpy as np

    from trial_reanalysis.analysis.planning.followup import weibull_unit_information

    info1 = weibull_unit_information(float(np.exp(parameters["log_shape_mu"])))
    cov = np.diag([parameters["log_median_sd"] ** 2, parameters["log_shape_sd"] ** 2])
    return float(np.sqrt(np.linalg.det(np.linalg.inv(info1)) / np.linalg.det(cov)))


def _ess(kind: str, s: Any) -> float:
    """A prior's ESS in patients, counted as :data:`ESS_METHODS` says for its kind."""
    if kind == "rate":
        return s.parameters["alpha"] + s.parameters["beta"]
    if kind == "time_to_event":
        return _lognormal_ess(s.parameters)
    return 16.0 / s.parameters["log_or_sigma"] ** 2


def _source(kind: str, s: Any, loaded: LoadedTrial, key: str) -> str:
    """Where a prior comes from: "trial file" or "package"."""
    if kind == "comparison":
        return "trial file" if loaded.trial.comparisons[key].priors else "package"
    return "trial file" if {"trial file", "declared"} & set(s.tags) else "package"


def list_priors(trial: LoadedTrial | str | Path | None = None) -> list[dict[str, Any]]:
    """Every prior every endpoint of a trial is analysed under, as plain data (``reanalysis
    priors``): the package's defaults and the trial file's own, exactly one primary per endpoint.

    The priors come from the registries the analyses use
    (:func:`~trial_reanalysis.analysis.endpoints.priors.endpoint_priors_of`), so the list is what
    a run fits; a trial analysed with chosen primaries (``analyse(priors=...)``) lists them.

    Args:
        trial: a loaded trial, a path to a trial file, or None for the seed trial.

    Returns:
        One dict per endpoint, in report order: ``endpoint`` (the name ``--endpoint`` takes; a
        comparison's key), ``kind``, ``label``, ``unit`` (time-to-event only, else None),
        ``results_path`` (where results.json holds its priors) and ``priors``: a list of
        ``{name, family, parameters, rationale, ess, ess_method, primary, source}`` with ``ess``
        in patients (:data:`ESS_METHODS`) and ``source`` "package" or "trial file".

    Raises:
        InputError: an invalid trial file.
    """
    from trial_reanalysis.analysis.endpoints.priors import endpoint_priors_of

    loaded = trial if isinstance(trial, LoadedTrial) else load_trial(trial)
    out: list[dict[str, Any]] = []
    for e in endpoint_priors_of(loaded):
        priors = [
            _prior_entry(s, _ess(e.kind, s), ESS_METHODS[e.kind], _source(e.kind, s, loaded, e.key))
            for s in e.registry.values()
        ]
        out.append(_endpoint_entry(e.name, e.kind, e.label, e.unit, e.where, priors))
    return out


def _endpoint_entry(
    name: str, kind: str, label: str, unit: str | None, where: str, priors: list[dict[str, Any]]
) -> dict[str, Any]:
    return {
        "endpoint": name,
        "kind": kind,
        "label": label,
        "unit": unit,
        "results_path": f"{where}.priors",
        "priors": priors,
    }
