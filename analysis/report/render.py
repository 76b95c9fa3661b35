"""The report: ``report.md`` and a self-contained ``report.html`` from one context.

Sections: the trial and the data of record; every assumption and reconstruction; each endpoint
(comparison table, plain-language sentences, figures); sensitivity; follow-up priors (when
present); diagnostics; reproducibility. The HTML embeds its figures (base64 PNG) and loads
nothing from the network.
"""

from __future__ import annotations

import base64
import math
import re
import shlex
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import jinja2
import pandas as pd
from markupsafe import Markup
from matplotlib import pyplot as plt
from matplotlib.figure import Figure
from pydantic import BaseModel

from trial_reanalysis.analysis.constants import INTERVAL_LEVEL
from trial_reanalysis.analysis.report.followup import FOLLOWUP_COLUMNS, FOLLOWUP_NOTE, followup_rows
from trial_reanalysis.analysis.report.wording import format_probability
from trial_reanalysis.analysis.trials.load import LoadedTrial
from trial_reanalysis.analysis.trials.v2 import Assumption, Reported

TEMPLATES = Path(__file__).parent / "templates"


#: Resolution of every PNG (dots per inch).
FIGURE_DPI = 110


def save_figure(fig: Figure, path: Path) -> None:
    """Write a PNG without timestamps or version metadata (same data, same bytes), then close.

    A figure with a layout engine (constrained layout) is laid out once at the PNG's resolution
    and then saved without its engine. ``savefig`` would otherwise draw every artist twice: once
    with drawing disabled, only to run the layout, and once for the pixels. The layout it runs
    is the same (same engine, same resolution, same renderer), so the bytes are those of a plain
    ``savefig`` (``tests/test_figure_writing.py``) at about four fifths of its time.
    """
    engine = fig.get_layout_engine()
    if engine is not None:
        fig.set_dpi(FIGURE_DPI)
        engine.execute(fig)
        fig.set_layout_engine(None)  # savefig's own pass (and the draw's) would do it again
    fig.savefig(path, dpi=FIGURE_DPI, metadata={"Software": None})
    plt.close(fig)


def fmt(value: Any) -> str:
    """A table cell: probabilities near 1 as 1 - eps, tiny numbers in scientific notation."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        if math.isnan(value):
            return ""
        if 0.9999 < value < 1:  # a probability near 1, printed as everywhere (wording.py)
            return format_probability(value)
        if value != 0 and abs(value) < 1e-3:
            return f"{value:.2e}"
        if abs(value) >= 1e4:
            return f"{value:.3g}"
        return f"{value:.3g}" if abs(value) < 1 else f"{value:.4g}"
    if isinstance(value, list | tuple):
        return "[" + ", ".join(fmt(v) for v in value) + "]"
    return str(value)


def table(df: pd.DataFrame) -> dict[str, Any]:
    """Columns and formatted rows of a table for the templates."""
    return {
        "columns": [str(c) for c in df.columns],
        "rows": [[fmt(v) for v in row] for row in df.astype(object).itertuples(index=False)],
    }


#: Columns of a comparison table in the report (ci_low and ci_high shown as one "limits" cell,
#: probability and its label as one cell); constant and duplicate columns are then dropped.
COMPARISON_DISPLAY = ["quantity", "side", "method", "scenario", "estimate", "limits", "interval"]
SENSITIVITY_DISPLAY = ["quantity", "prior", "assumption", "scenario", "primary", "estimate"]
#: Most columns a report table may have (issue 13 item 7: a table a statistician hands on).
MAX_COLUMNS = 8


def probability_cell(probability: Any, label: Any, *, published: bool = False) -> str:
    """A probability and what it is, in one cell: "P(rate > 0.2) = 0.9569", "P(rate > 0.05)
    > 0.9999". Every probability goes through :func:`format_probability` (one format), except a
    published one, printed as published (:func:`printed`)."""
    if probability is None or (isinstance(probability, float) and math.isnan(probability)):
        return ""
    text = printed(probability) if published else format_probability(float(probability))
    name = "" if label is None or (isinstance(label, float) and math.isnan(label)) else str(label)
    if not name:
        return text
    return f"{name} = {text}" if text[0].isdigit() else f"{name} {text}"


def _cell(value: Any, published: bool) -> str:
    """A number as published (4.0 stays "4.0") on a reported row, else :func:`fmt`."""
    if published and isinstance(value, float) and not math.isnan(value):
        shown = printed(value)
        return shown if len(shown) <= 10 else fmt(value)
    return fmt(value)


def _limits(low: Any, high: Any, published: bool) -> str:
    lo, hi = _cell(low, published), _cell(high, published)
    return f"{lo} to {hi}" if lo or hi else ""


def display_tables(
    df: pd.DataFrame, kinds: list[str], *, sensitivity: bool = False
) -> list[dict[str, Any]]:
    """A comparison (or sensitivity) table as the report shows it: one table per estimate kind
    (``kinds``, one per row, e.g. "posterior mean"), its estimate column headed by the kind; the
    interval limits in one cell and each probability with its label in one cell; columns empty
    in every row dropped, and (in a table of several rows) columns holding one value in every
    row or repeating an earlier column dropped and stated once in the table's note. At most
    :data:`MAX_COLUMNS` columns.

    Returns: a list of ``{"title", "columns", "rows", "note"}`` (title: the kind)."""
    if len(kinds) != len(df):
        kinds = ["estimate"] * len(df)
    base = SENSITIVITY_DISPLAY if sensitivity else COMPARISON_DISPLAY
    out = []
    for kind in dict.fromkeys(kinds):
        sub = df[[k == kind for k in kinds]].astype(object)
        cells: dict[str, list[str]] = {c: [] for c in base}
        if sensitivity:
            cells["limits"] = []
        cells["probability"] = []
        for _, row in sub.iterrows():
            published = row.get("side") == "reported"
            for c in base:
                if c != "limits":
                    cells[c].append(_cell(row.get(c), published))
            cells["limits"].append(_limits(row.get("ci_low"), row.get("ci_high"), published))
            cells["probability"].append(
                probability_cell(
                    row.get("probability"), row.get("probability_label"), published=published
                )
            )
        names = {"estimate": kind, "limits": "interval limits", "interval": "interval"}
        notes = []
        keep = []
        for c, values in cells.items():
            if not any(values):
                continue
            if c != "estimate" and len(values) > 1 and len(set(values)) == 1:
                notes.append(f"{names.get(c, c)}: {values[0]}")
                continue
            if c != "estimate" and any(values == cells[k] for k in keep):
                continue
            keep.append(c)
        out.append(
            {
                "title": kind[:1].upper() + kind[1:],
                "columns": [names.get(c, c) for c in keep],
                "rows": [list(r) for r in zip(*(cells[c] for c in keep), strict=True)],
                "note": "; ".join(notes),
            }
        )
    return out


def data_of_record(model: BaseModel, prefix: str = "") -> tuple[list[dict], list[str]]:
    """Every reported value of the trial file with its source, and every field marked unknown."""
    reported: list[dict[str, str]] = []
    unknown: list[str] = []
    for name in type(model).model_fields:
        value = getattr(model, name)
        path = f"{prefix}{name}"
        if isinstance(value, Reported):
            note = f" ({value.note})" if value.note else ""
            shown = printed(value.value)
            reported.append({"field": path, "value": shown, "source": value.source + note})
        elif value == "unknown":
            unknown.append(path)
        elif isinstance(value, Assumption) or name in ("assumptions", "priors"):
            continue
        elif isinstance(value, BaseModel):
            r, u = data_of_record(value, f"{path}.")
            reported += r
            unknown += u
        elif isinstance(value, dict | list):
            items = value.items() if isinstance(value, dict) else enumerate(value)
            for key, item in items:
                if isinstance(item, Reported):  # e.g. [other.<key>]: a value of its own
                    note = f" ({item.note})" if item.note else ""
                    row = {"field": f"{path}.{key}", "value": printed(item.value)}
                    reported.append({**row, "source": item.source + note})
                elif isinstance(item, BaseModel):
                    r, u = data_of_record(item, f"{path}.{key}.")
                    reported += r
                    unknown += u
    return reported, unknown


def printed(value: Any) -> str:
    """A published value as the file holds it: 4.0 stays "4.0", a missing limit "NE"."""
    if value is None:
        return "NE"
    if isinstance(value, bool | int | str):
        return str(value)
    if isinstance(value, float):
        return repr(value)
    if isinstance(value, list | tuple):
        return "[" + ", ".join(printed(v) for v in value) + "]"
    return str(value)


def citation(loaded: LoadedTrial) -> str:
    """Journal, year, doi and registry, as far as the file gives them."""
    t = loaded.trial.trial
    parts = [" ".join(str(p) for p in (t.journal, t.year) if p)]
    parts += [f"doi {t.doi}" if t.doi else "", t.registry or ""]
    return ", ".join(p for p in parts if p) or "citation not given"


def description(loaded: LoadedTrial) -> str:
    """Treatment, population, design and enrolment in one line."""
    t = loaded.trial.trial
    parts = [p for p in (t.treatment, t.population, t.design) if p]
    return "; ".join([*parts, f"{loaded.trial.enrolled.value} patients enrolled"])


def declared_assumptions(loaded: LoadedTrial) -> list[dict[str, str]]:
    """Every assumption the trial file declares (per endpoint): default, sweep and rationale."""
    t = loaded.trial
    owners = [
        *((f"rates.{k}", r.assumptions) for k, r in t.rates.items()),
        *((f"time_to_event.{k}", e.assumptions) for k, e in t.time_to_event.items()),
        *((f"groupings.{k}", g.assumptions) for k, g in t.groupings.items()),
    ]
    rows = []
    for owner, assumptions in owners:
        for name in type(assumptions).model_fields:
            a = getattr(assumptions, name)
            if a is not None:
                rows.append(
                    {
                        "name": f"{owner}.{name}",
                        "default": fmt(a.default),
                        "sweep": fmt(a.sweep),
                        "why": a.rationale,
                    }
                )
    return rows


def gates_cell(fit: dict[str, Any]) -> str:
    """Whether a fit passed its diagnostic gates, and whether it took the retry, in one cell."""
    verdict = "passed" if fit["passed"] else "FAILED"
    return f"{verdict} after a retry" if fit.get("retried") else verdict


def appendix_caption(title: str) -> str:
    """The caption of an endpoint's trace and rank plot (appendix)."""
    return (
        f"{title}: for each parameter of the primary fit, its marginal posterior density per chain "
        "(left) and the ranks of its draws across all chains, per chain (right; bars of even "
        "height in every chain mean the chains explore the same distribution)."
    )


def _png_base64(path: Path) -> str:
    return base64.b64encode(path.read_bytes()).decode("ascii")


#: Columns of the diagnostics table (the last, "gates", is rendered by :func:`gates_cell`).
DIAG_COLUMNS = [
    "endpoint",
    "fit",
    "r_hat_max",
    "ess_bulk_min",
    "ess_tail_min",
    "divergences",
    "ebfmi_min",
    "gates",
]


def context(out: Path, output, loaded: LoadedTrial, config) -> dict[str, Any]:
    """Everything the two templates show (numbers come from the run, never from the template)."""
    reported, unknown = data_of_record(loaded.trial)
    fits = [
        {"endpoint": e.name, "fit": d.label, **d.summary()}
        for e in output.endpoints
        for d in e.diagnostics
    ]
    followup = output.results.get("followup_priors")
    return {
        "trial": loaded.trial.trial,
        "enrolled": loaded.trial.enrolled,
        "citation": citation(loaded),
        "description": description(loaded),
        "reported": reported,
        "unknown": unknown,
        "assumptions": declared_assumptions(loaded),
        "endpoints": [_endpoint_context(out, e) for e in output.endpoints],
        "fits": [
            {
                "cells": [fmt(f[c]) for c in DIAG_COLUMNS[:-1]] + [gates_cell(f)],
                "passed": f["passed"],
                "failures": f["failures"],
            }
            for f in fits
        ],
        "diag_columns": DIAG_COLUMNS,
        "all_passed": all(f["passed"] for f in fits),
        "followup": followup,
        "followup_rows": followup_rows(followup),
        "followup_columns": list(FOLLOWUP_COLUMNS),
        "followup_note": FOLLOWUP_NOTE,
        "planning": _planning_context(out, output),
        "planners": _planners_context(out, output),
        "appendix": _appendix(out, output),
        "provenance": output.results["provenance"],
        "level": f"{INTERVAL_LEVEL:.0%}",
        "generated": datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC"),
        "command": rerun_command(loaded, config),
    }


def rerun_command(loaded: LoadedTrial, config: Any) -> str:
    """The command that reproduces this run's numbers: trial, seed, endpoints, chosen priors."""
    parts = ["reanalysis", "run", str(loaded.path), "--seed", str(config.seed)]
    for name in getattr(config, "endpoints", None) or ():  # a RunConfig, or any object with seed
        parts += ["--endpoint", name]
    for endpoint, prior in getattr(config, "priors", None) or ():
        parts += ["--prior", f"{endpoint}={prior}"]
    return shlex.join(parts)


def _figure(out: Path, stem: str, caption: str) -> dict[str, Any]:
    """A figure as the templates embed it: file, base64 PNG and caption."""
    return {
        "stem": stem,
        "file": f"figures/{stem}.png",
        "b64": _png_base64(out / f"figures/{stem}.png"),
        "caption": caption,
    }


def _endpoint_context(out: Path, e: Any) -> dict[str, Any]:
    """One endpoint's section: tables (one estimate kind each), priors, sentences, figures."""
    sens_kinds = e.sensitivity_kinds or [e.sensitivity_estimate] * len(e.sensitivity)
    return {
        "name": e.name,
        "title": e.title,
        "comparison": display_tables(e.comparison, e.estimate_kinds),
        "sensitivity": display_tables(e.sensitivity, sens_kinds, sensitivity=True),
        "priors": table(e.priors_table) if e.priors_table is not None else None,
        "sentences": e.sentences,
        "assumptions": e.assumptions,
        "figures": [
            _figure(out, stem, e.captions.get(stem, stem.replace("_", " "))) for stem in e.figures
        ],
        "extra_tables": {
            stem: table(df) for stem, df in e.tables.items() if stem not in e.csv_only
        },
        "csv_tables": sorted(f"tables/{stem}.csv" for stem in e.csv_only),
    }


def _appendix(out: Path, output: Any) -> list[dict[str, Any]]:
    """The trace and rank plots of each endpoint's primary fit, captioned by endpoint title."""
    titles = {e.name: e.title for e in output.endpoints}
    return [
        _figure(
            out,
            p.stem,
            appendix_caption(titles.get(p.stem[9:].removesuffix("_trace_rank"), "")),
        )
        for p in sorted((out / "figures").glob("appendix_*.png"))
    ]


def _planning_context(out: Path, output: Any) -> dict[str, Any] | None:
    """The follow-up planning table and its operating-characteristic curves (when planned)."""
    if output.planning_table is None:
        return None
    caption = (
        "Operating characteristics of single-arm follow-up designs: the probability "
        "of success against the true response rate, one curve per sample size n "
        "(exact enumeration); dotted line: the null rate p0; dashed: the "
        "alternative p1."
    )
    return {
        "table": table(output.planning_table),
        "figure": _figure(out, "followup_oc_curves", caption),
    }


def _planners_context(out: Path, output: Any) -> dict[str, Any] | None:
    """The planners' section: MAP priors across trials and follow-up designs (when run)."""
    if getattr(output, "planners", None) is None:
        return None
    titles = {
        "planners_map_summary": "MAP priors of the historical trials",
        "planners_designs": "Designs for a single-arm follow-up (exact OC)",
    }
    return {
        "sentences": output.planners["sentences"],
        "tables": [
            {
                "title": titles.get(stem, stem.replace("planners_map_", "Trials of the map: ")),
                "table": table(df),
            }
            for stem, df in output.planners["tables"].items()
        ],
        "figures": [
            _figure(out, stem, _planners_caption(stem)) for stem in output.planners["figures"]
        ],
    }


_MD_ALWAYS = re.compile(r"([\\`*\[\]<>|])")
_MD_LONE_UNDERSCORE = re.compile(r"(?<![0-9A-Za-z])_|_(?![0-9A-Za-z])")


def md_escape(value: Any) -> str:
    """Text that Markdown shows literally, on one line: line breaks become spaces, and
    backslash, backtick, asterisk, brackets, angle brackets (no raw HTML), pipe (no broken
    table) and underscores that could start or end emphasis are backslash-escaped (CommonMark
    allows a backslash before any ASCII punctuation). Every value in report.md passes here."""
    text = " ".join(str(value).split())
    text = _MD_ALWAYS.sub(r"\\\1", text)
    return _MD_LONE_UNDERSCORE.sub(r"\\_", text)


def md_code(value: Any) -> Markup:
    """An inline code span holding ``value`` literally (fenced by more backticks than it has)."""
    text = " ".join(str(value).split())
    if not text:
        return Markup("")
    longest = max((len(m) for m in re.findall(r"`+", text)), default=0)
    fence = "`" * (longest + 1)
    pad = " " if text.startswith("`") or text.endswith("`") else ""
    return Markup(f"{fence}{pad}{text}{pad}{fence}")


def md_cell_code(value: Any) -> Markup:
    """:func:`md_code` for a table cell: GitHub-flavoured Markdown splits cells at every
    unescaped ``|``, code spans included, so pipes are written ``\\|`` (shown as ``|``)."""
    return Markup(str(md_code(value)).replace("|", "\\|"))


def md_row(cells: list[Any]) -> Markup:
    """One Markdown table row, every cell escaped."""
    return Markup("| " + " | ".join(md_escape(c) for c in cells) + " |")


def md_table(t: dict[str, Any]) -> Markup:
    """A Markdown table from :func:`table`'s columns and rows, every cell escaped."""
    lines = [md_row(t["columns"]), "|" + "---|" * len(t["columns"])]
    lines += [md_row(r) for r in t["rows"]]
    return Markup("\n".join(lines))


def _md_finalize(value: Any) -> Any:
    """Every ``{{ ... }}`` of the Markdown template: escaped unless built escaped (Markup)."""
    return value if isinstance(value, Markup) else md_escape(value)


def _planners_caption(stem: str) -> str:
    """What a figure of the planners' section shows."""
    if stem == "planners_design_oc":
        return (
            "Operating characteristics of the compared follow-up designs (Simon optimal and "
            "minimax, posterior-probability, predictive-probability and BOP2, each calibrated "
            "to the type I error shown in the table): the probability of declaring the "
            "treatment active against the true rate, by exact enumeration."
        )
    name = stem.removeprefix("planners_map_").replace("_", " ")
    return (
        f"Meta-analytic-predictive prior ({name}): each historical trial's reported value with "
        "its 95 % CI and its shrunk posterior under the hierarchical model, the MAP predictive "
        "of a new trial and its robust mixture with a vague component."
    )


def environments() -> tuple[jinja2.Environment, jinja2.Environment]:
    """The (Markdown, HTML) template environments of the report: Markdown escapes every value
    (:func:`_md_finalize`), HTML autoescapes; both fail on an undefined name."""
    options = dict(
        loader=jinja2.FileSystemLoader(TEMPLATES),
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    html = jinja2.Environment(autoescape=True, **options)
    md = jinja2.Environment(autoescape=False, finalize=_md_finalize, **options)
    md.globals.update(md_table=md_table, md_row=md_row)
    md.filters["md_code"] = md_code
    md.filters["md_cell_code"] = md_cell_code
    return md, html


def write_reports(out: Path, output, loaded: LoadedTrial, config) -> None:
    """Render report.md and report.html into ``out`` (figures must already be in out/figures).

    Text from the trial file (titles, sources, names) is escaped in both: HTML-escaped in the
    HTML (autoescape), made literal and single-line in the Markdown (:func:`md_escape`)."""
    md, html = environments()
    ctx = context(out, output, loaded, config)
    (out / "report.md").write_text(md.get_template("report.md.j2").render(**ctx))
    (out / "report.html").write_text(html.get_template("report.html.j2").render(**ctx))
