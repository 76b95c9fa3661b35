"""The report's table of follow-up priors: each prior's ESS with and without the analysis prior.

Every follow-up prior is derived from a posterior that holds the analysis prior's own information
besides the data's (issue 13 item 4). The table shows both effective sample sizes, in two
labelled columns: "with" counts everything the follow-up prior holds (``ess``), "without" the
data's share alone (``ess_without_analysis_prior``, computed in
:mod:`~trial_reanalysis.analysis.planning.followup`). A time-to-event prior adds its per-parameter
ESS in brackets; a share clipped at 0 and a share that could not be separated say so in words.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

#: Column of the ESS that counts the analysis prior's own information.
ESS_WITH = "ESS with the analysis prior"
#: Column of the ESS of the data alone.
ESS_WITHOUT = "ESS without the analysis prior (data alone)"
#: The follow-up priors table's columns, in order (eight).
FOLLOWUP_COLUMNS = (
    "endpoint",
    "name",
    "family",
    "parameters",
    ESS_WITH,
    ESS_WITHOUT,
    "PyMC",
    "Stan",
)
#: Labels of the per-parameter ESS of a time-to-event prior.
COMPONENT_LABELS = {"log_median_pfs": "log median", "log_weibull_shape": "log shape"}
#: What a cell says when the data's share is not known (no analysis prior was given).
NOT_SEPARATED = "not separated (analysis prior not known)"
#: What a cell adds when the data's share was clipped at 0.
CLIPPED = "clipped at 0: the analysis prior is not weaker than this prior"
#: The note under the table (Markdown and HTML share it).
FOLLOWUP_NOTE = (
    "ESS: effective sample size in patients (method per prior in followup_priors.json). "
    f"'{ESS_WITH}' counts all the information of the follow-up prior, the analysis prior's "
    f"own included; '{ESS_WITHOUT}' is the data's share: for a rate, ESS minus the Beta "
    "analysis prior's a0 + b0 (2 + d (a0 + b0 - 2) for a power prior of weight d, (1 - w) "
    "(a0 + b0) for the robust mixture, an approximation); for a normal or bivariate normal, "
    "the same ESS of the follow-up prior's "
    "precision minus the analysis prior's (information ESS of a bivariate normal is not "
    "additive). Both are in the follow-up prior's own unit information (a comparison's pooled "
    "event rate p, the Weibull shape at the follow-up prior's centre), so the analysis prior's "
    "share can differ a little from its ESS in the endpoint's priors table (p = 0.5; the shape "
    "at the analysis prior's centre). A time-to-event prior gives its per-parameter ESS in "
    "brackets. Discounted "
    "priors use power-prior weights d, which scale the data's share by d; the robust prior "
    "mixes in a vague Beta(1, 1)."
)


def _number(value: Any) -> str:
    return f"{float(value):.1f}"


def _components(values: Mapping[str, Any] | None) -> str:
    if not values:
        return ""
    inner = "; ".join(f"{COMPONENT_LABELS.get(k, k)} {_number(v)}" for k, v in values.items())
    return f" ({inner})"


def ess_cells(prior: Mapping[str, Any]) -> tuple[str, str]:
    """(with, without) cells of one follow-up prior: ``ess`` and ``ess_without_analysis_prior``
    to one decimal (patients), a time-to-event prior's per-parameter values in brackets; empty
    when the ESS is unknown, :data:`NOT_SEPARATED` when the data's share was not computed."""
    ess = prior.get("ess")
    with_ = "" if ess is None else _number(ess) + _components(prior.get("ess_components"))
    if "ess_without_analysis_prior" not in prior:
        return with_, NOT_SEPARATED if ess is not None else ""
    data = prior["ess_without_analysis_prior"]
    if data is None:
        return with_, ""
    without = _number(data) + _components(prior.get("ess_components_without_analysis_prior"))
    if prior.get("ess_clipped"):
        without += f" ({CLIPPED})"
    return with_, without


def followup_rows(followup: Mapping[str, Sequence[Mapping[str, Any]]] | None) -> list[dict]:
    """One row per follow-up prior for the report's templates: ``endpoint``, ``name``,
    ``family``, ``parameters`` (the dict), ``ess_with``, ``ess_without``, ``pymc``, ``stan``."""
    rows = []
    for endpoint, priors in (followup or {}).items():
        for p in priors:
            with_, without = ess_cells(p)
            rows.append(
                {
                    "endpoint": endpoint,
                    "name": p["name"],
                    "family": p["family"],
                    "parameters": p["parameters"],
                    "ess_with": with_,
                    "ess_without": without,
                    "pymc": p.get("pymc", ""),
                    "stan": p.get("stan", ""),
                }
            )
    return rows
