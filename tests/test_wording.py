"""Kass-Raftery words for Bayes factors: both sides of every threshold, in both directions."""

import pytest

from trial_reanalysis.analysis.report.wording import bayes_factor_words, kass_raftery_category

BARE = "not worth more than a bare mention"

# (Bayes factor for an effect, expected phrase): just below and at each threshold of the scale
# (1, 3.2, 10, 100) and the mirror values 1 / x for the evidence for no effect.
CASES = [
    (1.0, "evidence for neither an effect nor no effect"),
    (1.0001, f"evidence for an effect {BARE}"),
    (3.1999, f"evidence for an effect {BARE}"),
    (3.2, "substantial evidence for an effect"),
    (9.999, "substantial evidence for an effect"),
    (10.0, "strong evidence for an effect"),
    (99.99, "strong evidence for an effect"),
    (100.0, "decisive evidence for an effect"),
    (1e6, "decisive evidence for an effect"),
    (1 / 1.0001, f"evidence for no effect {BARE}"),
    (1 / 3.1999, f"evidence for no effect {BARE}"),
    (1 / 3.2, "substantial evidence for no effect"),
    (1 / 9.999, "substantial evidence for no effect"),
    (1 / 10.0, "strong evidence for no effect"),
    (1 / 99.99, "strong evidence for no effect"),
    (1 / 100.0, "decisive evidence for no effect"),
    (1e-6, "decisive evidence for no effect"),
]


@pytest.mark.parametrize(("bf", "expected"), CASES)
def test_bayes_factor_words_both_sides_of_every_threshold(bf, expected):
    assert bayes_factor_words(bf) == expected


def test_bayes_factor_words_names_the_hypotheses():
    assert bayes_factor_words(20.0, "OR > 1", "OR = 1") == "strong evidence for OR > 1"
    assert bayes_factor_words(0.02, "OR > 1", "OR = 1") == "strong evidence for OR = 1"


@pytest.mark.parametrize(("bf", "expected"), [(1.0, BARE), (3.2, "substantial"), (100, "decisive")])
def test_category_at_threshold_takes_the_higher_category(bf, expected):
    assert kass_raftery_category(bf) == expected


@pytest.mark.parametrize("bad", [0.0, -1.0, float("nan"), float("inf")])
def test_bayes_factor_words_rejects_invalid(bad):
    with pytest.raises(ValueError, match="positive and finite"):
        bayes_factor_words(bad)


def test_category_rejects_below_one():
    with pytest.raises(ValueError, match=">= 1"):
        kass_raftery_category(0.5)
