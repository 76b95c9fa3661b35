"""The PFS endpoint analysis of the seed trial, end to end (one compiled model, all scenarios)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from lifelines.datasets import load_larynx

from trial_reanalysis.analysis.endpoints.base import COMPARISON_COLUMNS, SENSITIVITY_COLUMNS
from trial_reanalysis.analysis.endpoints.time_to_event import analyse_pfs, summary_ml
from trial_reanalysis.analysis.inference.fitting import CompiledModel
from trial_reanalysis.analysis.studies.pfs_calibration import dirichlet_alpha
from trial_reanalysis.analysis.trials.load import load_trial
from trial_reanalysis.models.time_to_event import PFS_PRIORS, summary_loglik


@pytest.fixture(scope="module")
def result(compiled_summary):
    before = CompiledModel.compilations
    res = analyse_pfs(load_trial(), seed=11, compiled={"pfs_summary": compiled_summary})
    assert CompiledModel.compilations == before  # every prior and scenario reused one model
    return res


def test_results_keys(result):
    r = result.results
    assert result.name == "pfs"
    assert r["reported"] == {"median": 4.4, "ci95": [3.6, 5.9]}
    assert r["primary_prior"] == "weakly_informative"
    assert set(r["posterior"]) == set(PFS_PRIORS) == set(r["diagnostics"])
    for post in r["posterior"].values():
        for key in ("median_months", "shape"):
            assert set(post[key]) >= {"mean", "median", "ci95"}
        assert set(post["survival_at"]) == {"3", "6", "12"}
        assert set(post["survival_at"]["6"]) >= {"mean", "ci95"}
    for diag in r["diagnostics"].values():
        assert diag["passed"]
        assert diag["r_hat_max"] <= 1.01


def test_seed_trial_posterior_as_expected(result):
    """DESIGN 4.2: median near 4.4-4.7 (3.3-6.0), shape near 1.5-1.7 (0.9-2.4)."""
    post = result.results["posterior"]["weakly_informative"]
    assert 4.2 < post["median_months"]["median"] < 4.8
    lo, hi = post["median_months"]["ci95"]
    assert 3.0 < lo < 3.6 and 5.4 < hi < 6.3
    assert 1.4 < post["shape"]["median"] < 1.8
    lo, hi = post["shape"]["ci95"]
    assert 0.8 < lo < 1.05 and 2.1 < hi < 2.7
    # sanity of derived survival: S(median) = 0.5, so S(3) > 0.5 > S(6)
    assert post["survival_at"]["3"]["mean"] > 0.5 > post["survival_at"]["6"]["mean"]


def test_every_assumption_swept(result):
    scen = result.results["scenarios"]
    assert len(scen) == 3 * 3 * 3
    assert sum(s["primary"] for s in scen.values()) == 1
    assert all(s["diagnostics"]["passed"] for s in scen.values())
    assert len(result.diagnostics) == len(PFS_PRIORS) + 26


def test_ml_is_maximum_of_summary_likelihood(result):
    ml = result.results["frequentist"]["summary_ml"]
    alpha, _, _ = dirichlet_alpha(48, "log", (0.0, 0.2))
    x = [3.6, 4.4, 5.9]
    best = summary_loglik(ml["median"], ml["shape"], x, alpha)
    grid_m, grid_k = np.meshgrid(np.linspace(3.5, 5.5, 81), np.linspace(0.8, 3.0, 89))
    assert best >= summary_loglik(grid_m, grid_k, x, alpha).max() - 1e-9
    assert ml == pytest.approx(summary_ml(4.4, 3.6, 5.9, alpha))


def test_posterior_predictive_check_is_not_extreme(result):
    ppc = result.results["posterior_predictive"]
    for name in ("median", "lower", "upper"):
        assert 0.05 < ppc[name]["p_simulated_at_most_reported"] < 0.95


def test_tables_figures_sentences(result):
    assert list(result.comparison.columns) == COMPARISON_COLUMNS
    assert list(result.sensitivity.columns) == SENSITIVITY_COLUMNS
    assert set(result.comparison["side"]) == {"reported", "frequentist", "bayesian"}
    sens = result.sensitivity
    assert set(sens["quantity"]) == {"median_pfs", "weibull_shape"}
    assert sens["primary"].sum() == 4  # primary prior row + primary scenario row, per quantity
    assert {"pfs_survival", "pfs_forest"} <= set(result.figures)
    text = " ".join(result.sentences)
    assert "4.4" in text and "sd of log k" in text
    assert len(result.assumptions) >= 3


def test_same_seed_same_numbers(result, compiled_summary):
    again = analyse_pfs(load_trial(), seed=11, compiled={"pfs_summary": compiled_summary})
    assert again.results["posterior"] == result.results["posterior"]


def _seed_trial_with_pfs_data(tmp_path: Path, pfs_line: str):
    """The seed trial file with one extra [pfs] line (patient data or a digitised curve) and
    only the primary PFS assumptions (one scenario, to keep the test fast). Enrolment is set to
    100 (the 90 larynx patients and a few added ones; more patients than enrolled are refused)."""
    src = (
        Path(load_trial().path)
        .read_text()
        .replace('value = 48\nsource = "abstract"', 'value = 100\nsource = "test"', 1)
        .replace(
            'association_with_prior_response = { value = "no association of PFS with tumor '
            'shrinkage or response to prior therapy", source = "abstract (no numbers given)" }',
            pfs_line,
        )
        .replace("sweep = [40, 44, 48]", "sweep = [48]")
        .replace("sweep = [[0.0, 0.0], [0.0, 0.2], [0.2, 0.4]]", "sweep = [[0.0, 0.2]]")
        .replace('sweep = ["plain", "log", "log-log"]', 'sweep = ["log"]')
    )
    assert pfs_line in src
    (tmp_path / "trial.toml").write_text(src)
    return load_trial(tmp_path / "trial.toml")


#: The larynx times (years) in units whose KM median is the seed's reported 4.4 months (its
#: KM median is 6 years): patient data contradicting the reported median are refused at load.
LARYNX_TO_MONTHS = 4.4 / 6.0


def test_patient_data_path(tmp_path, compiled_summary):
    """A trial file pointing to patient data adds a right-censored Weibull fit and the KM."""
    df = load_larynx()
    pd.DataFrame({"time": df["time"] * LARYNX_TO_MONTHS, "event": df["death"]}).to_csv(
        tmp_path / "ipd.csv", index=False
    )
    trial = _seed_trial_with_pfs_data(
        tmp_path, 'patient_data = { path = "ipd.csv", source = "lifelines larynx data, test only" }'
    )
    res = analyse_pfs(trial, seed=2, compiled={"pfs_summary": compiled_summary})
    pdata = res.results["patient_data"]
    assert pdata["patients"] == 90 and pdata["events"] == 50
    post = pdata["posterior"]["vague"]
    assert post["median_months"]["median"] == pytest.approx(pdata["mle"]["median"], rel=0.05)
    assert post["shape"]["median"] == pytest.approx(pdata["mle"]["shape"], rel=0.05)


def test_digitised_curve_path_end_to_end(tmp_path, compiled_summary):
    """A trial file giving PFS as a digitised KM curve (real larynx data read off at 3 decimals):
    the run reconstructs patients (Guyot) and fits them; the Weibull fit lands near the MLE of the
    true patient data, and the reconstructed KM median near the true one."""
    from tests.test_pfs_survival import digitise
    from trial_reanalysis.analysis.frequentist.survival import kaplan_meier, weibull_mle

    df = load_larynx()
    time, event = df["time"].to_numpy(float) * LARYNX_TO_MONTHS, df["death"].to_numpy(int)
    _, curve, at_risk = digitise(time, event, [0, 1.5, 3, 4.5, 6])
    curve.to_csv(tmp_path / "curve.csv", index=False)
    at_risk.to_csv(tmp_path / "atrisk.csv", index=False)
    trial = _seed_trial_with_pfs_data(
        tmp_path,
        'digitised_curve = { curve = "curve.csv", at_risk = "atrisk.csv", '
        'source = "lifelines larynx data read off at 3 decimals, test only" }',
    )
    res = analyse_pfs(trial, seed=4, compiled={"pfs_summary": compiled_summary})
    pdata = res.results["patient_data"]
    assert pdata["patients"] == 90 and abs(pdata["events"] - 50) <= 3
    true_median = kaplan_meier(time, event).median_ci("log")[0]
    mle = weibull_mle(time, event)
    post = pdata["posterior"]["vague"]
    assert post["median_months"]["median"] == pytest.approx(mle["median"], rel=0.10)
    assert post["shape"]["median"] == pytest.approx(mle["shape"], rel=0.10)
    assert pdata["origin"].startswith("reconstructed from a digitised curve (Guyot")
    assert pdata["km_median_ci95"][0] == pytest.approx(true_median, rel=0.05)


def test_all_censored_patient_data_fails_at_once_naming_file_and_field(compiled_summary):
    """C08a: 48 patients, no events. Loading the trial stops, before any fit, with an InputError
    that names the CSV and the field (it used to overflow in the MLE and exit 3 without a word)."""
    from trial_reanalysis.analysis.errors import InputError

    before = CompiledModel.compilations
    path = Path(__file__).parent / "fixtures" / "degenerate" / "C08a_all_censored.toml"
    with pytest.raises(InputError, match=r"all censored.*not identified") as info:
        load_trial(path)
    assert "C08a_all_censored.csv" in str(info.value) and "'event'" in str(info.value)
    assert CompiledModel.compilations == before


def test_patient_data_with_events_at_time_zero(tmp_path, compiled_summary):
    """Two events at time 0 in patient data are analysed (interval-censored before the first
    assessment): the MLE matches the independent interval-censored fit and the assumption is
    listed."""
    from lifelines import WeibullFitter

    df = load_larynx()
    time = np.r_[0.0, 0.0, df["time"].to_numpy(float) * LARYNX_TO_MONTHS]
    event = np.r_[1, 1, df["death"].to_numpy(int)]
    pd.DataFrame({"time": time, "event": event}).to_csv(tmp_path / "ipd.csv", index=False)
    trial = _seed_trial_with_pfs_data(
        tmp_path, 'patient_data = { path = "ipd.csv", source = "larynx + 2 events at 0, test" }'
    )
    res = analyse_pfs(trial, seed=2, compiled={"pfs_summary": compiled_summary})
    pdata = res.results["patient_data"]
    assert pdata["patients"] == 92 and pdata["events_at_time_zero"] == 2
    t1 = time[time > 0].min()
    lower = np.where(time == 0, 0.0, time)
    upper = np.where(time == 0, t1, np.where(event == 1, time, np.inf))
    wf = WeibullFitter().fit_interval_censoring(lower, upper)
    assert pdata["mle"]["shape"] == pytest.approx(wf.rho_, rel=1e-4)
    assert pdata["mle"]["scale"] == pytest.approx(wf.lambda_, rel=1e-4)
    post = pdata["posterior"]["vague"]
    assert post["median_months"]["median"] == pytest.approx(pdata["mle"]["median"], rel=0.05)
    assert any("interval-censored in (0," in a for a in res.assumptions)
