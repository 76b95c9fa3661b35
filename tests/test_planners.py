"""The planners' section: numbers re-derived independently of the package.

* Designs: every printed boundary table is re-enumerated here by forward convolution of the
  binomial increments between looks (not the package's hypergeometric recursion) to give type I
  error, power, PET and EN; assurance by quadrature of P(reject | p) over the design prior; each
  Bayesian boundary re-derived from its rule with scipy; Simon's designs against Simon (1989),
  Table 1 (DESIGN.md 4.1).
* Conflict: the tail probability of the seed's median under the leave-one-out MAP predictive by
  quadrature of the normal mixture against the normal likelihood of its log median; a candidate
  rate's tails by quadrature of the Beta mixture against the binomial cdf.
* Report: tables of at most 8 columns, sentences carrying the numbers, figures whose text
  boxes do not overlap.
"""

from __future__ import annotations

import math
from itertools import combinations

import numpy as np
import pytest
from scipy import integrate, stats

from trial_reanalysis.analysis.paths import DATA_DIR
from trial_reanalysis.analysis.planning import planners
from trial_reanalysis.analysis.planning.historical import HistoricalEntry
from trial_reanalysis.analysis.report import planners as report
from trial_reanalysis.analysis.trials.load import load_trial

SEED = 20101115
Z95 = stats.norm.ppf(0.975)
#: A design prior for the follow-up (input, not an expected value): the shape of the seed run's
#: ``robust`` follow-up prior, 0.8 Beta(14.746, 33.1484) + 0.2 Beta(1, 1).
ROBUST = {
    "name": "robust",
    "family": "beta_mixture",
    "parameters": {"weights": [0.8, 0.2], "alpha": [14.746, 1.0], "beta": [33.1484, 1.0]},
    "ess": 31.0,
}


@pytest.fixture(scope="module")
def seed():
    return load_trial(DATA_DIR / "trials" / "sorafenib_mrcc_2010.toml")


@pytest.fixture(scope="module")
def designs(seed):
    return planners.design_part(seed, {"burden_reduction": [ROBUST]})


@pytest.fixture(scope="module")
def section(seed):
    """The seed's section with its PFS map only (one compiled model, two fits: all and LOO)."""
    return planners.planners_section(
        seed, {"burden_reduction": [ROBUST]}, seed=SEED, maps=["pfs_median"]
    )


# ---------------------------------------------------------------------------------------------
# Designs
# ---------------------------------------------------------------------------------------------


def enumerate_oc(boundaries: list[dict], p: float) -> tuple[float, float, float]:
    """(P(declared active), PET, EN) of printed boundary rows by forward convolution over looks."""
    dist = np.array([1.0])  # P(x so far, still running), x = 0..n_prev
    n_prev = 0
    reject = pet = en = 0.0
    last = len(boundaries) - 1
    for k, row in enumerate(boundaries):
        n = row["n"]
        inc = stats.binom.pmf(np.arange(n - n_prev + 1), n - n_prev, p)
        dist = np.convolve(dist, inc)
        x = np.arange(n + 1)
        fut = row["futility"] if row["futility"] is not None else -1
        eff = row["efficacy"] if row["efficacy"] is not None else n + 1
        if k == last:
            reject += dist[x >= eff].sum()
            en += n * dist.sum()
        else:
            stop_f, stop_e = dist[x <= fut].sum(), dist[x >= eff].sum()
            reject += stop_e
            pet += stop_f + stop_e
            en += n * (stop_f + stop_e)
            dist = np.where((x > fut) & (x < eff), dist, 0.0)
        n_prev = n
    return float(reject), float(pet), float(en)


def test_looks_are_the_quarters_of_the_simon_minimax_n(designs) -> None:
    assert planners.quarter_looks(27) == (7, 14, 20, 27)
    assert planners.quarter_looks(40) == (10, 20, 30, 40)
    assert planners.quarter_looks(2) == (1, 2)
    assert designs["n_max"] == 27  # Simon minimax 0/13, 3/27 (Simon 1989, alpha .05, power .8)
    assert designs["looks"] == [7, 14, 20, 27]
    assert designs["alpha"] == 0.05 and designs["alpha_source"] == "default"
    with pytest.raises(ValueError, match="positive integer"):
        planners.quarter_looks(0)


def test_every_printed_design_reenumerates(designs) -> None:
    p0, p1 = designs["p0"], designs["p1"]
    assert [r["method"] for r in designs["designs"]] == [
        "simon",
        "simon",
        "posterior",
        "predictive",
        "bop2",
    ]
    for r in designs["designs"]:
        rows = r["design"]["boundaries"]
        rej0, pet0, en0 = enumerate_oc(rows, p0)
        rej1, _, en1 = enumerate_oc(rows, p1)
        assert r["type1_error"] == pytest.approx(rej0, abs=1e-12)
        assert r["power"] == pytest.approx(rej1, abs=1e-12)
        assert r["pet0"] == pytest.approx(pet0, abs=1e-12)
        assert r["en0"] == pytest.approx(en0, abs=1e-9)
        assert r["en1"] == pytest.approx(en1, abs=1e-9)
        assert rej0 <= 0.05 + 1e-12
        curve = designs["oc_curves"]["reject"][r["design"]["label"]]
        rates = designs["oc_curves"]["rates"]
        for i in (0, 5, 20, 30, 100):
            assert curve[i] == pytest.approx(enumerate_oc(rows, rates[i])[0], abs=1e-12)


def test_assurance_by_quadrature_over_the_design_prior(designs) -> None:
    p = ROBUST["parameters"]

    def density(t: float) -> float:
        return sum(
            w * stats.beta.pdf(t, a, b)
            for w, a, b in zip(p["weights"], p["alpha"], p["beta"], strict=True)
        )

    for r in designs["designs"]:
        rows = r["design"]["boundaries"]
        value, _ = integrate.quad(lambda t, rows=rows: density(t) * enumerate_oc(rows, t)[0], 0, 1)
        assert r["assurance"] == pytest.approx(value, abs=1e-7)


def test_simon_rows_match_simon_1989(designs) -> None:
    simon = {r["design"]["label"]: r for r in designs["designs"] if r["method"] == "simon"}
    opt, mm = simon["Simon optimal 0/10, 3/29"], simon["Simon minimax 0/13, 3/27"]
    assert opt["en0"] == pytest.approx(17.6, abs=0.05) and opt["pet0"] == pytest.approx(
        0.60, abs=5e-3
    )
    assert mm["en0"] == pytest.approx(19.8, abs=0.05) and mm["pet0"] == pytest.approx(
        0.51, abs=5e-3
    )


def _post_above(x: np.ndarray, n: int, p0: float) -> np.ndarray:
    return stats.beta.sf(p0, 1 + x, 1 + n - x)  # Beta(1, 1) analysis prior


def test_bayesian_boundaries_follow_their_rules(designs) -> None:
    p0 = designs["p0"]
    by = {r["method"]: r["design"] for r in designs["designs"]}
    n_max = designs["n_max"]
    x_n = np.arange(n_max + 1)
    for method, key in (("posterior", "c_T"), ("predictive", "theta_T"), ("bop2", "lambda")):
        d = by[method]
        cut = d["parameters"][key]
        success = int(np.argmax(_post_above(x_n, n_max, p0) > cut))
        assert d["boundaries"][-1]["efficacy"] == success
    # Posterior: futility iff P(p > p0 | x) < c_f at every interim look.
    d = by["posterior"]
    for row in d["boundaries"][:-1]:
        x = np.arange(row["n"] + 1)
        stop = x[_post_above(x, row["n"], p0) < d["parameters"]["c_f"]]
        assert (row["futility"] if row["futility"] is not None else -1) == (
            stop.max() if stop.size else -1
        )
    # BOP2: futility iff P(p > p0 | x) < lambda (n / N)^gamma.
    d = by["bop2"]
    lam, gam = d["parameters"]["lambda"], d["parameters"]["gamma"]
    for row in d["boundaries"][:-1]:
        x = np.arange(row["n"] + 1)
        stop = x[_post_above(x, row["n"], p0) < lam * (row["n"] / n_max) ** gam]
        assert (row["futility"] if row["futility"] is not None else -1) == (
            stop.max() if stop.size else -1
        )
    # Predictive: PP = P(x + Y >= success boundary), Y beta-binomial(N - n, 1 + x, 1 + n - x).
    d = by["predictive"]
    b_final = d["boundaries"][-1]["efficacy"]
    for row in d["boundaries"][:-1]:
        n = row["n"]
        x = np.arange(n + 1)
        pp = np.array(
            [stats.betabinom.sf(b_final - xi - 1, n_max - n, 1 + xi, 1 + n - xi) for xi in x]
        )
        stop = x[pp < d["parameters"]["theta_L"]]
        assert (row["futility"] if row["futility"] is not None else -1) == (
            stop.max() if stop.size else -1
        )


def test_no_design_without_p0_and_p1() -> None:
    rini = load_trial(DATA_DIR / "trials" / "rini_axitinib_2009.toml")
    out = planners.design_part(rini, None)
    assert out == {"available": False, "reason": "the trial file prints no p0 and p1 for a rate"}
    assert report.design_sentences(out) == [
        "No follow-up design comparison: the trial file prints no p0 and p1 for a rate."
    ]


# ---------------------------------------------------------------------------------------------
# MAP part and conflict
# ---------------------------------------------------------------------------------------------


def test_seed_is_checked_leave_one_out_against_quadrature(section) -> None:
    part = section["historical"]["maps"]["pfs_median"]
    assert part["this_trial_in_set"] and len(part["map"]["trials"]) == 5
    c = part["conflict"]
    assert c["basis"] == "leave-one-out" and c["endpoint"] == "pfs"
    p = c["loo_prior"]["parameters"]
    w, m, s = (np.asarray(p[k], dtype=float) for k in ("weights", "mean", "sd"))
    y = math.log(4.4)
    se = (math.log(5.9) - math.log(3.6)) / (2 * Z95)

    def integrand(theta: float, tail) -> float:
        prior = float(np.sum(w * stats.norm.pdf(theta, m, s)))
        return prior * tail((y - theta) / se)

    # The exported weights are rounded (6 significant digits): both tails by quadrature.
    lower, _ = integrate.quad(integrand, -10, 10, (stats.norm.cdf,), points=list(m), limit=200)
    upper, _ = integrate.quad(integrand, -10, 10, (stats.norm.sf,), points=list(m), limit=200)
    assert c["p_lower"] == pytest.approx(lower, abs=1e-8)
    assert c["p_upper"] == pytest.approx(upper, abs=1e-8)
    assert c["p_two_sided"] == pytest.approx(2 * min(lower, upper), abs=1e-8)
    # The LOO predictive sits above the seed's 4.4 months: the seed is in the lower tail.
    assert c["p_lower"] < 0.5
    # The MAP interval is the mixture's 2.5 / 50 / 97.5 % quantiles, exp'd to months.
    pm = part["map"]["priors"][0]["parameters"]
    iv = part["intervals"]["map"]
    for q, v in zip((0.025, 0.5, 0.975), (iv["ci95"][0], iv["median"], iv["ci95"][1]), strict=True):
        cdf = sum(
            wk * stats.norm.cdf(math.log(v), mk, sk)
            for wk, mk, sk in zip(pm["weights"], pm["mean"], pm["sd"], strict=True)
        )
        assert cdf == pytest.approx(q, abs=1e-8)


def test_candidate_rate_conflict_against_quadrature() -> None:
    result = {
        "kind": "rate",
        "priors": [
            {
                "family": "beta_mixture",
                "parameters": {"weights": [0.6, 0.4], "alpha": [2.0, 6.0], "beta": [18.0, 9.0]},
            }
        ],
    }
    rows = [("t", 14, 47, 3.0), ("t", 13, 44, 1.0)]

    def mix(t: float) -> float:
        return 0.6 * stats.beta.pdf(t, 2, 18) + 0.4 * stats.beta.pdf(t, 6, 9)

    lower = upper = 0.0
    for _, x, n, wt in rows:
        lo, _ = integrate.quad(lambda t, x=x, n=n: mix(t) * stats.binom.cdf(x, n, t), 0, 1)
        hi, _ = integrate.quad(lambda t, x=x, n=n: mix(t) * stats.binom.sf(x - 1, n, t), 0, 1)
        lower += wt / 4 * lo
        upper += wt / 4 * hi
    out = planners.conflict_of_rows(result, rows)
    assert out["p_lower"] == pytest.approx(lower, abs=1e-8)
    assert out["p_upper"] == pytest.approx(upper, abs=1e-8)
    assert out["p_two_sided"] == pytest.approx(min(1, 2 * min(lower, upper)), abs=1e-8)


def test_a_trial_outside_the_set_is_matched_by_endpoint_key(seed) -> None:
    rini = load_trial(DATA_DIR / "trials" / "rini_axitinib_2009.toml")
    dil = load_trial(DATA_DIR / "trials" / "dilorenzo_sorafenib_2009.toml")
    entries = [HistoricalEntry(dil, "partial_response", "d"), HistoricalEntry(rini, "orr", "r")]
    assert planners._matching_entry(seed, "rate", entries) is None  # the seed prints no ORR
    found = planners._matching_entry(rini, "rate", [HistoricalEntry(dil, "orr", "d")])
    assert found is not None and found.endpoint == "orr"


# ---------------------------------------------------------------------------------------------
# Report
# ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("p", "words"),
    [
        (0.0099, "a strong prior-data conflict"),
        (0.01, "a prior-data conflict"),
        (0.0499, "a prior-data conflict"),
        (0.05, "a weak signal of prior-data conflict"),
        (0.0999, "a weak signal of prior-data conflict"),
        (0.10, "no sign of prior-data conflict"),
        (1.0, "no sign of prior-data conflict"),
    ],
)
def test_conflict_words_on_both_sides_of_each_threshold(p: float, words: str) -> None:
    assert report.conflict_words(p) == words


def _overlaps(fig) -> list[tuple[str, str]]:
    """Pairs of visible, non-empty text artists whose drawn boxes intersect."""
    fig.canvas.draw()
    renderer = fig.canvas.get_renderer()
    from matplotlib.text import Text

    unique = {id(t): t for t in fig.findobj(Text)}.values()  # findobj may repeat an artist
    texts = [t for t in unique if t.get_visible() and t.get_text().strip()]
    boxes = [(t.get_text(), t.get_window_extent(renderer)) for t in texts]
    return [
        (a, b)
        for (a, ba), (b, bb) in combinations(boxes, 2)
        if ba.overlaps(bb) and ba.width > 0 and bb.width > 0
    ]


def test_report_tables_sentences_and_figures(section) -> None:
    import matplotlib.pyplot as plt

    out = report.present_planners(section)
    assert set(out["figures"]) == {"planners_map_pfs_median", "planners_design_oc"}
    for name, table in out["tables"].items():
        assert table.shape[1] <= report.MAX_COLUMNS, name
    part = section["historical"]["maps"]["pfs_median"]
    c = part["conflict"]
    text = " ".join(out["sentences"])
    assert f"two-sided tail probability {c['p_two_sided']:.4f}" in text
    assert "leave-one-out" in text
    designs = section["designs"]
    for r in designs["designs"]:
        assert f"type I error {r['type1_error']:.3f}, power {r['power']:.3f}" in text
        assert f"assurance {r['assurance']:.3f}" in text
    trials = out["tables"]["planners_map_pfs_median"]
    assert trials["trial"].tolist()[-2:] == ["MAP predictive (new trial)", "robust mixture"]
    assert trials.loc[0, "reported 95 % CI"] == "3.6-5.9 months"
    for stem, fig in out["figures"].items():
        assert _overlaps(fig) == [], stem
        plt.close(fig)


def test_overlap_check_sees_overlapping_text() -> None:
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(3, 2))
    ax.text(0.5, 0.5, "one label")
    ax.text(0.52, 0.5, "another label")
    assert ("one label", "another label") in _overlaps(fig)
    plt.close(fig)


def test_the_section_reaches_both_reports(section, seed, tmp_path) -> None:
    """The planners' section is in report.html and report.md: its sentences, tables with their
    numbers, and its figures with captions (issue 15: the MAP prior and the design comparison
    appear in the report)."""
    from types import SimpleNamespace

    from trial_reanalysis.analysis.report import render

    presented = report.present_planners(section)
    (tmp_path / "figures").mkdir()
    for stem, fig in presented["figures"].items():
        render.save_figure(fig, tmp_path / "figures" / f"{stem}.png")
    results = {
        "provenance": {
            "seed": SEED,
            "trial_file": "seed.toml",
            "trial_sha256": "x",
            "git_commit": None,
            "packages": {},
        }
    }
    output = SimpleNamespace(endpoints=[], results=results, planning_table=None, planners=presented)
    render.write_reports(tmp_path, output, seed, SimpleNamespace(seed=SEED))
    html = (tmp_path / "report.html").read_text()
    md = (tmp_path / "report.md").read_text()
    for text in (html, md):
        assert "Planning across trials" in text
        assert presented["sentences"][0].split(":")[0] in text.replace("\\", "")
        assert "Meta-analytic-predictive prior (pfs median)" in text
        assert "Operating characteristics of the compared follow-up designs" in text
    assert html.count('src="data:image/png;base64,') == 2
    assert "Simon" in html and "BOP2" in html
