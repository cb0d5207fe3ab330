"""`casework case start|complete|start-item|add-task|skip|remove|reassign`: a running case changed from the terminal,
each change one audited command; a change the engine refuses is bad input that records nothing."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import pytest
from case_terminal import Stored, claim_store
from case_terminal import cw as _cw
from case_terminal import events as _events
from case_terminal import item as _item
from case_terminal import refused as _refused
from case_terminal import start as _start
from case_terminal import state as _state
from case_terminal import verified as _verified

from casework.service import CaseService
from casework.store import Store


@pytest.fixture
def stored(db_url: str, tmp_path: Path) -> Stored:
    """(database URL, environment) of a store with the demo's insurance claim model deployed and no case."""
    return claim_store(db_url, tmp_path)


def test_start_prints_the_new_case_and_a_business_key_seen_before_starts_none(
    stored: Stored, tmp_path: Path
) -> None:
    data = tmp_path / "claim.json"
    data.write_text(json.dumps({"amount": 12500, "claimant": "Jo"}))
    case_id = _start(stored, "--data-file", str(data), "--business-key", "CL-1001", "--reason", "phoned in")
    state = _state(stored[0], case_id)
    assert state.variables == {"amount": 12500, "claimant": "Jo"}
    assert _item(state, "Register claim").state == "active"
    first = _events(stored[0], case_id)[0]
    assert (first.type, first.actor, first.reason) == ("case_started", "ann", "phoned in")
    with Store.open(stored[0]) as store:
        assert store.case(case_id).business_key == "CL-1001"  # type: ignore[union-attr]
        counts = store.counts()
    again = _cw(stored, "case", "start", "insuranceClaim", "--as", "bob", "--data", '{"amount": 1}',
                "--business-key", "CL-1001")
    assert again.exit_code == 0 and again.stdout.strip() == case_id, again.output
    assert "already names case" in again.stderr
    with Store.open(stored[0]) as store:
        assert store.counts() == counts


def test_a_data_file_with_a_byte_order_mark_is_read(stored: Stored, tmp_path: Path) -> None:
    # as Windows' Notepad saves UTF-8: it was "not JSON: Unexpected UTF-8 BOM"
    data = tmp_path / "claim.json"
    data.write_bytes(b"\xef\xbb\xbf" + json.dumps({"amount": 12500, "claimant": "Zo\u00eb"}).encode())
    case_id = _start(stored, "--data-file", str(data))
    assert _state(stored[0], case_id).variables == {"amount": 12500, "claimant": "Zo\u00eb"}


def test_a_business_key_with_spaces_around_it_names_the_same_case(stored: Stored) -> None:
    # pasted from a spreadsheet cell with a trailing space, it started a second case for the same claim
    case_id = _start(stored, "--business-key", "CL-1001")
    for pasted in ("CL-1001 ", " CL-1001", "\tCL-1001\n"):
        again = _cw(stored, "case", "start", "insuranceClaim", "--as", "bob", "--business-key", pasted)
        assert again.exit_code == 0 and again.stdout.strip() == case_id, again.output
        assert "already names case" in again.stderr
    with Store.open(stored[0]) as store:
        assert store.counts()[0] == 1
    other = _start(stored, "--business-key", " CL-1002 ")
    with Store.open(stored[0]) as store:
        assert store.case(other).business_key == "CL-1002"  # type: ignore[union-attr]


@pytest.mark.parametrize("key", ["", "  "])
def test_a_blank_business_key_starts_no_case(stored: Stored, key: str) -> None:
    result = _cw(stored, "case", "start", "insuranceClaim", "--business-key", key, "--as", "ann")
    assert result.exit_code == 2 and result.stdout == "", result.output
    assert result.stderr.startswith("error: Invalid value for '--business-key': must not be empty")
    with Store.open(stored[0]) as store:
        assert store.counts() == (0, 0)


def test_start_of_an_unknown_definition_records_nothing(stored: Stored) -> None:
    result = _cw(stored, "case", "start", "noSuchModel", "--as", "ann")
    assert result.exit_code == 2 and result.stderr.strip() == "error: nothing recorded: no definition 'noSuchModel'"
    with Store.open(stored[0]) as store:
        assert store.counts() == (0, 0)


def test_complete_runs_through_the_service_and_completing_again_is_refused(
    stored: Stored,
) -> None:
    case_id = _start(stored, "--data", '{"amount": 12500}')
    done = _cw(stored, "case", "complete", case_id, "Register claim", "--as", "ann", "--data", '{"police": true}')
    assert done.exit_code == 0, done.output
    assert done.stdout.startswith(f"completed 'Register claim' on case {case_id} by ann (events ")
    state = _state(stored[0], case_id)
    assert _item(state, "Register claim").state == "completed"
    assert state.variables["police"] is True
    assert _item(state, "Assess damage").state == "active"  # what waited for it went on
    line = _refused(stored, case_id, "complete", case_id, "Register claim", "--as", "ann")
    assert "it is completed" in line
    _verified(stored)


def test_a_manual_task_added_waits_to_be_started_and_start_item_starts_it(stored: Stored) -> None:
    case_id = _start(stored)
    added = _cw(stored, "case", "add-task", case_id, "Call claimant", "--manual", "--required", "--as", "ann",
                "--reason", "claim unclear")
    assert added.exit_code == 0, added.output
    assert _item(_state(stored[0], case_id), "Call claimant").state == "enabled"
    started = _cw(stored, "case", "start-item", case_id, "Call claimant", "--as", "bob")
    assert started.exit_code == 0, started.output
    assert _item(_state(stored[0], case_id), "Call claimant").state == "active"
    line = _refused(stored, case_id, "start-item", case_id, "Call claimant", "--as", "bob")
    assert "Call claimant" in line
    _verified(stored)


def test_add_task_waits_for_its_after_items_with_owner_and_due_time(stored: Stored) -> None:
    case_id = _start(stored)
    added = _cw(stored, "case", "add-task", case_id, "Consult specialist", "--after", "Register claim",
                "--assignee", "bob", "--due", "2030-01-02T10:00:00Z", "--as", "ann", "--reason", "fraud indicator")
    assert added.exit_code == 0, added.output
    task = _item(_state(stored[0], case_id), "Consult specialist")
    assert (task.state, task.owner) == ("available", "bob")
    assert dt.datetime.fromisoformat(task.due.replace("Z", "+00:00")) == dt.datetime(2030, 1, 2, 10, tzinfo=dt.UTC)
    step = next(e for e in _events(stored[0], case_id) if e.type == "add_task")
    assert (step.actor, step.reason) == ("ann", "fraud indicator")
    assert _cw(stored, "case", "complete", case_id, "Register claim", "--as", "ann").exit_code == 0
    assert _item(_state(stored[0], case_id), "Consult specialist").state == "active"
    _refused(stored, case_id, "add-task", case_id, "Other", "--stage", "No such stage", "--as", "ann",
             "--reason", "r")
    _verified(stored)


def test_skip_remove_and_reassign_change_the_plan_and_the_engine_refuses_what_does_not_apply(
    stored: Stored,
) -> None:
    case_id = _start(stored)
    assert _cw(stored, "case", "complete", case_id, "Register claim", "--as", "ann").exit_code == 0
    skipped = _cw(stored, "case", "skip", case_id, "Assess damage", "--as", "ann", "--reason", "photos suffice")
    assert skipped.exit_code == 0, skipped.output
    assessed = _item(_state(stored[0], case_id), "Assess damage")
    assert (assessed.state, assessed.skipped) == ("completed", True)
    _refused(stored, case_id, "skip", case_id, "Assess damage", "--as", "ann", "--reason", "twice")
    moved = _cw(stored, "case", "reassign", case_id, "Collect documents", "--to", "carol", "--as", "ann")
    assert moved.exit_code == 0, moved.output
    assert _item(_state(stored[0], case_id), "Collect documents").owner == "carol"
    line = _refused(stored, case_id, "remove", case_id, "Collect documents", "--as", "ann", "--reason", "not needed")
    assert "has started" in line
    removed = _cw(stored, "case", "remove", case_id, "Pay claimant", "--as", "ann", "--reason", "ex gratia")
    assert removed.exit_code == 0, removed.output
    assert _item(_state(stored[0], case_id), "Pay claimant").state == "terminated"
    steps = [(e.type, e.actor, e.reason) for e in _events(stored[0], case_id)
             if e.type in ("skip", "reassign", "remove")]
    assert steps == [("skip", "ann", "photos suffice"), ("reassign", "ann", None), ("remove", "ann", "ex gratia")]
    _verified(stored)


def test_reassign_unassigns_with_unassign_and_takes_the_owner_or_unassign_but_not_both(
    stored: Stored,
) -> None:
    case_id = _start(stored)
    assert _cw(stored, "case", "reassign", case_id, "Register claim", "--to", "carol", "--as", "ann").exit_code == 0
    done = _cw(stored, "case", "reassign", case_id, "Register claim", "--unassign", "--as", "ann", "--reason", "away")
    assert done.exit_code == 0, done.output
    assert done.stdout.startswith(f"unassigned 'Register claim' on case {case_id} by ann (event ")
    assert _item(_state(stored[0], case_id), "Register claim").owner is None
    history = _cw(stored, "case", "history", case_id).stdout.splitlines()
    rows = [[c.strip() for c in line.split("│")[3:-1]] for line in history if line.startswith("│")]
    assert ["ann", "reassign", "Register claim -> nobody", "away"] in rows
    assert "has no owner" in _refused(stored, case_id, "reassign", case_id, "Register claim", "--unassign",
                                      "--as", "ann")
    before = _events(stored[0], case_id)
    for given in (["--to", "bob", "--unassign"], []):
        result = _cw(stored, "case", "reassign", case_id, "Register claim", *given, "--as", "ann")
        assert result.exit_code == 2 and result.stdout == "", result.output
        assert result.stderr.startswith("error: Invalid value for '--to': give the new owner (--to USER) or "
                                        "--unassign, one of them"), result.stderr
    assert _events(stored[0], case_id) == before


def test_a_due_time_without_an_offset_is_on_the_organisations_clock(stored: Stored) -> None:
    case_id = _start(stored)
    amsterdam = (stored[0], {**stored[1], "CASEWORK_TIMEZONE": "Europe/Amsterdam"})
    added = _cw(amsterdam, "case", "add-task", case_id, "Call claimant", "--due", "2030-07-01T17:00", "--as", "ann",
                "--reason", "promised a call")
    assert added.exit_code == 0, added.output
    assert _item(_state(stored[0], case_id), "Call claimant").due == "2030-07-01T15:00:00Z"  # summer time: UTC+2
    before = _events(stored[0], case_id)
    bad = _cw(stored, "case", "add-task", case_id, "Other", "--due", "soon", "--as", "ann", "--reason", "r")
    assert bad.exit_code == 2, bad.output
    assert bad.stderr.startswith("error: Invalid value for '--due': 'soon' is neither"), bad.stderr
    assert _events(stored[0], case_id) == before


def test_a_change_to_an_ended_case_is_refused(stored: Stored) -> None:
    case_id = _start(stored)
    with Store.open(stored[0], audit_key=Path(stored[1]["CASEWORK_AUDIT_KEY"])) as store, CaseService(store) as service:
        from casework.engine import commands

        service.execute(case_id, commands.TerminateCase(actor="ann", reason="withdrawn"))
    _refused(stored, case_id, "reassign", case_id, "Register claim", "--to", "bob", "--as", "ann")
    _verified(stored)


def test_a_change_whose_events_could_not_be_sealed_is_refused_before_anything_is_written(
    stored: Stored, tmp_path: Path
) -> None:
    case_id = _start(stored)  # sealed as the command ends: the database now has a key
    elsewhere = (stored[0], {**stored[1], "CASEWORK_AUDIT_KEY": str(tmp_path / "moved.key")})
    for args in (("complete", case_id, "Register claim"), ("start", "insuranceClaim")):
        before = _events(stored[0], case_id)
        with Store.open(stored[0]) as store:
            counts = store.counts()
        result = _cw(elsewhere, "case", *args, "--as", "ann")
        assert result.exit_code == 2 and result.stdout == "", result.output
        assert result.stderr.startswith("error: nothing recorded: no audit key at "), result.stderr
        assert _events(stored[0], case_id) == before
        with Store.open(stored[0]) as store:
            assert store.counts() == counts
    _verified(stored)
