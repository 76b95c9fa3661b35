"""Every trial of the corpus (``data/trials/``) run end to end, checked against expectations
computed without the package (issue 12, item 7).

Each file goes through :func:`run_analysis` once (one process, short sampling settings, so the
compiled models are reused across files), writing results.json, the tables, the figures and the
report. The numbers are then held against ``tests/fixtures/corpus_expectations.json``, computed
from the printed numbers with scipy (Clopper-Pearson, Wilson, Fisher), and against closed forms
written here:

- rates: published counts are the data (one candidate; the exact posterior is
  Beta(a + x, b + n - x), mean within 1e-9 under every prior); otherwise the candidates are the
  independent enumeration (the exact and Wilson sets, restricted to the numbers evaluated the
  package's prior admits); posterior weights are the prior weights times the beta-binomial
  marginal likelihood (scipy), and the posterior mean is that mixture's mean;
- time-to-event endpoints: the reported median lies in the posterior 95 % interval of the median
  (the unit kept), or the endpoint is "not analysed" with its reason (fewer than 20 at risk);
- comparisons with published counts: the one table, its odds ratio and Fisher P value;
- the run writes a Markdown and an HTML report with no traceback, and every figure.

Time: 25 files, 52 rates, 46 time-to-event endpoints: about 7 minutes in one process on a shared
2-core machine (6.6 CPU-minutes), nearly all in the runs (the checks are instant). The sampler is
not the cost (a fit takes about 0.2 s whatever the settings); the follow-up Beta-mixture fit of
each rate (about 5 s) and the figures are.
"""

from __future__ import annotations

import json
import math
import re
import tomllib
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from scipy import stats

from trial_reanalysis.analysis.inference.fitting import CompiledModel, SamplerSettings
from trial_reanalysis.analysis.run import RunConfig, run_analysis, trial_endpoints
from trial_reanalysis.analysis.trials.load import load_trial

ROOT = Path(__file__).resolve().parents[1]
TRIALS = ROOT / "data" / "trials"
FILES = sorted(TRIALS.glob("*.toml"))
EXPECTED: dict[str, Any] = json.loads(
    (ROOT / "tests" / "fixtures" / "corpus_expectations.json").read_text()
)
#: Short settings: these models are small, and the time of a run is mostly its fixed costs
#: (conversion, figures, follow-up priors); 4 x 500 draws still pass the ESS gate (400), so no
#: fit pays for a retry. Gates are tested elsewhere: a marginal one does not stop a run here.
SHORT = SamplerSettings(draws=500, tune=500, chains=4)
SEED = 20240601
#: Fewest patients at risk for the order-statistic summary likelihood (validation.py).
MIN_AT_RISK = 20

_RUNS: dict[str, dict[str, Any]] = {}
#: The files the fast tier runs (every form of the corpus at least once: the seed, published
#: counts of two groups, many rates with a median not reached and landmarks, a 0 % rate with
#: truncation, times in weeks with a CI no method reproduces, times in days, a 90 % CI). The
#: whole corpus runs in the slow tier (`make validate`): about 7 minutes on two busy cores.
FAST = {
    "sorafenib_mrcc_2010.toml",
    "azad_hfsr_pooled_2009.toml",
    "xu_fulvestrant_2020.toml",
    "kim_everolimus_acc_2014.toml",
    "dilorenzo_sorafenib_2009.toml",
    "trefzer_aviscumine_2014.toml",
    "hensley_gemdoc_first_line_2008.toml",
}


def cases(items: list[tuple], ids: list[str]) -> list[Any]:
    """Parameters of a test over the corpus: those of files outside FAST are marked slow."""
    return [
        pytest.param(*item, id=i, marks=() if item[0].name in FAST else pytest.mark.slow)
        for item, i in zip(items, ids, strict=True)
    ]


@pytest.fixture(scope="module")
def out_root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("corpus")


def run_of(path: Path, out_root: Path) -> dict[str, Any]:
    """Run one file end to end (once per test session) and return what it wrote."""
    if path.name not in _RUNS:
        out = out_root / path.stem
        before = CompiledModel.compilations
        output = run_analysis(
            RunConfig(
                trial_path=path,
                out_dir=out,
                seed=SEED,
                workers=1,
                sampler=SHORT,
                allow_failed_diagnostics=True,
            )
        )
        _RUNS[path.name] = {
            "out": out,
            "results": json.loads((out / "results.json").read_text()),
            "output": output,
            "compiled": CompiledModel.compilations - before,
        }
    return _RUNS[path.name]


def raw_file(path: Path) -> dict[str, Any]:
    with path.open("rb") as handle:
        return tomllib.load(handle)


# ---------------------------------------------------------------------------------------------
# the run and its report
# ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize("path", cases([(f,) for f in FILES], [p.stem for p in FILES]))
def test_run_writes_every_endpoint_and_a_report(path: Path, out_root: Path) -> None:
    run = run_of(path, out_root)
    out, results = run["out"], run["results"]
    assert results["schema_version"] == 2
    assert results["trial"]["id"].replace("-", "_") == path.stem
    declared = trial_endpoints(load_trial(path))
    groups = {"rate": "rates", "time_to_event": "time_to_event", "comparison": "comparisons"}
    for kind, key in declared.values():
        if kind in groups:
            assert key in results[groups[kind]], f"{kind} {key} missing from results.json"
    for name in ("report.md", "report.html"):
        text = (out / name).read_text(encoding="utf-8")
        assert len(text) > 1000
        assert "Traceback" not in text and "Error:" not in text
    assert results["trial"]["title"].split(":")[0][:30] in (out / "report.md").read_text()
    pngs = list((out / "figures").glob("*.png"))
    assert pngs and all(p.stat().st_size > 1000 for p in pngs)
    referenced = set(re.findall(r"figures/([\w.-]+\.png)", (out / "report.md").read_text()))
    assert referenced <= {p.name for p in pngs}


# ---------------------------------------------------------------------------------------------
# rates
# ---------------------------------------------------------------------------------------------


def beta_binomial_posterior(
    cands: list[dict[str, Any]], a: float, b: float
) -> tuple[np.ndarray, float]:
    """Posterior weights of the candidates and the posterior mean of the rate, from scratch:
    P(report | theta) = sum_c w_c Binomial(x_c | n_c, theta), so under Beta(a, b) the component
    c has weight w_c * BetaBinomial(x_c | n_c, a, b) and mean (a + x_c) / (a + b + n_c)."""
    w = np.array([c["prior_weight"] for c in cands], dtype=float)
    x = np.array([c["responders"] for c in cands])
    n = np.array([c["evaluable"] for c in cands])
    post = w * stats.betabinom.pmf(x, n, a, b)
    post /= post.sum()
    return post, float(np.sum(post * (a + x) / (a + b + n)))


def expected_sets(exp: dict[str, Any], method: str, rules: list[str]) -> set[tuple[int, int]]:
    found = exp[f"{method}_candidates"]
    return {tuple(c) for r in rules for c in found[r]}


RATE_CASES = [
    (f, key)
    for f in FILES
    for key in EXPECTED[f.name]["rates"]
    if EXPECTED[f.name]["rates"][key]  # an empty entry: nothing printed to check against
]


@pytest.mark.parametrize("path,key", cases(RATE_CASES, [f"{p.stem}-{k}" for p, k in RATE_CASES]))
def test_rate_against_independent_expectations(path: Path, key: str, out_root: Path) -> None:
    exp = EXPECTED[path.name]["rates"][key]
    r = run_of(path, out_root)["results"]["rates"][key]
    rec = r["reconstruction"]
    cands = rec["candidates"]
    got = {(c["responders"], c["evaluable"]) for c in cands}
    n_prior = {int(k) for k in rec["n_prior"]}
    x_pub, n_pub = exp.get("responders"), exp.get("evaluable")

    if x_pub is not None and n_pub is not None:
        # published counts are the data: one candidate, the exact posterior its Beta
        assert got == {(x_pub, n_pub)} and rec["basis"] == "counts"
        for name, prior in r["priors"].items():
            a, b = prior["parameters"]["alpha"], prior["parameters"]["beta"]
            exact = stats.beta(a + x_pub, b + n_pub - x_pub)
            post = r["posterior"][name]
            assert post["mean"] == pytest.approx(exact.mean(), abs=1e-9), name
            assert post["ci95"] == pytest.approx(exact.ppf([0.025, 0.975]), abs=1e-7), name
        # the frequentist side: the Clopper-Pearson interval of the counts at the package's one
        # level (95 %), from the beta quantiles; the fixture's limits are at the paper's level
        want = [
            100 * stats.beta.ppf(0.025, x_pub, n_pub - x_pub + 1) if x_pub > 0 else 0.0,
            100 * stats.beta.ppf(0.975, x_pub + 1, n_pub - x_pub) if x_pub < n_pub else 100.0,
        ]
        lo, hi = r["frequentist"]["ci95"]
        assert [100 * lo, 100 * hi] == pytest.approx(want, abs=1e-7)
        printed_level = exp.get("search", {}).get("ci_level", 0.95)
        if "exact_ci_of_published_counts" in exp and printed_level == 0.95:
            assert want == pytest.approx(exp["exact_ci_of_published_counts"], abs=6e-5)
    else:
        if n_pub is not None:
            assert n_prior == {n_pub}
        if x_pub is not None:
            assert {x for x, _ in got} == {x_pub}
        if "estimate_only_responders" in exp:
            assert rec["basis"] == "estimate_only"
            assert got == {(x, n_pub) for x in exp["estimate_only_responders"]}
        if "exact_candidates" in exp:
            rules = rec["rounding_rules"]
            for method in ("exact", "wilson"):
                want = {c for c in expected_sets(exp, method, rules) if c[1] in n_prior}
                have = {
                    (c["responders"], c["evaluable"]) for c in cands if method in c["ci_methods"]
                }
                assert have == want, f"{method}: package {sorted(have)}, enumeration {sorted(want)}"
            any_ci = set().union(*(expected_sets(exp, m, rules) for m in ("exact", "wilson")))
            if any_ci:
                assert rec["basis"] == "estimate_and_ci" and rec["ci_reproduced"] is True
    # every rate: the posterior is the exact Beta mixture over the candidates
    for name, prior in r["priors"].items():
        a, b = prior["parameters"]["alpha"], prior["parameters"]["beta"]
        weights, mean = beta_binomial_posterior(cands, a, b)
        post = r["posterior"][name]
        assert post["mean"] == pytest.approx(mean, abs=1e-9), name
        if name == r["primary_prior"]:
            have = [c["posterior_weight"] for c in cands]
            assert have == pytest.approx(weights.tolist(), abs=1e-9)
        # the MCMC check agrees with the exact mixture (5 MCSE: many checks in this file)
        mc = post["mcmc"]
        assert max(abs(mc["z_mean"]), *map(abs, mc["z_ci95"])) < 5, (name, mc)


# ---------------------------------------------------------------------------------------------
# time-to-event endpoints
# ---------------------------------------------------------------------------------------------


TTE_CASES = [(f, key) for f in FILES for key in EXPECTED[f.name]["time_to_event"]]


@pytest.mark.parametrize("path,key", cases(TTE_CASES, [f"{p.stem}-{k}" for p, k in TTE_CASES]))
def test_time_to_event_median_inside_its_posterior_interval(
    path: Path, key: str, out_root: Path
) -> None:
    exp = EXPECTED[path.name]["time_to_event"][key]
    t = run_of(path, out_root)["results"]["time_to_event"][key]
    assert t["unit"] == exp["unit"]
    rep = t["reported"]
    # counts as published, exactly
    for field in ("events", "patients"):
        if field in exp:
            assert rep[field] == exp[field], field
    median = exp.get("median")
    if not t["analysed"]:
        found = re.search(r"with (\d+) patients at risk", t["reason"])
        assert found and int(found.group(1)) < MIN_AT_RISK, t["reason"]
        return
    post = t["posterior"][t["primary_prior"]]
    lo, hi = post["median"]["ci95"]
    assert 0 < lo < hi and math.isfinite(hi)
    if isinstance(median, int | float):
        assert lo <= median <= hi, f"reported {median} outside ({lo:.3g}, {hi:.3g}) {t['unit']}"
    elif median in ("not reached", "NE"):
        # not reached: the posterior median lies beyond the printed lower limit or follow-up
        floor = [v for v in (exp.get("ci") or [None])[:1] if isinstance(v, int | float)]
        floor += [rep["followup_median"]] if rep.get("followup_median") else []
        assert floor, "nothing printed to bound a median not reached"
        assert post["median"]["median"] > max(floor)
    for lm in exp.get("landmarks", []):
        got = post["survival_at"].get(f"{lm['time']:g}")
        if got is not None and t["data_used"]["landmarks"]:
            low, high = got["ci95"]
            assert low <= lm["percent"] / 100 <= high, (lm, got)


# ---------------------------------------------------------------------------------------------
# comparisons between two named groups
# ---------------------------------------------------------------------------------------------


CMP_CASES = [
    (f, key)
    for f in FILES
    for key, c in EXPECTED[f.name]["comparisons"].items()
    if c  # only comparisons with published counts hold numbers to check
]


@pytest.mark.parametrize("path,key", cases(CMP_CASES, [f"{p.stem}-{k}" for p, k in CMP_CASES]))
def test_published_counts_give_the_one_table(path: Path, key: str, out_root: Path) -> None:
    exp = EXPECTED[path.name]["comparisons"][key]
    results = run_of(path, out_root)["results"]["comparisons"]
    (entry,) = [g["events"][key] for g in results.values() if key in g["events"]]
    assert entry["data"] == "published counts"
    (table,) = entry["compatible_tables"]
    assert (table["exposed_events"], table["n_exposed"]) == tuple(exp["exposed"])
    assert (table["reference_events"], table["n_reference"]) == tuple(exp["reference"])
    assert table["posterior_probability"] == pytest.approx(1.0)
    f = entry["frequentist"]
    assert f["sample_odds_ratio"] == pytest.approx(exp["odds_ratio"], abs=1e-6)
    assert f["p_value_fisher"] == pytest.approx(exp["fisher_two_sided_p"], abs=1e-6)


def test_seed_comparisons_without_counts_are_not_one_table(out_root: Path) -> None:
    """The seed prints P values, not counts: its comparisons keep every compatible table."""
    seed = TRIALS / "sorafenib_mrcc_2010.toml"
    for grouping in run_of(seed, out_root)["results"]["comparisons"].values():
        for key, entry in grouping["events"].items():
            assert entry["data"] != "published counts", key
            assert len(entry["compatible_tables"]) > 1, key


def test_models_are_compiled_once_per_process(out_root: Path) -> None:
    """After the fast tier's files, a second run of a file compiles nothing (the summary, rate
    and comparison models are reused across files; only patient data build their own model)."""
    for path in FILES:
        if path.name in FAST:
            run_of(path, out_root)
    seed = TRIALS / "sorafenib_mrcc_2010.toml"
    before = CompiledModel.compilations
    run_analysis(
        RunConfig(
            trial_path=seed,
            out_dir=out_root / "seed_again",
            seed=SEED,
            workers=1,
            sampler=SHORT,
            allow_failed_diagnostics=True,
            endpoints=tuple(trial_endpoints(load_trial(seed))),
        )
    )
    assert CompiledModel.compilations == before


def test_every_corpus_file_has_expectations() -> None:
    assert sorted(k for k in EXPECTED if k != "_about") == [p.name for p in FILES]
    for path in FILES:
        declared = raw_file(path)
        assert set(EXPECTED[path.name]["rates"]) == set(declared.get("rates", {}))
        assert set(EXPECTED[path.name]["time_to_event"]) == set(declared.get("time_to_event", {}))
