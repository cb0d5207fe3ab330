"""Two writers with their own connections complete the same task at once: one wins, the other gets Conflict."""

from __future__ import annotations

import threading
import time

import pytest
from helpers_service import T0, assert_stored_state_is_the_log, claim_xml, hold_writes

from casework.engine import CommandRejected, commands
from casework.service import CaseResult, CaseService, Conflict
from casework.store import CaseHead, Store


def _racer(db_url: str, key_path, barrier: threading.Barrier) -> CaseService:  # type: ignore[no-untyped-def]
    store = Store.open(db_url, audit_key=key_path)
    real_case = store.case_head
    first = [True]

    def case_then_wait(case_id: str) -> CaseHead | None:
        row = real_case(case_id)
        if first[0]:
            # Both racers have read the same version before either writes: a true lost-update race.
            first[0] = False
            barrier.wait(timeout=30)
        return row

    store.case_head = case_then_wait  # type: ignore[method-assign]
    return CaseService(store, clock=lambda: T0)


@pytest.mark.parametrize("rounds", [3])
def test_exactly_one_racer_completes_the_task(db_url: str, tmp_path, rounds: int) -> None:  # type: ignore[no-untyped-def]
    setup = Store.open(db_url, audit_key=tmp_path / "k")
    svc = CaseService(setup, clock=lambda: T0)
    svc.deploy(claim_xml())
    for _ in range(rounds):
        case_id = svc.start_case("claim", {"amount": 10}).case_id
        before = len(setup.events(case_id))
        barrier = threading.Barrier(2)
        racers = [_racer(db_url, tmp_path / "k", barrier) for _ in range(2)]
        outcomes: list[object] = [None, None]

        def run(i: int, racers: list[CaseService] = racers, outcomes: list[object] = outcomes,
                case_id: str = case_id) -> None:
            try:
                outcomes[i] = racers[i].execute(case_id, commands.CompleteItem(item="Review claim", actor=f"r{i}"))
            except Exception as exc:
                outcomes[i] = exc

        threads = [threading.Thread(target=run, args=(i,)) for i in range(2)]
        for th in threads:
            th.start()
        for th in threads:
            th.join(timeout=60)
        winners = [o for o in outcomes if not isinstance(o, Exception)]
        losers = [o for o in outcomes if isinstance(o, Exception)]
        assert len(winners) == 1 and len(losers) == 1, outcomes
        assert isinstance(losers[0], Conflict)
        events = setup.events(case_id)
        # The winner's events only: exactly one completion of the task was written.
        completions = [e for e in events if e.type == "item_transition" and e.payload.get("transition") == "complete"]
        assert len(completions) == 1
        assert len(events) == before + len(winners[0].events)  # type: ignore[union-attr]
        for r in racers:
            r.store.close()
    setup.close()


def test_threads_of_one_service_take_turns_on_a_case(db_url: str, tmp_path) -> None:  # type: ignore[no-untyped-def]
    """Same process, same service: a command that arrives while another on the same case is being written waits
    for the next round and is judged on what the first one wrote: one completion, and the second caller is told
    why its command no longer applies."""
    store = Store.open(db_url, audit_key=tmp_path / "k")
    svc = CaseService(store, clock=lambda: T0)
    svc.deploy(claim_xml())
    case_id = svc.start_case("claim", {"amount": 10}).case_id  # now cached by this service
    before = len(store.events(case_id))
    writing, release = hold_writes(store)  # a round of one command writes with `write`
    outcomes: list[object] = [None, None]

    def run(i: int) -> None:
        try:
            outcomes[i] = svc.execute(case_id, commands.CompleteItem(item="Review claim", actor=f"t{i}"))
        except Exception as exc:
            outcomes[i] = exc

    first = threading.Thread(target=run, args=(0,))
    first.start()
    assert writing.wait(timeout=30)
    second = threading.Thread(target=run, args=(1,))
    second.start()
    deadline = time.monotonic() + 30
    while not svc._combiner._queue and time.monotonic() < deadline:  # the second command is waiting its turn
        time.sleep(0.001)
    assert svc._combiner._queue
    release.set()
    for th in (first, second):
        th.join(timeout=60)
    assert isinstance(outcomes[0], CaseResult), outcomes
    assert isinstance(outcomes[1], CommandRejected) and "it is completed" in str(outcomes[1]), outcomes
    assert len(store.events(case_id)) == before + len(outcomes[0].events)
    assert_stored_state_is_the_log(store, case_id)
    store.close()
