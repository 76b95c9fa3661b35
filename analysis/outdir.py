"""Output folders that cannot lose data: what ``run --out DIR`` may replace, and how.

Rules (checked before any work starts; a refusal is an :class:`InputError`, exit code 2):

- ``DIR`` may be new, an empty folder, or a folder this package wrote before: one holding the
  manifest ``.reanalysis-manifest.json`` and no file the manifest does not list. A folder written
  by an older version (no manifest) is recognised only when every file in it has the layout a run
  writes and its ``results.json`` carries the run's provenance. Anything else is refused: a run
  never deletes a file it did not write.
- Refused outright: an existing file, ``/``, the home folder, the current folder, the repository
  root, and any folder that holds an input file (the trial file, its CSVs) or the current folder.
- The new results are written into a temporary folder beside ``DIR`` and swapped in by two
  renames (old -> backup, new -> ``DIR``) with SIGINT/SIGTERM blocked between them; if the second
  rename fails, the backup is renamed back. So a failure at any point leaves the old results or
  the new ones, whole.
- ``reanalysis batch --out DIR`` writes ``DIR/<stem>`` per trial file, each a run folder under the
  rules above; ``DIR`` itself is never replaced, so only its place is checked
  (:func:`check_batch_dir`).
- A lock (``fcntl.flock`` on a hidden ``.DIR.lock`` file beside ``DIR``, released by the kernel
  when the process dies) makes a second concurrent run into the same folder stop at once with a
  clear message instead of racing on the final rename.
- Temporary and backup folders of an earlier run that was killed (their process is gone) are
  cleaned when found: a stale temporary folder is removed, a stale backup is restored when ``DIR``
  itself is missing (the kill fell between the two renames) and removed otherwise. Both carry a
  marker file, so only folders this package made are touched.
"""

from __future__ import annotations

import contextlib
import errno
import fcntl
import json
import os
import shutil
import signal
from collections.abc import Iterable, Iterator
from pathlib import Path

from trial_reanalysis.analysis.errors import InputError, ReanalysisError

MANIFEST = ".reanalysis-manifest.json"
MARKER = ".reanalysis-incomplete"  # inside temporary and backup folders: "this package made me"
_PRODUCER = "trial-reanalysis"
# What a run of an older version (without manifest) wrote: top-level files and folder patterns.
_LEGACY_TOP = {"results.json", "report.md", "report.html", "followup_priors.json"}
_LEGACY_DIRS = {"tables": ".csv", "posteriors": ".nc", "figures": ".png"}


class OutputBusyError(ReanalysisError):
    """Another run is writing the same output folder (exit code 1: retry later)."""


def _is_ancestor_or_same(folder: Path, path: Path) -> bool:
    return folder == path or folder in path.parents


def _repo_root(start: Path) -> Path | None:
    for folder in (start, *start.parents):
        if (folder / ".git").exists():
            return folder
    return None


def check_output_dir(out: Path, inputs: Iterable[Path] = ()) -> Path:
    """The resolved output folder, if a run may write it; otherwise :class:`InputError`.

    Args:
        out: the ``--out`` folder as given (relative to the current folder; symlinks followed).
        inputs: files the run reads (trial file, CSVs): their folders are never replaced.
    """
    given = out
    out = _check_place(out, inputs)
    if out.is_dir():
        foreign = _files_not_written_by_us(out)
        if foreign:
            shown = ", ".join(foreign[:3]) + (
                f" and {len(foreign) - 3} more" if len(foreign) > 3 else ""
            )
            raise InputError(
                "--out",
                str(given),
                f"holds files this package did not write ({shown}); a run replaces its output "
                "folder, so name a new or empty folder, or move those files away",
            )
    return out


def _check_place(out: Path, inputs: Iterable[Path]) -> Path:
    """The resolved ``out`` unless it is a file, a folder never to replace (the root, the home
    folder, the current folder or one holding it, the repository root) or holds an input file."""
    given = out
    if out.exists() and not out.is_dir():
        raise InputError("--out", str(given), "exists and is not a folder; choose a folder")
    out = out.resolve()
    forbidden = {Path("/"): "the file-system root", Path.cwd().resolve(): "the current folder"}
    home = os.environ.get("HOME")
    if home:
        forbidden[Path(home).resolve()] = "your home folder"
    repo = _repo_root(Path(__file__).resolve().parent)
    if repo is not None:
        forbidden[repo.resolve()] = "the repository root"
    for folder, what in forbidden.items():
        if out == folder:
            raise InputError("--out", str(given), f"is {what}; name a new folder such as results")
    if _is_ancestor_or_same(out, Path.cwd().resolve()):
        raise InputError("--out", str(given), "holds the current folder; name a new folder")
    for path in inputs:
        if _is_ancestor_or_same(out, Path(path).resolve()):
            raise InputError(
                "--out",
                str(given),
                f"holds the input file {path}; name a new folder for the results",
            )
    return out


def check_batch_dir(out: Path, inputs: Iterable[Path] = ()) -> Path:
    """The resolved folder of ``reanalysis batch --out DIR``, if a batch may write into it.

    A batch never replaces or empties ``DIR`` itself: it writes one run folder per trial file,
    ``DIR/<stem>``, each checked by :func:`check_output_dir` (new, empty or written by a run).
    So ``DIR`` may hold other files; it is refused (:class:`InputError`) where a run's folder is
    refused whatever it holds: an existing file, the root, the home folder, the current folder
    or one holding it, the repository root, or a folder holding an input file (a trial file).
    """
    return _check_place(out, inputs)


def _files_not_written_by_us(out: Path) -> list[str]:
    """Files (and links) in ``out`` that no earlier run listed as its own, sorted."""
    present = sorted(
        str(p.relative_to(out)) for p in out.rglob("*") if p.is_file() or p.is_symlink()
    )
    if not present:
        return []
    manifest = out / MANIFEST
    if manifest.is_file() and not manifest.is_symlink():
        try:
            listed = json.loads(manifest.read_text())
            ours = set(listed["files"]) if listed.get("producer") == _PRODUCER else set()
        except (OSError, ValueError, KeyError, TypeError):
            ours = set()
        if ours:
            ours |= {MANIFEST, MARKER}
            return [f for f in present if f not in ours]
        return present
    if _looks_like_legacy_output(out, present):
        return []
    return present


def _looks_like_legacy_output(out: Path, present: list[str]) -> bool:
    """An output folder of a version that wrote no manifest: only the run's own layout."""
    for rel in present:
        parts = Path(rel).parts
        if len(parts) == 1 and parts[0] in _LEGACY_TOP:
            continue
        if len(parts) == 2 and rel.endswith(_LEGACY_DIRS.get(parts[0], "\0")):
            continue
        return False
    try:
        results = json.loads((out / "results.json").read_text())
    except (OSError, ValueError):
        return False
    return isinstance(results, dict) and "provenance" in results


def write_manifest(folder: Path) -> list[str]:
    """List every file in ``folder`` (relative paths) in its manifest; returns the list."""
    files = sorted(str(p.relative_to(folder)) for p in folder.rglob("*") if p.is_file())
    files = [f for f in files if f not in (MANIFEST, MARKER)]
    text = json.dumps({"producer": _PRODUCER, "files": files}, indent=1) + "\n"
    (folder / MANIFEST).write_text(text)
    return files


def make_staging_dir(out: Path) -> Path:
    """A new temporary folder beside ``out``, named after this process and marked as ours."""
    base = out.parent / f".{out.name}.tmp-{os.getpid()}"
    for i in range(1000):
        candidate = base.with_name(f"{base.name}-{i}")
        try:
            candidate.mkdir()
        except FileExistsError:
            continue
        (candidate / MARKER).write_text("a reanalysis run writes here; removed when it ends\n")
        return candidate
    raise OSError(errno.EEXIST, f"no free temporary folder name beside {out}")


def _pid_of(folder: Path, out: Path) -> int | None:
    """The process id in a temporary (``.NAME.tmp-PID-i``) or backup (``.NAME.old-PID``) name."""
    for tag in (".tmp-", ".old-"):
        prefix = f".{out.name}{tag}"
        if folder.name.startswith(prefix):
            head = folder.name[len(prefix) :].split("-")[0]
            return int(head) if head.isdigit() else None
    return None


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def clean_stale(out: Path) -> list[str]:
    """Remove (or restore) what an earlier, killed run left beside ``out``; returns what it did.

    Only folders named like ours, holding our marker, whose process is gone, are touched. Call it
    while holding the lock of ``out``.
    """
    done = []
    if not out.parent.is_dir():
        return done
    for folder in sorted(out.parent.glob(f".{out.name}.*")):
        pid = _pid_of(folder, out)
        if pid is None or pid == os.getpid() or _alive(pid) or not (folder / MARKER).exists():
            continue
        if ".old-" in folder.name and not out.exists():
            (folder / MARKER).unlink()
            folder.rename(out)
            done.append(f"restored {out} from {folder.name} (an earlier run was killed)")
        else:
            shutil.rmtree(folder, ignore_errors=True)
            done.append(f"removed {folder.name} (left by an earlier run that was killed)")
    return done


@contextlib.contextmanager
def output_lock(out: Path) -> Iterator[None]:
    """Hold an exclusive lock on ``out`` for the whole run; another holder -> OutputBusyError.

    The lock file is removed when the run ends. A run that opened it just before it was removed
    finds, once it holds the lock, that the path no longer names its file, and tries again.
    """
    out.parent.mkdir(parents=True, exist_ok=True)
    lock_path = out.parent / f".{out.name}.lock"
    while True:
        fd = os.open(lock_path, os.O_RDWR | os.O_CREAT, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(fd)
            raise OutputBusyError(
                f"another reanalysis run is writing {out}; wait for it to finish or choose "
                "another --out"
            ) from None
        try:
            same = os.stat(lock_path).st_ino == os.fstat(fd).st_ino
        except FileNotFoundError:
            same = False
        if same:
            break
        os.close(fd)
    try:
        yield
    finally:
        with contextlib.suppress(OSError):
            lock_path.unlink()
        os.close(fd)  # closing releases the lock


@contextlib.contextmanager
def _signals_blocked() -> Iterator[None]:
    """SIGINT and SIGTERM wait (are delivered after) while the block runs, in the main thread."""
    mask = {signal.SIGINT, signal.SIGTERM}
    try:
        old = signal.pthread_sigmask(signal.SIG_BLOCK, mask)
    except (ValueError, OSError):  # pragma: no cover - platforms without signal masks
        yield
        return
    try:
        yield
    finally:
        signal.pthread_sigmask(signal.SIG_SETMASK, old)


def swap_into_place(staged: Path, out: Path) -> None:
    """Replace ``out`` by the finished ``staged`` folder: the old results or the new, whole.

    The old folder is renamed to a backup, the new one renamed onto ``out`` (restoring the backup
    if that fails), then the backup is removed. Interrupts wait until both renames are done.
    """
    (staged / MARKER).unlink(missing_ok=True)
    backup = out.with_name(f".{out.name}.old-{os.getpid()}")
    with _signals_blocked():
        had_old = out.exists()
        if had_old:  # marked first, so that a kill after the rename leaves a restorable backup
            (out / MARKER).write_text("the previous results, kept until the new ones are in\n")
            out.rename(backup)
        try:
            staged.rename(out)
        except BaseException:
            if had_old:
                (backup / MARKER).unlink(missing_ok=True)
                backup.rename(out)
            raise
    if had_old:
        shutil.rmtree(backup, ignore_errors=True)
