"""Many trial files in one go, each model compiled once: :func:`run_batch`.

A plain loop of ``reanalysis run`` starts a new process per file, and every process imports PyMC
again (about 3 s) and loads or compiles its models. Here a few long-lived processes (or this
process) take the files one after another: each process imports once, compiles each model at most
once (the endpoint modules keep their compiled models for the life of the process; the
cross-process cache of :mod:`.inference.model_cache` serves the others), and every file's run is
exactly ``run_analysis`` with ``workers=1`` — same numbers as a run of that file alone with the
same seed, written the same way (atomically) into ``OUT/<file stem>/``.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Sequence
from concurrent.futures import FIRST_COMPLETED, Future, wait
from dataclasses import replace
from pathlib import Path

from trial_reanalysis.analysis.constants import DEFAULT_SEED
from trial_reanalysis.analysis.errors import InputError
from trial_reanalysis.analysis.inference.executors import process_pool
from trial_reanalysis.analysis.run import (
    RunConfig,
    RunOutput,
    _safe_to_spawn,
    run_analysis,
    worker_modules,
)


def batch_configs(
    paths: Sequence[str | Path],
    out_dir: str | Path,
    *,
    seed: int = DEFAULT_SEED,
    allow_failed_diagnostics: bool = False,
    endpoints: Sequence[str] | None = None,
    priors: Sequence[tuple[str, str]] = (),
) -> list[RunConfig]:
    """One run configuration per trial file, writing into ``out_dir/<file stem>``.

    ``priors``: ``(endpoint, prior name)`` pairs, the primary prior chosen in every file (as
    ``--prior`` of ``reanalysis run``: a file that lacks the endpoint or the prior fails with an
    InputError when its turn comes, before its sampling).

    Raises:
        InputError: no file, a file that does not exist, a name starting with '.', or two files
            with the same stem (their outputs would collide); checked before anything runs.
    """
    files = [Path(p) for p in paths]
    if not files:
        raise InputError("batch", "FILES", "no trial file given")
    seen: dict[str, Path] = {}
    for f in files:
        if not f.is_file():
            raise InputError(f, "FILES", "no such file")
        if not f.stem or f.stem.startswith("."):  # "..toml" would write OUT/. = OUT itself
            raise InputError(
                f,
                "FILES",
                "the file name must not start with '.': its output folder OUT/<name> would be "
                "hidden or the batch folder itself; rename the file",
            )
        if f.stem in seen:
            raise InputError(
                f,
                "FILES",
                f"same name as {seen[f.stem]}: both would write {Path(out_dir) / f.stem}",
            )
        seen[f.stem] = f
    return [
        RunConfig(
            trial_path=f,
            out_dir=Path(out_dir) / f.stem,
            seed=seed,
            allow_failed_diagnostics=allow_failed_diagnostics,
            endpoints=tuple(endpoints) if endpoints else None,
            workers=1,
            priors=tuple(priors),
        )
        for f in files
    ]


def run_batch(
    paths: Sequence[str | Path],
    out_dir: str | Path,
    seed: int = DEFAULT_SEED,
    workers: int | None = None,
    *,
    allow_failed_diagnostics: bool = False,
    endpoints: Sequence[str] | None = None,
    priors: Sequence[tuple[str, str]] = (),
    on_error: Callable[[Path, Exception], None] | None = None,
    progress: Callable[[str, int, int], None] | None = None,
    on_done: Callable[[Path, RunOutput], None] | None = None,
) -> list[RunOutput]:
    """Reanalyse every trial file, compiling each model once per process.

    Args:
        paths: trial files (TOML); each writes ``out_dir/<stem>/`` (a complete run folder).
        out_dir: the batch's folder (created if missing).
        seed: the run seed of every file (same seed, same numbers as a single run).
        workers: processes (ending with this one, see ``run_analysis``); default: the number of
            cores, at most one per file, and 1 (this process) where starting them is unsafe (a
            script without a ``__main__`` guard). 1 runs every file here.
        allow_failed_diagnostics: as in ``run_analysis``.
        endpoints: only these endpoint keys, in every file (a file that does not declare one of
            them fails with an InputError); default: every endpoint each file declares.
        priors: ``(endpoint, prior name)`` pairs: the primary prior of that endpoint in every
            file, as ``--prior`` of a single run (a file without it fails with an InputError).
        on_error: called as ``on_error(path, error)`` for a file that fails (bad input, failed
            gates); the batch then goes on. Without it the first failure stops the batch and is
            raised (the files already finished stay written).
        progress: called as ``progress(message, files_done, n_files)``.
        on_done: called as ``on_done(path, output)`` when a file has succeeded (its folder is
            written), so a caller whose ``on_error`` stops the batch still knows what finished.

    Returns:
        The :class:`RunOutput` of each file that succeeded, in the order of ``paths``.

    Raises:
        InputError: see :func:`batch_configs`; or a file's own error when ``on_error`` is None.
        DiagnosticsError: a file's fit failed its gates (when ``on_error`` is None).
    """
    configs = batch_configs(
        paths,
        out_dir,
        seed=seed,
        allow_failed_diagnostics=allow_failed_diagnostics,
        endpoints=endpoints,
        priors=priors,
    )
    Path(out_dir).mkdir(parents=True, exist_ok=True)
    tell = progress or (lambda *_: None)
    if workers is None:
        workers = min(len(configs), len(os.sched_getaffinity(0))) if _safe_to_spawn() else 1
    outputs: dict[int, RunOutput] = {}

    def finished(i: int, result: RunOutput | BaseException) -> None:
        path = Path(configs[i].trial_path or "")
        if isinstance(result, BaseException):
            if on_error is None or not isinstance(result, Exception):
                raise result
            on_error(path, result)
        else:
            outputs[i] = result
            if on_done is not None:
                on_done(path, result)
        tell(f"{path.name} done", len(outputs), len(configs))

    if workers <= 1 or len(configs) == 1:
        for i, config in enumerate(configs):
            tell(f"analysing {Path(config.trial_path or '').name}", i, len(configs))
            try:
                result: RunOutput | BaseException = run_analysis(config)
            except Exception as exc:  # handed to on_error, or raised by finished()
                result = exc
            finished(i, result)
        return [outputs[i] for i in sorted(outputs)]
    _run_pool(configs, workers, finished, tell)
    return [outputs[i] for i in sorted(outputs)]


def _run_pool(
    configs: list[RunConfig],
    workers: int,
    finished: Callable[[int, RunOutput | BaseException], None],
    tell: Callable[[str, int, int], None],
) -> None:
    """Run the configurations on ``workers`` processes (reused from file to file)."""
    tell(f"analysing {len(configs)} trial files ({workers} processes)", 0, len(configs))
    pool = process_pool(workers, preload=worker_modules())
    try:
        futures: dict[Future, int] = {
            pool.submit(run_analysis, replace(c)): i for i, c in enumerate(configs)
        }
        pending = set(futures)
        while pending:
            done, pending = wait(pending, return_when=FIRST_COMPLETED)
            stop: BaseException | None = None
            # Every finished file is reported (its folder is written) before a failure stops
            # the batch, so the summary never calls a written file "not run".
            for future in sorted(done, key=futures.__getitem__):
                exc = future.exception()
                try:
                    finished(futures[future], exc if exc is not None else future.result())
                except BaseException as raised:  # the first stop wins; the rest still reported
                    stop = stop or raised
            if stop is not None:
                raise stop
    except BaseException:
        for process in list(getattr(pool, "_processes", {}).values()):
            process.terminate()
        pool.shutdown(wait=True, cancel_futures=True)
        raise
    pool.shutdown(wait=True)
