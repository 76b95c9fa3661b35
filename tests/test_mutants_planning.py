"""Sequential designs: the success rule is strict, P(p > p0 | x) > cut (Lee and Liu 2008; the
module docstring), so an outcome whose posterior probability equals the cut does not succeed.

Reference: symmetry (Beta(x + 1, n - x + 1) is symmetric about 1/2 when x = n/2, so
P(p > 1/2) = 1/2 exactly) and scipy's Beta for the next outcome. Written to kill the mutants of
``tools/mutants.py`` (tests/mutation/RESULTS.md).
"""

from __future__ import annotations

import pytest
from scipy import stats

from trial_reanalysis.analysis.planning.sequential import final_success_boundary


@pytest.mark.parametrize("n", [10, 20, 40])
def test_posterior_probability_equal_to_the_cut_does_not_succeed(n: int) -> None:
    half = n // 2
    assert stats.beta.sf(0.5, half + 1, n - half + 1) == 0.5
    assert stats.beta.sf(0.5, half + 2, n - half) > 0.5
    assert final_success_boundary(n, 0.5, 0.5, (1.0, 1.0)) == half + 1
