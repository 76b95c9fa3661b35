"""The built wheel installs one import package, trial_reanalysis (no top-level `analysis` or
`models` to shadow a user's own), with its data, and `reanalysis run` works from it outside the
checkout (issue: a package people install)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

from trial_reanalysis.analysis.paths import PACKAGE_ROOT


@pytest.fixture(scope="module")
def wheel(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("wheel")
    build = subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "-q", str(PACKAGE_ROOT), "-w", out],
        capture_output=True,
        text=True,
        timeout=300,
    )
    if build.returncode != 0:
        pytest.fail(f"building the wheel failed:\n{build.stderr[-2000:]}")
    (found,) = out.glob("trial_reanalysis-*.whl")
    return found


def test_wheel_holds_one_package_with_its_data(wheel: Path) -> None:
    names = zipfile.ZipFile(wheel).namelist()
    tops = {n.split("/")[0] for n in names if not n.split("/")[0].endswith(".dist-info")}
    assert tops == {"trial_reanalysis"}
    for needed in (
        "trial_reanalysis/data/trials/sorafenib_mrcc_2010.toml",
        "trial_reanalysis/data/calibration/pfs_dirichlet.json",
        "trial_reanalysis/data/historical/mrcc_after_vegf.toml",
        "trial_reanalysis/analysis/report/templates/report.html.j2",
        "trial_reanalysis/models/rate.py",
    ):
        assert needed in names, needed


def test_installed_wheel_runs_outside_the_checkout(wheel: Path, tmp_path: Path) -> None:
    """Installed (without dependencies: this venv has them) into a folder on PYTHONPATH and run
    from an unrelated folder holding a user's own `analysis.py` and `models/`, which must not
    shadow anything."""
    site = tmp_path / "site"
    subprocess.run(
        [sys.executable, "-m", "pip", "install", "--no-deps", "-q", "--target", site, wheel],
        check=True,
        timeout=300,
    )
    assert not (site / "analysis").exists() and not (site / "models").exists()
    work = tmp_path / "work"
    (work / "models").mkdir(parents=True)
    (work / "analysis.py").write_text("raise SystemExit('the user module was imported')\n")
    (work / "models" / "__init__.py").write_text("raise SystemExit('user models imported')\n")
    env = {**os.environ, "PYTHONPATH": str(site)}
    probe = subprocess.run(
        [sys.executable, "-c", "import trial_reanalysis as t; print(t.__file__)"],
        cwd=work,
        env=env,
        capture_output=True,
        text=True,
        check=True,
    )
    assert probe.stdout.strip().startswith(str(site))
    run = subprocess.run(
        [
            sys.executable,
            "-m",
            "trial_reanalysis.analysis.cli",
            "run",
            "--out",
            "out",
            "--endpoint",
            "burden_reduction",
            "--workers",
            "1",
        ],
        cwd=work,
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert run.returncode == 0, run.stderr[-3000:]
    results = json.loads((work / "out" / "results.json").read_text())
    assert results["trial"]["id"] == "sorafenib-mrcc-2010"
    assert results["rates"]["burden_reduction"]["reconstruction"]["evaluable"] == 47
