"""Fuzz test of the validation layer (issue 11): a seeded generator of malformed and hostile trial
files, each checked through ``reanalysis validate`` in-process.

Variants are mutations of valid schema version 2 files (the seed and corpus files) and of valid
version 1 files (the v1 seed and the handed fixtures, migrated on load). Every variant is either
known valid by construction (then validate must accept it) or carries the field its fault is in
(then validate must exit 2 naming the file and that field, with no traceback; a version 1 file's
error names the version 2 path and the version 1 line). Then, for every fixture and corpus file,
``validate`` must accept exactly the files whose run preparation (the reconstruction and model
set-up ``run`` does before sampling) succeeds.
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

import pytest
from rich.errors import MarkupError
from typer.testing import CliRunner

from trial_reanalysis.analysis.cli import app
from trial_reanalysis.analysis.errors import InputError
from trial_reanalysis.analysis.trials.load import DEFAULT_TRIAL, load_trial

FIXTURES = Path(__file__).parent / "fixtures" / "cases"
SEED_V1 = Path(__file__).parent / "fixtures" / "seed_v1.toml"
TRIALS = DEFAULT_TRIAL.parent
SEED_DOC = tomllib.loads(DEFAULT_TRIAL.read_text())
#: Valid version 2 files the v2 mutations start from (counts, NE limits, weeks, days, landmarks).
V2_BASES = [
    "sorafenib_mrcc_2010.toml",
    "xu_fulvestrant_2020.toml",
    "azad_hfsr_pooled_2009.toml",
    "fayette_niscahn_acc_2023.toml",
    "dilorenzo_sorafenib_2009.toml",
    "trefzer_aviscumine_2014.toml",
]
#: Handed trial files (version 1) that are valid as they stand (bases of the v1 mutations).
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
    "x" * 1900,  # below the 2000-character cap of a v2 text
]
#: Keys whose string values are free text (safe to make hostile: the file stays valid).
#: (Not ``id``: version 2 ids are short identifiers, so a migrated v1 file with a hostile id is
#: rejected naming ``trial.id``; a test below says so.)
TEXT_KEYS = {"title", "journal", "doi", "registry", "treatment", "population"}
TEXT_KEYS |= {"source", "note", "name", "definition", "rationale"}
TEXT_KEYS_V2 = {"title", "journal", "doi", "registry", "treatment", "population"}
TEXT_KEYS_V2 |= {"source", "note", "definition", "rationale", "label"}
#: Fields the format types as integers (counts, years, decimals).
INT_FIELDS = (
    r"trial\.year|enrolled\.value|design\.stages\.value|design\.stage1\.value\[\d\]"
    r"|burden_reduction\.(max_evaluable|evaluable|responders|reported_decimals)\.value"
    r"|pfs\.(events|censored)\.value|prior_therapy\.n_\w+\.value"
    r"|adverse_events\.by_prior_therapy\.\w+\.events_\w+\.value"
    r"|assumptions\.pfs_n_at_risk\.(default|sweep\[\d+\])"
    r"|assumptions\.ae_split_range\.(default|sweep\[\d+\])(\[\d+\])?"
)
INT_FIELDS_V2 = (
    r"schema_version|trial\.year|enrolled\.value|design\.stages\.value"
    r"|design\.stage1\.value\[\d\]"
    r"|rates\.\w+\.((max_evaluable|evaluable|responders)\.value|decimals)"
    r"|time_to_event\.\w+\.(events|censored|patients)\.value"
    r"|groupings\.\w+\.(exposed|reference)\.n\.value"
    r"|comparisons\.\w+\.events_\w+\.value"
    r"|.*assumptions\.(n_at_risk|split_range)\.(default|sweep\[\d+\])(\[\d+\])?"
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


def test_a_v1_file_with_an_id_v2_cannot_hold_is_rejected_naming_it(tmp_path) -> None:
    doc = tomllib.loads(SEED_V1.read_text())
    doc["trial"]["id"] = "<script>alert(1)</script>"
    path = tmp_path / "t.toml"
    path.write_text(dump_toml(doc))
    with pytest.raises(InputError, match="pattern") as info:
        load_trial(path)
    assert info.value.field == "trial.id"


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
    version: int = 1


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
    """Every kind of version 1 variant: (kind, function of (base, rng) -> Variant or None)."""
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
        leaves = [leaf for leaf in _numeric_leaves(d) if isinstance(leaf[3], float)]
        if not leaves:
            return None
        path, parent, key, _ = rng.choice(leaves)
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
        # a P value may be written as printed ("0.06" reads as "= .06"): still valid
        return Variant("", d, None if path.endswith("p_value.value") else path)

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
        n = rng.choice([2001, 10**5, 10**6])
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
            (good + "0,1\n", None),  # an event at 0 is allowed (before the first assessment)
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


def _tte_with_summary(d: dict) -> str | None:
    """Key of a time-to-event endpoint with a median reached and a CI with both limits."""
    for key, t in d.get("time_to_event", {}).items():
        m, ci = t.get("median", "not reported"), t.get("ci", "not reported")
        if isinstance(m, dict) and isinstance(m["value"], int | float) and isinstance(ci, dict):
            if all(isinstance(v, int | float) for v in ci["value"]):
                return key
    return None


def _tte_reached(d: dict) -> str | None:
    for key, t in d.get("time_to_event", {}).items():
        m = t.get("median", "not reported")
        if isinstance(m, dict) and isinstance(m["value"], int | float):
            return key
    return None


def _assumption(value: Any) -> dict[str, Any]:
    return {"default": value, "sweep": [value], "rationale": "fuzz"}


def _number_leaves_v2(doc: dict[str, Any]) -> list[tuple[str, Any, Any, Any]]:
    """Numeric leaves a type mutation makes invalid (``other`` holds text or numbers alike)."""
    return [leaf for leaf in _numeric_leaves(doc) if not leaf[0].startswith("other.")]


def _expected(path: str) -> str:
    """The field an error about a leaf names: an assumption is checked as a whole."""
    match = re.match(r"(.*\.assumptions\.\w+)\.(default|sweep)", path)
    return match.group(1) if match else path


def _mutations_v2() -> list[tuple[str, Callable[[dict, random.Random], Variant | None]]]:
    """Every kind of version 2 variant: (kind, function of (base, rng) -> Variant or None)."""
    m: list[tuple[str, Callable[[dict, random.Random], Variant | None]]] = []

    def add(kind: str):
        def deco(fn):
            m.append((kind, fn))
            return fn

        return deco

    def enrolled(d):
        return d["enrolled"]["value"]

    def a_rate(d, rng):
        return rng.choice(sorted(d["rates"])) if d.get("rates") else None

    def v(x):
        return Variant("", *x) if isinstance(x, tuple) else x

    @add("v2: responders above the most evaluable")
    def _(d, rng):
        key = a_rate(d, rng)
        if key is None or d["rates"][key].get("estimate_percent", "not reported") == "not reported":
            return None
        r = d["rates"][key]
        r["evaluable"] = "unknown"
        top = r["max_evaluable"]["value"] if isinstance(r.get("max_evaluable"), dict) else None
        r["responders"] = _reported((top or enrolled(d)) + rng.randint(1, 30))
        return Variant("", d, f"rates.{key}.responders")

    @add("v2: evaluable above enrolled")
    def _(d, rng):
        key = a_rate(d, rng)
        if key is None or d["rates"][key].get("estimate_percent", "not reported") == "not reported":
            return None
        r = d["rates"][key]
        r.pop("max_evaluable", None)
        r["responders"] = "unknown"
        r["evaluable"] = _reported(enrolled(d) + rng.randint(1, 30))
        return Variant("", d, f"rates.{key}.evaluable")

    @add("v2: counts contradicting the printed estimate")
    def _(d, rng):
        key = a_rate(d, rng)
        if key is None or d["rates"][key].get("estimate_percent", "not reported") == "not reported":
            return None
        r = d["rates"][key]
        est = r["estimate_percent"]["value"]
        n = enrolled(d)
        x = next((x for x in range(n + 1) if abs(100 * x / n - est) > 10), None)
        if x is None:
            return None
        r.pop("ci_percent", None)
        r["max_evaluable"] = "unknown"
        r["responders"], r["evaluable"] = _reported(x), _reported(n)
        return Variant("", d, f"rates.{key}.estimate_percent")

    @add("v2: two primary rates")
    def _(d, rng):
        key = a_rate(d, rng)
        if key is None:
            return None
        d["rates"]["zz_extra"] = copy.deepcopy(d["rates"][key]) | {"primary": True}
        d["rates"][key]["primary"] = True
        return Variant("", d, "rates.")

    @add("v2: time-to-event events above patients")
    def _(d, rng):
        if not d.get("time_to_event"):
            return None
        key = rng.choice(sorted(d["time_to_event"]))
        d["time_to_event"][key]["patients"] = "unknown"
        d["time_to_event"][key]["events"] = _reported(enrolled(d) + rng.randint(1, 500))
        return Variant("", d, f"time_to_event.{key}.events")

    @add("v2: events + censored above patients")
    def _(d, rng):
        if not d.get("time_to_event"):
            return None
        key = rng.choice(sorted(d["time_to_event"]))
        t = d["time_to_event"][key]
        t["patients"] = "unknown"
        e = rng.randint(1, enrolled(d))
        t["events"], t["censored"] = _reported(e), _reported(enrolled(d) - e + rng.randint(1, 9))
        return Variant("", d, f"time_to_event.{key}.censored")

    @add("v2: 100 % or reversed censoring")
    def _(d, rng):
        key = _tte_reached(d)
        if key is None:
            return None
        bad = rng.choice([[0.0, 1.0], [0.4, 0.2], [1.0, 1.0], [0.95, 0.99], [0.1]])
        d["time_to_event"][key].setdefault("assumptions", {})["censoring_fraction"] = _assumption(
            bad
        )
        return Variant("", d, f"time_to_event.{key}.assumptions.censoring_fraction")

    @add("v2: n at risk above the patients")
    def _(d, rng):
        if not d.get("time_to_event"):
            return None
        key = rng.choice(sorted(d["time_to_event"]))
        n = enrolled(d) + rng.randint(1, 100)
        d["time_to_event"][key].setdefault("assumptions", {})["n_at_risk"] = _assumption(n)
        return Variant("", d, f"time_to_event.{key}.assumptions.n_at_risk")

    @add("v2: L equals M, or M equals U")
    def _(d, rng):
        key = _tte_with_summary(d)
        if key is None:
            return None
        t = d["time_to_event"][key]
        t.pop("patient_data", None)
        t.pop("digitised_curve", None)
        lo, hi = t["ci"]["value"]
        m = t["median"]["value"]
        t["ci"]["value"] = rng.choice([[m, hi], [lo, m]])
        return Variant("", d, f"time_to_event.{key}.ci")

    @add("v2: a median not reached with a finite upper limit, or NE below a median")
    def _(d, rng):
        key = _tte_with_summary(d)
        if key is None:
            return None
        t = d["time_to_event"][key]
        if rng.random() < 0.5:
            t["median"]["value"] = rng.choice(["not reached", "NR", "NE"])
        else:
            t["ci"]["value"][0] = "NE"
        return Variant("", d, f"time_to_event.{key}.ci")

    @add("v2: inf as a CI limit")
    def _(d, rng):
        key = _tte_with_summary(d)
        if key is None:
            return None
        i = rng.randint(0, 1)
        d["time_to_event"][key]["ci"]["value"][i] = rng.choice([math.inf, math.nan, -math.inf])
        return Variant("", d, f"time_to_event.{key}.ci.value[{i}]")

    @add("v2: r1 >= n1 or n1 above enrolled")
    def _(d, rng):
        n1 = rng.randint(1, 20)
        d.setdefault("design", {})["stage1"] = rng.choice(
            [_reported([n1 + rng.randint(0, 3), n1]), _reported([0, enrolled(d) + 1])]
        )
        return Variant("", d, "design.stage1")

    @add("v2: p0 >= p1 or outside (0, 1)")
    def _(d, rng):
        p0, p1, field = rng.choice(
            [
                (0.3, 0.2, "design.p1"),
                (0.2, 0.2, "design.p1"),
                (0.0, 0.2, "design.p0.value"),
                (0.05, 1.0, "design.p1.value"),
            ]
        )
        d.setdefault("design", {})
        d["design"]["p0"], d["design"]["p1"] = _reported(p0), _reported(p1)
        return Variant("", d, field)

    @add("v2: P values that cannot be read")
    def _(d, rng):
        if not d.get("comparisons"):
            return None
        key = rng.choice(sorted(d["comparisons"]))
        bad = rng.choice(
            [
                "= 1",
                1,
                1.0,
                "> 1",
                "= 0",
                0,
                "= 1.5",
                "about .03",
                "",
                "P",
                "<<.01",
                True,
                "NS at 5%",
                [0.03],
                "= -.03",
                "x" * 60,
            ]
        )
        d["comparisons"][key]["p_value"] = _reported(bad)
        return Variant("", d, f"comparisons.{key}.p_value.value")

    @add("v2: a comparison of an unknown grouping")
    def _(d, rng):
        if not d.get("comparisons"):
            return None
        key = rng.choice(sorted(d["comparisons"]))
        d["comparisons"][key]["grouping"] = rng.choice(["nope", "prior_therapy_2"])
        return Variant("", d, f"comparisons.{key}.grouping")

    @add("v2: counts contradicting the reported direction")
    def _(d, rng):
        if not d.get("comparisons"):
            return None
        key = rng.choice(sorted(d["comparisons"]))
        c = d["comparisons"][key]
        g = d["groupings"][c["grouping"]]
        n = enrolled(d)
        ne = rng.randint(n // 4, n // 2)
        g["exposed"]["n"], g["reference"]["n"] = _reported(ne), _reported(n - ne)
        if rng.random() < 0.5:
            g["reference"]["n"] = "unknown"
        c["more_frequent_in"] = _reported(g["exposed"]["name"])
        c["events_exposed"], c["events_reference"] = _reported(0), _reported(rng.randint(1, 5))
        return Variant("", d, f"comparisons.{key}.more_frequent_in")

    @add("v2: group sizes above enrolment")
    def _(d, rng):
        if not d.get("groupings"):
            return None
        key = rng.choice(sorted(d["groupings"]))
        g = d["groupings"][key]
        n = enrolled(d)
        side = rng.choice(["exposed", "reference"])
        g[side]["n"] = _reported(n + rng.randint(0, 10))
        return Variant("", d, f"groupings.{key}.{side}.n")

    @add("v2: split range outside 1..enrolled-1 or reversed")
    def _(d, rng):
        if not d.get("groupings"):
            return None
        key = rng.choice(sorted(d["groupings"]))
        g = d["groupings"][key]
        g["exposed"]["n"] = g["reference"]["n"] = "unknown"
        for c in d["comparisons"].values():
            c["events_exposed"] = c["events_reference"] = "unknown"
        n = enrolled(d)
        bad = rng.choice([[0, n // 2], [n // 4, n], [n // 2, n // 4], [1, n + 5], [1.5, 3]])
        g.setdefault("assumptions", {})["split_range"] = _assumption(bad)
        return Variant("", d, f"groupings.{key}.assumptions.split_range")

    @add("v2: priors of the wrong family or parameters")
    def _(d, rng):
        kind = rng.choice([k for k in ("rates", "time_to_event", "comparisons") if d.get(k)])
        own = {"rates": "beta", "time_to_event": "lognormal", "comparisons": "normal"}
        key = rng.choice(sorted(d[kind]))
        family, params, field = rng.choice(
            [
                ("normal", {"log_or_mu": 0, "log_or_sigma": 1}, "family")
                if kind == "rates"
                else ("beta", {"alpha": 1, "beta": 1}, "family"),
                ("gamma", {"a": 1}, "family"),
                (own[kind], {"mu": 1}, "parameters"),
                ("beta", {"alpha": -1, "beta": 1}, "parameters.alpha")
                if kind == "rates"
                else ("lognormal", {"x": 1}, "family" if kind == "comparisons" else "parameters"),
            ]
        )
        d[kind][key]["priors"] = {
            "mine": {"family": family, "parameters": params, "rationale": "fuzz"}
        }
        return Variant("", d, f"{kind}.{key}.priors.mine.{field}")

    @add("v2: inf or nan")
    def _(d, rng):
        leaves = [leaf for leaf in _number_leaves_v2(d) if isinstance(leaf[3], float)]
        if not leaves:
            return None
        path, parent, key, _ = rng.choice(leaves)
        parent[key] = rng.choice([math.inf, -math.inf, math.nan])
        return Variant("", d, _expected(path))

    @add("v2: boolean as number")
    def _(d, rng):
        path, parent, key, _ = rng.choice(_number_leaves_v2(d))
        parent[key] = rng.choice([True, False])
        return Variant("", d, _expected(path))

    @add("v2: string as number")
    def _(d, rng):
        path, parent, key, value = rng.choice(_number_leaves_v2(d))
        parent[key] = str(value)
        return Variant("", d, _expected(path))

    @add("v2: float where an integer belongs")
    def _(d, rng):
        ints = [leaf for leaf in _number_leaves_v2(d) if re.fullmatch(INT_FIELDS_V2, leaf[0])]
        if not ints:
            return None
        path, parent, key, value = rng.choice(ints)
        parent[key] = float(value) + 0.5 * rng.randint(0, 1)
        return Variant("", d, _expected(path))

    @add("v2: negative number")
    def _(d, rng):
        leaves = [leaf for leaf in _number_leaves_v2(d) if not leaf[0].endswith("mu")]
        path, parent, key, _ = rng.choice(leaves)
        parent[key] = -rng.randint(1, 50) * rng.choice([1, 0.5])
        return Variant("", d, _expected(path))

    @add("v2: missing field")
    def _(d, rng):
        choices = [("trial", "id"), ("trial", "title"), ("enrolled", "source")]
        choices += [(f"rates.{k}", "label") for k in d.get("rates", {})]
        choices += [(f"time_to_event.{k}", "label") for k in d.get("time_to_event", {})]
        choices += [(f"comparisons.{k}", "grouping") for k in d.get("comparisons", {})]
        section, key = rng.choice(choices)
        node = d
        for part in section.split("."):
            node = node[part]
        del node[key]
        return Variant("", d, f"{section}.{key}")

    @add("v2: missing section or no endpoint")
    def _(d, rng):
        key = rng.choice(["trial", "enrolled", "schema_version", "endpoints"])
        if key == "endpoints":
            for k in ("rates", "time_to_event", "comparisons", "groupings"):
                d.pop(k, None)
            return Variant("", d, "rates")
        del d[key]
        return Variant("", d, key)

    @add("v2: extra field")
    def _(d, rng):
        sections = ["trial", "enrolled"] + [f"rates.{k}" for k in d.get("rates", {})]
        sections += [f"time_to_event.{k}" for k in d.get("time_to_event", {})]
        section = rng.choice(sections)
        node = d
        for part in section.split("."):
            node = node[part]
        node["colour_" + str(rng.randint(0, 99))] = rng.choice([1, "x", [1]])
        return Variant("", d, f"{section}.colour_")

    @add("v2: wrong type of table")
    def _(d, rng):
        section = rng.choice(["trial", "enrolled", "rates", "time_to_event", "design"])
        d[section] = rng.choice([[1, 2], 3, "text"])
        return Variant("", d, section)

    @add("v2: more than the documented caps")
    def _(d, rng):
        which = rng.choice(["comparisons", "sweep", "landmarks", "rates"])
        if which == "comparisons" and d.get("comparisons"):
            first = next(iter(d["comparisons"].values()))
            for j in range(rng.choice([51, 400])):
                d["comparisons"][f"ae{j}"] = copy.deepcopy(first)
            return Variant("", d, "comparisons")
        if which == "landmarks" and _tte_reached(d):
            key = _tte_reached(d)
            d["time_to_event"][key]["landmarks"] = [
                {"time": 1 + j, "percent": 50, "source": "fuzz"} for j in range(21)
            ]
            return Variant("", d, f"time_to_event.{key}.landmarks")
        if which == "rates" and d.get("rates"):
            first = copy.deepcopy(next(iter(d["rates"].values()))) | {"primary": False}
            for j in range(21):
                d["rates"][f"r{j}"] = copy.deepcopy(first)
            return Variant("", d, "rates")
        key = _tte_reached(d) or None
        if key is None:
            return None
        sweep = list(range(1, rng.choice([22, 30000])))
        d["time_to_event"][key].setdefault("assumptions", {})["n_at_risk"] = {
            "default": 1,
            "sweep": sweep,
            "rationale": "fuzz",
        }
        return Variant("", d, f"time_to_event.{key}.assumptions.n_at_risk")

    @add("v2: enrolled above the cap")
    def _(d, rng):
        d["enrolled"]["value"] = rng.choice([2001, 10**5, 10**12])
        return Variant("", d, "enrolled.value")

    @add("v2: deep nesting, huge file, not TOML, special files")
    def _(d, rng):
        which = rng.choice(["deep", "big", "toml", "special"])
        if which == "deep":
            depth = rng.choice([12, 60, 3000])
            raw = dump_toml(d).encode() + b"extra = " + b"[" * depth + b"]" * depth + b"\\n"
            return Variant("", None, "<file>", raw=raw)
        if which == "big":
            d["trial"]["note_big"] = "x" * (1 << 20)
            return Variant("", d, "<file>")
        if which == "toml":
            raw = rng.choice([b"\\xff\\xfe\\x00garbage", b"[trial\\n", dump_toml(d).encode()[:-40]])
            return Variant("", None, "<file>", raw=raw)
        return Variant("", None, "<file>", special=rng.choice(["fifo", "dev_zero", "folder"]))

    @add("v2: hostile text in every text field (valid)")
    def _(d, rng):
        for _, parent, key, _ in _text_leaves_v2(d):
            parent[key] = rng.choice(HOSTILE_TEXT)
        return Variant("", d, None)

    @add("v2: valid printed forms")
    def _(d, rng):
        for c in d.get("comparisons", {}).values():
            if c.get("events_exposed", "unknown") == "unknown":
                c["p_value"] = _reported(
                    rng.choice(
                        [
                            "= .03",
                            ".03",
                            0.03,
                            "< .001",
                            "<=.05",
                            "> .05",
                            "NS",
                            "p = 0.2",
                            0.5,
                            0.00001,
                            "= .99",
                        ]
                    )
                )
        key = _tte_with_summary(d)
        if key is not None:
            t = d["time_to_event"][key]
            n = t["patients"]["value"] if isinstance(t.get("patients"), dict) else enrolled(d)
            e = rng.randint(max(1, n // 2), n)
            t["events"], t["censored"] = _reported(e), _reported(rng.randint(0, n - e))
            t["ci_transform"] = _reported(rng.choice(["plain", "log", "log-log"]))
            if rng.random() < 0.5:
                t["ci"]["value"][1] = rng.choice(["NE", "not reached", "NR"])
            if rng.random() < 0.3:
                t["median"]["value"] = "not reached"
                t["ci"]["value"][1] = "NE"
        r1 = rng.randint(0, 5)
        d.setdefault("design", {})["stage1"] = _reported([r1, rng.randint(r1 + 1, enrolled(d))])
        d["design"]["alpha"] = _reported(rng.choice([0.05, 0.1]))
        d["design"]["power"] = _reported(rng.choice([0.8, 0.9]))
        return Variant("", d, None)

    @add("v2: valid priors")
    def _(d, rng):
        params = {
            "rates": ("beta", {"alpha": 1, "beta": 1}),
            "time_to_event": (
                "lognormal",
                {
                    "log_median_mu": 1.0,
                    "log_median_sd": 1.0,
                    "log_shape_mu": 0.0,
                    "log_shape_sd": 0.5,
                },
            ),
            "comparisons": ("normal", {"log_or_mu": 0.0, "log_or_sigma": 1.5}),
        }
        for kind, (family, p) in params.items():
            for t in d.get(kind, {}).values():
                t["priors"] = {
                    "flat": {
                        "family": family,
                        "parameters": p,
                        "rationale": "fuzz",
                        "primary": True,
                    }
                }
        return Variant("", d, None)

    @add("v2: valid patient data, in the endpoint's unit or another")
    def _(d, rng):
        key = _tte_reached(d)
        if key is None:
            return None
        t = d["time_to_event"][key]
        unit = t.get("unit") or d["trial"].get("time_unit", "months")
        csv_unit = rng.choice(["days", "weeks", "months", "years"])
        days = {"days": 1.0, "weeks": 7.0, "months": 365.25 / 12, "years": 365.25}
        scale = days[unit] / days[csv_unit]
        n = t["patients"]["value"] if isinstance(t.get("patients"), dict) else enrolled(d)
        t.pop("digitised_curve", None)
        t["patient_data"] = {"path": "ipd.csv", "unit": csv_unit, "source": "fuzz"}
        text = _patient_csv(rng, rng.randint(min(30, n), n), t["median"]["value"], scale=scale)
        return Variant("", d, None, files={"ipd.csv": text})

    @add("v2: patient data in another unit than declared")
    def _(d, rng):
        key = _tte_reached(d)
        if key is None:
            return None
        t = d["time_to_event"][key]
        unit = t.get("unit") or d["trial"].get("time_unit", "months")
        t.pop("digitised_curve", None)
        wrong = {"days": 1 / 30.4375, "weeks": 1 / 4.348, "months": 30.4375, "years": 365.25}
        t["patient_data"] = {"path": "ipd.csv", "source": "fuzz"}
        text = _patient_csv(rng, 30, t["median"]["value"], scale=wrong[unit])
        return Variant("", d, "time", files={"ipd.csv": text}, csv_error="ipd.csv")

    return m


def _text_leaves_v2(doc: dict[str, Any]) -> list[tuple[str, Any, Any, Any]]:
    return [
        leaf
        for leaf in _leaves(doc)
        if isinstance(leaf[3], str) and isinstance(leaf[2], str) and leaf[2] in TEXT_KEYS_V2
    ]


def generate(n_variants: int, seed: int = 20261130) -> list[Variant]:
    """``n_variants`` seeded variants of version 2 and version 1 files, every kind in turn, bases
    drawn from the valid files."""
    rng = random.Random(seed)
    v2_bases = [tomllib.loads((TRIALS / f).read_text()) for f in V2_BASES]
    v1_bases = [tomllib.loads(SEED_V1.read_text())]
    v1_bases += [tomllib.loads((FIXTURES / f).read_text()) for f in VALID_BASES]
    kinds = [(k, fn, 2, v2_bases) for k, fn in _mutations_v2()]
    kinds += [(k, fn, 1, v1_bases) for k, fn in _mutations()]
    out: list[Variant] = []
    i = 0
    while len(out) < n_variants:
        kind, fn, version, bases = kinds[i % len(kinds)]
        i += 1
        variant = fn(copy.deepcopy(rng.choice(bases)), rng)
        if variant is not None:
            variant.kind, variant.version = kind, version
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


def _parent(path: str) -> str:
    """The enclosing field: ``a.b[1]`` -> ``a.b``, ``a.b.c`` -> ``a.b``."""
    return re.sub(r"(\[\d+\]|\.[^.\[]+)$", "", path)


def _field_ok(expected: str | None, error: InputError, version: int) -> bool:
    """The error names the faulty field, or the field that holds it (an interval, a table whose
    cross-field check failed); a version 1 file's error may name its v1 line in the problem."""
    if expected is None:
        return True
    names = [error.field]
    if version == 1:
        match = re.search(r"in this version 1 file: ([^ )]+)\)", error.problem)
        if match:
            names.append(match.group(1))
    return any(expected in name or name == _parent(expected) for name in names)


class Hung(Exception):
    pass


def _alarm(signum, frame):  # pragma: no cover - only when something hangs
    raise Hung()


def _squash(text: str) -> str:
    """Without whitespace (rich wraps long lines at the console width)."""
    return re.sub(r"\s+", "", text)


def test_fuzzed_trial_files_are_rejected_cleanly_or_truly_valid(tmp_path, capsys) -> None:
    variants = generate(600)
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
            field_ok = _field_ok(variant.field, error, variant.version)
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
    assert counts["accepted"] >= 45 and counts["rejected cleanly"] >= 450
    kinds = Counter(v.kind for v in variants)
    assert len(kinds) == len(_mutations()) + len(_mutations_v2()), "every kind was generated"
    assert sum(v.version == 2 for v in variants) >= 250


# ---------------------------------------------------------------------------------------------
# validate agrees with what run checks before sampling, on every fixture
# ---------------------------------------------------------------------------------------------


def prepare_run(path: Path) -> None:
    """Everything ``run`` prepares before sampling, through the reconstruction and model
    functions the endpoints call: the endpoints declared, every rate's compatible counts under
    each dropout assumption, every summary likelihood's data (L < M < U), the patient data or
    digitised curve, and each comparison's coarsened report over the first split range."""
    from trial_reanalysis.analysis.reconstruction.rate_report import report_candidates
    from trial_reanalysis.analysis.run import selected_endpoints
    from trial_reanalysis.analysis.trials.checks import (
        default_split_range,
        rate_report_of,
        time_to_event_data,
    )
    from trial_reanalysis.models.comparison import coarsened_report
    from trial_reanalysis.models.time_to_event import summary_data

    loaded = load_trial(path)
    assert selected_endpoints(loaded, None)
    trial = loaded.trial
    n = trial.enrolled.value
    for rate in trial.rates.values():
        if rate.responders != "unknown" and rate.evaluable != "unknown":
            continue
        a = rate.assumptions.dropout_allowance
        for dropout in [a.default, *a.sweep] if a is not None else [None]:
            assert report_candidates(rate_report_of(rate, n, dropout=dropout)).candidates
    for key, tte in trial.time_to_event.items():
        data = time_to_event_data(loaded, key)
        if data is None and tte.median != "not reported" and tte.median.reached:
            if tte.ci != "not reported":
                lo, hi = tte.ci.value
                summary_data(tte.median.value, lo, hi, [1.0] * 4)
    for gkey, g in trial.groupings.items():
        comparisons = [c for c in trial.comparisons.values() if c.grouping == gkey]
        if not comparisons:
            continue
        ne = None if g.exposed.n == "unknown" else g.exposed.n.value
        nr = None if g.reference.n == "unknown" else g.reference.n.value
        if ne is not None and nr is not None:
            splits = [(ne, nr)]
        else:
            a = g.assumptions.split_range
            lo, hi = a.default if a is not None else default_split_range(n)
            splits = [(k, n - k) for k in range(lo, hi + 1)]
        test = g.assumptions.test.default if g.assumptions.test is not None else "fisher"
        for c in comparisons:
            if c.events_exposed != "unknown" and c.events_reference != "unknown":
                continue
            low, high = c.p_value.interval
            sign = 1 if c.more_frequent_in.value == g.exposed.name else -1
            coarsened_report(low, high, sign, splits, test=test)


FIXTURE_FILES = sorted(p.name for p in FIXTURES.glob("*.toml"))
CORPUS_FILES = sorted(p.name for p in TRIALS.glob("*.toml"))


@pytest.mark.parametrize(
    "path",
    [*(FIXTURES / f for f in FIXTURE_FILES), *(TRIALS / f for f in CORPUS_FILES), SEED_V1],
    ids=lambda p: p.name,
)
def test_validate_accepts_exactly_what_run_prepares(path: Path) -> None:
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
    if path.parent == TRIALS:
        assert validated, "every corpus file loads"
