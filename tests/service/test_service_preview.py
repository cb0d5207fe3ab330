"""`CaseService.preview`: a command judged by the engine on the case as stored, its events returned, nothing written
(what `casework migrate --dry-run` runs)."""

from __future__ import annotations

import pytest
from helpers_service import claim_xml

from casework.engine import CommandRejected, commands
from casework.model import load_definition
from casework.service import CaseService, InvalidInput, NotFound


def test_a_preview_gives_the_events_the_command_then_writes_and_writes_nothing(svc: CaseService) -> None:
    case_id = svc.start_case("claim", {"amount": 10}).case_id  # cached: the preview must not judge on that copy
    before = svc.store.counts()
    command = commands.CompleteItem(item="Review claim", actor="ann", reason="checked")
    previewed = svc.preview(case_id, command)
    assert previewed and svc.store.counts() == before
    assert svc.store.case(case_id).version == before[1]  # type: ignore[union-attr]
    state = svc.state(case_id)
    assert {i.name: i.state for i in state.items.values()}["Review claim"] == "active"
    written = svc.execute(case_id, command).events
    assert [e.to_dict() for e in written] == [e.to_dict() for e in previewed]


def test_a_preview_refuses_what_execute_refuses(svc: CaseService) -> None:
    case_id = svc.start_case("claim", {"amount": 10}).case_id
    before = svc.store.counts()
    with pytest.raises(CommandRejected):
        svc.preview(case_id, commands.CompleteItem(item="No such task"))
    with pytest.raises(NotFound):
        svc.preview("nope", commands.CompleteItem(item="Review claim"))
    undeployed = load_definition(claim_xml().replace('name="Close claim"', 'name="Close and archive"'))
    with pytest.raises(InvalidInput, match="deploy the target definition first"):
        svc.preview(case_id, commands.Migrate(definition=undeployed))
    assert svc.store.counts() == before


def test_a_previewed_migration_leaves_the_case_on_its_version(svc: CaseService) -> None:
    case_id = svc.start_case("claim", {"amount": 10}).case_id
    key, version = svc.deploy(claim_xml().replace('name="Close claim"', 'name="Close and archive"'))
    _, target = svc.definition(key, version)
    events = svc.preview(case_id, commands.Migrate(definition=target, version=str(version)))
    assert events[0].type == "migrate"
    assert svc.store.case(case_id).definition_version == 1  # type: ignore[union-attr]
    svc.execute(case_id, commands.CompleteItem(item="Review claim"))  # the service still runs it on version 1
    assert svc.store.case(case_id).definition_version == 1  # type: ignore[union-attr]
