"""The batch (analysis/batch.py): many trial files, each model compiled once per process.

A file's run inside a batch (in a worker process that already analysed another file, so its
compiled model is reused) must write exactly what a run of that file alone writes: results.json
byte for byte. Runs the seed's group comparison only (ported to schema 2 on every branch; the
fastest endpoint), on copies of the seed file.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from trial_reanalysis.analysis.batch import batch_configs, run_batch
from trial_reanalysis.analysis.errors import InputError
from trial_reanalysis.analysis.paths import DEFAULT_TRIAL
from trial_reanalysis.analysis.run import RunConfig, run_analysis

ENDPOINT = ("prior_therapy",)


@pytest.fixture
def copies(tmp_path: Path) -> list[Path]:
    folder = tmp_path / "trials"
    folder.mkdir()
    return [Path(shutil.copy(DEFAULT_TRIAL, folder / f"{name}.toml")) for name in ("a", "b")]


def test_batch_in_worker_processes_writes_what_single_runs_write(
    copies: list[Path], tmp_path: Path
) -> None:
    outputs = run_batch(copies, tmp_path / "batch", workers=2, endpoints=ENDPOINT)
    assert [o.out_dir for o in outputs] == [tmp_path / "batch" / "a", tmp_path / "batch" / "b"]
    single = run_analysis(
        RunConfig(trial_path=copies[0], out_dir=tmp_path / "single", endpoints=ENDPOINT, workers=1)
    )
    expected = (single.out_dir / "results.json").read_bytes()
    assert (tmp_path / "batch" / "a" / "results.json").read_bytes() == expected
    # b is the same trial under another name: the same numbers, its own folder
    assert outputs[1].results["comparisons"] == single.results["comparisons"]
    assert sorted(p.name for p in (tmp_path / "batch").iterdir()) == ["a", "b"]


def test_batch_in_this_process_goes_on_after_a_failure_when_asked(
    copies: list[Path], tmp_path: Path
) -> None:
    bad = copies[0].with_name("broken.toml")
    bad.write_text("schema_version = 2\n[trial\n")  # not TOML
    failed: list[tuple[str, str]] = []
    outputs = run_batch(
        [bad, copies[1]],
        tmp_path / "out",
        workers=1,
        endpoints=ENDPOINT,
        on_error=lambda path, exc: failed.append((path.name, type(exc).__name__)),
    )
    assert failed == [("broken.toml", "InputError")]
    assert [o.out_dir.name for o in outputs] == ["b"]
    assert (tmp_path / "out" / "b" / "results.json").is_file()
    assert not (tmp_path / "out" / "broken").exists()
    with pytest.raises(InputError, match=r"broken\.toml"):
        run_batch([bad], tmp_path / "out2", workers=1, endpoints=ENDPOINT)


def test_batch_refuses_colliding_missing_or_no_files_before_running(
    copies: list[Path], tmp_path: Path
) -> None:
    other = tmp_path / "elsewhere"
    other.mkdir()
    twin = Path(shutil.copy(copies[0], other / "a.toml"))
    with pytest.raises(InputError, match="same name"):
        batch_configs([copies[0], twin], tmp_path / "out")
    with pytest.raises(InputError, match="no such file"):
        batch_configs([tmp_path / "missing.toml"], tmp_path / "out")
    with pytest.raises(InputError, match="no trial file"):
        batch_configs([], tmp_path / "out")
    configs = batch_configs(copies, tmp_path / "out", seed=7, endpoints=ENDPOINT)
    assert [(c.out_dir.name, c.seed, c.workers, c.endpoints) for c in configs] == [
        ("a", 7, 1, ENDPOINT),
        ("b", 7, 1, ENDPOINT),
    ]
    assert not (tmp_path / "out").exists()


def test_a_stop_still_reports_every_file_finished_with_it(monkeypatch, tmp_path) -> None:
    """When one wait returns a failed file and a finished one together, the finished file is
    reported (its folder is written) before the failure stops the batch."""
    import concurrent.futures

    import trial_reanalysis.analysis.batch as batch

    def fake_run(config):
        if config.trial_path.stem == "bad":
            raise ValueError("broken")
        return config.trial_path.stem

    monkeypatch.setattr(
        batch, "process_pool", lambda workers, **_: concurrent.futures.ThreadPoolExecutor(workers)
    )
    monkeypatch.setattr(batch, "run_analysis", fake_run)
    monkeypatch.setattr(batch, "wait", lambda fs, return_when: concurrent.futures.wait(fs))
    files = []
    for name in ("bad", "good"):
        (tmp_path / f"{name}.toml").write_text("")
        files.append(tmp_path / f"{name}.toml")
    done: list[str] = []

    class Stop(Exception):
        pass

    def stop(path, exc):
        raise Stop(path.name)

    with pytest.raises(Stop, match=r"bad\.toml"):
        batch.run_batch(
            files,
            tmp_path / "out",
            workers=2,
            on_error=stop,
            on_done=lambda path, output: done.append(output),
        )
    assert done == ["good"]
