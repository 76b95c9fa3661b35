"""The compiled-model cache (analysis/inference/model_cache.py) across processes.

What must hold: a model loaded from the cache samples exactly the draws a fresh compilation
samples (same seed), in this process and in another one; the key separates models that compute
different things (a constant, a prior, a structure) and ignores the initial values of ``pm.Data``
(which nutpie reads at run time); a library upgrade moves to another folder; an unreadable file is
compiled again; anything the key cannot describe is compiled without the cache. The models here
are tiny on purpose (each compilation costs seconds): a normal mean with known sd, whose posterior
is exact (conjugate), so the cached fit is also checked against the closed form.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pymc as pm
import pytest
from pytensor.graph.basic import Apply
from pytensor.graph.op import Op
from scipy import stats

from trial_reanalysis.analysis.inference import model_cache
from trial_reanalysis.analysis.inference.fitting import CompiledModel, SamplerSettings

ROOT = Path(__file__).resolve().parents[1]
SEED = 20260
#: Prior of the mean (normal, sd) and the known sd of one observation.
PRIOR_SD, NOISE_SD = 10.0, 2.0
DATA = np.array([1.2, 3.4, 2.2, 0.7, 2.9, 1.8, 2.5])
SETTINGS = SamplerSettings(draws=500, tune=500, chains=2)


def normal_mean_model(initial: np.ndarray, prior_sd: float = PRIOR_SD) -> pm.Model:
    """mu ~ Normal(0, prior_sd); y_i ~ Normal(mu, NOISE_SD) with y a pm.Data vector; and a
    deterministic (so nutpie's second callback, the expand function, has work to do)."""
    with pm.Model() as model:
        y = pm.Data("y", initial)
        mu = pm.Normal("mu", 0.0, prior_sd)
        pm.Normal("obs", mu, NOISE_SD, observed=y)
        pm.Deterministic("twice_mu", 2.0 * mu)
    return model


def exact_posterior(y: np.ndarray) -> stats.rv_continuous:
    """Conjugate normal posterior of mu (closed form, independent of the package)."""
    precision = 1 / PRIOR_SD**2 + len(y) / NOISE_SD**2
    mean = (y.sum() / NOISE_SD**2) / precision
    return stats.norm(mean, precision**-0.5)


@pytest.fixture(scope="module")
def cache_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("model-cache")


@pytest.fixture(autouse=True)
def _private_cache(cache_dir: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Every test uses the module's temporary cache folder, never the user's."""
    monkeypatch.setenv(model_cache.CACHE_ENV, str(cache_dir))


def draws(compiled: CompiledModel, y: np.ndarray) -> np.ndarray:
    idata = compiled.fit({"y": y}, seed=SEED, settings=SETTINGS)
    return np.stack([idata.posterior["mu"].values, idata.posterior["twice_mu"].values])


@pytest.fixture(scope="module")
def uncached_draws() -> np.ndarray:
    """The reference: compiled from scratch (cache off), fitted to DATA."""
    return draws(CompiledModel(normal_mean_model(DATA), name="t", cache=False), DATA)


def test_cached_model_samples_the_same_draws_as_a_fresh_compilation(
    cache_dir: Path, uncached_draws: np.ndarray
) -> None:
    first = CompiledModel(normal_mean_model(DATA), name="t")
    assert first.cache.callbacks == {"logp_numba": "stored", "expand_numba": "stored"}
    assert len(list(cache_dir.glob("*/*.nbc"))) == 2
    model_cache._MEMORY.clear()  # forget this process's results: the next one comes from disk
    # Built with other initial data (length 3, not 7): pm.Data values are not part of the key.
    loaded = CompiledModel(normal_mean_model(np.array([9.0, 9.0, 9.0])), name="t")
    assert loaded.cache.callbacks == {"logp_numba": "hit", "expand_numba": "hit"}
    np.testing.assert_array_equal(draws(first, DATA), uncached_draws)
    np.testing.assert_array_equal(draws(loaded, DATA), uncached_draws)
    # Other data through the loaded model: still the exact conjugate posterior (3 MCSE).
    other = np.array([-4.0, -2.5, -3.1])
    idata = loaded.fit({"y": other}, seed=SEED + 1, settings=SETTINGS)
    mu = idata.posterior["mu"].values
    exact = exact_posterior(other)
    import arviz as az

    mcse = float(az.mcse(idata, var_names=["mu"])["mu"])
    assert abs(mu.mean() - exact.mean()) < 3 * mcse
    np.testing.assert_allclose(idata.posterior["twice_mu"].values, 2 * mu)
    # In this process a third build reuses the loaded result without reading the disk.
    again = CompiledModel(normal_mean_model(DATA), name="t")
    assert again.cache.hit and set(again.cache.callbacks.values()) == {"memory"}


def test_another_process_loads_the_cached_model_and_samples_the_same_draws(
    cache_dir: Path, uncached_draws: np.ndarray, tmp_path: Path
) -> None:
    CompiledModel(normal_mean_model(DATA), name="t")  # make sure the entry exists
    out = tmp_path / "draws.npy"
    script = textwrap.dedent(
        f"""
        import json, sys
        import numpy as np
        sys.path.insert(0, {str(Path(__file__).parent)!r})
        from test_fitting_cache import DATA, draws, normal_mean_model
        from trial_reanalysis.analysis.inference.fitting import CompiledModel
        compiled = CompiledModel(normal_mean_model(DATA), name="t")
        np.save({str(out)!r}, draws(compiled, DATA))
        print(json.dumps([compiled.cache.callbacks, compiled.cache.model]))
        """
    )
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    proc = subprocess.run(
        [sys.executable, "-c", script], env=env, capture_output=True, text=True, timeout=300
    )
    assert proc.returncode == 0, proc.stderr[-2000:]
    callbacks, whole = json.loads(proc.stdout.strip().splitlines()[-1])
    assert callbacks == {"logp_numba": "hit", "expand_numba": "hit"}
    # the whole model was rebuilt from its stored file, without PyTensor: still the same draws
    assert whole == "hit"
    np.testing.assert_array_equal(np.load(out), uncached_draws)


def shaped_model(y: np.ndarray) -> pm.Model:
    """One mean per observation (y_i ~ Normal(theta_i, NOISE_SD), theta_i ~ Normal(0, PRIOR_SD)):
    the free variable's shape follows the data's length."""
    with pm.Model() as model:
        data = pm.Data("y", y)
        theta = pm.Normal("theta", 0.0, PRIOR_SD, shape=data.shape[0])
        pm.Normal("obs", theta, NOISE_SD, observed=data)
    return model


def test_a_stored_model_is_used_only_for_data_of_its_shapes(cache_dir: Path) -> None:
    """A free variable sized by the data: the stored model of 3 observations must not serve 5
    (its parameter count differs). Each theta_i's posterior is conjugate (3 MCSE)."""
    import arviz as az

    three = CompiledModel(shaped_model(np.array([1.0, 2.0, 3.0])), name="s")
    assert three.cache.model == "stored"
    model_cache._MEMORY.clear()
    y = np.array([4.0, -1.0, 0.5, 2.0, 8.0])
    five = CompiledModel(shaped_model(y), name="s")
    assert five.cache.model == "stored"  # not the stored model of 3 observations
    idata = five.fit(seed=SEED, settings=SETTINGS)
    theta = idata.posterior["theta"]
    assert theta.shape[-1] == 5
    precision = 1 / PRIOR_SD**2 + 1 / NOISE_SD**2
    exact = (y / NOISE_SD**2) / precision
    mcse = az.mcse(idata, var_names=["theta"])["theta"].values
    assert np.all(np.abs(theta.mean(("chain", "draw")).values - exact) < 3 * mcse)
    model_cache._MEMORY.clear()
    again = CompiledModel(shaped_model(y), name="s")
    assert again.cache.model == "hit"
    assert again._compiled.n_dim == 5


def test_an_unreadable_model_file_is_compiled_again(
    cache_dir: Path, uncached_draws: np.ndarray
) -> None:
    CompiledModel(normal_mean_model(DATA), name="t")
    for path in cache_dir.glob("*/*.model"):
        path.write_bytes(b"not a pickle")
    model_cache._MEMORY.clear()
    compiled = CompiledModel(normal_mean_model(DATA), name="t")
    assert compiled.cache.model == "stored" and compiled.cache.hit
    np.testing.assert_array_equal(draws(compiled, DATA), uncached_draws)
    model_cache._MEMORY.clear()
    assert CompiledModel(normal_mean_model(DATA), name="t").cache.model == "hit"


def test_key_follows_what_the_model_computes_not_its_data_values() -> None:
    key = model_cache.model_graph_key
    base = key(normal_mean_model(DATA))
    assert key(normal_mean_model(DATA)) == base  # deterministic
    assert key(normal_mean_model(np.zeros(40))) == base  # pm.Data values and length
    assert key(normal_mean_model(DATA, prior_sd=5.0)) != base  # a constant of the graph
    with pm.Model() as observed_constant:  # the data as a constant, not pm.Data: values count
        mu = pm.Normal("mu", 0.0, PRIOR_SD)
        pm.Normal("obs", mu, NOISE_SD, observed=DATA)
        pm.Deterministic("twice_mu", 2.0 * mu)
    with pm.Model() as other_constant:
        mu = pm.Normal("mu", 0.0, PRIOR_SD)
        pm.Normal("obs", mu, NOISE_SD, observed=DATA + 1)
        pm.Deterministic("twice_mu", 2.0 * mu)
    keys = {base, key(observed_constant), key(other_constant)}
    assert len(keys) == 3
    with pm.Model() as student:  # another likelihood, same data container
        y = pm.Data("y", DATA)
        mu = pm.Normal("mu", 0.0, PRIOR_SD)
        pm.StudentT("obs", nu=4, mu=mu, sigma=NOISE_SD, observed=y)
        pm.Deterministic("twice_mu", 2.0 * mu)
    assert key(student) != base


def test_library_versions_choose_the_folder() -> None:
    found = model_cache.versions()
    assert {"python", "numba", "llvmlite", "pytensor", "pymc", "nutpie", "cpu"} <= set(found)
    tag = model_cache.versions_tag(found)
    assert model_cache.versions_tag(dict(found)) == tag
    assert model_cache.versions_tag({**found, "numba": "0.0.1"}) != tag
    assert model_cache.versions_tag({**found, "cpu": "other"}) != tag


def test_versions_file_says_which_versions_a_folder_holds(cache_dir: Path) -> None:
    CompiledModel(normal_mean_model(DATA), name="t")
    stamp = cache_dir / model_cache.versions_tag() / "versions.json"
    assert json.loads(stamp.read_text()) == model_cache.versions()


def test_unreadable_entry_is_compiled_again_and_replaced(
    cache_dir: Path, uncached_draws: np.ndarray
) -> None:
    CompiledModel(normal_mean_model(DATA), name="t")
    for path in cache_dir.glob("*/*.nbc"):
        path.write_bytes(b"not a pickle")
    model_cache._MEMORY.clear()
    compiled = CompiledModel(normal_mean_model(DATA), name="t")
    assert all(
        v.startswith("unreadable") and v.endswith("stored")
        for v in compiled.cache.callbacks.values()
    )
    np.testing.assert_array_equal(draws(compiled, DATA), uncached_draws)
    model_cache._MEMORY.clear()
    assert CompiledModel(normal_mean_model(DATA), name="t").cache.hit


def test_cache_folder_honours_the_variable_and_xdg(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv(model_cache.CACHE_ENV, str(tmp_path / "here"))
    assert model_cache.cache_folder() == tmp_path / "here"
    for off in ("off", "0", "false", "NO", ""):
        monkeypatch.setenv(model_cache.CACHE_ENV, off)
        assert model_cache.cache_folder() is None
    monkeypatch.delenv(model_cache.CACHE_ENV)
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    assert model_cache.cache_folder() == tmp_path / "xdg" / "trial-reanalysis" / "models"


def test_cache_off_compiles_without_touching_the_disk(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv(model_cache.CACHE_ENV, "off")
    compiled, outcome = model_cache.compile_model(normal_mean_model(DATA), folder=None)
    assert outcome.folder is None and set(outcome.callbacks.values()) == {"off"}
    assert compiled.n_dim == 1


def test_unwritable_folder_compiles_without_cache(tmp_path: Path) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("a file where the cache folder would go")
    store = model_cache._Store(blocker / "models")
    assert store.folder is None and store.outcome.folder is None


class _NoProps(Op):
    """An op PyTensor cannot compare by properties (no __props__)."""

    def make_node(self, x):
        return Apply(self, [x], [x.type()])

    def perform(self, node, inputs, outputs):
        outputs[0][0] = inputs[0]


def test_what_the_key_cannot_describe_is_refused() -> None:
    with pytest.raises(model_cache.Uncacheable, match="object"):
        model_cache._fingerprint(object())
    with pytest.raises(model_cache.Uncacheable, match="not nutpie's"):
        model_cache._fingerprint(lambda: 0)  # a closure of another module
    with pytest.raises(model_cache.Uncacheable, match="no __props__"):
        model_cache._op_fingerprint(_NoProps())
    # nutpie's placeholders of pm.Data values count by type, never by value
    a, b = np.zeros(3), np.ones(5)
    a.flags.writeable = b.flags.writeable = False
    assert model_cache._fingerprint(a) == model_cache._fingerprint(b)
    assert model_cache._fingerprint(a) != model_cache._fingerprint(np.zeros((3, 1)))
    assert model_cache._fingerprint(a) != model_cache._fingerprint(np.zeros(3, dtype=np.int64))


def test_clear_cache_removes_version_folders_only(tmp_path: Path) -> None:
    (tmp_path / "abc").mkdir()
    (tmp_path / "abc" / "versions.json").write_text("{}")
    (tmp_path / "keep").mkdir()
    assert model_cache.clear_cache(tmp_path) == 1
    assert not (tmp_path / "abc").exists() and (tmp_path / "keep").is_dir()


def test_a_stored_pytensor_function_computes_what_a_fresh_one_does(
    cache_dir: Path, tmp_path: Path
) -> None:
    """model_cache.cached_function: the first call compiles and stores, another process loads
    the stored function (no compilation) and gets the same values to the last bit; a graph that
    differs by one constant is another entry. The values are a normal log density, checked
    against scipy (1e-12)."""
    script = textwrap.dedent(
        """
        import json, sys
        import numpy as np
        import pytensor
        import pytensor.tensor as pt
        from trial_reanalysis.analysis.inference import model_cache
        compiled = []
        real = pytensor.function
        pytensor.function = lambda *a, **k: compiled.append(1) or real(*a, **k)
        x, mu = pt.dvector("x"), pt.dscalar("mu")
        sd = float(sys.argv[1])
        out = -0.5 * ((x - mu) / sd) ** 2 - np.log(sd) - 0.5 * np.log(2 * np.pi)
        fn = model_cache.cached_function([x, mu], out, mode=sys.argv[2])
        values = fn(np.linspace(-3.0, 5.0, 9), 1.25)
        print(json.dumps([len(compiled), values.tolist()]))
        """
    )
    env = dict(os.environ, PYTHONPATH=str(ROOT))

    def run(sd: str, mode: str) -> tuple[int, list[float]]:
        proc = subprocess.run(
            [sys.executable, "-c", script, sd, mode],
            env=env,
            capture_output=True,
            text=True,
            timeout=300,
        )
        assert proc.returncode == 0, proc.stderr[-2000:]
        return json.loads(proc.stdout.strip().splitlines()[-1])

    for mode in ("NUMBA", "FAST_RUN"):
        first, second = run("2.0", mode), run("2.0", mode)
        assert first[0] == 1 and second[0] == 0  # compiled once, then loaded
        assert first[1] == second[1]
        np.testing.assert_allclose(
            first[1], stats.norm.logpdf(np.linspace(-3.0, 5.0, 9), 1.25, 2.0), rtol=1e-12
        )
        other = run("3.0", mode)  # another constant: another graph, compiled
        assert other[0] == 1
        np.testing.assert_allclose(
            other[1], stats.norm.logpdf(np.linspace(-3.0, 5.0, 9), 1.25, 3.0), rtol=1e-12
        )


def test_a_stored_model_is_used_only_for_its_dimension_lengths(cache_dir: Path) -> None:
    """A free variable sized by a named dimension (coords): the stored model of length 2 must not
    serve length 3 (found by review: it was reused and sampling failed)."""
    import arviz as az

    def dims_model(n: int) -> pm.Model:
        with pm.Model(coords={"a": np.arange(n)}) as model:
            pm.Normal("x", 0.0, PRIOR_SD, dims="a")
        return model

    assert CompiledModel(dims_model(2), name="d").cache.model == "stored"
    model_cache._MEMORY.clear()
    three = CompiledModel(dims_model(3), name="d")
    assert three.cache.model == "stored"
    idata = three.fit(seed=SEED, settings=SETTINGS)
    assert idata.posterior["x"].shape[-1] == 3
    # the prior itself: sd 10 (1000 draws: the sd's relative Monte Carlo error is about 3 %)
    sd = idata.posterior["x"].std(("chain", "draw")).values
    assert np.all(np.abs(sd - PRIOR_SD) < 0.15 * PRIOR_SD)
    assert np.all(az.rhat(idata)["x"].values < 1.01)


def test_inputs_without_distinct_names_are_not_cached(cache_dir: Path) -> None:
    """cached_function keys inputs by name: unnamed or same-named inputs are compiled every time
    (found by review: x - y with the inputs swapped loaded the other function)."""
    import pytensor.tensor as pt

    x, y = pt.dvector(), pt.dvector()
    first = model_cache.cached_function([x, y], x - y)
    second = model_cache.cached_function([y, x], x - y)
    np.testing.assert_array_equal(first([1.0], [5.0]), [-4.0])
    np.testing.assert_array_equal(second([1.0], [5.0]), [4.0])
    u, v = pt.dvector("z"), pt.dvector("z")
    model_cache.cached_function([u, v], u / v)
    np.testing.assert_array_equal(model_cache.cached_function([u, v], v / u)([1.0], [5.0]), [5.0])
