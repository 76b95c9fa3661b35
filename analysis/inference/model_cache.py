"""Compiled models cached across processes: nutpie's two C callbacks stored as machine code.

Why: compiling a PyMC model with nutpie's numba backend takes 4-6 s, almost all of it in
``numba.cfunc`` compiling nutpie's two callbacks (the log density with its gradient, and the
"expand" function that computes deterministics) together with the PyTensor graph functions they
call. PyTensor 2.38 caches its own graph functions on disk (``numba__cache``), but nutpie's
callbacks are closures that numba's file cache cannot key (their closure pickles differently in
every process), so every new process compiled them again. Here they are cached instead.

How: :func:`compile_model` calls ``nutpie.compile_pymc_model`` unchanged, with a numba compiler
pipeline (``pipeline_class``, which nutpie passes on to ``numba.cfunc``) that, for each callback,

1. computes a key: a structural fingerprint of the callback (its code and closure, walked down
   to the PyTensor graph functions, which are represented by PyTensor's own cache key of the whole
   rewritten graph, constants included) plus the library versions and numba's code generator
   (target triple, CPU name and features);
2. returns the stored compile result when the key is on disk (numba's own serialisation of a
   compile result: object code, function descriptor, environment), otherwise compiles as numba
   would and stores the result (written atomically, so parallel workers never read half a file).

A model whose two callbacks are stored is also stored whole (``<key>.model``: the callbacks'
signatures, the layout of the data record, the parameters' sizes; keyed by the graph key and the
shapes of the data), so a later process rebuilds nutpie's compiled model without building any
PyTensor function (0.05-0.3 s instead of 0.5-1 s; see the section "whole models" below).

The values of ``pm.Data`` containers are not part of the key: nutpie reads them at run time
through a pointer (the closure holds the initial arrays only as typed placeholders, every one of
them replaced before use), so their dtype and rank are keyed, not their values. Anything the
fingerprint does not recognise (a closure from another module, a graph PyTensor cannot key,
numba's "dynamic globals" such as arrays above 1 MB) makes that model uncacheable: it is
compiled as before and its outcome says why. A stored result that cannot be read is compiled
again and replaced. Same key, same machine code: a cached and an uncached fit with the same
seed give identical draws (tests/test_fitting_cache.py).

Where: ``$TRIAL_REANALYSIS_MODEL_CACHE`` when set (``off`` or ``0`` disables the cache),
otherwise ``$XDG_CACHE_HOME/trial-reanalysis/models`` (``~/.cache`` when unset; the package
points ``XDG_CACHE_HOME`` to a private temporary folder when the home folder cannot be written,
see ``trial_reanalysis/__init__.py``). Inside it, one folder per set of library versions and
code generator (``<tag>/``, with ``versions.json`` saying which), so an upgrade starts an empty
folder; :func:`clear_cache` deletes them all. Files are pickles read back by this process, like
numba's and PyTensor's own caches: the folder is created private (mode 0700).
"""

from __future__ import annotations

import hashlib
import json
import os
import pickle
import shutil
import sys
import tempfile
import types
from collections.abc import Mapping
from dataclasses import dataclass, field
from functools import cache
from importlib import metadata
from pathlib import Path
from typing import Any

import numpy as np

#: Environment variable naming the cache folder; "off", "0", "false" or "no" disable the cache.
CACHE_ENV = "TRIAL_REANALYSIS_MODEL_CACHE"
_OFF = {"off", "0", "false", "no"}
#: Libraries whose versions change the compiled code (and so the cache folder).
_VERSIONED = ("numpy", "numba", "llvmlite", "pytensor", "pymc", "nutpie")
#: numba settings (environment variables NUMBA_*) that change the code it generates.
_NUMBA_SETTINGS = ("OPT", "BOUNDSCHECK", "DEBUGINFO_DEFAULT", "ENABLE_AVX", "FASTMATH")
#: Format of the stored files; bump when the payload changes.
_FORMAT = 1
#: Module-level functions of these packages are identified by name (their code is versioned).
_LIBRARIES = ("numba", "numpy", "llvmlite", "nutpie")
#: The only module whose closures are fingerprinted (nutpie's callbacks and their helpers).
_NUTPIE_MODULE = "nutpie.compile_pymc"


class Uncacheable(Exception):
    """The callback holds something the fingerprint cannot key; it is compiled without cache."""


@dataclass
class CacheOutcome:
    """What the cache did for one model: per callback, ``hit``, ``stored``, ``memory`` (compiled
    earlier in this process), ``off`` or ``uncacheable: <why>`` / ``unreadable: <why>``; for the
    whole model (rebuilt without PyTensor, see :func:`compile_model`) ``hit``, ``stored``, ``not
    stored: <why>``, ``unreadable: <why>`` or empty (not tried)."""

    folder: Path | None
    callbacks: dict[str, str] = field(default_factory=dict)
    model: str = ""

    @property
    def hit(self) -> bool:
        """Whether every callback came from the cache (disk or this process): nothing compiled."""
        return bool(self.callbacks) and all(v in ("hit", "memory") for v in self.callbacks.values())


def cache_folder() -> Path | None:
    """The cache's root folder (see the module docstring), or None when disabled by the user."""
    value = os.environ.get(CACHE_ENV)
    if value is not None:
        if value.strip().lower() in _OFF or not value.strip():
            return None
        return Path(value).expanduser()
    base = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache")
    return base / "trial-reanalysis" / "models"


@cache
def versions() -> dict[str, str]:
    """Python, the compiling libraries, numba's code generator (triple, CPU, features) and the
    numba settings that change generated code (optimisation level, bounds checks...)."""
    import numba
    from numba.core.registry import cpu_target

    found = {name: metadata.version(name) for name in _VERSIONED}
    triple, cpu, features = cpu_target.target_context.codegen().magic_tuple()
    settings = {f"numba_{k.lower()}": str(getattr(numba.config, k, None)) for k in _NUMBA_SETTINGS}
    return {
        "python": sys.version.split()[0],
        **found,
        "target": triple,
        "cpu": cpu,
        "cpu_features": features,
        **settings,
        "format": str(_FORMAT),
    }


def versions_tag(found: dict[str, str] | None = None) -> str:
    """Name of the folder of one set of versions: 16 hex digits of their hash."""
    text = json.dumps(found if found is not None else versions(), sort_keys=True)
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def clear_cache(folder: Path | None = None) -> int:
    """Delete every stored model under ``folder`` (default: :func:`cache_folder`); returns the
    number of version folders removed. The in-process memory is cleared too."""
    _MEMORY.clear()
    folder = folder if folder is not None else cache_folder()
    if folder is None or not folder.is_dir():
        return 0
    removed = 0
    for child in folder.iterdir():
        if child.is_dir() and (child / "versions.json").is_file():
            shutil.rmtree(child, ignore_errors=True)
            removed += 1
    return removed


#: Compile results of this process by key: a model compiled twice in one process reuses them.
_MEMORY: dict[str, Any] = {}


def _fingerprint(obj: Any, depth: int = 0, graph_key: str | None = None) -> Any:
    """A nested tuple of plain values that determines the code numba generates for ``obj``.

    PyTensor's graph functions are represented by ``graph_key`` when given, else by PyTensor's
    own key of the rewritten graph.

    Raises:
        Uncacheable: for anything not known to be fully described (see the module docstring).
    """
    from numba.core.dispatcher import Dispatcher
    from numba.core.extending import _Intrinsic
    from pytensor.link.numba.cache import CACHED_SRC_FUNCTIONS

    if depth > 12:
        raise Uncacheable("closures nested too deeply")
    down = depth + 1

    def fp(x: Any) -> Any:
        return _fingerprint(x, down, graph_key)

    if obj is None or isinstance(obj, bool | int | float | str | bytes):
        return (type(obj).__name__, repr(obj))
    if isinstance(obj, tuple | list):
        return (type(obj).__name__, tuple(_fingerprint(x, down) for x in obj))
    if isinstance(obj, set | frozenset):
        return ("set", tuple(sorted(repr(_fingerprint(x, down)) for x in obj)))
    if isinstance(obj, dict):
        return (
            "dict",
            tuple(sorted((repr(k), repr(_fingerprint(v, down))) for k, v in obj.items())),
        )
    if isinstance(obj, types.ModuleType):
        return ("module", obj.__name__)
    _np = sys.modules["numpy"]
    if isinstance(obj, _np.generic):
        return ("np", obj.dtype.str, repr(obj.item()))
    if isinstance(obj, _np.dtype):
        return ("dtype", repr(obj.descr), obj.isalignedstruct)
    if isinstance(obj, _np.ndarray):
        # nutpie's typed placeholders of pm.Data values (replaced at run time): type, not values.
        flags = (obj.flags.c_contiguous, obj.flags.f_contiguous, obj.flags.writeable)
        return ("array", obj.dtype.str, obj.ndim, flags)
    if isinstance(obj, Dispatcher):
        options = fp(dict(obj.targetoptions))
        key = CACHED_SRC_FUNCTIONS.get(obj.py_func)
        if key is not None:  # a graph function PyTensor generated (it keys the rewritten graph)
            return ("pytensor", graph_key or key, options)
        return ("dispatcher", fp(obj.py_func), options)
    if isinstance(obj, _Intrinsic):
        return ("intrinsic", fp(obj._defn), obj._prefer_literal)
    if isinstance(obj, types.FunctionType):
        return _function_fingerprint(obj, down, graph_key)
    raise Uncacheable(f"closure holds a {type(obj).__module__}.{type(obj).__qualname__}")


def _function_fingerprint(fn: types.FunctionType, depth: int, graph_key: str | None) -> Any:
    """Library functions by name; nutpie's closures by code, defaults and closure cells."""
    module = fn.__module__ or ""
    local = "<locals>" in fn.__qualname__
    if not local and module.split(".")[0] in _LIBRARIES:
        return ("function", module, fn.__qualname__)
    if module != _NUTPIE_MODULE:
        raise Uncacheable(f"function {module}.{fn.__qualname__} is not nutpie's")
    code = fn.__code__
    cells = tuple(
        (name, _fingerprint(cell.cell_contents, depth, graph_key))
        for name, cell in zip(code.co_freevars, fn.__closure__ or (), strict=True)
    )
    defaults = _fingerprint(fn.__defaults__, depth), _fingerprint(fn.__kwdefaults__, depth)
    return ("closure", fn.__qualname__, _code_fingerprint(code), defaults, cells)


def _code_fingerprint(code: types.CodeType) -> Any:
    """Bytecode, names and constants of a code object (nested code objects included)."""
    consts = tuple(
        _code_fingerprint(c)
        if isinstance(c, types.CodeType)
        else repr(sorted(map(repr, c)) if isinstance(c, frozenset) else c)
        for c in code.co_consts
    )
    digest = hashlib.sha256(code.co_code).hexdigest()
    return (digest, code.co_names, code.co_varnames, consts)


def callback_key(
    func: types.FunctionType, args: Any, return_type: Any, graph_key: str | None = None
) -> str:
    """The cache key of one nutpie callback compiled with numba signature ``args -> return``.

    ``graph_key`` (:func:`model_graph_key`) stands in for PyTensor's key of the rewritten graph
    functions the callback calls: that key can differ between processes for one model (a
    PyTensor rewrite orders the shape checks of broadcast ``pm.Data`` vectors by object id), so a
    key of the graph before rewriting hits where PyTensor's would miss.
    """
    fingerprint = (_fingerprint(func, graph_key=graph_key), repr(args), repr(return_type))
    return hashlib.sha256(repr((fingerprint, versions())).encode()).hexdigest()


def model_graph_key(model: Any) -> str:
    """Key of what nutpie compiles from a PyMC model, taken before PyTensor rewrites it.

    Covers the log density graph and the graphs of every deterministic (structure, ops with their
    properties, types, constants by value, ``pm.Data`` by name and type), the free variables and
    their value variables in order, the bounds check and the PyTensor settings that change
    compilation. Two models with the same key compile to the same function.

    Raises:
        Uncacheable: for an op without properties or a type or value the key does not know.
    """
    import pytensor

    outputs = [model.logp(), *model.unobserved_value_vars]
    config = pytensor.config
    settings = tuple(
        (name, str(getattr(config, name, None)))
        for name in (
            "floatX",
            "cast_policy",
            "numba__fastmath",
            "numba__cache",
            "optimizer",
            "optimizer_excluding",
            "optimizer_including",
            "optimizer_requiring",
        )
    )
    value_vars = tuple(
        (rv.name, model.rvs_to_values[rv].name, _type_fingerprint(model.rvs_to_values[rv].type))
        for rv in model.free_RVs
    )
    fingerprint = (_graph_fingerprint(outputs), value_vars, model.check_bounds, settings)
    return hashlib.sha256(repr(fingerprint).encode()).hexdigest()


def _graph_fingerprint(outputs: list[Any]) -> tuple:
    """Every node reachable from ``outputs`` in a deterministic order (depth first, inputs in
    order), each as (op, input positions, output types); roots by kind, name, type, value."""
    from pytensor.graph.basic import Constant
    from pytensor.tensor.sharedvar import SharedVariable
    from pytensor.tensor.utils import hash_from_ndarray

    position: dict[Any, Any] = {}
    entries: list[Any] = []
    stack: list[tuple[Any, bool]] = [(v, False) for v in reversed(outputs)]
    while stack:
        var, ready = stack.pop()
        if var in position:
            continue
        node = var.owner
        if node is None:
            if isinstance(var, Constant):
                data = var.data
                value = hash_from_ndarray(data) if hasattr(data, "dtype") else _prop(data)
                root = ("constant", _type_fingerprint(var.type), value)
            elif isinstance(var, SharedVariable):
                root = ("shared", var.name, _type_fingerprint(var.type))
            else:
                root = ("input", var.name, _type_fingerprint(var.type))
            position[var] = len(entries)
            entries.append(root)
            continue
        if not ready:
            stack.append((var, True))
            stack.extend((i, False) for i in reversed(node.inputs) if i not in position)
            continue
        inputs = tuple(position[i] for i in node.inputs)
        outs = tuple(_type_fingerprint(o.type) for o in node.outputs)
        index = len(entries)
        entries.append(("apply", _op_fingerprint(node.op), inputs, outs))
        for k, out in enumerate(node.outputs):
            position[out] = (index, k)
    return (tuple(entries), tuple(position[v] for v in outputs))


def _op_fingerprint(op: Any) -> tuple:
    """An op (or an object an op holds) by class and the values PyTensor compares it by.

    Objects with ``__props__`` (most ops): those properties, as PyTensor's ``__eq__`` does.
    Scalar ops and their output-type rules (``pytensor.scalar``, which compare by a few
    attributes): every instance attribute, a superset of what they compare.
    """
    cls = type(op)
    props = getattr(cls, "__props__", None)
    if props is not None:
        values = tuple((p, _prop(getattr(op, p))) for p in props)
    elif cls.__module__.startswith("pytensor.scalar") and hasattr(op, "__dict__"):
        values = tuple(sorted((k, _prop(v)) for k, v in vars(op).items()))
    else:
        raise Uncacheable(f"op {cls.__qualname__} has no __props__")
    return (cls.__module__, cls.__qualname__, values)


def _type_fingerprint(t: Any) -> tuple:
    """A PyTensor type: tensors by dtype and static shape, scalars by dtype; others refused."""
    from pytensor.scalar.basic import ScalarType
    from pytensor.tensor.type import TensorType

    if isinstance(t, TensorType):
        return ("tensor", t.dtype, t.shape)
    if isinstance(t, ScalarType):
        return ("scalar", t.dtype)
    raise Uncacheable(f"type {type(t).__qualname__}")


def _prop(value: Any) -> Any:
    """An op property or constant as plain values (arrays by content, ops and types nested)."""
    from pytensor.graph.op import Op
    from pytensor.graph.type import Type

    _np = sys.modules["numpy"]
    if value is None or isinstance(value, bool | int | float | str | bytes):
        return (type(value).__name__, repr(value))
    if isinstance(value, _np.generic):
        return ("np", value.dtype.str, repr(value.item()))
    if isinstance(value, _np.ndarray):
        from pytensor.tensor.utils import hash_from_ndarray

        return ("ndarray", hash_from_ndarray(value))
    if isinstance(value, _np.dtype):
        return ("dtype", value.str)
    if isinstance(value, tuple | list):
        return (type(value).__name__, tuple(_prop(v) for v in value))
    if isinstance(value, set | frozenset):
        return ("set", tuple(sorted(repr(_prop(v)) for v in value)))
    if isinstance(value, Mapping):
        return ("dict", tuple(sorted((repr(_prop(k)), repr(_prop(v))) for k, v in value.items())))
    if isinstance(value, slice):
        return ("slice", _prop(value.start), _prop(value.stop), _prop(value.step))
    if isinstance(value, Type):
        return _type_fingerprint(value)
    if isinstance(value, type):
        return ("class", value.__module__, value.__qualname__)
    if isinstance(value, types.FunctionType | types.BuiltinFunctionType):
        if "<locals>" in value.__qualname__:
            raise Uncacheable(f"op property is a local function {value.__qualname__}")
        return ("function", value.__module__, value.__qualname__)
    if isinstance(value, Op) or hasattr(type(value), "__props__"):
        return _op_fingerprint(value)
    if type(value).__module__.startswith("pytensor.scalar"):
        return _op_fingerprint(value)
    raise Uncacheable(f"op property of type {type(value).__qualname__}")


class _Store:
    """One model's compilation: loads or compiles each callback, records what happened."""

    def __init__(self, folder: Path | None, graph_key: str | None = None) -> None:
        self.graph_key = graph_key
        self.keys: dict[str, str] = {}  # callback name -> its key, when it could be keyed
        self.outcome = CacheOutcome(folder)
        self.folder = None if folder is None else _prepare(folder)
        if folder is not None and self.folder is None:
            self.outcome.folder = None

    def compile(self, func: types.FunctionType, compile_now: Any, args: Any, ret: Any) -> Any:
        """The compile result of ``func``: from this process, from disk, or compiled now."""
        name = func.__name__
        if self.folder is None:
            self.outcome.callbacks[name] = "off"
            return compile_now(func)
        try:
            key = callback_key(func, args, ret, self.graph_key)
        except Uncacheable as exc:
            self.outcome.callbacks[name] = f"uncacheable: {exc}"
            return compile_now(func)
        if key in _MEMORY:
            self.outcome.callbacks[name] = "memory"
            self.keys[name] = key
            return _MEMORY[key]
        path = self.folder / f"{key}.nbc"
        cres, status = _load(path) if path.is_file() else (None, "")
        if cres is None:
            cres = compile_now(func)
            status = _save(path, cres) if not status else f"{status}; {_save(path, cres)}"
        _MEMORY[key] = cres
        self.outcome.callbacks[name] = status
        if status in ("hit", "stored"):
            self.keys[name] = key
        return cres


def _prepare(folder: Path) -> Path | None:
    """The version folder under ``folder``, created private; None when it cannot be written."""
    target = folder / versions_tag()
    try:
        target.mkdir(mode=0o700, parents=True, exist_ok=True)
        stamp = target / "versions.json"
        if not stamp.is_file():
            _atomic_write(stamp, json.dumps(versions(), indent=1, sort_keys=True).encode())
    except OSError:
        return None
    return target


def _load(path: Path) -> tuple[Any, str]:
    """A stored compile result, or (None, why it could not be used)."""
    from numba.core.compiler import CompileResult
    from numba.core.registry import cpu_target

    try:
        with path.open("rb") as handle:
            fmt, payload = pickle.load(handle)  # our own private folder
        if fmt != _FORMAT:
            return None, f"unreadable: format {fmt}"
        return CompileResult._rebuild(cpu_target.target_context, *payload), "hit"
    except Exception as exc:  # any failure: compile again and replace the file
        return None, f"unreadable: {type(exc).__name__}"


def _save(path: Path, cres: Any) -> str:
    """Store a compile result unless numba says it cannot be (lifted code, dynamic globals)."""
    if cres.lifted or cres.library.has_dynamic_globals:
        return "uncacheable: numba dynamic globals or lifted code"
    try:
        _atomic_write(path, pickle.dumps((_FORMAT, cres._reduce()), protocol=-1))
    except (OSError, pickle.PicklingError, TypeError, AttributeError) as exc:
        return f"uncacheable: not stored ({type(exc).__name__})"
    return "stored"


def _atomic_write(path: Path, data: bytes) -> None:
    """Write ``data`` to a temporary file beside ``path`` and rename it onto ``path``."""
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".tmp-", suffix=path.suffix)
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def _pipeline(store: _Store) -> type:
    """A numba compiler pipeline class that routes nutpie's callbacks through ``store``."""
    from numba.core.compiler import Compiler

    class CachingCompiler(Compiler):
        def compile_extra(self, func: Any) -> Any:
            state = self.state
            return store.compile(func, super().compile_extra, state.args, state.return_type)

    return CachingCompiler


def compile_model(model: Any, *, folder: Path | None) -> tuple[Any, CacheOutcome]:
    """Compile a PyMC model with nutpie's numba backend, its callbacks cached in ``folder``.

    Args:
        model: the ``pm.Model``.
        folder: the cache's root folder (:func:`cache_folder`), or None to compile without it.

    Returns:
        nutpie's compiled model (exactly what ``nutpie.compile_pymc_model(model)`` returns, its
        two callbacks possibly loaded from disk) and what the cache did.
    """
    import nutpie

    store = _Store(folder)
    if store.folder is not None:
        try:
            store.graph_key = model_graph_key(model)
        except Uncacheable:
            store.graph_key = None  # PyTensor's key of the rewritten graph (may miss more often)
    if store.folder is None:
        compiled = nutpie.compile_pymc_model(model)
        store.outcome.callbacks = {"logp_numba": "off", "expand_numba": "off"}
        return compiled, store.outcome
    key = _model_key(model, store.graph_key)
    if key is not None:
        compiled = _load_model(model, store, key)
        if compiled is not None:
            return compiled, store.outcome
    compiled = nutpie.compile_pymc_model(model, pipeline_class=_pipeline(store))
    if key is not None:
        store.outcome.model = _save_model(store, key, compiled)
    return compiled, store.outcome


# ---------------------------------------------------------------------------------------------
# whole models: a cached model is rebuilt without PyTensor
# ---------------------------------------------------------------------------------------------
#
# Even with both callbacks on disk, ``nutpie.compile_pymc_model`` builds the model's PyTensor
# functions again in every process (graph rewriting, about 0.5-1 s a model) only to fingerprint
# them. What the sampler needs besides the callbacks' machine code is small: the callbacks' numba
# signatures, the layout of the data record they read (names, ranks and dtypes of the ``pm.Data``
# containers, in order), the sizes and shapes of the parameters and PyMC's initial-point
# function. That is stored once per model (``<key>.model``) beside the callbacks, keyed by the
# model's graph before rewriting and the shapes of its data (free-variable shapes may follow
# them), and a later process builds nutpie's ``CompiledPyMCModel`` from it directly. The initial
# points come from PyMC's own function, built as nutpie builds it, so the draws are the same.
# nutpie's private helpers are used for that; their version is part of the folder's name, and
# any failure falls back to the full compilation.

#: Format of the stored model files; bump when the payload changes.
_MODEL_FORMAT = 1


def _never_called(*args: Any) -> None:  # pragma: no cover - its compiled code is loaded instead
    """Stands for a callback whose machine code comes from the cache (never compiled or run)."""
    raise AssertionError("a cached callback's Python function was called")


def _fixed_pipeline(cres: Any) -> type:
    """A numba compiler pipeline class whose compilation returns ``cres`` (a loaded result)."""
    from numba.core.compiler import Compiler

    class Loaded(Compiler):
        def compile_extra(self, func: Any) -> Any:
            return cres

    return Loaded


def _model_key(model: Any, graph_key: str | None) -> str | None:
    """Key of a whole model: its graph key plus the shape and dtype of each data container and
    the length of each named dimension (free variables may be sized by either; the graph key
    holds neither, as their values are not part of the graph)."""
    if graph_key is None:
        return None
    data = tuple((v.name, tuple(np.shape(v.get_value())), str(v.dtype)) for v in model.data_vars)
    dims = tuple(sorted((name, _dim_length(n)) for name, n in model.dim_lengths.items()))
    text = repr(("model", _MODEL_FORMAT, graph_key, data, dims))
    return hashlib.sha256(text.encode()).hexdigest()


def _dim_length(length: Any) -> int:
    """A PyMC dimension length (a shared variable, a constant or, rarely, a graph) as an int."""
    if hasattr(length, "get_value"):
        return int(np.asarray(length.get_value()))
    if hasattr(length, "data"):
        return int(np.asarray(length.data))
    return int(np.asarray(length.eval()))


def _save_model(store: _Store, key: str, compiled: Any) -> str:
    """Store what rebuilding ``compiled`` needs besides its callbacks; returns the outcome."""
    logp, expand = compiled.compiled_logp_func, compiled.compiled_expand_func
    names = (logp._pyfunc.__name__, expand._pyfunc.__name__)
    if not all(n in store.keys for n in names):
        return "not stored: a callback is not cached"
    payload = {
        "callbacks": [
            (store.keys[n], logp_or_expand._sig)
            for n, logp_or_expand in zip(names, (logp, expand), strict=True)
        ],
        "n_dim": compiled.n_dim,
        "n_expanded": compiled.n_expanded,
        "shape_info": compiled.shape_info,
        "shapes": compiled._shapes,
        "shared": [(n, v.ndim, v.dtype.str) for n, v in compiled.shared_data.items()],
        "user_data_dtype": compiled.user_data.dtype,
    }
    try:
        _atomic_write(store.folder / f"{key}.model", pickle.dumps((_MODEL_FORMAT, payload)))
    except (OSError, pickle.PicklingError, TypeError, AttributeError) as exc:
        return f"not stored ({type(exc).__name__})"
    return "stored"


def _load_model(model: Any, store: _Store, key: str) -> Any | None:
    """nutpie's compiled model rebuilt from a stored model file, or None (then compile)."""
    path = store.folder / f"{key}.model"
    if not path.is_file():
        return None
    try:
        with path.open("rb") as handle:
            fmt, payload = pickle.load(handle)  # our own private folder
        if fmt != _MODEL_FORMAT:
            return None
        compiled, store.outcome.callbacks = _rebuild(model, payload, store.folder)
    except Exception as exc:  # anything unexpected: compile as usual (and store again)
        store.outcome.model = f"unreadable: {type(exc).__name__}"
        return None
    store.outcome.model = "hit"
    return compiled


def _rebuild(model: Any, payload: dict[str, Any], folder: Path) -> tuple[Any, dict[str, str]]:
    """``CompiledPyMCModel`` from a stored payload and the model's current data, with where each
    callback came from (``hit``: disk, ``memory``: this process)."""
    import numba
    from nutpie import compile_pymc as npc
    from pymc.initial_point import make_initial_point_fn

    cfuncs, statuses = [], []
    for cb_key, sig in payload["callbacks"]:
        cres, status = _MEMORY.get(cb_key), "memory"
        if cres is None:
            cres, status = _load(folder / f"{cb_key}.nbc")
            if cres is None:
                raise FileNotFoundError(status or cb_key)
            _MEMORY[cb_key] = cres
        statuses.append(status)
        cfuncs.append(numba.cfunc(sig, pipeline_class=_fixed_pipeline(cres))(_never_called))
    current = {v.name: v for v in model.data_vars}
    shared_data: dict[str, np.ndarray] = {}
    for name, ndim, dtype in payload["shared"]:
        value = np.array(current[name].get_value(), order="C", copy=True)
        if value.ndim != ndim or value.dtype.str != dtype:
            raise ValueError(f"data container {name} changed its rank or dtype")
        value.flags.writeable = False
        shared_data[name] = value
    ranks = {n: types.SimpleNamespace(ndim=nd) for n, nd, _ in payload["shared"]}
    user_data = npc.make_user_data(ranks, shared_data)
    if user_data.dtype != payload["user_data_dtype"]:
        raise ValueError("the data record's layout changed")
    names, _, shapes = payload["shape_info"]
    n_free = len(model.free_RVs)
    point_fn = make_initial_point_fn(
        model=model,
        overrides=None,
        default_strategy="support_point",
        jitter_rvs=set(model.free_RVs),
        return_transformed=True,
    )
    initial = npc._rv_dict_to_flat_array_wrapper(
        npc._wrap_with_lock(point_fn), names=list(names[:n_free]), shapes=list(shapes[:n_free])
    )
    dims, coords = npc._prepare_dims_and_coords(model, payload["shape_info"])
    compiled = npc.CompiledPyMCModel(
        _n_dim=payload["n_dim"],
        dims=dims,
        _coords=coords,
        _shapes=payload["shapes"],
        compiled_logp_func=cfuncs[0],
        compiled_expand_func=cfuncs[1],
        initial_point_func=initial,
        shared_data=shared_data,
        user_data=user_data,
        n_expanded=payload["n_expanded"],
        shape_info=payload["shape_info"],
        logp_func=None,
        expand_func=None,
    )
    return compiled, dict(zip(("logp_numba", "expand_numba"), statuses, strict=True))


def uncacheable_ops(model: Any) -> list[str]:
    """Ops of a PyMC model that PyTensor's numba backend cannot key (so nutpie's callbacks holding
    them are compiled again in every process); empty when the model is fully cacheable.

    Looks at the rewritten graph of the log density, its gradient and every deterministic, as
    nutpie compiles them, without compiling machine code. Composite ops are named by the scalar
    ops inside them that have no key (for example ``erfcx``, which calls SciPy through a
    function pointer).
    """
    import pytensor
    from pytensor.link.numba.dispatch.basic import numba_funcify_and_cache_key
    from pytensor.scalar.basic import Composite

    values = [model.rvs_to_values[rv] for rv in model.free_RVs]
    logp = model.logp()
    outputs = [logp, *pytensor.grad(logp, values), *model.unobserved_value_vars]
    fn = pytensor.function(values, outputs, mode="NUMBA", on_unused_input="ignore")
    found: set[str] = set()
    for node in fn.maker.fgraph.toposort():
        if numba_funcify_and_cache_key(node.op, node=node)[1] is not None:
            continue
        scalar = getattr(node.op, "scalar_op", None)
        if isinstance(scalar, Composite):
            for inner in scalar.fgraph.toposort():
                if numba_funcify_and_cache_key(inner.op, node=inner)[1] is None:
                    found.add(str(inner.op))
        else:
            found.add(str(node.op))
    return sorted(found)


# ---------------------------------------------------------------------------------------------
# plain PyTensor functions
# ---------------------------------------------------------------------------------------------

#: Format of the stored PyTensor functions; bump when the payload changes.
_FUNCTION_FORMAT = 1


def cached_function(inputs: list[Any], outputs: Any, **kwargs: Any) -> Any:
    """``pytensor.function(inputs, outputs, **kwargs)``, stored in the cache folder and loaded
    from it by later processes (0.01 s instead of 0.5-1 s of graph rewriting).

    What is stored is the compiled function itself (PyTensor pickles the rewritten graph; its C
    code is loaded from PyTensor's own compile folder), keyed by a structural fingerprint of
    the graph (:func:`_graph_fingerprint`: ops with their properties, constants by value,
    inputs by name and type), the options and PyTensor's compile settings, inside the folder of
    the library versions. A graph the fingerprint cannot describe, a cache turned off or a file
    that cannot be read: compiled as usual (and stored again when possible).
    """
    import pytensor

    folder = cache_folder()
    store = None if folder is None else _prepare(folder)
    path = None
    if store is not None:
        outs = list(outputs) if isinstance(outputs, list | tuple) else [outputs]
        names = [v.name for v in inputs]
        try:
            if None in names or len(set(names)) < len(names):  # the key names inputs by name
                raise Uncacheable("inputs without a name, or with the same name")
            fingerprint = (
                _graph_fingerprint(outs),
                tuple((v.name, _type_fingerprint(v.type)) for v in inputs),
                isinstance(outputs, list | tuple),
                _kwargs_fingerprint(kwargs),
                tuple(
                    (name, str(getattr(pytensor.config, name, None)))
                    for name in ("mode", "linker", "optimizer", "floatX", "cxx")
                ),
            )
        except Uncacheable:
            fingerprint = None
        if fingerprint is not None:
            text = repr(("function", _FUNCTION_FORMAT, fingerprint))
            path = store / f"{hashlib.sha256(text.encode()).hexdigest()}.fn"
            if path.is_file():
                try:
                    with path.open("rb") as handle:
                        fmt, fn = pickle.load(handle)  # our own private folder
                    if fmt == _FUNCTION_FORMAT:
                        return fn
                except Exception:  # unreadable: compile and replace
                    pass
    fn = pytensor.function(inputs, outputs, **kwargs)
    if path is not None:
        try:
            _atomic_write(path, pickle.dumps((_FUNCTION_FORMAT, fn), protocol=-1))
        except (OSError, pickle.PicklingError, TypeError, AttributeError, RecursionError):
            pass
    return fn


def _kwargs_fingerprint(kwargs: dict[str, Any]) -> tuple:
    """``pytensor.function``'s options as plain values; only strings, numbers, booleans and None
    are keyed (``givens``, ``updates`` and the like make the function uncacheable)."""
    out = []
    for name, value in sorted(kwargs.items()):
        if not (value is None or isinstance(value, bool | int | float | str)):
            raise Uncacheable(f"option {name} of type {type(value).__qualname__}")
        out.append((name, type(value).__name__, repr(value)))
    return tuple(out)
