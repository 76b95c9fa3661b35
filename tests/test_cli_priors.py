"""``--prior ENDPOINT=NAME``: choosing the primary prior of an endpoint (issue 14, item 3).

The seed's burden-reduction report (30 %, 17-45 %, at most 48 patients) enters as a sum over the
counts that reproduce it, so its exact posterior is a mixture of Betas, not one Beta: under the
Jeffreys prior Beta(1/2, 1/2) candidate c = (x_c, n_c) with prior weight w_c has posterior weight
proportional to w_c C(n_c, x_c) B(1/2 + x_c, 1/2 + n_c - x_c) / B(1/2, 1/2), and component
Beta(1/2 + x_c, 1/2 + n_c - x_c). The test recomputes the prior weights from the documented
prior(n) x prior(method) rule, then the whole posterior with scipy, and compares the run's
headline with it.
"""

from __future__ import annotations

import json
import pickle
import re
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from scipy import optimize, special, stats
from typer.testing import CliRunner

from trial_reanalysis.analysis.cli import app
from trial_reanalysis.analysis.errors import InputError

runner = CliRunner()
JEFFREYS = (0.5, 0.5)


@pytest.fixture(scope="module")
def jeffreys_run(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Any]:
    out = tmp_path_factory.mktemp("prior") / "out"
    args = ["run", "--endpoint", "burden_reduction", "--prior", "burden_reduction=jeffreys"]
    result = runner.invoke(
        app, [*args, "--out", str(out), "--workers", "1", "--no-planners"], terminal_width=400
    )
    assert result.exit_code == 0, result.output
    return out, result


def _mixture(cands: list[dict[str, Any]], rec: dict[str, Any], a: float, b: float) -> dict:
    """The exact posterior under Beta(a, b), from the candidates and the prior(n), prior(method)
    tables alone (scipy; independent of the package's mixture code)."""
    n_prior, m_prior = rec["n_prior"], rec["method_prior"]
    x = np.array([c["responders"] for c in cands], dtype=float)
    n = np.array([c["evaluable"] for c in cands], dtype=float)
    w = np.array([n_prior[str(c["evaluable"])] * sum(m_prior[m] for m in c["ci_methods"])
                  for c in cands])  # fmt: skip
    w = w / w.sum()
    log_post = (
        np.log(w)
        + special.gammaln(n + 1)
        - special.gammaln(x + 1)
        - special.gammaln(n - x + 1)
        + special.betaln(a + x, b + n - x)
        - special.betaln(a, b)
    )
    pi = np.exp(log_post - special.logsumexp(log_post))
    al, be = a + x, b + n - x
    mean = float(np.sum(pi * al / (al + be)))
    second = float(np.sum(pi * al * (al + 1) / ((al + be) * (al + be + 1))))

    def cdf(t: float) -> float:
        return float(np.sum(pi * stats.beta.cdf(t, al, be)))

    lo, hi = (optimize.brentq(lambda t, q=q: cdf(t) - q, 1e-9, 1 - 1e-9, xtol=1e-12)
              for q in (0.025, 0.975))  # fmt: skip
    return {
        "prior_weight": w,
        "weights": pi,
        "mean": mean,
        "sd": float(np.sqrt(second - mean**2)),
        "ci95": (lo, hi),
        "p_above_p0": 1 - cdf(0.05),
        "p_above_p1": 1 - cdf(0.20),
    }


def test_chosen_prior_is_the_headline_and_matches_the_exact_mixture(jeffreys_run) -> None:
    out, result = jeffreys_run
    rate = json.loads((out / "results.json").read_text())["rates"]["burden_reduction"]
    rec = rate["reconstruction"]
    cands = rec["candidates"]
    # the four counts the README documents for the seed's report
    assert {(c["responders"], c["evaluable"]) for c in cands} == {
        (14, 47),
        (14, 46),
        (13, 44),
        (12, 40),
    }
    exact = _mixture(cands, rec, *JEFFREYS)
    assert np.allclose(exact["prior_weight"], [c["prior_weight"] for c in cands], atol=1e-9)
    assert rate["primary_prior"] == "jeffreys"
    assert {k: v["primary"] for k, v in rate["priors"].items()} == {
        "uniform": False,
        "jeffreys": True,
        "skeptical": False,
        "enthusiastic": False,
    }
    post = rate["posterior"]["jeffreys"]
    assert post["mean"] == pytest.approx(exact["mean"], abs=1e-9)
    assert post["sd"] == pytest.approx(exact["sd"], abs=1e-9)
    assert post["ci95"] == pytest.approx(exact["ci95"], abs=1e-7)
    assert post["p_above_p0"] == pytest.approx(exact["p_above_p0"], abs=1e-9)
    assert post["p_above_p1"] == pytest.approx(exact["p_above_p1"], abs=1e-9)
    assert post["exact"]["weights"] == pytest.approx(exact["weights"], abs=1e-9)
    # the default (uniform) headline is another number: the choice changed what is reported
    uniform = _mixture(cands, rec, 1.0, 1.0)
    assert rate["posterior"]["uniform"]["mean"] == pytest.approx(uniform["mean"], abs=1e-9)
    assert abs(uniform["mean"] - exact["mean"]) > 3e-3
    assert rate["followup_basis"]["analysis_prior"] == "jeffreys"
    # the headline sentence (terminal findings and report) names the prior and its numbers
    lo, hi = exact["ci95"]
    headline = (
        f"Under the primary 'jeffreys' prior, the exact posterior of the tumor burden reduction "
        f"rate has mean {100 * exact['mean']:.1f} % (95 % equal-tailed credible interval "
        f"{100 * lo:.1f}-{100 * hi:.1f} %"
    )
    assert headline in " ".join(result.output.replace("│", " ").split())
    report = (out / "report.md").read_text()
    assert headline in report
    assert re.search(r"^\| jeffreys \| yes \| Beta \|", report, re.M)
    assert re.search(r"^\| uniform \| no \| Beta \|", report, re.M)


BAD = [
    (["--prior", "burden_reduction"], "expected ENDPOINT=NAME"),
    (["--prior", "os=uniform"], "no endpoint 'os' with priors; choose one of ['burden_reduction'"),
    (["--prior", "burden_reduction=flat"], "choose one of ['uniform', 'jeffreys', 'skeptical'"),
    (["--prior", "pfs=vague", "--prior", "pfs=weakly_informative"], "given twice"),
    (["--endpoint", "pfs", "--prior", "burden_reduction=jeffreys"], "does not analyse"),
]


@pytest.mark.parametrize(("args", "message"), BAD)
def test_bad_prior_options_exit_2_in_run_and_validate_alike(
    args: list[str], message: str, tmp_path: Path
) -> None:
    """Refused before any work, naming --prior, the endpoint and the valid names; validate says
    exactly what run says."""
    ran = runner.invoke(app, ["run", *args, "--out", str(tmp_path / "o")], terminal_width=400)
    checked = runner.invoke(app, ["validate", *args], terminal_width=400)
    assert ran.exit_code == 2 and checked.exit_code == 2, ran.output
    assert message in ran.output and "--prior" in ran.output
    errors = [line for line in ran.output.splitlines() if line.startswith("error:")]
    assert errors == checked.output.splitlines()
    assert not (tmp_path / "o").exists()


def test_validate_accepts_what_run_accepts() -> None:
    args = ["--prior", "ppe=skeptical", "--prior", "pfs=vague", "--endpoint", "pfs"]
    result = runner.invoke(app, ["validate", *args, "--endpoint", "prior_therapy"])
    assert result.exit_code == 0, result.output
    assert "primary prior of ppe: skeptical" in result.output
    assert "primary prior of pfs: vague" in result.output


def test_choice_reaches_every_kind_and_survives_pickling() -> None:
    """The chosen name is primary in each kind's registry (one override for all), the rest are
    untouched; a worker process receives the choice with the trial."""
    from trial_reanalysis.analysis.api import list_priors, load_trial
    from trial_reanalysis.analysis.endpoints.priors import choose_priors

    plain = {e["endpoint"]: e["priors"] for e in list_priors()}
    loaded = choose_priors(
        load_trial(), {"burden_reduction": "skeptical", "pfs": "vague", "rash": "skeptical"}
    )
    loaded = pickle.loads(pickle.dumps(loaded))
    chosen = {e["endpoint"]: e["priors"] for e in list_priors(loaded)}
    want = {"burden_reduction": "skeptical", "pfs": "vague", "rash": "skeptical"}
    for endpoint, priors in chosen.items():
        primary = [p["name"] for p in priors if p["primary"]]
        default = [p["name"] for p in plain[endpoint] if p["primary"]]
        assert primary == [want.get(endpoint, default[0])], endpoint
        strip = [{k: v for k, v in p.items() if k != "primary"} for p in priors]
        assert strip == [{k: v for k, v in p.items() if k != "primary"} for p in plain[endpoint]]
    assert loaded.chosen_prior("comparison", "rash") == "skeptical"
    assert loaded.chosen_prior("comparison", "ppe") is None


def test_notebook_api_checks_priors_before_any_fit() -> None:
    from trial_reanalysis.analysis.api import analyse

    with pytest.raises(InputError, match=r"priors.*'burden_reduction'.*choose one of"):
        analyse(endpoints=["burden_reduction"], priors={"burden_reduction": "flat"})
    with pytest.raises(InputError, match=r"priors.*does not analyse"):
        analyse(endpoints=["burden_reduction"], priors={"pfs": "vague"})


def test_with_primary_marks_exactly_one() -> None:
    from trial_reanalysis.models.priors import PriorScenario, with_primary

    reg = {
        "a": PriorScenario("a", "beta", {"alpha": 1.0, "beta": 1.0}, "r", primary=True),
        "b": PriorScenario("b", "beta", {"alpha": 2.0, "beta": 3.0}, "s", tags=("t",)),
    }
    assert with_primary(reg, None) is reg
    out = with_primary(reg, "b")
    assert [(s.name, s.primary) for s in out.values()] == [("a", False), ("b", True)]
    assert out["b"].parameters == {"alpha": 2.0, "beta": 3.0} and out["b"].tags == ("t",)
    with pytest.raises(ValueError, match=r"no prior 'c'; choose one of \['a', 'b'\]"):
        with_primary(reg, "c")


def test_the_report_command_reproduces_the_chosen_priors_and_endpoints() -> None:
    """The report's 'command' line names every choice that changes the numbers."""
    from types import SimpleNamespace

    from trial_reanalysis.analysis.report.render import rerun_command

    loaded = SimpleNamespace(path=Path("my trial.toml"))
    config = SimpleNamespace(
        seed=7, endpoints=("burden_reduction",), priors=(("burden_reduction", "jeffreys"),)
    )
    assert rerun_command(loaded, config) == (
        "reanalysis run 'my trial.toml' --seed 7 --endpoint burden_reduction "
        "--prior burden_reduction=jeffreys"
    )
    plain = SimpleNamespace(seed=1, endpoints=None, priors=())
    assert rerun_command(SimpleNamespace(path=Path("t.toml")), plain) == (
        "reanalysis run t.toml --seed 1"
    )
