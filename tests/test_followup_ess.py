"""Follow-up priors' ESS with and without the analysis prior's own information (issue 13 item 4).

The expected values are built here independently: the posterior of a conjugate normal-normal
model by hand (so the data's precision is known), the unit information of a log OR from the
expected cells of a 1:1 trial, and the Weibull unit information by quadrature of the score of
scipy's density. The report's table is rendered from its own templates and read back by column.
"""

from __future__ import annotations

import math
import re

import numpy as np
import pytest
from scipy import integrate, stats

from trial_reanalysis.analysis.planning.followup import (
    ESS_NOTE_UNSEPARATED,
    annotate_beta_analysis_prior,
    endpoint_followup_priors,
    log_or_ess_split,
    log_or_priors,
    mvnormal_ess_split,
    pfs_priors,
    rate_priors,
)
from trial_reanalysis.analysis.report import followup as report_followup
from trial_reanalysis.analysis.report.render import environments

# ---------------------------------------------------------------------------------------------
# independent references
# ---------------------------------------------------------------------------------------------


def _patients_with_log_or_precision(precision: float, p: float) -> float:
    """n such that a 1:1 trial of n patients, event rate p in both groups, has Var(log OR) =
    1 / precision, from its expected cells n p / 2, n (1 - p) / 2 per group (Woolf variance:
    the sum of the cells' reciprocals), by root finding."""

    def var_minus_target(n: float) -> float:
        cells = [n * p / 2, n * (1 - p) / 2, n * p / 2, n * (1 - p) / 2]
        return sum(1 / c for c in cells) - 1 / precision

    from scipy.optimize import brentq

    return brentq(var_minus_target, 1e-6, 1e9, xtol=1e-12, rtol=1e-14)


def _weibull_information(shape: float) -> np.ndarray:
    """Fisher information of one uncensored Weibull time in (log median, log shape): expected
    outer product of the score (central differences of scipy's log density), by quadrature."""
    h = 1e-5
    s0 = math.log(shape)

    def logpdf(t: float, c: float, s: float) -> float:
        k = math.exp(s)
        return float(stats.weibull_min.logpdf(t, k, scale=math.exp(c) / math.log(2) ** (1 / k)))

    def score(t: float) -> np.ndarray:
        return np.array(
            [
                (logpdf(t, h, s0) - logpdf(t, -h, s0)) / (2 * h),
                (logpdf(t, 0.0, s0 + h) - logpdf(t, 0.0, s0 - h)) / (2 * h),
            ]
        )

    scale = 1 / math.log(2) ** (1 / shape)
    info = np.zeros((2, 2))
    for i, j in [(0, 0), (0, 1), (1, 1)]:
        info[i, j] = info[j, i] = integrate.quad(
            lambda t, i=i, j=j: (
                score(t)[i] * score(t)[j] * stats.weibull_min.pdf(t, shape, scale=scale)
            ),
            0,
            np.inf,
            limit=200,
        )[0]
    return info


def _draws_with_moments(mean: np.ndarray, cov: np.ndarray, size: int, seed: int) -> np.ndarray:
    """Draws whose sample mean and covariance (ddof 1) are exactly ``mean`` and ``cov``."""
    rng = np.random.default_rng(seed)
    z = rng.standard_normal((size, len(mean)))
    z -= z.mean(axis=0)
    z = z @ np.linalg.inv(np.linalg.cholesky(np.atleast_2d(np.cov(z, rowvar=False)))).T
    return mean + z @ np.linalg.cholesky(cov).T


# ---------------------------------------------------------------------------------------------
# log odds ratio (normal)
# ---------------------------------------------------------------------------------------------


def test_log_or_without_analysis_prior_is_the_data_precision_of_a_conjugate_model() -> None:
    """Prior N(0, 1) on the log OR; 12 log OR estimates with known sd 2 (data precision 3):
    posterior precision 4, sd 0.5 exactly. The data alone are worth the n whose 1:1 trial
    (p = 0.2) has Var(log OR) = 1/3; the prior alone the n with variance 1."""
    s0, obs_sd, n_obs, p = 1.0, 2.0, 12, 0.2
    data_precision = n_obs / obs_sd**2
    post_sd = 1 / math.sqrt(1 / s0**2 + data_precision)
    assert post_sd == 0.5
    draws = _draws_with_moments(np.array([0.7]), np.array([[post_sd**2]]), 4000, 1)[:, 0]
    priors = {q["name"]: q for q in log_or_priors(draws, "ppe", p, analysis_sigma=s0)}
    main = priors["normal"]
    n_data = _patients_with_log_or_precision(data_precision, p)
    n_prior = _patients_with_log_or_precision(1 / s0**2, p)
    assert n_data == pytest.approx(75.0, rel=1e-9) and n_prior == pytest.approx(25.0, rel=1e-9)
    assert main["ess_without_analysis_prior"] == pytest.approx(n_data, abs=1e-6)
    assert main["ess_analysis_prior"] == pytest.approx(n_prior, abs=1e-6)
    assert main["ess"] == pytest.approx(n_data + n_prior, abs=1e-6)
    assert main["ess_clipped"] is False
    # power priors hold d times both shares (covariance / d): the data's share is d * 75
    for d in (0.5, 0.25):
        q = priors[f"power_{d}"]
        assert q["ess_without_analysis_prior"] == pytest.approx(d * n_data, rel=2e-6)
        assert q["ess_analysis_prior"] == pytest.approx(d * n_prior, rel=1e-12)
    assert "ess_without_analysis_prior is the data's share" in main["ess_note"]


@pytest.mark.parametrize(
    ("s0", "data_precision", "p"), [(1.3, 2.2, 0.37), (0.5, 9.0, 0.5), (2.0, 0.4, 0.08)]
)
def test_log_or_split_matches_the_unit_information_of_the_data_alone(
    s0: float, data_precision: float, p: float
) -> None:
    post_sd = 1 / math.sqrt(1 / s0**2 + data_precision)
    got = log_or_ess_split(post_sd, s0, p)
    want = _patients_with_log_or_precision(data_precision, p)
    assert got["ess_without_analysis_prior"] == pytest.approx(want, rel=1e-6)
    assert got["ess_analysis_prior"] == pytest.approx(
        _patients_with_log_or_precision(1 / s0**2, p), rel=1e-6
    )
    # ESS(s) (1 - s^2 / s0^2), the brief's form
    assert got["ess_without_analysis_prior"] == pytest.approx(
        got["ess"] * (1 - post_sd**2 / s0**2), rel=1e-9
    )


def test_log_or_clipped_at_zero_when_the_analysis_prior_is_stronger() -> None:
    """A follow-up prior of sd 0.5 from an analysis prior of sd 0.3 (conflict): the data's
    share would be negative; it is 0 and the note says so."""
    draws = _draws_with_moments(np.array([1.0]), np.array([[0.25]]), 2000, 2)[:, 0]
    main = log_or_priors(draws, "rash", 0.3, analysis_sigma=0.3)[0]
    assert main["ess_without_analysis_prior"] == 0.0
    assert main["ess_clipped"] is True
    assert "clipped at 0" in main["ess_note"]
    assert main["ess"] == pytest.approx(4 / (0.3 * 0.7 * 0.25), rel=1e-5)  # unchanged


# ---------------------------------------------------------------------------------------------
# time to event (bivariate normal on log median, log shape)
# ---------------------------------------------------------------------------------------------


def test_bivariate_without_analysis_prior_uses_the_data_precision_matrix() -> None:
    """Analysis prior: lognormal median (sd 1.5 on the log) and shape (sd 0.6), independent.
    Data precision on (log median, log shape) known: [[3, -1], [-1, 4]]. The follow-up prior is
    the posterior N(., (P0 + PD)^-1); its ESS without the analysis prior is that of PD alone."""
    p0 = np.diag([1 / 1.5**2, 1 / 0.6**2])
    pd_ = np.array([[3.0, -1.0], [-1.0, 4.0]])
    cov = np.linalg.inv(p0 + pd_)
    z = _draws_with_moments(np.array([math.log(4.5), math.log(1.6)]), cov, 4000, 3)
    priors = {
        q["name"]: q for q in pfs_priors(np.exp(z[:, 0]), np.exp(z[:, 1]), analysis_sd=(1.5, 0.6))
    }
    inv1 = np.linalg.inv(_weibull_information(1.6))
    main = priors["mvnormal"]
    want = math.sqrt(np.linalg.det(pd_) * np.linalg.det(inv1))
    assert main["ess_without_analysis_prior"] == pytest.approx(want, rel=1e-4)
    assert main["ess_analysis_prior"] == pytest.approx(
        math.sqrt(np.linalg.det(p0) * np.linalg.det(inv1)), rel=1e-4
    )
    data_cov = np.linalg.inv(pd_)
    comps = main["ess_components_without_analysis_prior"]
    assert comps["log_median_pfs"] == pytest.approx(inv1[0, 0] / data_cov[0, 0], rel=1e-4)
    assert comps["log_weibull_shape"] == pytest.approx(inv1[1, 1] / data_cov[1, 1], rel=1e-4)
    prior_comps = main["ess_components_analysis_prior"]
    assert prior_comps["log_median_pfs"] == pytest.approx(inv1[0, 0] * p0[0, 0], rel=1e-4)
    assert prior_comps["log_weibull_shape"] == pytest.approx(inv1[1, 1] * p0[1, 1], rel=1e-4)
    assert main["ess_clipped"] is False
    # the whole prior's ESS is that of P0 + PD (unchanged), and it is not the sum of the two
    assert main["ess"] == pytest.approx(
        math.sqrt(np.linalg.det(p0 + pd_) * np.linalg.det(inv1)), rel=1e-4
    )
    for d in (0.5, 0.25):
        q = priors[f"power_{d}"]
        assert q["ess_without_analysis_prior"] == pytest.approx(d * want, rel=1e-4)
        for k, v in q["ess_components_without_analysis_prior"].items():
            assert v == pytest.approx(d * comps[k], rel=1e-4)


def test_bivariate_clipped_where_the_analysis_prior_is_not_weaker() -> None:
    """Posterior sd of the log shape 0.8 above the analysis prior's 0.6 (independent of the
    median): the shape direction carries no data information (0), the median keeps its own,
    and the overall ESS (a determinant) is 0."""
    cov = np.diag([0.01, 0.64])
    got = mvnormal_ess_split(cov, (1.5, 0.6), 1.6)
    inv1 = np.linalg.inv(_weibull_information(1.6))
    assert got["clipped"] is True
    assert got["ess_without_analysis_prior"] == 0.0
    comps = got["ess_components_without_analysis_prior"]
    assert comps["log_weibull_shape"] == 0.0
    assert comps["log_median_pfs"] == pytest.approx(inv1[0, 0] * (100 - 1 / 2.25), rel=1e-4)
    z = _draws_with_moments(np.array([math.log(4.5), math.log(1.6)]), cov, 2000, 4)
    main = pfs_priors(np.exp(z[:, 0]), np.exp(z[:, 1]), analysis_sd=(1.5, 0.6))[0]
    assert main["ess_clipped"] is True and "clipped at 0" in main["ess_note"]


# ---------------------------------------------------------------------------------------------
# the API: analysis priors reach endpoint_followup_priors
# ---------------------------------------------------------------------------------------------


def test_endpoint_followup_priors_separates_every_kind_it_is_told_the_prior_of() -> None:
    rng = np.random.default_rng(5)
    lor = rng.normal(1.1, 0.6, 3000)
    rate = np.full(3000, 0.3)
    comparison = endpoint_followup_priors(
        "comparison",
        {"ppe": {"log_odds_ratio": lor, "event_rate": rate}},
        analysis_priors={
            "ppe": {"family": "normal", "parameters": {"log_or_mu": 0.0, "log_or_sigma": 1.0}}
        },
    )["ppe"][0]
    sd = comparison["parameters"]["sigma"]
    assert comparison["ess_without_analysis_prior"] == pytest.approx(
        _patients_with_log_or_precision(1 / sd**2 - 1.0, 0.3), rel=1e-6
    )
    # without it: old numbers, and a note that ess includes the analysis prior
    old = endpoint_followup_priors("comparison", {"ppe": {"log_odds_ratio": lor}})["ppe"]
    assert all(q["ess_note"] == ESS_NOTE_UNSEPARATED for q in old)
    assert not any("ess_without_analysis_prior" in q for q in old)
    beta = rng.beta(15, 34, 4000)
    rates = endpoint_followup_priors(
        "rate",
        {"orr": {"rate": beta}},
        analysis_priors={"orr": {"family": "beta", "parameters": {"alpha": 1.0, "beta": 1.0}}},
    )["orr"]
    for q in rates:  # Beta(1, 1): 2 in every Beta and power prior, (1 - 0.2) 2 in the robust one
        share = 1.6 if q["name"] == "robust" else 2.0
        assert q["ess_without_analysis_prior"] == pytest.approx(q["ess"] - share, abs=1e-9)
    with pytest.raises(ValueError, match="separates a normal analysis prior"):
        endpoint_followup_priors(
            "comparison",
            {"ppe": {"log_odds_ratio": lor}},
            analysis_priors={"ppe": {"family": "beta", "parameters": {}}},
        )


# ---------------------------------------------------------------------------------------------
# the report prints both, labelled
# ---------------------------------------------------------------------------------------------

FAKE_FOLLOWUP = {
    "ppe": [
        {
            "name": "normal",
            "family": "normal",
            "parameters": {"mu": 1.1, "sigma": 0.6},
            "ess": 44.87,
            "ess_analysis_prior": 16.14,
            "ess_without_analysis_prior": 28.73,
            "ess_clipped": False,
            "pymc": "pm.Normal(...)",
            "stan": "x ~ normal(1.1, 0.6);",
        },
        {
            "name": "conflict",
            "family": "normal",
            "parameters": {"mu": 1.1, "sigma": 0.6},
            "ess": 12.34,
            "ess_without_analysis_prior": 0.0,
            "ess_clipped": True,
        },
        {"name": "unknown", "family": "normal", "parameters": {}, "ess": 7.77},
    ],
    "pfs": [
        {
            "name": "mvnormal",
            "family": "mvnormal",
            "parameters": {"mean": [1.5, 0.4]},
            "ess": 15.83,
            "ess_components": {"log_median_pfs": 32.54, "log_weibull_shape": 9.91},
            "ess_without_analysis_prior": 14.37,
            "ess_components_without_analysis_prior": {
                "log_median_pfs": 31.85,
                "log_weibull_shape": 8.22,
            },
        }
    ],
}


def _render(fmt: str) -> str:
    md, html = environments()
    env = md if fmt == "md" else html
    return env.get_template(f"followup_priors.{fmt}.j2").render(
        followup_rows=report_followup.followup_rows(FAKE_FOLLOWUP),
        followup_columns=list(report_followup.FOLLOWUP_COLUMNS),
        followup_note=report_followup.FOLLOWUP_NOTE,
    )


def _md_rows(text: str) -> tuple[list[str], list[list[str]]]:
    lines = [ln for ln in text.splitlines() if ln.startswith("| ")]
    split = [[c.strip() for c in re.split(r"(?<!\\)\|", ln)[1:-1]] for ln in lines]
    return split[0], split[1:]


def _html_rows(text: str) -> tuple[list[str], list[list[str]]]:
    header = re.findall(r"<th>(.*?)</th>", text)
    rows = [
        re.findall(r"<td>(.*?)</td>", r, re.S) for r in re.findall(r"<tr><td>.*?</tr>", text, re.S)
    ]
    return header, rows


@pytest.mark.parametrize("fmt", ["md", "html"])
def test_report_prints_both_ess_under_their_labels(fmt: str) -> None:
    text = _render(fmt)
    header, rows = (_md_rows if fmt == "md" else _html_rows)(text)
    assert len(header) == 8
    with_, without = (
        header.index("ESS with the analysis prior"),
        header.index("ESS without the analysis prior (data alone)"),
    )
    by_name = {r[1]: r for r in rows}
    assert by_name["normal"][with_] == "44.9"
    assert by_name["normal"][without] == "28.7"
    assert by_name["mvnormal"][with_] == "15.8 (log median 32.5; log shape 9.9)"
    assert by_name["mvnormal"][without] == "14.4 (log median 31.9; log shape 8.2)"
    assert by_name["conflict"][with_] == "12.3"
    assert by_name["conflict"][without].startswith("0.0 (clipped at 0")
    assert by_name["unknown"][with_] == "7.8"
    assert by_name["unknown"][without].startswith("not separated")
    quote = "'" if fmt == "md" else "&#39;"
    assert f"the analysis prior{quote}s own included" in text
    assert f"is the data{quote}s share" in text


def test_markdown_rows_keep_eight_cells_when_code_holds_a_pipe() -> None:
    """A robust mixture's Stan line holds `|` (beta_lpdf(x | a, b)): inside a GitHub table it
    must be written \\| or the row splits into more cells than the header."""
    robust = {
        "name": "robust",
        "family": "beta_mixture",
        "parameters": {"weights": [0.8, 0.2]},
        "ess": 31.0,
        "ess_without_analysis_prior": 29.0,
        "pymc": "pm.Mixture(...)",
        "stan": "target += log_mix(0.8, beta_lpdf(x | 14.7, 33.1), beta_lpdf(x | 1, 1));",
    }
    md, _ = environments()
    text = md.get_template("followup_priors.md.j2").render(
        followup_rows=report_followup.followup_rows({"burden_reduction": [robust]}),
        followup_columns=list(report_followup.FOLLOWUP_COLUMNS),
        followup_note="",
    )
    header, rows = _md_rows(text)
    assert [len(r) for r in rows] == [len(header)] == [8]
    assert (
        rows[0][-1]
        == r"`target += log_mix(0.8, beta_lpdf(x \| 14.7, 33.1), beta_lpdf(x \| 1, 1));`"
    )


@pytest.mark.parametrize(("a0", "b0"), [(1.0, 1.0), (1.0, 19.0), (0.5, 0.5), (12.0, 48.0)])
def test_rate_data_share_is_the_data_under_any_beta_analysis_prior(a0: float, b0: float) -> None:
    """Draws of the exact posterior Beta(a0 + 14, b0 + 33) (14/47): the data's share is n = 47
    in the moment-matched Beta and d n in a power prior of weight d (it is 2 + d(a + b - 2) in
    all), whatever the analysis prior; the old rule ess - (a0 + b0) gave 6.97 instead of 11.75
    for d = 0.25 under a skeptical prior and went negative for a0 + b0 = 60."""
    n = 47
    draws = stats.beta(a0 + 14, b0 + n - 14).rvs(
        size=200_000, random_state=np.random.default_rng(3)
    )
    priors = {p["name"]: p for p in rate_priors(draws, analysis_prior_ess=a0 + b0)}
    assert priors["beta"]["ess_without_analysis_prior"] == pytest.approx(n, rel=0.02)
    for d in (0.5, 0.25):
        p = priors[f"power_{d}"]
        assert p["ess_without_analysis_prior"] == pytest.approx(d * n, rel=0.02)
        assert p["ess_analysis_prior"] == pytest.approx(2 + d * (a0 + b0 - 2), rel=1e-5)
        assert not p["ess_clipped"]
    robust = priors["robust"]
    assert robust["ess_analysis_prior"] == pytest.approx(0.8 * (a0 + b0), rel=1e-5)
    assert robust["ess_without_analysis_prior"] >= 0


def test_rate_data_share_is_clipped_at_zero_and_flagged() -> None:
    """A follow-up prior weaker than its analysis prior's share keeps ess, gets 0 and the flag."""
    priors = [{"name": "beta", "ess": 10.0}, {"name": "power_0.5", "ess": 8.0}]
    annotate_beta_analysis_prior(priors, 30.0)
    assert [p["ess_without_analysis_prior"] for p in priors] == [0.0, 0.0]
    assert [p["ess_analysis_prior"] for p in priors] == [30.0, 16.0]
    assert all(p["ess_clipped"] for p in priors) and priors[0]["ess"] == 10.0
    assert "clipped at 0" in priors[0]["ess_note"]


def test_time_to_event_prior_names_the_endpoint_time_unit() -> None:
    """The PyMC line of a time-to-event follow-up prior names the unit its log median is in
    (corpus endpoints are in days, weeks, months or years), 'the endpoint unit' when unknown."""
    rng = np.random.default_rng(2)
    draws = {
        "os": {"median": rng.lognormal(5.0, 0.1, 500), "weibull_shape": rng.lognormal(0, 0.1, 500)}
    }
    lognormal = {"family": "lognormal", "parameters": {"log_median_sd": 1.5, "log_shape_sd": 0.6}}
    days = endpoint_followup_priors(
        "time_to_event", draws, analysis_priors={"os": {**lognormal, "unit": "days"}}
    )
    assert all("log median_pfs (days)" in p["pymc"] for p in days["os"])
    unknown = endpoint_followup_priors("time_to_event", draws)
    assert all("log median_pfs (the endpoint unit)" in p["pymc"] for p in unknown["os"])
