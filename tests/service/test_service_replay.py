"""Random workloads through the service: for every case, replaying its stored events gives its stored snapshot."""

from __future__ import annotations

import random
from datetime import timedelta

import pytest
from helpers_service import T0, TIMER_MODEL, assert_stored_state_is_the_log, claim_xml, shared_path

from casework.audit.timetravel import state_at
from casework.audit.verify import verify
from casework.engine import CaseState, CommandRejected, Event, commands, replay
from casework.service import CaseService
from casework.store import Store


def _random_command(rng: random.Random, state: CaseState) -> object:
    open_items = [i for i in state.items.values() if i.id != state.root and i.open]
    actor = rng.choice(["ann", "bob", "carol"])
    roll = rng.random()
    if roll < 0.08:
        return commands.SetVariables(variables={"amount": rng.choice([10, 5000]), "note": rng.random()}, actor=actor)
    if roll < 0.12:
        return commands.AddParticipant(user=rng.choice(["dan", "eve"]), role="specialist", actor=actor)
    if roll < 0.15:
        return commands.FireDueTimers()
    if roll < 0.17 and state.participants:
        return commands.RemoveParticipant(user=rng.choice(sorted(state.participants)), actor=actor, reason="done")
    if roll < 0.19:
        return commands.AddItem(kind="humanTask", name=f"Call back {rng.randint(1, 9)}", assignee=actor,
                                candidate_groups=rng.choice([(), ("clerks",), ("fraud", "clerks")]),
                                candidate_users=rng.choice([(), ("dan",), ("dan", "erin")]),
                                due="P2D", actor=actor, reason="customer asked")
    if roll < 0.21:
        return commands.SetDue(item=None, due=rng.choice(["P5D", "PT4H"]), actor=actor, reason="SLA")
    if not open_items:
        return commands.TerminateCase(actor=actor, reason="nothing left")
    item = rng.choice(open_items)
    if roll < 0.25:
        return commands.Reassign(item=item.id, to=rng.choice(["ann", "bob", None]), actor=actor, reason="leave")
    if roll < 0.28:
        return commands.SetDue(item=item.id, due="P1D", actor=actor, reason="chase")
    if item.state == "enabled":
        return commands.StartItem(item=item.id, actor=actor)
    if item.kind in ("userEventListener", "milestone"):
        return commands.OccurEvent(item=item.id, actor=actor)
    if roll < 0.2:
        return commands.TerminateItem(item=item.id, actor=actor, reason="not needed")
    return commands.CompleteItem(item=item.id, actor=actor)


def test_replay_equals_snapshot_after_random_workload(db_url: str, tmp_path) -> None:  # type: ignore[no-untyped-def]
    rng = random.Random(20240501)
    store = Store.open(db_url, audit_key=tmp_path / "audit.key")
    svc = CaseService(store, checkpoint_every=25)
    keys = [svc.deploy(claim_xml())[0], svc.deploy(TIMER_MODEL)[0]]
    models = sorted(shared_path("cmmn", "models", "casework").glob("*.cmmn"))
    keys += [svc.deploy(p.read_text(encoding="utf-8"))[0] for p in models]
    now = T0
    case_ids = []
    for i in range(18):
        key = keys[i % len(keys)]
        try:
            case_ids.append(svc.start_case(key, {"amount": rng.choice([10, 5000])}, now=now).case_id)
        except CommandRejected:
            continue
    applied = rejected = 0
    for _ in range(250):
        now += timedelta(minutes=rng.randint(1, 90))
        case_id = rng.choice(case_ids)
        state = svc.state(case_id)
        if state.ended:
            continue
        try:
            svc.execute(case_id, _random_command(rng, state), now=now)
            applied += 1
        except CommandRejected:
            rejected += 1
    assert applied > 50
    seen = {e.type for case_id in case_ids for e in store.events(case_id)}
    assert {"reassign", "set_due", "add_participant", "remove_participant", "timer_scheduled"} <= seen, sorted(seen)
    for case_id in case_ids:
        assert_stored_state_is_the_log(store, case_id)
        row = store.case(case_id)
        assert row is not None
        _, definition = svc.definition(row.definition_key, row.definition_version)
        events = [Event.from_dict(e.engine_dict()) for e in store.events(case_id)]
        # Time travel to the middle of the case agrees with replaying that prefix.
        half = max(1, len(events) // 2)
        assert state_at(store, case_id, seq=half).to_dict() == replay(definition, case_id, events[:half]).to_dict()
    report = verify(store)
    assert report.ok, report.problems
    store.close()


def test_a_case_stored_with_names_no_command_takes_now_loads_replays_and_goes_on(
        svc: CaseService, monkeypatch: pytest.MonkeyPatch) -> None:
    # Written by a casework from before names were checked and kept in NFC (`casework.names`): an actor with a
    # zero-width space, an owner with a right-to-left override, a task named in NFD.
    case_id = svc.start_case("claim", {"amount": 10}, actor="ann").case_id
    with monkeypatch.context() as before_names_were_checked:
        before_names_were_checked.setattr(commands, "check_fields", lambda command: command)
        svc.execute(case_id, commands.AddItem(kind="humanTask", name="Call Jose\u0301", assignee="bo\u202eb",
                                              actor="bo\u200bb"))
    stored = [(e.actor, e.payload.get("name")) for e in svc.store.events(case_id) if e.type == "add_task"]
    assert stored == [("bo\u200bb", "Call Jose\u0301")]
    other = CaseService(svc.store, clock=lambda: T0)  # nothing cached: the case read from the store
    assert {i.name: i.owner for i in other.state(case_id).items.values()}["Call Jose\u0301"] == "bo\u202eb"
    assert_stored_state_is_the_log(svc.store, case_id)
    # It goes on: the old task is named by its id, new names are checked.
    (old,) = [i.id for i in other.state(case_id).items.values() if i.name == "Call Jose\u0301"]
    other.execute(case_id, commands.Reassign(item=old, to="bob", actor="ann"))
    with pytest.raises(CommandRejected, match=r"Reassign.to contains U\+202E"):
        other.execute(case_id, commands.Reassign(item=old, to="bo\u202eb", actor="ann"))
    assert verify(svc.store).ok
