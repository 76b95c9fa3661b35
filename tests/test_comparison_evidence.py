"""The evidence a reported P value carries (issue 13 item 3), checked by brute force.

The reference here is written independently of the package: the two-sided Fisher P of every table
from scipy's hypergeometric pmf (R's tolerance 1 + 1e-7 on "no more probable"), every split
(uniform 12-36 of 48 patients) and table enumerated in loops, binomials from scipy, the baseline
log-odds integrated on its own trapezoid grid, and the log-OR integrals by scipy.integrate.quad.
"""

import functools
import math
from pathlib import Path

import numpy as np
import pytest
from scipy import integrate, optimize, stats
from scipy.special import expit, gammaln, log_expit

from trial_reanalysis.analysis.endpoints.comparison import (
    analyse_comparisons,
    event_report,
    grouping_scenarios,
    sbb_calibration,
)
from trial_reanalysis.analysis.errors import InputError
from trial_reanalysis.analysis.inference.fitting import SamplerSettings
from trial_reanalysis.analysis.paths import DATA_DIR
from trial_reanalysis.analysis.report.comparison import evidence_sentence, plot_evidence, present
from trial_reanalysis.analysis.trials.load import load_trial
from trial_reanalysis.models.comparison import (
    AE_PRIORS,
    report_evidence,
    report_from_counts,
    report_from_published,
    restrict_to_counts,
)

PRIOR = AE_PRIORS["weakly_informative"].parameters
CASES = Path("/work/shared/cases/trials")
A11 = CASES / "A11_sorafenib_hfsr_by_bevacizumab_2009.toml"
AZAD = DATA_DIR / "trials" / "azad_hfsr_pooled_2009.toml"
# Issue 13 / DESIGN.md 4.3 values for the seed (Fisher, split uniform 12-36, N(0, 1) prior).
SEED = {  # key: (P, sign, BF primary, BF max)
    "ppe": (0.03, 1, 3.97, 17.3),
    "mucositis": (0.06, 1, 2.51, 8.9),
    "rash": (0.06, -1, 2.23, 7.4),
}


@functools.cache
def _fisher_two_sided(n1: int, n2: int) -> dict[tuple[int, int], float]:
    """Two-sided Fisher P of every table (a, c), margin by margin from scipy's hypergeometric."""
    out = {}
    for m in range(n1 + n2 + 1):
        support = np.arange(max(0, m - n2), min(n1, m) + 1)
        pmf = stats.hypergeom.pmf(support, n1 + n2, n1, m)
        for a, observed in zip(support, pmf, strict=True):
            out[(int(a), int(m - a))] = float(min(1.0, pmf[pmf <= observed * (1 + 1e-7)].sum()))
    return out


def _brute_cells(p: float, sign: int) -> list[tuple[int, int, int, int]]:
    """Every (n1, n2, a, c) over the splits 12..36 whose Fisher P rounds to p, direction sign."""
    out = []
    for n1 in range(12, 37):
        n2 = 48 - n1
        for (a, c), p_table in sorted(_fisher_two_sided(n1, n2).items()):
            if np.sign(a / n1 - c / n2) == sign and p - 0.005 <= p_table < p + 0.005:
                out.append((n1, n2, a, c))
    return out


class BruteLikelihood:
    """L(beta) = sum over cells of w Bin(a | n1, expit(alpha + beta)) Bin(c | n2, expit(alpha)),
    alpha integrated over N(mu, sigma) on a trapezoid grid of 1601 points over mu +/- 8 sigma.
    The exposed group's binomial pmf is written out, C(n1, a) p^a (1 - p)^(n1 - a) on the log
    scale (stats.binom.pmf's argument handling was most of this reference's time)."""

    def __init__(self, cells: list[tuple[int, int, int, int]], split_weight: float) -> None:
        mu, sigma = PRIOR["baseline_mu"], PRIOR["baseline_sigma"]
        self.alpha = np.linspace(mu - 8 * sigma, mu + 8 * sigma, 1601)
        trap = np.full(self.alpha.size, self.alpha[1] - self.alpha[0])
        trap[[0, -1]] /= 2
        arr = np.array(cells)
        self.n1, self.a = arr[:, 0:1], arr[:, 2:3]
        self.log_choose = gammaln(self.n1 + 1) - gammaln(self.a + 1) - gammaln(self.n1 - self.a + 1)
        self.weight = (
            split_weight
            * trap
            * stats.norm.pdf(self.alpha, mu, sigma)
            * stats.binom.pmf(arr[:, 3:4], arr[:, 1:2], expit(self.alpha))
        )

    def __call__(self, beta: float) -> float:
        x = self.alpha + beta
        bev = np.exp(self.log_choose + self.a * log_expit(x) + (self.n1 - self.a) * log_expit(-x))
        return float((self.weight * bev).sum())


def _brute_evidence(like: BruteLikelihood, sign: int) -> dict[str, float]:
    l0 = like(0.0)
    phi = stats.norm.pdf

    def quad(lo, hi):
        return integrate.quad(lambda b: like(b) * phi(b), lo, hi, epsabs=0, epsrel=1e-7)[0]

    left, right = quad(-9, 0), quad(0, 9)
    best = optimize.minimize_scalar(
        lambda b: -like(b), bounds=(0, 6) if sign > 0 else (-6, 0), method="bounded"
    )
    return {
        "likelihood_at_null": l0,
        "bayes_factor_prior_vs_null": (left + right) / l0,
        "bayes_factor_reported_side_vs_null": 2 * (right if sign > 0 else left) / l0,
        "bayes_factor_max": -best.fun / l0,
        "log_or_at_max": best.x,
    }


@pytest.mark.parametrize("key", list(SEED))
def test_seed_evidence_matches_brute_force_and_the_issue(key):
    p, sign, bf_published, max_published = SEED[key]
    cells = _brute_cells(p, sign)
    report = report_from_published(p, sign, [(n, 48 - n) for n in range(12, 37)])
    assert report.n_cells == len(cells)
    got = report_evidence(report, AE_PRIORS["weakly_informative"], sign)
    ref = _brute_evidence(BruteLikelihood(cells, 1 / 25), sign)
    for name in (
        "likelihood_at_null",
        "bayes_factor_prior_vs_null",
        "bayes_factor_reported_side_vs_null",
        "bayes_factor_max",
    ):
        assert got[name] == pytest.approx(ref[name], rel=1e-4), name
    assert got["log_or_at_max"] == pytest.approx(ref["log_or_at_max"], abs=1e-3)
    assert np.sign(got["log_or_at_max"]) == sign
    # the numbers of issue 13 / DESIGN.md 4.3, to the digits printed there
    assert got["bayes_factor_prior_vs_null"] == pytest.approx(bf_published, abs=0.005)
    assert got["bayes_factor_max"] == pytest.approx(max_published, abs=0.05)
    if key == "ppe":
        assert got["likelihood_at_null"] == pytest.approx(0.0023, abs=5e-5)
    # the SBB value is below both: it is no bound for this report
    sbb = sbb_calibration(p)["bayes_factor"]
    assert sbb < got["bayes_factor_prior_vs_null"] < got["bayes_factor_max"]


def test_reported_side_depends_on_the_sign():
    """A report pointing the other way moves the maximum to the other side and doubles the
    reported side's Bayes factor on that side (a mutant ignoring the sign fails here and in the
    brute-force test of the rash report). Not an exact mirror: the baseline prior is not
    centred at 0."""
    splits = [(24, 24)]
    prior = AE_PRIORS["weakly_informative"]
    up = report_evidence(report_from_published(0.03, 1, splits), prior, 1)
    down = report_evidence(report_from_published(0.03, -1, splits), prior, -1)
    assert up["log_or_at_max"] > 0 > down["log_or_at_max"]
    for ev in (up, down):
        assert ev["bayes_factor_reported_side_vs_null"] > 1.8 * ev["bayes_factor_prior_vs_null"]
    with pytest.raises(ValueError, match="sign"):
        report_evidence(report_from_published(0.03, 1, splits), prior, 0)


def test_restrict_to_counts_keeps_only_those_tables():
    report = report_from_published(0.03, 1, [(n, 48 - n) for n in range(12, 37)])
    a = int(report.exposed_events[0])
    kept = restrict_to_counts(report, exposed_events=a)
    assert 0 < kept.n_cells < report.n_cells
    assert np.all(kept.exposed_events == a)
    assert kept.n_cells == int(np.sum(report.exposed_events == a))
    assert restrict_to_counts(report).n_cells == report.n_cells


def test_counts_are_a_single_binomial_table():
    """Published counts: the likelihood is two binomials (no P indicator, no split)."""
    report = report_from_counts(42, 54, 24, 16)
    assert report.n_cells == 1 and float(report.log_split_weight[0]) == 0.0
    assert report.p_value[0] == pytest.approx(stats.fisher_exact([[24, 18], [16, 38]])[1])
    got = report_evidence(report, AE_PRIORS["weakly_informative"], 1)
    ref = _brute_evidence(BruteLikelihood([(42, 54, 24, 16)], 1.0), 1)
    # 96 patients: the model's 41-node baseline rule would miss by 2e-3 here; the evidence uses
    # the finer rule of fine_baseline_nodes
    for name in ("likelihood_at_null", "bayes_factor_prior_vs_null", "bayes_factor_max"):
        assert got[name] == pytest.approx(ref[name], rel=1e-4), name
    assert math.exp(got["log_or_at_max"]) == pytest.approx(3.2, abs=0.1)
    with pytest.raises(ValueError, match="must lie in"):
        report_from_counts(10, 10, 11, 0)


#: The two files with published counts: the handed case A11 (v1, migrated on load) and the
#: corpus file of the same study (v2), with their grouping key and comparison key.
COUNTED = {
    "A11": (A11, "prior_therapy", "hfsr23", "bevacizumab plus sorafenib", "sorafenib alone"),
    "azad": (AZAD, "regimen", "hfsr_grade23", "bevacizumab/sorafenib", "sorafenib"),
}


@pytest.fixture(scope="module", params=list(COUNTED))
def counted(request):
    path, grouping, key, exposed, reference = COUNTED[request.param]
    loaded = load_trial(path)
    settings = SamplerSettings(draws=1000, tune=500)
    result = analyse_comparisons(loaded, grouping, seed=5, settings=settings)
    present(result, loaded)
    return result, key, exposed, reference


def test_published_counts_are_the_data(counted):
    """Azad et al. 2009 (handed case A11 and the corpus file): 24/42 vs 16/54, P = .012. The
    counts are the data: one table, posterior against a 2-D grid of the two-binomial posterior,
    frequentist numbers against their defining equations, the file's group names in the words."""
    result, key, exposed, reference = counted
    r = result.results["events"][key]
    assert r["data"] == "published counts"
    assert [
        (t["exposed_events"], t["n_exposed"], t["reference_events"], t["n_reference"])
        for t in r["compatible_tables"]
    ] == [(24, 42, 16, 54)]
    assert result.results["assumptions"]["scenarios"] == ["fisher, fixed 42/54 (published)"]
    assert result.results["grouping"]["exposed"]["name"] == exposed
    # posterior median and P(OR > 1) against a grid of the plain two-binomial posterior
    alpha = np.linspace(-7, 5, 601)[:, None]
    beta = np.linspace(-4, 6, 1001)[None, :]
    post = np.exp(
        stats.norm.logpdf(alpha, PRIOR["baseline_mu"], PRIOR["baseline_sigma"])
        + stats.norm.logpdf(beta, 0, 1)
        + stats.binom.logpmf(24, 42, expit(alpha + beta))
        + stats.binom.logpmf(16, 54, expit(alpha))
    ).sum(axis=0)
    post /= post.sum()
    cdf = np.cumsum(post) - post / 2
    median_or = math.exp(np.interp(0.5, cdf, beta[0]))
    p_above = float(post[beta[0] > 0].sum())
    got = r["posterior"]["weakly_informative"]
    assert got["odds_ratio"]["median"] == pytest.approx(median_or, rel=0.03)
    assert got["p_or_above_1"] == pytest.approx(p_above, abs=0.004)
    # frequentist: conditional MLE solves E_psi[A] = a, the exact limits solve the tail equations
    f = r["frequentist"]
    assert f["sample_odds_ratio"] == pytest.approx(24 * 38 / (18 * 16))  # about 3.2
    assert f["sample_odds_ratio"] == pytest.approx(3.166667, abs=1e-6)  # corpus expectation
    law = stats.nchypergeom_fisher
    assert law.mean(96, 42, 40, f["conditional_mle_odds_ratio"]) == pytest.approx(24, abs=1e-6)
    lo, hi = f["ci95_exact"]
    assert law.sf(23, 96, 42, 40, lo) == pytest.approx(0.025, abs=1e-6)
    assert law.cdf(24, 96, 42, 40, hi) == pytest.approx(0.025, abs=1e-6)
    assert f["p_value_fisher"] == pytest.approx(stats.fisher_exact([[24, 18], [16, 38]])[1])
    assert f["p_value_fisher"] == pytest.approx(0.011815, abs=1e-6)  # corpus expectation
    chi2 = stats.chi2_contingency([[24, 18], [16, 38]], correction=False)[1]
    assert f["p_value_chi2"] == pytest.approx(chi2)
    assert f["reproduces_reported_p"] == {"fisher": True, "chi2": False}
    ref = _brute_evidence(BruteLikelihood([(42, 54, 24, 16)], 1.0), 1)
    assert r["bayes_factor_primary_vs_null"] == pytest.approx(
        ref["bayes_factor_prior_vs_null"], rel=1e-4
    )
    text = " ".join(result.sentences)
    assert "the printed P = 0.012 matches Fisher's exact test." in text
    assert f"(more frequent in {exposed})" in text and f"(more frequent in {reference})" in text
    for word in ("sunitinib", "prior therapy"):
        if word not in exposed + reference + result.results["grouping"]["label"]:
            assert word not in text + " ".join(result.assumptions)
    assert set(result.figures) == {f"{result.name}_forest", f"{result.name}_evidence"}


def test_counts_against_the_reported_direction_are_refused(tmp_path):
    """Counts that point against the reported direction are refused at load (the field named)."""
    text = AZAD.read_text().replace(
        'more_frequent_in = { value = "bevacizumab/sorafenib"',
        'more_frequent_in = { value = "sorafenib"',
    )
    path = tmp_path / "azad_wrong_direction.toml"
    path.write_text(text)
    with pytest.raises(InputError, match="contradict the reported direction") as info:
        load_trial(path)
    assert info.value.field == "comparisons.hfsr_grade23.more_frequent_in"


def _seed_variant(tmp_path: Path, old: str, new: str, name: str) -> Path:
    seed = (DATA_DIR / "trials" / "sorafenib_mrcc_2010.toml").read_text()
    assert old in seed
    path = tmp_path / name
    path.write_text(seed.replace(old, new))
    return path


def _cells(report) -> set[tuple[int, int, int, int]]:
    return set(
        zip(
            report.n_exposed.tolist(),
            report.n_reference.tolist(),
            report.exposed_events.tolist(),
            report.reference_events.tolist(),
            strict=True,
        )
    )


def _brute_interval_cells(lo, hi, sign, splits) -> set[tuple[int, int, int, int]]:
    """Every (n1, n2, a, c) whose Fisher P (scipy hypergeometric, in loops) lies in [lo, hi)
    and whose direction is ``sign`` (None: any)."""
    out = set()
    for n1, n2 in splits:
        for (a, c), p in _fisher_two_sided(n1, n2).items():
            if lo <= p < hi and (sign is None or np.sign(a / n1 - c / n2) == sign):
                out.add((n1, n2, a, c))
    return out


@pytest.mark.parametrize(
    ("case", "lo", "hi"),
    [("A16_pvalue_001.toml", 0.0, 0.001), ("A16_pvalue_NS.toml", 0.05, 2.0)],
)
def test_handed_cases_a16_keep_the_tables_of_their_printed_form(case, lo, hi):
    """The handed cases A16 (v1, migrated): PPE printed "< .001" and "NS" (more frequent after
    bevacizumab) keep, over the uniform 12-36 split, exactly the tables with P < .001 and with
    P >= .05 in that direction (independent enumeration)."""
    loaded = load_trial(CASES / case)
    first, _ = grouping_scenarios(loaded, "prior_therapy")
    assert first.label == "fisher, uniform 12-36"
    report, origin = event_report(loaded, "ppe", first)
    assert origin == "reported P value"
    splits = [(n, 48 - n) for n in range(12, 37)]
    assert _cells(report) == _brute_interval_cells(lo, hi, 1, splits)
    evidence = report_evidence(report, AE_PRIORS["weakly_informative"], 1)
    if lo == 0:  # "< .001" is strong evidence; "NS" in the reported direction is not
        assert evidence["bayes_factor_prior_vs_null"] > 10
    else:
        assert evidence["bayes_factor_prior_vs_null"] < 1


def test_one_group_size_fixes_the_split_and_one_count_restricts_the_tables(tmp_path):
    """One published group size: the other group holds the rest (primary) and, as sensitivity,
    80-100 % of the rest; one published count keeps only the tables holding it."""
    path = _seed_variant(
        tmp_path,
        'exposed = { name = "bevacizumab", n = "unknown" }',
        'exposed = { name = "bevacizumab", n = { value = 20, source = "test" } }',
        "one_size.toml",
    )
    path.write_text(
        path.read_text().replace(
            'more_frequent_in = { value = "bevacizumab", source = "abstract" }\n'
            'events_exposed = "unknown"',
            'more_frequent_in = { value = "bevacizumab", source = "abstract" }\n'
            'events_exposed = { value = 8, source = "test" }',
            1,
        )
    )
    loaded = load_trial(path)
    first, scenarios = grouping_scenarios(loaded, "prior_therapy")
    assert first.splits == ((20, 28),)
    other = [s for s in scenarios if s.test == first.test and s != first]
    assert [s.splits for s in other] == [tuple((20, m) for m in range(23, 29))]
    report, origin = event_report(loaded, "ppe", first)
    assert origin == "reported P value and published counts"
    brute = {c for c in _brute_interval_cells(0.025, 0.035, 1, [(20, 28)]) if c[2] == 8}
    assert _cells(report) == brute and brute


def test_not_significant_without_a_direction_ignores_it(tmp_path):
    """Counts of both groups without group sizes, "NS" and no direction: over the splits, the
    tables with those counts and P >= .05 whichever way they point; no reported side."""
    block = (
        'p_value = { value = "= .03", source = "abstract" }\n'
        'more_frequent_in = { value = "bevacizumab", source = "abstract" }\n'
        'events_exposed = "unknown"\nevents_reference = "unknown"'
    )
    new = (
        'p_value = { value = "NS", source = "test" }\nmore_frequent_in = "unknown"\n'
        'events_exposed = { value = 6, source = "test" }\n'
        'events_reference = { value = 8, source = "test" }'
    )
    loaded = load_trial(_seed_variant(tmp_path, block, new, "ns.toml"))
    first, _ = grouping_scenarios(loaded, "prior_therapy")
    report, origin = event_report(loaded, "ppe", first)
    assert origin == "reported P value and published counts"
    splits = [(n, 48 - n) for n in range(12, 37)]
    brute = {c for c in _brute_interval_cells(0.05, 2.0, None, splits) if c[2:] == (6, 8)}
    assert _cells(report) == brute
    signs = {np.sign(a / n1 - c / n2) for n1, n2, a, c in brute}
    assert signs == {-1.0, 1.0}  # both directions kept (a directional mutant drops one)
    evidence = report_evidence(report, AE_PRIORS["weakly_informative"], None)
    assert evidence["bayes_factor_reported_side_vs_null"] is None


@pytest.mark.parametrize(
    ("bf", "bf_max", "words", "max_words", "relations"),
    [
        (3.97, 17.3, "substantial evidence for an effect", "strong evidence", ("above", "above")),
        (
            2.5,
            8.9,
            "not worth more than a bare mention",
            "substantial evidence",
            ("below", "above"),
        ),
        (0.25, 1.4, "substantial evidence for no effect", "bare mention", ("below", "below")),
        (0.05, 1.0, "strong evidence for no effect", "evidence for neither", ("below", "below")),
        (12.0, 150.0, "strong evidence for an effect", "decisive evidence", ("above", "above")),
    ],
)
def test_evidence_sentence_is_worded_from_its_values(bf, bf_max, words, max_words, relations):
    sbb = 3.0
    reported = {"p_value": "= .03", "relation": "=", "p_value_number": 0.03}
    text = evidence_sentence(reported, "OR < 1", "N(0, 1)", bf, 2 * bf, bf_max, 0.2, sbb)
    assert words in text.split("no prior could")[0]
    assert max_words in text.split("no prior could")[1].split("Sellke")[0]
    assert f"a Bayes factor of {bf:.3g} for an effect" in text
    assert f"no prior could give more than {bf_max:.3g}" in text
    assert "restricted to OR < 1" in text
    assert f"primary Bayes factor is {relations[0]} it and its maximum {relations[1]} it" in text
    assert "not a bound" in text and "upper" not in text and "at most 3" not in text
    below = {"p_value": "< .001", "relation": "<", "p_value_number": 0.001}
    text = evidence_sentence(below, None, "N(0, 1)", bf, None, bf_max, None, sbb)
    assert "P = 0.001 (the limit of the printed P < .001)" in text
    assert "restricted" not in text and "as the OR grows" in text


def test_evidence_figure_shows_the_three_bayes_factors(counted):
    def event(label, p, bf, bf_max, sbb):
        return {
            "label": label,
            "primary_prior": "weakly_informative",
            "reported": {"p_value": p, "relation": "=", "p_value_number": p},
            "bayes_factor_primary_vs_null": bf,
            "bayes_factor_max": bf_max,
            "sbb_calibration": sbb,
        }

    results = {
        "grouping": {
            "label": "dose",
            "exposed": {"name": "high dose"},
            "reference": {"name": "low dose"},
        },
        "events": {
            "ppe": event("PPE", 0.03, 3.97, 17.3, 3.50),
            "rash": event("rash", 0.06, 2.23, 7.4, 2.18),
        },
    }
    fig = plot_evidence(results)
    ax = fig.axes[0]
    heights = [round(p.get_height(), 2) for p in ax.patches]
    assert heights == [3.97, 2.23, 17.3, 7.4, 3.5, 2.18]
    labels = [t.get_text() for t in ax.get_legend().get_texts()]
    assert set(labels) == {
        "own likelihood, primary prior 'weakly_informative'",
        "own likelihood, largest any prior allows",
        "SBB calibration, continuous two-sided P",
        "Kass-Raftery thresholds 3.2, 10, 100",
    }
    assert ax.get_yscale() == "log"
    assert "high dose vs low dose" in ax.get_title()
    result = counted[0]
    assert set(result.figures) == {f"{result.name}_forest", f"{result.name}_evidence"}
