"""verify() on a log written through the store, then tampered with as someone with database access would."""

from __future__ import annotations

import json
import uuid
from datetime import UTC, datetime

import pytest
from sqlalchemy import Connection, text

from casework.audit.checkpoints import write_checkpoint
from casework.audit.hashing import GENESIS, canonical_json, event_hash
from casework.audit.verify import verify
from casework.store import NewEvent, Store
from casework.store import writes as w

NOW = datetime(2024, 5, 1, 12, 0, tzinfo=UTC).isoformat()


def _start(store: Store, n: int) -> str:
    case_id = uuid.uuid4().hex
    rows = w.event_rows(case_id, 1, GENESIS, [NewEvent("e", NOW, "ann", None, {"i": i}) for i in range(n)])

    def work(conn: Connection) -> None:
        w.insert_case(conn, case_id=case_id, definition_key="k", definition_version=1, business_key=None,
                      status="active", version=n, last_hash=rows[-1]["hash"], snapshot={}, now=datetime.now(UTC))
        w.insert_events(conn, rows)

    store.write(work)
    return case_id


def _append(store: Store, case_id: str, payload: dict[str, int]) -> None:
    row = store.case(case_id)
    assert row is not None
    rows = w.event_rows(case_id, row.version + 1, row.last_hash, [NewEvent("e", NOW, "bob", "why", payload)])

    def work(conn: Connection) -> None:
        w.update_case(conn, case_id=case_id, expected_version=row.version, version=row.version + 1,
                      status="active", last_hash=rows[-1]["hash"], snapshot={}, now=datetime.now(UTC))
        w.insert_events(conn, rows)

    store.write(work)


@pytest.fixture
def store(db_url: str, tmp_path) -> Store:  # type: ignore[no-untyped-def]
    s = Store.open(db_url, audit_key=tmp_path / "audit.key")
    cases = [_start(s, 1) for _ in range(3)]
    # Interleave appends across cases and seal after each, as a busy system would.
    for round_ in range(3):
        for c in cases:
            _append(s, c, {"round": round_})
        write_checkpoint(s)
    s.cases_for_test = cases  # type: ignore[attr-defined]
    yield s
    s.close()


def _tamper(store: Store, *sql: str, **params: object) -> None:
    with store.engine.begin() as conn:
        if store.is_sqlite:
            conn.execute(text("DROP TRIGGER IF EXISTS events_no_update"))
            conn.execute(text("DROP TRIGGER IF EXISTS events_no_delete"))
        else:
            conn.execute(text("ALTER TABLE events DISABLE TRIGGER events_append_only"))
        for stmt in sql:
            conn.execute(text(stmt), params)


def test_clean_log_verifies(store: Store) -> None:
    report = verify(store)
    assert report.ok, report.problems
    assert (report.cases, report.events) == (3, 12)
    assert report.signatures_checked and report.checkpoints == 3 and report.sealed_events == 12
    assert report.summary() == "audit: 3 cases, 12 events, ok"


def test_edited_event_is_named(store: Store) -> None:
    case = store.cases_for_test[1]  # type: ignore[attr-defined]
    _tamper(store, "UPDATE events SET payload = :p WHERE case_id = :c AND seq = 3", c=case, p='{"round":7}')
    report = verify(store)
    assert not report.ok
    first = report.first
    assert first is not None and (first.case_id, first.seq) == (case, 3)
    assert "edited" in first.what


def test_deleted_event_is_named(store: Store) -> None:
    case = store.cases_for_test[0]  # type: ignore[attr-defined]
    _tamper(store, "DELETE FROM events WHERE case_id = :c AND seq = 2", c=case)
    first = verify(store).first
    assert first is not None and (first.case_id, first.seq) == (case, 2)
    assert "missing" in first.what


def test_deleted_last_event_is_caught(store: Store) -> None:
    case = store.cases_for_test[2]  # type: ignore[attr-defined]
    _tamper(store, "DELETE FROM events WHERE case_id = :c AND seq = 4", c=case)
    first = verify(store).first
    assert first is not None and first.case_id == case and first.seq == 4


def test_inserted_event_is_named(store: Store) -> None:
    case = store.cases_for_test[0]  # type: ignore[attr-defined]
    # Make room at seq 3 and put a forged event there, keeping the unique (case, seq) constraint happy.
    _tamper(
        store,
        "UPDATE events SET seq = seq + 100 WHERE case_id = :c AND seq >= 3",
        "UPDATE events SET seq = seq - 99 WHERE case_id = :c AND seq >= 100",
        f"INSERT INTO events (case_id, seq, type, at, actor, reason, payload, prev_hash, hash) "
        f"VALUES (:c, 3, 'e', '{NOW}', 'eve', NULL, '{{}}', '{'0' * 64}', '{'0' * 64}')",
        c=case,
    )
    first = verify(store).first
    assert first is not None and (first.case_id, first.seq) == (case, 3)


def test_reordered_events_are_named(store: Store) -> None:
    case = store.cases_for_test[1]  # type: ignore[attr-defined]
    _tamper(
        store,
        "UPDATE events SET seq = 100 WHERE case_id = :c AND seq = 2",
        "UPDATE events SET seq = 2 WHERE case_id = :c AND seq = 3",
        "UPDATE events SET seq = 3 WHERE case_id = :c AND seq = 100",
        c=case,
    )
    first = verify(store).first
    assert first is not None and (first.case_id, first.seq) == (case, 2)
    assert "prev_hash" in first.what


def test_rehashed_chain_is_caught_by_checkpoints(store: Store) -> None:
    case = store.cases_for_test[2]  # type: ignore[attr-defined]
    events = store.events(case)
    # Rewrite seq 3 and re-hash everything after it so that the chain itself links up again.
    prev = events[1].hash
    updates = []
    params: dict[str, object] = {"c": case}
    for ev in events[2:]:
        payload = {"round": 99} if ev.seq == 3 else ev.payload
        digest = event_hash(case_id=case, seq=ev.seq, type=ev.type, at=ev.at, actor=ev.actor, reason=ev.reason,
                            payload=payload, prev_hash=prev)
        params[f"p{ev.id}"] = canonical_json(payload)
        updates.append(
            f"UPDATE events SET payload = :p{ev.id}, prev_hash = '{prev}', hash = '{digest}' WHERE id = {ev.id}"
        )
        prev = digest
    _tamper(store, *updates, f"UPDATE cases SET last_hash = '{prev}' WHERE id = :c", **params)
    report = verify(store)
    assert not report.ok
    first = report.first
    assert first is not None and (first.case_id, first.seq) == (case, 3), report.problems
    assert "re-hashed" in first.what


def test_forged_checkpoint_signature_is_caught(store: Store) -> None:
    _tamper(store, f"UPDATE checkpoints SET running_hash = '{'1' * 64}' WHERE id = 2")
    first = verify(store).first
    assert first is not None and "signature" in first.what


def test_key_file_is_private(store: Store) -> None:
    assert store.audit_key_path.stat().st_mode & 0o777 == 0o600
    assert json.loads(json.dumps(verify(store).ok)) is True


@pytest.mark.parametrize(
    "fields",
    [
        {"actor": "ann", "reason": None, "payload": {}, "type": "e"},
        {"actor": "Zoë \"the\" ✓", "reason": "line\nbreak\t\u2028", "payload": {"b": [1, 2.5, None], "a": "ü"},
         "type": "x"},
    ],
)
def test_fast_hash_equals_reference(fields: dict[str, object]) -> None:
    from casework.audit.hashing import hash_new_event

    common = {"case_id": "c1", "seq": 7, "at": NOW, "prev_hash": "ab" * 32, **fields}
    digest, payload_json = hash_new_event(**common)  # type: ignore[arg-type]
    assert digest == event_hash(**common)  # type: ignore[arg-type]
    assert payload_json == canonical_json(fields["payload"])
