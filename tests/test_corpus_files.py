"""The corpus of real trials in ``data/trials/``: every file loads, every number has its source.

Each file is read with :mod:`tomllib` and validated by the schema of record
(:class:`analysis.trials.v2.TrialV2`); then the checks a reader relies on: every reported value
names where it was published, trial ids are unique and follow the file name, the header comment
cites the paper (doi, PMID or URL), published counts agree with the printed percentages, and the
corpus README and the expectations fixture (``tests/fixtures/corpus_expectations.json``, computed
from the printed numbers with scipy, not with the package) list every file.
"""

from __future__ import annotations

import json
import re
import tomllib
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from pydantic import BaseModel

from trial_reanalysis.analysis.trials.load import load_trial
from trial_reanalysis.analysis.trials.v2 import Landmark, TrialV2

ROOT = Path(__file__).resolve().parents[1]
TRIALS = ROOT / "data" / "trials"
FILES = sorted(TRIALS.glob("*.toml"))
EXPECTATIONS = ROOT / "tests" / "fixtures" / "corpus_expectations.json"
CITATION = re.compile(r"\b10\.\d{4,9}/\S+|\bPMID\s*:?\s*\d{6,9}\b|https?://\S+")


def _load(path: Path) -> TrialV2:
    with path.open("rb") as handle:
        return TrialV2.model_validate(tomllib.load(handle))


def _header(path: Path) -> str:
    """The comment block that opens the file (lines starting with '#')."""
    lines = []
    for line in path.read_text(encoding="utf-8").splitlines():
        if not line.startswith("#"):
            break
        lines.append(line)
    return "\n".join(lines)


def _sourced(node: Any, where: str = "") -> Iterator[tuple[str, BaseModel]]:
    """Every validated object that carries a ``source`` field, with its path in the file."""
    if isinstance(node, BaseModel):
        if "source" in type(node).model_fields:
            yield where, node
        for name in type(node).model_fields:
            yield from _sourced(getattr(node, name), f"{where}.{name}".lstrip("."))
    elif isinstance(node, dict):
        for key, value in node.items():
            yield from _sourced(value, f"{where}.{key}")
    elif isinstance(node, list | tuple):
        for i, value in enumerate(node):
            yield from _sourced(value, f"{where}[{i}]")


def test_corpus_is_large_enough() -> None:
    """At least 12 real trials besides the seed (issue 12, item 7)."""
    assert len([p for p in FILES if p.stem != "sorafenib_mrcc_2010"]) >= 12


@pytest.mark.parametrize("path", FILES, ids=[p.stem for p in FILES])
def test_file_validates_and_cites_its_source(path: Path) -> None:
    trial = _load(path)
    assert trial.trial.id.replace("-", "_") == path.stem
    assert CITATION.search(_header(path)), f"{path.name}: header names no doi, PMID or URL"
    found = list(_sourced(trial))
    assert found, f"{path.name}: no reported value"
    for where, value in found:
        assert value.source.strip(), f"{path.name}: {where} has an empty source"


@pytest.mark.parametrize("path", FILES, ids=[p.stem for p in FILES])
def test_file_loads_with_every_cross_field_check(path: Path) -> None:
    """Beyond the schema: the loader's checks (counts, limits, reconstruction, units) accept every
    corpus file, and the loaded trial is the schema's reading of the file."""
    loaded = load_trial(path)
    assert loaded.schema_version_read == 2
    assert loaded.trial == _load(path)


def test_corpus_exercises_the_printed_forms() -> None:
    """The corpus holds the forms docs/trial-files.md describes: weeks and days, a 90 % CI,
    truncation, an upper limit NE, a median not reached, landmarks, published counts."""
    trials = {p.stem: _load(p) for p in FILES}
    units = {
        t.unit or tr.trial.time_unit for tr in trials.values() for t in tr.time_to_event.values()
    }
    assert {"weeks", "days", "months"} <= units
    rates = [r for tr in trials.values() for r in tr.rates.values()]
    assert any(r.ci_level == 0.90 for r in rates)
    assert any(r.rounding == "truncate" for r in rates)
    ttes = [t for tr in trials.values() for t in tr.time_to_event.values()]
    assert any(t.ci != "not reported" and t.ci.value[1] is None for t in ttes)
    assert any(t.median != "not reported" and not t.median.reached for t in ttes)
    assert any(t.landmarks for t in ttes)
    comparisons = [c for tr in trials.values() for c in tr.comparisons.values()]
    assert any(c.events_exposed != "unknown" for c in comparisons)


def test_every_reported_kind_is_walked() -> None:
    """The walk reaches nested values: landmarks, group sizes, the design, other."""
    trial = _load(TRIALS / "xu_fulvestrant_2020.toml")
    where = {w for w, _ in _sourced(trial)}
    assert "time_to_event.pfs.landmarks[1]" in where
    assert "design.stages" in where
    assert "other.measurable_stable_disease" in where
    assert isinstance(dict(_sourced(trial))["time_to_event.pfs.landmarks[1]"], Landmark)
    azad = {w for w, _ in _sourced(_load(TRIALS / "azad_hfsr_pooled_2009.toml"))}
    assert {"groupings.regimen.exposed.n", "comparisons.hfsr_grade23.events_reference"} <= azad


def test_trial_ids_are_unique() -> None:
    ids = [_load(p).trial.id for p in FILES]
    assert len(ids) == len(set(ids))


@pytest.mark.parametrize("path", FILES, ids=[p.stem for p in FILES])
def test_published_counts_fit_the_printed_percentages(path: Path) -> None:
    """responders <= evaluable <= enrolled, and 100 x / n within one printed unit of the estimate.

    One unit, not half: the corpus holds printed numbers that match neither rounding nor truncation
    exactly (Hensley 2008 prints 35.8 % for 15/42 = 35.71 %); a typed-in digit slip would miss by
    far more.
    """
    trial = _load(path)
    for key, rate in trial.rates.items():
        if rate.responders == "unknown" or rate.evaluable == "unknown":
            continue
        x, n = rate.responders.value, rate.evaluable.value
        assert x <= n <= trial.enrolled.value, f"{path.name}: rates.{key}"
        if rate.estimate_percent != "not reported":
            printed = rate.estimate_percent.value
            decimals = rate.decimals if rate.decimals is not None else 1
            assert abs(100 * x / n - printed) <= 10.0**-decimals, f"{path.name}: rates.{key}"


def test_readme_lists_every_file() -> None:
    readme = (TRIALS / "README.md").read_text(encoding="utf-8")
    for path in FILES:
        assert f"`{path.name}`" in readme or f"({path.name})" in readme, path.name


def test_expectations_cover_every_file_and_match_published_counts() -> None:
    """The fixture holds every file; its counts are the files' published counts."""
    expected = json.loads(EXPECTATIONS.read_text(encoding="utf-8"))
    assert expected["_about"]["label"] == "computed here from the printed numbers"
    assert set(expected) - {"_about"} == {p.name for p in FILES}
    for path in FILES:
        trial = _load(path)
        for key, rate in trial.rates.items():
            entry = expected[path.name]["rates"][key]
            if rate.responders != "unknown":
                assert entry["responders"] == rate.responders.value
            if rate.evaluable != "unknown":
                assert entry["evaluable"] == rate.evaluable.value
        for key, tte in trial.time_to_event.items():
            entry = expected[path.name]["time_to_event"][key]
            if tte.median != "not reported" and tte.median.value is not None:
                assert entry["median"] == pytest.approx(tte.median.value, abs=1e-12)


@pytest.mark.parametrize("path", FILES, ids=lambda p: p.stem)
def test_every_corpus_trial_survives_the_trip_to_a_worker(path: Path) -> None:
    """A loaded trial is pickled to worker processes as a dump and validated again there: every
    corpus file (medians not reached, NE limits included) comes back equal."""
    import pickle

    from trial_reanalysis.analysis.trials.load import load_trial

    loaded = load_trial(path)
    assert pickle.loads(pickle.dumps(loaded)) == loaded
