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
