"""`casework case show|explain|history`: a case as it stands (as text or JSON), why, and its audit trail, on the
organisation's clock."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from casework.cli import app
from casework.demo import demo_model_xml
from casework.engine import commands
from casework.service import CaseService
from casework.store import Store

runner = CliRunner()
T0 = dt.datetime(2026, 6, 1, 7, 30, tzinfo=dt.UTC)  # 09:30 in Amsterdam (summer time)
WIDE = {"COLUMNS": "300", "CASEWORK_TIMEZONE": "Europe/Amsterdam"}


@pytest.fixture
def claim(db_url: str, tmp_path: Path) -> tuple[str, str]:
    """(database URL, case id) of a claim registered by ann, with a participant, a reassignment and an added task."""
    with Store.open(db_url, audit_key=tmp_path / "audit.key") as store, CaseService(store, clock=lambda: T0) as svc:
        svc.deploy(demo_model_xml("insurance_claim.cmmn"))
        case_id = svc.start_case("insuranceClaim", {"amount": 12500}, actor="ann", business_key="CL-7").case_id
        svc.execute(case_id, commands.CompleteItem(item="Register claim", actor="ann"))
        svc.execute(case_id, commands.AddParticipant(user="carol", role="specialist", actor="ann"))
        svc.execute(case_id, commands.Reassign(item="Fraud check", to="bob", actor="ann", reason="fraud team"))
        svc.execute(case_id, commands.AddItem(kind="humanTask", name="Consult specialist", due="P1D", actor="ann",
                                              reason="fraud indicator"))
    return db_url, case_id


def test_show_gives_status_definition_data_participants_and_the_plan(claim: tuple[str, str]) -> None:
    db_url, case_id = claim
    result = runner.invoke(app, ["case", "show", case_id, "--db", db_url], env=WIDE)
    assert result.exit_code == 0, result.output
    lines = result.stdout.splitlines()
    assert lines[:4] == [f"case {case_id}: active", "definition: insuranceClaim@1", "business key: CL-7",
                         "started: 2026-06-01 09:30 CEST; last change: 2026-06-01 09:30 CEST"]
    assert "participants: carol (specialist)" in lines and "  amount = 12500" in lines
    rows = {cells[0].strip(): cells[1:] for cells in
            ([c.strip() for c in line.split("│")[1:-1]] for line in lines if line.startswith("│"))}
    assert rows["Register claim"][2] == "completed"
    assert rows["Fraud check"][2:4] == ["active", "bob"]
    assert rows["Consult specialist"][2:] == ["active", "", "2026-06-02 09:30 CEST"]  # due on the local clock


def test_show_json_gives_the_same_facts_under_stable_keys(claim: tuple[str, str]) -> None:
    db_url, case_id = claim
    text = runner.invoke(app, ["case", "show", case_id, "--db", db_url], env=WIDE)
    result = runner.invoke(app, ["case", "show", case_id, "--json", "--db", db_url], env=WIDE)
    assert result.exit_code == 0, result.output
    shown = json.loads(result.stdout)
    assert list(shown) == ["id", "state", "definition", "version", "business_key", "started", "last_change", "due",
                           "participants", "data", "plannable", "items"]
    assert {k: shown[k] for k in list(shown)[:8]} == {
        "id": case_id, "state": "active", "definition": "insuranceClaim", "version": 1, "business_key": "CL-7",
        "started": "2026-06-01T07:30:00+00:00", "last_change": "2026-06-01T07:30:00+00:00", "due": None}
    assert (shown["participants"], shown["data"]) == ({"carol": ["specialist"]}, {"amount": 12500})
    assert shown["plannable"] == ["Expert opinion", "Site visit"]
    assert "can be planned: Expert opinion, Site visit" in text.stdout.splitlines()
    items = {item["name"]: item for item in shown["items"]}
    assert list(items["Fraud check"]) == ["id", "name", "kind", "state", "skipped", "owner", "due", "stage"]
    assert items["Fraud check"] | {"id": None} == {"id": None, "name": "Fraud check", "kind": "humanTask",
                                                   "state": "active", "skipped": False, "owner": "bob", "due": None,
                                                   "stage": items["Assessment"]["id"]}
    assert (items["Assessment"]["stage"], items["Consult specialist"]["due"]) == (None, "2026-06-02T07:30:00+00:00")
    # Every item the text view lists, under the same id, in the same order.
    rows = [[c.strip() for c in line.split("│")[1:-1]] for line in text.stdout.splitlines() if line.startswith("│")]
    assert [(row[0], row[1], row[3]) for row in rows] == [(i["name"], i["id"], i["state"]) for i in shown["items"]]


def test_history_lists_every_event_with_time_actor_what_and_reason(claim: tuple[str, str]) -> None:
    db_url, case_id = claim
    result = runner.invoke(app, ["case", "history", case_id, "--db", db_url], env=WIDE)
    assert result.exit_code == 0, result.output
    rows = [[c.strip() for c in line.split("│")[1:-1]] for line in result.stdout.splitlines() if line.startswith("│")]
    with Store.open(db_url) as store:
        events = store.events(case_id)
    assert [int(r[0]) for r in rows] == [e.seq for e in events]
    assert {r[1] for r in rows} == {"2026-06-01 09:30 CEST"}
    assert ["ann", "reassign", "Fraud check -> bob", "fraud team"] in [r[2:] for r in rows]
    assert ["ann", "item_transition", "Register claim: active -> completed", ""] in [r[2:] for r in rows]
    assert ["ann", "add_task", "Consult specialist", "fraud indicator"] in [r[2:] for r in rows]


def _history(db_url: str, case_id: str) -> list[list[str]]:
    result = runner.invoke(app, ["case", "history", case_id, "--db", db_url], env=WIDE)
    assert result.exit_code == 0, result.output
    return [[c.strip() for c in line.split("│")[1:-1]][3:5] for line in result.stdout.splitlines()
            if line.startswith("│")]


def test_history_says_what_an_imported_case_did_and_what_a_migration_and_a_timer_were(
    claim: tuple[str, str], tmp_path: Path
) -> None:
    # These events were shown by the ids in their payloads or not at all: an imported case's trail was two rows
    # with nothing under "what", and a migration did not say to which version.
    db_url, case_id = claim
    log = tmp_path / "legacy.csv"
    log.write_text("case_id,activity,timestamp,resource\nA-1,Register claim,2026-05-01T10:00:00,dora\n"
                   "A-1,Pay claimant,2026-05-02T10:00:00,\n")
    imported = runner.invoke(app, ["import-log", str(log), "--definition", "insuranceClaim", "--db", db_url],
                             env={**WIDE, "CASEWORK_AUDIT_KEY": str(tmp_path / "audit.key")})
    assert imported.exit_code == 0, imported.output
    with Store.open(db_url) as store:
        legacy = store.case_id_for_business_key("legacy:A-1")
    assert legacy is not None
    assert _history(db_url, legacy) == [["case_imported", "case A-1 of legacy.csv"],
                                        ["imported_activity", "Register claim by dora"],
                                        ["imported_activity", "Pay claimant"]]
    with Store.open(db_url, audit_key=tmp_path / "audit.key") as store, CaseService(store, clock=lambda: T0) as svc:
        key, version = svc.deploy(demo_model_xml("insurance_claim.cmmn").replace('"Fraud check"', '"Fraud review"'))
        svc.execute(case_id, commands.Migrate(definition=svc.definition(key, version)[1], version=str(version),
                                                  actor="ann"))
    rows = _history(db_url, case_id)
    assert ["migrate", "to insuranceClaim version 2"] in rows
    assert ["timer_scheduled", "Chase documents due 2026-06-03 09:30 CEST"] in rows


def test_explain_says_what_an_item_and_the_case_wait_for(claim: tuple[str, str]) -> None:
    db_url, case_id = claim
    result = runner.invoke(app, ["case", "explain", case_id, "Pay claimant", "--db", db_url], env=WIDE)
    assert result.exit_code == 0, result.output
    lines = result.stdout.splitlines()
    assert lines[0] == "'Pay claimant' waits for its entry criterion:"
    assert any("Decide claim complete: waiting" in line for line in lines[1:])
    case = runner.invoke(app, ["case", "explain", case_id, "--db", db_url], env=WIDE)
    assert case.exit_code == 0, case.output
    assert case.stdout.splitlines()[0].endswith("cannot complete yet:")
    assert "Consult specialist is active (active)" in case.stdout  # the added task holds the case open


def test_explain_of_an_item_the_case_does_not_have_is_bad_input(claim: tuple[str, str]) -> None:
    result = runner.invoke(app, ["case", "explain", claim[1], "Nope", "--db", claim[0]], env=WIDE)
    assert result.exit_code == 2 and result.stdout == ""
    assert result.stderr == "error: no item 'Nope' in this case\n"


@pytest.mark.parametrize("command", ["show", "explain", "history"])
def test_an_unknown_case_is_bad_input(claim: tuple[str, str], command: str) -> None:
    result = runner.invoke(app, ["case", command, "nope", "--db", claim[0]], env=WIDE)
    assert result.exit_code == 2 and result.stdout == ""
    assert result.stderr == "error: no case nope\n"
