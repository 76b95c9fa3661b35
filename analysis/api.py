"""The notebook API: load a trial, analyse all or some of its endpoints in this process, look at
posteriors, tables and figures, and write the report when asked.

    import trial_reanalysis as tr

    trial = tr.load_trial()                      # the seed trial, or a path to a trial file
    r = tr.analyse(trial, endpoints=["burden_reduction"])
    r.summary("burden_reduction")                # the comparison table (pandas DataFrame)
    r.posterior("burden_reduction")              # the primary fit (ArviZ InferenceData)
    r.results["rates"]["burden_reduction"]       # the numbers results.json holds
    r.write_report("my_results")                 # results.json, report.html/.md, tables...

Everything runs in the calling process, so it works in a notebook and in a plain script without
an ``if __name__ == "__main__":`` guard (the command line runs endpoints in parallel processes;
the numbers are the same, since every fit's seed derives from the run seed and its label).
"""

from __future__ import annotations

from collections.abc import Iterable
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

__all__ = ["Reanalysis", "analyse", "load_trial"]


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
) -> Reanalysis:
    """Analyse a trial's endpoints in this process and return them in memory.

    Args:
        trial: a loaded trial, a path to a trial file, or None for the seed trial.
        endpoints: names of the endpoints to analyse (the keys the file declares); all if None.
        seed: the run seed (same seed, same numbers as ``reanalysis run --seed``).
        allow_failed_diagnostics: let fits that fail their gates through (flagged).

    Raises:
        InputError: an invalid trial file or an endpoint it does not declare.
        DiagnosticsError: a fit failed its gates (unless allowed).
    """
    loaded = trial if isinstance(trial, LoadedTrial) else load_trial(trial)
    wanted = tuple(endpoints) if endpoints is not None else None
    names = selected_endpoints(loaded, wanted)
    done = {
        name: analyse_endpoint(kind, key, loaded, seed, allow_failed_diagnostics, out=None)
        for name, (kind, key) in names.items()
    }
    return Reanalysis(loaded, seed, done, allow_failed_diagnostics)
