"""The notebook API (``trial_reanalysis.analyse``, ``Reanalysis``, ``write_report``), a plain
script without a main guard calling ``run_analysis``, and the prior listing
(``list_priors``, ``reanalysis priors``).

The in-process analysis must give exactly the numbers of a run with the same seed (results.json
equality for the endpoint); the MCMC check against the exact posterior mean is recomputed here
from the Beta-mixture components; the listed priors are checked against their defining
properties (scipy) and the closed-form ESS of each kind.
"""

from __future__ import annotations

import json
import math
import os
import subprocess
import sys
from pathlib import Path

import arviz as az
import numpy as np
import pandas as pd
import pytest
from matplotlib.figure import Figure
from scipy import stats
from typer.testing import CliRunner

import trial_reanalysis as tr
from trial_reanalysis.analysis.cli import app
from trial_reanalysis.analysis.errors import InputError
from trial_reanalysis.analysis.trials.load import DEFAULT_TRIAL

REPO = Path(__file__).resolve().parents[1]
SEED = 11
RATE = "burden_reduction"

SCRIPT = """\
from pathlib import Path

import trial_reanalysis as tr

said = []
output = tr.run_analysis(
    tr.RunConfig(out_dir=Path("out"), seed={seed}, endpoints=("{rate}",)),
    progress=lambda step, i, n: said.append(step),
)
print("FIRST STEP:", said[0])
print("FILES:", len(output.files))
"""


@pytest.fixture(scope="module")
def script_run(tmp_path_factory) -> tuple[subprocess.CompletedProcess, Path]:
    """A plain script (no ``if __name__ == "__main__":``) run from a temporary folder."""
    folder = tmp_path_factory.mktemp("script")
    (folder / "analysis_script.py").write_text(SCRIPT.format(seed=SEED, rate=RATE))
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    done = subprocess.run(
        [sys.executable, "analysis_script.py"],
        cwd=folder,
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
    )
    return done, folder / "out"


@pytest.fixture(scope="module")
def api_run(tmp_path_factory) -> tuple[tr.Reanalysis, Path]:
    """The seed's primary rate analysed in this process, then written."""
    r = tr.analyse(endpoints=[RATE], seed=SEED)
    out = tmp_path_factory.mktemp("api") / "report"
    r.write_report(out)
    return r, out


def test_script_without_main_guard_runs_in_process(script_run) -> None:
    done, out = script_run
    assert done.returncode == 0, done.stderr[-3000:]
    assert "BrokenProcessPool" not in done.stderr and "freeze_support" not in done.stderr
    assert "FIRST STEP: running the endpoints in this process" in done.stdout
    results = json.loads((out / "results.json").read_text())
    assert set(results["rates"]) == {RATE}
    assert "time_to_event" not in results and "comparisons" not in results


def test_in_process_numbers_equal_the_run(script_run, api_run) -> None:
    _, run_out = script_run
    r, api_out = api_run
    ran = json.loads((run_out / "results.json").read_text())
    written = json.loads((api_out / "results.json").read_text())
    assert written["rates"][RATE] == ran["rates"][RATE]
    assert written["followup_priors"][RATE] == ran["followup_priors"][RATE]
    assert written["followup_planning"] == ran["followup_planning"]
    assert written["provenance"]["seed"] == ran["provenance"]["seed"] == SEED
    # the in-memory results are the ones written
    assert set(r.results) == {"rates"} and set(r.results["rates"][RATE]) == set(ran["rates"][RATE])
    assert r.results["rates"][RATE]["frequentist"]["candidate"] == "14/47"


def test_posterior_is_inference_data_and_agrees_with_the_exact_mixture(api_run) -> None:
    r, _ = api_run
    idata = r.posterior(RATE)
    assert isinstance(idata, az.InferenceData)
    draws = idata.posterior["rate"].values.ravel()
    assert draws.size >= 2000
    exact = r.results["rates"][RATE]["posterior"]["uniform"]["exact"]
    w, a, b = (np.asarray(exact[k], dtype=float) for k in ("weights", "alpha", "beta"))
    assert math.isclose(w.sum(), 1.0, abs_tol=1e-9)
    mean = float(np.sum(w * a / (a + b)))  # the mixture's mean, recomputed here
    mcse = float(az.mcse(idata, var_names=["rate"])["rate"])
    assert abs(draws.mean() - mean) < 4 * mcse
    # 14/47 under Beta(1, 1) is Beta(15, 34), one of the mixture's components
    assert any(math.isclose(x, 15) and math.isclose(y, 34) for x, y in zip(a, b, strict=True))
    for name in ("jeffreys", "skeptical", "enthusiastic"):
        assert isinstance(r.posterior(RATE, f"{RATE}_{name}"), az.InferenceData)
    with pytest.raises(KeyError, match="no fit"):
        r.posterior(RATE, "nonexistent")
    with pytest.raises(KeyError, match="no endpoint 'pfs'"):
        r.summary("pfs")


def test_tables_figures_and_sentences(api_run) -> None:
    r, _ = api_run
    table = r.summary(RATE)
    assert isinstance(table, pd.DataFrame)
    assert {"reported", "frequentist", "bayesian"} <= set(table["side"])
    reported = table[table["side"] == "reported"].iloc[0]
    assert (reported["estimate"], reported["ci_low"], reported["ci_high"]) == (0.30, 0.17, 0.45)
    # the frequentist row is the exact (Clopper-Pearson) interval of 14/47, recomputed by scipy
    freq = table[table["side"] == "frequentist"].iloc[0]
    ci = stats.binomtest(14, 47).proportion_ci(0.95, method="exact")
    assert freq["ci_low"] == pytest.approx(ci.low, abs=1e-9)
    assert freq["ci_high"] == pytest.approx(ci.high, abs=1e-9)
    assert isinstance(r.sensitivity(RATE), pd.DataFrame) and len(r.sensitivity(RATE)) > 4
    figures = r.figures(RATE)
    assert figures and all(isinstance(f, Figure) for f in figures.values())
    assert r.sentences(RATE) and all(isinstance(s, str) and s for s in r.sentences(RATE))


def test_write_report_writes_a_run_folder(api_run) -> None:
    _, out = api_run
    for name in ("results.json", "report.md", "report.html", "followup_priors.json"):
        assert (out / name).stat().st_size > 500, name
    assert len(list((out / "posteriors").glob("*.nc"))) == 4  # one fit per prior
    assert (out / "figures" / f"{RATE}_posterior.png").exists()
    assert (out / "tables" / f"{RATE}_comparison.csv").exists()


def test_write_report_refuses_a_folder_with_other_files(api_run, tmp_path: Path) -> None:
    r, _ = api_run
    folder = tmp_path / "mine"
    folder.mkdir()
    (folder / "notes.txt").write_text("keep me")
    with pytest.raises(InputError, match="--out"):
        r.write_report(folder)
    assert sorted(p.name for p in folder.iterdir()) == ["notes.txt"]
    assert (folder / "notes.txt").read_text() == "keep me"


def test_analyse_refuses_an_undeclared_endpoint() -> None:
    with pytest.raises(InputError, match="declares no endpoint 'os'"):
        tr.analyse(endpoints=["os"])


# ---------------------------------------------------------------------------------------------
# priors as data
# ---------------------------------------------------------------------------------------------

DECLARED = """

[rates.burden_reduction.priors.historical]
family = "beta"
parameters = { alpha = 3, beta = 12 }
rationale = "a test prior: 3 responses in 15 patients of an earlier trial"
primary = true

[time_to_event.pfs.priors.informed]
family = "lognormal"
parameters = { log_median_mu = 1.5, log_median_sd = 0.5, log_shape_mu = 0.2, log_shape_sd = 0.3 }
rationale = "a test prior: median near 4.5 months"
primary = true

[comparisons.ppe.priors.narrow]
family = "normal"
parameters = { log_or_mu = 0, log_or_sigma = 0.25 }
rationale = "a test prior: odds ratios within 0.6-1.6"
"""


def _by_endpoint(listing: list[dict]) -> dict[str, dict]:
    return {e["endpoint"]: e for e in listing}


def _lognormal_ess(p: dict) -> float:
    """Closed form: det(I1) = k^2 pi^2 / 6 for one uncensored Weibull observation in (log
    median, log shape), so ESS = sqrt(1 / (det(I1) det(Cov))) = sqrt(6) / (pi k sd_m sd_s)."""
    k = math.exp(p["log_shape_mu"])
    return math.sqrt(6) / (math.pi * k * p["log_median_sd"] * p["log_shape_sd"])


def test_seed_priors_follow_their_definitions() -> None:
    listing = _by_endpoint(tr.list_priors())
    assert list(listing) == [RATE, "pfs", "ppe", "mucositis", "rash"]
    for entry in listing.values():
        assert sum(p["primary"] for p in entry["priors"]) == 1
        assert all(p["source"] == "package" and p["rationale"] for p in entry["priors"])
    rate = {p["name"]: p for p in listing[RATE]["priors"]}
    assert list(rate) == ["uniform", "jeffreys", "skeptical", "enthusiastic"]
    assert rate["uniform"]["primary"] and rate["uniform"]["parameters"] == {
        "alpha": 1.0,
        "beta": 1.0,
    }
    for p in rate.values():
        assert p["ess"] == pytest.approx(p["parameters"]["alpha"] + p["parameters"]["beta"])
    # skeptical: mean at p0 = 0.05 and 5 % above p1 = 0.20; enthusiastic: mean at p1, 5 % below p0
    sk = stats.beta(
        rate["skeptical"]["parameters"]["alpha"], rate["skeptical"]["parameters"]["beta"]
    )
    en = stats.beta(
        rate["enthusiastic"]["parameters"]["alpha"], rate["enthusiastic"]["parameters"]["beta"]
    )
    assert sk.mean() == pytest.approx(0.05, abs=1e-9) and sk.sf(0.20) == pytest.approx(
        0.05, abs=1e-8
    )
    assert en.mean() == pytest.approx(0.20, abs=1e-9) and en.cdf(0.05) == pytest.approx(
        0.05, abs=1e-8
    )

    pfs = {p["name"]: p for p in listing["pfs"]["priors"]}
    assert listing["pfs"]["unit"] == "months"
    assert [n for n, p in pfs.items() if p["primary"]] == ["weakly_informative"]
    assert pfs["weakly_informative"]["parameters"]["log_median_mu"] == pytest.approx(math.log(12))
    for p in pfs.values():
        assert p["family"] == "lognormal"
        assert p["ess"] == pytest.approx(_lognormal_ess(p["parameters"]), rel=1e-9)
    assert pfs["weakly_informative"]["ess"] == pytest.approx(0.8663, abs=1e-4)

    for event in ("ppe", "mucositis", "rash"):
        priors = {p["name"]: p for p in listing[event]["priors"]}
        assert priors["weakly_informative"]["primary"]
        assert priors["weakly_informative"]["parameters"]["log_or_sigma"] == 1.0
        for p in priors.values():
            # 4 / (p (1 - p) sigma^2) at p = 0.5
            assert p["ess"] == pytest.approx(4 / (0.25 * p["parameters"]["log_or_sigma"] ** 2))
    assert listing["ppe"]["results_path"] == "comparisons.prior_therapy.events.ppe.priors"


def test_listing_matches_the_priors_a_run_used(script_run) -> None:
    _, out = script_run
    written = json.loads((out / "results.json").read_text())["rates"][RATE]["priors"]
    listed = {p["name"]: p for p in _by_endpoint(tr.list_priors())[RATE]["priors"]}
    assert set(listed) == set(written)
    for name, p in written.items():
        assert listed[name]["parameters"] == pytest.approx(p["parameters"], rel=1e-12)
        assert listed[name]["primary"] == p["primary"]
        assert listed[name]["ess"] == pytest.approx(p["ess"], rel=1e-12)


@pytest.fixture(scope="module")
def declaring_file(tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("declared") / "declared.toml"
    path.write_text(DEFAULT_TRIAL.read_text() + DECLARED)
    return path


def test_priors_command_json_with_a_file_that_declares_its_primary(declaring_file: Path) -> None:
    done = CliRunner().invoke(app, ["priors", str(declaring_file), "--json"])
    assert done.exit_code == 0, done.output
    listing = _by_endpoint(json.loads(done.stdout))
    rate = {p["name"]: p for p in listing[RATE]["priors"]}
    assert [n for n, p in rate.items() if p["primary"]] == ["historical"]
    assert rate["historical"]["source"] == "trial file" and rate["historical"]["ess"] == 15.0
    assert {n for n, p in rate.items() if p["source"] == "package"} == {
        "uniform",
        "jeffreys",
        "skeptical",
        "enthusiastic",
    }
    pfs = {p["name"]: p for p in listing["pfs"]["priors"]}
    assert [n for n, p in pfs.items() if p["primary"]] == ["informed"]
    assert pfs["informed"]["source"] == "trial file"
    assert pfs["informed"]["ess"] == pytest.approx(
        math.sqrt(6) / (math.pi * math.exp(0.2) * 0.5 * 0.3), rel=1e-9
    )
    # a comparison's declared priors replace the defaults; the first is primary when none is marked
    ppe = listing["ppe"]["priors"]
    assert [(p["name"], p["primary"], p["source"]) for p in ppe] == [("narrow", True, "trial file")]
    assert ppe[0]["ess"] == pytest.approx(4 / (0.25 * 0.25**2))
    assert {p["name"] for p in listing["rash"]["priors"]} == {"weakly_informative", "skeptical"}


def test_priors_command_table(declaring_file: Path) -> None:
    done = CliRunner().invoke(app, ["priors", str(declaring_file)], terminal_width=200)
    assert done.exit_code == 0, done.output
    assert "historical (primary)" in done.stdout
    assert "uniform (primary)" not in done.stdout
    assert "informed (primary)" in done.stdout and "narrow (primary)" in done.stdout


def test_priors_command_refuses_a_bad_file(tmp_path: Path) -> None:
    bad = tmp_path / "bad.toml"
    bad.write_text(
        DEFAULT_TRIAL.read_text()
        + '\n[rates.burden_reduction.priors.wrong]\nfamily = "normal"\n'
        + 'parameters = { log_or_mu = 0, log_or_sigma = 1 }\nrationale = "wrong family"\n'
    )
    done = CliRunner().invoke(app, ["priors", str(bad)])
    assert done.exit_code == 2
    assert "wrong" in done.output
