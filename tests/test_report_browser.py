"""The HTML report in headless Chromium: every figure renders with a caption that is not a file
name, each endpoint shows its priors table, no table has more than eight columns, the page is no
wider than a 1280 px viewport, and the page logs no errors.

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
        page = browser.new_page(viewport={"width": 1280, "height": 900})
        page.on("console", lambda m: problems.append(m.text) if m.type == "error" else None)
        page.on("pageerror", lambda e: problems.append(str(e)))
        page.on("request", lambda r: requests.append(r.url))
        page.goto(report.as_uri())
        page.wait_for_load_state("load")
        images = page.evaluate(
            "Array.from(document.images).map(i => [i.alt, i.complete, i.naturalWidth])"
        )
        headings = page.evaluate("Array.from(document.querySelectorAll('h2')).map(h => h.id)")
        captions = page.evaluate(
            "Array.from(document.querySelectorAll('figure')).map(f => "
            "[f.querySelector('img').alt, f.querySelector('figcaption').textContent])"
        )
        priors = page.evaluate(
            "Array.from(document.querySelectorAll('h3.priors')).map(h => [h.id, "
            "Array.from(h.nextElementSibling.querySelectorAll('th')).map(c => c.textContent), "
            "Array.from(h.nextElementSibling.querySelectorAll('tbody tr')).map(r => "
            "Array.from(r.cells).map(c => c.textContent))])"
        )
        widest = page.evaluate(
            "Math.max(...Array.from(document.querySelectorAll('table'))"
            ".map(t => t.rows[0].cells.length))"
        )
        width = page.evaluate(
            "[document.documentElement.scrollWidth, document.documentElement.clientWidth]"
        )
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
    # every figure has a caption that says what it shows (not its file name)
    assert len(captions) == figures
    for alt, caption in captions:
        assert caption.strip() and caption.strip() != alt.replace("_", " "), alt
        assert len(caption) > 60, (alt, caption)
    # the priors of the analysis: one table per endpoint, every prior of the registry
    from trial_reanalysis.models.rate import burden_reduction_priors

    ((pid, header, rows),) = priors
    assert pid == "priors-burden_reduction"
    assert header == ["prior", "primary", "family", "parameters", "ESS (patients)", "rationale"]
    assert sorted(r[0] for r in rows) == sorted(burden_reduction_priors())
    by_name = {r[0]: r for r in rows}
    assert by_name["uniform"][1] == "yes" and by_name["uniform"][4] == "2"  # Beta(1, 1): a + b
    assert widest <= 8
    scroll, client = width
    assert scroll <= client + 2, f"the page is {scroll} px wide in a {client} px viewport"
