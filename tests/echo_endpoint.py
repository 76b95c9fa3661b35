"""A fast endpoint that puts the trial file's own text into every part of the report (title,
sentences, assumptions, table cells): lets tests check escaping without fitting a model."""

from __future__ import annotations

import pandas as pd

from trial_reanalysis.analysis.endpoints.base import EndpointResult, comparison_frame


def analyse(loaded, key: str, *, seed: int, allow_failed: bool) -> EndpointResult:
    t = loaded.trial
    names = [c.label for c in t.comparisons.values()]
    text = f"{t.trial.title} / {' / '.join(names)}"
    comparison = comparison_frame([{"quantity": text, "side": "reported", "estimate": 0.5}])
    sensitivity = pd.DataFrame({"scenario": [text], "value": [1.0]})
    return EndpointResult(
        name="echo",
        title=f"Echo: {t.trial.title}",
        results={"echo": text},
        comparison=comparison,
        sensitivity=sensitivity,
        tables={"echo_names": pd.DataFrame({"name": names})},
        sentences=[f"The trial {t.trial.title} reports {', '.join(names)}."],
        assumptions=[f"assumed for {t.trial.title}"],
    )
