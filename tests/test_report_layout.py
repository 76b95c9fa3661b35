"""The report's layout: tables of at most eight columns with one estimate kind each, probabilities
in one format, published numbers as published, priors tables with their ESS (checked against an
independent Fisher information by quadrature and a closed-form variance), captions that say what
a figure shows, the comparison's key finding worded from its numbers, and figures whose texts do
not overlap (matplotlib window extents).

Fast tests feed the presenters' figure functions the seed's and a corpus trial's labels with
synthetic numbers; the slow test draws every figure the presenters make from real analyses of the
seed and of ``xu_fulvestrant_2020`` (one rate, one time-to-event endpoint).
"""

from __future__ import annotations

import math
from itertools import combinations

import arviz as az
import matplotlib

matplotlib.use("Agg")

import numpy as np
import pandas as pd
import pytest
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from matplotlib.transforms import Bbox
from scipy import integrate, stats

from trial_reanalysis.analysis.endpoints.base import (
    COMPARISON_COLUMNS,
    PRIORS_TABLE_COLUMNS,
    SENSITIVITY_COLUMNS,
)
from trial_reanalysis.analysis.reconstruction.rate_report import BetaMixtureDistribution
from trial_reanalysis.analysis.report import comparison as cmp
from trial_reanalysis.analysis.report import plots, render
from trial_reanalysis.analysis.report import rate as rate_report
from trial_reanalysis.analysis.report import time_to_event as tte
from trial_reanalysis.analysis.trials.load import load_trial

CORPUS = "data/trials/xu_fulvestrant_2020.toml"

# ---------------------------------------------------------------------------------------------
# Overlap of texts in a figure
# ---------------------------------------------------------------------------------------------


def drawn_texts(fig: Figure) -> list[tuple[str, object]]:
    """Every text matplotlib draws in ``fig``: (what, Text), tick labels only of drawn ticks."""
    if not isinstance(fig.canvas, FigureCanvasAgg):  # a bare Figure() has no renderer yet
        FigureCanvasAgg(fig)
    fig.canvas.draw()
    out: list[tuple[str, object]] = [(f"figure text {t.get_text()!r}", t) for t in fig.texts]
    for i, ax in enumerate(fig.axes):
        for t in (ax.title, ax._left_title, ax._right_title):
            out.append((f"axes {i} title", t))
        for axis, name in ((ax.xaxis, "x"), (ax.yaxis, "y")):
            out.append((f"axes {i} {name} label", axis.label))
            for tick in axis._update_ticks():  # the ticks drawn (private; stable since 3.1)
                for lab in (tick.label1, tick.label2):
                    out.append((f"axes {i} {name} tick {lab.get_text()!r}", lab))
        out += [(f"axes {i} text {t.get_text()!r}", t) for t in ax.texts]
        legend = ax.get_legend()
        if legend is not None:
            out.append((f"axes {i} legend title", legend.get_title()))
            out += [(f"axes {i} legend {t.get_text()!r}", t) for t in legend.get_texts()]
    return [(w, t) for w, t in out if t.get_visible() and t.get_text().strip()]


def layout_problems(fig: Figure) -> list[str]:
    """Pairs of drawn texts whose window extents intersect (with positive area), and texts
    reaching outside the figure (cut off when saved)."""
    texts = drawn_texts(fig)
    renderer = fig.canvas.get_renderer()
    boxes = [(w, t.get_window_extent(renderer)) for w, t in texts]
    frame = Bbox.from_bounds(0, 0, *fig.canvas.get_width_height())
    problems = []
    for (wa, a), (wb, b) in combinations(boxes, 2):
        inter = Bbox.intersection(a, b)
        if inter is not None and inter.width > 0.5 and inter.height > 0.5:
            problems.append(f"{wa} overlaps {wb}")
    for w, box in boxes:
        if box.x0 < -1 or box.y0 < -1 or box.x1 > frame.x1 + 1 or box.y1 > frame.y1 + 1:
            problems.append(f"{w} reaches outside the figure")
    return problems


def test_overlap_check_sees_an_overlap_and_a_cut_off_title() -> None:
    """The checker itself: two texts at one spot, and a title wider than its figure."""
    fig = Figure(figsize=(3, 2))
    ax = fig.add_subplot()
    ax.text(0.5, 0.5, "first text")
    ax.text(0.5, 0.5, "second text")
    assert any("overlaps" in p for p in layout_problems(fig))
    fig = Figure(figsize=(3, 2))
    fig.add_subplot().set_title("a title far too long for a figure three inches wide, cut off")
    assert any("outside the figure" in p for p in layout_problems(fig))
    fig = Figure(figsize=(4, 3), layout="constrained")
    fig.add_subplot().set_title("fits")
    assert layout_problems(fig) == []


# ---------------------------------------------------------------------------------------------
# Figures from synthetic numbers with the labels of the seed and of a corpus trial
# ---------------------------------------------------------------------------------------------


def _rate_labels() -> list[str]:
    seed, corpus = load_trial(None).trial, load_trial(CORPUS).trial
    return [r.label for r in (*seed.rates.values(), *corpus.rates.values())]


@pytest.mark.parametrize("label", _rate_labels())
def test_rate_figures_have_no_overlapping_text(label: str) -> None:
    exact = {
        name: BetaMixtureDistribution.from_weights([0.6, 0.4], [15 + i, 14 + i], [34, 33])
        for i, name in enumerate(("uniform", "jeffreys", "skeptical", "enthusiastic"))
    }
    rng = np.random.default_rng(3)
    fig = rate_report.plot_rate_posterior(
        exact,
        mcmc={"uniform": rng.beta(15, 34, 2000)},
        freq_ci=[0.17, 0.45],
        estimate=0.3,
        p0=0.05,
        p1=0.2,
        label=label,
        title=f"{label}: exact posterior under each prior (report likelihood)",
    )
    assert layout_problems(fig) == []
    rows = [
        {
            "quantity": label,
            "prior": prior,
            "assumption": assumption,
            "scenario": scenario,
            "primary": i == 0,
            "estimate": 0.3,
            "ci_low": 0.18,
            "ci_high": 0.44,
        }
        for i, (prior, assumption, scenario) in enumerate(
            [("uniform", "prior", "uniform"), ("skeptical", "prior", "skeptical")]
            + [("uniform", "count", f"{x}/47") for x in (13, 14, 15)]
            + [("uniform", "dropout allowance", "0.2")]
        )
    ]
    fig = plots.plot_forest(
        pd.DataFrame(rows), title=f"{label}: sensitivity", xlabel=label, reference_lines=(0.05,)
    )
    assert layout_problems(fig) == []


def _tte_results(label: str, unit: str, n_scenarios: int) -> dict:
    post = {
        "median": {"median": 4.5, "ci95": [3.4, 5.7]},
        "shape": {"median": 1.6, "ci95": [0.9, 2.4]},
    }
    scen = {
        f"{t}, n={n}, censored 0%-20%": {"primary": False, "posterior": post}
        for t in ("plain", "log", "log-log")
        for n in (40, 44, 48)
    }
    return {
        "label": label,
        "unit": unit,
        "reported": {"median": 4.4, "ci95": [3.6, 5.9], "landmarks": [], "unit": unit},
        "survival_times": [3, 6, 12],
        "posterior": {n: post for n in ("weakly_informative", "vague", "exponential_skeptical")},
        "scenarios": dict(list(scen.items())[:n_scenarios]),
        "primary_assumptions": {"transform": "log", "n_at_risk": 48, "censoring": [0, 0.2]},
        "summary_pattern": "MLU",
    }


@pytest.mark.parametrize(
    "path,key", [(None, "pfs"), (CORPUS, "pfs"), (CORPUS, "os")], ids=["seed", "xu-pfs", "xu-os"]
)
def test_time_to_event_figures_have_no_overlapping_text(path, key) -> None:
    e = load_trial(path).trial.time_to_event[key]
    results = _tte_results(e.label, e.unit, 9)
    rng = np.random.default_rng(4)
    fig = tte.plot_survival(rng.lognormal(1.5, 0.1, 500), rng.lognormal(0.4, 0.2, 500), results)
    assert layout_problems(fig) == []
    assert layout_problems(tte.plot_forest(results)) == []


def _comparison_results() -> dict:
    seed = load_trial(None).trial
    grouping = next(iter(seed.groupings.values()))
    events = {}
    for i, (key, c) in enumerate(seed.comparisons.items()):
        up = i % 2 == 0
        post = {
            "odds_ratio": {"median": 3.1 if up else 0.38, "ci95": [0.9, 10.3] if up else [0.1, 1.2]}
        }
        events[key] = {
            "label": c.label,
            "reported": {"p_value": ".03", "relation": "=", "more_frequent_in": "x"},
            "primary_prior": "weakly_informative",
            "posterior": {"weakly_informative": post, "skeptical": post},
            "bayes_factor_primary_vs_null": 3.97,
            "bayes_factor_max": 17.3,
            "sbb_calibration": 3.5,
        }
    return {
        "grouping": {
            "key": "prior_therapy",
            "label": grouping.label,
            "exposed": {"name": grouping.exposed.name},
            "reference": {"name": grouping.reference.name},
        },
        "events": events,
    }


def test_comparison_figures_have_no_overlapping_text() -> None:
    results = _comparison_results()
    assert layout_problems(cmp.plot_forest(results)) == []
    assert layout_problems(cmp.plot_evidence(results)) == []


def test_trace_rank_appendix_titles_clear_of_tick_labels() -> None:
    """One panel row per coordinate (the event names its titles; no legend needed), titles
    clear of the tick labels above them (issue 13: they overlapped in every appendix figure)."""
    rng = np.random.default_rng(5)
    idata = az.from_dict(
        posterior={
            "log_odds_ratio": rng.normal(size=(4, 300, 3)),
            "median": rng.normal(size=(4, 300)),
        },
        coords={"event": ["ppe", "mucositis", "rash"]},
        dims={"log_odds_ratio": ["event"]},
    )
    fig = plots.plot_trace_rank(idata, title="Events by prior therapy: primary fit")
    assert layout_problems(fig) == []
    titles = [ax.get_title() for ax in fig.axes]
    for event in ("ppe", "mucositis", "rash"):
        assert sum(event in t for t in titles) == 2  # density and rank panel


# ---------------------------------------------------------------------------------------------
# Tables
# ---------------------------------------------------------------------------------------------


def _comparison_frame() -> pd.DataFrame:
    rows = [
        ["rate", "reported", "paper", "as published", 4.0, 0.17, 0.45, "95% CI", None, None],
        ["rate", "frequentist", "exact", "14/47", 0.298, 0.173, 0.449, "95% exact CI", 4e-8, "P"],
        [
            "rate",
            "bayesian",
            "prior 'a'",
            "lik",
            0.308,
            0.187,
            0.444,
            "95% ET",
            0.99995,
            "P(r > 0.05)",
        ],
        [
            "rate",
            "bayesian",
            "prior 'a'",
            "lik",
            0.308,
            0.182,
            0.438,
            "95% HDI",
            0.95694,
            "P(r > 0.2)",
        ],
        [
            "rate",
            "bayesian",
            "prior 'b'",
            "lik",
            0.261,
            0.154,
            0.384,
            "95% ET",
            0.84859,
            "P(r > 0.2)",
        ],
    ]
    return pd.DataFrame(rows, columns=COMPARISON_COLUMNS)


def test_display_tables_one_estimate_kind_each_at_most_eight_columns() -> None:
    df = _comparison_frame()
    kinds = [
        "published",
        "observed proportion",
        "posterior mean",
        "posterior mean",
        "posterior mean",
    ]
    tables = render.display_tables(df, kinds)
    assert [t["title"] for t in tables] == ["Published", "Observed proportion", "Posterior mean"]
    for t in tables:
        assert len(t["columns"]) <= render.MAX_COLUMNS
        assert t["title"].lower() in t["columns"]  # the estimate column is headed by its kind
    bayes = tables[2]
    # constant columns leave the table and are said once
    assert "side" not in bayes["columns"] and "side: bayesian" in bayes["note"]
    assert "quantity: rate" in bayes["note"] and "scenario: lik" in bayes["note"]
    col = {c: i for i, c in enumerate(bayes["columns"])}
    assert [r[col["posterior mean"]] for r in bayes["rows"]] == ["0.308", "0.308", "0.261"]
    # probability with its label, one format; the limits low to high
    assert [r[col["probability"]] for r in bayes["rows"]] == [
        "P(r > 0.05) > 0.9999",
        "P(r > 0.2) = 0.9569",
        "P(r > 0.2) = 0.8486",
    ]
    assert bayes["rows"][1][col["interval limits"]] == "0.182 to 0.438"
    freq = tables[1]
    assert freq["rows"][0][freq["columns"].index("probability")] == "P < 0.0001"
    # a published 4.0 prints as published
    pub = tables[0]
    assert pub["rows"][0][pub["columns"].index("published")] == "4.0"
    assert pub["rows"][0][pub["columns"].index("interval limits")] == "0.17 to 0.45"


def test_display_tables_drop_duplicate_columns_and_fit_a_sensitivity_table() -> None:
    rows = [
        ["q", p, "prior", p, p == "u", 0.3 + i / 10, 0.2, 0.5, 0.9 - i / 10, "P(x > 1)"]
        for i, p in enumerate(["u", "s", "e"])
    ]
    df = pd.DataFrame(rows, columns=SENSITIVITY_COLUMNS)
    (t,) = render.display_tables(df, ["posterior median"] * 3, sensitivity=True)
    assert "scenario" not in t["columns"]  # the same as prior
    assert t["columns"] == ["prior", "primary", "posterior median", "probability"]
    assert "interval limits: 0.2 to 0.5" in t["note"]
    assert [r[-1] for r in t["rows"]] == [
        "P(x > 1) = 0.9000",
        "P(x > 1) = 0.8000",
        "P(x > 1) = 0.7000",
    ]


def test_comparison_estimate_kinds_follow_the_rows() -> None:
    df = pd.DataFrame(
        {
            "side": ["reported", "bayesian", "bayesian", "frequentist", "bayesian"],
            "quantity": [
                "odds ratio, a",
                "odds ratio, a",
                "Bayes factor, effect vs OR = 1, a",
                "x",
                "odds ratio, a",
            ],
            "method": [
                "two-sided P = .03",
                "exact posterior median (quadrature), prior 'w'",
                "own likelihood",
                "conditional maximum likelihood, published counts",
                "MCMC posterior median (quadrature failed: not exact), prior 's'",
            ],
        }
    )
    assert cmp.estimate_kinds_of(df) == [
        "published",
        "posterior median",
        "Bayes factor",
        "conditional maximum likelihood",
        "MCMC posterior median (quadrature failed: not exact)",
    ]
    sens = pd.DataFrame(
        {"assumption": ["test x split", "test x split (MCMC: quadrature failed, not exact)"]}
    )
    assert cmp.sensitivity_kinds_of(sens) == [
        "exact posterior median (quadrature)",
        "MCMC posterior median (quadrature failed: not exact)",
    ]
    tdf = pd.DataFrame(
        {
            "side": ["reported", "frequentist", "bayesian", "bayesian"],
            "quantity": ["median", "median", "median", "survival at 3 months"],
        }
    )
    assert tte.estimate_kinds_of(tdf) == [
        "published",
        "maximum likelihood",
        "posterior median",
        "posterior mean",
    ]


# ---------------------------------------------------------------------------------------------
# Priors tables and their ESS
# ---------------------------------------------------------------------------------------------


def _weibull_information_by_quadrature(shape: float) -> np.ndarray:
    """Fisher information of one uncensored Weibull time in (log median, log shape): the
    expected outer product of the score, the score by central differences of scipy's log
    density, the expectation by quadrature over the time (median 1 without loss of generality)."""
    h = 1e-5

    def logpdf(t: float, c: float, s: float) -> float:
        k = math.exp(s)
        scale = math.exp(c) / math.log(2) ** (1 / k)
        return float(stats.weibull_min.logpdf(t, k, scale=scale))

    def score(t: float) -> np.ndarray:
        return np.array(
            [
                (logpdf(t, h, math.log(shape)) - logpdf(t, -h, math.log(shape))) / (2 * h),
                (logpdf(t, 0, math.log(shape) + h) - logpdf(t, 0, math.log(shape) - h)) / (2 * h),
            ]
        )

    scale = 1 / math.log(2) ** (1 / shape)
    info = np.zeros((2, 2))
    for i in range(2):
        for j in range(2):
            info[i, j] = integrate.quad(
                lambda t, i=i, j=j: (
                    score(t)[i] * score(t)[j] * stats.weibull_min.pdf(t, shape, scale=scale)
                ),
                0,
                np.inf,
                limit=200,
            )[0]
    return info


@pytest.mark.parametrize("sd_m,mu_s,sd_s", [(1.5, 0.0, 0.6), (3.0, 0.0, 1.0), (1.5, 0.4, 0.2)])
def test_time_to_event_prior_ess_matches_an_independent_fisher_information(
    sd_m, mu_s, sd_s
) -> None:
    inv = np.linalg.inv(_weibull_information_by_quadrature(math.exp(mu_s)))
    want_overall = math.sqrt(np.linalg.det(inv) / (sd_m**2 * sd_s**2))
    overall, med, shape = tte.lognormal_prior_ess(sd_m, mu_s, sd_s)
    assert overall == pytest.approx(want_overall, rel=1e-4)
    assert med == pytest.approx(inv[0, 0] / sd_m**2, rel=1e-4)
    assert shape == pytest.approx(inv[1, 1] / sd_s**2, rel=1e-4)


def test_log_or_prior_ess_is_the_patients_whose_log_or_has_the_prior_variance() -> None:
    """Var(log OR) of a 1:1 comparison of n patients, event rate 1/2 in both groups, from its
    four expected cells n/4: 4 * 4/n = 16/n; the ESS solves 16/n = sigma^2."""
    for sigma in (1.0, 0.5, 2.0):
        n = cmp.log_or_prior_ess(sigma)
        assert sum(1 / (n / 4) for _ in range(4)) == pytest.approx(sigma**2, rel=1e-12)
    assert cmp.log_or_prior_ess(1.0) == pytest.approx(16.0)


def test_rate_priors_table_shows_every_prior_with_a_plus_b() -> None:
    priors = {
        "uniform": {
            "family": "beta",
            "parameters": {"alpha": 1.0, "beta": 1.0},
            "rationale": "flat",
            "ess": 2.0,
            "primary": True,
        },
        "skeptical": {
            "family": "beta",
            "parameters": {"alpha": 0.4186, "beta": 7.953},
            "rationale": "doubter",
            "ess": 8.3716,
            "primary": False,
        },
    }
    t = rate_report.priors_table_of({"priors": priors})
    assert list(t.columns) == PRIORS_TABLE_COLUMNS
    assert t["prior"].tolist() == ["uniform", "skeptical"]
    assert t["primary"].tolist() == ["yes", "no"]
    assert t["parameters"].tolist() == ["alpha = 1, beta = 1", "alpha = 0.419, beta = 7.95"]
    assert t["ESS (patients)"].tolist() == [f"{1 + 1:.3g}", f"{0.4186 + 7.953:.3g}"]
    assert t["rationale"].tolist() == ["flat", "doubter"]


def test_comparison_priors_table_primary_and_ess() -> None:
    base = {"baseline_mu": -1.0, "baseline_sigma": 1.5, "log_or_mu": 0.0}
    priors = {
        "weakly_informative": {"parameters": {**base, "log_or_sigma": 1.0}, "rationale": "wide"},
        "skeptical": {"parameters": {**base, "log_or_sigma": 0.5}, "rationale": "narrow"},
    }
    events = {
        k: {"label": k, "priors": priors, "primary_prior": "weakly_informative"} for k in ("a", "b")
    }
    t = cmp.priors_table_of({"events": events})
    assert t["prior"].tolist() == ["weakly_informative", "skeptical"]  # shared: one row each
    assert t["primary"].tolist() == ["yes", "no"]
    assert t["ESS (patients)"].tolist() == ["16 (log OR)", "64 (log OR)"]


# ---------------------------------------------------------------------------------------------
# The comparison's key finding (its first sentence), from its numbers
# ---------------------------------------------------------------------------------------------


def _event(label: str, bf: float | None, above: float, direction: str = "bevacizumab") -> dict:
    return {
        "label": label,
        "reported": {"p_value": ".03", "relation": "=", "more_frequent_in": direction},
        "primary_prior": "w",
        "priors": {"w": {"parameters": {"log_or_mu": 0.0, "log_or_sigma": 1.0}}},
        "posterior": {"w": {"p_or_above_1": above, "p_or_below_1": 1 - above}},
        "bayes_factor_primary_vs_null": bf,
    }


def _grouped(*events: dict) -> dict:
    return {
        "grouping": {
            "label": "prior therapy",
            "exposed": {"name": "bevacizumab"},
            "reference": {"name": "sunitinib"},
        },
        "events": {e["label"]: e for e in events},
    }


@pytest.mark.parametrize(
    "events,who,words,prob",
    [
        # the largest Bayes factor wins; 3.97 is substantial
        (
            (_event("PPE", 3.97, 0.9728), _event("rash", 2.23, 0.0525)),
            "PPE",
            "substantial evidence for an effect",
            "P(OR > 1) = 0.9728 (more frequent in bevacizumab)",
        ),
        # 3.19 is below the 3.2 threshold
        (
            (_event("PPE", 3.19, 0.96), _event("rash", 1.5, 0.2)),
            "PPE",
            "evidence for an effect not worth more than a bare mention",
            "P(OR > 1) = 0.9600",
        ),
        # evidence for no effect can be the strongest: |log 0.02| > |log 3.97|; 1/0.02 = 50 strong
        (
            (_event("PPE", 3.97, 0.97), _event("rash", 0.02, 0.4)),
            "rash",
            "strong evidence for no effect",
            "P(OR < 1) = 0.6000 (more frequent in sunitinib)",
        ),
        # the side of the median: an event more frequent in the reference group
        (
            (_event("rash", 4.23, 0.0525, "sunitinib"),),
            "rash",
            "substantial evidence for an effect",
            "P(OR < 1) = 0.9475 (more frequent in sunitinib)",
        ),
        # no Bayes factors: the largest posterior probability of a side
        ((_event("a", None, 0.7), _event("b", None, 0.1)), "b", None, "P(OR < 1) = 0.9000"),
    ],
)
def test_key_finding_is_worded_from_its_numbers(events, who, words, prob) -> None:
    s = cmp.key_finding_sentence(_grouped(*events))
    assert f"concerns {who} (reported" in s
    if words is None:
        assert "Bayes factor" not in s and "clearest difference" in s
    else:
        assert words in s and "strongest evidence" in s
        bf = next(e["bayes_factor_primary_vs_null"] for e in events if e["label"] == who)
        assert f"Bayes factor of {bf:.3g} for an effect against OR = 1" in s
    assert prob in s


# ---------------------------------------------------------------------------------------------
# Captions
# ---------------------------------------------------------------------------------------------


def test_comparison_captions_say_what_each_figure_shows() -> None:
    caps = cmp.captions_of(_comparison_results())
    assert set(caps) == {"prior_therapy_forest", "prior_therapy_evidence"}
    assert "bevacizumab vs sunitinib" in caps["prior_therapy_forest"]
    assert "95% equal-tailed credible interval" in caps["prior_therapy_forest"]
    assert "Kass-Raftery thresholds 3.2, 10, 100" in caps["prior_therapy_evidence"]
    assert "Sellke-Bayarri-Berger" in caps["prior_therapy_evidence"]


def test_appendix_caption_names_the_endpoint() -> None:
    cap = render.appendix_caption("Progression-free survival")
    assert cap.startswith("Progression-free survival: for each parameter of the primary fit")
    assert "rank" in cap


# ---------------------------------------------------------------------------------------------
# Every figure the presenters make, from real analyses (slow)
# ---------------------------------------------------------------------------------------------


@pytest.mark.slow
@pytest.mark.parametrize(
    "path,kind,key",
    [
        (None, "rate", "burden_reduction"),
        (None, "time_to_event", "pfs"),
        (None, "comparison", "prior_therapy"),
        (CORPUS, "rate", "cbr_measurable"),
        (CORPUS, "time_to_event", "os"),
    ],
)
def test_every_presenter_figure_of_real_analyses_has_no_overlapping_text(path, kind, key) -> None:
    from trial_reanalysis.analysis.run import analyse_endpoint

    result = analyse_endpoint(kind, key, load_trial(path), 5, False, None)
    assert result.figures and set(result.captions) == set(result.figures)
    for stem, fig in result.figures.items():
        assert layout_problems(fig) == [], stem
    idata = result.posteriors[result.primary_posterior]
    assert layout_problems(plots.plot_trace_rank(idata, title=f"{result.title}: primary fit")) == []


@pytest.mark.parametrize(
    "passed,retried,cell",
    [
        (True, False, "passed"),
        (True, True, "passed after a retry"),
        (False, True, "FAILED after a retry"),
        (False, False, "FAILED"),
    ],
)
def test_gates_cell_says_whether_a_fit_passed_and_was_retried(passed, retried, cell) -> None:
    assert render.gates_cell({"passed": passed, "retried": retried}) == cell
