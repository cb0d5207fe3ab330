from __future__ import annotations

import datetime as dt

import pytest

from casework.demo import demo_definition
from casework.engine import CaseState, commands, execute
from casework.insight.casetype import ActionSpec, CaseType, bundled_case_type, parse_case_type
from casework.insight.flags import assess
from casework.insight.rules import (
    CASE_SUSPENDED,
    Action,
    Flag,
    Suggestion,
    accept_command,
    check_actionable,
    evaluate_rules,
    facts,
    feedback_command,
    resolve_action,
)
from casework.model import CaseDefinition

T0 = dt.datetime(2025, 3, 1, 9, 0, tzinfo=dt.UTC)


def start_claim(variables: dict[str, object], *, register: bool = True) -> tuple[CaseDefinition, CaseState]:
    definition = demo_definition()
    state = CaseState.create("c1", definition)
    execute(definition, state, commands.StartCase(variables=variables, actor="ann"), T0)
    if register:
        execute(definition, state, commands.CompleteItem(item="Register claim", actor="ann"), T0)
    return definition, state


def rules_case_type(rules: str) -> CaseType:
    head = '[case_type]\nkey = "t"\ndefinition = "insuranceClaim"\n[[fields]]\nname = "amount"\ntype = "number"\n'
    head += 'label = "claimed amount"\n'
    return parse_case_type(head + rules)


def test_facts_describe_the_case_now() -> None:
    definition, state = start_claim({"amount": 20000})
    f = facts(definition, state, [("claim_form", "form.pdf")], T0 + dt.timedelta(days=3, hours=12))
    assert f["open_tasks"] == ["Assess damage", "Collect documents", "Fraud check"]
    assert f["completed"] == ["Register claim"]
    assert "Review police report" in f["waiting"]
    assert f["plannable"] == ["Expert opinion", "Site visit"]
    assert f["documents"] == ["claim_form"] and f["document_names"] == ["form.pdf"]
    assert f["days_open"] == pytest.approx(3.5)
    assert f["case"] == {"amount": 20000}
    assert f["status"] == "active"


def test_facts_count_items_held_with_a_suspended_stage_as_what_they_were() -> None:
    definition, state = start_claim({"amount": 20000})
    now = T0 + dt.timedelta(days=1)
    before = facts(definition, state, [], now)
    execute(definition, state, commands.SuspendItem(item="Assessment", actor="ann", reason="on hold"), T0)
    after = facts(definition, state, [], now)
    # The tasks under way stay open work, and what had not started is still waiting, not work to do.
    assert (after["open_tasks"], after["waiting"]) == (before["open_tasks"], before["waiting"])


def test_bundled_rules_on_a_large_claim() -> None:
    definition, state = start_claim({"amount": 80000, "previousClaims": 4})
    now = T0 + dt.timedelta(days=8)
    found = {f.id: f for f in evaluate_rules(bundled_case_type("insurance_claim"), definition, state, [], now)}
    assert set(found) == {"rule:large-claim-expert", "rule:repeat-claimant", "rule:workshop-follow-up"}

    expert = found["rule:large-claim-expert"]
    assert isinstance(expert, Suggestion) and expert.kind == "suggestion" and expert.severity == "warning"
    assert expert.action == Action("plan", "Expert opinion", "plan: Expert opinion")
    # The reason names the rule, its condition and the values it read.
    assert "large-claim-expert" in expert.reason and "amount > 50000" in expert.reason
    assert "amount = 80000" in expert.reason

    fraud = found["rule:repeat-claimant"]
    assert isinstance(fraud, Flag) and fraud.severity == "critical"
    # Fraud check is already active (amount > 10000): the action points at that task instead of adding one.
    assert fraud.action is not None and fraud.action.kind == "open" and fraud.action.item is not None
    assert state.items[fraud.action.item].name == "Fraud check"

    workshop = found["rule:workshop-follow-up"]
    assert workshop.action == Action("add_task", "Call the workshop", "add task: Call the workshop")
    command = workshop.action.command(actor="ann", reason="accepted suggestion")
    expected = commands.AddItem(kind="humanTask", name="Call the workshop", actor="ann", reason="accepted suggestion",
                                unless_open=True)
    assert command == expected


def test_a_reason_shows_the_numbers_it_read_as_a_person_reads_them() -> None:
    definition, state = start_claim({"amount": 80000, "previousClaims": 4})
    # a few seconds past eight days: the reason read "days_open = 8.000057870370371"
    now = T0 + dt.timedelta(days=8, seconds=5)
    found = {f.id: f for f in evaluate_rules(bundled_case_type("insurance_claim"), definition, state, [], now)}
    assert "days_open = about 8," in found["rule:workshop-follow-up"].reason
    ct = rules_case_type('[[rules]]\nid = "half"\ncondition = "amount > 0.25"\nkind = "flag"\nmessage = "m"\n')
    definition, state = start_claim({"amount": 0.5})
    (half,) = evaluate_rules(ct, definition, state, [], T0)
    assert "amount = 0.5)" in half.reason  # exact: no "about"


def test_rules_that_do_not_hold_say_nothing() -> None:
    definition, state = start_claim({"amount": 500})
    assert evaluate_rules(bundled_case_type("insurance_claim"), definition, state, [], T0) == []


def test_document_fact_drives_a_rule() -> None:
    definition, state = start_claim({"amount": 500})
    ct = bundled_case_type("insurance_claim")
    (found,) = evaluate_rules(ct, definition, state, [("police_report", "report.pdf")], T0)
    assert found.id == "rule:police-report-not-recorded"
    assert found.action == Action("fill_in", "policeReport", "fill in: policeReport")
    execute(definition, state, commands.SetVariables(variables={"policeReport": "PR-1"}, actor="ann"), T0)
    assert evaluate_rules(ct, definition, state, [("police_report", "report.pdf")], T0) == []


def test_a_failing_rule_becomes_a_flag_and_does_not_raise() -> None:
    ct = rules_case_type(
        """
[[rules]]
id = "needs-amount"
condition = "amount > 100"
message = "big"

[[rules]]
id = "bad-type"
condition = "amount"
message = "not a boolean"

[[rules]]
id = "ok"
condition = "true"
message = "always"
"""
    )
    definition, state = start_claim({})
    found = evaluate_rules(ct, definition, state, [], T0)
    by_id = {f.id: f for f in found}
    missing = by_id["rule-error:needs-amount"]
    assert isinstance(missing, Flag) and missing.severity == "info"
    assert missing.message == "rule needs-amount could not be evaluated: claimed amount not set"
    assert "rule-error:bad-type" in by_id  # amount is missing here too
    assert "rule:ok" in by_id

    execute(definition, state, commands.SetVariables(variables={"amount": 5}, actor="ann"), T0)
    by_id = {f.id: f for f in evaluate_rules(ct, definition, state, [], T0)}
    broken = by_id["rule-error:bad-type"]
    assert broken.severity == "warning"
    assert broken.message.startswith("rule bad-type could not be evaluated:") and "boolean" in broken.message
    assert "rule-error:needs-amount" not in by_id and "rule:needs-amount" not in by_id


def test_juel_conditions_work_too() -> None:
    ct = rules_case_type('[[rules]]\nid = "j"\ncondition = "${amount > 10 && empty policeReport}"\nmessage = "m"\n')
    definition, state = start_claim({"amount": 11})
    assert [f.id for f in evaluate_rules(ct, definition, state, [], T0)] == ["rule:j"]


def test_actions_map_onto_what_the_case_can_do_now() -> None:
    ct = bundled_case_type("insurance_claim")
    definition, state = start_claim({"amount": 500}, register=False)

    # Before registration the assessment stage is not active: Site visit cannot be planned yet -> ad hoc task.
    action, note = resolve_action(ActionSpec("plan", "Site visit"), ct, definition, state)
    assert action.kind == "add_task" and "cannot be planned now" in note
    # An active modelled task is pointed at.
    action, note = resolve_action(ActionSpec("add_task", "Register claim"), ct, definition, state)
    assert action.kind == "open" and state.items[action.item or ""].name == "Register claim"
    assert "already in the case" in note

    execute(definition, state, commands.CompleteItem(item="Register claim", actor="ann"), T0)
    action, note = resolve_action(ActionSpec("plan", "Site visit"), ct, definition, state)
    assert action == Action("plan", "Site visit", "plan: Site visit") and note == ""
    assert action.command(actor="bob") == commands.PlanItem(item="Site visit", actor="bob")
    # Expert opinion's applicability rule (amount > 10000) does not hold for 500.
    action, _ = resolve_action(ActionSpec("plan", "Expert opinion"), ct, definition, state)
    assert action.kind == "add_task"

    action, _ = resolve_action(ActionSpec("request_document", "police_report"), ct, definition, state)
    assert action.label == "request document: police report"
    cmd = action.command(actor="ann")
    assert isinstance(cmd, commands.AddItem) and cmd.name == "Request police report"
    execute(definition, state, cmd, T0)
    # Once the request task exists it is pointed at rather than suggested twice.
    action, note = resolve_action(ActionSpec("request_document", "police_report"), ct, definition, state)
    assert action.kind in ("open", "start") and action.target == "Request police report"


def test_accepting_a_suggestion_is_recorded_in_the_audit_trail() -> None:
    definition, state = start_claim({"amount": 80000})
    ct = bundled_case_type("insurance_claim")
    expert = next(f for f in evaluate_rules(ct, definition, state, [], T0) if f.id == "rule:large-claim-expert")
    record = feedback_command(expert, accepted=False, actor="ann", reason="expert already consulted by phone")
    assert record.suggestion["activity"] == "Expert opinion"
    assert record.suggestion["reason"] == expert.reason
    events = execute(definition, state, record, T0)
    assert events and events[-1].actor == "ann" and events[-1].reason == "expert already consulted by phone"


def test_two_people_accepting_one_suggested_task_at_once_add_it_once(db_url: str, tmp_path) -> None:  # type: ignore[no-untyped-def]
    import threading

    from casework.demo import demo_model_xml
    from casework.engine import CommandRejected
    from casework.insight.flags import assess
    from casework.service import CaseService, Conflict
    from casework.store import Store

    kind = bundled_case_type("insurance_claim")
    stores = [Store.open(db_url, audit_key=tmp_path / "audit.key", blob_dir=tmp_path / "blobs") for _ in range(2)]
    services = [CaseService(store) for store in stores]  # two processes, as two people's sessions would be
    try:
        key, _ = services[0].deploy(demo_model_xml("insurance_claim.cmmn"))
        case_id = services[0].start_case(key, {"amount": 12500}, actor="ann", now=T0).case_id
        _, definition = services[0].definition(key)
        # both screens show the case as judged before either accepted
        shown = {f.id: f for f in assess(kind, definition, services[0].state(case_id), [], T0)}
        wanted = shown["missing-document:police_report"]
        outcomes: list[str] = []
        barrier = threading.Barrier(2)

        def accept(service: CaseService, actor: str) -> None:
            command = wanted.action.command(actor=actor)  # type: ignore[union-attr]
            barrier.wait()
            try:
                service.execute(case_id, command, T0)
                outcomes.append("added")
            except (CommandRejected, Conflict) as exc:
                outcomes.append(f"refused: {exc}")

        people = zip(services, ("ann", "bob"), strict=True)
        threads = [threading.Thread(target=accept, args=(s, who)) for s, who in people]
        for th in threads:
            th.start()
        for th in threads:
            th.join()
        assert sorted(o.split(":")[0] for o in outcomes) == ["added", "refused"], outcomes
        assert "'Request police report' is already in the case" in next(o for o in outcomes if o != "added")
        state = services[0].state(case_id)
        assert [i.name for i in state.items.values()].count("Request police report") == 1
    finally:
        for service in services:
            service.close()
        for store in stores:
            store.close()


def test_items_that_cannot_be_worked_on_now_are_shown_as_such() -> None:
    ct = bundled_case_type("insurance_claim")
    definition, state = start_claim({"amount": 500})

    # Decide claim exists but waits for the Claim assessed milestone: not "open", and accepting it is refused.
    action, _ = resolve_action(ActionSpec("start", "Decide claim"), ct, definition, state)
    assert (action.kind, action.label) == ("wait", "wait: Decide claim")
    assert action.blocked == "it waits for its entry criterion: [ecDecide] Claim assessed occur: waiting"
    assert action.command(actor="ann") is None
    with pytest.raises(ValueError, match="'Decide claim' cannot be done now"):
        check_actionable(action)
    assert action.to_dict()["blocked"] == action.blocked
    # A milestone with an entry criterion is reached by it, a timer by its time: both wait.
    assert resolve_action(ActionSpec("start", "Claim assessed"), ct, definition, state)[0].kind == "wait"
    timer, _ = resolve_action(ActionSpec("start", "Chase documents"), ct, definition, state)
    assert timer.kind == "wait" and "is a timer due at" in timer.blocked
    # A user event listener is raised by a person: `case occur`.
    withdraw, _ = resolve_action(ActionSpec("start", "Claimant withdraws"), ct, definition, state)
    assert (withdraw.kind, withdraw.label, withdraw.blocked) == ("occur", "occur: Claimant withdraws", "")
    assert withdraw.command(actor="ann") == commands.OccurEvent(item=withdraw.item or "", actor="ann")
    # A task put on hold by hand waits for someone to resume it.
    execute(definition, state, commands.SuspendItem(item="Assess damage", actor="ann", reason="on hold"), T0)
    held, _ = resolve_action(ActionSpec("start", "Assess damage"), ct, definition, state)
    assert held.kind == "wait" and held.blocked == "it is suspended; `casework case resume-item` it first"
    # A name the engine reads as an item id cannot become a task: shown, not offered as one.
    odd, note = resolve_action(ActionSpec("start", "i5"), None, definition, state)
    assert (odd.kind, odd.label, note) == ("unmapped", "no action for: i5", "")
    assert "reads as an item id" in odd.blocked and odd.command(actor="ann") is None


def test_on_a_suspended_case_actions_are_mapped_as_once_resumed_and_blocked() -> None:
    ct = bundled_case_type("insurance_claim")
    definition, state = start_claim({"amount": 12500})
    execute(definition, state, commands.SuspendCase(actor="ann", reason="claimant abroad"), T0)
    # Its stage is suspended with it, so as it stands nothing could be planned or started: mapped as once resumed.
    plan, _ = resolve_action(ActionSpec("plan", "Site visit"), ct, definition, state)
    assert plan.kind == "plan" and plan.blocked == CASE_SUSPENDED
    assert plan.shown() == f"plan: Site visit (not now: {CASE_SUSPENDED})"
    under_way, _ = resolve_action(ActionSpec("start", "Assess damage"), ct, definition, state)
    assert under_way.kind == "open" and under_way.blocked == CASE_SUSPENDED
    # What waits keeps its own reason; the case's state is unchanged by looking.
    assert "entry criterion" in resolve_action(ActionSpec("start", "Decide claim"), ct, definition, state)[0].blocked
    assert state.status == "suspended"
    # Every finding's action too: fill in a field, request a document.
    findings = assess(ct, definition, state, [], T0)
    actions = [f.action for f in findings if f.action is not None]
    assert {a.kind for a in actions} >= {"fill_in", "request_document"}
    assert all(a.blocked == CASE_SUSPENDED for a in actions)
    with pytest.raises(ValueError, match="the case is suspended"):
        accept_command(next(f for f in findings if f.action is not None), actor="ann")
