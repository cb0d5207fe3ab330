"""`casework tasks`: the inbox from the command line, on a store filled through the service."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import update
from typer.testing import CliRunner

from casework.cli import app
from casework.engine import commands
from casework.service import CaseService
from casework.store import Store
from casework.store import schema as t

T0 = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
MODEL = """<definitions xmlns="http://www.omg.org/spec/CMMN/20151109/MODEL" xmlns:flowable="http://flowable.org/cmmn"
             targetNamespace="urn:test">
  <case id="permit" name="Permit" flowable:initiatorVariableName="initiator">
    <casePlanModel id="plan" name="Permit">
      <planItem id="pCheck" definitionRef="check"/>
      <planItem id="pVisit" definitionRef="visit"/>
      <planItem id="pDone" definitionRef="done"/>
      <humanTask id="check" name="Check plans" flowable:assignee="${initiator}"/>
      <humanTask id="visit" name="Visit site" flowable:candidateGroups="inspectors, seniors"
                 flowable:candidateUsers="eve"/>
      <milestone id="done" name="Decided"/>
    </casePlanModel>
  </case>
</definitions>
"""


@pytest.fixture
def filled(db_url: str, tmp_path: Path) -> str:
    with Store.open(db_url, audit_key=tmp_path / "audit.key") as store, CaseService(store) as svc:
        svc.deploy(MODEL)
        for n, who in enumerate(("ann", "bob")):
            case_id = svc.start_case("permit", {}, case_id=f"p{n}", actor=who, now=T0).case_id
            if who == "bob":
                svc.execute(case_id, commands.SetDue(item="Visit site", due="P2D", actor="bob"), now=T0)
        svc.start_case("permit", {}, case_id="p2", actor="cy", now=T0)
        svc.execute("p2", commands.Reassign(item="Visit site", to="dee", actor="dee", reason="claimed"), now=T0)
    return db_url


def _run(db: str, *args: str) -> list[dict[str, object]]:
    result = CliRunner().invoke(app, ["tasks", "--db", db, "--json", *args])
    assert result.exit_code == 0, result.output
    return [json.loads(line) for line in result.output.splitlines()]


def test_tasks_by_owner_group_and_due_date(filled: str) -> None:
    assert [(r["case_id"], r["name"]) for r in _run(filled, "--owner", "ann")] == [("p0", "Check plans")]
    queue = _run(filled, "--group", "seniors", "--unassigned")
    # soonest due first, undated last, on both databases
    assert [(r["case_id"], r["due_at"]) for r in queue] == [("p1", "2026-03-04T09:00:00+00:00"), ("p0", None)]
    assert queue[0]["candidate_groups"] == ["inspectors", "seniors"]
    assert _run(filled, "--due-before", "2026-03-05") == queue[:1]
    claimed = [(r["case_id"], r["owner"]) for r in _run(filled, "--group", "seniors") if r["owner"]]
    assert claimed == [("p2", "dee")]  # still in the group's queue, no longer left to claim
    every_kind = _run(filled, "--case", "p0", "--kind", "milestone", "--kind", "humanTask", "--state", "completed",
                      "--state", "active")
    assert sorted((r["name"], r["state"]) for r in every_kind) == [
        ("Check plans", "active"), ("Decided", "completed"), ("Visit site", "active")]
    table = CliRunner().invoke(app, ["tasks", "--db", filled, "--group", "inspectors"])
    assert table.exit_code == 0 and "Visit site" in table.output and "3 tasks" in table.output


def test_tasks_of_a_name_typed_with_spaces_around_it(filled: str) -> None:
    # the case commands store " dee " as dee, and `tasks --owner " dee "` listed nothing
    assert _run(filled, "--owner", " dee ") == _run(filled, "--owner", "dee") != []
    assert _run(filled, "--group", "seniors ", "--unassigned") == _run(filled, "--group", "seniors", "--unassigned")
    assert _run(filled, "--candidate", " eve") == _run(filled, "--candidate", "eve") != []
    assert _run(filled, "--case", "p0 ") == _run(filled, "--case", "p0") != []


def test_tasks_offered_to_a_candidate_user(filled: str) -> None:
    offered = _run(filled, "--candidate", "eve")
    assert [(r["case_id"], r["owner"], r["candidate_users"]) for r in offered] == [
        ("p1", None, ["eve"]), ("p0", None, ["eve"]), ("p2", "dee", ["eve"])]
    assert [r["case_id"] for r in _run(filled, "--candidate", "eve", "--unassigned")] == ["p1", "p0"]
    assert _run(filled, "--candidate", "ann") == []
    table = CliRunner().invoke(app, ["tasks", "--db", filled, "--candidate", "eve"])
    assert table.exit_code == 0 and "eve" in table.output and "3 tasks" in table.output


def test_due_before_honours_the_utc_offset(filled: str) -> None:
    # Visit site in p1 is due 2026-03-04T09:00Z. SQLite compared the wall-clock time and dropped the offset.
    assert _run(filled, "--due-before", "2026-03-04T12:00:00+05:00") == []  # 07:00Z
    assert [r["case_id"] for r in _run(filled, "--due-before", "2026-03-04T05:00:00-05:00")] == ["p1"]  # 10:00Z
    with Store.open(filled) as store:
        early = datetime.fromisoformat("2026-03-04T13:59:00+05:00")  # 08:59Z
        assert store.tasks(due_before=early) == []
        assert [r.case_id for r in store.tasks(due_before=early + timedelta(minutes=1))] == ["p1"]


def test_times_without_an_offset_are_the_organisations_clock(filled: str, monkeypatch: pytest.MonkeyPatch) -> None:
    # Visit site in p1 is due 2026-03-04T09:00Z, 10:00 in Amsterdam (winter time).
    assert [r["case_id"] for r in _run(filled, "--due-before", "2026-03-04T09:30")] == ["p1"]  # UTC by default
    monkeypatch.setenv("CASEWORK_TIMEZONE", "Europe/Amsterdam")
    assert _run(filled, "--due-before", "2026-03-04T09:30") == []  # 08:30Z
    assert [r["case_id"] for r in _run(filled, "--due-before", "2026-03-04T10:00")] == ["p1"]
    shown = CliRunner().invoke(app, ["tasks", "--db", filled, "--case", "p1"], env={"COLUMNS": "200"})
    assert "2026-03-04 10:00 CET" in shown.output, shown.output
    monkeypatch.delenv("CASEWORK_TIMEZONE")
    shown = CliRunner().invoke(app, ["tasks", "--db", filled, "--case", "p1"], env={"COLUMNS": "200"})
    assert "2026-03-04 09:00 UTC" in shown.output, shown.output


def test_an_unknown_state_is_refused_naming_the_states(filled: str) -> None:
    result = CliRunner().invoke(app, ["tasks", "--db", filled, "--state", "active", "--state", "bogus"])
    assert result.exit_code == 2
    assert "unknown state 'bogus'" in result.output and "completed" in result.output


def test_a_bad_date_is_refused(filled: str) -> None:
    result = CliRunner().invoke(app, ["tasks", "--db", filled, "--due-before", "next tuesday"], env={"COLUMNS": "200"})
    assert result.exit_code == 2 and "is not an ISO-8601 date or time" in result.output


@pytest.mark.parametrize("command", [["audit", "verify"], ["tasks"], ["export", "--format", "csv", "-o", "out.csv"]])
def test_a_missing_sqlite_database_is_an_error_not_a_new_empty_one(tmp_path: Path, command: list[str]) -> None:
    missing = tmp_path / "typo" / "casework.db"
    result = CliRunner().invoke(app, [*command, "--db", f"sqlite:///{missing}"])
    assert result.exit_code == 2
    assert f"no database at {missing}" in result.output
    assert not missing.exists() and not missing.parent.exists()


def test_a_file_that_is_not_a_database_is_named_in_one_line(tmp_path: Path) -> None:
    junk = tmp_path / "notes.txt"
    junk.write_text("not a database\n" * 100)
    result = CliRunner().invoke(app, ["audit", "verify", "--db", f"sqlite:///{junk}"])
    assert result.exit_code == 2
    assert result.output.strip() == f"error: cannot open the database sqlite:///{junk}: file is not a database"
    assert junk.read_text() == "not a database\n" * 100


def test_an_unreachable_server_is_named_without_its_password() -> None:
    result = CliRunner().invoke(app, ["audit", "verify", "--db", "postgresql://ann:s3cret@127.0.0.1:1/cases"])
    assert result.exit_code == 2
    assert result.output.startswith("error: cannot open the database postgresql://ann:***@127.0.0.1:1/cases: ")
    assert "s3cret" not in result.output and "Traceback" not in result.output


def test_a_path_with_spaces_and_accents_is_named_as_typed(tmp_path: Path) -> None:
    junk = tmp_path / "ä b" / "notes.txt"
    junk.parent.mkdir()
    junk.write_text("not a database\n" * 100)
    result = CliRunner().invoke(app, ["audit", "verify", "--db", f"sqlite:///{junk}"])
    assert result.exit_code == 2
    assert result.output == f"error: cannot open the database sqlite:///{junk}: file is not a database\n"


@pytest.mark.parametrize("command", [["tasks"], ["demo"], ["audit", "checkpoint"]])
def test_a_folder_given_as_the_database_is_named_as_a_folder(tmp_path: Path, command: list[str]) -> None:
    folder = tmp_path / "cases"
    folder.mkdir()
    result = CliRunner().invoke(app, [*command, "--db", f"sqlite:///{folder}/"])
    assert result.exit_code == 2
    assert result.output == (f"error: {folder} is a folder, not a database file: name the file, e.g. --db "
                             f"sqlite:///{folder}/casework.db\n")
    assert list(folder.iterdir()) == []


def test_names_are_printed_literally_with_control_characters_escaped(db_url: str, tmp_path: Path) -> None:
    # Names come from whoever adds a task or works a case, and `tasks` prints them on someone else's terminal: rich
    # markup in one ("[/bold]") failed the whole listing, and an ESC sequence cleared the screen (or set the clipboard).
    # A command no longer takes such a name (`casework.names`); a database may hold them from before.
    with Store.open(db_url, audit_key=tmp_path / "audit.key") as store, CaseService(store) as svc:
        svc.deploy(MODEL)
        case_id = svc.start_case("permit", {}, case_id="p0", actor="ann", now=T0).case_id
        renames = {"Pay": "Pay [/bold] [red]now\x1b[2J", "Invoice": "invoice\u202egnp.exe"}
        for name in renames:
            svc.execute(case_id, commands.AddItem(kind="humanTask", name=name, assignee="eve", actor="ann"), now=T0)
        store.write(lambda conn: [conn.execute(update(t.tasks).where(t.tasks.c.name == name).values(name=stored))
                                  for name, stored in renames.items()])
    result = CliRunner().invoke(app, ["tasks", "--db", db_url, "--owner", "eve"], env={"COLUMNS": "200"})
    assert result.exit_code == 0, result.output
    assert "Pay [/bold] [red]now\\x1b[2J" in result.output and "invoice\\u202egnp.exe" in result.output
    assert "\x1b" not in result.output and "\u202e" not in result.output


def test_a_long_bad_option_value_is_quoted_by_its_start(filled: str) -> None:
    for option in ("--due-before", "--state"):
        result = CliRunner().invoke(app, ["tasks", "--db", filled, option, "y" * 50_000], env={"COLUMNS": "200"})
        assert result.exit_code == 2 and "(50,000 characters)" in result.output, result.output
        assert "y" * 81 not in result.output.replace("\n", "").replace(" ", "").replace("│", "")


DUE_MODEL = """<definitions xmlns="http://www.omg.org/spec/CMMN/20151109/MODEL" xmlns:flowable="http://flowable.org/cmmn"
             targetNamespace="urn:test">
  <case id="claim" name="Claim"><casePlanModel id="plan" name="Claim">
    <planItem id="pCall" definitionRef="call"/>
    <planItem id="pPay" definitionRef="pay"><itemControl><manualActivationRule/></itemControl></planItem>
    <humanTask id="call" name="Call customer" flowable:dueDate="${callWithin}"/>
    <humanTask id="pay" name="Pay out" flowable:dueDate="P5D"/>
  </casePlanModel></case>
</definitions>
"""


def test_tasks_show_the_due_time_a_model_gives_counted_from_when_each_task_started(db_url: str, tmp_path: Path) -> None:
    with Store.open(db_url, audit_key=tmp_path / "audit.key") as store, CaseService(store) as svc:
        svc.deploy(DUE_MODEL)
        svc.start_case("claim", {"callWithin": "PT4H"}, case_id="k1", actor="ann", now=T0)
        svc.execute("k1", commands.StartItem(item="Pay out", actor="ann"), now=T0 + timedelta(days=1))
    rows = _run(db_url, "--case", "k1")
    assert [(r["name"], r["due_at"]) for r in rows] == [
        ("Call customer", "2026-03-02T13:00:00+00:00"), ("Pay out", "2026-03-08T09:00:00+00:00")]
    assert [r["name"] for r in _run(db_url, "--due-before", "2026-03-03")] == ["Call customer"]
    table = CliRunner().invoke(app, ["tasks", "--db", db_url, "--case", "k1"], env={"COLUMNS": "200"})
    assert table.exit_code == 0 and "2026-03-02" in table.output and "2026-03-08" in table.output, table.output


def test_an_empty_database_is_refused_naming_the_commands_that_set_it_up(db_url: str, tmp_path: Path) -> None:
    # a new PostgreSQL database (here a fresh schema) or an empty SQLite file: what a first run on it meets
    if db_url.startswith("sqlite"):
        Path(db_url.removeprefix("sqlite:///")).touch()
    env = {"CASEWORK_AUDIT_KEY": str(tmp_path / "audit.key"), "CASEWORK_BLOBS": str(tmp_path / "blobs")}
    refused = CliRunner().invoke(app, ["case", "start", "permit", "--as", "ann", "--db", db_url], env=env)
    assert refused.exit_code == 2
    assert refused.output == (f"error: {db_url} is empty, not yet a casework database: `casework deploy`, "
                              "`casework import-log` or `casework demo` sets it up\n")
    model = tmp_path / "permit.cmmn"
    model.write_text(MODEL)
    assert CliRunner().invoke(app, ["deploy", str(model), "--db", db_url], env=env).exit_code == 0
    started = CliRunner().invoke(app, ["case", "start", "permit", "--as", "ann", "--db", db_url], env=env)
    assert started.exit_code == 0, started.output
