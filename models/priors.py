"""The prior registry: every named prior scenario, its parameters and a one-line rationale.

One registry per endpoint parameter family; each entry names the distribution and its
hyperparameters (which the models take as ``pm.Data``, so switching priors never recompiles).
Exactly one entry per endpoint is marked primary.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True)
class PriorScenario:
    """A named prior: the family, its hyperparameters, why it is there, and whether primary."""

    name: str
    family: str
    parameters: dict[str, Any]
    rationale: str
    primary: bool = False
    tags: tuple[str, ...] = field(default=())


def primary(registry: dict[str, PriorScenario]) -> PriorScenario:
    """The one primary scenario of a registry."""
    (scenario,) = [s for s in registry.values() if s.primary]
    return scenario
