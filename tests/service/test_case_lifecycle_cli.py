"""`casework case suspend|resume|terminate|close` and `disable|enable|terminate-item|suspend-item|resume-item`: each
one audited command, shown in `case history` with who and why; what the engine refuses records nothing (exit 2)."""

from __future__ import annotations

from pathlib import Path

import pytest
from case_terminal import Stored, claim_store
from case_terminal import cw as _cw
from case_terminal import done as _done
from case_terminal import events as _events
from case_terminal import item as _item
from case_terminal import refused as _refused
from case_terminal import start as _start
from case_terminal import state as _state
from case_terminal import verified as _verified


@pytest.fixture
def stored(db_url: str, tmp_path: Path) -> Stored:
    """(database URL, environment) of a store with the demo's insurance claim model deployed and no case."""
    return claim_store(db_url, tmp_path)


def _history(stored: Stored, case_id: str) -> str:
    shown = _cw(stored, "case", "history", case_id)
    assert shown.exit_code == 0, shown.output
    return str(shown.stdout)


def test_suspend_holds_the_case_until_resume_and_history_says_who_and_why(stored: Stored) -> None:
    case_id = _start(stored)
    events = _done(stored, case_id, "suspend", case_id, "--as", "ann", "--reason", "awaiting court ruling")
    assert {(e.actor, e.reason) for e in events} == {("ann", "awaiting court ruling")}
    assert _state(stored[0], case_id).status == "suspended"
    line = _refused(stored, case_id, "complete", case_id, "Register claim", "--as", "ann")
    assert "suspended" in line
    # Not "resume it first", which told the person suspending it to undo the hold.
    twice = _refused(stored, case_id, "suspend", case_id, "--as", "ann", "--reason", "twice")
    assert twice == "error: nothing recorded: the case is already suspended"
    _done(stored, case_id, "resume", case_id, "--as", "bob", "--reason", "ruling in")
    state = _state(stored[0], case_id)
    assert state.status == "active" and _item(state, "Register claim").state == "active"
    line = _refused(stored, case_id, "resume", case_id, "--as", "bob", "--reason", "again")
    assert "not suspended" in line
    history = _history(stored, case_id)
    assert "awaiting court ruling" in history and "ruling in" in history
    _verified(stored)


def test_what_was_done_to_the_whole_case_reads_as_such(stored: Stored) -> None:
    case_id = _start(stored)
    said = _cw(stored, "case", "suspend", case_id, "--as", "ann", "--reason", "waiting")
    assert said.exit_code == 0 and said.stdout.startswith(f"suspended case {case_id} by ann (events "), said.output
    said = _cw(stored, "case", "resume", case_id, "--as", "ann", "--reason", "back")
    assert said.stdout.startswith(f"resumed case {case_id} by ann (events "), said.output
    said = _cw(stored, "case", "terminate", case_id, "--as", "ann", "--reason", "withdrawn")
    assert said.stdout.startswith(f"terminated case {case_id} by ann (events "), said.output


def test_terminate_ends_the_case_and_nothing_changes_it_after(stored: Stored) -> None:
    case_id = _start(stored)
    events = _done(stored, case_id, "terminate", case_id, "--as", "ann", "--reason", "claim withdrawn")
    assert all((e.actor, e.reason) == ("ann", "claim withdrawn") for e in events)
    state = _state(stored[0], case_id)
    assert state.status == "terminated" and _item(state, "Register claim").state == "terminated"
    line = _refused(stored, case_id, "resume", case_id, "--as", "ann", "--reason", "oops")
    assert "has ended" in line
    assert "claim withdrawn" in _history(stored, case_id)
    _verified(stored)


def test_close_is_refused_while_work_is_open_and_force_closes_it(stored: Stored) -> None:
    case_id = _start(stored)
    line = _refused(stored, case_id, "close", case_id, "--as", "ann", "--reason", "settled")
    assert "Register claim (active)" in line
    events = _done(stored, case_id, "close", case_id, "--force", "--as", "ann", "--reason", "settled by phone")
    assert {(e.actor, e.reason) for e in events} == {("ann", "settled by phone")}
    state = _state(stored[0], case_id)
    assert state.status == "completed"
    assert _item(state, "Register claim").state == "terminated"  # exited with the case, not done
    assert "settled by phone" in _history(stored, case_id)
    _verified(stored)


def test_an_item_is_disabled_enabled_suspended_resumed_and_terminated(stored: Stored) -> None:
    case_id = _start(stored)
    assert _cw(stored, "case", "add-task", case_id, "Call claimant", "--manual", "--as", "ann",
               "--reason", "claim unclear").exit_code == 0
    steps = [
        ("disable", "enabled", "disabled", "not needed yet"),
        ("enable", "disabled", "enabled", "needed after all"),
        ("start-item", "enabled", "active", None),
        ("suspend-item", "active", "suspended", "claimant abroad"),
        ("resume-item", "suspended", "active", "claimant back"),
        ("terminate-item", "active", "terminated", "claimant unreachable"),
    ]
    for command, before, after, reason in steps:
        assert _item(_state(stored[0], case_id), "Call claimant").state == before
        why = ("--reason", reason) if reason else ()
        events = _done(stored, case_id, command, case_id, "Call claimant", "--as", "bob", *why)
        assert {(e.actor, e.reason) for e in events} == {("bob", reason)}, command
        assert _item(_state(stored[0], case_id), "Call claimant").state == after, command
    history = _history(stored, case_id)
    for _, _, _, reason in steps:
        assert reason is None or reason in history
    _verified(stored)


@pytest.mark.parametrize(("command", "state"), [
    ("disable", "active"), ("enable", "active"), ("resume-item", "active"), ("suspend-item", "available"),
])
def test_an_item_change_the_engine_refuses_records_nothing(stored: Stored, command: str, state: str) -> None:
    case_id = _start(stored)
    item = "Register claim" if state == "active" else "Decide claim"
    assert _item(_state(stored[0], case_id), item).state == state
    line = _refused(stored, case_id, command, case_id, item, "--as", "ann", "--reason", "r")
    assert item in line


@pytest.mark.parametrize("command", ["terminate-item", "suspend-item"])
def test_the_case_plan_by_its_id_is_not_an_item_to_terminate_or_suspend(stored: Stored, command: str) -> None:
    """`case terminate-item CASE i1` (a digit short of i12) ended the whole case for good, as "terminated 'i1'"."""
    case_id = _start(stored)
    root = _state(stored[0], case_id).root
    assert root is not None
    line = _refused(stored, case_id, command, case_id, root, "--as", "ann", "--reason", "r")
    what = command.removesuffix("-item")
    assert line == (f"error: nothing recorded: cannot {what} '{root}': it is the case plan, not an item in it; {what} "
                    "the case instead")
    assert _state(stored[0], case_id).status == "active"


def test_an_item_change_that_ends_the_case_says_so(stored: Stored) -> None:
    case_id = _start(stored)
    assert _cw(stored, "case", "complete", case_id, "Register claim", "--as", "ann").exit_code == 0
    # The claim's plan completes by itself once the stage is gone (nothing required is left): for good.
    result = _cw(stored, "case", "terminate-item", case_id, "Assessment", "--as", "ann", "--reason", "not needed")
    assert result.exit_code == 0, result.output
    assert result.stdout.startswith(f"terminated 'Assessment' on case {case_id} by ann (events ")
    assert result.stdout.rstrip().endswith("); with it the case is completed: it takes no more changes"), result.stdout
    assert _state(stored[0], case_id).status == "completed"
    # The case's own commands say it already.
    other = _start(stored)
    ended = _cw(stored, "case", "terminate", other, "--as", "ann", "--reason", "withdrawn")
    assert ended.exit_code == 0 and ended.stdout.rstrip().endswith(")"), ended.output


def test_terminate_item_of_an_unknown_item_or_case_records_nothing(stored: Stored) -> None:
    case_id = _start(stored)
    line = _refused(stored, case_id, "terminate-item", case_id, "No such task", "--as", "ann", "--reason", "r")
    assert "No such task" in line
    result = _cw(stored, "case", "suspend", "no-such-case", "--as", "ann", "--reason", "r")
    assert result.exit_code == 2 and result.stderr.strip() == "error: no case no-such-case", result.output


def test_a_case_id_pasted_with_spaces_around_it_is_the_case_and_an_empty_one_is_refused(stored: Stored) -> None:
    case_id = _start(stored)
    # Ids hold no whitespace: "error: no case <id> " with the space unseen, before.
    _done(stored, case_id, "suspend", f" {case_id}\n", "--as", "ann", "--reason", "on hold")
    assert _state(stored[0], case_id).status == "suspended"
    _done(stored, case_id, "resume", f"{case_id}\t", "--as", "ann", "--reason", "back")
    for blank in ("", "  "):
        line = _refused(stored, case_id, "terminate", blank, "--as", "ann", "--reason", "r", bad_input=True)
        # It was "error: no case ", naming nothing.
        assert "'case_id': must not be empty: give the id of a case" in line, line
    assert _state(stored[0], case_id).status == "active"


@pytest.mark.parametrize(("args", "error"), [
    (("suspend", "--as", "ann"), "Missing option '--reason'"),
    (("suspend", "--as", "ann", "--reason", "  "), "'--reason': must not be empty"),
    (("disable", "Register claim", "--as", " ", "--reason", "r"), "'--as': must not be empty"),
])
def test_a_missing_or_blank_actor_or_reason_records_nothing(stored: Stored, args: tuple[str, ...], error: str) -> None:
    case_id = _start(stored)
    before = _events(stored[0], case_id)
    command, *rest = args
    result = _cw(stored, "case", command, case_id, *rest)
    assert result.exit_code == 2 and result.stdout == "", result.output
    assert error in result.stderr
    assert _events(stored[0], case_id) == before
