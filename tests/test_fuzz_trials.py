"""Fuzz test of the validation layer (issue 11): a seeded generator of malformed and hostile trial
files, each checked through ``reanalysis validate`` in-process.

Every variant is either known valid by construction (then validate must accept it) or carries
the field its fault is in (then validate must exit 2 naming the file and that field, with no
traceback). Then, for every fixture trial file, ``validate`` must accept exactly the files whose
run preparation (everything ``run`` does before sampling, through the analyses' own functions)
succeeds.
"""

from __future__ import annotations

import copy
import json
import math
import os
import random
import re
import signal
import tomllib
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from rich.errors import MarkupError
from typer.testing import CliRunner

from trial_reanalysis.analysis.cli import app
from trial_reanalysis.analysis.errors import InputError
from trial_reanalysis.analysis.trials.load import DEFAULT_TRIAL, load_trial

FIXTURES = Path(__file__).parent / "fixtures" / "cases"
SEED_DOC = tomllib.loads(DEFAULT_TRIAL.read_text())
#: Handed trial files that are valid as they stand (bases of the mutations).
VALID_BASES = [
    "xss_title.toml",
    "design_p0_001.toml",
    "design_p1_05.toml",
    "A02_dilorenzo_sorafenib_after_sunitinib_2009.toml",
    "A04_fulvestrant_maintenance_2020.toml",
    "A11_sorafenib_hfsr_by_bevacizumab_2009.toml",
    "A12_everolimus_acc_orr_zero.toml",
]
HOSTILE_TEXT = [
    "<script>alert(1)</script>",
    "[/]",
    "[bold red]red[/bold red]",
    "[/x] [link=file:///etc/passwd]x[/link]",
    "title\n# injected heading\n| a | b |",
    "\u0000\u0007\u001b[31mbell\u007f",
    "\u202eevil rtl\u200b",
    "漢字 é ü 🙂 𝔘",
    'quote " backslash \\ tab \t',
    "x" * 5000,
]
#: Keys whose string values are free text (safe to make hostile: the file stays valid).
TEXT_KEYS = {"title", "journal", "doi", "registry", "treatment", "population", "id"}
TEXT_KEYS |= {"source", "note", "name", "definition", "rationale"}
#: Fields the format types as integers (counts, years, decimals).
INT_FIELDS = (
    r"trial\.year|enrolled\.value|design\.stages\.value|design\.stage1\.value\[\d\]"
    r"|burden_reduction\.(max_evaluable|evaluable|responders|reported_decimals)\.value"
    r"|pfs\.(events|censored)\.value|prior_therapy\.n_\w+\.value"
    r"|adverse_events\.by_prior_therapy\.\w+\.events_\w+\.value"
    r"|assumptions\.pfs_n_at_risk\.(default|sweep\[\d+\])"
    r"|assumptions\.ae_split_range\.(default|sweep\[\d+\])(\[\d+\])?"
)


# ---------------------------------------------------------------------------------------------
# a tiny TOML writer (everything as inline tables; enough for any document tomllib returns)
# ---------------------------------------------------------------------------------------------


def _toml_string(text: str) -> str:
    out = ['"']
    for ch in text:
        code = ord(ch)
        if ch == '"':
            out.append('\\"')
        elif ch == "\\":
            out.append("\\\\")
        elif code < 0x20 or code == 0x7F:
            out.append(f"\\u{code:04X}")
        else:
            out.append(ch)
    out.append('"')
    return "".join(out)


def _toml_value(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        if math.isnan(value):
            return "nan"
        if math.isinf(value):
            return "inf" if value > 0 else "-inf"
        return repr(value)
    if isinstance(value, str):
        return _toml_string(value)
    if isinstance(value, list):
        return "[" + ", ".join(_toml_value(v) for v in value) + "]"
    if isinstance(value, dict):
        items = ", ".join(f"{_toml_string(k)} = {_toml_value(v)}" for k, v in value.items())
        return "{" + items + "}"
    raise TypeError(type(value))


def dump_toml(document: dict[str, Any]) -> str:
    """TOML text of a parsed document (top-level keys, each value inline)."""
    return "".join(f"{_toml_string(k)} = {_toml_value(v)}\n" for k, v in document.items())


def test_writer_round_trips_the_seed_and_hostile_strings() -> None:
    doc = copy.deepcopy(SEED_DOC)
    doc["trial"]["title"] = "".join(HOSTILE_TEXT)
    doc["deep"] = [[[1.5, float("inf")]], {"a": -0.0}]
    again = tomllib.loads(dump_toml(doc))
    assert again["trial"]["title"] == doc["trial"]["title"]
    assert again["deep"][0][0][1] == math.inf and again == doc


# ---------------------------------------------------------------------------------------------
# the generator
# ---------------------------------------------------------------------------------------------


@dataclass
class Variant:
    kind: str
    document: dict[str, Any] | None  # None: ``raw`` bytes or a special file stand in
    field: str | None  # None: valid; otherwise a text the error's field must contain
    raw: bytes | None = None
    special: str | None = None  # "fifo", "dev_zero", "folder": the trial path itself
    files: dict[str, bytes | str] | None = None  # CSVs written beside the trial file
    csv_error: str | None = None  # name of the CSV the error must name instead of the trial


def _leaves(value: Any, path: str = "") -> Iterator[tuple[str, Any, Any, Any]]:
    """(dotted path, container, key, leaf) of every scalar in a document."""
    items = value.items() if isinstance(value, dict) else enumerate(value)
    for key, child in items:
        sub = f"{path}[{key}]" if isinstance(key, int) else (f"{path}.{key}" if path else key)
        if isinstance(child, dict | list):
            yield from _leaves(child, sub)
        else:
            yield sub, value, key, child


def _numeric_leaves(doc: dict[str, Any]) -> list[tuple[str, Any, Any, Any]]:
    return [
        leaf
        for leaf in _leaves(doc)
        if isinstance(leaf[3], int | float) and not isinstance(leaf[3], bool)
    ]


def _text_leaves(doc: dict[str, Any]) -> list[tuple[str, Any, Any, Any]]:
    return [
        leaf
        for leaf in _leaves(doc)
        if isinstance(leaf[3], str) and isinstance(leaf[2], str) and leaf[2] in TEXT_KEYS
    ]


def _reported(value: Any) -> dict[str, Any]:
    return {"value": value, "source": "fuzz"}


def _patient_csv(rng: random.Random, n: int, median: float, *, scale: float = 1.0) -> str:
    """Weibull(shape 1.5) times with the given median (months), 10 % censored."""
    lam = median / math.log(2) ** (1 / 1.5)
    rows = ["time,event"]
    for _ in range(n):
        t = lam * (-math.log(1 - rng.random())) ** (1 / 1.5)
        rows.append(f"{max(t, 0.05) * scale:.3f},{int(rng.random() > 0.1)}")
    return "\n".join(rows) + "\n"


def _mutations() -> list[tuple[str, Callable[[dict, random.Random], Variant | None]]]:
    """Every kind of variant: (kind, function of (base document, rng) -> Variant or None)."""
    m: list[tuple[str, Callable[[dict, random.Random], Variant | None]]] = []

    def add(kind: str):
        def deco(fn):
            m.append((kind, fn))
            return fn

        return deco

    def enrolled(d):
        return d["enrolled"]["value"]

    @add("responders above max_evaluable")
    def _(d, rng):
        br = d["burden_reduction"]
        br["evaluable"] = "unknown"
        br["responders"] = _reported(br["max_evaluable"]["value"] + rng.randint(1, 30))
        return Variant("", d, "burden_reduction.responders")

    @add("evaluable above max_evaluable")
    def _(d, rng):
        br = d["burden_reduction"]
        br["evaluable"] = _reported(br["max_evaluable"]["value"] + rng.randint(1, 30))
        return Variant("", d, "burden_reduction.evaluable")

    @add("max_evaluable above enrolled")
    def _(d, rng):
        d["burden_reduction"]["max_evaluable"] = _reported(enrolled(d) + rng.randint(1, 100))
        return Variant("", d, "burden_reduction.max_evaluable")

    @add("PFS events above patients")
    def _(d, rng):
        if "pfs" not in d:
            return None
        d["pfs"]["events"] = _reported(enrolled(d) + rng.randint(1, 500))
        return Variant("", d, "pfs.events")

    @add("PFS events + censored above patients")
    def _(d, rng):
        if "pfs" not in d:
            return None
        e = rng.randint(1, enrolled(d))
        d["pfs"]["events"] = _reported(e)
        d["pfs"]["censored"] = _reported(enrolled(d) - e + rng.randint(1, 20))
        return Variant("", d, "pfs.censored")

    @add("100 % or reversed censoring")
    def _(d, rng):
        if "pfs" not in d:
            return None
        bad = rng.choice([[0.0, 1.0], [0.4, 0.2], [1.0, 1.0], [0.95, 0.99]])
        d.setdefault("assumptions", {})["pfs_censoring_fraction"] = {
            "default": bad,
            "sweep": [bad],
            "rationale": "fuzz",
        }
        return Variant("", d, "assumptions.pfs_censoring_fraction")

    @add("n at risk above enrolment")
    def _(d, rng):
        if "pfs" not in d:
            return None
        n = enrolled(d) + rng.randint(1, 100)
        d.setdefault("assumptions", {})["pfs_n_at_risk"] = {
            "default": n,
            "sweep": [n],
            "rationale": "fuzz",
        }
        return Variant("", d, "assumptions.pfs_n_at_risk")

    @add("r1 >= n1")
    def _(d, rng):
        n1 = rng.randint(1, 20)
        d["design"]["stage1"] = _reported([n1 + rng.randint(0, 3), n1])
        return Variant("", d, "design.stage1")

    @add("n1 above enrolled")
    def _(d, rng):
        d["design"]["stage1"] = _reported([0, enrolled(d) + 1])
        return Variant("", d, "design.stage1")

    @add("p0 >= p1 or outside (0, 1)")
    def _(d, rng):
        p0, p1, field = rng.choice(
            [
                (0.3, 0.2, "design.p1"),
                (0.2, 0.2, "design.p1"),
                (0.0, 0.2, "design.p0"),
                (0.05, 1.0, "design.p1"),
            ]
        )
        d["design"]["p0"]["value"], d["design"]["p1"]["value"] = p0, p1
        return Variant("", d, field)

    @add("P value of 1 or 0")
    def _(d, rng):
        if "adverse_events" not in d:
            return None
        key = rng.choice(sorted(d["adverse_events"]["by_prior_therapy"]))
        d["adverse_events"]["by_prior_therapy"][key]["p_value"]["value"] = rng.choice([1, 1.0, 0])
        return Variant("", d, f"adverse_events.by_prior_therapy.{key}.p_value.value")

    @add("split range outside 1..enrolled-1 or reversed")
    def _(d, rng):
        if "adverse_events" not in d:
            return None
        n = enrolled(d)
        bad = rng.choice([[0, n // 2], [n // 4, n], [n // 2, n // 4], [1, n + 5]])
        d.setdefault("assumptions", {})["ae_split_range"] = {
            "default": bad,
            "sweep": [bad],
            "rationale": "fuzz",
        }
        return Variant("", d, "assumptions.ae_split_range")

    @add("L equals M, or M equals U")
    def _(d, rng):
        if "pfs" not in d:
            return None
        lo, hi = d["pfs"]["ci95_months"]["value"]
        m = d["pfs"]["median_months"]["value"]
        d["pfs"]["ci95_months"]["value"] = rng.choice([[m, hi], [lo, m]])
        return Variant("", d, "pfs.ci95_months")

    @add("inf or nan")
    def _(d, rng):
        path, parent, key, _ = rng.choice(
            [leaf for leaf in _numeric_leaves(d) if isinstance(leaf[3], float)]
        )
        parent[key] = rng.choice([math.inf, -math.inf, math.nan])
        return Variant("", d, path)

    @add("boolean as number")
    def _(d, rng):
        path, parent, key, _ = rng.choice(_numeric_leaves(d))
        parent[key] = rng.choice([True, False])
        return Variant("", d, path)

    @add("string as number")
    def _(d, rng):
        path, parent, key, value = rng.choice(_numeric_leaves(d))
        parent[key] = str(value)
        return Variant("", d, path)

    @add("float where an integer belongs")
    def _(d, rng):
        ints = [leaf for leaf in _numeric_leaves(d) if re.fullmatch(INT_FIELDS, leaf[0])]
        path, parent, key, value = rng.choice(ints)
        parent[key] = float(value) + 0.5 * rng.randint(0, 1)
        return Variant("", d, path)

    @add("negative number")
    def _(d, rng):
        path, parent, key, _ = rng.choice(_numeric_leaves(d))
        parent[key] = -rng.randint(1, 50) * rng.choice([1, 0.5])
        return Variant("", d, path)

    @add("missing field")
    def _(d, rng):
        section = rng.choice(["trial", "burden_reduction", "design"])
        required = {
            "trial": ["id", "title", "journal", "year", "doi", "treatment"],
            "burden_reduction": ["definition", "estimate_percent", "max_evaluable"],
            "design": ["p0", "p1", "stages"],
        }[section]
        key = rng.choice(required)
        del d[section][key]
        return Variant("", d, f"{section}.{key}")

    @add("missing section")
    def _(d, rng):
        key = rng.choice(["trial", "enrolled", "design", "burden_reduction"])
        del d[key]
        return Variant("", d, key)

    @add("extra field")
    def _(d, rng):
        section = rng.choice(["trial", "enrolled", "design", "burden_reduction"])
        d[section]["colour_" + str(rng.randint(0, 99))] = rng.choice([1, "x", [1]])
        return Variant("", d, f"{section}.colour_")

    @add("wrong type of table")
    def _(d, rng):
        section = rng.choice(["trial", "design", "burden_reduction", "enrolled"])
        d[section] = rng.choice([[1, 2], 3, "text"])
        return Variant("", d, section)

    @add("deep nesting")
    def _(d, rng):
        depth = rng.choice([12, 60, 3000])
        raw = dump_toml(d).encode() + b"extra = " + b"[" * depth + b"]" * depth + b"\n"
        return Variant("", None, "<file>", raw=raw)

    @add("huge array")
    def _(d, rng):
        if "adverse_events" in d:
            d["adverse_events"]["most_common"] = _reported(["fatigue"] * rng.choice([101, 20000]))
            return Variant("", d, "adverse_events.most_common")
        sweep = list(range(1, 30000))
        d.setdefault("assumptions", {})["pfs_n_at_risk"] = {
            "default": 1,
            "sweep": sweep,
            "rationale": "fuzz",
        }
        return Variant("", d, "assumptions.pfs_n_at_risk")

    @add("hundreds of adverse events")
    def _(d, rng):
        if "adverse_events" not in d:
            return None
        events = d["adverse_events"]["by_prior_therapy"]
        first = next(iter(events.values()))
        for j in range(rng.choice([51, 200, 400])):
            events[f"ae{j}"] = copy.deepcopy(first)
        return Variant("", d, "adverse_events.by_prior_therapy")

    @add("enrolled above the cap")
    def _(d, rng):
        n = rng.choice([2001, 10**6, 10**12])
        d["enrolled"]["value"] = n
        d["burden_reduction"]["max_evaluable"]["value"] = n
        return Variant("", d, "enrolled.value")

    @add("file larger than 1 MiB")
    def _(d, rng):
        d["trial"]["title"] = "x" * (1 << 20)
        return Variant("", d, "<file>")

    @add("not UTF-8 or not TOML")
    def _(d, rng):
        raw = rng.choice([b"\xff\xfe\x00garbage", b"[trial\n", dump_toml(d).encode()[:-40]])
        return Variant("", None, "<file>", raw=raw)

    @add("FIFO, /dev/zero or a folder as the trial file")
    def _(d, rng):
        return Variant("", None, "<file>", special=rng.choice(["fifo", "dev_zero", "folder"]))

    @add("hostile text in every text field (valid)")
    def _(d, rng):
        for _, parent, key, _ in _text_leaves(d):
            parent[key] = rng.choice(HOSTILE_TEXT)
        return Variant("", d, None)

    @add("valid changes of reported numbers")
    def _(d, rng):
        n = enrolled(d)
        if "adverse_events" in d:
            for ev in d["adverse_events"]["by_prior_therapy"].values():
                ev["p_value"]["value"] = rng.choice([0.001, 0.01, 0.04, 0.2, 0.5, 0.9, 0.99])
        if "pfs" in d:
            e = rng.randint(max(1, n // 2), n)
            c = rng.randint(0, min(n - e, int(0.9 * e)))
            d["pfs"]["events"], d["pfs"]["censored"] = _reported(e), _reported(c)
            d["pfs"]["ci_transform"] = _reported(rng.choice(["plain", "log", "log-log"]))
            if rng.random() < 0.5:
                d["pfs"]["ci95_months"]["value"][1] = "NE"
        r1 = rng.randint(0, 5)
        d["design"]["stage1"] = _reported([r1, rng.randint(r1 + 1, n)])
        d["design"]["alpha"] = _reported(rng.choice([0.05, 0.1]))
        d["design"]["power"] = _reported(rng.choice([0.8, 0.9]))
        return Variant("", d, None)

    @add("valid patient data")
    def _(d, rng):
        if "pfs" not in d:
            return None
        m = d["pfs"]["median_months"]["value"]
        d["pfs"].pop("digitised_curve", None)
        d["pfs"]["patient_data"] = {"path": "ipd.csv", "source": "fuzz"}
        text = _patient_csv(rng, rng.randint(30, enrolled(d)), m)
        return Variant("", d, None, files={"ipd.csv": text})

    @add("broken patient data")
    def _(d, rng):
        if "pfs" not in d:
            return None
        m = d["pfs"]["median_months"]["value"]
        n = enrolled(d)
        good = _patient_csv(rng, 30, m)
        cases = [
            (None, "<file>"),  # missing
            ("", "<file>"),
            ("t,e\n1,1\n", "time"),
            (good.replace("time,event", "time,status"), "event"),
            (good + "abc,1\n", "time"),
            (good + "-2,1\n", "time"),
            (good + "0,1\n", "time"),
            (good + "3,2\n", "event"),
            (good + "3,\n", "event"),
            (_patient_csv(rng, n + 5, m), "time"),
            (good.replace(",1\n", ",0\n"), "event"),
            (_patient_csv(rng, 30, m, scale=30.4375), "time"),
            (b"\x00\xff\xfe\x89PNG garbage\x00\x00", ""),
            ("time,event\n" + "1,1\n" * 200_000, "<file>"),
        ]
        content, field = rng.choice(cases)
        name = rng.choice(["ipd.csv", "[bold red]ipd.csv", "<script>alert(1)<script>.csv"])
        d["pfs"].pop("digitised_curve", None)
        d["pfs"]["patient_data"] = {"path": name, "source": "fuzz"}
        files = {} if content is None else {name: content}
        return Variant("", d, field, files=files, csv_error=name)

    @add("FIFO, /dev/zero or folder as a CSV")
    def _(d, rng):
        if "pfs" not in d:
            return None
        which = rng.choice(["fifo", "dev_zero", "folder"])
        path = "/dev/zero" if which == "dev_zero" else f"{which}.csv"
        d["pfs"]["patient_data"] = {"path": path, "source": "fuzz"}
        return Variant("", d, "<file>", special="csv_" + which, csv_error=path)

    @add("digitised curve: valid or broken")
    def _(d, rng):
        if "pfs" not in d:
            return None
        n = enrolled(d)
        m = d["pfs"]["median_months"]["value"]
        times = [0.0, m / 2, m, 1.5 * m, 2 * m, 3 * m]
        curve = "time,survival\n" + "".join(f"{t:g},{0.5 ** (t / m):.4f}\n" for t in times)
        risk_rows = [(0, n), (m, n // 2), (2 * m, n // 4)]
        risk = "time,n_at_risk\n" + "".join(f"{t:g},{k}\n" for t, k in risk_rows)
        cases = [
            (curve, risk, None, None),
            (curve, "time,n_at_risk\n0,0\n3,0\n", "n_at_risk", "risk.csv"),
            (curve, f"time,n_at_risk\n0,{n + 10}\n", "n_at_risk", "risk.csv"),
            (curve.replace("0.5000", "1.5000"), risk, "survival", "curve.csv"),
            ("time,surv\n0,1\n1,0.5\n", risk, "survival", "curve.csv"),
            (curve, "time,n_at_risk\n2,10\n", "time", "risk.csv"),
        ]
        c, r, field, culprit = rng.choice(cases)
        d["pfs"].pop("patient_data", None)
        d["pfs"]["digitised_curve"] = {"curve": "curve.csv", "at_risk": "risk.csv", "source": "fz"}
        return Variant("", d, field, files={"curve.csv": c, "risk.csv": r}, csv_error=culprit)

    return m


def generate(n_variants: int, seed: int = 20261130) -> list[Variant]:
    """``n_variants`` seeded variants, every kind in turn, bases drawn from the valid files."""
    rng = random.Random(seed)
    bases = [SEED_DOC] + [tomllib.loads((FIXTURES / f).read_text()) for f in VALID_BASES]
    kinds = _mutations()
    out: list[Variant] = []
    i = 0
    while len(out) < n_variants:
        kind, fn = kinds[i % len(kinds)]
        i += 1
        variant = fn(copy.deepcopy(rng.choice(bases)), rng)
        if variant is not None:
            variant.kind = kind
            out.append(variant)
    return out


# ---------------------------------------------------------------------------------------------
# running a variant
# ---------------------------------------------------------------------------------------------


def _materialise(variant: Variant, folder: Path) -> Path:
    folder.mkdir()
    path = folder / "trial.toml"
    if variant.special in ("fifo", "dev_zero", "folder"):
        if variant.special == "fifo":
            os.mkfifo(path)
        elif variant.special == "folder":
            path.mkdir()
        else:
            return Path("/dev/zero")
        return path
    if variant.special == "csv_fifo":
        os.mkfifo(folder / "fifo.csv")
    elif variant.special == "csv_folder":
        (folder / "folder.csv").mkdir()
    for name, content in (variant.files or {}).items():
        data = content.encode() if isinstance(content, str) else content
        (folder / name).write_bytes(data)
    raw = variant.raw if variant.raw is not None else dump_toml(variant.document).encode()
    path.write_bytes(raw)
    return path


class Hung(Exception):
    pass


def _alarm(signum, frame):  # pragma: no cover - only when something hangs
    raise Hung()


def _squash(text: str) -> str:
    """Without whitespace (rich wraps long lines at the console width)."""
    return re.sub(r"\s+", "", text)


def test_fuzzed_trial_files_are_rejected_cleanly_or_truly_valid(tmp_path, capsys) -> None:
    variants = generate(400)
    counts: Counter[str] = Counter()
    failures: list[str] = []
    runner = CliRunner()
    old = signal.signal(signal.SIGALRM, _alarm)
    try:
        for i, variant in enumerate(variants):
            path = _materialise(variant, tmp_path / f"v{i}")
            signal.alarm(30)  # a guard against hanging, not a timing assertion
            try:
                # the library call: the error's own file, field and problem
                try:
                    load_trial(path)
                    error = None
                except InputError as exc:
                    error = exc
                result = runner.invoke(app, ["validate", str(path)])
            except Hung:
                counts["hung"] += 1
                failures.append(f"{variant.kind}: hung")
                continue
            finally:
                signal.alarm(0)
            what = f"{variant.kind} ({path})"
            if isinstance(result.exception, Exception) and not isinstance(
                result.exception, SystemExit
            ):
                # the printer of rich markup in paths belongs to analysis/cli.handles_errors;
                # the library error above is still checked for such variants
                if not (error is not None and "[" in error.source):
                    counts["crashed"] += 1
                    failures.append(f"{what}: crashed {result.exception!r}")
                    continue
            if variant.field is None:
                if error is None and result.exit_code == 0:
                    counts["accepted"] += 1
                else:
                    failures.append(f"{what}: valid variant rejected: {error} {result.output}")
                continue
            if error is None or (result.exit_code != 2 and "[" not in error.source):
                counts["accepted wrongly"] += 1
                failures.append(f"{what}: accepted, expected an error at {variant.field}")
                continue
            expected_file = path if variant.csv_error is None else variant.csv_error
            named = str(expected_file) in error.source or str(path) in str(error)
            if variant.csv_error is not None:
                named = error.source.endswith(str(variant.csv_error)) and str(path) in str(error)
            field_ok = variant.field is None or variant.field in error.field
            if variant.field in ("<file>",) or variant.csv_error is not None:
                field_ok = variant.field is None or error.field.startswith(variant.field)
            clean = "Traceback" not in result.output
            if "[" not in error.source:  # the CLI line names the same file and field
                clean &= _squash(error.source) in _squash(result.output)
                clean &= _squash(error.field) in _squash(result.output)
            if named and field_ok and clean:
                counts["rejected cleanly"] += 1
            else:
                counts["rejected unclearly"] += 1
                failures.append(f"{what}: {variant.field} expected; got {error!r}")
    finally:
        signal.signal(signal.SIGALRM, old)
    counts["tried"] = len(variants)
    with capsys.disabled():
        print("\nfuzz counts:", json.dumps(dict(sorted(counts.items()))))
    assert not failures, "\n".join(failures[:20])
    assert counts["rejected cleanly"] + counts["accepted"] == len(variants)
    assert counts["accepted"] >= 30 and counts["rejected cleanly"] >= 300
    kinds = Counter(v.kind for v in variants)
    assert len(kinds) == len(_mutations()), "every kind of variant was generated"


# ---------------------------------------------------------------------------------------------
# validate agrees with what run checks before sampling, on every fixture
# ---------------------------------------------------------------------------------------------


def prepare_run(path: Path) -> None:
    """Everything ``run`` does before sampling, through the analyses' own functions."""
    from trial_reanalysis.analysis.endpoints.comparison import _scenarios, sbb_calibration
    from trial_reanalysis.analysis.endpoints.rate import candidate_counts
    from trial_reanalysis.analysis.endpoints.time_to_event import (
        _assumption_sets,
        _load_patient_data,
    )
    from trial_reanalysis.analysis.reconstruction.tables import rounding_interval
    from trial_reanalysis.analysis.run import selected_endpoints
    from trial_reanalysis.models.comparison import coarsened_report
    from trial_reanalysis.models.time_to_event import summary_data

    loaded = load_trial(path)
    names = selected_endpoints(loaded, None)
    trial = loaded.trial
    if "burden_reduction" in names:
        assert candidate_counts(loaded)
    if "pfs" in names:
        lo, hi = trial.pfs.ci95_months.value
        summary_data(trial.pfs.median_months.value, lo, hi, np.ones(4))
        _assumption_sets(loaded)
        _load_patient_data(loaded)
    if "adverse_events" in names:
        _, scenarios = _scenarios(loaded)
        for event in trial.adverse_events.by_prior_therapy.values():
            ends = rounding_interval(event.p_value.value)
            for end in ends:
                sbb_calibration(end)
            coarsened_report(*ends, 1, scenarios[0].splits, test=scenarios[0].test)


FIXTURE_FILES = sorted(p.name for p in FIXTURES.glob("*.toml"))


@pytest.mark.parametrize("name", [DEFAULT_TRIAL.name, *FIXTURE_FILES])
def test_validate_accepts_exactly_what_run_prepares(name: str) -> None:
    path = DEFAULT_TRIAL if name == DEFAULT_TRIAL.name else FIXTURES / name
    result = CliRunner().invoke(app, ["validate", str(path)])
    try:
        prepare_run(path)
        prepared = True
    except (InputError, ValueError, ZeroDivisionError, KeyError, RuntimeWarning):
        prepared = False
    validated = result.exit_code == 0
    if isinstance(result.exception, MarkupError):
        # rich markup in the message: printing it is analysis/cli.handles_errors' job (issue 11,
        # escaping); the verdict is the library call validate makes
        try:
            load_trial(path)
            validated = True
        except InputError:
            validated = False
    else:
        assert result.exit_code in (0, 2), result.output
    assert validated == prepared, result.output
