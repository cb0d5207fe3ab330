from __future__ import annotations

import copy
import datetime as dt
import re
from pathlib import Path

import pytest

from casework.engine import (
    CaseState,
    CommandRejected,
    Event,
    commands,
    decide,
    execute,
    explain,
    plan_migration,
    plannable,
    replay,
)
from casework.engine.errors import UnknownItem
from casework.engine.lifecycle import TransitionError, next_state
from casework.model import CaseDefinition, load_definition

MODELS = Path(__file__).resolve().parents[1] / "conformance" / "models"
NOW = dt.datetime(2026, 3, 2, 9, 0, tzinfo=dt.UTC)
NS = 'xmlns="http://www.omg.org/spec/CMMN/20151109/MODEL"'


def _load(name: str) -> CaseDefinition:
    return load_definition((MODELS / name).read_bytes())


def _started(definition: CaseDefinition, **variables: object) -> CaseState:
    state = CaseState.create("c1", definition)
    execute(definition, state, commands.StartCase(variables=dict(variables), actor="ann"), NOW)
    return state


def _names(state: CaseState, wanted: str) -> set[str]:
    return {i.name for i in state.items.values() if i.state == wanted and i.id != state.root}


def test_transition_table_refuses_with_a_reason() -> None:
    assert next_state("humanTask", "enabled", "manualStart") == "active"
    with pytest.raises(TransitionError, match=r"cannot complete .*allowed: disable, exit, manualStart"):
        next_state("humanTask", "enabled", "complete")
    with pytest.raises(TransitionError, match="it has ended"):
        next_state("milestone", "completed", "occur")
    # parentResume goes back where the item was held from; one held while active records nothing.
    assert [next_state("stage", "suspended", "parentResume", previous) for previous in ("enabled", None)] == [
        "enabled", "active"]
    for previous in ("completed", "terminated", "suspended"):
        with pytest.raises(TransitionError, match="it was not suspended from a state"):
            next_state("humanTask", "suspended", "parentResume", previous)


def test_commands_before_start_and_after_end_are_rejected() -> None:
    claim = _load("claim.cmmn")
    state = CaseState.create("c1", claim)
    with pytest.raises(CommandRejected, match="has not started"):
        execute(claim, state, commands.CompleteItem(item="Review claim"), NOW)
    execute(claim, state, commands.StartCase(actor="ann"), NOW)
    with pytest.raises(CommandRejected, match="already started"):
        execute(claim, state, commands.StartCase(actor="ann"), NOW)
    execute(claim, state, commands.TerminateCase(actor="ann", reason="duplicate"), NOW)
    assert state.status == "terminated"
    before = state.to_dict()
    with pytest.raises(CommandRejected, match="has ended"):
        execute(claim, state, commands.SetVariables(variables={"x": 1}), NOW)
    assert state.to_dict() == before


def test_every_event_carries_actor_reason_and_time() -> None:
    claim = _load("claim.cmmn")
    state = _started(claim)
    events = execute(claim, state, commands.CompleteItem(item="Review claim", actor="bob", reason="looks fine"), NOW)
    # The sentry fires in the same command, so its memory is never written.
    assert [e.type for e in events] == ["item_transition", "item_transition"]
    assert {(e.actor, e.reason, e.at) for e in events} == {("bob", "looks fine", "2026-03-02T09:00:00Z")}
    assert _names(state, "active") == {"Assess damage"}


def test_rejected_command_changes_nothing_and_names_the_problem() -> None:
    claim = _load("claim.cmmn")
    state = _started(claim)
    before = state.to_dict()
    with pytest.raises(CommandRejected, match="'Decide claim': it is available; complete needs it active"):
        execute(claim, state, commands.CompleteItem(item="Decide claim"), NOW)
    with pytest.raises(CommandRejected, match="no item 'Nothing'"):
        execute(claim, state, commands.CompleteItem(item="Nothing"), NOW)
    with pytest.raises(CommandRejected, match="not an identifier"):
        execute(claim, state, commands.SetVariables(variables={"bad name": 1}), NOW)
    with pytest.raises(ValueError, match="timezone-aware"):
        execute(claim, state, commands.SetVariables(variables={"x": 1}), NOW.replace(tzinfo=None))
    with pytest.raises(CommandRejected, match="cannot both set and remove 'amount' in one command"):
        execute(claim, state, commands.SetVariables(variables={"amount": 3, "x": 1}, remove=("amount",)), NOW)
    assert state.to_dict() == before


def _nested(depth: int, *, objects: bool = False) -> object:
    """Lists (or objects) ``depth`` levels deep."""
    value: object = {} if objects else []
    for _ in range(depth - 1):
        value = {"in": value} if objects else [value]
    return value


@pytest.mark.parametrize(
    ("variables", "message"),
    [
        ({"amount": float("nan")}, "variable amount: nan is not a number JSON can hold"),
        ({"claim": {"limits": [1, float("-inf")]}}, r"variable claim\.limits\[1\]: -inf is not a number"),
        ({"when": dt.datetime(2026, 1, 1)}, "variable when: a datetime is not JSON data"),
        ({"tags": {"a", "b"}}, "variable tags: a set is not JSON data"),
        ({"scan": {"pages": [b"%PDF"]}}, r"variable scan\.pages\[0\]: a bytes is not JSON data"),
        ({"by_year": {2024: 1}}, "variable by_year: key 2024 is not a string"),
        ({2024: 1}, "variable name 2024 is not an identifier"),
        ({"deep": _nested(10_000)}, "variable deep: nested more than 64 levels deep"),
        ({"deep": _nested(65)}, "variable deep: nested more than 64 levels deep"),
        ({"deep": _nested(65, objects=True)}, "variable deep: nested more than 64 levels deep"),
        ({"readings": [float("nan"), 0.5]}, r"variable readings\[0\]: nan is not a number"),  # each value is checked
        ({"huge": 10**5000}, "variable huge: the number is too large"),
        ({"huge": 2**14_000}, "variable huge: the number is too large"),  # 14,001 bits
        # every event that sets a value and every snapshot carries it whole: bulk content is a document's
        ({"scan": "x" * 1_000_001}, "variable scan: more than 1,000,000 characters of data"),
        ({"rows": [{"note": "y" * 1000}] * 1000}, "variable rows: more than 1,000,000 characters of data"),
        ({"ids": list(range(1_000_001))}, "variable ids: more than 1,000,000 characters of data"),
        ({"index": {f"k{i:07d}": 0 for i in range(130_000)}}, "variable index: more than 1,000,000 characters"),
        # the bound is on what one command sets together: fifty variables of 30,000 characters are 1.5 million
        ({f"part{i:02d}": "z" * 30_000 for i in range(50)},
         "variable part33: more than 10,000 characters of data beside the rest this command sets"),
    ],
)
def test_case_data_that_is_not_json_or_too_large_is_rejected_and_changes_nothing(variables: dict[str, object],
                                                                    message: str) -> None:
    claim = _load("claim.cmmn")
    state = _started(claim)
    before = state.to_dict()
    for command in (commands.SetVariables(variables=variables),
                    commands.CompleteItem(item="Review claim", variables=variables)):
        with pytest.raises(CommandRejected, match=message):
            execute(claim, state, command, NOW)
    with pytest.raises(CommandRejected, match=message):
        execute(claim, CaseState.create("c2", claim), commands.StartCase(variables=variables), NOW)
    assert state.to_dict() == before


@pytest.mark.parametrize(
    ("command", "message"),
    [
        (commands.AddParticipant(user="sam", role="adjuster", actor=5), "AddParticipant.actor must be text, not int"),  # type: ignore[arg-type]
        (commands.AddParticipant(user=None, role="adjuster"), "AddParticipant.user must be text, not NoneType"),  # type: ignore[arg-type]
        (commands.CompleteItem(item=None), "CompleteItem.item must be text, not NoneType"),  # type: ignore[arg-type]
        (commands.CompleteItem(item="Review claim", reason=7), "CompleteItem.reason must be text or null, not int"),  # type: ignore[arg-type]
        (commands.SetVariables(variables=[("a", 1)]), "SetVariables.variables must be an object, not list"),  # type: ignore[arg-type]
        (commands.AddItem(kind="humanTask", name="Call", after="Review claim"),  # type: ignore[arg-type]
         "AddItem.after must be a list of texts, not str"),
        (commands.AddItem(kind="humanTask", name="Call", manual="yes"),  # type: ignore[arg-type]
         "AddItem.manual must be true or false, not str"),
    ],
)
def test_a_field_of_the_wrong_type_is_rejected_and_changes_nothing(command: commands.Command, message: str) -> None:
    claim = _load("claim.cmmn")
    state = _started(claim)
    before = state.to_dict()
    with pytest.raises(CommandRejected, match=re.escape(message)):
        execute(claim, state, command, NOW)
    assert state.to_dict() == before


def test_a_list_serves_where_a_command_takes_a_tuple() -> None:
    claim = _load("claim.cmmn")
    state = _started(claim)
    execute(claim, state, commands.AddItem(kind="humanTask", name="Call", after=["Review claim"]), NOW)  # type: ignore[arg-type]
    assert "Call" in _names(state, "available")


def test_json_data_up_to_the_nesting_limit_is_case_data() -> None:
    claim = _load("claim.cmmn")
    state = _started(claim)
    value = {"list": _nested(63), "in": _nested(63, objects=True), "n": 2**13_999, "x": -0.5, "s": "Zoë",
             "ok": [True, None, {"k": "v"}]}
    execute(claim, state, commands.SetVariables(variables={"data": value}), NOW)
    assert state.variables["data"] == value


@pytest.mark.parametrize(("held", "given"), [
    (1, True), (False, 0), (6400, 6400.0), ([1, 0], [True, False]), ({"a": {"b": 0}}, {"a": {"b": False}}),
])
def test_a_value_python_calls_equal_but_json_does_not_is_a_change(held: object, given: object) -> None:
    # Python's == holds for 1 and true: setting true on a variable holding 1 recorded nothing and kept the number.
    claim = _load("claim.cmmn")
    state = _started(claim, x=held)
    events = execute(claim, state, commands.SetVariables(variables={"x": given}), NOW)
    assert [e.type for e in events] == ["variables_set"]
    assert repr(state.variables["x"]) == repr(given)
    assert execute(claim, state, commands.SetVariables(variables={"x": given}), NOW) == []  # the same again: none


def test_case_data_decided_on_what_the_case_held_is_refused_once_someone_changed_it() -> None:
    # `expected`: what the variables held when the change was decided (a document's fields read, a rule's fill);
    # a value entered meanwhile is not overwritten unseen. None stands for absent; 1 is not true (as above).
    claim = _load("claim.cmmn")
    state = _started(claim, amount=100, approved=1)
    execute(claim, state, commands.SetVariables(variables={"amount": 200, "note": "x"},
                                                expected={"amount": 100, "note": None}), NOW)
    before = copy.deepcopy(state.to_dict())
    with pytest.raises(CommandRejected, match=r"^'amount', 'approved' changed since this change was decided"):
        execute(claim, state, commands.SetVariables(variables={"amount": 300},
                                                    expected={"amount": 100, "approved": True, "note": "x"}), NOW)
    assert state.to_dict() == before


def test_removing_data_the_case_does_not_hold_removes_the_rest() -> None:
    claim = _load("claim.cmmn")
    state = _started(claim, amount=100, note="x")
    execute(claim, state, commands.SetVariables(variables={}, remove=("never_set", "amount")), NOW)
    assert state.variables == {"note": "x"}


def test_feedback_carries_json_data_only() -> None:
    claim = _load("claim.cmmn")
    state = _started(claim)
    with pytest.raises(CommandRejected, match=r"suggestion\.probability: nan"):
        execute(claim, state, commands.RecordFeedback(suggestion={"activity": "Review claim",
                                                                  "probability": float("nan")}, accepted=True), NOW)


def test_decide_leaves_state_alone_and_matches_execute() -> None:
    claim = _load("claim.cmmn")
    state = _started(claim)
    before = state.to_dict()
    decided = decide(claim, state, commands.CompleteItem(item="Review claim"), NOW)
    assert state.to_dict() == before
    assert decided == execute(claim, state, commands.CompleteItem(item="Review claim"), NOW)


def test_state_round_trips_through_json_and_replay() -> None:
    permit = _load("permit_review.cmmn")
    state = CaseState.create("c9", permit)
    log: list[Event] = []
    log += execute(permit, state, commands.StartCase(variables={"needsEnvironment": True}, actor="ann"), NOW)
    log += execute(permit, state, commands.AddItem(kind="humanTask", name="Call", actor="ann"), NOW)
    log += execute(permit, state, commands.CompleteItem(item="Intake", actor="ann"), NOW)
    copy = CaseState.from_dict(state.to_dict())
    assert copy.to_dict() == state.to_dict()
    assert replay(permit, "c9", [Event.from_dict(e.to_dict()) for e in log]).to_dict() == state.to_dict()
    log += execute(permit, copy, commands.CompleteItem(item="Call", actor="ann"), NOW)
    assert replay(permit, "c9", log).to_dict() == copy.to_dict()


def test_unknown_format_version_is_refused() -> None:
    data = _started(_load("claim.cmmn")).to_dict()
    data["format"] = 99
    with pytest.raises(ValueError, match="format 99"):
        CaseState.from_dict(data)


def test_a_broken_condition_is_recorded_not_raised() -> None:
    xml = (
        f'<definitions {NS}><case id="c"><casePlanModel id="p">'
        '<planItem id="a" name="A" definitionRef="t"><entryCriterion id="e" sentryRef="s"/></planItem>'
        '<sentry id="s"><ifPart><condition>amount &gt; 10</condition></ifPart></sentry>'
        '<humanTask id="t"/></casePlanModel></case></definitions>'
    )
    definition = load_definition(xml)
    state = _started(definition)
    assert _names(state, "available") == {"A"}
    assert state.errors and "amount" in state.errors[0]["error"]
    execute(definition, state, commands.SetVariables(variables={"amount": 11}), NOW)
    assert _names(state, "active") == {"A"}


def test_explain_says_what_an_item_and_the_case_wait_for() -> None:
    claim = _load("claim.cmmn")
    state = _started(claim)
    lines = explain(claim, state, "Decide claim")
    assert lines[0] == "'Decide claim' waits for its entry criterion:"
    assert "Assess damage complete: waiting" in lines[1]
    assert explain(claim, state) == ["'Claim' cannot complete yet:", "  Review claim is active (active)"]
    with pytest.raises(UnknownItem, match=r"^no item 'Nope' in this case$"):
        explain(claim, state, "Nope")


def test_plannable_and_role_checks() -> None:
    xml = (
        f'<definitions {NS}><case id="c"><casePlanModel id="p" autoComplete="true">'
        '<planItem id="a" name="A" definitionRef="t"/>'
        '<planningTable id="tbl"><discretionaryItem id="d" name="Audit" definitionRef="t2" '
        'applicabilityRuleRefs="r" authorizedRoleRefs="aud"/>'
        '<applicabilityRule id="r"><condition>${amount > 10}</condition></applicabilityRule></planningTable>'
        '<humanTask id="t"/><humanTask id="t2"/></casePlanModel>'
        '<caseRoles id="roles"><role id="aud" name="Auditor"/></caseRoles></case></definitions>'
    )
    definition = load_definition(xml)
    state = _started(definition, amount=5)
    assert plannable(definition, state) == []
    execute(definition, state, commands.SetVariables(variables={"amount": 50}), NOW)
    assert plannable(definition, state) == ["Audit"]
    with pytest.raises(CommandRejected, match="needs the case role Auditor"):
        execute(definition, state, commands.PlanItem(item="Audit", actor="zoe"), NOW)
    execute(definition, state, commands.AddParticipant(user="zoe", role="aud", actor="ann"), NOW)
    assert state.participants == {"zoe": ["Auditor"]}
    execute(definition, state, commands.PlanItem(item="Audit", actor="zoe", reason="big"), NOW)
    assert _names(state, "active") == {"A", "Audit"}


def test_migration_dry_run_lists_every_item() -> None:
    v1, v2 = _load("permit_review.cmmn"), _load("permit_review_v2.cmmn")
    state = _started(v1, needsEnvironment=True)
    plan = plan_migration(v1, state, v2)
    outcomes = {e.name: e.outcome for e in plan.entries}
    assert outcomes["Environmental check"] == "disappears"
    assert outcomes["Heritage check"] == "new"
    assert outcomes["Intake"] == "maps"
    assert plan.blocked == []
    before = state.to_dict()
    v3 = _load("permit_review_v3_no_intake.cmmn")
    with pytest.raises(CommandRejected, match="Intake: active here and absent from the new model"):
        execute(v1, state, commands.Migrate(definition=v3, actor="admin"), NOW)
    assert state.to_dict() == before


def test_feedback_on_a_suggestion_is_audited() -> None:
    claim = _load("claim.cmmn")
    state = _started(claim)
    events = execute(
        claim,
        state,
        commands.RecordFeedback(
            suggestion={"activity": "Assess damage", "probability": 0.7},
            accepted=False,
            model_version="m1",
            actor="ann",
            reason="already done by phone",
        ),
        NOW,
    )
    assert [(e.type, e.payload["model_version"], e.reason) for e in events] == [
        ("suggestion_dismissed", "m1", "already done by phone")
    ]
    with pytest.raises(CommandRejected, match="needs the suggestion"):
        execute(claim, state, commands.RecordFeedback(suggestion={}, accepted=True, actor="ann"), NOW)


def test_reassign_owner_and_due_in_state() -> None:
    claim = _load("claim.cmmn")
    state = _started(claim)
    execute(claim, state, commands.Reassign(item="Review claim", to="bob", actor="ann"), NOW)
    execute(claim, state, commands.SetDue(item="Review claim", due="PT8H", actor="ann"), NOW)
    execute(claim, state, commands.SetDue(item=None, due="P10D", actor="ann"), NOW)
    review = next(i for i in state.items.values() if i.name == "Review claim")
    assert (review.owner, review.due, state.due) == ("bob", "2026-03-02T17:00:00Z", "2026-03-12T09:00:00Z")
    with pytest.raises(CommandRejected, match="already assigned to bob"):
        execute(claim, state, commands.Reassign(item="Review claim", to="bob", actor="ann"), NOW)


def test_participants_can_leave_and_roles_are_checked() -> None:
    claim = _load("claim.cmmn")
    state = _started(claim)
    execute(claim, state, commands.AddParticipant(user="carol", role="specialist", actor="ann"), NOW)
    execute(claim, state, commands.AddParticipant(user="carol", role="witness", actor="ann"), NOW)
    execute(claim, state, commands.RemoveParticipant(user="carol", role="specialist", actor="ann"), NOW)
    assert state.participants == {"carol": ["witness"]}
    with pytest.raises(CommandRejected, match="does not take part as specialist"):
        execute(claim, state, commands.RemoveParticipant(user="carol", role="specialist", actor="ann"), NOW)
    execute(claim, state, commands.RemoveParticipant(user="carol", actor="ann", reason="left the firm"), NOW)
    assert state.participants == {}
    with pytest.raises(CommandRejected, match="does not take part in this case"):
        execute(claim, state, commands.RemoveParticipant(user="carol", actor="ann"), NOW)


def test_an_added_repeating_task_repeats_like_a_modelled_one() -> None:
    claim = _load("claim.cmmn")
    state = _started(claim)
    execute(claim, state, commands.AddItem(kind="humanTask", name="Weekly call", repeat=True, actor="ann"), NOW)
    for _ in range(3):
        execute(claim, state, commands.CompleteItem(item="Weekly call", actor="ann"), NOW)
    calls = [i for i in state.items.values() if i.name == "Weekly call"]
    assert [(c.index, c.state) for c in calls] == [(1, "completed"), (2, "completed"), (3, "completed"), (4, "active")]


def test_an_added_task_offered_to_groups_and_users_keeps_them_through_replay() -> None:
    from casework.engine import plan_for

    claim = _load("claim.cmmn")
    state = _started(claim)
    log = execute(claim, state, commands.AddItem(kind="humanTask", name="Fraud check", actor="ann",
                                                 candidate_groups=(" fraud ", "seniors", ""),
                                                 candidate_users=("dan", "erin ", "dan")), NOW)
    (added,) = [i for i in state.items.values() if i.name == "Fraud check"]
    for s in (state, replay(claim, "c1", [*_started_log(claim), *log])):
        definition = plan_for(claim, s).items[added.def_id]
        assert (definition.candidate_groups, definition.candidate_users) == (("fraud", "seniors"), ("dan", "erin"))
    plain = execute(claim, state, commands.AddItem(kind="humanTask", name="Call", actor="ann"), NOW)
    # older events keep their exact bytes
    assert {"candidate_groups", "candidate_users"}.isdisjoint(plain[0].payload["overlay"]["def"])


def _started_log(definition: CaseDefinition) -> list[Event]:
    return execute(definition, CaseState.create("c1", definition), commands.StartCase(actor="ann"), NOW)


def test_an_assignee_expression_is_evaluated_when_the_task_is_created() -> None:
    xml = (
        f'<definitions {NS} xmlns:flowable="http://flowable.org/cmmn" targetNamespace="t">'
        '<case id="c" name="C" flowable:initiatorVariableName="initiator"><casePlanModel id="plan" name="P">'
        '<planItem id="p1" definitionRef="t1"/><planItem id="p2" definitionRef="t2"/>'
        '<planItem id="p3" definitionRef="t3"/><planItem id="p4" definitionRef="t4"/>'
        '<humanTask id="t1" name="Own" flowable:assignee="${initiator}"/>'
        '<humanTask id="t2" name="Lead" flowable:assignee="${lead}"/>'
        '<humanTask id="t3" name="Fixed" flowable:assignee="bob"/>'
        '<humanTask id="t4" name="Broken" flowable:assignee="${team.lead}"/>'
        "</casePlanModel></case></definitions>"
    )
    definition = load_definition(xml)
    state = CaseState.create("c1", definition)
    events = execute(definition, state, commands.StartCase(variables={"team": 3}, actor="carol"), NOW)
    owners = {i.name: i.owner for i in state.items.values() if i.id != state.root}
    # ${lead} is unset (null): unassigned, as in Flowable; ${team.lead} on a number fails and says so.
    assert owners == {"Own": "carol", "Lead": None, "Fixed": "bob", "Broken": None}
    (failure,) = [e.payload for e in events if e.type == "expression_failed"]
    assert failure["where"] == "assignee of p4" and failure["expression"] == "${team.lead}"
    assert replay(definition, "c1", events).to_dict() == state.to_dict()
    # The initiator given with the data (a case opened for someone else) is kept, not replaced by the actor.
    for_dave = CaseState.create("c2", definition)
    execute(definition, for_dave, commands.StartCase(variables={"initiator": "dave"}, actor="carol"), NOW)
    assert [i.owner for i in for_dave.items.values() if i.name == "Own"] == ["dave"]


def test_an_assignee_expression_that_gives_no_user_id_leaves_the_task_unassigned() -> None:
    xml = (
        f'<definitions {NS} xmlns:flowable="http://flowable.org/cmmn" targetNamespace="t">'
        '<case id="c" name="C"><casePlanModel id="plan" name="P">'
        '<planItem id="p1" definitionRef="t1"/><planItem id="p2" definitionRef="t2"/>'
        '<planItem id="p3" definitionRef="t3"/><planItem id="p4" definitionRef="t4"/>'
        '<humanTask id="t1" name="List" flowable:assignee="${team}"/>'
        '<humanTask id="t2" name="Flag" flowable:assignee="${urgent}"/>'
        '<humanTask id="t3" name="Number" flowable:assignee="${employee}"/>'
        '<humanTask id="t4" name="Padded" flowable:assignee="${lead}"/>'
        "</casePlanModel></case></definitions>"
    )
    definition = load_definition(xml)
    state = CaseState.create("c1", definition)
    variables = {"team": ["ann", "bob"], "urgent": True, "employee": 4711, "lead": " dan "}
    events = execute(definition, state, commands.StartCase(variables=variables, actor="carol"), NOW)
    owners = {i.name: i.owner for i in state.items.values() if i.id != state.root}
    assert owners == {"List": None, "Flag": None, "Number": "4711", "Padded": "dan"}
    failures = {e.payload["where"]: e.payload["error"] for e in events if e.type == "expression_failed"}
    assert failures == {"assignee of p1": "gave list ['ann', 'bob'], not a user id",
                        "assignee of p2": "gave bool True, not a user id"}
    assert replay(definition, "c1", events).to_dict() == state.to_dict()


def test_an_added_manual_required_task_holds_the_case_open() -> None:
    claim = _load("claim.cmmn")
    state = _started(claim)
    execute(
        claim, state, commands.AddItem(kind="humanTask", name="Sign-off", manual=True, required=True, actor="ann"), NOW
    )
    for name in ("Review claim", "Assess damage", "Decide claim"):
        execute(claim, state, commands.CompleteItem(item=name, actor="ann"), NOW)
    assert state.status == "active" and _names(state, "enabled") == {"Sign-off"}
    assert explain(claim, state) == ["'Claim' cannot complete yet:", "  Sign-off is enabled (required)"]
    execute(claim, state, commands.StartItem(item="Sign-off", actor="ann"), NOW)
    execute(claim, state, commands.CompleteItem(item="Sign-off", actor="ann"), NOW)
    assert state.status == "completed"


def test_suspend_and_resume_a_stage_and_the_case() -> None:
    permit = _load("permit_review.cmmn")
    state = _started(permit, needsEnvironment=False)
    execute(permit, state, commands.CompleteItem(item="Intake", actor="ann"), NOW)
    execute(permit, state, commands.SuspendItem(item="Review", actor="ann", reason="waiting for the applicant"), NOW)
    # The enabled check is held with its stage (parentSuspend) and cannot be started until the stage resumes.
    assert _names(state, "suspended") == {"Review", "Zoning check", "Environmental check"}
    with pytest.raises(CommandRejected, match="start needs it enabled"):
        execute(permit, state, commands.StartItem(item="Environmental check", actor="ann"), NOW)
    with pytest.raises(CommandRejected, match="its stage 'Review' is suspended"):
        execute(permit, state, commands.ResumeItem(item="Zoning check", actor="ann"), NOW)
    with pytest.raises(CommandRejected, match="complete needs it active"):
        execute(permit, state, commands.CompleteItem(item="Zoning check", actor="ann"), NOW)
    execute(permit, state, commands.ResumeItem(item="Review", actor="ann"), NOW)
    assert {"Review", "Zoning check"} <= _names(state, "active") and "Environmental check" in _names(state, "enabled")
    execute(permit, state, commands.SuspendCase(actor="ann"), NOW)
    assert state.status == "suspended"
    with pytest.raises(CommandRejected, match="suspended; resume it first"):
        execute(permit, state, commands.CompleteItem(item="Zoning check", actor="ann"), NOW)
    execute(permit, state, commands.ResumeCase(actor="ann"), NOW)
    execute(permit, state, commands.CompleteItem(item="Zoning check", actor="ann"), NOW)
    assert state.status == "active" and "Reviewed" in _names(state, "completed")


def test_a_sentry_still_waiting_keeps_its_memory_across_commands() -> None:
    claim = _load("claim.cmmn")
    state = _started(claim)
    execute(claim, state, commands.AddDependency(item="Decide claim", after=("Review claim",), actor="ann"), NOW)
    events = execute(claim, state, commands.CompleteItem(item="Review claim", actor="ann"), NOW)
    decide = next(i for i in state.items.values() if i.name == "Decide claim")
    assert [e.payload for e in events if e.type == "memory"] == [
        {"id": decide.id, "criterion": "ecDecide", "parts": [1]}
    ]
    assert decide.memory == {"ecDecide": [1]}
    execute(claim, state, commands.CompleteItem(item="Assess damage", actor="ann"), NOW)
    assert decide.state == "active" and decide.memory == {}


def test_case_data_up_to_the_size_bound_is_kept() -> None:
    claim = _load("claim.cmmn")
    state = _started(claim)
    execute(claim, state, commands.SetVariables(variables={"notes": "n" * 600_000, "ok": [1] * 399_999}), NOW)
    execute(claim, state, commands.SetVariables(variables={"more": "m" * 1_000_000}), NOW)  # each command its own
    assert len(state.variables["notes"]) == 600_000 and len(state.variables["ok"]) == 399_999
    assert len(state.variables["more"]) == 1_000_000


_SUGGESTION = {"activity": "Site visit", "reason": "70% of similar cases"}


@pytest.mark.parametrize(
    ("command", "message"),
    [
        # the actor and reason are written on every event the command produces
        (commands.CompleteItem(item="Review claim", reason="r" * 4_001),
         "CompleteItem.reason is 4,001 characters long; at most 4,000 are allowed"),
        (commands.CompleteItem(item="Review claim", actor="a" * 201),
         "CompleteItem.actor is 201 characters long; at most 200 are allowed"),
        (commands.CompleteItem(item="Review claim" * 1_000),
         "CompleteItem.item is 12,000 characters long; at most 500"),
        (commands.AddItem(kind="humanTask", name="n" * 501), "AddItem.name is 501 characters long; at most 500"),
        (commands.AddItem(kind="humanTask", name="Call", stage="s" * 501), "AddItem.stage is 501 characters long"),
        (commands.AddItem(kind="humanTask", name="Call", description="d" * 4_001),
         "AddItem.description is 4,001 characters long; at most 4,000"),
        (commands.AddItem(kind="humanTask", name="Call", due="P" + "1" * 200 + "D"), "AddItem.due is 202 characters"),
        (commands.AddItem(kind="humanTask", name="Call", assignee="x" * 201), "AddItem.assignee is 201 characters"),
        (commands.AddItem(kind="humanTask", name="Call", candidate_groups=("clerks", "g" * 201)),
         "AddItem.candidate_groups: entry 2 is 201 characters long; at most 200 are allowed"),
        (commands.AddItem(kind="humanTask", name="Call", candidate_users=tuple(f"u{i}" for i in range(1_001))),
         "AddItem.candidate_users has 1,001 entries; at most 1,000 are allowed"),
        (commands.AddItem(kind="humanTask", name="Call", after=("Review claim",) * 1_001),
         "AddItem.after has 1,001 entries"),
        (commands.AddDependency(item="Decide claim", after=("a" * 501,)), "AddDependency.after: entry 1 is 501"),
        (commands.AddParticipant(user="u" * 201, role="adjuster"), "AddParticipant.user is 201 characters long"),
        (commands.AddParticipant(user="sam", role="r" * 201), "AddParticipant.role is 201 characters long"),
        (commands.RemoveParticipant(user="u" * 201), "RemoveParticipant.user is 201 characters long"),
        (commands.Reassign(item="Review claim", to="x" * 201), "Reassign.to is 201 characters long"),
        (commands.SetDue(item=None, due="2026-04-01T00:00:00Z" + " " * 200), "SetDue.due is 220 characters long"),
        (commands.SetVariables(variables={}, remove=("v" * 501,)), "SetVariables.remove: entry 1 is 501 characters"),
        (commands.SetVariables(variables={"v" * 501: 1}), "a variable name is 501 characters long; at most 500"),
        (commands.AttachDocument(name="d" * 501, sha256="0" * 64, size=1, media_type="text/plain", document_id="d1"),
         "AttachDocument.name is 501 characters long"),
        (commands.AttachDocument(name="scan", sha256="0" * 64, size=1, media_type="t" * 201, document_id="d1"),
         "AttachDocument.media_type is 201 characters long"),
        (commands.RecordFeedback(suggestion=_SUGGESTION, accepted=True, model_version="m" * 201),
         "RecordFeedback.model_version is 201 characters long"),
        # each decision keeps the suggestion whole: far less than case data may hold
        (commands.RecordFeedback(suggestion=_SUGGESTION | {"note": "n" * 20_000}, accepted=False),
         "suggestion: more than 20,000 characters of data"),
        (commands.Together(commands=(commands.AddParticipant(user="sam", role="adjuster", reason="r" * 5_000),)),
         "part 1 of 1 (AddParticipant) was rejected, so none was done: AddParticipant.reason is 5,000 characters"),
    ],
)
def test_a_command_with_more_text_than_its_field_holds_is_rejected_and_changes_nothing(
    command: commands.Command, message: str
) -> None:
    claim = _load("claim.cmmn")
    state = _started(claim)
    before = state.to_dict()
    with pytest.raises(CommandRejected, match=re.escape(message)) as caught:
        execute(claim, state, command, NOW)
    assert state.to_dict() == before
    assert len(str(caught.value)) < 200 and "\n" not in str(caught.value)  # the value itself is never quoted


def test_text_up_to_the_bounds_is_kept_whole() -> None:
    claim = _load("claim.cmmn")
    state = _started(claim)
    events = execute(claim, state, commands.AddItem(
        kind="humanTask", name="n" * 500, reason="r" * 4_000, actor="a" * 200, description="d" * 4_000,
        assignee="o" * 200, candidate_groups=tuple(f"g{i}" for i in range(1_000)),
        after=("Review claim",)), NOW)
    assert {(e.actor, e.reason) for e in events} == {("a" * 200, "r" * 4_000)}
    added = next(i for i in state.items.values() if i.name == "n" * 500)
    execute(claim, state, commands.AddParticipant(user="u" * 200, role="r" * 200, actor="a" * 200), NOW)
    assert state.participants["u" * 200] == ["r" * 200]
    # the object counts one, its keys and strings their length
    note = "n" * (20_000 - 1 - len("activity") - len("Site visit") - len("note"))
    suggestion = {"activity": "Site visit", "note": note}
    execute(claim, state, commands.RecordFeedback(suggestion=suggestion, accepted=True, model_version="m" * 200), NOW)
    assert state.items[added.id].name == "n" * 500
    execute(claim, state, commands.SetVariables(variables={"v" * 500: 1}), NOW)
    assert state.variables["v" * 500] == 1
