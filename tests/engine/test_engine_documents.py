"""Documents in the engine (`AttachDocument`): an attach is one `document_attached` event and changes nothing in the
plan, so a suspended case takes it (the police report that arrives while a claim waits for it) and an ended one
does not (docs/semantics.md, Suspension)."""

from __future__ import annotations

import datetime as dt
import hashlib

import pytest

from casework.engine import CaseState, CommandRejected, Event, commands, execute, replay
from casework.model import CaseDefinition

NOW = dt.datetime(2026, 3, 2, 9, 0, tzinfo=dt.UTC)
HOUR = dt.timedelta(hours=1)


def _claim() -> CaseDefinition:
    from casework.demo import demo_definition

    return demo_definition("insurance_claim.cmmn")


def _attach(content: bytes, actor: str = "ann", reason: str | None = "sent by the police") -> commands.AttachDocument:
    return commands.AttachDocument(name="police_report.pdf", sha256=hashlib.sha256(content).hexdigest(),
                                   size=len(content), media_type="application/pdf",
                                   document_id=hashlib.sha1(content).hexdigest(), actor=actor, reason=reason)


def _plan(state: CaseState) -> dict[str, object]:
    """The case as its plan stands: everything but its documents and the count of its events."""
    kept = state.to_dict()
    kept.pop("documents", None)
    kept.pop("version")
    return kept


def _assessing(definition: CaseDefinition) -> tuple[CaseState, list[Event]]:
    """A large claim in assessment: the fraud check runs, and *Review police report* waits for the report's data
    (a case file item on-part on `policeReport`)."""
    state = CaseState.create("c1", definition)
    log = execute(definition, state, commands.StartCase(variables={"amount": 12500}, actor="ann"), NOW)
    log += execute(definition, state, commands.CompleteItem(item="Register claim", actor="ann"), NOW)
    return state, log


def _states(state: CaseState) -> dict[str, str]:
    return {i.name: i.state for i in state.items.values() if i.id != state.root and i.state != "completed"}


def test_a_suspended_case_takes_a_document_and_a_new_version_and_its_plan_stays_on_hold() -> None:
    claim = _claim()
    state, log = _assessing(claim)
    log += execute(claim, state, commands.SuspendCase(actor="ann", reason="waiting for documents"), NOW)
    held, waiting = _plan(state), _states(state)
    assert waiting["Review police report"] == "suspended" and waiting["Assess damage"] == "suspended"

    for number, content in enumerate((b"%PDF-1.4 draft report", b"%PDF-1.4 signed report"), start=1):
        events = execute(claim, state, _attach(content, actor="bob"), NOW + number * HOUR)
        # One record, as any attach: who, when, why and which bytes; nothing else happened to the case.
        assert [(e.type, e.actor, e.reason, e.payload["version"]) for e in events] == [
            ("document_attached", "bob", "sent by the police", number)]
        assert events[0].payload["sha256"] == hashlib.sha256(content).hexdigest()
        log += events
    assert state.documents == {"police_report.pdf": 2}
    assert state.status == "suspended" and _plan(state) == held and _states(state) == waiting

    # The report's data is the case file item, which sentries hear: it waits for the resume, as the plan does.
    before = state.to_dict()
    with pytest.raises(CommandRejected, match="the case is suspended; resume it first"):
        execute(claim, state, commands.SetVariables(variables={"policeReport": {"number": "PR-2211"}}, actor="bob"),
                NOW)
    assert state.to_dict() == before

    log += execute(claim, state, commands.ResumeCase(actor="ann", reason="the report arrived"), NOW + 3 * HOUR)
    # The attach raised nothing for the resume to catch up on: the review waits for the report's data, as it would
    # had the report come after the resume.
    assert _states(state)["Review police report"] == "available"
    assert {"Assess damage", "Collect documents", "Fraud check"} <= {n for n, s in _states(state).items()
                                                                      if s == "active"}
    log += execute(claim, state, commands.SetVariables(variables={"policeReport": {"number": "PR-2211"}},
                                                       actor="bob"), NOW + 4 * HOUR)
    assert _states(state)["Review police report"] == "active"
    assert replay(claim, "c1", log).to_dict() == state.to_dict()


def test_attaching_on_hold_is_attaching_just_after_the_resume() -> None:
    """What the plan does once resumed does not depend on whether the document came before or after the resume: the
    same events on the plan, the same case."""
    claim = _claim()
    on_hold, _ = _assessing(claim)
    execute(claim, on_hold, commands.SuspendCase(actor="ann"), NOW)
    after = CaseState.from_dict(on_hold.to_dict())

    execute(claim, on_hold, _attach(b"report"), NOW + HOUR)
    resumed_late = execute(claim, on_hold, commands.ResumeCase(actor="ann"), NOW + 2 * HOUR)
    resumed_first = execute(claim, after, commands.ResumeCase(actor="ann"), NOW + 2 * HOUR)
    execute(claim, after, _attach(b"report"), NOW + HOUR)
    assert resumed_late == resumed_first and resumed_late
    assert on_hold.to_dict() == after.to_dict()


@pytest.mark.parametrize(("end", "status"), [(commands.TerminateCase(actor="ann", reason="withdrawn"), "terminated"),
                                             (commands.CompleteCase(force=True, actor="ann"), "completed")])
def test_an_ended_case_refuses_a_document_and_changes_nothing(end: commands.Command, status: str) -> None:
    claim = _claim()
    state, _ = _assessing(claim)
    execute(claim, state, _attach(b"first"), NOW)
    execute(claim, state, end, NOW)
    before = state.to_dict()
    with pytest.raises(CommandRejected, match=rf"^the case has ended \({status}\); it cannot be changed$"):
        execute(claim, state, _attach(b"late"), NOW + HOUR)
    assert state.to_dict() == before and state.documents == {"police_report.pdf": 1}
