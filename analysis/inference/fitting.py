"""The one place that samples: compile a PyMC model once with nutpie, refit it with new data.

A model's data and prior hyperparameters are ``pm.Data`` containers. :class:`CompiledModel`
compiles the model once (numba, 4-6 s) and every :meth:`CompiledModel.fit` swaps those
containers with ``with_data`` — so a prior scenario, a reconstruction candidate or a sensitivity
assumption never rebuilds or recompiles the model. Across processes the compiled code is cached
on disk by the model's structure and the library versions (:mod:`.model_cache`; a cached model
loads in about 0.3 s and samples the same draws). Seeds are derived from the run seed and the fit's
label, so a fit's draws do not depend on which fits ran before it.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np

from trial_reanalysis.analysis.constants import CHAINS, DRAWS, TUNE
from trial_reanalysis.analysis.inference.model_cache import cache_folder, compile_model

if TYPE_CHECKING:  # the sampling stack is imported where a model is fitted (see below)
    import arviz as az
    import pymc as pm


@dataclass(frozen=True)
class SamplerSettings:
    """NUTS settings of one fit (nutpie); the retry after a failed gate raises tune and target."""

    draws: int = DRAWS
    tune: int = TUNE
    chains: int = CHAINS
    target_accept: float = 0.8

    def stricter(self) -> SamplerSettings:
        """Settings of the one retry a failed fit gets: triple tuning, target acceptance 0.95."""
        target = max(self.target_accept, 0.95)
        return SamplerSettings(self.draws, self.tune * 3, self.chains, target)


def derive_seed(seed: int, *labels: str) -> int:
    """A 32-bit seed determined by the run seed and the fit's labels (stable across runs)."""
    digest = hashlib.sha256("\x1f".join([str(seed), *labels]).encode()).digest()
    return int.from_bytes(digest[:4], "little")


class CompiledModel:
    """A PyMC model compiled once; :meth:`fit` swaps its ``pm.Data`` values and samples.

    Attributes:
        name: model name used in diagnostics and error messages (e.g. ``"burden_reduction"``).
        model: the PyMC model (kept for prior/posterior predictive work and graph inspection).
        data_names: names of the ``pm.Data`` containers that :meth:`fit` may replace.
        var_names: posterior variables reported (free variables and deterministics).
        cache: what the compiled-model cache did (:class:`.model_cache.CacheOutcome`).

    Args:
        model: the PyMC model (data and prior hyperparameters as ``pm.Data``).
        name: its name in diagnostics and error messages.
        cache: use the cross-process cache (:func:`.model_cache.cache_folder`, which the
            ``TRIAL_REANALYSIS_MODEL_CACHE`` variable can move or turn off); False compiles
            from scratch.
    """

    #: Count of models compiled in this process, cached or not (tests use it to prove
    #: "compile once": a refit never adds to it).
    compilations: int = 0

    def __init__(self, model: pm.Model, *, name: str, cache: bool = True) -> None:
        self.name = name
        self.model = model
        self.data_names = frozenset(model.data_vars and [v.name for v in model.data_vars])
        self.var_names = [v.name for v in (*model.free_RVs, *model.deterministics)]
        folder = cache_folder() if cache else None
        self._compiled, self.cache = compile_model(model, folder=folder)
        type(self).compilations += 1

    def fit(
        self,
        data: Mapping[str, Any] | None = None,
        *,
        seed: int,
        settings: SamplerSettings | None = None,
    ) -> az.InferenceData:
        """Sample the posterior given new values of the model's ``pm.Data`` containers.

        Args:
            data: container name -> new value; containers not named keep their current value.
            seed: the fit's seed (see :func:`derive_seed`); same seed, same draws.
            settings: NUTS settings; defaults to :class:`SamplerSettings`.

        Returns:
            InferenceData with ``posterior`` (constrained variables only), ``sample_stats`` and
            ``constant_data`` holding the data values actually used.
        """
        import arviz as az
        import nutpie
        import xarray as xr

        settings = settings or SamplerSettings()
        data = dict(data or {})
        unknown = set(data) - self.data_names
        if unknown:
            raise KeyError(f"model '{self.name}' has no data container(s) {sorted(unknown)}")
        values = {k: np.asarray(v, dtype=self._dtype(k)) for k, v in data.items()}
        compiled = self._compiled.with_data(**values) if values else self._compiled
        kwargs = dict(
            draws=settings.draws,
            tune=settings.tune,
            chains=settings.chains,
            seed=seed,
            target_accept=settings.target_accept,
            save_warmup=False,
            progress_bar=False,
        )
        raw = nutpie.sample(compiled, return_raw_trace=True, **kwargs)
        idata = trace_to_inference_data(raw, self.var_names, compiled.coords)
        if idata is None:  # an unusual trace (missing draws): nutpie's own conversion
            idata = nutpie.sample(compiled, **kwargs)
        posterior = idata.posterior[self.var_names]
        used = {v.name: np.asarray(v.get_value()) for v in self.model.data_vars}
        used.update(values)
        constant = xr.Dataset(
            {
                k: xr.DataArray(v, dims=[f"{k}_dim_{i}" for i in range(np.ndim(v))])
                for k, v in used.items()
            }
        )
        return az.InferenceData(
            posterior=posterior, sample_stats=idata.sample_stats, constant_data=constant
        )

    def _dtype(self, name: str) -> np.dtype:
        return np.dtype(self.model[name].dtype)


#: Sample statistics nutpie records but does not convert with its default settings (vectors per
#: draw: gradients, mass matrix, divergence points) and the chain/draw index columns.
_SKIPPED_STATS = frozenset({"chain", "draw"})


def trace_to_inference_data(
    results: Any, var_names: list[str], coords: Mapping[str, Any] | None
) -> az.InferenceData | None:
    """Posterior (``var_names``) and scalar sample statistics of nutpie's raw trace, after tuning.

    Why: nutpie converts its Arrow trace with ``arviz.from_dict`` (20-30 ms per fit, as long as
    sampling a small model); building the two datasets directly takes 2-3 ms. Same arrays, dtypes,
    dims and coordinates as nutpie's conversion with ``save_warmup=False`` (tested); returns None
    when the trace is unusual (chains of unequal length, missing values), for nutpie to convert.

    Args:
        results: ``nutpie.sample(..., return_raw_trace=True)``.
        var_names: posterior variables to keep.
        coords: the compiled model's coordinates (named dims).
    """
    import arviz as az
    import pyarrow
    import xarray as xr
    from arviz.data.base import make_attrs

    def column(batch: Any, name: str) -> tuple[np.ndarray, list[str], list[int]] | None:
        col = pyarrow.array(batch.column(name))
        if col.null_count:
            return None
        meta = batch.schema.field(name).metadata or {}
        dims = meta[b"dims"].decode().split(",") if meta.get(b"dims") else []
        shape = [int(x) for x in meta[b"shape"].decode().split(",")] if meta.get(b"shape") else []
        if hasattr(col, "flatten"):
            col = col.flatten()
        values = col.to_numpy(zero_copy_only=False)
        return values.reshape((batch.num_rows, *shape)) if shape else values, dims, shape

    draw_batches, stat_batches = results.get_arrow_trace()
    posterior: dict[str, list[np.ndarray]] = {n: [] for n in var_names}
    stats: dict[str, list[np.ndarray]] = {}
    dims: dict[str, list[str]] = {}
    for draws, stat in zip(draw_batches, stat_batches, strict=True):
        tuning = pyarrow.array(stat.column("tuning")).to_numpy(zero_copy_only=False)
        start = int(tuning.sum())
        for name in var_names:
            got = column(draws, name)
            if got is None:
                return None
            posterior[name].append(got[0][start:])
            dims[name] = got[1] or [f"{name}_dim_{i}" for i in range(len(got[2]))]
        for name in stat.schema.names:
            field = stat.schema.field(name)
            if name in _SKIPPED_STATS or "List" in str(field.type):
                continue
            got = column(stat, name)
            if got is None:
                return None
            stats.setdefault(name, []).append(got[0][start:])
    lengths = {len(a) for arrays in (*posterior.values(), *stats.values()) for a in arrays}
    if len(lengths) != 1:
        return None
    n_chains, n_draws = len(draw_batches), lengths.pop()
    base = {"chain": np.arange(n_chains), "draw": np.arange(n_draws)}

    def dataset(arrays: dict[str, list[np.ndarray]], var_dims: dict[str, list[str]]) -> xr.Dataset:
        variables, all_coords = {}, dict(base)
        for name, chains in arrays.items():
            stacked = np.stack(chains)
            names = ["chain", "draw", *var_dims.get(name, [])]
            for d, n in zip(names[2:], stacked.shape[2:], strict=True):
                all_coords.setdefault(d, coords[d] if coords and d in coords else np.arange(n))
            variables[name] = (names, stacked)
        return xr.Dataset(variables, coords=all_coords, attrs=make_attrs())

    return az.InferenceData(posterior=dataset(posterior, dims), sample_stats=dataset(stats, {}))
