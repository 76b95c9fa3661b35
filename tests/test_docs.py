"""The documentation: the site builds with ``mkdocs build --strict``, the example notebook runs,
and docs/results-schema.md lists exactly the keys a run of the seed trial writes.

The schema comparison goes both ways: every key path of a real results.json matches a documented
path, and every documented path not marked ``?`` is present. The notation (``<name>``
placeholders, ``{a, b}`` siblings, ``[]`` list elements, ``**``, ``?``) is the one the document
states; it is parsed here on its own, with no help from the package.
"""

from __future__ import annotations

import importlib.util
import json
import os
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

REPO = Path(__file__).resolve().parents[1]
DOCS = REPO / "docs"

Path_ = tuple[str, ...]


# ---------------------------------------------------------------------------------------------
# the documented key paths
# ---------------------------------------------------------------------------------------------


def _split(path: str) -> list[str]:
    """Split a documented path on dots outside ``<...>``; ``a[]`` becomes ``a``, ``[]``."""
    parts, current, depth = [], "", 0
    for ch in path:
        depth += ch == "<"
        depth -= ch == ">"
        if ch == "." and depth == 0:
            parts.append(current)
            current = ""
        else:
            current += ch
    parts.append(current)
    out: list[str] = []
    for part in parts:
        if part.endswith("[]"):
            out.extend([part[:-2], "[]"] if part[:-2] else ["[]"])
        else:
            out.append(part)
    return out


def documented_paths(text: str) -> list[tuple[list[str], bool, str]]:
    """(segments, optional, line) of every path in the "Every key path" block."""
    section = text.split("## Every key path", 1)[1]
    block = section.split("```text\n", 1)[1].split("```", 1)[0]
    paths = []
    for line in block.splitlines():
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        optional = line.endswith(" ?")
        body = line.removesuffix(" ?").strip()
        if "{" in body:
            head, inside = body.split("{", 1)
            assert inside.endswith("}"), line
            names = [n.strip() for n in inside[:-1].split(",")]
            expanded = [head + n for n in names]
        else:
            expanded = [body]
        paths.extend((_split(p), optional, line) for p in expanded)
    return paths


def _segment_regex(segment: str) -> re.Pattern[str]:
    pieces = re.split(r"(<[^>]+>)", segment)
    return re.compile("".join(".+" if p.startswith("<") else re.escape(p) for p in pieces))


def _matches(pattern: list[str], actual: Path_, *, prefix: bool = False) -> bool:
    """Whether ``actual`` is the documented ``pattern`` (or, with ``prefix``, a proper start of
    it: a null or empty value ends a path early)."""
    for i, seg in enumerate(pattern):
        if seg == "**":
            return len(actual) > i
        if i == len(actual):
            return prefix
        if not _segment_regex(seg).fullmatch(actual[i]):
            return False
    return len(actual) == len(pattern) and not prefix


def actual_paths(results: dict[str, Any]) -> list[tuple[Path_, bool]]:
    """(path, empty) of every leaf of results.json: dict keys, ``[]`` for an element of a list of
    objects; ``empty`` when the leaf is null or an empty object or list."""
    out: list[tuple[Path_, bool]] = []

    def walk(x: Any, path: Path_) -> None:
        if isinstance(x, dict) and x:
            for k, v in x.items():
                walk(v, (*path, k))
        elif isinstance(x, list) and x and all(isinstance(v, dict) for v in x):
            for v in x:
                walk(v, (*path, "[]"))
        else:
            out.append((path, x is None or x == {} or x == []))

    walk(results, ())
    return out


def test_the_notation_is_parsed_as_documented() -> None:
    text = "## Every key path\n\n```text\na.<k>.{b, c} ?\nd[].e\nf.** ?\n# note\n```\n"
    parsed = documented_paths(text)
    assert [(p, o) for p, o, _ in parsed] == [
        (["a", "<k>", "b"], True),
        (["a", "<k>", "c"], True),
        (["d", "[]", "e"], False),
        (["f", "**"], True),
    ]
    assert _matches(["a", "<k>", "b"], ("a", "log, n=48, censored 0%-20%", "b"))
    assert not _matches(["a", "<k>", "b"], ("a", "x", "c"))
    assert _matches(["x", "power at <p1>"], ("x", "power at 0.2"))
    assert not _matches(["x", "power at <p1>"], ("x", "type I error at 0.05"))
    assert _matches(["a", "b", "c"], ("a", "b"), prefix=True)
    assert not _matches(["a", "b"], ("a", "b", "c"))
    assert _matches(["f", "**"], ("f", "g", "h")) and not _matches(["f", "**"], ("f",))


@pytest.fixture(scope="module")
def seed_results(tmp_path_factory) -> dict[str, Any]:
    """results.json of a real run of the seed trial, every endpoint."""
    from trial_reanalysis.analysis.run import RunConfig, run_analysis

    out = tmp_path_factory.mktemp("seed") / "results"
    run_analysis(RunConfig(out_dir=out, workers=2))
    return json.loads((out / "results.json").read_text())


def test_every_key_the_run_writes_is_documented(seed_results: dict[str, Any]) -> None:
    documented = documented_paths((DOCS / "results-schema.md").read_text())
    patterns = [p for p, _, _ in documented]
    missing = sorted(
        ".".join(path)
        for path, empty in actual_paths(seed_results)
        if not any(
            _matches(p, path) or (empty and _matches(p, path, prefix=True)) for p in patterns
        )
    )
    assert not missing, f"undocumented keys in results.json: {missing[:20]}"


def test_every_documented_key_is_written(seed_results: dict[str, Any]) -> None:
    assert {"rates", "time_to_event", "comparisons", "followup_priors", "followup_planning"} <= set(
        seed_results
    )
    leaves = actual_paths(seed_results)
    absent = [
        line
        for pattern, optional, line in documented_paths((DOCS / "results-schema.md").read_text())
        if not optional
        and not any(
            _matches(pattern, path) or (empty and _matches(pattern, path, prefix=True))
            for path, empty in leaves
        )
    ]
    assert not absent, f"documented but not written: {absent}"


def test_placeholders_stand_for_values_the_run_chose(seed_results: dict[str, Any]) -> None:
    """The keys that embed values are there with the seed's values (p0 = 0.05, p1 = 0.2; the
    PFS scenario labels; survival times 3, 6, 12 months)."""
    row = seed_results["followup_planning"][0]
    assert "its type I error at 0.05" in row and "its power at 0.2" in row
    pfs = seed_results["time_to_event"]["pfs"]
    assert "log, n=48, censored 0%-20%" in pfs["scenarios"]
    assert set(pfs["posterior"]["weakly_informative"]["survival_at"]) == {"3", "6", "12"}
    events = seed_results["comparisons"]["prior_therapy"]["events"]
    assert set(events["ppe"]["priors"]["weakly_informative"]["parameters"]) == {
        "baseline_mu",
        "baseline_sigma",
        "log_or_mu",
        "log_or_sigma",
    }
    assert set(seed_results["followup_priors"]) == {
        "burden_reduction",
        "pfs",
        "ppe",
        "mucositis",
        "rash",
    }


# ---------------------------------------------------------------------------------------------
# the site and the notebook
# ---------------------------------------------------------------------------------------------


def _env() -> dict[str, str]:
    """The environment of a child process that imports this checkout's code."""
    path = os.environ.get("PYTHONPATH")
    return {**os.environ, "PYTHONPATH": str(REPO) + (os.pathsep + path if path else "")}


def test_site_builds_strict(tmp_path: Path) -> None:
    if (
        importlib.util.find_spec("mkdocs") is None
        or importlib.util.find_spec("mkdocstrings") is None
    ):
        pytest.skip("mkdocs and mkdocstrings are not installed")
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "mkdocs",
            "build",
            "--strict",
            "-q",
            "-f",
            str(REPO / "mkdocs.yml"),
            "-d",
            str(tmp_path / "site"),
        ],
        cwd=REPO,
        env=_env(),
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stderr[-4000:]
    site = tmp_path / "site"
    for page in (
        "index.html",
        "tutorial/index.html",
        "api/index.html",
        "results-schema/index.html",
    ):
        assert (site / page).is_file(), page
    api = (site / "api" / "index.html").read_text()
    assert "list_priors" in api and "Reanalysis" in api and "write_report" in api


def test_example_notebook_runs(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """docs/example.ipynb executed by a kernel of this interpreter (the ipykernel of the venv
    provides ``python3``; jupyter_client starts it with sys.executable)."""
    import nbformat
    from nbclient import NotebookClient

    for key, value in _env().items():
        monkeypatch.setenv(key, value)
    nb = nbformat.read(DOCS / "example.ipynb", as_version=4)
    NotebookClient(
        nb, timeout=600, kernel_name="python3", resources={"metadata": {"path": str(tmp_path)}}
    ).execute()
    outputs = [o for cell in nb.cells if cell.cell_type == "code" for o in cell.outputs]
    assert not [o for o in outputs if o.output_type == "error"]
    images = [o for o in outputs if "image/png" in o.get("data", {})]
    assert len(images) >= 2  # the report's figure and the ArviZ posterior plot
    html = [o["data"]["text/html"] for o in outputs if "text/html" in o.get("data", {})]
    assert any("reported" in h and "bayesian" in h for h in html)  # the comparison table
    written = json.loads((tmp_path / "notebook_results" / "results.json").read_text())
    rate = written["rates"]["burden_reduction"]
    assert (rate["reconstruction"]["responders"], rate["reconstruction"]["evaluable"]) == (14, 47)
