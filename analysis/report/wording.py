"""Words for numbers: one table of thresholds per scale, so every sentence says what its value says.

Bayes factors use the scale of Kass and Raftery (J Am Stat Assoc 1995;90:773-95, section 3.2),
stated there for the Bayes factor B10 of H1 against H0 and read symmetrically for B10 < 1 (then
1 / B10 is the evidence for H0):

==============  ==========================================
B10 (or 1/B10)  evidence for H1 (or for H0)
==============  ==========================================
1 to 3.2        not worth more than a bare mention
3.2 to 10       substantial
10 to 100       strong
above 100       decisive
==============  ==========================================

A value on a threshold takes the higher category (3.2 is "substantial"); exactly 1 favours neither.
"""

from __future__ import annotations

import math

#: Kass-Raftery scale: (lower limit of the Bayes factor, words), ascending. Each category runs
#: from its limit (included) to the next limit (excluded).
KASS_RAFTERY_SCALE: tuple[tuple[float, str], ...] = (
    (1.0, "not worth more than a bare mention"),
    (3.2, "substantial"),
    (10.0, "strong"),
    (100.0, "decisive"),
)


def kass_raftery_category(bayes_factor: float) -> str:
    """The Kass-Raftery words for the strength of a Bayes factor >= 1 (see the module table).

    Raises:
        ValueError: a Bayes factor below 1, NaN or not positive.
    """
    if not (bayes_factor >= 1.0):
        raise ValueError(f"the scale is defined for Bayes factors >= 1, got {bayes_factor!r}")
    words = KASS_RAFTERY_SCALE[0][1]
    for limit, label in KASS_RAFTERY_SCALE:
        if bayes_factor >= limit:
            words = label
    return words


def bayes_factor_words(
    bayes_factor: float, effect: str = "an effect", null: str = "no effect"
) -> str:
    """A phrase for a Bayes factor of ``effect`` against ``null``, in whichever direction it points.

    ``bayes_factor`` > 1 favours the effect: "substantial evidence for an effect"; < 1 favours the
    null and is worded by its reciprocal: "strong evidence for no effect"; exactly 1: "evidence
    for neither". The weakest category reads "evidence for an effect not worth more than a bare
    mention". Thresholds: :data:`KASS_RAFTERY_SCALE` (Kass and Raftery 1995).

    Raises:
        ValueError: a Bayes factor that is not a positive finite number.
    """
    if not (isinstance(bayes_factor, int | float) and 0 < bayes_factor < math.inf):
        raise ValueError(f"a Bayes factor must be positive and finite, got {bayes_factor!r}")
    if bayes_factor == 1.0:
        return f"evidence for neither {effect} nor {null}"
    if bayes_factor > 1:
        favoured, words = effect, kass_raftery_category(bayes_factor)
    else:  # compare with 1 / limit, so that exactly 1 / 3.2 is "substantial" like 3.2
        favoured = null
        words = next(w for lim, w in reversed(KASS_RAFTERY_SCALE) if bayes_factor <= 1 / lim)
    if words == KASS_RAFTERY_SCALE[0][1]:
        return f"evidence for {favoured} {words}"
    return f"{words} evidence for {favoured}"


# ---------------------------------------------------------------------------------------------
# Probabilities, and comparative claims that are computed rather than asserted
# ---------------------------------------------------------------------------------------------

#: Probabilities are printed with this many decimals; beyond the ends they print as bounds.
PROBABILITY_DECIMALS = 4
#: Largest probability printed as a number; above it "> 0.9999" (and below 1 - it "< 0.0001").
PROBABILITY_TOP = 1.0 - 10.0**-PROBABILITY_DECIMALS

#: Tolerance of "close to" for two rates, in fractions (2 percentage points): two intervals are
#: close when both their limits differ by at most this much, two estimates when they do.
RATE_CLOSENESS: float = 0.02
#: Floating-point slack of the threshold comparisons (0.32 - 0.30 is 0.020000000000000018).
_SLACK = 1e-12


def format_probability(p: float) -> str:
    """A probability (or P value) printed one way: 4 decimals, "> 0.9999" and "< 0.0001" at the
    ends (never a bare "1" or "0" for a value that is not exactly either; 1 and 0 print as such).

    Raises:
        ValueError: not a number in [0, 1].
    """
    if not (isinstance(p, int | float) and 0.0 <= p <= 1.0):
        raise ValueError(f"a probability lies in [0, 1], got {p!r}")
    if p == 1.0 or p == 0.0:
        return f"{p:.0f}"
    if p > PROBABILITY_TOP:
        return f"> {PROBABILITY_TOP:.{PROBABILITY_DECIMALS}f}"
    if p < 1.0 - PROBABILITY_TOP:
        return f"< {1.0 - PROBABILITY_TOP:.{PROBABILITY_DECIMALS}f}"
    return f"{p:.{PROBABILITY_DECIMALS}f}"


def format_bayes_factor(bf: float | None) -> str:
    """A Bayes factor with three significant digits; None or infinity (no posterior mass left on
    one side in double precision) prints as "> 1e+300"."""
    if bf is None or bf == math.inf:
        return "> 1e+300"
    return f"{bf:.3g}"


def closeness_words(difference: float, tolerance: float = RATE_CLOSENESS) -> str:
    """ "close to" when |difference| <= tolerance, else "different from" (a computed claim)."""
    if not math.isfinite(difference):
        raise ValueError(f"a difference must be finite, got {difference!r}")
    return "close to" if abs(difference) <= tolerance + _SLACK else "different from"


def agreement_words(values: list[float], tolerance: float = RATE_CLOSENESS) -> str:
    """Whether several estimates agree: "agree within" the tolerance when their spread (max - min)
    is at most it, else "differ by more than" it."""
    if not values:
        raise ValueError("no values to compare")
    return (
        "agree within" if max(values) - min(values) <= tolerance + _SLACK else "differ by more than"
    )


def direction_words(bayes_factors: list[float | None]) -> str:
    """Whether Bayes factors of H1 against H0 point the same way: "every prior favours the
    alternative region", "every prior favours the null region", or "the direction depends on the
    prior" (None or infinity counts as favouring H1; exactly 1 as neither)."""
    signs = {1 if (b is None or b > 1.0) else (-1 if b < 1.0 else 0) for b in bayes_factors}
    if signs == {1}:
        return "every prior favours the alternative region"
    if signs == {-1}:
        return "every prior favours the null region"
    return "the direction depends on the prior"


def parameters_text(parameters: dict, digits: int = 3) -> str:
    """A prior's parameters in one line: "alpha = 0.419, beta = 7.95" (numbers to ``digits``
    significant digits; lists and text as they are)."""

    def one(v: object) -> str:
        if isinstance(v, bool) or not isinstance(v, int | float):
            return str(v)
        return f"{v:.{digits}g}"

    return ", ".join(f"{k} = {one(v)}" for k, v in parameters.items())
