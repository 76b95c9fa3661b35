"""Words and figures of a time-to-event endpoint from numbers alone (no sampling): the hazard
wording on both sides of its thresholds, the direction of P(k > 1), units in every sentence and
label, and a result that was not analysed."""

from __future__ import annotations

import matplotlib

matplotlib.use("Agg")
import numpy as np
import pytest
from matplotlib import pyplot as plt

from trial_reanalysis.analysis.report.time_to_event import (
    HAZARD_WORDS,
    hazard_words,
    plot_forest,
    plot_survival,
    sentences_of,
)


@pytest.mark.parametrize(
    ("p", "words"),
    [
        (0.999, "rising"),
        (0.95, "rising"),
        (0.949, "cannot tell"),
        (0.5, "cannot tell"),
        (0.05, "cannot tell"),
        (0.049, "falling"),
        (0.0, "falling"),
    ],
)
def test_hazard_words_on_both_sides_of_each_threshold(p, words):
    assert words in hazard_words(p)
    assert [b for b, _ in HAZARD_WORDS] == [0.95, 0.05, 0.0]


def test_hazard_words_refuse_a_non_probability():
    with pytest.raises(ValueError, match="probability"):
        hazard_words(1.2)


def _post(median, shape, p_rising):
    return {
        "median": {"mean": median, "median": median, "ci95": [0.8 * median, 1.3 * median]},
        "shape": {"mean": shape, "median": shape, "ci95": [0.7 * shape, 1.4 * shape]},
        "survival_at": {"13.04": {"mean": 0.7, "ci95": [0.6, 0.8]}},
        "p_shape_above_1": p_rising,
        "sd_log_shape": 0.2,
    }


def _results(p_rising, shape):
    return {
        "label": "Time to progression",
        "unit": "weeks",
        "analysed": True,
        "reported": {
            "median": 16,
            "ci95": None,
            "ci_level": 0.95,
            "unit": "weeks",
            "events": None,
            "censored": None,
            "patients": None,
            "followup_median": None,
            "landmarks": [],
        },
        "summary_pattern": "M",
        "posterior_source": "summary",
        "survival_times": [13.04],
        "primary_prior": "weakly_informative",
        "priors": {"weakly_informative": {"parameters": {"log_shape_sd": 0.6}}},
        "posterior": {"weakly_informative": _post(16.2, shape, p_rising)},
        "frequentist": {"summary_ml": None},
        "warnings": ["a gap named here"],
    }


def test_sentences_follow_the_direction_of_p_shape_above_1():
    """A rising hazard only when P(k > 1) is high, a falling one only when it is low (a sentence
    builder that ignored the direction would fail one of the two)."""
    rising = " ".join(sentences_of(_results(0.97, 1.8)))
    falling = " ".join(sentences_of(_results(0.02, 0.6)))
    assert "rising hazard" in rising and "falling hazard" not in rising
    assert "falling hazard" in falling and "rising hazard" not in falling
    assert "P(k > 1) = 0.970" in rising and "P(k > 1) = 0.020" in falling
    assert "16.2 weeks" in rising and "at 13.04 weeks 70%" in rising
    assert "do not identify the shape" in rising  # no maximum of the summary likelihood
    assert "Warning: a gap named here." in rising
    assert rising.startswith("From the published median time to progression of 16 weeks alone")


def test_opening_names_a_median_not_reached_and_landmarks():
    res = _results(0.5, 1.0)
    res["reported"].update(
        median="not reached",
        followup_median=32.6,
        landmarks=[{"time": 36, "percent": 51, "ci_percent": [32, 67]}],
    )
    first = sentences_of(res)[0]
    assert first.startswith(
        "From the report that the median time to progression was not reached (median follow-up "
        "32.6 weeks) and the landmark rates (51 % at 36 weeks) alone, the Weibull posterior "
        "median time to progression is 16.2 weeks"
    )


def test_not_analysed_says_why():
    results = {
        "label": "Duration of response",
        "unit": "months",
        "analysed": False,
        "reason": "with 6 patients at risk the calibration is not defined",
        "warnings": ["with 6 patients at risk the calibration is not defined"],
        "reported": {},
    }
    out = sentences_of(results)
    assert out == [
        "Duration of response was not analysed: with 6 patients at risk the calibration is not "
        "defined."
    ]


def test_figures_carry_the_unit():
    rng = np.random.default_rng(0)
    res = _results(0.5, 1.0)
    fig = plot_survival(16 * np.exp(0.1 * rng.normal(size=400)), np.full(400, 1.2), res)
    assert fig.axes[0].get_xlabel() == "time (weeks)"
    fig2 = plot_forest(res)
    assert "(weeks)" in fig2.axes[0].get_title()
    plt.close("all")


def test_quadrature_sentence_says_the_grid_each_record_used():
    """The sentence on the exact posteriors names every set of coordinates the quadrature
    records used (the offset grid, and the log-median grid it falls back to) and their
    tolerances; a record is not described by another's coordinates."""
    from trial_reanalysis.analysis.report.time_to_event import quadrature_sentence

    offset = {"coordinates": "w = k (log median - log c), log k", "edge_tol": 1e-9, "rel_tol": 1e-5}
    log_median = {**offset, "coordinates": "w = log median - log c, log k"}
    one = quadrature_sentence([offset, offset])
    assert "on a grid in (w = k (log median - log c), log k), with" in one
    assert "w = log median" not in one
    assert "below 1e-09" in one and "more than 1e-05 relative" in one
    both = quadrature_sentence([offset, log_median])
    assert "(w = k (log median - log c), log k) or (w = log median - log c, log k)" in both
    looser = quadrature_sentence([{**offset, "edge_tol": 1e-6, "rel_tol": 1e-3}])
    assert "below 1e-06" in looser and "more than 1e-03 relative" in looser
