"""A finding is answered once: two people accepting it at once record one acceptance, and the acceptance rates count
it once. Here for a finding whose action is done outside the engine (fill in a field), where the acceptance is the
record alone and nothing else could refuse the second one."""

from __future__ import annotations

import datetime as dt
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from casework.demo import demo_model_xml
from casework.engine import CommandRejected
from casework.insight.acceptance import acceptance
from casework.insight.casetype import bundled_case_type
from casework.insight.flags import assess
from casework.insight.rules import Finding, accept_command
from casework.service import CaseService, Conflict
from casework.store import Store

T0 = dt.datetime(2026, 3, 1, 9, tzinfo=dt.UTC)
CASE_TYPE = bundled_case_type("insurance_claim")
CLAIMANT = "missing-field:claimant"


@pytest.fixture
def store(db_url: str, tmp_path: Path) -> Iterator[Store]:
    with Store.open(db_url, audit_key=tmp_path / "audit.key", blob_dir=tmp_path / "blobs") as opened:
        yield opened


def _finding(service: CaseService, case_id: str) -> Finding:
    row = service.store.case(case_id)
    assert row is not None
    _, definition = service.definition(row.definition_key, row.definition_version)
    (found,) = [f for f in assess(CASE_TYPE, definition, service.state(case_id), [], T0) if f.id == CLAIMANT]
    assert found.action is not None and found.action.command(actor="x") is None  # the record is all there is
    return found


def _accepted(store: Store, case_id: str) -> list[str]:
    return [e.actor for e in store.events(case_id) if e.type == "suggestion_accepted"]


def test_two_people_accepting_one_finding_from_stale_copies_record_one_acceptance(store: Store) -> None:
    with CaseService(store, clock=lambda: T0) as ann_side, CaseService(store, clock=lambda: T0) as bob_side:
        ann_side.deploy(demo_model_xml("insurance_claim.cmmn"))
        case_id = ann_side.start_case("insuranceClaim", {"amount": 12500}, actor="intake").case_id
        # Each sees the finding on the case as it was (both servers hold it cached).
        ann_sees, bob_sees = _finding(ann_side, case_id), _finding(bob_side, case_id)
        ann_side.execute(case_id, accept_command(ann_sees, actor="ann"))
        version = store.case(case_id).version  # type: ignore[union-attr]
        # Bob's copy is stale: his command is judged again on the case as Ann left it, and refused there.
        with pytest.raises((CommandRejected, Conflict), match="already accepted at severity warning by ann"):
            bob_side.execute(case_id, accept_command(bob_sees, actor="bob"))
        assert store.case(case_id).version == version  # type: ignore[union-attr]
    assert _accepted(store, case_id) == ["ann"]
    (row,) = [r for r in acceptance((case_id, e) for e in store.events(case_id)) if r.subject == CLAIMANT]
    assert (row.accepted, row.dismissed) == (1, 0)


def test_two_people_accepting_one_finding_at_once_one_wins(store: Store) -> None:
    with CaseService(store, clock=lambda: T0) as service:
        service.deploy(demo_model_xml("insurance_claim.cmmn"))
        case_id = service.start_case("insuranceClaim", {"amount": 12500}, actor="intake").case_id
        found = _finding(service, case_id)
    outcomes: dict[str, BaseException | None] = {}
    ready = threading.Barrier(2)

    def accept(actor: str) -> None:
        with CaseService(store, clock=lambda: T0) as own:  # each person's own server
            own.state(case_id)
            ready.wait()
            try:
                own.execute(case_id, accept_command(found, actor=actor))
                outcomes[actor] = None
            except (CommandRejected, Conflict) as exc:
                outcomes[actor] = exc

    threads = [threading.Thread(target=accept, args=(who,)) for who in ("ann", "bob")]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    winners = [who for who, failed in outcomes.items() if failed is None]
    assert len(winners) == 1 and len(outcomes) == 2
    assert _accepted(store, case_id) == winners
    (loser,) = {"ann", "bob"} - set(winners)
    assert f"by {winners[0]}" in str(outcomes[loser])
