from __future__ import annotations

import datetime as dt
from collections.abc import Sequence

from casework.demo import demo_definition
from casework.engine import CaseState, commands, decide, execute
from casework.insight.casetype import bundled_case_type
from casework.insight.flags import (
    NextActionModel,
    RemainingTimeModel,
    assess,
    case_path,
    sla_deadline,
    unusual_path,
)
from casework.model import CaseDefinition

T0 = dt.datetime(2025, 3, 1, 9, 0, tzinfo=dt.UTC)
DAY = dt.timedelta(days=1)
COMPLETE = {"policyNumber": "AB-123456", "claimant": "Ann Smith", "amount": 1500, "incidentDate": "2025-02-14"}
FORM = [("claim_form", "form.pdf")]


class FixedRemaining:
    def __init__(self, seconds: float) -> None:
        self.seconds = seconds
        self.calls: list[tuple[list[str], list[float]]] = []

    def predict_remaining_seconds(self, activities: Sequence[str], timestamps: Sequence[float]) -> float:
        self.calls.append((list(activities), list(timestamps)))
        return self.seconds


class TableModel:
    """P(next | last activity) from a table; anything else is rare."""

    def __init__(self, table: dict[tuple[str, str], float]) -> None:
        self.table = table

    def probability(self, prefix_activities: Sequence[str], next_activity: str) -> float:
        last = prefix_activities[-1] if prefix_activities else ""
        return self.table.get((last, next_activity), 0.001)


class BrokenModel:
    def probability(self, prefix_activities: Sequence[str], next_activity: str) -> float:
        raise RuntimeError("model file missing")


def claim(variables: dict[str, object]) -> tuple[CaseDefinition, CaseState]:
    definition = demo_definition()
    state = CaseState.create("c1", definition)
    execute(definition, state, commands.StartCase(variables=variables, actor="ann"), T0)
    return definition, state


def test_fakes_satisfy_the_protocols() -> None:
    assert isinstance(FixedRemaining(1.0), RemainingTimeModel)
    assert isinstance(TableModel({}), NextActionModel)


def test_a_complete_fresh_case_has_nothing_to_say() -> None:
    definition, state = claim(COMPLETE)
    assert assess(bundled_case_type("insurance_claim"), definition, state, FORM, T0) == []


def test_assess_combines_rules_and_gaps_most_severe_first() -> None:
    definition, state = claim({**COMPLETE, "amount": 80000, "previousClaims": 5, "claimant": ""})
    execute(definition, state, commands.CompleteItem(item="Register claim", actor="ann"), T0)
    found = assess(bundled_case_type("insurance_claim"), definition, state, FORM, T0 + DAY)
    ids = [f.id for f in found]
    assert ids[0] == "rule:repeat-claimant"  # the only critical one
    assert set(ids) == {
        "rule:repeat-claimant",
        "missing-field:claimant",
        "missing-document:police_report",
        "rule:large-claim-expert",
        "missing-document:repair_estimate",
    }
    severities = [f.severity for f in found]
    order = {"critical": 0, "warning": 1, "info": 2}
    assert severities == sorted(severities, key=order.__getitem__)
    # At equal severity flags come before suggestions.
    warnings = [f for f in found if f.severity == "warning"]
    assert [f.kind for f in warnings] == sorted((f.kind for f in warnings), key=lambda k: k != "flag")
    assert all(f.reason for f in found)


def test_gap_request_points_at_an_existing_request_task() -> None:
    definition, state = claim({**COMPLETE, "amount": 20000})
    ct = bundled_case_type("insurance_claim")
    (police,) = [f for f in assess(ct, definition, state, FORM, T0) if f.id == "missing-document:police_report"]
    assert police.action is not None and police.action.kind == "request_document"
    command = police.action.command(actor="ann", reason=police.reason)
    assert command is not None
    execute(definition, state, command, T0)
    (police,) = [f for f in assess(ct, definition, state, FORM, T0) if f.id == "missing-document:police_report"]
    assert police.action is not None and police.action.kind in ("open", "start")
    assert police.action.target == "Request police report"


def test_sla_deadline_from_case_type_or_case_due() -> None:
    definition, state = claim(COMPLETE)
    ct = bundled_case_type("insurance_claim")
    assert sla_deadline(ct, state) == T0 + 30 * DAY
    execute(definition, state, commands.SetDue(item=None, due="P10D", actor="sue"), T0)
    assert sla_deadline(ct, state) == T0 + 10 * DAY


def test_sla_breach_and_risk() -> None:
    definition, state = claim(COMPLETE)
    ct = bundled_case_type("insurance_claim")
    execute(definition, state, commands.CompleteItem(item="Register claim", actor="ann"), T0 + 2 * DAY)

    late = assess(ct, definition, state, FORM, T0 + 31 * DAY)
    assert [f.id for f in late][:1] == ["sla:breached"]
    assert late[0].severity == "critical" and "P30D" in late[0].reason

    slow = FixedRemaining(40 * 86400.0)
    (risk,) = [f for f in assess(ct, definition, state, FORM, T0 + 3 * DAY, remaining_model=slow) if f.source == "sla"]
    assert risk.id == "sla:risk" and risk.severity == "warning"
    # Predicted end = last step (day 2) + 40 days = day 42; deadline day 30 -> 12 days late.
    assert "12.0 days late" in risk.message
    assert slow.calls == [(["Register claim"], [(T0 + 2 * DAY).timestamp()])]

    quick = FixedRemaining(5 * 86400.0)
    found = assess(ct, definition, state, FORM, T0 + 3 * DAY, remaining_model=quick)
    assert not [f for f in found if f.source == "sla"]


def test_a_flag_without_an_action_can_be_accepted_or_dismissed() -> None:
    from casework.insight.rules import feedback_command

    definition, state = claim(COMPLETE)
    execute(definition, state, commands.CompleteItem(item="Register claim", actor="ann"), T0)
    found = assess(bundled_case_type("insurance_claim"), definition, state, FORM, T0 + 31 * DAY,
                   next_action_model=TableModel({}))
    assert {f.id for f in found if f.action is None} == {"sla:breached", "path:unusual"}
    for flag in found:
        for accepted in (True, False):
            # Each decision on the case as it is (`decide`): a flag is answered once, so not both on one case.
            (event,) = decide(definition, state, feedback_command(flag, accepted=accepted, actor="ann",
                                                                  reason="seen"), T0 + 31 * DAY)
            assert event.payload["suggestion"]["id"] == flag.id
            assert event.type == ("suggestion_accepted" if accepted else "suggestion_dismissed")


def test_case_path_orders_completed_steps() -> None:
    definition, state = claim({**COMPLETE, "amount": 20000})
    execute(definition, state, commands.CompleteItem(item="Register claim", actor="ann"), T0 + DAY)
    execute(definition, state, commands.CompleteItem(item="Collect documents", actor="ann"), T0 + 3 * DAY)
    execute(definition, state, commands.CompleteItem(item="Assess damage", actor="ann"), T0 + 2 * DAY)
    activities, timestamps = case_path(state)
    # Completion times, not command order, define the path (the clock here went backwards on purpose).
    assert activities == ["Register claim", "Assess damage", "Collect documents"]
    assert timestamps == sorted(timestamps)
    # Finishing the last assessment task completes the stage and reaches the milestone in the same step:
    # the milestone follows the task on the path.
    execute(definition, state, commands.CompleteItem(item="Fraud check", actor="ann"), T0 + 4 * DAY)
    activities, _ = case_path(state)
    assert activities[-2:] == ["Fraud check", "Claim assessed"]


def test_unusual_path_flag() -> None:
    definition, state = claim(COMPLETE)
    execute(definition, state, commands.CompleteItem(item="Register claim", actor="ann"), T0)
    execute(definition, state, commands.CompleteItem(item="Collect documents", actor="ann"), T0 + DAY)
    usual = TableModel({("", "Register claim"): 0.9, ("Register claim", "Collect documents"): 0.6})
    assert unusual_path(state, usual) is None
    rare = TableModel({("Register claim", "Collect documents"): 0.02})
    flag = unusual_path(state, rare)
    assert flag is not None and flag.id == "path:unusual" and flag.severity == "info"
    assert "'Collect documents' after Register claim" in flag.message and "2.0%" in flag.reason
    very_rare = TableModel({("Register claim", "Collect documents"): 0.001})
    found = assess(bundled_case_type("insurance_claim"), definition, state, FORM, T0 + DAY, next_action_model=very_rare)
    assert [f.id for f in found] == ["path:unusual"] and found[0].severity == "warning"
    almost_never = unusual_path(state, TableModel({("Register claim", "Collect documents"): 0.0001}))
    assert almost_never is not None and "probability <0.1% " in almost_never.reason  # it read "0.0%"


def test_a_broken_model_is_reported_not_raised() -> None:
    definition, state = claim(COMPLETE)
    execute(definition, state, commands.CompleteItem(item="Register claim", actor="ann"), T0)
    found = assess(bundled_case_type("insurance_claim"), definition, state, FORM, T0, next_action_model=BrokenModel())
    assert [f.id for f in found] == ["path:error"] and "model file missing" in found[0].message


def test_ended_case_gets_no_gap_or_sla_flags() -> None:
    definition, state = claim({"amount": 500})
    execute(definition, state, commands.TerminateCase(actor="sue"), T0)
    assert assess(bundled_case_type("insurance_claim"), definition, state, [], T0 + 40 * DAY) == []


def test_an_ended_case_keeps_no_rule_finding_it_could_never_act_on_nor_dismiss() -> None:
    # A repeat claimant's rule held before the case ended; afterwards its action (start the fraud check) is
    # impossible and the case refuses the dismissal too, so the finding must go with the case's end.
    definition, state = claim({**COMPLETE, "previousClaims": 4})
    assert "rule:repeat-claimant" in [f.id for f in assess(bundled_case_type("insurance_claim"), definition, state,
                                                            FORM, T0)]
    execute(definition, state, commands.TerminateCase(actor="sue"), T0)
    assert assess(bundled_case_type("insurance_claim"), definition, state, FORM, T0,
                  next_action_model=TableModel({})) == []


def test_a_decision_on_a_flag_a_learned_model_raised_names_that_models_version() -> None:
    from casework.insight.advisor import RemainingSeconds
    from casework.insight.rules import feedback_command

    class VersionedPaths(TableModel):
        version = "nba-paths-1"

    class VersionedRemaining(FixedRemaining):
        version = "nba-paths-1"

    definition, state = claim(COMPLETE)
    execute(definition, state, commands.CompleteItem(item="Register claim", actor="ann"), T0)
    found = {f.id: f for f in assess(bundled_case_type("insurance_claim"), definition, state, FORM, T0 + DAY,
                                     next_action_model=VersionedPaths({}),
                                     remaining_model=VersionedRemaining(60 * 86400.0))}
    for flag_id in ("path:unusual", "sla:risk"):
        (event,) = execute(definition, state, feedback_command(found[flag_id], accepted=False, actor="ann",
                                                               reason="known"), T0 + DAY)
        # acceptance rates are counted per model version: "" would pool every model's flags together
        assert event.payload["model_version"] == "nba-paths-1", flag_id
        assert event.payload["suggestion"]["model_version"] == "nba-paths-1"
    # a rule's finding has no model; one given explicitly still wins
    record = feedback_command(found["path:unusual"], accepted=True, actor="ann", model_version="other")
    assert record.model_version == "other"
    assert RemainingSeconds(object(), version="v9").version == "v9"  # type: ignore[arg-type]
