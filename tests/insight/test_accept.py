"""Accepting a suggestion stores its action and the record of the acceptance together, or neither."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import text

from casework.audit.verify import verify
from casework.demo import demo_model_xml
from casework.engine import CommandRejected, Event, commands, replay
from casework.insight.advisor import NextAction
from casework.insight.casetype import bundled_case_type
from casework.insight.flags import assess
from casework.insight.rules import Action, Finding, accept_command
from casework.service import CaseService, Conflict
from casework.store import Store
from casework.store.writes import CommandWrite

T0 = dt.datetime(2026, 3, 1, 9, tzinfo=dt.UTC)
CASE_TYPE = bundled_case_type("insurance_claim")


@pytest.fixture
def store(db_url: str, tmp_path: Path) -> Iterator[Store]:
    with Store.open(db_url, audit_key=tmp_path / "audit.key", blob_dir=tmp_path / "blobs") as opened:
        yield opened


@pytest.fixture
def service(store: Store) -> Iterator[CaseService]:
    with CaseService(store, clock=lambda: T0) as svc:
        svc.deploy(demo_model_xml("insurance_claim.cmmn"))
        yield svc


def _police_report(service: CaseService, case_id: str) -> Finding:
    """The finding a person sees on the case: a police report is missing; its action adds a task to request it."""
    row = service.store.case(case_id)
    assert row is not None
    _, definition = service.definition(row.definition_key, row.definition_version)
    (found,) = [f for f in assess(CASE_TYPE, definition, service.state(case_id), [], T0)
                if f.id == "missing-document:police_report"]
    assert found.action is not None and found.action.kind == "request_document"
    return found


def _types(store: Store, case_id: str) -> list[str]:
    return [e.type for e in store.events(case_id)]


def _task_rows(store: Store, case_id: str) -> int:
    with store.read() as conn:
        return int(conn.execute(text("SELECT count(*) FROM tasks WHERE case_id = :id"), {"id": case_id}).scalar_one())


def _open_tasks(service: CaseService, case_id: str) -> list[str]:
    return sorted(i.name for i in service.state(case_id).items.values() if i.kind == "humanTask" and i.open)


def _assert_log_is_the_state(service: CaseService, case_id: str) -> None:
    row = service.store.case(case_id)
    assert row is not None
    _, definition = service.definition(row.definition_key, row.definition_version)
    events = [Event.from_dict(e.engine_dict()) for e in service.store.events(case_id)]
    assert [e.seq for e in service.store.events(case_id)] == list(range(1, row.version + 1))
    fresh = CaseService(service.store)  # nothing cached: the snapshot and the events after it
    assert replay(definition, case_id, events).to_dict() == fresh.state(case_id).to_dict()
    report = verify(service.store)
    assert report.ok, report.problems


def test_an_acceptance_and_its_action_land_together(service: CaseService) -> None:
    case_id = service.start_case("insuranceClaim", {"amount": 12500}, actor="ann").case_id
    version = service.store.case(case_id).version  # type: ignore[union-attr]
    finding = _police_report(service, case_id)
    # The units of work the store is handed, by either path (a round of several commands, or one alone).
    writes: list[list[str]] = []
    real_round, real_one = service.store.write_commands, service.store.write

    def round_of(works):  # type: ignore[no-untyped-def]
        writes.extend([row["type"] for row in work.events] for work in works)
        return real_round(works)

    def one(work):  # type: ignore[no-untyped-def]
        if isinstance(work, CommandWrite):  # not a checkpoint's
            writes.append([row["type"] for row in work.events])
        return real_one(work)

    service.store.write_commands, service.store.write = round_of, one  # type: ignore[method-assign]
    result = service.execute(case_id, accept_command(finding, actor="ann", reason="the customer has one"))
    # One unit of work, one version check: the action's events and then the acceptance, numbered on from the case.
    assert writes == [[e.type for e in result.events]]
    assert result.events[-1].type == "suggestion_accepted" and result.events[0].type != "suggestion_accepted"
    stored = service.store.events(case_id)[version:]
    assert [e.seq for e in stored] == list(range(version + 1, version + 1 + len(result.events)))
    assert [e.type for e in stored] == [e.type for e in result.events] and result.version == stored[-1].seq
    assert stored[-1].payload["suggestion"]["id"] == "missing-document:police_report"
    assert stored[-1].reason == "the customer has one" and stored[-1].actor == "ann"
    assert any(name.startswith("Request") for name in _open_tasks(service, case_id))
    _assert_log_is_the_state(service, case_id)


def test_a_rejected_action_records_no_acceptance_and_changes_nothing(service: CaseService) -> None:
    case_id = service.start_case("insuranceClaim", {"amount": 12500}, actor="ann").case_id
    finding = _police_report(service, case_id)
    service.execute(case_id, accept_command(finding, actor="ann"))
    before = service.store.case(case_id)
    # The same suggestion accepted again from a stale screen: the task is open, so the action is refused, and no
    # second acceptance is counted.
    with pytest.raises(CommandRejected, match=r"part 1 of 2 \(AddItem\) was rejected, so none was done"):
        service.execute(case_id, accept_command(finding, actor="bob"))
    after = service.store.case(case_id)
    assert after is not None and before is not None and after.version == before.version
    assert _types(service.store, case_id).count("suggestion_accepted") == 1
    # A next-best action to plan an item the case cannot plan: refused as a whole.
    nothing = NextAction("Site visit", 0.6, "after Register claim, 60% did Site visit",
                         Action("plan", "Site visit", "plan Site visit"), "", "nba-1")
    with pytest.raises(CommandRejected, match=r"part 1 of 2 \(PlanItem\)"):
        service.execute(case_id, nothing.accept(actor="ann"))
    assert service.store.case(case_id).version == before.version  # type: ignore[union-attr]
    assert "suggestion_accepted" not in _types(service.store, case_id)[before.version:]
    _assert_log_is_the_state(service, case_id)


def test_a_failed_write_stores_neither_half(service: CaseService, store: Store) -> None:
    """The acceptance's row cannot be written (a trigger stands in for a crash between the two): the action's rows,
    written in the same transaction, are not stored either."""
    case_id = service.start_case("insuranceClaim", {"amount": 12500}, actor="ann").case_id
    version = store.case(case_id).version  # type: ignore[union-attr]
    finding = _police_report(service, case_id)
    tasks = _task_rows(store, case_id)
    with store.engine.begin() as conn:
        if store.is_sqlite:
            conn.execute(text("CREATE TRIGGER no_acceptance BEFORE INSERT ON events WHEN NEW.type = "
                              "'suggestion_accepted' BEGIN SELECT RAISE(ABORT, 'the disk is gone'); END"))
        else:
            conn.execute(text("CREATE FUNCTION no_acceptance() RETURNS trigger AS $$ BEGIN IF NEW.type = "
                              "'suggestion_accepted' THEN RAISE EXCEPTION 'the disk is gone'; END IF; RETURN NEW; "
                              "END $$ LANGUAGE plpgsql"))
            conn.execute(text("CREATE TRIGGER no_acceptance BEFORE INSERT ON events FOR EACH ROW "
                              "EXECUTE FUNCTION no_acceptance()"))
    with pytest.raises(Exception, match="the disk is gone"):
        service.execute(case_id, accept_command(finding, actor="ann"))
    assert store.case(case_id).version == version  # type: ignore[union-attr]
    assert len(store.events(case_id)) == version
    assert not any(name.startswith("Request") for name in _open_tasks(service, case_id))
    assert _task_rows(store, case_id) == tasks
    with store.engine.begin() as conn:
        conn.execute(text("DROP TRIGGER no_acceptance" + ("" if store.is_sqlite else " ON events")))
    # Once writes work again, the whole acceptance goes through.
    result = service.execute(case_id, accept_command(finding, actor="ann"))
    assert result.version == version + len(result.events) and result.events[-1].type == "suggestion_accepted"
    _assert_log_is_the_state(service, case_id)


def test_a_conflict_retries_both_or_neither(store: Store, service: CaseService) -> None:
    case_id = service.start_case("insuranceClaim", {"amount": 12500}, actor="ann").case_id
    finding = _police_report(service, case_id)
    service.state(case_id)
    service.execute(case_id, commands.SetVariables(variables={"claimant": "Ann Smith"}, actor="ann"))  # now cached
    other = CaseService(store, clock=lambda: T0)  # another process
    # Another writer changes the case behind this service's cached copy: the acceptance is judged again on the
    # stored case and lands whole after the other change.
    other.execute(case_id, commands.SetVariables(variables={"policyNumber": "AB-123456"}, actor="bob"))
    version = store.case(case_id).version  # type: ignore[union-attr]
    result = service.execute(case_id, accept_command(finding, actor="ann"))
    stored = store.events(case_id)
    assert [e.type for e in stored[version:]] == [e.type for e in result.events]
    assert stored[version - 1].type == "variables_set" and stored[version - 1].actor == "bob"
    assert [e.seq for e in stored[version:]] == list(range(version + 1, result.version + 1))
    # The other writer accepted the same suggestion first: on the new state the action no longer applies, so this
    # acceptance is not recorded either.
    second = service.start_case("insuranceClaim", {"amount": 12500}, actor="ann").case_id
    service.execute(second, commands.SetVariables(variables={"claimant": "Ann Smith"}, actor="ann"))  # cached
    other.execute(second, accept_command(_police_report(other, second), actor="bob"))
    version = store.case(second).version  # type: ignore[union-attr]
    with pytest.raises(Conflict, match="changed concurrently"):
        service.execute(second, accept_command(finding, actor="ann"))
    assert store.case(second).version == version  # type: ignore[union-attr]
    accepted = [e for e in store.events(second) if e.type == "suggestion_accepted"]
    assert [e.actor for e in accepted] == ["bob"]
    assert sum(name.startswith("Request") for name in _open_tasks(service, second)) == 1
    other.close()
    _assert_log_is_the_state(service, case_id)
    _assert_log_is_the_state(service, second)


def test_audit_verify_passes_after_acceptances(db_url: str, tmp_path: Path) -> None:
    from typer.testing import CliRunner

    from casework.cli import app

    with Store.open(db_url, audit_key=tmp_path / "audit.key", blob_dir=tmp_path / "blobs") as store, \
            CaseService(store, clock=lambda: T0) as service:
        service.deploy(demo_model_xml("insurance_claim.cmmn"))
        case_id = service.start_case("insuranceClaim", {"amount": 12500}, actor="ann").case_id
        finding = _police_report(service, case_id)
        service.execute(case_id, accept_command(finding, actor="ann"))
        with pytest.raises(CommandRejected):  # accepted again from a stale screen
            service.execute(case_id, accept_command(finding, actor="bob"))
    result = CliRunner().invoke(app, ["audit", "verify", "--db", db_url],
                                env={"CASEWORK_AUDIT_KEY": str(tmp_path / "audit.key"),
                                     "CASEWORK_BLOBS": str(tmp_path / "blobs")})
    assert result.exit_code == 0, result.output


def test_acceptances_gathered_into_one_round_each_land_whole(service: CaseService) -> None:
    import asyncio

    cases = [service.start_case("insuranceClaim", {"amount": 12500}, actor="ann").case_id for _ in range(4)]
    findings = {case_id: _police_report(service, case_id) for case_id in cases}
    versions = {case_id: service.store.case(case_id).version for case_id in cases}  # type: ignore[union-attr]

    async def accept_all() -> list[object]:
        # Two people accept the same suggestion on the first case at once: one acceptance stands.
        calls = [service.aexecute(c, accept_command(findings[c], actor="ann")) for c in cases]
        calls.append(service.aexecute(cases[0], accept_command(findings[cases[0]], actor="bob")))
        return await asyncio.gather(*calls, return_exceptions=True)

    outcomes = asyncio.run(accept_all())
    refused = [o for o in outcomes if isinstance(o, BaseException)]
    assert len(refused) == 1 and isinstance(refused[0], CommandRejected | Conflict), refused
    for case_id in cases:
        tail = _types(service.store, case_id)[versions[case_id]:]
        assert tail.count("suggestion_accepted") == 1 and tail[-1] == "suggestion_accepted"
        assert sum(name.startswith("Request") for name in _open_tasks(service, case_id)) == 1
        _assert_log_is_the_state(service, case_id)
