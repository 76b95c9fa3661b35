"""Text from a trial file reaches the report literally: escaped in HTML, one literal line in
Markdown, and printed as typed on the terminal (no rich markup)."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from typer.testing import CliRunner

import trial_reanalysis.analysis.run
from trial_reanalysis.analysis.cli import app
from trial_reanalysis.analysis.report.render import md_code, md_escape
from trial_reanalysis.analysis.run import RunConfig, run_analysis
from trial_reanalysis.analysis.trials.load import DEFAULT_TRIAL

# As it stands in a TOML basic string: \n is a line break there.
HOSTILE = r"<script>alert(1)</script> | [link](javascript:alert(2)) **bold** _em_ `code`\n# Heading"
HOSTILE_TEXT = HOSTILE.replace(r"\n", "\n")


def _hostile_trial(tmp_path: Path) -> Path:
    text = DEFAULT_TRIAL.read_text()
    count = iter(range(10_000))  # a number after each: the two group names must differ
    # group names are referenced by more_frequent_in: replace them consistently everywhere
    text = text.replace('"bevacizumab"', f'"{HOSTILE} A"').replace('"sunitinib"', f'"{HOSTILE} B"')
    keys = ("title", "journal", "doi", "treatment", "population", "design", "label")
    for key in (*keys, "source", "rationale", "definition"):
        text = re.sub(
            rf'(\b{key} = )"[^"\n]*"', lambda m: f'{m.group(1)}"{HOSTILE} {next(count)}"', text
        )
    path = tmp_path / "hostile.toml"
    path.write_text(text)
    return path


@pytest.fixture(scope="module")
def hostile_run(tmp_path_factory) -> Path:
    mp = pytest.MonkeyPatch()
    echo = ("tests.echo_endpoint", "analyse")
    mp.setattr(
        trial_reanalysis.analysis.run,
        "KINDS",
        {**trial_reanalysis.analysis.run.KINDS, "echo": echo},
    )
    tmp = tmp_path_factory.mktemp("hostile")
    out = tmp / "out"
    run_analysis(
        RunConfig(trial_path=_hostile_trial(tmp), out_dir=out, endpoints=("echo",), workers=1)
    )
    mp.undo()
    return out


def test_html_escapes_every_text_from_the_trial_file(hostile_run: Path) -> None:
    html = (hostile_run / "report.html").read_text()
    assert "<script>" not in html and "<b>" not in html
    escaped = "&lt;script&gt;alert(1)&lt;/script&gt;"
    # title (head and heading), data of record (sources), the endpoint's title, sentence,
    # assumption, comparison, sensitivity and extra table cells
    assert html.count(escaped) >= 12


def test_markdown_keeps_hostile_text_literal_and_on_one_line(hostile_run: Path) -> None:
    md = (hostile_run / "report.md").read_text()
    assert not re.search(r"(?<!\\)<script", md), "raw HTML in the Markdown"
    assert not re.search(r"(?<!\\)\]\(javascript", md), "a link made from trial text"
    assert not re.search(r"^# Heading", md, flags=re.M), "a line break in a title made a heading"
    literal = md_escape(HOSTILE_TEXT)
    assert md.count(literal) >= 10
    columns = None
    for line in md.splitlines():  # every row of a table has as many cells as its header
        if not line.startswith("|"):
            columns = None
            continue
        cells = len(re.findall(r"(?<!\\)\|", line))
        columns = columns or cells
        assert cells == columns, line


@pytest.mark.parametrize(
    ("text", "escaped"),
    [
        ("a|b", r"a\|b"),
        ("<script>", r"\<script\>"),
        ("[x](y)", r"\[x\](y)"),
        ("**b**", r"\*\*b\*\*"),
        ("line\n# two", r"line # two"),
        ("snake_case_name", "snake_case_name"),  # intraword underscores are no emphasis
        ("_em_", r"\_em\_"),
        ("back\\slash `tick`", r"back\\slash \`tick\`"),
        ("P < .001", r"P \< .001"),
    ],
)
def test_md_escape(text: str, escaped: str) -> None:
    assert md_escape(text) == escaped


def test_md_code_fences_any_backticks() -> None:
    assert md_code("reanalysis run a.toml") == "`reanalysis run a.toml`"
    assert md_code("a`b") == "``a`b``"
    assert md_code("`x`") == "`` `x` ``"
    assert md_code("") == ""


def test_terminal_prints_markup_in_paths_and_values_literally(tmp_path: Path) -> None:
    """Rich markup in a path or a value is printed as typed (the right file is named), and
    never breaks the error printer."""
    folder = tmp_path / "[bold red]x"
    folder.mkdir()
    bad = folder / "trial[red].toml"
    bad.write_text(DEFAULT_TRIAL.read_text().replace('journal = "Cancer"', 'journal = "[/]"'))
    bad.write_text(bad.read_text().replace("year = 2010", 'year = "[/x]"'))
    result = CliRunner().invoke(app, ["validate", str(bad)])
    assert result.exit_code == 2, result.output
    assert str(bad) in result.output and "trial.year" in result.output
    assert "Traceback" not in result.output
