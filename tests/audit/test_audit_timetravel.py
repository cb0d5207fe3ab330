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


def test_state_after_each_event_and_at_each_moment(sqlite_url: str, tmp_path: Path) -> None:
    root = shared_dir()
    if root is None:
        pytest.skip("the shared corpus (../shared) is not available")
    with Store.open(sqlite_url, audit_key=tmp_path / "k") as store, CaseService(store) as svc:
        svc.deploy((root / "bench" / "claim.cmmn").read_text(encoding="utf-8"))
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
