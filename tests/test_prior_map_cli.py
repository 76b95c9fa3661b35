"""`reanalysis prior map`: the historical trials of the seed's setting enter through their own
published numbers, and the MAP prior it prints is the hierarchical model's predictive."""

from __future__ import annotations

import json
import math

from typer.testing import CliRunner

from trial_reanalysis.analysis.cli import app
from trial_reanalysis.analysis.planning.historical import load_historical, map_rows


def test_historical_rows_are_the_published_numbers() -> None:
    """Each trial's row is what its file says, converted to months; a rate enters with its
    candidates (counts when published)."""
    sets = load_historical()
    rows, left_out = map_rows("median", sets["pfs_median"]["entries"])
    assert left_out == []
    assert rows[0] == ("Sorafenib (seed), Cancer 2010", 4.4, 3.6, 5.9)
    assert ("Axitinib, Rini 2009", 7.4, 6.7, 11.0) in rows
    rates, _ = map_rows("rate", sets["objective_response"]["entries"])
    by_trial: dict[str, set] = {}
    for name, x, n, _w in rates:
        by_trial.setdefault(name, set()).add((x, n))
    # Di Lorenzo 2009 prints 5/52 responders; Rini 2009 22.6 % of 62 (14/62)
    assert by_trial["Sorafenib after sunitinib, Di Lorenzo 2009"] == {(5, 52)}
    assert (14, 62) in by_trial["Axitinib, Rini 2009"]


def test_prior_map_of_the_pfs_medians(tmp_path) -> None:
    out = tmp_path / "map.json"
    result = CliRunner().invoke(app, ["prior", "map", "--seed", "3", "--out", str(out), "--json"])
    assert result.exit_code == 0, result.output
    r = json.loads(out.read_text())
    assert r["kind"] == "median" and len(r["trials"]) == 5
    reported = [t["observed"]["median"] for t in r["trials"]]
    pred = r["predictive"]["median_months"]
    # the predictive of a new trial's median lies among the trials' and is wider than any one
    assert min(reported) < pred["median"] < max(reported)
    assert pred["ci95"][1] / pred["ci95"][0] > max(
        t["observed"]["ci95"][1] / t["observed"]["ci95"][0] for t in r["trials"]
    )
    # shrinkage: every trial's posterior median moves towards the pooled mean (or stays)
    centre = math.exp(r["mean"]["median"])  # the typical log median, back in months
    for t in r["trials"]:
        m, shrunk = t["observed"]["median"], t["shrinkage"]["median"]  # months
        assert abs(shrunk - centre) <= abs(m - centre) + 1e-9, t["name"]
    robust, fitted = r["priors"][1], r["priors"][0]
    assert 0 < robust["ess"] < fitted["ess"]
    assert r["diagnostics"]["passed"] is True
