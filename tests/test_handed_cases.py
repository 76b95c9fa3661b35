"""The handed cases of ``../shared/cases/README.md`` (trials/ and curves/) whose README row was not
yet tested end to end elsewhere: each test asserts what the row says is right.

Rows tested elsewhere (not repeated here):

- A02 (Bayes factor worded for the null; CI mismatch said): test_rate_endpoint.py
  ``test_a02_bayes_factor_favours_the_null_and_the_ci_mismatch_is_said``, test_rate_report.py
  ``test_a02_printed_ci_not_reproduced_by_any_method``;
- A04 (44/58 not outranked; all weighted): test_rate_report.py
  ``test_a04_all_evaluated_gives_44_of_58``;
- A05b (``inf`` refused, naming the field) and A10 (tie refused up front, field named):
  test_validation.py ``test_handed_inputs_are_rejected_with_the_field_named``;
- A11 (published counts: one table, OR 3.2): test_comparison_evidence.py
  ``test_published_counts_are_the_data``;
- A12 (0 % and 100 % analysed): test_rate_endpoint.py
  ``test_zero_and_hundred_percent_rates_give_a_full_analysis``;
- A15 (only 13/44): test_rate_report.py ``test_a15_published_responders_restrict_the_candidates``;
- A16 ("< .001", "NS" coarsenings): test_comparison_evidence.py
  ``test_handed_cases_a16_keep_the_tables_of_their_printed_form``;
- A18 (Simon search beyond 70): test_frequentist.py
  ``test_common_30_vs_45_design_is_found_beyond_70_patients``;
- C08a (no events: a clear message): test_validation.py, test_time_to_event_analysis.py;
- C08b (days beside months flagged): test_validation.py, test_trial.py, test_guyot.py;
- B1 (cleaning step, 213 patients): test_guyot.py
  ``test_b1_clean_lists_every_change_and_keeps_213_patients``;
- B3 (events at time 0, 100 patients): test_guyot.py
  ``test_b3_keeps_the_two_events_at_time_zero_and_reproduces_the_curve``.

Added here, through the whole run (what the rows' failures were: a crash in ``run``):
A05b written the documented way ("NE") runs with the one-sided likelihood; A10 gets the same
answer from ``validate`` and ``run``; A12 (0 %) and its 100 % twin write a full report; A18's
design table (n > 70) is in the run's results and never stops it. The handed files are copies in
``tests/fixtures/`` (CI has ``../shared`` only beside the clone).
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from scipy import stats
from typer.testing import CliRunner

from trial_reanalysis.analysis.cli import app
from trial_reanalysis.analysis.inference.fitting import SamplerSettings
from trial_reanalysis.analysis.run import RunConfig, run_analysis

FIXTURES = Path(__file__).parent / "fixtures"
CASES = FIXTURES / "cases"
SHORT = SamplerSettings(draws=500, tune=500, chains=4)


def run(path: Path, out: Path, *endpoints: str) -> dict:
    run_analysis(
        RunConfig(
            trial_path=path,
            out_dir=out,
            seed=7,
            workers=1,
            sampler=SHORT,
            allow_failed_diagnostics=True,
            endpoints=endpoints or None,
        )
    )
    for name in ("report.md", "report.html"):
        assert "Traceback" not in (out / name).read_text(encoding="utf-8")
    return json.loads((out / "results.json").read_text())


def test_a05b_upper_limit_ne_runs_with_the_one_sided_likelihood(tmp_path: Path) -> None:
    """A05b: median OS 17.2 months (95 % CI 12.5 to NE), 46 patients. Written as the format
    documents ("NE"), it validates and runs; the likelihood uses L and M only (no upper limit),
    and the printed median lies in the posterior interval of the median."""
    text = (CASES / "A05b_acc_os_upper_NE_inf.toml").read_text()
    assert "[12.5, inf]" in text
    path = tmp_path / "a05b_ne.toml"
    path.write_text(text.replace("[12.5, inf]", '[12.5, "NE"]'))
    assert CliRunner().invoke(app, ["validate", str(path)]).exit_code == 0
    t = run(path, tmp_path / "out", "pfs")["time_to_event"]["pfs"]
    assert t["analysed"] and t["summary_pattern"] == "L,M"
    assert t["reported"]["ci95"] == [12.5, None]
    post = t["posterior"][t["primary_prior"]]["median"]
    lo, hi = post["ci95"]
    assert lo <= 17.2 <= hi
    # no upper limit: the posterior runs further above the median than below it
    assert hi - post["median"] > post["median"] - lo


def test_a10_validate_and_run_give_the_same_answer(tmp_path: Path) -> None:
    """A10: lower limit equal to the median. ``validate`` and ``run`` both exit 2 at once, naming
    the file and the field; nothing is written."""
    path = CASES / "A10_nonacc_pfs_L_equals_M.toml"
    runner = CliRunner()
    out = tmp_path / "out"
    answers = [
        runner.invoke(app, ["validate", str(path)]),
        runner.invoke(app, ["run", str(path), "--out", str(out), "--workers", "1"]),
    ]
    for result in answers:
        assert result.exit_code == 2, result.output
        text = " ".join(result.output.split())
        assert "A10_nonacc_pfs_L_equals_M.toml" in text
        assert "time_to_event.pfs.ci" in text and "equals the median" in text
        assert "Traceback" not in text
    assert not out.exists() or not any(out.iterdir())


@pytest.mark.parametrize(
    "path,responders",
    [
        (CASES / "A12_everolimus_acc_orr_zero.toml", 0),
        (FIXTURES / "degenerate" / "rate_100_percent.toml", 34),
    ],
    ids=["A12_zero", "hundred"],
)
def test_a12_zero_and_hundred_percent_write_a_full_report(
    path: Path, responders: int, tmp_path: Path
) -> None:
    """A12: 0/34 (and its 100 % twin, 34/34): the run writes every figure and the report (the
    failure was a crash on a plot axis); the posterior is Beta(a + x, b + 34 - x) exactly."""
    out = tmp_path / "out"
    r = run(path, out, "burden_reduction")["rates"]["burden_reduction"]
    rec = r["reconstruction"]
    assert (rec["responders"], rec["evaluable"]) == (responders, 34)
    for name, prior in r["priors"].items():
        a, b = prior["parameters"]["alpha"], prior["parameters"]["beta"]
        exact = stats.beta(a + responders, b + 34 - responders)
        assert r["posterior"][name]["mean"] == pytest.approx(exact.mean(), abs=1e-9)
    pngs = sorted(p.name for p in (out / "figures").glob("burden_reduction*.png"))
    assert pngs and all((out / "figures" / p).stat().st_size > 1000 for p in pngs)
    report = (out / "report.md").read_text()
    assert f"{responders}/34" in report
    for p in pngs:
        assert f"figures/{p}" in report


def test_a18_design_table_beyond_70_patients_is_in_the_run(tmp_path: Path) -> None:
    """A18: p0 = .30, p1 = .45. The run completes and its design table holds the Simon designs,
    which need more than 70 patients; each design's alpha and power are recomputed here from
    binomial sums (scipy)."""
    r = run(CASES / "A18_simon_nmax_p030_p045.toml", tmp_path / "out", "burden_reduction")
    rows = r["rates"]["burden_reduction"]["two_stage_designs"]
    found = [d for d in rows if d.get("found", True)]
    assert found and any(d["n"] > 70 for d in found)

    def reject(d: dict, p: float) -> float:
        go = stats.binom.sf(d["r1"], d["n1"], p)  # continue past stage 1: more than r1
        total = 0.0
        for x1 in range(d["r1"] + 1, d["n1"] + 1):
            total += stats.binom.pmf(x1, d["n1"], p) * stats.binom.sf(
                d["r"] - x1, d["n"] - d["n1"], p
            )
        assert total <= go + 1e-12
        return total

    for d in found:
        assert reject(d, 0.30) == pytest.approx(d["alpha"], abs=1e-9)
        assert reject(d, 0.45) == pytest.approx(d["power"], abs=1e-9)
        assert d["alpha"] <= d["alpha_target"] + 1e-12 and d["power"] >= d["power_target"] - 1e-12
