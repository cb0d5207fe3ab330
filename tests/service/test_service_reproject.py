"""`reproject` / `casework reproject`: a case's inbox rows rebuilt from its event log."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest
from helpers_service import T0, TIMER_MODEL, assert_projections_match, claim_xml
from sqlalchemy import text
from typer.testing import CliRunner

from casework.cli import app
from casework.engine import commands
from casework.export.importlog import import_log
from casework.service import CaseService, NotFound
from casework.service.service import _replace_inbox
from casework.store import Store, VersionMismatch


def _rows(store: Store, case_id: str) -> dict[str, list[tuple[object, ...]]]:
    out = {}
    with store.read() as conn:
        for table, cols in (("tasks", "item_id, state, owner, candidate_groups, candidate_users"),
                            ("task_groups", "item_id, group_name"), ("task_candidates", "item_id, user_name"),
                            ("participants", '"user", role')):
            rows = conn.execute(text(f"SELECT {cols} FROM {table} WHERE case_id = :c ORDER BY 1, 2"), {"c": case_id})
            out[table] = [tuple(r) for r in rows]
    return out


def _spoil(store: Store, case_id: str) -> None:
    """What an older casework left behind: no candidate users, a stale queue row, a lost participant."""
    with store.engine.begin() as conn:
        conn.execute(text("DELETE FROM task_candidates WHERE case_id = :c"), {"c": case_id})
        conn.execute(text("UPDATE tasks SET candidate_users = NULL WHERE case_id = :c"), {"c": case_id})
        conn.execute(text("INSERT INTO task_groups (group_name, case_id, item_id) VALUES ('gone', :c, 'i99')"),
                     {"c": case_id})
        conn.execute(text("DELETE FROM participants WHERE case_id = :c"), {"c": case_id})


@pytest.fixture
def svc(db_url: str, tmp_path: Path) -> CaseService:  # type: ignore[misc]
    store = Store.open(db_url, audit_key=tmp_path / "audit.key")
    service = CaseService(store, clock=lambda: T0)
    service.deploy(TIMER_MODEL)
    service.deploy(claim_xml())
    yield service
    service.close()
    store.close()


def _open_case(svc: CaseService, case_id: str) -> str:
    svc.start_case("timed", {}, case_id=case_id)
    svc.execute(case_id, commands.FireDueTimers(), now=T0 + timedelta(hours=2))  # Chase up: offered to dan, erin
    svc.execute(case_id, commands.AddParticipant(user="carol", role="specialist"))
    return case_id


def test_reproject_restores_exactly_what_the_state_says(svc: CaseService) -> None:
    case_id = _open_case(svc, "a")
    good = _rows(svc.store, case_id)
    assert good["task_candidates"] and good["participants"]
    _spoil(svc.store, case_id)
    assert _rows(svc.store, case_id) != good
    assert svc.reproject(case_id) is True
    assert _rows(svc.store, case_id) == good
    assert_projections_match(svc.store, svc.state(case_id), svc.definition("timed", 1)[1])
    svc.execute(case_id, commands.CompleteItem(item="Chase up", actor="dan"))  # commands carry on from there
    assert svc.store.tasks(candidate_user="dan") == []


def test_reproject_of_a_case_that_moved_on_writes_nothing(svc: CaseService) -> None:
    case_id = _open_case(svc, "a")
    _spoil(svc.store, case_id)
    spoiled = _rows(svc.store, case_id)
    head = svc.store.case_head(case_id)
    assert head is not None
    from casework.service import projection as proj

    changes = proj.changes(case_id, proj.NOTHING, proj.views(svc.state(case_id), svc.definition("timed", 1)[1]), T0)
    stale = head.version - 1
    with pytest.raises(VersionMismatch):
        svc.store.write(lambda conn: _replace_inbox(conn, case_id=case_id, version=stale, changes=changes))
    assert _rows(svc.store, case_id) == spoiled


def test_reproject_leaves_imported_cases_and_refuses_unknown_ones(svc: CaseService, tmp_path: Path) -> None:
    log = tmp_path / "old.csv"
    log.write_text("case_id,activity,timestamp,resource\nA,Register,2020-01-01T10:00:00,ann\n", encoding="utf-8")
    import_log(svc.store, log, "intake")
    imported = svc.store.case_id_for_business_key("old:A")
    assert imported is not None and svc.reproject(imported) is False
    with pytest.raises(NotFound):
        svc.reproject("nope")


def test_reproject_command(svc: CaseService, db_url: str) -> None:
    for case_id in ("a", "b"):
        _open_case(svc, case_id)
        _spoil(svc.store, case_id)
    closed = svc.start_case("claim", {"amount": 10}, case_id="c").case_id
    svc.execute(closed, commands.TerminateCase(actor="ann", reason="withdrawn"))
    result = CliRunner().invoke(app, ["reproject", "--db", db_url])
    assert result.exit_code == 0, result.output
    assert "reproject: 2 cases rebuilt" in result.output  # open cases only by default
    assert [t.case_id for t in svc.store.tasks(candidate_user="erin", states=("active",))] == ["a", "b"]
    result = CliRunner().invoke(app, ["reproject", "--db", db_url, "--closed"])
    assert "reproject: 3 cases rebuilt" in result.output
    _spoil(svc.store, "a")
    spoiled = _rows(svc.store, "a")
    missing = CliRunner().invoke(app, ["reproject", "--db", db_url, "--case", "a", "--case", "zz"])
    assert missing.exit_code == 2 and "no case zz" in missing.output
    assert _rows(svc.store, "a") == spoiled  # nothing rebuilt when one of the cases named does not exist
    one = CliRunner().invoke(app, ["reproject", "--db", db_url, "--case", "a"])
    assert one.exit_code == 0 and "reproject: 1 cases rebuilt" in one.output
    assert _rows(svc.store, "a") != spoiled
