"""Every endpoint's prior registry, and the user's choice of its primary prior (``--prior``).

A run analyses each endpoint under every prior of its registry (a rate:
:func:`~trial_reanalysis.analysis.endpoints.rate.rate_priors_of`; a time-to-event endpoint:
:func:`~trial_reanalysis.models.time_to_event.endpoint_priors`; an event compared between two
groups: :func:`~trial_reanalysis.models.comparison.file_priors`), one of them primary: the
headline, the follow-up priors and the report's first sentences use it. ``--prior ENDPOINT=NAME``
(``reanalysis run`` and ``validate``, ``analyse(priors=...)``, ``RunConfig.priors``) makes another
prior of that registry primary. :func:`choose_priors` checks the choices against the registries
before any work and records them on the loaded trial; each endpoint analysis then applies them
with :func:`~trial_reanalysis.models.priors.with_primary`, the one place the override happens.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from trial_reanalysis.analysis.errors import InputError
from trial_reanalysis.analysis.trials.load import LoadedTrial
from trial_reanalysis.models.priors import PriorScenario, with_primary

#: One user choice: (endpoint name as ``reanalysis priors`` lists it, prior name).
PriorChoice = tuple[str, str]


@dataclass(frozen=True)
class EndpointPriors:
    """The priors of one endpoint, as ``reanalysis priors`` lists them.

    Attributes:
        name: what ``--prior NAME=...`` takes (a comparison's event key, e.g. ``ppe``).
        kind: ``rate``, ``time_to_event`` or ``comparison``.
        key: the file's key of the endpoint (a comparison's event key).
        run_name: the endpoint ``--endpoint`` selects to analyse it (a comparison's grouping).
        label: the file's label.
        unit: the time unit (time-to-event only).
        where: where results.json holds it (``rates.<key>``, ...).
        registry: its priors, the chosen (else the default) one primary.
    """

    name: str
    kind: str
    key: str
    run_name: str
    label: str
    unit: str | None
    where: str
    registry: dict[str, PriorScenario]


def endpoint_priors_of(loaded: LoadedTrial) -> list[EndpointPriors]:
    """Every endpoint with priors, in report order, each registry with the chosen primary.

    The registries are the ones the endpoint analyses use, so this is what a run fits.
    """
    from trial_reanalysis.analysis.endpoints.rate import rate_priors_of
    from trial_reanalysis.analysis.run import trial_endpoints
    from trial_reanalysis.analysis.trials.checks import time_unit
    from trial_reanalysis.models.comparison import file_priors
    from trial_reanalysis.models.time_to_event import endpoint_priors

    t = loaded.trial
    out: list[EndpointPriors] = []
    for name, (kind, key) in trial_endpoints(loaded).items():
        chosen = loaded.chosen_prior(kind, key)
        if kind == "rate":
            registry = with_primary(rate_priors_of(t, key), chosen)
            out.append(
                EndpointPriors(
                    name, kind, key, name, t.rates[key].label, None, f"rates.{key}", registry
                )
            )
        elif kind == "time_to_event":
            tte = t.time_to_event[key]
            unit = time_unit(t, tte)
            registry = with_primary(endpoint_priors(tte.priors, unit), chosen)
            where = f"time_to_event.{key}"
            out.append(EndpointPriors(name, kind, key, name, tte.label, unit, where, registry))
        elif kind == "comparison":
            for ckey, c in t.comparisons.items():
                if c.grouping != key:
                    continue
                registry = with_primary(file_priors(c.priors), loaded.chosen_prior(kind, ckey))
                where = f"comparisons.{key}.events.{ckey}"
                out.append(EndpointPriors(ckey, kind, ckey, name, c.label, None, where, registry))
    return out


def parse_prior_options(values: Iterable[str], option: str = "--prior") -> list[PriorChoice]:
    """``ENDPOINT=NAME`` strings as (endpoint, prior) pairs, in the order given.

    Raises:
        InputError: a value without ``=`` (or with an empty side), naming ``option``.
    """
    pairs = []
    for value in values:
        endpoint, sep, prior = value.partition("=")
        if not sep or not endpoint.strip() or not prior.strip():
            raise InputError(
                option, value, "expected ENDPOINT=NAME, e.g. burden_reduction=jeffreys"
            )
        pairs.append((endpoint.strip(), prior.strip()))
    return pairs


def choose_priors(
    loaded: LoadedTrial,
    choices: Mapping[str, str] | Iterable[PriorChoice] | None,
    analysed: Iterable[str] | None = None,
    option: str = "--prior",
) -> LoadedTrial:
    """The loaded trial with the chosen primary priors recorded (``loaded.chosen_priors``).

    Args:
        loaded: the trial (any earlier choice is replaced).
        choices: endpoint name -> prior name, as a mapping or as pairs (``--prior`` repeated).
        analysed: the endpoint names (``--endpoint``) this run analyses; None: all.
        option: the option named in error messages (``priors`` from the notebook API).

    Raises:
        InputError: naming ``option`` and the endpoint, listing the valid names: an endpoint
            without priors in this trial (or not analysed in this run), a prior name the
            endpoint's registry does not hold, or the same endpoint twice.
    """
    pairs = list(choices.items() if isinstance(choices, Mapping) else choices or ())
    if not pairs:
        return loaded.model_copy(update={"chosen_priors": ()})
    listed: dict[str, list[EndpointPriors]] = {}
    for entry in endpoint_priors_of(loaded.model_copy(update={"chosen_priors": ()})):
        listed.setdefault(entry.name, []).append(entry)
    wanted = None if analysed is None else set(analysed)
    seen: dict[str, str] = {}
    chosen: list[tuple[str, str, str]] = []
    for endpoint, prior in pairs:
        if endpoint in seen:
            raise InputError(
                option,
                endpoint,
                f"given twice ({seen[endpoint]!r} and {prior!r}); give one prior per endpoint",
            )
        seen[endpoint] = prior
        entries = listed.get(endpoint, [])
        if len(entries) != 1:
            why = "has no endpoint" if not entries else "has two endpoints"
            raise InputError(
                option,
                endpoint,
                f"the trial file {why} {endpoint!r} with priors; choose one of {list(listed)}",
            )
        (entry,) = entries
        if wanted is not None and entry.run_name not in wanted:
            raise InputError(
                option,
                endpoint,
                f"this run does not analyse {endpoint!r} (--endpoint {entry.run_name} would); "
                f"it analyses {sorted(wanted)}",
            )
        if prior not in entry.registry:
            raise InputError(
                option,
                endpoint,
                f"no prior {prior!r} for this endpoint; choose one of {list(entry.registry)}",
            )
        chosen.append((entry.kind, entry.key, prior))
    return loaded.model_copy(update={"chosen_priors": tuple(sorted(chosen))})
