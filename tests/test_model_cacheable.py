"""Every model the package compiles can be stored in the compiled-model cache.

A model holding an op PyTensor's numba backend cannot key (``erfcx`` calls SciPy through a
function pointer) is compiled again in every process: the MAP rate model did so for 15 s per
run until ``logit_normal_cdf`` replaced PyMC's ``normal_lcdf``. These tests fail when such an op
comes back into any model (re-introduce ``normal_lcdf`` and the MAP rate test fails).
"""

from __future__ import annotations

import numpy as np
import pytensor
import pytensor.tensor as pt
import pytest
from scipy.special import log_ndtr
from scipy.stats import norm

from trial_reanalysis.analysis.inference.model_cache import uncacheable_ops
from trial_reanalysis.models.comparison import (
    AE_PRIORS,
    build_comparison_model,
    report_from_published,
)
from trial_reanalysis.models.map_prior import (
    build_map_median_model,
    build_map_rate_model,
    logit_normal_cdf,
)
from trial_reanalysis.models.rate import build_rate_model
from trial_reanalysis.models.time_to_event import (
    PATTERNS,
    build_patient_model,
    build_summary_model,
    summary_data,
)


def test_logit_normal_cdf_matches_scipy_with_its_gradient() -> None:
    """logit Phi(u) against log_ndtr(u) - log_ndtr(-u) on |u| <= 36, and its derivative
    phi(u) / Phi(u) + phi(u) / Phi(-u), including u = 0 (where pt.sign would give 0)."""
    u = pt.dvector()
    value = logit_normal_cdf(u)
    fn = pytensor.function([u], [value, pytensor.grad(value.sum(), u)])
    x = np.concatenate([np.linspace(-36.0, 36.0, 1441), [0.0, -1e-12, 1e-12]])
    got, slope = fn(x)
    ref = log_ndtr(x) - log_ndtr(-x)
    ref_slope = np.exp(norm.logpdf(x) - log_ndtr(x)) + np.exp(norm.logpdf(x) - log_ndtr(-x))
    np.testing.assert_allclose(got, ref, rtol=1e-13, atol=1e-13)
    np.testing.assert_allclose(slope, ref_slope, rtol=1e-10)
    # beyond |u| = 37 (where erfc underflows near 38.5) it is held: finite, no NaN gradient
    far, far_slope = fn(np.array([-60.0, -37.0, 37.0, 60.0]))
    assert np.all(np.isfinite(far)) and np.all(np.isfinite(far_slope))
    assert far[0] == far[1] and far[2] == far[3] and far_slope[0] == far_slope[3] == 0.0


def _models() -> dict[str, object]:
    models = {
        "rate": build_rate_model(8),
        "map_rate": build_map_rate_model([[(3, 20, 1.0)], [(5, 30, 0.5), (6, 30, 0.5)]]),
        "map_rate_logistic": build_map_rate_model([[(3, 20, 1.0)]], mean_family="logistic"),
        "map_median": build_map_median_model([1.5, 1.7], [0.2, 0.3]),
        "patient": build_patient_model([1.0, 2.0, 3.5, 0.0], [1, 0, 1, 1]),
    }
    for pattern in PATTERNS:
        models[f"summary {pattern!r}"] = build_summary_model(
            pattern, summary_data(4.4, 3.6, 5.9, [16.4, 5.3, 7.3, 14.4])
        )
    return models


#: Known exceptions: a median not reached by follow-up F needs the regularised incomplete beta
#: function, which PyTensor's numba backend calls in SciPy through a function pointer; these two
#: summary patterns (rare: medians "not reached") are compiled in each process that needs them.
KNOWN = {"summary 'L,>F'": ["betainc"], "summary '>F'": ["betainc"]}


@pytest.mark.parametrize("name", list(_models()))
def test_model_holds_only_ops_the_cache_can_key(name: str) -> None:
    assert uncacheable_ops(_models()[name]) == KNOWN.get(name, [])


def test_comparison_model_holds_only_ops_the_cache_can_key() -> None:
    splits = [(n, 48 - n) for n in range(12, 37)]
    reports = [report_from_published("= .03", 1, splits), report_from_published(".5", -1, splits)]
    model = build_comparison_model(reports, prior=AE_PRIORS["weakly_informative"])
    assert uncacheable_ops(model) == []


def test_an_erfcx_model_is_reported() -> None:
    """The check itself can fail: PyMC's normal_lcdf (erfcx inside) is named."""
    import pymc as pm
    from pymc.distributions.dist_math import normal_lcdf

    with pm.Model() as model:
        u = pm.Normal("u")
        pm.Potential("tail", normal_lcdf(0.0, 1.0, u))
    assert uncacheable_ops(model) == ["erfcx"]
