from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest
from typer.testing import CliRunner

from casework.cli import app
from casework.store import DEFAULT_DB


def test_the_stored_demo_ends_with_commands_that_look_at_its_case_in_its_database(tmp_path: Path) -> None:
    db = f"sqlite:///{tmp_path / 'demo.db'}"
    result = CliRunner().invoke(app, ["demo", "--db", db], env={"COLUMNS": "80", "CASEWORK_DB": None})
    assert result.exit_code == 0, result.output
    lines = result.stdout.splitlines()
    (stored,) = [line for line in lines if line.startswith("case ") and " is stored in " in line]
    case_id = stored.split()[1]
    tail = lines[lines.index("look at it with:") + 1:lines.index("work on the open claims with:")]
    assert tail == [
        f"  casework audit verify --db {db}",
        f"  casework audit state-at {case_id} --seq 10 --db {db}",
        f"  casework tasks --case {case_id} --state completed --db {db}",
        f"  casework export --format xes -o claims.xes --db {db}",
    ]
    for command in (tail[0].split()[1:], tail[2].split()[1:]):
        assert CliRunner().invoke(app, command).exit_code == 0
    milestones = ["tasks", "--db", db, "--case", case_id, "--kind", "milestone", "--state", "completed"]
    one = CliRunner().invoke(app, milestones, env={"COLUMNS": "200"})
    assert one.exit_code == 0 and one.stdout.split("\n")[0].strip() == "1 task"  # not "1 tasks"


def test_the_stored_demo_dates_no_event_after_it_ran(tmp_path: Path) -> None:
    from casework.store import Store

    db = f"sqlite:///{tmp_path / 'demo.db'}"
    result = CliRunner().invoke(app, ["demo", "--db", db], env={"COLUMNS": "80", "CASEWORK_DB": None})
    ran_until = dt.datetime.now(dt.UTC)
    assert result.exit_code == 0, result.output
    with Store.open(db) as store:
        stamps = [dt.datetime.fromisoformat(event.at) for case in store.case_ids() for event in store.events(case)]
    assert len(stamps) > 100 and max(stamps) <= ran_until


def test_the_demo_hint_needs_no_db_option_for_the_default_or_casework_db(monkeypatch: pytest.MonkeyPatch) -> None:
    from casework.demo.cli import next_commands

    monkeypatch.delenv("CASEWORK_DB", raising=False)
    assert next_commands("c1", DEFAULT_DB)[0] == "casework audit verify"
    # A password is not printed; the URL is quoted for the shell (`*`).
    assert next_commands("c1", "postgresql://ann:secret@h/db")[0] == "casework audit verify --db 'postgresql://ann:***@h/db'"
    monkeypatch.setenv("CASEWORK_DB", "postgresql://ann:secret@h/db")
    assert next_commands("c1", "postgresql://ann:secret@h/db")[1] == "casework audit state-at c1 --seq 10"
