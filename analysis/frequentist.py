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
0 <= r1 <= n1, r1 <= r <= n.

Reference: Simon R (1989). Optimal two-stage designs for phase II clinical trials. Control Clin
Trials 10:1-10.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any, Literal

import numpy as np
import pandas as pd
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


def _feasible_designs(
    p0: float, p1: float, alpha: float, power: float, n_max: int
) -> dict[str, np.ndarray]:
    """Every design with n <= n_max meeting both constraints, as parallel arrays.

    For each total n, all (n1, r1, r) are evaluated at once: with M[n1, x1, r] = P(X1 = x1)
    P(X2 > r - x1), the rejection probability is the sum of M over x1 > r1, a reversed cumulative
    sum along x1.
    """
    m = np.arange(n_max + 1)
    k = np.arange(n_max + 1)
    pmf = {p: stats.binom.pmf(k[None, :], m[:, None], p) for p in (p0, p1)}  # [size, count]
    cdf = stats.binom.cdf(k[None, :], m[:, None], p0)
    # sf_ext[p][size, j] = P(Bin(size, p) > j - n_max) for j - n_max in -n_max..n_max.
    j = np.arange(-n_max, n_max + 1)
    sf_ext = {p: stats.binom.sf(j[None, :], m[:, None], p) for p in (p0, p1)}

    out: dict[str, list[np.ndarray]] = {
        key: [] for key in ("n", "n1", "r1", "r", "alpha", "power", "pet0", "en0")
    }
    for n in range(2, n_max + 1):
        n1 = np.arange(1, n)  # axis 0
        x1 = np.arange(n)  # axis 1 (x1 <= n1 <= n - 1); also indexes r1
        r = np.arange(n + 1)  # axis 2
        shift = r[None, :] - x1[:, None] + n_max  # index of r - x1 in sf_ext
        reject = {}
        for p in (p0, p1):
            mass = pmf[p][n1][:, :n]  # [n1, x1]; zero where x1 > n1
            surv = sf_ext[p][n - n1][:, shift]  # [n1, x1, r]
            terms = mass[:, :, None] * surv
            # tail[n1, r1, r] = sum over x1 > r1 of terms: reversed cumsum, shifted by one.
            tail = np.cumsum(terms[:, ::-1, :], axis=1)[:, ::-1, :]
            tail = np.concatenate([tail[:, 1:, :], np.zeros_like(tail[:, :1, :])], axis=1)
            reject[p] = tail
        valid = (x1[None, :, None] <= n1[:, None, None]) & (r[None, None, :] >= x1[None, :, None])
        ok = valid & (reject[p0] <= alpha + _TOL) & (reject[p1] >= power - _TOL)
        i_n1, i_r1, i_r = np.nonzero(ok)
        if i_n1.size == 0:
            continue
        n1_sel = n1[i_n1]
        pet0 = cdf[n1_sel, i_r1]
        out["n"].append(np.full(i_n1.size, n))
        out["n1"].append(n1_sel)
        out["r1"].append(i_r1)
        out["r"].append(i_r)
        out["alpha"].append(reject[p0][i_n1, i_r1, i_r])
        out["power"].append(reject[p1][i_n1, i_r1, i_r])
        out["pet0"].append(pet0)
        out["en0"].append(n1_sel + (1.0 - pet0) * (n - n1_sel))
    return {key: (np.concatenate(v) if v else np.array([], dtype=float)) for key, v in out.items()}


def simon_designs(
    p0: float, p1: float, alpha: float, power: float, n_max: int = 70
) -> dict[str, SimonDesign]:
    """Simon's optimal and minimax two-stage designs for H0: p <= p0 against H1: p >= p1.

    Exact enumeration of all designs with n <= ``n_max`` patients (see the module docstring).
    Returns ``{"optimal": ..., "minimax": ...}``. Constraints are checked with a 1e-12 float slack.
    Ties (EN0 equal to 1e-9 patients, e.g. designs that differ only in r) go to smaller n, then
    higher power, then lower alpha, then smaller n1.
    Raises ValueError if no design with n <= ``n_max`` meets the constraints.
    """
    for name, value in (("p0", p0), ("p1", p1), ("alpha", alpha), ("power", power)):
        _check_probability(name, value)
    if p0 >= p1:
        raise ValueError(f"p1 ({p1}) must exceed p0 ({p0})")
    if int(n_max) != n_max or n_max < 2:
        raise ValueError(f"n_max must be an integer of at least 2, got {n_max}")
    feas = _feasible_designs(p0, p1, alpha, power, int(n_max))
    if feas["n"].size == 0:
        raise ValueError(
            f"no two-stage design with n <= {n_max} has alpha <= {alpha} and power >= {power} "
            f"for p0 = {p0}, p1 = {p1}; increase n_max"
        )
    en0 = feas["en0"]
    # Collapse float noise so that designs with the same EN0 tie exactly.
    en0_key = np.round(en0, 9)
    tiebreak = (feas["n1"], feas["alpha"], -feas["power"])

    def pick(primary: tuple[np.ndarray, ...]) -> int:
        order = np.lexsort((*tiebreak, *primary[::-1]))
        return int(order[0])

    best = {
        "optimal": pick((en0_key, feas["n"])),
        "minimax": pick((feas["n"], en0_key)),
    }
    return {
        kind: SimonDesign(
            kind=kind,  # type: ignore[arg-type]
            alpha_target=float(alpha),
            power_target=float(power),
            r1=int(feas["r1"][i]),
            n1=int(feas["n1"][i]),
            r=int(feas["r"][i]),
            n=int(feas["n"][i]),
            alpha=float(feas["alpha"][i]),
            power=float(feas["power"][i]),
            pet0=float(feas["pet0"][i]),
            en0=float(feas["en0"][i]),
        )
        for kind, i in best.items()
    }


def simon_table(
    p0: float,
    p1: float,
    settings: list[tuple[float, float]] | None = None,
    n_max: int = 70,
) -> pd.DataFrame:
    """One row per (alpha, power) setting and design kind, with every :class:`SimonDesign` field.

    Columns: p0, p1, kind, alpha_target, power_target, r1, n1, r, n, alpha, power, pet0, en0, label.
    ``settings`` defaults to :data:`SIMON_SETTINGS`.
    """
    rows = []
    for alpha, power in SIMON_SETTINGS if settings is None else settings:
        for design in simon_designs(p0, p1, alpha, power, n_max=n_max).values():
            rows.append({"p0": float(p0), "p1": float(p1), **design.to_dict()})
    return pd.DataFrame(rows)


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
