"""Time travel: the state of a case after any event or at any moment, and a clear refusal past its ends."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from casework.audit.timetravel import TimeTravelError, state_at
from casework.engine import commands
from casework.paths import shared_dir
from casework.service import CaseService
from casework.store import Store

T0 = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)


def _claim_xml() -> str:
    root = shared_dir()
    if root is None:
        pytest.skip("the shared corpus (../shared) is not available")
    return (root / "bench" / "claim.cmmn").read_text(encoding="utf-8")


def test_state_after_each_event_and_at_each_moment(sqlite_url: str, tmp_path: Path) -> None:
    with Store.open(sqlite_url, audit_key=tmp_path / "k") as store, CaseService(store) as svc:
        svc.deploy(_claim_xml())
        case_id = svc.start_case("claim", {"amount": 500}, now=T0).case_id
        started = store.case(case_id).version  # type: ignore[union-attr]
        svc.execute(case_id, commands.CompleteItem(item="Review claim", actor="ann"), now=T0 + timedelta(hours=1))
        last = store.case(case_id).version  # type: ignore[union-attr]

        assert state_at(store, case_id, seq=started).to_dict() == state_at(store, case_id, at=T0).to_dict()
        assert state_at(store, case_id, seq=last).to_dict() == svc.state(case_id).to_dict()
        assert state_at(store, case_id, seq=0).version == 0
        before = state_at(store, case_id, at=T0 + timedelta(minutes=59))
        assert before.version == started and before.status == "active"
        for beyond in (last + 1, 999, -1):
            with pytest.raises(TimeTravelError, match=f"has events 1 to {last}; there is no event {beyond}"):
                state_at(store, case_id, seq=beyond)
        with pytest.raises(TimeTravelError, match="no case nope"):
            state_at(store, "nope", seq=1)
        # a moment before the case began: it did not exist, rather than existed with nothing in it
        with pytest.raises(TimeTravelError, match=f"case {case_id} did not exist yet at 2026-03-02T08:59:00"
                                                  r"\+00:00: it was started at 2026-03-02T09:00:00\+00:00"):
            state_at(store, case_id, at=T0 - timedelta(minutes=1))


def test_at_replays_a_prefix_of_the_log_when_event_times_go_back(db_url: str, tmp_path: Path) -> None:
    # Two servers whose clocks disagree: the second and third commands carry times before the one each follows.
    with Store.open(db_url, audit_key=tmp_path / "k") as store, CaseService(store) as svc:
        svc.deploy(_claim_xml())
        case_id = svc.start_case("claim", {"amount": 500}, now=T0).case_id
        started = store.case(case_id).version  # type: ignore[union-attr]
        svc.execute(case_id, commands.CompleteItem(item="Review claim", actor="ann"), now=T0 + timedelta(hours=2))
        reviewed = store.case(case_id).version  # type: ignore[union-attr]
        # "Request documents" only exists once "Review claim" is complete, stamped an hour after this.
        svc.execute(case_id, commands.CompleteItem(item="Request documents", actor="bob"),
                    now=T0 + timedelta(hours=1))
        svc.execute(case_id, commands.SetVariables(variables={"note": "late clock"}, actor="bob"),
                    now=T0 + timedelta(minutes=30))

        # Before the first event stamped later than the moment: the case as it stood after its start, not with the
        # later (but earlier-stamped) events applied on top of it.
        for moment in (T0 + timedelta(minutes=45), T0 + timedelta(hours=1, minutes=30)):
            assert state_at(store, case_id, at=moment).to_dict() == state_at(store, case_id, seq=started).to_dict()
        after_review = state_at(store, case_id, at=T0 + timedelta(hours=2))
        assert after_review.to_dict() == svc.state(case_id).to_dict()  # every event is in the prefix by then
        assert after_review.variables["note"] == "late clock"
        assert state_at(store, case_id, seq=reviewed, at=T0 + timedelta(hours=3)).version == reviewed
