"""`casework case set-data|add-participant|remove-participant|set-due|plan|depend|occur`: a case worker changes a
running case's plan from the terminal, each change one audited command that `case history` shows with who and why;
a change the engine refuses records nothing and exits 2 with its reason, bad input is one line and records nothing."""

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
from case_terminal import state as _state
from case_terminal import verified as _verified


@pytest.fixture
def stored(db_url: str, tmp_path: Path) -> Stored:
    """(database URL, environment) of a store with the demo's insurance claim model deployed and no case; the
    organisation's clock is Amsterdam's."""
    return claim_store(db_url, tmp_path, CASEWORK_TIMEZONE="Europe/Amsterdam")


def _ok(stored: Stored, *args: str) -> str:
    result = _cw(stored, "case", *args)
    assert result.exit_code == 0, result.output
    return str(result.stdout)


def _start(stored: Stored, amount: int = 12500) -> str:
    return _ok(stored, "start", "insuranceClaim", "--data", json.dumps({"amount": amount}), "--as", "ann").strip()


def _history(stored: Stored, case_id: str) -> list[list[str]]:
    """The rows of `case history` after the seq and time: [actor, event, what, reason]."""
    out = _ok(stored, "history", case_id)
    rows = [[c.strip() for c in line.split("│")[1:-1]] for line in out.splitlines() if line.startswith("│")]
    return [row[2:] for row in rows]


def test_set_data_sets_and_removes_case_data_and_what_waits_on_it_goes_on(stored: Stored, tmp_path: Path) -> None:
    case_id = _start(stored)
    _ok(stored, "complete", case_id, "Register claim", "--as", "ann")
    assert _item(_state(stored, case_id), "Review police report").state == "available"
    report = tmp_path / "report.json"
    report.write_text(json.dumps({"policeReport": {"number": "PR-7"}}))
    out = _ok(stored, "set-data", case_id, "--data-file", str(report), "--remove", "amount", "--as", "bob",
              "--reason", "report arrived")
    assert out.startswith(f"set data (policeReport, -amount) on case {case_id} by bob (event")
    state = _state(stored, case_id)
    assert state.variables == {"policeReport": {"number": "PR-7"}}
    assert _item(state, "Review police report").state == "active"  # its sentry waits on the case file item
    assert ["bob", "variables_set", "policeReport, -amount", "report arrived"] in _history(stored, case_id)
    _ok(stored, "set-data", case_id, "--data", '{"amount": 900}', "--as", "bob")  # the reason is optional
    assert _state(stored, case_id).variables["amount"] == 900
    # The engine refuses a name expressions cannot read; the case is left as it was.
    assert "variable" in _refused(stored, case_id, "set-data", case_id, "--data", '{"not a name": 1}', "--as", "bob")
    _verified(stored)


def test_set_data_to_what_the_case_has_records_nothing_and_says_so(stored: Stored) -> None:
    case_id = _start(stored)
    before = _events(stored, case_id)
    out = _ok(stored, "set-data", case_id, "--data", '{"amount": 12500}', "--as", "bob")
    assert out == f"no change on case {case_id}: it already was so; nothing recorded\n"
    assert _events(stored, case_id) == before


@pytest.mark.parametrize("args", [[], ["--data", "{}"], ["--data", "[1]"], ["--remove", " "],
                                  ["--data", "{}", "--data-file", "x.json"]])
def test_set_data_without_data_to_set_is_bad_input(stored: Stored, args: list[str]) -> None:
    case_id = _start(stored)
    before = _events(stored, case_id)
    result = _cw(stored, "case", "set-data", case_id, *args, "--as", "bob")
    assert result.exit_code == 2 and result.stdout == "", result.output
    (line,) = result.stderr.splitlines()
    assert line.startswith("error: "), line
    assert _events(stored, case_id) == before


def test_participants_are_pulled_in_and_taken_off_with_who_and_why(stored: Stored) -> None:
    case_id = _start(stored)
    out = _ok(stored, "add-participant", case_id, "carol", "--role", "specialist", "--as", "ann",
              "--reason", "fraud indicator")
    assert out.startswith(f"added carol as specialist on case {case_id} by ann (event")
    _ok(stored, "add-participant", case_id, "carol", "--role", "roleAdjuster", "--as", "ann", "--reason", "lead")
    assert _state(stored, case_id).participants == {"carol": ["specialist", "Claims adjuster"]}  # a role by its id
    assert "already takes part as specialist" in _refused(
        stored, case_id, "add-participant", case_id, "carol", "--role", "specialist", "--as", "ann", "--reason", "r")
    _ok(stored, "remove-participant", case_id, "carol", "--role", "specialist", "--as", "ann", "--reason", "done")
    assert _state(stored, case_id).participants == {"carol": ["Claims adjuster"]}
    _ok(stored, "remove-participant", case_id, "carol", "--as", "ann", "--reason", "moved team")
    assert _state(stored, case_id).participants == {}
    assert "does not take part" in _refused(stored, case_id, "remove-participant", case_id, "carol", "--as", "ann",
                                            "--reason", "twice")
    history = _history(stored, case_id)
    assert ["ann", "add_participant", "carol as specialist", "fraud indicator"] in history
    assert ["ann", "remove_participant", "carol as specialist", "done"] in history
    assert ["ann", "remove_participant", "carol (every role)", "moved team"] in history
    _refused(stored, case_id, "add-participant", case_id, "carol", "--role", " ", "--as", "ann", "--reason", "r",
             bad_input=True)
    _refused(stored, case_id, "add-participant", case_id, "carol", "--role", "x", "--as", "ann", bad_input=True)
    _verified(stored)


def test_a_discretionary_item_is_planned_by_someone_in_its_role(stored: Stored) -> None:
    case_id = _start(stored)
    assert "can be planned: Expert opinion" in _ok(stored, "show", case_id).splitlines()
    line = _refused(stored, case_id, "plan", case_id, "Expert opinion", "--as", "ann")
    assert "needs the case role Claims adjuster" in line
    _ok(stored, "add-participant", case_id, "ann", "--role", "Claims adjuster", "--as", "bob", "--reason", "lead")
    out = _ok(stored, "plan", case_id, "Expert opinion", "--as", "ann", "--reason", "disputed damage")
    assert out.startswith(f"planned 'Expert opinion' on case {case_id} by ann (events")
    assert _item(_state(stored, case_id), "Expert opinion").state == "active"
    assert ["ann", "plan", "Expert opinion", "disputed damage"] in _history(stored, case_id)
    assert "not a discretionary item" in _refused(stored, case_id, "plan", case_id, "Pay claimant", "--as", "ann")
    small = _start(stored, amount=900)
    _ok(stored, "add-participant", small, "ann", "--role", "Claims adjuster", "--as", "bob", "--reason", "lead")
    assert "not applicable now" in _refused(stored, small, "plan", small, "Expert opinion", "--as", "ann")
    _verified(stored)


def test_set_due_sets_an_items_or_the_cases_due_time_on_the_organisations_clock(stored: Stored) -> None:
    case_id = _start(stored)
    out = _ok(stored, "set-due", case_id, "Register claim", "--due", "2030-01-31T17:00", "--as", "ann",
              "--reason", "agreed with the claimant")
    assert out.startswith(f"set 'Register claim' due 2030-01-31T17:00 on case {case_id} by ann (event")
    assert _item(_state(stored, case_id), "Register claim").due == "2030-01-31T16:00:00Z"  # 17:00 in Amsterdam
    before = dt.datetime.now(dt.UTC)
    _ok(stored, "set-due", case_id, "--due", "P2D", "--as", "ann", "--reason", "SLA")
    after = dt.datetime.now(dt.UTC)
    due = dt.datetime.fromisoformat(str(_state(stored, case_id).due).replace("Z", "+00:00"))
    assert before + dt.timedelta(days=2) - dt.timedelta(seconds=1) <= due <= after + dt.timedelta(days=2)
    _ok(stored, "set-due", case_id, "--due", "2030-02-01T09:00:00+00:00", "--as", "ann", "--reason", "moved")
    assert _state(stored, case_id).due == "2030-02-01T09:00:00Z"
    history = _history(stored, case_id)
    assert ["ann", "set_due", "Register claim due 2030-01-31 17:00 CET", "agreed with the claimant"] in history
    assert ["ann", "set_due", "the case due 2030-02-01 10:00 CET", "moved"] in history
    _ok(stored, "complete", case_id, "Register claim", "--as", "ann")
    assert "Register claim" in _refused(stored, case_id, "set-due", case_id, "Register claim", "--due", "P1D",
                                        "--as", "ann", "--reason", "r")
    _verified(stored)


@pytest.mark.parametrize("due", ["tomorrow", "P", "PT", "P1DT", "P-1D", "P1.5M", "2030-13-01", "P2X", " "])
def test_a_due_time_that_is_neither_duration_nor_date_is_bad_input(stored: Stored, due: str) -> None:
    case_id = _start(stored)
    line = _refused(stored, case_id, "set-due", case_id, "--due", due, "--as", "ann", "--reason", "r", bad_input=True)
    assert line.startswith("error: Invalid value for '--due': "), line


def test_depend_makes_an_item_wait_for_another_and_refuses_a_cycle(stored: Stored) -> None:
    case_id = _start(stored, amount=900)  # a small claim: no fraud check holds the assessment open
    _ok(stored, "add-task", case_id, "Consult specialist", "--manual", "--required", "--as", "ann",
        "--reason", "fraud indicator")  # required: it holds the case open while Decide claim waits for it
    out = _ok(stored, "depend", case_id, "Decide claim", "--after", "Consult specialist", "--as", "ann",
              "--reason", "specialist must confirm")
    assert out.startswith(f"'Decide claim' waits for 'Consult specialist' on case {case_id} by ann (event")
    assert "cycle" in _refused(stored, case_id, "depend", case_id, "Consult specialist", "--after", "Decide claim",
                               "--as", "ann", "--reason", "r")
    for task in ("Register claim", "Assess damage", "Collect documents"):
        _ok(stored, "complete", case_id, task, "--as", "ann")
    state = _state(stored, case_id)
    assert _item(state, "Claim assessed").state == "completed"
    assert _item(state, "Decide claim").state == "available"  # waits for the specialist too
    _ok(stored, "start-item", case_id, "Consult specialist", "--as", "bob")
    _ok(stored, "complete", case_id, "Consult specialist", "--as", "bob")
    assert _item(_state(stored, case_id), "Decide claim").state == "active"
    assert "already started" in _refused(stored, case_id, "depend", case_id, "Register claim", "--after",
                                         "Decide claim", "--as", "ann", "--reason", "r")
    assert ["ann", "add_dependency", "Decide claim after Consult specialist", "specialist must confirm"] in _history(
        stored, case_id)
    assert "Missing option '--after'" in _refused(stored, case_id, "depend", case_id, "Pay claimant", "--as", "ann",
                                                  "--reason", "r", bad_input=True)
    _verified(stored)


def test_occur_raises_a_user_event_and_only_on_an_item_that_can_occur(stored: Stored) -> None:
    case_id = _start(stored)
    assert "occur needs it available" in _refused(stored, case_id, "occur", case_id, "Register claim", "--as", "ann")
    assert "only user event listeners and milestones occur" in _refused(
        stored, case_id, "occur", case_id, "Pay claimant", "--as", "ann")
    out = _ok(stored, "occur", case_id, "Claimant withdraws", "--as", "ann", "--reason", "phoned in")
    assert out.startswith(f"'Claimant withdraws' occurred on case {case_id} by ann (events")
    state = _state(stored, case_id)
    assert state.status == "terminated"  # the case plan's exit criterion waits for the withdrawal
    assert ["ann", "item_transition", "Claimant withdraws: available -> completed", "phoned in"] in _history(
        stored, case_id)
    _refused(stored, case_id, "occur", case_id, "Claimant withdraws", "--as", "ann")
    _verified(stored)
