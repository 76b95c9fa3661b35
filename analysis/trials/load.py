"""Loading a trial file: read it safely, validate it (schema version 2, or version 1 migrated to
2), check every cross-field bound and the CSV files it names, and freeze it.

Every command (``validate``, ``run``, ``plan``, ``reconstruct``) loads through
:func:`load_trial`, so each accepts exactly the files ``run`` accepts; every problem is an
:class:`~trial_reanalysis.analysis.errors.InputError` naming the file, the field and what is
wrong, raised before any sampling.
"""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, ValidationError

from trial_reanalysis.analysis.errors import InputError
from trial_reanalysis.analysis.paths import DEFAULT_TRIAL, PACKAGE_ROOT
from trial_reanalysis.analysis.trials import checks
from trial_reanalysis.analysis.trials import v1 as v1_module
from trial_reanalysis.analysis.trials import v2 as v2_module
from trial_reanalysis.analysis.trials.migrate import migrate_v1, v1_field
from trial_reanalysis.analysis.trials.v1 import Trial as TrialV1
from trial_reanalysis.analysis.trials.v2 import SCHEMA_VERSION, FieldError, TrialV2
from trial_reanalysis.analysis.trials.validation import read_trial_document

__all__ = ["DEFAULT_TRIAL", "REPO_ROOT", "LoadedTrial", "load_trial", "trial_json_schema"]
REPO_ROOT = PACKAGE_ROOT


class LoadedTrial(BaseModel):
    """A validated trial (schema version 2) with where it came from.

    Attributes:
        path: the trial file as given.
        sha256: SHA-256 of its bytes (provenance).
        trial: the validated content, in schema version 2 terms.
        schema_version_read: the version the file was written in (1: migrated on load).
        chosen_priors: the primary prior a user chose per endpoint (``--prior ENDPOINT=NAME``),
            as sorted (kind, file key, prior name) triples; a comparison's key is its event's.
            Set by ``analysis.run.choose_priors`` (checked there); empty: each registry's own.
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    path: str
    sha256: str
    trial: TrialV2
    schema_version_read: int = SCHEMA_VERSION
    chosen_priors: tuple[tuple[str, str, str], ...] = ()

    @property
    def base(self) -> Path:
        """The folder the trial file's relative CSV paths start from."""
        return Path(self.path).parent

    def chosen_prior(self, kind: str, key: str) -> str | None:
        """The primary prior chosen for endpoint ``key`` of ``kind``, or None (the default)."""
        return next((n for k, e, n in self.chosen_priors if (k, e) == (kind, key)), None)

    def __reduce__(self) -> tuple:
        """Pickle as plain data, validated again on load (worker processes receive trials)."""
        dump = self.trial.model_dump(mode="json")
        args = (self.path, self.sha256, dump, self.schema_version_read, self.chosen_priors)
        return (_loaded_from_dump, args)


def _loaded_from_dump(
    path: str,
    sha256: str,
    dump: dict[str, Any],
    version: int,
    chosen: tuple[tuple[str, str, str], ...] = (),
) -> LoadedTrial:
    trial = TrialV2.model_validate(dump)
    return LoadedTrial(
        path=path, sha256=sha256, trial=trial, schema_version_read=version, chosen_priors=chosen
    )


def _model_names(*modules: Any) -> frozenset[str]:
    """Names of the schema classes, which pydantic puts in an error location for union members."""
    return frozenset(
        name
        for module in modules
        for name, obj in vars(module).items()
        if isinstance(obj, type) and issubclass(obj, BaseModel)
    )


_MODEL_NAMES = _model_names(v1_module, v2_module)


def _field_path(loc: tuple[Any, ...]) -> str:
    """Dotted field path of a pydantic error location, without union-member tags."""
    parts = []
    for item in loc:
        if isinstance(item, int):
            parts.append(f"[{item}]")
        elif "[" in item or item.startswith(("function-", "literal", "tagged", "constrained-")):
            continue
        elif item in ("str", "float", "int", "bool", "none"):  # a union member's type tag
            continue
        elif item in _MODEL_NAMES:  # a union member's model name (ReportedCount, ...)
            continue
        else:
            parts.append(("." if parts else "") + item)
    return "".join(parts) or "<top level>"


def _located(error: dict[str, Any]) -> tuple[str, int]:
    """(dotted field path, depth) of one error; a :class:`FieldError` adds its own field."""
    path = _field_path(error["loc"])
    cause = error.get("ctx", {}).get("error")
    if isinstance(cause, FieldError):
        sub = cause.field
        if path == "<top level>":
            path = sub
        else:
            path += sub if sub.startswith("[") else "." + sub
    depth = path.count(".") + path.count("[") + (path != "<top level>")
    return path, depth


def first_problem(err: ValidationError) -> tuple[str, str]:
    """The most useful single (field, problem) of a validation error.

    A field that is a reported value or "unknown" fails on both members of the union; when the
    input is neither a table nor "unknown", say exactly that; otherwise prefer the member error
    that got furthest into the value, which is the one the user meant to write.
    """
    errors = err.errors(include_url=False)
    best = max(errors, key=lambda e: _located(e)[1])
    field = _located(best)[0]
    problem = best["msg"].removeprefix("Value error, ")
    either = any(e["type"] == "literal_error" and "'unknown'" in e["msg"] for e in errors)
    if best["type"] == "extra_forbidden":
        problem = "unknown field (not in the trial-file schema; check the spelling)"
    elif best["type"] == "missing":
        problem = "missing required field"
    elif either and best["type"] in ("model_type", "dict_type", "literal_error"):
        problem = 'must be a {value = ..., source = "..."} table or the string "unknown"'
    elif best["type"] == "model_type":
        problem = 'must be a {value = ..., source = "..."} table'
    elif best["type"] == "finite_number":
        problem = 'must be a finite number (write a CI limit that was not reached as "NE")'
    elif best["type"] in ("too_long", "too_short"):
        problem = f"{problem} (a documented limit; see docs/trial-files.md)"
    if "input" in best and best["type"] not in ("missing", "value_error", "assertion_error"):
        shown = repr(best["input"])
        problem += f" (got {shown[:80]}{'...' if len(shown) > 80 else ''})"
    elif best["type"] == "value_error" and not isinstance(
        best.get("ctx", {}).get("error"), FieldError
    ):
        shown = repr(best.get("input"))
        if not isinstance(best.get("input"), dict | list) or len(shown) <= 80:
            problem += f" (got {shown[:80]}{'...' if len(shown) > 80 else ''})"
    return field, problem


def _validate(model: type[BaseModel], document: dict[str, Any], path: Path) -> Any:
    try:
        return model.model_validate(document)
    except ValidationError as exc:
        field, problem = first_problem(exc)
        raise InputError(path, field, problem) from None


def load_trial(path: str | Path | None = None) -> LoadedTrial:
    """Read, validate and freeze a trial file (the seed trial when ``path`` is None).

    Schema version 1 files are validated as version 1, then migrated to version 2
    (:func:`~trial_reanalysis.analysis.trials.migrate.migrate_v1`). Then every cross-field check
    (:mod:`~trial_reanalysis.analysis.trials.checks`) and the CSV files the trial names.

    Raises:
        InputError: the file is missing, not a regular file, too large, not TOML, or fails a
            check; the message names the file, the field and the problem.
    """
    path = Path(path) if path is not None else DEFAULT_TRIAL
    raw, document = read_trial_document(path)
    version = document.get("schema_version")
    if type(version) is not int or version not in (1, 2):
        raise InputError(
            path, "schema_version", f"must be 2 (or 1, migrated on load), got {version!r}"
        )
    if version == 2:
        trial = _validate(TrialV2, document, path)
        loaded = LoadedTrial(path=str(path), sha256=hashlib.sha256(raw).hexdigest(), trial=trial)
        checks.check_trial(loaded)
        return loaded
    v1 = _validate(TrialV1, document, path)
    try:
        trial = _validate(TrialV2, migrate_v1(v1), path)
        loaded = LoadedTrial(
            path=str(path),
            sha256=hashlib.sha256(raw).hexdigest(),
            trial=trial,
            schema_version_read=1,
        )
        checks.check_trial(loaded)
    except InputError as exc:
        old = v1_field(exc.field) if exc.source == str(path) else None
        if old is None or old == exc.field:
            raise
        raise InputError(
            exc.source, exc.field, f"{exc.problem} (in this version 1 file: {old})"
        ) from None
    return loaded


def trial_json_schema() -> dict[str, Any]:
    """JSON schema of the trial-file format, version 2 (what ``data/trial.schema.json`` holds)."""
    schema = TrialV2.model_json_schema()
    schema["$schema"] = "https://json-schema.org/draft/2020-12/schema"
    schema["title"] = f"Trial file, schema version {SCHEMA_VERSION}"
    return schema
