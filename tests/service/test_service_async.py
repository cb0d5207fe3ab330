"""`CaseService.aexecute`: commands from coroutines, gathered into shared rounds, with `execute`'s outcomes."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Callable, Iterator

import pytest
from helpers_service import T0, assert_stored_state_is_the_log, claim_xml, hold_writes, record_rounds

from casework.engine import CommandRejected, commands
from casework.service import CaseService, Conflict, NotFound
from casework.store import Store

TASKS = ("Review claim", "Request documents", "Assess damage", "Close claim")  # amount 500: one after another


def complete(name: str) -> commands.CompleteItem:
    return commands.CompleteItem(item=name, actor="async")


@pytest.fixture
def stores(db_url: str, tmp_path) -> Iterator[Callable[[], Store]]:  # type: ignore[no-untyped-def]
    """Opens stores on the test's database (one per simulated process), all closed at the end."""
    opened: list[Store] = []

    def open_one() -> Store:
        opened.append(Store.open(db_url, audit_key=tmp_path / "k"))
        return opened[-1]

    yield open_one
    for store in opened:
        store.close()


def test_coroutines_commands_share_rounds_and_each_case_runs_to_its_end(stores: Callable[[], Store]) -> None:
    store = stores()
    svc = CaseService(store, clock=lambda: T0)
    svc.deploy(claim_xml())
    ids = [svc.start_case("claim", {"amount": 500}).case_id for _ in range(8)]
    rounds = record_rounds(store)

    async def run_case(case_id: str) -> list[int]:
        return [(await svc.aexecute(case_id, complete(name))).version for name in TASKS]

    async def main() -> list[list[int]]:
        return await asyncio.gather(*(run_case(case_id) for case_id in ids))

    versions = asyncio.run(main())
    svc.close()
    # All eight first commands were handed over before the first group ran: one round, one commit.
    assert rounds[0] == 8 and sum(rounds) == 8 * len(TASKS)
    for case_id, seen in zip(ids, versions, strict=True):
        events = store.events(case_id)
        assert seen == sorted(seen) and seen[-1] == len(events)
        names = {e.payload["id"]: e.payload["name"] for e in events if e.type == "item_created"}
        completed = [names[e.payload["id"]] for e in events if e.type == "item_transition" and e.actor == "async"
                     and e.payload["transition"] == "complete"]
        assert completed == [*TASKS, "Insurance claim"]  # the case plan completes with the last task
        assert store.case(case_id).status == "completed"  # type: ignore[union-attr]
        assert_stored_state_is_the_log(store, case_id)


def test_two_commands_on_one_case_in_one_group_run_in_order(stores: Callable[[], Store]) -> None:
    svc = CaseService(stores(), clock=lambda: T0)
    svc.deploy(claim_xml())
    case_id = svc.start_case("claim", {"amount": 500}).case_id

    async def main() -> list[int]:
        # "Request documents" is enabled only once "Review claim" is done: it must start from the first's result.
        results = await asyncio.gather(*(svc.aexecute(case_id, complete(name)) for name in TASKS[:2]))
        return [r.version for r in results]

    first, second = asyncio.run(main())
    assert first < second == len(svc.store.events(case_id))


def test_errors_are_execute_s_errors_and_change_nothing(stores: Callable[[], Store]) -> None:
    store = stores()
    svc = CaseService(store, clock=lambda: T0)
    svc.deploy(claim_xml())
    case_id = svc.start_case("claim", {"amount": 500}).case_id
    version = store.case(case_id).version  # type: ignore[union-attr]

    async def main() -> list[object]:
        return await asyncio.gather(
            svc.aexecute(case_id, complete("Close claim")),  # not enabled yet
            svc.aexecute("no-such-case", complete("Review claim")),
            return_exceptions=True,
        )

    rejected, missing = asyncio.run(main())
    assert isinstance(rejected, CommandRejected) and not isinstance(rejected, Conflict)
    assert isinstance(missing, NotFound)
    assert store.case(case_id).version == version  # type: ignore[union-attr]


def test_a_command_that_no_longer_applies_after_another_process_wrote_the_case_is_a_conflict(
    stores: Callable[[], Store],
) -> None:
    svc = CaseService(stores(), clock=lambda: T0)
    svc.deploy(claim_xml())
    stale, moved = (svc.start_case("claim", {"amount": 500}).case_id for _ in range(2))
    other = CaseService(stores(), clock=lambda: T0)
    for case_id in (stale, moved):
        other.execute(case_id, complete("Review claim"))

    async def main() -> list[object]:
        return await asyncio.gather(
            svc.aexecute(stale, complete("Review claim")),  # done already: fails the version check, then conflicts
            svc.aexecute(moved, complete("Request documents")),  # rejected on the stale copy, applies on the new
            return_exceptions=True,
        )

    conflict, applied = asyncio.run(main())
    assert isinstance(conflict, Conflict)
    assert not isinstance(applied, BaseException) and applied.version == len(svc.store.events(moved))  # type: ignore[union-attr]


def test_a_cancelled_caller_does_not_hold_up_the_others_and_its_handed_over_command_is_still_written(
    stores: Callable[[], Store],
) -> None:
    store = stores()
    svc = CaseService(store, clock=lambda: T0)
    svc.deploy(claim_xml())
    ids = [svc.start_case("claim", {"amount": 500}).case_id for _ in range(3)]
    versions = {case_id: store.case(case_id).version for case_id in ids}  # type: ignore[union-attr]
    writing, release = hold_writes(store, "write_commands")

    async def main() -> list[object]:
        calls = [asyncio.ensure_future(svc.aexecute(case_id, complete("Review claim"))) for case_id in ids]
        await asyncio.get_running_loop().run_in_executor(None, writing.wait, 30)
        calls[1].cancel()
        release.set()
        return await asyncio.gather(*calls, return_exceptions=True)

    outcomes = asyncio.run(main())
    assert isinstance(outcomes[1], asyncio.CancelledError)
    for case_id, outcome in zip(ids, outcomes, strict=True):
        assert store.case(case_id).version > versions[case_id]  # type: ignore[union-attr]
        if case_id != ids[1]:
            assert outcome.version == store.case(case_id).version  # type: ignore[union-attr]


def test_coroutines_and_threads_on_one_service_share_it(stores: Callable[[], Store]) -> None:
    store = stores()
    svc = CaseService(store, clock=lambda: T0)
    svc.deploy(claim_xml())
    by_thread = [svc.start_case("claim", {"amount": 500}).case_id for _ in range(4)]
    by_loop = [svc.start_case("claim", {"amount": 500}).case_id for _ in range(4)]

    def run_in_thread(case_id: str) -> None:
        for name in TASKS:
            svc.execute(case_id, complete(name))

    async def run_in_loop(case_id: str) -> None:
        for name in TASKS:
            await svc.aexecute(case_id, complete(name))

    async def main() -> None:
        await asyncio.gather(*(run_in_loop(case_id) for case_id in by_loop))

    threads = [threading.Thread(target=run_in_thread, args=(case_id,)) for case_id in by_thread]
    for th in threads:
        th.start()
    asyncio.run(main())
    for th in threads:
        th.join(timeout=60)
    for case_id in by_thread + by_loop:
        assert store.case(case_id).status == "completed"  # type: ignore[union-attr]
        assert_stored_state_is_the_log(store, case_id)


def test_a_closed_service_refuses_commands_from_coroutines(stores: Callable[[], Store]) -> None:
    svc = CaseService(stores(), clock=lambda: T0)
    svc.deploy(claim_xml())
    case_id = svc.start_case("claim", {"amount": 500}).case_id
    svc.close()
    with pytest.raises(RuntimeError):
        asyncio.run(svc.aexecute(case_id, complete("Review claim")))
    assert len(svc.store.events(case_id)) == svc.store.case(case_id).version  # type: ignore[union-attr]


def test_a_migration_from_a_coroutine_moves_the_case_to_the_new_model(stores: Callable[[], Store]) -> None:
    store = stores()
    svc = CaseService(store, clock=lambda: T0)
    svc.deploy(claim_xml())
    case_id = svc.start_case("claim", {"amount": 500}).case_id
    key, version = svc.deploy(claim_xml().replace('name="Close claim"', 'name="Close and archive claim"'))
    _, target = svc.definition(key, version)

    async def main() -> None:
        await svc.aexecute(case_id, commands.Migrate(definition=target, reason="new model"))
        for name in (*TASKS[:3], "Close and archive claim"):
            await svc.aexecute(case_id, complete(name))

    asyncio.run(main())
    row = store.case(case_id)
    assert row is not None and (row.definition_version, row.status) == (version, "completed")
    assert_stored_state_is_the_log(store, case_id)
