from __future__ import annotations

import datetime as dt

from casework.engine.events import Event
from casework.insight.acceptance import NEXT_BEST_ACTION, acceptance, subject_of
from casework.insight.advisor import NextAction
from casework.insight.rules import Action, Flag, Suggestion, feedback_command


def _next_action(activity: str, version: str) -> NextAction:
    return NextAction(activity, 0.7, f"after X, 70% did {activity}", Action("plan", activity, f"plan {activity}"), "",
                      version)


def _event(feedback: object, at: str) -> Event:
    """The event the engine records for a feedback command (as `adaptive._feedback` writes it)."""
    cmd = feedback
    kind = "suggestion_accepted" if cmd.accepted else "suggestion_dismissed"  # type: ignore[attr-defined]
    payload = {"suggestion": cmd.suggestion, "model_version": cmd.model_version}  # type: ignore[attr-defined]
    return Event(kind, at, cmd.actor, cmd.reason, payload)  # type: ignore[attr-defined]


POLICE = Flag("missing-document:police_report", "Missing document: police report", "warning", "required", "gap",
              Action("request_document", "police_report", "request document: police report"))
FRAUD = Suggestion("rule:fraud_check", "Check for fraud", "warning", "amount > 10000", "rule",
                   Action("add_task", "Fraud check", "add task: Fraud check"))


def _history() -> list[tuple[str, Event]]:
    docs_v1, docs_v2 = _next_action("Request documents", "nba-v1"), _next_action("Request documents", "nba-v2")
    approve_v1 = _next_action("Approve", "nba-v1")
    return [
        ("c1", _event(docs_v1.feedback(accepted=True, actor="ann"), "2026-03-01T09:00:00+00:00")),
        ("c1", _event(approve_v1.feedback(accepted=False, actor="ann", reason="too early"), "2026-03-01T09:05:00Z")),
        ("c2", _event(approve_v1.feedback(accepted=False, actor="bob", reason=" too early "), "2026-03-02T10:00:00Z")),
        ("c2", _event(approve_v1.feedback(accepted=False, actor="bob"), "2026-03-02T11:00:00Z")),
        ("c3", _event(docs_v2.feedback(accepted=True, actor="cy"), "2026-03-05T08:00:00+02:00")),
        ("c1", _event(feedback_command(POLICE, accepted=True, actor="ann"), "2026-03-01T09:10:00Z")),
        ("c2", _event(feedback_command(POLICE, accepted=False, actor="bob", reason="sent by post"),
                      "2026-03-02T12:00:00Z")),
        ("c3", _event(feedback_command(FRAUD, accepted=True, actor="cy"), "2026-03-05T09:00:00Z")),
        ("c3", Event("item_transition", "2026-03-05T09:00:00Z", "cy", None, {"id": "t1"})),  # not feedback
    ]


def test_rates_per_rule_flag_and_model_version() -> None:
    rows = {(r.subject, r.model_version): r for r in acceptance(_history())}
    assert sorted(rows) == [
        ("missing-document:police_report", ""),
        (NEXT_BEST_ACTION, "nba-v1"),
        (NEXT_BEST_ACTION, "nba-v2"),
        ("rule:fraud_check", ""),
    ]
    v1 = rows[(NEXT_BEST_ACTION, "nba-v1")]
    assert (v1.accepted, v1.dismissed, v1.decisions) == (1, 3, 4)
    assert v1.rate == 0.25 and v1.cases == {"c1", "c2"} and v1.people == {"ann", "bob"}
    assert v1.top_reasons(3) == [("too early", 2), ("(no reason given)", 1)]  # reasons trimmed, then counted
    assert (v1.first_at, v1.last_at) == ("2026-03-01T09:00:00+00:00", "2026-03-02T11:00:00Z")
    police = rows[("missing-document:police_report", "")]
    assert (police.accepted, police.dismissed, police.rate) == (1, 1, 0.5)
    assert rows[("rule:fraud_check", "")].rate == 1.0
    assert rows[(NEXT_BEST_ACTION, "nba-v2")].to_dict()["acceptance_rate"] == 1.0


def test_rows_per_activity_and_a_period() -> None:
    by_activity = {(r.model_version, r.activity): r.rate for r in acceptance(_history(), by_activity=True)
                   if r.subject == NEXT_BEST_ACTION}
    assert by_activity == {("nba-v1", "Approve"): 0.0, ("nba-v1", "Request documents"): 1.0,
                           ("nba-v2", "Request documents"): 1.0}
    # 2026-03-05T08:00+02:00 is 06:00 UTC: before 07:00 UTC, though its text sorts after it
    since = dt.datetime(2026, 3, 2, tzinfo=dt.UTC)
    until = dt.datetime(2026, 3, 5, 7, tzinfo=dt.UTC)
    rows = acceptance(_history(), since=since, until=until)
    assert [(r.subject, r.model_version, r.accepted, r.dismissed) for r in rows] == [
        ("missing-document:police_report", "", 0, 1),
        (NEXT_BEST_ACTION, "nba-v1", 0, 2),
        (NEXT_BEST_ACTION, "nba-v2", 1, 0),
    ]
    assert acceptance(_history(), since=dt.datetime(2027, 1, 1, tzinfo=dt.UTC)) == []


def test_the_latest_decision_is_found_across_time_zones() -> None:
    flag = feedback_command(POLICE, accepted=True, actor="ann")
    rows = acceptance([("c1", _event(flag, "2026-03-01T10:00:00+02:00")),
                       ("c2", _event(flag, "2026-03-01T09:00:00Z"))])
    assert (rows[0].first_at, rows[0].last_at) == ("2026-03-01T10:00:00+02:00", "2026-03-01T09:00:00Z")


def test_a_finding_answered_again_in_an_older_log_counts_once() -> None:
    # Logs written before a finding could be answered only once may hold it accepted twice (or accepted, then
    # dismissed at the same severity): the first answer counts. More severe, it is a new question.
    accepted = feedback_command(POLICE, accepted=True, actor="ann")
    worse = Flag(POLICE.id, POLICE.message, "critical", POLICE.reason, POLICE.source, POLICE.action)
    log = [("c1", _event(accepted, "2026-03-01T09:00:00Z")),
           ("c1", _event(feedback_command(POLICE, accepted=True, actor="bob"), "2026-03-01T09:01:00Z")),
           ("c1", _event(feedback_command(POLICE, accepted=False, actor="bob", reason="x"), "2026-03-01T09:02:00Z")),
           ("c2", _event(accepted, "2026-03-01T09:03:00Z")),
           ("c1", _event(feedback_command(worse, accepted=False, actor="cy", reason="y"), "2026-03-01T09:04:00Z"))]
    (row,) = acceptance(log)
    assert (row.accepted, row.dismissed, row.cases, row.people) == (2, 1, {"c1", "c2"}, {"ann", "cy"})
    # An answer before the period still makes its repeat inside it a duplicate.
    assert acceptance(log, since=dt.datetime(2026, 3, 1, 9, 1, tzinfo=dt.UTC))[0].decisions == 2


def test_subjects() -> None:
    assert subject_of(_next_action("Approve", "v").to_dict()) == NEXT_BEST_ACTION
    assert subject_of(POLICE.to_dict()) == "missing-document:police_report"
    assert subject_of({"kind": "flag", "activity": "x"}) == "flag"
