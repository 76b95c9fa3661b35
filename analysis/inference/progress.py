"""Progress per fit: every gated fit tells a sink when it is done (the command line shows it).

A process has at most one sink, a callable taking the fit's label: the command line's display in
this process, or a queue's ``put`` in a worker process (set by the pool's initialiser, drained
by the parent). No sink: nothing happens. A sink that fails never stops a fit.
"""

from __future__ import annotations

from collections.abc import Callable

_sink: Callable[[str], None] | None = None


def set_sink(sink: Callable[[str], None] | None) -> Callable[[str], None] | None:
    """Make ``sink`` this process's sink (None: none); returns the previous one."""
    global _sink
    previous, _sink = _sink, sink
    return previous


def fit_done(label: str) -> None:
    """Tell the sink that the fit ``label`` is done (gates checked, after any retry)."""
    if _sink is None:
        return
    try:
        _sink(label)
    except Exception:  # progress is a courtesy: a full queue or closed display stops nothing
        pass
