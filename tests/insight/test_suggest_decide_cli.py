"""`casework suggest accept|dismiss`: a person's decision on a suggestion, from the command line."""

from __future__ import annotations

import datetime as dt
import json
import re
from pathlib import Path
from typing import Any

import pytest
from findings_text import finding_block
from insight_synth import timing_log, write_log
from typer.testing import CliRunner

from casework.cli import app
from casework.engine import commands
from casework.service import CaseService
from casework.store import Store
from casework.store.writes import CommandWrite

runner = CliRunner()
NOW = dt.datetime(2026, 3, 1, 9, tzinfo=dt.UTC)
WIDE = {"COLUMNS": "300"}


@pytest.fixture(scope="module")
def model(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, str]:
    """A model trained on claims: after Register claim every case did Assess damage; Approve and Pay never."""
    folder = tmp_path_factory.mktemp("model")
    log = write_log(folder / "claims.csv.gz", timing_log(300))
    path = folder / "model.json.gz"
    trained = runner.invoke(app, ["suggest", "train", str(log), "--out", str(path), "--trained-at", "20260301"])
    assert trained.exit_code == 0, trained.output
    version = trained.stdout.split("version: ")[1].split()[0]
    return path, version



def _cw(*args: str) -> Any:
    return runner.invoke(app, list(args), env=WIDE)


def _events(url: str, case_id: str) -> list[Any]:
    with Store.open(url) as store:
        return store.events(case_id)


def _open_tasks(url: str, case_id: str) -> list[str]:
    with Store.open(url) as store, CaseService(store) as service:
        return sorted(i.name for i in service.state(case_id).items.values() if i.kind == "humanTask" and i.open)


def _units_of_work(monkeypatch: pytest.MonkeyPatch) -> list[list[str]]:
    """The event types of each unit of work the store is handed (a round of commands, or one alone)."""
    units: list[list[str]] = []
    real_round, real_one = Store.write_commands, Store.write

    def round_of(self: Store, works: Any) -> Any:
        units.extend([row["type"] for row in work.events] for work in works)
        return real_round(self, works)

    def one(self: Store, work: Any) -> Any:
        if isinstance(work, CommandWrite):  # not a checkpoint's
            units.append([row["type"] for row in work.events])
        return real_one(self, work)

    monkeypatch.setattr(Store, "write_commands", round_of)
    monkeypatch.setattr(Store, "write", one)
    return units


def _assert_audit_ok(url: str) -> None:
    verified = _cw("audit", "verify", "--db", url)
    assert verified.exit_code == 0 and " ok" in verified.stdout, verified.output


def _feedback(url: str) -> list[dict[str, Any]]:
    result = _cw("suggest", "feedback", "--db", url, "--json")
    assert result.exit_code == 0, result.output
    rows: list[dict[str, Any]] = json.loads(result.stdout)
    return rows


def test_accepting_a_next_best_action_adds_its_task_and_the_record_in_one_unit(
    claim: tuple[str, str], model: tuple[Path, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    url, case_id = claim
    path, version = model
    before = len(_events(url, case_id))
    shown = _cw("suggest", "case", case_id, "--db", url, "--model", str(path), "--min-probability", "0")
    assert "add task: Approve" in shown.stdout  # what the person saw
    units = _units_of_work(monkeypatch)
    result = _cw("suggest", "accept", case_id, "--db", url, "--model", str(path), "--min-probability", "0",
                 "--activity", "Approve", "--as", "bob", "--reason", "a clear case")
    assert result.exit_code == 0, result.output
    assert result.stdout.startswith("accepted: add task: Approve (<1%: ") and version in result.stdout
    monkeypatch.undo()
    added = _events(url, case_id)[before:]
    # One unit of work: the action's events, then the acceptance, numbered on from the case's version.
    assert units == [[e.type for e in added]]
    assert added[0].type == "add_task" and added[-1].type == "suggestion_accepted"
    assert [e.seq for e in added] == list(range(before + 1, before + 1 + len(added)))
    record = added[-1]
    assert record.actor == "bob" and record.reason == "a clear case"
    assert record.payload["model_version"] == version
    suggestion = record.payload["suggestion"]
    assert suggestion["activity"] == "Approve" and suggestion["model_version"] == version
    assert 0 <= suggestion["probability"] < 0.01 and "similar cases did Approve next" in suggestion["reason"]
    assert "Approve" in _open_tasks(url, case_id)
    (row,) = _feedback(url)
    assert row["model_version"] == version and row["accepted"] == 1 and row["dismissed"] == 0
    _assert_audit_ok(url)


def test_accepting_a_flag_runs_its_action_with_the_record(claim: tuple[str, str]) -> None:
    url, case_id = claim
    # `suggest flags` shows the id (and the case) a decision names; the case type comes from the stored finding.
    assert _cw("suggest", "refresh", "--db", url, "--case-type", "insurance_claim").exit_code == 0
    flags = _cw("suggest", "flags", "--db", url, "--case", case_id)
    assert "missing-document:police_report" in flags.stdout
    case = _cw("suggest", "case", case_id, "--db", url, "--case-type", "insurance_claim")
    assert "missing-document:police_report" in case.stdout
    before = len(_events(url, case_id))
    result = _cw("suggest", "accept", case_id, "--db", url, "--finding", "missing-document:police_report",
                 "--actor", "ann")
    assert result.exit_code == 0, result.output
    assert "request document: police report" in result.stdout
    added = _events(url, case_id)[before:]
    assert added[0].type == "add_task" and added[-1].type == "suggestion_accepted"
    assert [e.seq for e in added] == list(range(before + 1, before + 1 + len(added)))
    assert added[-1].payload["suggestion"]["id"] == "missing-document:police_report" and added[-1].reason is None
    assert "Request police report" in _open_tasks(url, case_id)
    rows = {row["subject"]: row for row in _feedback(url)}
    assert rows["missing-document:police_report"]["accepted"] == 1
    _assert_audit_ok(url)


def test_a_dismissal_is_recorded_with_its_reason_and_the_finding_is_not_offered_again(
    claim: tuple[str, str], model: tuple[Path, str]
) -> None:
    url, case_id = claim
    path, version = model
    assert _cw("suggest", "refresh", "--db", url, "--case-type", "insurance_claim").exit_code == 0
    before = len(_events(url, case_id))
    result = _cw("suggest", "dismiss", case_id, "--db", url, "--case-type", "insurance_claim", "--as", "ann",
                 "--finding", "missing-document:police_report", "--reason", "sent by post")
    assert result.exit_code == 0, result.output
    (record,) = _events(url, case_id)[before:]
    assert record.type == "suggestion_dismissed" and record.reason == "sent by post" and record.actor == "ann"
    assert not any(name.startswith("Request") for name in _open_tasks(url, case_id))  # nothing else changed
    shown = _cw("suggest", "case", case_id, "--db", url, "--case-type", "insurance_claim")
    assert "missing-document:police_report" not in shown.stdout and "missing-document:claim_form" in shown.stdout
    # The stored findings were judged again with the decision: `suggest flags` no longer lists it either.
    flags = _cw("suggest", "flags", "--db", url, "--case", case_id)
    assert "missing-document:police_report" not in flags.stdout and "missing-document:claim_form" in flags.stdout
    again = _cw("suggest", "dismiss", case_id, "--db", url, "--case-type", "insurance_claim", "--as", "bob",
                "--finding", "missing-document:police_report", "--reason", "still by post")
    assert again.exit_code == 2 and again.output.startswith("error: no finding 'missing-document:police_report' is "
                                                            "offered on case")
    # A next-best action is dismissed under its model's version.
    nba = _cw("suggest", "dismiss", case_id, "--db", url, "--model", str(path), "--activity", "Assess damage",
              "--as", "ann", "--reason", "waiting for the workshop")
    assert nba.exit_code == 0, nba.output
    assert len(_events(url, case_id)) == before + 2
    rows = {row["subject"]: row for row in _feedback(url)}
    police = rows["missing-document:police_report"]
    assert police["dismissed"] == 1 and police["dismiss_reasons"] == [{"reason": "sent by post", "count": 1}]
    assert rows["next-best action"]["model_version"] == version and rows["next-best action"]["dismissed"] == 1
    _assert_audit_ok(url)


def _held(url: str, case_id: str) -> dict[str, Any]:
    """The case as it stands, but for the answers a decision adds and the version its event counts."""
    with Store.open(url) as store, CaseService(store) as service:
        state = service.state(case_id).to_dict()
    state.pop("answered", None)
    state.pop("version")
    return state


def test_a_suggestion_is_dismissed_on_a_suspended_case_counted_and_nothing_else_moves(
    claim: tuple[str, str], model: tuple[Path, str]
) -> None:
    url, case_id = claim
    path, version = model
    assert _cw("suggest", "refresh", "--db", url, "--case-type", "insurance_claim").exit_code == 0
    held = _cw("case", "suspend", case_id, "--db", url, "--as", "ann", "--reason", "waiting for the police report")
    assert held.exit_code == 0, held.output
    before, seq = _held(url, case_id), len(_events(url, case_id))
    finding = _cw("suggest", "dismiss", case_id, "--db", url, "--case-type", "insurance_claim", "--as", "bob",
                  "--finding", "missing-document:repair_estimate", "--reason", "the car was written off")
    assert finding.exit_code == 0, finding.output
    assert finding.stdout.startswith(f"dismissed: missing-document:repair_estimate (Missing document: repair "
                                     f"estimate), request document: repair estimate on case {case_id} by bob")
    nba = _cw("suggest", "dismiss", case_id, "--db", url, "--model", str(path), "--activity", "Assess damage",
              "--as", "bob", "--reason", "nothing to assess until the report")
    assert nba.exit_code == 0, nba.output
    records = _events(url, case_id)[seq:]
    assert [(e.type, e.actor, e.reason) for e in records] == [
        ("suggestion_dismissed", "bob", "the car was written off"),
        ("suggestion_dismissed", "bob", "nothing to assess until the report")]
    assert records[1].payload["model_version"] == version
    # Nothing in the plan moved: the case is on hold as it was, its items where they were.
    assert _held(url, case_id) == before and before["status"] == "suspended"
    # The stored findings were judged again with the decision, as on a running case.
    flags = _cw("suggest", "flags", "--db", url, "--case", case_id)
    assert "missing-document:repair_estimate" not in flags.stdout and "missing-document:police_report" in flags.stdout
    # Counted in the acceptance rates like any dismissal.
    rows = {row["subject"]: row for row in _feedback(url)}
    estimate = rows["missing-document:repair_estimate"]
    assert (estimate["decisions"], estimate["accepted"], estimate["dismissed"]) == (1, 0, 1)
    assert estimate["dismiss_reasons"] == [{"reason": "the car was written off", "count": 1}]
    assert rows["next-best action"]["model_version"] == version and rows["next-best action"]["dismissed"] == 1
    # Accepting still waits for the resume: its action would act on the plan on hold.
    accept = _cw("suggest", "accept", case_id, "--db", url, "--case-type", "insurance_claim", "--as", "bob",
                 "--finding", "missing-document:police_report")
    assert accept.exit_code == 2 and accept.stderr.startswith(f"error: case {case_id} is suspended: resume it first "
                                                              f"(`casework case resume {case_id} "), accept.output
    assert len(_events(url, case_id)) == seq + 2
    resumed = _cw("case", "resume", case_id, "--db", url, "--as", "ann", "--reason", "report arrived")
    assert resumed.exit_code == 0, resumed.output
    again = _cw("suggest", "accept", case_id, "--db", url, "--case-type", "insurance_claim", "--as", "bob",
                "--finding", "missing-document:police_report")
    assert again.exit_code == 0, again.output
    _assert_audit_ok(url)


def test_a_finding_id_is_read_without_the_spaces_around_it(claim: tuple[str, str]) -> None:
    """As pasted from the table `suggest case` prints; it was looked for with its spaces and 'not offered'."""
    url, case_id = claim
    before = len(_events(url, case_id))
    dismissed = _cw("suggest", "dismiss", case_id, "--db", url, "--case-type", "insurance_claim", "--as", "ann",
                    "--finding", " missing-document:police_report ", "--reason", "sent by post")
    assert dismissed.exit_code == 0, dismissed.output
    (record,) = _events(url, case_id)[before:]
    assert record.type == "suggestion_dismissed"
    assert record.payload["suggestion"]["id"] == "missing-document:police_report"
    accepted = _cw("suggest", "accept", case_id, "--db", url, "--case-type", "insurance_claim", "--as", "ann",
                   "--finding", "\tmissing-document:claim_form  ")
    assert accepted.exit_code == 0, accepted.output
    assert _events(url, case_id)[-1].payload["suggestion"]["id"] == "missing-document:claim_form"


def test_errors_are_one_line_and_write_nothing(claim: tuple[str, str], model: tuple[Path, str]) -> None:
    url, case_id = claim
    path, _ = model
    finding = ["--finding", "missing-document:police_report", "--case-type", "insurance_claim"]
    activity = ["--activity", "Assess damage", "--model", str(path)]
    wrong = {
        "no case nope": ["accept", "nope", *finding, "--as", "ann"],
        "no finding 'rule:nothing' is offered": ["accept", case_id, "--finding", "rule:nothing",
                                                 "--case-type", "insurance_claim", "--as", "ann"],
        "'Pay' is not a next best action": ["accept", case_id, "--activity", "Pay", "--model", str(path),
                                            "--as", "ann"],
        "a dismissal needs a reason": ["dismiss", case_id, *finding, "--as", "ann", "--reason", "  "],
        "Missing option '--reason'": ["dismiss", case_id, *finding, "--as", "ann"],
        "Missing option '--as'": ["accept", case_id, *finding],
        "--as needs the name": ["accept", case_id, *finding, "--as", " "],
        "--finding needs the id": ["dismiss", case_id, "--finding", " ", "--case-type", "insurance_claim",
                                   "--as", "ann", "--reason", "x"],
        "name the suggestion": ["accept", case_id, *finding, *activity, "--as", "ann"],
        "--activity needs --model": ["accept", case_id, "--activity", "Assess damage", "--as", "ann"],
        "no stored finding of case": ["accept", case_id, "--finding", "missing-document:police_report",
                                      "--as", "ann"],
    }
    before = len(_events(url, case_id))

    def refused(args: list[str], expected: str) -> None:
        result = _cw("suggest", *args, "--db", url)
        assert result.exit_code == 2, (args, result.output)
        assert result.output.startswith("error: ") and result.output.count("\n") == 1, result.output
        assert expected in result.output, result.output
        assert len(_events(url, case_id)) == before

    for expected, args in wrong.items():
        refused(args, expected)
    # The case moved on since the suggestion was shown: Assess damage was done, and a claimant was filled in.
    with Store.open(url) as store, CaseService(store, clock=lambda: NOW) as service:
        service.execute(case_id, commands.CompleteItem(item="Assess damage", actor="ann"))
        service.execute(case_id, commands.SetVariables(variables={"claimant": "Ann Smith"}, actor="ann"))
    before = len(_events(url, case_id))
    refused(["accept", case_id, *activity, "--as", "ann"], "'Assess damage' is not a next best action for case")
    refused(["accept", case_id, "--finding", "missing-field:claimant", "--case-type", "insurance_claim", "--as",
             "ann"], "no finding 'missing-field:claimant' is offered")
    # An ended case takes no decision, accepted or dismissed.
    with Store.open(url) as store, CaseService(store, clock=lambda: NOW) as service:
        service.execute(case_id, commands.TerminateCase(actor="ann", reason="withdrawn"))
    before = len(_events(url, case_id))
    refused(["accept", case_id, *finding, "--as", "ann"], f"case {case_id} is terminated")
    refused(["dismiss", case_id, *finding, "--as", "ann", "--reason", "x"], "it takes no more decisions")
    _assert_audit_ok(url)


def test_a_name_from_the_model_is_echoed_with_its_control_characters_escaped(
    claim: tuple[str, str], tmp_path: Path
) -> None:
    url, case_id = claim
    # A log's activity names are whoever wrote the log's: one holding an ESC sequence became a suggested task's name.
    rows = [(case, "Approve\x1b[2J" if activity == "Approve" else activity, when, who)
            for case, activity, when, who in timing_log(300)]
    log = write_log(tmp_path / "claims.csv.gz", rows)
    path = tmp_path / "model.json.gz"
    trained = runner.invoke(app, ["suggest", "train", str(log), "--out", str(path), "--trained-at", "20260301"])
    assert trained.exit_code == 0, trained.output
    result = _cw("suggest", "accept", case_id, "--db", url, "--model", str(path), "--min-probability", "0",
                 "--activity", "Approve\x1b[2J", "--as", "bob")
    # No task takes such a name (`casework.names`): it is shown as no action, and accepting it is refused before
    # anything runs, naming the character, not echoing it.
    assert result.exit_code == 2 and "\x1b" not in result.output
    assert "cannot be done now, so it cannot be accepted: it cannot be added as a task: a task name contains U+001B " \
           "(a control character)" in " ".join(result.stderr.split())
    shown = _cw("suggest", "case", case_id, "--db", url, "--model", str(path), "--min-probability", "0", "--k", "9")
    assert shown.exit_code == 0 and "no action for: Approve\\x1b[2J (not now: it cannot be added as a task" in \
        " ".join(shown.stdout.split())


def test_a_suggestion_accepted_is_not_accepted_again_and_counts_once(
    claim: tuple[str, str], model: tuple[Path, str]
) -> None:
    url, case_id = claim
    path, _ = model
    decisions = {
        # its action adds a task (which would also refuse a second time, without saying it was accepted)
        "missing-document:police_report": ["--finding", "missing-document:police_report",
                                           "--case-type", "insurance_claim"],
        # the person fills the field in: the acceptance is the record alone
        "missing-field:claimant": ["--finding", "missing-field:claimant", "--case-type", "insurance_claim"],
        # a next action: adds its task, and is then offered as "open" the task
        "next-best action": ["--activity", "Approve", "--model", str(path), "--min-probability", "0"],
    }
    for args in decisions.values():
        first = _cw("suggest", "accept", case_id, "--db", url, *args, "--as", "ann")
        assert first.exit_code == 0, first.output
    before = len(_events(url, case_id))
    for args in decisions.values():
        again = _cw("suggest", "accept", case_id, "--db", url, *args, "--as", "bob")
        assert again.exit_code == 2 and again.output.count("\n") == 1, again.output
        assert again.output.startswith("error: nothing recorded: ") and " by ann at 2026-" in again.output
        assert "already accepted" in again.output
    assert len(_events(url, case_id)) == before
    rows = {row["subject"]: row for row in _feedback(url)}
    assert {s: (rows[s]["accepted"], rows[s]["people"]) for s in decisions} == {s: (1, 1) for s in decisions}
    _assert_audit_ok(url)


def test_suggest_case_says_who_accepted_a_finding_where_its_action_was_offered(claim: tuple[str, str]) -> None:
    url, case_id = claim
    accepted = _cw("suggest", "accept", case_id, "--db", url, "--finding", "missing-field:claimant",
                   "--case-type", "insurance_claim", "--as", "ann")
    assert accepted.exit_code == 0, accepted.output
    shown = _cw("suggest", "case", case_id, "--db", url, "--case-type", "insurance_claim")
    assert shown.exit_code == 0, shown.output
    claimant, police = (finding_block(shown.output, i) for i in ("missing-field:claimant",
                                                                  "missing-document:police_report"))
    assert "do accepted by ann" in claimant
    assert "accepted" not in police  # not answered: still offered as it was


def test_a_decision_whose_record_could_not_be_sealed_is_refused_before_it_is_written(
    claim: tuple[str, str], tmp_path: Path
) -> None:
    url, case_id = claim  # sealed as the fixture's service closed: the database has an audit key
    before = _events(url, case_id)
    result = runner.invoke(app, ["suggest", "dismiss", case_id, "--db", url, "--case-type", "insurance_claim",
                                 "--as", "ann", "--finding", "missing-document:police_report", "--reason", "by post"],
                           env={**WIDE, "CASEWORK_AUDIT_KEY": str(tmp_path / "moved.key")})
    assert result.exit_code == 2 and result.stdout == "", result.output
    assert result.stderr.startswith("error: nothing recorded: no audit key at "), result.stderr
    assert _events(url, case_id) == before  # it was stored, then reported as an error: done twice when retried


def test_suggest_flags_says_who_accepted_or_dismissed_a_finding_and_when(claim: tuple[str, str]) -> None:
    url, case_id = claim
    assert _cw("suggest", "refresh", "--db", url, "--case-type", "insurance_claim").exit_code == 0
    listed = _cw("suggest", "flags", "--db", url, "--case", case_id, "--json")
    findings = {row["finding_id"]: row for row in json.loads(listed.stdout)}
    assert {row["answer"] for row in findings.values()} == {None}  # nothing answered yet
    accepted = _cw("suggest", "accept", case_id, "--db", url, "--finding", "missing-document:police_report",
                   "--as", "ann")
    assert accepted.exit_code == 0, accepted.output
    # Dismissed by a service no case type watches: the stored findings still list it until the next refresh.
    claim_form = findings["missing-document:claim_form"]
    with Store.open(url) as store, CaseService(store, clock=lambda: NOW) as service:
        service.execute(case_id, commands.RecordFeedback(
            suggestion={"kind": claim_form["kind"], "id": "missing-document:claim_form",
                        "severity": claim_form["severity"]},
            accepted=False, actor="bob", reason="on paper"))
    table = _cw("suggest", "flags", "--db", url, "--case", case_id)
    assert table.exit_code == 0, table.output
    police = finding_block(table.stdout, "missing-document:police_report")
    assert re.search(r"do accepted by ann, \d{4}-\d\d-\d\d \d\d:\d\d UTC \(", police), police
    form = finding_block(table.stdout, "missing-document:claim_form")
    assert "dismissed by bob, 2026-03-01 09:00 UTC" in form
    answers = {row["finding_id"]: row["answer"]
               for row in json.loads(_cw("suggest", "flags", "--db", url, "--case", case_id, "--json").stdout)}
    assert answers["missing-document:claim_form"] == {"accepted": False, "by": "bob", "at": "2026-03-01T09:00:00Z"}
    assert answers["missing-document:police_report"]["accepted"] is True
    assert answers["missing-document:police_report"]["by"] == "ann"
    in_amsterdam = runner.invoke(app, ["suggest", "flags", "--db", url, "--case", case_id],
                                 env={**WIDE, "CASEWORK_TIMEZONE": "Europe/Amsterdam"})
    assert "dismissed by bob, 2026-03-01 10:00 CET" in in_amsterdam.stdout


def _lose_events_after_the_snapshot(url: str, case_id: str) -> None:
    """The case row says its events after seq 1 replay onto its snapshot, and one of them is gone from the log."""
    from sqlalchemy import text

    with Store.open(url) as store, store.engine.begin() as conn:
        if store.is_sqlite:
            conn.execute(text("DROP TRIGGER IF EXISTS events_no_delete"))
        else:
            conn.execute(text("ALTER TABLE events DISABLE TRIGGER events_append_only"))
        conn.execute(text("UPDATE cases SET snapshot_version = 1 WHERE id = :c"), {"c": case_id})
        conn.execute(text("DELETE FROM events WHERE case_id = :c AND seq = 2"), {"c": case_id})


def test_a_case_whose_log_lost_events_is_one_line_not_a_traceback(claim: tuple[str, str]) -> None:
    url, case_id = claim
    assert _cw("suggest", "refresh", "--db", url, "--case-type", "insurance_claim").exit_code == 0
    _lose_events_after_the_snapshot(url, case_id)
    case = _cw("suggest", "case", case_id, "--db", url, "--case-type", "insurance_claim")
    assert case.exit_code == 2, case.output
    assert case.stderr.startswith(f"error: case {case_id}: events ") and "casework audit verify" in case.stderr
    assert len(case.stderr.splitlines()) == 1, case.stderr
    # The flags stored for it are still listed: only whether they were answered cannot be told.
    flags = _cw("suggest", "flags", "--db", url, "--case", case_id)
    assert flags.exit_code == 0, flags.output
    assert "missing-document:police_report" in flags.stdout
    assert flags.stderr.startswith(f"warning: case {case_id}: events ")
