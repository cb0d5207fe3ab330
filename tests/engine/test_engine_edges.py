"""Edges of the engine's contract: repetition that must not run away, and bad input that must come back as
`CommandRejected` (never an internal error) with the case unchanged."""

from __future__ import annotations

import copy
import datetime as dt
from pathlib import Path
from typing import Any

import pytest

from casework.engine import CaseState, CommandRejected, commands, execute
from casework.engine.events import Event
from casework.model import CaseDefinition, load_definition

MODELS = Path(__file__).resolve().parents[1] / "conformance" / "models"
NOW = dt.datetime(2026, 3, 2, 9, 0, tzinfo=dt.UTC)
NS = 'xmlns="http://www.omg.org/spec/CMMN/20151109/MODEL"'


def _load(name: str) -> CaseDefinition:
    return load_definition((MODELS / name).read_bytes())


def _start(definition: CaseDefinition, log: list[Event] | None = None, **variables: object) -> CaseState:
    state = CaseState.create("c1", definition)
    events = execute(definition, state, commands.StartCase(variables=dict(variables), actor="ann"), NOW)
    if log is not None:
        log.extend(events)
    return state


def _instances(state: CaseState, name: str) -> list[tuple[int, str]]:
    return [(i.index, i.state) for i in state.items.values() if i.name == name]


def _snapshot(state: CaseState) -> dict[str, Any]:
    return copy.deepcopy(state.to_dict())  # to_dict shares the state's own lists and dicts


def _rejected(definition: CaseDefinition, state: CaseState, command: commands.Command, match: str) -> None:
    before = _snapshot(state)
    with pytest.raises(CommandRejected, match=match):
        execute(definition, state, command, NOW)
    assert _snapshot(state) == before


# -- rejected commands change nothing ---------------------------------------------------------------------------------
def test_skip_refuses_what_the_lifecycle_does_not_allow() -> None:
    permit = _load("permit_review_v2.cmmn")
    state = _start(permit)
    for item in ("Reviewed", "Withdrawn"):
        execute(permit, state, commands.SuspendItem(item=item), NOW)
        _rejected(permit, state, commands.SkipItem(item=item), f"cannot skip '{item}'.* while suspended; resume")
    assert state.root is not None
    _rejected(permit, state, commands.SkipItem(item=state.root), "the case plan cannot be skipped")
    execute(permit, state, commands.ResumeItem(item="Reviewed"), NOW)
    execute(permit, state, commands.SkipItem(item="Reviewed"), NOW)
    assert _instances(state, "Reviewed") == [(1, "completed")]
