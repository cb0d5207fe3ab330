"""Decision support configured for the installation rather than given to each command: `CASEWORK_CASE_TYPES` names
the case types that describe its definitions (bundled names or TOML files, separated as PATH is: `:` on Unix), and
`CASEWORK_MODEL` an optional model file from `casework suggest train`.

With case types configured, every `casework case ...` command that changes a case, and `casework migrate`, judges it
again once the change is durable, so `suggest flags` is current without a refresh: the rules are evaluated on every
change of the case (`suggest accept|dismiss` and `suggest intake --apply` judge with the case type they are given).
Without them, such a change leaves the stored findings as they were, and `suggest flags` says they are out of date
until `suggest refresh`.

A configuration that cannot be loaded stops a changing command before it writes: a change nobody could judge would
leave its findings silently stale.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from datetime import tzinfo

    from casework.insight.casetype import CaseType
    from casework.insight.modelfile import InsightModel
    from casework.insight.watch import FindingsWatcher
    from casework.service import CaseService

CASE_TYPES_ENV = "CASEWORK_CASE_TYPES"
MODEL_ENV = "CASEWORK_MODEL"


class ConfigurationError(ValueError):
    """A configured case type or model that cannot be loaded, or two case types for one definition."""


@dataclass(frozen=True)
class Configured:
    case_types: tuple[CaseType, ...]
    model: InsightModel | None

    def for_definition(self, key: str) -> CaseType | None:
        return next((kind for kind in self.case_types if kind.definition == key), None)

    def model_for(self, key: str) -> InsightModel | None:
        """The model, if it may advise on cases of definition `key`: one trained on another process would judge
        its paths and times as those of a process it never saw."""
        return self.model if self.model is not None and self.model.other_definition(key) is None else None

    def watchers(self, service: CaseService, zone: tzinfo) -> list[FindingsWatcher]:
        """One watcher with the model for the case types it was trained for, one without it for the others."""
        from casework.insight.watch import FindingsWatcher

        with_model = [kind for kind in self.case_types if self.model_for(kind.definition) is not None]
        without = [kind for kind in self.case_types if kind not in with_model]
        return ([FindingsWatcher(service, with_model, self.model, zone)] if with_model else []) + (
            [FindingsWatcher(service, without, None, zone)] if without else [])


def configured_names() -> list[str]:
    """The case types `CASEWORK_CASE_TYPES` names, in order; empty when it is unset or blank."""
    return [name.strip() for name in os.environ.get(CASE_TYPES_ENV, "").split(os.pathsep) if name.strip()]


def configured_model_path() -> str | None:
    return os.environ.get(MODEL_ENV, "").strip() or None


def load_configured() -> Configured | None:
    """The installation's case types and model, or None if neither is configured. `ConfigurationError` names the
    variable and what is wrong with it."""
    names, path = configured_names(), configured_model_path()
    if not names and path is None:
        return None
    from casework.insight.casetype import load_error_line

    kinds = configured_case_types()
    model = None
    if path is not None:
        from casework.insight.modelfile import InsightModel, ModelFileError  # numpy and the trees: only for a model

        try:
            model = InsightModel.load(path)
        except (ModelFileError, OSError) as exc:
            raise ConfigurationError(f"{MODEL_ENV}: {load_error_line(exc)}") from exc
        if kinds and all(model.other_definition(kind.definition) is not None for kind in kinds):
            why = model.other_definition(kinds[0].definition)
            raise ConfigurationError(f"{MODEL_ENV}: {path}: {why}; no configured case type describes its definition")
    return Configured(tuple(kinds), model)


def configured_case_types() -> list[CaseType]:
    """The case types `CASEWORK_CASE_TYPES` names (none when it is unset), without the model: for a command that
    reads no model (`suggest intake`, `suggest accept|dismiss --finding` without `--case-type`), a model file it
    would not use must neither slow it nor stop it."""
    from casework.insight.casetype import CaseTypeError, UnknownCaseType, load_error_line, named_case_type

    kinds: list[CaseType] = []
    for name in configured_names():
        try:
            kinds.append(named_case_type(name))
        except (CaseTypeError, UnknownCaseType, OSError) as exc:
            raise ConfigurationError(f"{CASE_TYPES_ENV}: {load_error_line(exc)}") from exc
    by_definition: dict[str, CaseType] = {}
    for kind in kinds:
        other = by_definition.setdefault(kind.definition, kind)
        if other is not kind:
            raise ConfigurationError(f"{CASE_TYPES_ENV}: case types {other.key!r} and {kind.key!r} both describe "
                                     f"definition {kind.definition!r}; keep one")
    return kinds


def watch_changes(service: CaseService) -> None:
    """Judge each case `service` changes again, with the configured case types and model; nothing when none is
    configured. Raises `ConfigurationError` before anything is written."""
    if not configured_names():
        return  # a model alone judges nothing on a change: not worth loading for each command
    configured = load_configured()
    assert configured is not None
    from casework.store import ZoneSettingError, organisation_zone

    try:
        zone = organisation_zone()
    except ZoneSettingError as exc:
        raise ConfigurationError(str(exc)) from exc
    for watcher in configured.watchers(service, zone):
        watcher.attach()
