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


def with_primary(registry: dict[str, PriorScenario], name: str | None) -> dict[str, PriorScenario]:
    """The registry with exactly the prior ``name`` marked primary (``--prior ENDPOINT=NAME``).

    The one place a user's choice of primary prior is applied, for every endpoint kind: the
    scenarios are kept (same order, parameters, rationale and tags), only their ``primary`` flags
    change. ``name=None`` returns the registry unchanged (its own primary stays).

    Raises:
        ValueError: ``name`` is not in the registry (the message lists the names it holds).
    """
    if name is None:
        return registry
    if name not in registry:
        raise ValueError(f"no prior {name!r}; choose one of {list(registry)}")
    return {
        key: PriorScenario(s.name, s.family, s.parameters, s.rationale, key == name, s.tags)
        for key, s in registry.items()
    }
