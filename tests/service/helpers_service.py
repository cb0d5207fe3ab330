"""Shared bits for the service tests (models from the shared corpus, never copied into the repo)."""

from __future__ import annotations

import threading
from datetime import UTC, datetime
from pathlib import Path

import pytest
from sqlalchemy import create_engine, text
from sqlalchemy.pool import NullPool

from casework.engine import CaseState
from casework.model import CaseDefinition
from casework.paths import shared_dir
from casework.store import Store
from casework.store.url import parse_url

T0 = datetime(2024, 5, 1, 9, 0, tzinfo=UTC)

TIMER_MODEL = """<?xml version="1.0" encoding="UTF-8"?>
<definitions xmlns="http://www.omg.org/spec/CMMN/20151109/MODEL" xmlns:flowable="http://flowable.org/cmmn"
             targetNamespace="urn:test">
  <case id="timed" name="Timed">
    <casePlanModel id="plan" name="Timed">
      <planItem id="piWork" name="Work" definitionRef="work"/>
      <planItem id="piTimer" name="Reminder" definitionRef="timer"/>
      <planItem id="piChase" name="Chase up" definitionRef="chase">
        <entryCriterion id="ecChase" sentryRef="sTimer"/>
      </planItem>
      <sentry id="sTimer">
        <planItemOnPart id="onTimer" sourceRef="piTimer"><standardEvent>occur</standardEvent></planItemOnPart>
      </sentry>
      <humanTask id="work" name="Work" flowable:candidateGroups="clerks, seniors"/>
      <humanTask id="chase" name="Chase up" flowable:candidateGroups="clerks" flowable:candidateUsers="dan, erin"/>
      <timerEventListener id="timer" name="Reminder"><timerExpression>PT1H</timerExpression></timerEventListener>
    </casePlanModel>
  </case>
</definitions>
"""


def shared_path(*parts: str) -> Path:
    root = shared_dir()
    if root is None:
        pytest.skip("the shared corpus (../shared) is not available")
    path = root.joinpath(*parts)
    if not path.exists():
        pytest.skip(f"{path} is missing")
    return path


def claim_xml() -> str:
    return shared_path("bench", "claim.cmmn").read_text(encoding="utf-8")


def hold_writes(store: Store, method: str = "write") -> tuple[threading.Event, threading.Event]:
    """Makes `store.<method>` (`write` or `write_commands`) wait until released: returns (a write is waiting, the
    release). Once released, writes go through at once."""
    writing, release = threading.Event(), threading.Event()
    real = getattr(store, method)

    def held(work):  # type: ignore[no-untyped-def]
        writing.set()
        assert release.wait(timeout=30)
        return real(work)

    setattr(store, method, held)
    return writing, release


def record_rounds(store: Store) -> list[int]:
    """Makes `store` record how many commands each group write (`write_commands`) carried, in the list returned."""
    rounds: list[int] = []
    real_write_commands = store.write_commands

    def record(works):  # type: ignore[no-untyped-def]
        rounds.append(len(works))
        return real_write_commands(works)

    store.write_commands = record  # type: ignore[method-assign]
    return rounds


def assert_stored_state_is_the_log(store: Store, case_id: str) -> None:
    """What is stored for a case agrees with its event log: the snapshot is the replay of the events up to its
    snapshot_version, and the state a service with an empty cache loads (snapshot + later events) is the replay of
    the whole log."""
    from casework.engine import Event, replay
    from casework.service import CaseService

    row = store.case(case_id)
    assert row is not None
    assert 1 <= row.snapshot_version <= row.version
    svc = CaseService(store)  # a new service: nothing cached
    _, definition = svc.definition(row.definition_key, row.definition_version)
    events = [Event.from_dict(e.engine_dict()) for e in store.events(case_id)]
    assert len(events) == row.version
    assert replay(definition, case_id, events).to_dict() == svc.state(case_id).to_dict()
    # The snapshot alone: the replay of its prefix (the definition does not matter to replay before a migration,
    # and after one the snapshot is always rewritten).
    assert replay(definition, case_id, events[: row.snapshot_version]).to_dict() == row.snapshot
    assert_projections_match(store, svc.state(case_id), svc.definition(row.definition_key, row.definition_version)[1])


def assert_projections_match(store: Store, state: CaseState, definition: CaseDefinition) -> None:
    """The inbox, group queue, candidate, participant and job rows of a case are exactly what its state says."""
    from casework.engine import plan_for
    from casework.service import projection as proj

    stored_tasks = {
        r.item_id: (r.def_id, r.name, r.kind, r.state, r.owner, ",".join(r.candidate_groups) or None,
                    ",".join(r.candidate_users) or None, r.due_at)
        for r in store.tasks(case_id=state.case_id, limit=100_000)
    }
    expected_view, expected_queued, expected_offered = proj.task_view(state, plan_for(definition, state).items)
    expected_tasks = {item_id: (*row[:7], proj.parse_time(row[7])) for item_id, row in expected_view.items()}
    assert stored_tasks == expected_tasks
    with store.read() as conn:
        queued = conn.execute(
            text("SELECT item_id, group_name FROM task_groups WHERE case_id = :c"), {"c": state.case_id}
        ).all()
        offered = conn.execute(
            text("SELECT item_id, user_name FROM task_candidates WHERE case_id = :c"), {"c": state.case_id}
        ).all()
    assert {(i, g) for i, g in queued} == expected_queued
    assert {(i, u) for i, u in offered} == expected_offered
    assert set(store.participants(state.case_id)) == proj.participant_pairs(state)
    for kind, view in (("timer", dict(state.timers)), ("sla", proj.sla_view(state))):
        stored = {j.ref: j.due_at for j in store.jobs(case_id=state.case_id, kind=kind)}
        assert stored == {ref: proj.parse_time(due) for ref, due in view.items()}, kind


class Backends:
    """Terminates the PostgreSQL sessions of one application_name, from a session of its own: only a test's own
    sessions, which it named so, never other users' of the same server."""

    def __init__(self, base: str, name: str) -> None:
        self.name = name
        self.admin = create_engine(parse_url(base), isolation_level="AUTOCOMMIT", poolclass=NullPool)

    def terminate(self, pid: int | None = None, *, wait: bool = False) -> int:
        """Terminate the sessions (or the one of `pid`); `wait`: until each has ended, so that its client can see
        the connection closed (a server restart leaves the pool's connections so)."""
        where = "application_name = :name" + ("" if pid is None else " AND pid = :pid")
        timeout = ", 10000" if wait else ""
        with self.admin.connect() as conn:
            return int(conn.execute(text(f"SELECT count(pg_terminate_backend(pid{timeout})) FROM pg_stat_activity "
                                         f"WHERE {where}"), {"name": self.name, "pid": pid}).scalar_one())
