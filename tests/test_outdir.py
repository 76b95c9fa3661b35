"""Output folders cannot lose data: what `run --out` refuses, what it replaces, and how a killed,
failed or concurrent run leaves the folder (issue: nothing lost, nothing injected)."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

import trial_reanalysis.analysis.run
from trial_reanalysis.analysis.errors import InputError
from trial_reanalysis.analysis.outdir import (
    MANIFEST,
    MARKER,
    OutputBusyError,
    check_output_dir,
    clean_stale,
    make_staging_dir,
    output_lock,
    swap_into_place,
    write_manifest,
)
from trial_reanalysis.analysis.paths import PACKAGE_ROOT as REPO_ROOT
from trial_reanalysis.analysis.run import RunConfig, run_analysis
from trial_reanalysis.analysis.trials.load import DEFAULT_TRIAL

ECHO = ("tests.echo_endpoint", "analyse")


@pytest.fixture
def echo(monkeypatch: pytest.MonkeyPatch) -> RunConfig:
    """A run of the fast echo endpoint (no model fits)."""
    monkeypatch.setattr(
        trial_reanalysis.analysis.run,
        "KINDS",
        {**trial_reanalysis.analysis.run.KINDS, "echo": ECHO},
    )
    return RunConfig(endpoints=("echo",), workers=1)


def _user_folder(tmp_path: Path) -> Path:
    folder = tmp_path / "mine"
    (folder / "sub").mkdir(parents=True)
    (folder / "thesis.tex").write_text("years of work")
    (folder / "sub" / "data.csv").write_text("1,2\n")
    return folder


def _snapshot(folder: Path) -> dict[str, str]:
    return {str(p.relative_to(folder)): p.read_text() for p in folder.rglob("*") if p.is_file()}


def test_a_folder_with_other_files_is_refused_and_kept(tmp_path: Path, echo: RunConfig) -> None:
    folder = _user_folder(tmp_path)
    before = _snapshot(folder)
    with pytest.raises(InputError, match=r"did not write \(sub/data\.csv, thesis\.tex\)"):
        run_analysis(RunConfig(**{**echo.__dict__, "out_dir": folder}))
    assert _snapshot(folder) == before
    link = tmp_path / "link"
    link.symlink_to(folder)
    with pytest.raises(InputError, match="did not write"):
        run_analysis(RunConfig(**{**echo.__dict__, "out_dir": link}))
    assert _snapshot(folder) == before and link.is_symlink()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["link", "mine"]  # no lock, no staging


def test_places_that_are_never_an_output_folder(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    trial = tmp_path / "trials" / "t.toml"
    trial.parent.mkdir()
    trial.write_text(DEFAULT_TRIAL.read_text())
    monkeypatch.chdir(tmp_path)
    cases = {
        Path("."): "the current folder",
        tmp_path.parent: "holds the current folder",
        Path("/"): "the file-system root",
        REPO_ROOT: "the repository root",
        trial.parent: "holds the input file",
        Path("trials/.."): "the current folder",
    }
    for out, why in cases.items():
        with pytest.raises(InputError, match=why):
            check_output_dir(out, [trial])
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    (tmp_path / "home").mkdir()
    with pytest.raises(InputError, match="your home folder"):
        check_output_dir(tmp_path / "home", [trial])
    a_file = tmp_path / "results.txt"
    a_file.write_text("x")
    with pytest.raises(InputError, match="exists and is not a folder"):
        check_output_dir(a_file, [trial])
    assert a_file.read_text() == "x"
    assert check_output_dir(Path("new"), [trial]) == tmp_path / "new"


def test_an_earlier_output_is_replaced_whole(tmp_path: Path, echo: RunConfig) -> None:
    out = tmp_path / "out"
    config = RunConfig(**{**echo.__dict__, "out_dir": out})
    first = run_analysis(config)
    manifest = json.loads((out / MANIFEST).read_text())
    assert manifest["files"] == first.files and "report.html" in first.files
    (out / "tables" / "stale_from_an_older_run.csv").write_text("x\n")
    listed = json.loads((out / MANIFEST).read_text())
    listed["files"].append("tables/stale_from_an_older_run.csv")
    (out / MANIFEST).write_text(json.dumps(listed))
    run_analysis(config)  # accepted: every file is listed; the stale one goes with the old run
    assert not (out / "tables" / "stale_from_an_older_run.csv").exists()
    (out / "notes.txt").write_text("mine")  # a user file put in later: now refused
    with pytest.raises(InputError, match=r"did not write \(notes\.txt\)"):
        run_analysis(config)
    assert (out / "notes.txt").read_text() == "mine"
    (out / "notes.txt").unlink()
    (out / MANIFEST).write_text("not json")  # a damaged manifest vouches for nothing
    with pytest.raises(InputError, match="did not write"):
        run_analysis(config)


def test_an_output_of_an_older_version_without_manifest_is_recognised(tmp_path: Path) -> None:
    out = tmp_path / "results"
    (out / "tables").mkdir(parents=True)
    (out / "results.json").write_text(json.dumps({"provenance": {"seed": 1}}))
    (out / "tables" / "x_comparison.csv").write_text("a\n")
    assert check_output_dir(out) == out
    (out / "results.json").write_text(json.dumps({"something": "else"}))
    with pytest.raises(InputError, match="did not write"):
        check_output_dir(out)
    (out / "results.json").write_text(json.dumps({"provenance": {}}))
    (out / "tables" / "x.xlsx").write_text("not ours")
    with pytest.raises(InputError, match=r"did not write \(results\.json, tables/x\.xlsx"):
        check_output_dir(out)


def test_failed_swap_restores_the_old_results(tmp_path: Path, monkeypatch) -> None:
    out = tmp_path / "out"
    out.mkdir()
    (out / "results.json").write_text("old")
    write_manifest(out)
    staged = make_staging_dir(out)
    (staged / "results.json").write_text("new")
    real_rename = Path.rename

    def failing_rename(self: Path, target: Path) -> Path:
        if self == staged:
            raise OSError(28, "No space left on device")
        return real_rename(self, target)

    monkeypatch.setattr(Path, "rename", failing_rename)
    with pytest.raises(OSError, match="No space"):
        swap_into_place(staged, out)
    monkeypatch.undo()
    assert (out / "results.json").read_text() == "old" and not (out / MARKER).exists()
    swap_into_place(staged, out)
    assert (out / "results.json").read_text() == "new"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out"]


def test_what_a_killed_run_left_is_cleaned(tmp_path: Path) -> None:
    """Staging folders of dead processes go; a backup is restored when the output is missing
    (killed between the two renames); folders of live processes and of others stay."""
    out = tmp_path / "out"
    dead = subprocess.run(
        [sys.executable, "-c", "import os; print(os.getpid())"],
        check=True,
        capture_output=True,
        text=True,
    )
    pid = int(dead.stdout)
    stale = tmp_path / f".out.tmp-{pid}-0"
    stale.mkdir()
    (stale / MARKER).write_text("")
    backup = tmp_path / f".out.old-{pid}"
    backup.mkdir()
    (backup / MARKER).write_text("")
    (backup / "results.json").write_text("old")
    live = tmp_path / f".out.tmp-{os.getppid()}-0"
    live.mkdir()
    (live / MARKER).write_text("")
    unmarked = tmp_path / f".out.tmp-{pid}-1"
    unmarked.mkdir()
    done = clean_stale(out)
    assert len(done) == 2 and not stale.exists() and not backup.exists()
    assert (out / "results.json").read_text() == "old" and not (out / MARKER).exists()
    assert live.exists() and unmarked.exists()


def test_a_second_run_into_the_same_folder_is_refused(tmp_path: Path) -> None:
    out = tmp_path / "out"
    with output_lock(out):
        with pytest.raises(OutputBusyError, match="another reanalysis run is writing"):
            with output_lock(out):
                pass
    with output_lock(out):  # released, and the lock file removed
        pass
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize("how", [signal.SIGKILL, signal.SIGTERM])
def test_a_killed_run_leaves_no_process(tmp_path: Path, echo: RunConfig, how: int) -> None:
    """SIGKILL or SIGTERM to `reanalysis run` while its workers analyse (both started, the staging
    folder made, one second more): its worker processes end too (they watch their parent);
    SIGTERM cleans up at once (exit 143), and what SIGKILL left beside --out is cleaned by the next
    run. (A fixed 10 s became the end of a warm run, where the interpreter's shutdown restores the
    default SIGTERM action: the kill must land mid-run.)"""
    out = tmp_path / "out"
    command = [
        sys.executable,
        "-m",
        "trial_reanalysis.analysis.cli",
        "run",
        "--out",
        str(out),
        "--workers",
        "2",
    ]
    env = {**os.environ, "PYTHONPATH": str(REPO_ROOT)}
    proc = subprocess.Popen(
        command,
        cwd=tmp_path,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    try:
        start = time.monotonic()
        children: set[int] = set()
        while time.monotonic() - start < 60:
            children |= _children(proc.pid)
            workers = [c for c in children if _is_worker(c, proc.pid)]
            if len(workers) >= 2 and list(tmp_path.glob(".out.tmp-*")):
                break
            time.sleep(0.2)
        assert len(workers) == 2, "the run's two worker processes were not found"
        time.sleep(1.0)  # the workers are importing or analysing: a warm run takes about 10 s
        # (short-lived descendants, such as the linker query of a library's import, may be gone)
        assert proc.poll() is None and all(_running(w) for w in workers), "the run ended too soon"
        children |= _children(proc.pid)  # the fork server, the resource tracker, the workers
        os.kill(proc.pid, how)
        assert proc.wait(timeout=30) == (-signal.SIGKILL if how == signal.SIGKILL else 143)
        deadline = time.monotonic() + 15
        while time.monotonic() < deadline and any(_running(c) for c in children):
            time.sleep(0.2)
        assert not [c for c in children if _running(c)], "a process outlived the killed run"
    finally:  # a failed assertion must not leave the run, or any process of its group, behind
        try:
            os.killpg(proc.pid, signal.SIGKILL)
        except ProcessLookupError:  # the group is empty: all ended
            pass
        proc.wait(timeout=30)
    staging = list(tmp_path.glob(".out.tmp-*"))
    assert bool(staging) == (how == signal.SIGKILL), staging
    run_analysis(RunConfig(**{**echo.__dict__, "out_dir": out}))  # the next run cleans up
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out"]


def _children(pid: int) -> set[int]:
    """Every descendant of ``pid``: the workers are the children of the fork server, itself a
    child of the run (spawned workers are the run's own children)."""
    found: set[int] = set()
    for task in Path(f"/proc/{pid}/task").glob("*"):
        try:
            found |= {int(c) for c in (task / "children").read_text().split()}
        except OSError:
            pass
    for child in list(found):
        found |= _children(child)
    return found


def _is_worker(pid: int, run: int) -> bool:
    """A spawned worker (its command line), or one the fork server forked (the server's command
    line, but a child of the server rather than of the run)."""
    try:
        command = Path(f"/proc/{pid}/cmdline").read_bytes()
        parent = int(Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[1])
    except (OSError, ValueError):
        return False
    return b"spawn_main" in command or (b"multiprocessing.forkserver" in command and parent != run)


def _running(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state != "Z"


def test_only_the_default_run_refreshes_the_committed_figures() -> None:
    from trial_reanalysis.analysis.cli import committed_figures_dir
    from trial_reanalysis.analysis.constants import DEFAULT_SEED

    figures = REPO_ROOT / "figures"
    assert committed_figures_dir(None, DEFAULT_SEED, None, None) == figures
    assert committed_figures_dir(None, DEFAULT_SEED + 1, None, None) is None
    # any other choice of priors or planners' section keeps the committed figures too
    prior = ["burden_reduction=jeffreys"]
    assert committed_figures_dir(None, DEFAULT_SEED, None, None, priors=prior) is None
    assert committed_figures_dir(None, DEFAULT_SEED, None, None, planners=False) is None
    assert committed_figures_dir(None, DEFAULT_SEED, None, None, historical=Path("h.toml")) is None
    assert committed_figures_dir(Path("other.toml"), DEFAULT_SEED, None, None) is None
    assert committed_figures_dir(None, DEFAULT_SEED, ["pfs"], None) is None
    assert committed_figures_dir(None, DEFAULT_SEED + 1, None, True) == figures
    assert committed_figures_dir(None, DEFAULT_SEED, None, False) is None
