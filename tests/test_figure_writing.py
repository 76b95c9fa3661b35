"""Writing a run's figures and posteriors: the shortcuts give the files the plain calls give.

``save_figure`` lays a figure out once before ``savefig``; its PNG must be byte-identical to a
plain ``Figure.savefig`` at the same resolution (matplotlib's own path, the reference).
``write_posterior`` opens the file once for all groups; ``az.from_netcdf`` must read back what
ArviZ's own ``InferenceData.to_netcdf`` wrote, with the same compression filters.
"""

from __future__ import annotations

import io
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import arviz as az
import matplotlib

matplotlib.use("Agg")

import numpy as np
import pytest
from matplotlib import pyplot as plt
from matplotlib.figure import Figure

from trial_reanalysis.analysis.report import plots
from trial_reanalysis.analysis.report.render import FIGURE_DPI, save_figure
from trial_reanalysis.analysis.run import write_posterior


def _fake_idata(seed: int = 7) -> az.InferenceData:
    """A posterior shaped like the comparisons' primary fit: a vector parameter over named
    events (string coordinate), sample statistics of every dtype nutpie writes, constant data,
    observed data and root attributes."""
    rng = np.random.default_rng(seed)
    chains, draws = 4, 200
    log_or = rng.normal([0.8, 0.3, -0.5], 0.4, size=(chains, draws, 3))
    return az.from_dict(
        posterior={"log_odds_ratio": log_or, "odds_ratio": np.exp(log_or)},
        sample_stats={
            "diverging": rng.random((chains, draws)) < 0.01,
            "depth": rng.integers(1, 5, size=(chains, draws)).astype(np.uint64),
            "index_in_trajectory": rng.integers(-8, 8, size=(chains, draws)),
            "energy": rng.normal(10.0, 1.0, size=(chains, draws)),
        },
        constant_data={"n_exposed": np.array([22.0]), "p_value": np.array([0.03, 0.06, 0.06])},
        observed_data={"events": np.array([7, 3, 1])},
        coords={"ae": ["ppe", "mucositis", "rash"]},
        dims={"log_odds_ratio": ["ae"], "odds_ratio": ["ae"]},
        attrs={"run_seed": 20100401, "endpoint": "prior_therapy"},
    )


def _constrained() -> Figure:
    fig, axes = plt.subplots(2, 2, figsize=(7.0, 5.0), layout="constrained")
    x = np.linspace(0.0, 1.0, 101)
    for i, ax in enumerate(np.ravel(axes)):
        ax.plot(x, x ** (i + 1), label=f"power {i + 1}")
        ax.set_title(f"panel {i}: a title long enough to need room", fontsize=9)
        ax.set_ylabel("probability of declaring the treatment active")
    axes[0, 0].legend()
    fig.suptitle("Constrained layout, four panels")
    return fig


def _tight() -> Figure:
    fig = Figure(figsize=(7.0, 3.0))
    ax = fig.add_subplot()
    ax.plot([0.2, 3.0], [0, 1], "o-")
    ax.set_xscale("log")
    ax.set_yticks([0, 1], ["PPE\n(P = .03)", "mucositis\n(P = .06)"])
    fig.tight_layout()
    return fig


def _no_layout() -> Figure:
    fig = Figure(figsize=(6.0, 4.0))
    fig.add_subplot().bar([1, 2, 3], [0.3, 0.5, 0.2], color="C1")
    return fig


def _trace_rank() -> Figure:
    return plots.plot_trace_rank(_fake_idata(), title="Events by prior therapy: primary fit")


def _plain_png(fig: Figure) -> bytes:
    """The reference: matplotlib's own savefig with the same settings."""
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=FIGURE_DPI, metadata={"Software": None})
    plt.close(fig)
    return buffer.getvalue()


@pytest.mark.parametrize("build", [_constrained, _tight, _no_layout, _trace_rank])
def test_save_figure_writes_the_bytes_of_a_plain_savefig(
    build: Callable[[], Figure], tmp_path: Path
) -> None:
    """Same PNG bytes as savefig (layout, resolution and metadata unchanged), figure closed."""
    expected = _plain_png(build())
    fig = build()
    save_figure(fig, tmp_path / "figure.png")
    assert (tmp_path / "figure.png").read_bytes() == expected
    assert expected[:8] == b"\x89PNG\r\n\x1a\n" and len(expected) > 5000


def test_save_figure_closes_a_pyplot_figure(tmp_path: Path) -> None:
    fig = _constrained()
    save_figure(fig, tmp_path / "figure.png")
    assert fig.number not in plt.get_fignums()


def _encodings(ds: object) -> dict[str, dict[str, str]]:
    """Each variable's stored filters, dtype and fill value as xarray reads them (not the file's
    path), as text so that a NaN fill value compares equal to itself."""
    keep = ("zlib", "shuffle", "complevel", "dtype", "_FillValue", "chunksizes")
    return {
        str(name): {k: repr(v) for k, v in var.encoding.items() if k in keep}
        for name, var in ds.variables.items()  # type: ignore[attr-defined]
    }


def test_write_posterior_reads_back_as_arviz_writes_it(tmp_path: Path) -> None:
    """Every group, its values, dtypes, coordinates and attributes, the root attributes and the
    compression filters equal those of ArviZ's own writer, and the values the original's."""
    idata = _fake_idata()
    write_posterior(idata, tmp_path / "ours.nc")
    idata.to_netcdf(str(tmp_path / "arviz.nc"), engine="netcdf4")
    ours, theirs = az.from_netcdf(tmp_path / "ours.nc"), az.from_netcdf(tmp_path / "arviz.nc")
    assert ours.groups() == theirs.groups() == idata.groups()
    assert ours.attrs == theirs.attrs and ours.attrs["run_seed"] == 20100401
    for group in idata.groups():
        assert ours[group].identical(theirs[group]), group
        assert ours[group].equals(idata[group]), group
        assert _encodings(ours[group]) == _encodings(theirs[group]), group
    assert ours.sample_stats["diverging"].dtype == bool
    assert ours.sample_stats["depth"].dtype == np.uint64
    assert list(ours.posterior["ae"].values) == ["ppe", "mucositis", "rash"]
    assert ours.posterior["log_odds_ratio"].encoding["zlib"] is True


def test_write_posterior_without_attributes(tmp_path: Path) -> None:
    """An InferenceData without root attributes (as the fits write them) reads back the same."""
    idata = _fake_idata()
    idata.attrs = {}
    write_posterior(idata, tmp_path / "ours.nc")
    back = az.from_netcdf(tmp_path / "ours.nc")
    assert back.attrs == {}
    assert all(back[g].equals(idata[g]) for g in idata.groups())


@pytest.mark.integration  # a fresh interpreter
def test_write_posterior_leaves_dask_unloaded(tmp_path: Path) -> None:
    """Where Dask is installed (the dev extra), writing a posterior in a fresh interpreter does
    not import its distributed scheduler (xarray's default write lock looked it up: about 0.7 s
    in every worker process)."""
    pytest.importorskip("distributed")
    code = (
        "import sys\n"
        "from pathlib import Path\n"
        "import numpy as np, arviz as az\n"
        "from trial_reanalysis.analysis.run import write_posterior\n"
        "idata = az.from_dict(posterior={'p': np.zeros((2, 5))})\n"
        f"write_posterior(idata, Path({str(tmp_path / 'p.nc')!r}))\n"
        "print('distributed' in sys.modules)\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert done.stdout.strip() == "False"
    assert az.from_netcdf(tmp_path / "p.nc").posterior["p"].shape == (2, 5)
