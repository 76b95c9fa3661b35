"""The HTML report in headless Chromium: every figure renders and the page logs no errors.

Needs Debian's `chromium` (`.ci/run` installs it). Without it the test is skipped, unless
REQUIRE_BROWSER=1 (set by `.ci/run`) makes a missing browser a failure.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

from trial_reanalysis.analysis.run import RunConfig, run_analysis

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
FLAGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


@pytest.fixture(scope="module")
def report(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("browser") / "out"
    run_analysis(RunConfig(out_dir=out, seed=5, endpoints=("burden_reduction",)))
    return out / "report.html"


def test_report_renders_every_figure_without_errors(report: Path) -> None:
    if CHROMIUM is None:
        if os.environ.get("REQUIRE_BROWSER") == "1":
            pytest.fail("chromium is required (REQUIRE_BROWSER=1) but not installed")
        pytest.skip("chromium not installed (apt-get install chromium)")
    from playwright.sync_api import sync_playwright

    problems: list[str] = []
    requests: list[str] = []
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, args=FLAGS, headless=True)
        page = browser.new_page()
        page.on("console", lambda m: problems.append(m.text) if m.type == "error" else None)
        page.on("pageerror", lambda e: problems.append(str(e)))
        page.on("request", lambda r: requests.append(r.url))
        page.goto(report.as_uri())
        page.wait_for_load_state("load")
        images = page.evaluate(
            "Array.from(document.images).map(i => [i.alt, i.complete, i.naturalWidth])"
        )
        headings = page.evaluate("Array.from(document.querySelectorAll('h2')).map(h => h.id)")
        browser.close()
    figures = len(list((report.parent / "figures").glob("*.png")))
    assert len(images) == figures >= 4
    broken = [alt for alt, complete, width in images if not (complete and width > 100)]
    assert not broken, f"figures that did not render: {broken}"
    assert not problems, problems
    assert all(u.startswith(("file:", "data:")) for u in requests), "the report fetched the network"
    for section in (
        "data",
        "assumptions",
        "burden_reduction",
        "sensitivity",
        "diagnostics",
        "reproducibility",
    ):
        assert section in headings
