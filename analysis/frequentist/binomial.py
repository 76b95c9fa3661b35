"""Frequentist side of the primary endpoint: exact binomial test and Simon two-stage designs.

The trial was planned as a two-stage design testing H0: p <= p0 = 0.05 against H1: p >= p1 = 0.20,
but the published abstract gives neither the stage sizes nor the decision boundaries. This module
enumerates Simon's (1989) optimal and minimax designs for the usual (alpha, power) and says what the
trial's reconstructed outcome would have meant under each.

A Simon design (r1/n1, r/n): enrol n1 patients; stop for futility if X1 <= r1 responses; otherwise
enrol n - n1 more and declare the drug active if X1 + X2 > r. With X1 ~ Bin(n1, p), X2 ~ Bin(n - n1,
p) independent:

- rejection probability  R(p) = sum_{x1 = r1 + 1}^{n1} P(X1 = x1) P(X2 > r - x1);
- alpha = R(p0) (type I error), power = R(p1);
- PET0 = P(X1 <= r1 | p0) (probability of early termination under H0);
- EN0 = n1 + (1 - PET0)(n - n1) (expected sample size under H0, patients).

Optimal: minimum EN0 among designs with alpha <= target, power >= target and n <= n_max. Minimax:
minimum n, then minimum EN0 among those. Search space (Simon 1989): 1 <= n1 <= n - 1,
0 <= r1 <= n1, r1 <= r <= n. The range n <= n_max is sized from the single-stage sample size
(three times it, capped at :data:`SIMON_N_CAP` with a note), so any 0 < p0 < p1 < 1 gets a table.

Reference: Simon R (1989). Optimal two-stage designs for phase II clinical trials. Control Clin
Trials 10:1-10.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any, Literal

import numpy as np
import pandas as pd
from numpy.lib.stride_tricks import sliding_window_view
from scipy import stats

#: (alpha, power) settings shown in the design table.
SIMON_SETTINGS: list[tuple[float, float]] = [(0.05, 0.80), (0.05, 0.90), (0.10, 0.80), (0.10, 0.90)]

# Float slack on the alpha and power constraints (probabilities are sums of ~n terms).
_TOL = 1e-12


def _check_probability(name: str, value: float) -> None:
    if not np.isfinite(value) or not 0.0 < value < 1.0:
        raise ValueError(f"{name} must lie strictly between 0 and 1, got {value}")


def _check_counts(responders: int, evaluable: int) -> tuple[int, int]:
    x, n = int(responders), int(evaluable)
    if x != responders or n != evaluable:
        raise ValueError(f"counts must be integers, got {responders}/{evaluable}")
    if n < 1:
        raise ValueError(f"evaluable must be at least 1, got {evaluable}")
    if not 0 <= x <= n:
        raise ValueError(f"responders must lie in 0..evaluable ({n}), got {responders}")
    return x, n


def exact_binomial_test(responders: int, evaluable: int, p0: float) -> float:
    """One-sided exact binomial P value, P(X >= responders | n = evaluable, p = p0).

    The test of the design's null hypothesis (rate <= p0, a fraction) against a higher rate.
    """
    x, n = _check_counts(responders, evaluable)
    _check_probability("p0", p0)
    return float(stats.binomtest(x, n, p0, alternative="greater").pvalue)


@dataclass(frozen=True)
class SimonDesign:
    """A Simon two-stage design and its exact operating characteristics.

    Stop after stage 1 if at most ``r1`` responses among ``n1``; declare the drug active if more
    than ``r`` responses among ``n`` in total. ``alpha`` and ``power`` are the exact rejection
    probabilities at p0 and p1, ``pet0`` the probability of early termination at p0 and ``en0`` the
    expected number of patients at p0. ``kind`` is "optimal" or "minimax".
    """

    kind: Literal["optimal", "minimax"]
    alpha_target: float
    power_target: float
    r1: int
    n1: int
    r: int
    n: int
    alpha: float
    power: float
    pet0: float
    en0: float

    def __post_init__(self) -> None:
        # Coerce to built-in types (rows of a DataFrame carry numpy scalars) so that every
        # design, and everything derived from it, serialises to JSON as is.
        for name, kind in self.__annotations__.items():
            cast = {"int": int, "float": float}.get(kind, str)
            object.__setattr__(self, name, cast(getattr(self, name)))

    @property
    def label(self) -> str:
        """Simon's notation, e.g. ``"0/10, 3/29"``."""
        return f"{self.r1}/{self.n1}, {self.r}/{self.n}"

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON-ready dict of the fields (plus ``label``)."""
        return {**asdict(self), "label": self.label}


#: Largest total n the two-stage search ever considers (keeps the table fast; see simon_table).
SIMON_N_CAP = 300
#: The automatic search range is this multiple of the single-stage sample size.
SIMON_RANGE_FACTOR = 2
#: Largest n tried when looking for the single-stage sample size.
SINGLE_STAGE_LIMIT = 20_000


def single_stage_n(p0: float, p1: float, alpha: float, power: float) -> int | None:
    """Smallest n of a one-stage exact binomial test with size <= alpha and power >= power.

    The test rejects when X > r for the smallest r with P(Bin(n, p0) > r) <= alpha. Returns
    None when no n <= :data:`SINGLE_STAGE_LIMIT` works. Used to size the two-stage search.
    """
    for name, value in (("p0", p0), ("p1", p1), ("alpha", alpha), ("power", power)):
        _check_probability(name, value)
    if p0 >= p1:
        raise ValueError(f"p1 ({p1}) must exceed p0 ({p0})")
    step = 1000
    for start in range(1, SINGLE_STAGE_LIMIT + 1, step):
        n = np.arange(start, min(start + step, SINGLE_STAGE_LIMIT + 1))
        r = stats.binom.isf(alpha, n, p0).astype(int)
        # isf is a float search: move r so that it is the smallest with sf(r) <= alpha.
        r = np.where(stats.binom.sf(r, n, p0) > alpha + _TOL, r + 1, r)
        r = np.where((r > 0) & (stats.binom.sf(r - 1, n, p0) <= alpha + _TOL), r - 1, r)
        ok = stats.binom.sf(r, n, p1) >= power - _TOL
        if ok.any():
            return int(n[np.argmax(ok)])
    return None


def simon_search_limit(p0: float, p1: float, alpha: float, power: float) -> tuple[int, str]:
    """The largest total n the two-stage search considers, and a note saying why.

    :data:`SIMON_RANGE_FACTOR` times the single-stage n (Simon's designs are rarely more than
    about 1.5 times it), at least 10 and at most :data:`SIMON_N_CAP`.
    """
    n_single = single_stage_n(p0, p1, alpha, power)
    if n_single is None:
        return SIMON_N_CAP, (
            f"a single-stage test needs more than {SINGLE_STAGE_LIMIT} patients; the two-stage "
            f"search stops at n = {SIMON_N_CAP}"
        )
    wanted = max(SIMON_RANGE_FACTOR * n_single, 10)
    if wanted > SIMON_N_CAP:
        return SIMON_N_CAP, (
            f"single-stage n = {n_single}; the two-stage search is capped at n = {SIMON_N_CAP} "
            f"(not the {wanted} it would otherwise cover)"
        )
    return wanted, f"single-stage n = {n_single}; searched n <= {wanted}"


def most_powerful_n(p0: float, p1: float, alpha: float, power: float, n_max: int) -> int | None:
    """Smallest n <= n_max at which the most powerful level-alpha test of p0 against p1
    (Neyman-Pearson: reject for large X, randomised at the boundary) reaches ``power``.

    No two-stage design (a non-randomised test on the same patients) can reach that power with
    fewer patients, so the two-stage search starts here. None when no n <= n_max suffices.
    """
    n = np.arange(1, n_max + 1)
    k = np.arange(n_max + 1)
    sf0 = stats.binom.sf(k[None, :], n[:, None], p0)  # [n, c]: P(X > c | p0)
    c = np.argmax(sf0 <= alpha, axis=1)  # smallest c with P(X > c) <= alpha (exists: c = n)
    pmf0 = stats.binom.pmf(c, n, p0)
    gamma = np.where(pmf0 > 0, (alpha - stats.binom.sf(c, n, p0)) / np.where(pmf0 > 0, pmf0, 1), 0)
    best = stats.binom.sf(c, n, p1) + np.clip(gamma, 0.0, 1.0) * stats.binom.pmf(c, n, p1)
    ok = best >= power - _TOL
    return int(n[np.argmax(ok)]) if ok.any() else None


#: Binomial mass ignored in the search bands (far below the 1e-12 slack on the constraints).
_BAND_EPS = 1e-15


def _feasible_designs(
    p0: float, p1: float, settings: list[tuple[float, float]], n_max: int
) -> dict[tuple[float, float], dict[str, np.ndarray]]:
    """Per (alpha, power) setting, every (n, n1, r1) with n <= n_max meeting both constraints,
    with the smallest r meeting both (the highest power), as parallel arrays.

    For a total n, with X1 ~ Bin(n1, p) and X = X1 + X2 ~ Bin(n, p), the rejection probability is
    R(n1, r1, r) = P(X > r) - sum_{x1 <= r1} P(X1 = x1) P(X2 > r - x1): a cumulative sum along
    x1, all (n1, r1, r) of one n at once. Exact prunings: power needs P(X1 > r1 | p1) >= power
    (bounds r1 above), P(X > r | p1) >= power (bounds r above) and n at least
    :func:`most_powerful_n`. Band prunings within 1e-15: values of X1 (and of X) below the 1e-15
    quantile under p0 (also under p1, which is stochastically larger) are left out of the sums, so
    every stage-1 rule that almost never stops is represented by the largest such r1, and every r
    the null almost never reaches by the smallest r of the band; the reported r of the chosen
    designs is then recomputed exactly (:func:`_best_r`).
    """
    power_min = min(pw for _, pw in settings)
    starts = [most_powerful_n(p0, p1, a, pw, n_max) for a, pw in settings]
    if all(st is None for st in starts):
        return {st: {key: np.array([], dtype=float) for key in _KEYS} for st in settings}
    n_start = max(2, min(st for st in starts if st is not None))
    m = np.arange(n_max + 1)
    k = np.arange(n_max + 1)
    pmf = {p: stats.binom.pmf(k[None, :], m[:, None], p) for p in (p0, p1)}  # [size, count]
    cdf0 = stats.binom.cdf(k[None, :], m[:, None], p0)
    sf_all = {p: stats.binom.sf(k[None, :], m[:, None], p) for p in (p0, p1)}
    # sf_ext[p][size, j] = P(Bin(size, p) > j - n_max) for j - n_max in -n_max..n_max.
    j = np.arange(-n_max, n_max + 1)
    sf_ext = {p: stats.binom.sf(j[None, :], m[:, None], p) for p in (p0, p1)}
    # Largest count (per size) leaving power >= power_min possible (-1: none); band bottoms.
    power_ok = sf_all[p1] >= power_min - _TOL  # monotone in count
    top = np.where(power_ok.any(axis=1), power_ok.sum(axis=1) - 1, -1)
    bottom = np.minimum((cdf0 <= _BAND_EPS).sum(axis=1), m)  # P(X < bottom | p0) <= eps

    out: dict[tuple[float, float], dict[str, list[np.ndarray]]] = {
        st: {key: [] for key in _KEYS} for st in settings
    }
    for n in range(n_start, n_max + 1):
        r_lo, r_hi = int(bottom[n]), int(top[n])
        n1 = np.arange(1, n)  # axis 0
        lo1 = np.maximum(bottom[n1] - 1, 0)  # r1 = lo1 stands for every r1 below the band
        hi1 = np.minimum(top[n1], n1)
        use = hi1 >= lo1
        if r_hi < r_lo or not use.any():
            continue
        n1, lo1, hi1 = n1[use], lo1[use], hi1[use]
        width = int((hi1 - lo1).max()) + 1
        x1 = lo1[:, None] + np.arange(width)[None, :]  # [n1, w]: r1 (and x1) per n1
        in_band = x1 <= hi1[:, None]
        x1c = np.minimum(x1, n1[:, None])
        r = np.arange(r_lo, r_hi + 1)  # axis 2
        rows = (n - n1)[:, None]
        first = n_max + r_lo - x1c  # sf_ext column of r = r_lo for each (n1, r1)
        reject = {}
        for p in (p0, p1):
            # windows[size, c, i] = sf_ext[size, c + i]: each (n1, r1) gathers one contiguous row.
            windows = sliding_window_view(sf_ext[p], r.size, axis=1)
            mass = np.where(in_band, pmf[p][n1[:, None], x1c], 0.0)
            mass[:, 0] = np.where(lo1 > 0, 0.0, mass[:, 0])  # below-band values left out
            head = np.cumsum(mass[:, :, None] * windows[rows, first], axis=1)
            reject[p] = sf_all[p][n, r_lo : r_hi + 1][None, None, :] - head
        # r below r1 is outside the search space; rows outside the band are never feasible.
        reject0 = np.where(
            in_band[:, :, None] & (r[None, None, :] >= x1[:, :, None]), reject[p0], np.inf
        )
        pet0_all = cdf0[n1[:, None], x1c]
        en0_all = n1[:, None] + (1.0 - pet0_all) * (n - n1)[:, None]
        for st in settings:
            alpha, power = st
            # R0 falls with r, so the smallest r meeting alpha comes after every r failing it.
            i_r = (reject0 > alpha + _TOL).sum(axis=2)
            inside = i_r < r.size
            i_c = np.minimum(i_r, r.size - 1)
            pw = np.take_along_axis(reject[p1], i_c[:, :, None], axis=2)[:, :, 0]
            ok = inside & (pw >= power - _TOL)
            if not ok.any():
                continue
            # Only the smallest EN0 of this n can be optimal or minimax (ties all kept).
            en0 = np.where(ok, en0_all, np.inf)
            i_n1, i_w = np.nonzero(np.round(en0, 9) == np.round(en0.min(), 9))
            got = out[st]
            got["n"].append(np.full(i_n1.size, n))
            got["n1"].append(n1[i_n1])
            got["r1"].append(x1[i_n1, i_w])
            got["r"].append(r[i_c[i_n1, i_w]])
            got["alpha"].append(np.clip(reject[p0][i_n1, i_w, i_c[i_n1, i_w]], 0.0, 1.0))
            got["power"].append(np.clip(pw[i_n1, i_w], 0.0, 1.0))
            got["pet0"].append(pet0_all[i_n1, i_w])
            got["en0"].append(en0_all[i_n1, i_w])
    return {
        st: {key: (np.concatenate(v) if v else np.array([], dtype=float)) for key, v in d.items()}
        for st, d in out.items()
    }


_KEYS = ("n", "n1", "r1", "r", "alpha", "power", "pet0", "en0")


def _best_r(r1: int, n1: int, n: int, p0: float, p1: float, alpha: float, power: float) -> int:
    """The smallest r (r1 <= r <= n) with exact alpha and power within the targets."""
    for r in range(r1, n + 1):
        if _rejection(r1, n1, r, n, p0) <= alpha + _TOL:
            return r
    return n


def _rejection(r1: int, n1: int, r: int, n: int, p: float) -> float:
    """R(p) of one design by the direct sum over x1 (for the reported alpha and power)."""
    x1 = np.arange(r1 + 1, n1 + 1)
    return float(np.sum(stats.binom.pmf(x1, n1, p) * stats.binom.sf(r - x1, n - n1, p)))


def _pick(
    feas: dict[str, np.ndarray], p0: float, p1: float, alpha: float, power: float
) -> dict[str, SimonDesign]:
    en0_key = np.round(feas["en0"], 9)  # collapse float noise so equal EN0 tie exactly
    tiebreak = (feas["n1"], feas["alpha"], -feas["power"])

    def pick(primary_keys: tuple[np.ndarray, ...]) -> int:
        order = np.lexsort((*tiebreak, *primary_keys[::-1]))
        return int(order[0])

    best = {"optimal": pick((en0_key, feas["n"])), "minimax": pick((feas["n"], en0_key))}
    out = {}
    for kind, i in best.items():
        r1, n1, n = (int(feas[key][i]) for key in ("r1", "n1", "n"))
        r = _best_r(r1, n1, n, p0, p1, alpha, power)
        out[kind] = SimonDesign(
            kind=kind,  # type: ignore[arg-type]
            alpha_target=float(alpha),
            power_target=float(power),
            r1=r1,
            n1=n1,
            r=r,
            n=n,
            alpha=_rejection(r1, n1, r, n, p0),
            power=_rejection(r1, n1, r, n, p1),
            pet0=float(feas["pet0"][i]),
            en0=float(feas["en0"][i]),
        )
    return out


def _check_design_inputs(p0: float, p1: float, settings: list[tuple[float, float]]) -> None:
    for name, value in (("p0", p0), ("p1", p1)):
        _check_probability(name, value)
    for alpha, power in settings:
        _check_probability("alpha", alpha)
        _check_probability("power", power)
    if p0 >= p1:
        raise ValueError(f"p1 ({p1}) must exceed p0 ({p0})")


def simon_designs(
    p0: float, p1: float, alpha: float, power: float, n_max: int | None = None
) -> dict[str, SimonDesign]:
    """Simon's optimal and minimax two-stage designs for H0: p <= p0 against H1: p >= p1.

    Exact enumeration of all designs with n <= ``n_max`` patients (see the module docstring);
    ``n_max`` None sizes the search from the single-stage test (:func:`simon_search_limit`).
    Returns ``{"optimal": ..., "minimax": ...}``. Constraints are checked with a 1e-12 float slack.
    Ties (EN0 equal to 1e-9 patients, e.g. designs that differ only in r) go to smaller n, then
    higher power, then lower alpha, then smaller n1.
    Raises ValueError if no design with n <= ``n_max`` meets the constraints.
    """
    _check_design_inputs(p0, p1, [(alpha, power)])
    if n_max is None:
        n_max, _ = simon_search_limit(p0, p1, alpha, power)
    if int(n_max) != n_max or n_max < 2:
        raise ValueError(f"n_max must be an integer of at least 2, got {n_max}")
    feas = _feasible_designs(p0, p1, [(alpha, power)], int(n_max))[(alpha, power)]
    if feas["n"].size == 0:
        raise ValueError(
            f"no two-stage design with n <= {n_max} has alpha <= {alpha} and power >= {power} "
            f"for p0 = {p0}, p1 = {p1}; increase n_max"
        )
    return _pick(feas, p0, p1, alpha, power)


#: Columns of :func:`simon_table` (a design's fields, then how far the search went).
SIMON_COLUMNS = [
    "p0",
    "p1",
    "kind",
    "alpha_target",
    "power_target",
    "r1",
    "n1",
    "r",
    "n",
    "alpha",
    "power",
    "pet0",
    "en0",
    "label",
    "found",
    "n_max_searched",
    "note",
]


def simon_table(
    p0: float,
    p1: float,
    settings: list[tuple[float, float]] | None = None,
    n_max: int | None = None,
) -> pd.DataFrame:
    """One row per (alpha, power) setting and design kind, with every :class:`SimonDesign` field.

    An auxiliary table that never fails for 0 < p0 < p1 < 1: the search range is sized per
    setting from the single-stage n (:func:`simon_search_limit`, capped at
    :data:`SIMON_N_CAP`) unless ``n_max`` is given; a setting with no design in range gets rows
    with ``found`` False, empty design fields and a ``note`` saying how far the search went.
    Columns: :data:`SIMON_COLUMNS`. ``settings`` defaults to :data:`SIMON_SETTINGS`.
    Raises ValueError only for invalid p0, p1, alpha or power.
    """
    settings = list(SIMON_SETTINGS if settings is None else settings)
    _check_design_inputs(p0, p1, settings)
    limits = {
        st: (int(n_max), f"searched n <= {n_max}")
        if n_max is not None
        else simon_search_limit(p0, p1, *st)
        for st in settings
    }
    largest = max(limit for limit, _ in limits.values())
    feasible = _feasible_designs(p0, p1, settings, largest) if largest >= 2 else {}
    rows = []
    for st in settings:
        limit, why = limits[st]
        feas = feasible.get(st)
        keep = feas["n"] <= limit if feas is not None else None
        if feas is None or not keep.any():
            note = f"no two-stage design found: {why}"
            for kind in ("optimal", "minimax"):
                rows.append(
                    {
                        "p0": float(p0),
                        "p1": float(p1),
                        "kind": kind,
                        "alpha_target": float(st[0]),
                        "power_target": float(st[1]),
                        "label": "none found",
                        "found": False,
                        "n_max_searched": limit,
                        "note": note,
                    }
                )
            continue
        designs = _pick({k: v[keep] for k, v in feas.items()}, p0, p1, *st)
        for design in designs.values():
            note = why
            if design.n > 0.9 * limit:
                note += (
                    "; the design lies near the edge of the search (a larger n_max may change it)"
                )
            rows.append(
                {
                    "p0": float(p0),
                    "p1": float(p1),
                    **design.to_dict(),
                    "found": True,
                    "n_max_searched": limit,
                    "note": note,
                }
            )
    return pd.DataFrame(rows, columns=SIMON_COLUMNS)


def trial_decision(design: SimonDesign, responders: int, evaluable: int) -> dict[str, Any]:
    """What the trial's outcome (responders of evaluable) means under a Simon design.

    The trial's own design is unpublished, so this compares rather than decides: the design's
    total n against the trial's; whether the count exceeds r (go at the end) and whether the rate
    exceeds r/n (the same rule as a rate, for a trial of another size); and, treating the trial's
    patients as in random order, the probability that the first n1 held at most r1 responders
    (stop at stage 1, hypergeometric) and, when n <= evaluable, that the design run on the first n
    patients would have declared the drug active. Values are plain floats, ints, bools, strings or
    None (JSON-ready).
    """
    x, m = _check_counts(responders, evaluable)
    hyper_stage1 = stats.hypergeom(m, x, design.n1) if design.n1 <= m else None
    prob_stop = float(hyper_stage1.cdf(design.r1)) if hyper_stage1 is not None else None
    prob_go: float | None = None
    if design.n <= m and hyper_stage1 is not None:
        x1 = np.arange(design.r1 + 1, min(design.n1, x) + 1)
        # Given x1 responders among the first n1, the next n - n1 are drawn from the other m - n1.
        stage2 = stats.hypergeom(m - design.n1, x - x1, design.n - design.n1)
        prob_go = float(np.sum(hyper_stage1.pmf(x1) * stage2.sf(design.r - x1)))
    go_count = x > design.r
    go_rate = x / m > design.r / design.n
    if design.n == m:
        size_note = f"the design's total n ({design.n}) equals the trial's ({m})"
    else:
        size_note = (
            f"the design's total n ({design.n}) differs from the trial's ({m}), so the trial did "
            "not follow this design exactly"
        )
    summary = (
        f"{design.kind} design {design.label}: {size_note}; {x}/{m} "
        f"{'exceeds' if go_count else 'does not exceed'} r = {design.r} responders and the rate "
        f"{x / m:.3f} {'exceeds' if go_rate else 'does not exceed'} r/n = "
        f"{design.r / design.n:.3f}"
    )
    if prob_stop is not None:
        summary += f"; P(stop at stage 1 | random order) = {prob_stop:.3g}"
    return {
        "kind": design.kind,
        "design": design.label,
        "alpha_target": design.alpha_target,
        "power_target": design.power_target,
        "design_n": design.n,
        "trial_n": m,
        "n_matches_trial": design.n == m,
        "responders": x,
        "rate": x / m,
        "r": design.r,
        "go_by_count": bool(go_count),
        "threshold_rate": design.r / design.n,
        "go_by_rate": bool(go_rate),
        "prob_stop_stage1": prob_stop,
        "prob_go_first_n": prob_go,
        "summary": summary,
    }
