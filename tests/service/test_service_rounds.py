"""Commands of several threads run as one round: each gets its own outcome, one failing command fails alone."""

from __future__ import annotations

import threading
import time

from helpers_service import T0, assert_stored_state_is_the_log, claim_xml, hold_writes, record_rounds

from casework.engine import CommandRejected, commands
from casework.service import CaseResult, CaseService, Conflict
from casework.store import Store


def test_a_round_gives_each_command_its_own_outcome(db_url: str, tmp_path) -> None:  # type: ignore[no-untyped-def]
    store = Store.open(db_url, audit_key=tmp_path / "k")
    svc = CaseService(store, clock=lambda: T0)
    svc.deploy(claim_xml())
    ids = [svc.start_case("claim", {"amount": 10}).case_id for _ in range(6)]  # all cached by svc
    other = CaseService(Store.open(db_url, audit_key=tmp_path / "k"), clock=lambda: T0)  # another process
    # svc's copies of ids[3] and ids[5] go stale: the other service completes their first task.
    for case_id in (ids[3], ids[5]):
        other.execute(case_id, commands.CompleteItem(item="Review claim", actor="other"))

    writing, release = hold_writes(store)
    rounds = record_rounds(store)
    work = {
        ids[0]: "Review claim",  # runs first, alone, and holds the turn while the others queue
        ids[1]: "Review claim",
        ids[2]: "Close claim",  # not enabled yet: rejected
        ids[3]: "Review claim",  # applies to the stale copy; its write fails the version check; on the new state
        # the task is done already: a conflict
        ids[4]: "Review claim",
        ids[5]: "Request documents",  # rejected on the stale copy: judged again on what is stored, and applies
    }
    outcomes: dict[str, object] = {}

    def run(case_id: str) -> None:
        try:
            outcomes[case_id] = svc.execute(case_id, commands.CompleteItem(item=work[case_id], actor="svc"))
        except Exception as exc:
            outcomes[case_id] = exc

    first = threading.Thread(target=run, args=(ids[0],))
    first.start()
    assert writing.wait(timeout=30)
    others = [threading.Thread(target=run, args=(case_id,)) for case_id in ids[1:]]
    for th in others:
        th.start()
    deadline = time.monotonic() + 30
    while len(svc._combiner._queue) < 5 and time.monotonic() < deadline:
        time.sleep(0.001)
    release.set()
    for th in [first, *others]:
        th.join(timeout=60)

    assert rounds == [3]  # ids[1], ids[3], ids[4]; ids[2] rejected and ids[5] retried before anything was written
    assert isinstance(outcomes[ids[2]], CommandRejected) and not isinstance(outcomes[ids[2]], Conflict)
    assert isinstance(outcomes[ids[3]], Conflict)
    for case_id in (ids[0], ids[1], ids[4], ids[5]):
        result = outcomes[case_id]
        assert isinstance(result, CaseResult), (case_id, result)
        assert result.version == len(store.events(case_id))
    completions = {
        case_id: [e.actor for e in store.events(case_id)
                  if e.type == "item_transition" and e.payload.get("transition") == "complete"]
        for case_id in ids
    }
    assert completions[ids[2]] == []
    assert completions[ids[3]] == ["other"]
    assert completions[ids[5]] == ["other", "svc"]
    for case_id in ids:
        assert_stored_state_is_the_log(store, case_id)
    other.store.close()
    store.close()
