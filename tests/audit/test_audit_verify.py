"""verify() on a log written through the store, then tampered with as someone with database access would."""

from __future__ import annotations

import json
import uuid
from datetime import UTC, datetime
from pathlib import Path
from types import SimpleNamespace

import pytest
from sqlalchemy import Connection, text
from sqlalchemy.engine import make_url

from casework.audit.checkpoints import write_checkpoint
from casework.audit.hashing import GENESIS, canonical_json, event_hash
from casework.audit.verify import verify
from casework.engine import Event, replay
from casework.store import NewEvent, Store
from casework.store import writes as w

NOW = datetime(2024, 5, 1, 12, 0, tzinfo=UTC).isoformat()


def _start(store: Store, n: int) -> str:
    """A case of `n` events (a start, then plain ones) whose row holds the snapshot and status they replay to."""
    case_id = uuid.uuid4().hex
    new = [NewEvent("case_started", NOW, "ann", None, {"definition": "k", "variables": {"i": 0}})]
    new += [NewEvent("e", NOW, "ann", None, {"i": i}) for i in range(1, n)]
    rows = w.event_rows(case_id, 1, GENESIS, new)
    state = replay(SimpleNamespace(key="k"), case_id, [Event(e.type, e.at, e.actor, e.reason, e.payload) for e in new])

    def work(conn: Connection) -> None:
        w.insert_case(conn, case_id=case_id, definition_key="k", definition_version=1, business_key=None,
                      status=state.status, version=n, last_hash=rows[-1]["hash"], snapshot=state.to_dict(),
                      now=datetime.now(UTC))
        w.insert_events(conn, rows)

    store.write(work)
    return case_id


def _append(store: Store, case_id: str, payload: dict[str, int]) -> None:
    row = store.case(case_id)
    assert row is not None
    rows = w.event_rows(case_id, row.version + 1, row.last_hash, [NewEvent("e", NOW, "bob", "why", payload)])

    def work(conn: Connection) -> None:
        w.update_case(conn, case_id=case_id, expected_version=row.version, version=row.version + 1,
                      status="active", last_hash=rows[-1]["hash"], snapshot=None, now=datetime.now(UTC))
        w.insert_events(conn, rows)

    store.write(work)


def filled_store(db_url: str, key: Path, cases: int = 3, *, seal_each_append: bool = False) -> Store:
    """`cases` cases of four events. Appends interleave across cases and are sealed after each round (or each
    append), as a busy system would."""
    s = Store.open(db_url, audit_key=key)
    ids = [_start(s, 1) for _ in range(cases)]
    for round_ in range(3):
        for c in ids:
            _append(s, c, {"round": round_})
            if seal_each_append:
                write_checkpoint(s)
        if not seal_each_append:
            write_checkpoint(s)
    s.cases_for_test = ids  # type: ignore[attr-defined]
    return s


@pytest.fixture
def store(db_url: str, tmp_path) -> Store:  # type: ignore[no-untyped-def]
    s = filled_store(db_url, tmp_path / "audit.key")
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


@pytest.mark.parametrize("payload", ["{broken", '{"round":NaN}', '{"round":1e400}'])
def test_a_payload_that_is_not_json_is_named_not_a_crash(store: Store, payload: str) -> None:
    case = store.cases_for_test[1]  # type: ignore[attr-defined]
    _tamper(store, "UPDATE events SET payload = :p WHERE case_id = :c AND seq = 3", c=case, p=payload)
    first = verify(store).first
    assert first is not None and (first.case_id, first.seq) == (case, 3)
    assert "edited" in first.what and "not canonical JSON" in first.what


def _tamper_case_row(store: Store, case_id: str, **values: object) -> None:
    sets = ", ".join(f"{name} = :{name}" for name in values)
    with store.engine.begin() as conn:
        conn.execute(text(f"UPDATE cases SET {sets} WHERE id = :c"), {"c": case_id, **values})


def test_an_edited_snapshot_is_named(store: Store) -> None:
    case = store.cases_for_test[0]  # type: ignore[attr-defined]
    row = store.case(case)
    assert row is not None and row.snapshot_version == 1  # the appends after the start kept the first snapshot
    forged = {**row.snapshot, "variables": {"i": 1_000_000}}
    _tamper_case_row(store, case, snapshot=json.dumps(forged))
    report = verify(store)
    first = report.first
    assert first is not None and (first.case_id, first.seq) == (case, 1), report.problems
    assert first.what == (
        "snapshot of the case differs from the replay of its events at seq 1 (variables; case row edited)"
    )
    _tamper_case_row(store, case, snapshot="{not json")
    first = verify(store).first
    assert first is not None and first.case_id == case and "not readable as JSON" in first.what


def test_an_edited_status_is_named(store: Store) -> None:
    case = store.cases_for_test[2]  # type: ignore[attr-defined]
    _tamper_case_row(store, case, status="terminated")
    first = verify(store).first
    assert first is not None and (first.case_id, first.seq) == (case, 4)
    assert first.what == (
        "case row's status is 'terminated' but its events leave the case 'active' at seq 4 (case row edited)"
    )


def test_an_edited_chain_head_is_named(store: Store) -> None:
    case = store.cases_for_test[0]  # type: ignore[attr-defined]
    _tamper_case_row(store, case, last_hash="f" * 64)
    first = verify(store).first
    assert first is not None and (first.case_id, first.seq) == (case, 4)
    assert first.what == "case row's chain head (last_hash) is not the hash of its last event, seq 4 (case row edited)"


@pytest.mark.parametrize(
    ("row_edit", "named"),
    [
        ("DELETE FROM cases WHERE id = :c", "case deleted: checkpoint #1 sealed its events seq 1..2, and no event of"
         " the case is left (its case row is gone too)"),
        (f"UPDATE cases SET version = 0, last_hash = '{GENESIS}' WHERE id = :c",
         "case row says it has no events, but its snapshot is at seq 1 (events deleted)"),
        (f"UPDATE cases SET version = 0, snapshot_version = 0, last_hash = '{GENESIS}' WHERE id = :c",
         "case row says it has no events, but its snapshot is not that of a case without any (events deleted, or"
         " the case row edited)"),
    ],
)
def test_a_deleted_case_is_named_as_deleted(store: Store, row_edit: str, named: str) -> None:
    case = store.cases_for_test[1]  # type: ignore[attr-defined]
    _tamper(store, "DELETE FROM events WHERE case_id = :c", row_edit, c=case)
    report = verify(store)
    assert [p.what for p in report.problems if p.case_id == case][:1] == [named], report.problems
    assert not [p for p in report.problems if "re-hashed" in p.what]


def test_a_signature_by_another_key_is_told_apart_from_a_forged_one(store: Store) -> None:
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

    from casework.audit.checkpoints import fingerprint, load_or_create_key

    other = Ed25519PrivateKey.generate().public_key()
    sealing = load_or_create_key(store.audit_key_path)
    first = verify(store, other).first
    assert first is not None and first.what == (
        f"checkpoint #1 was signed by a different key (fingerprint {fingerprint(sealing)}) than the verifying key"
        f" (fingerprint {fingerprint(other)}): check with the key that sealed this database"
    )
    _tamper(store, f"UPDATE checkpoints SET running_hash = '{'1' * 64}' WHERE id = 1")
    first = verify(store, other).first
    assert first is not None and first.what == "checkpoint #1 signature is invalid (forged or edited)"


def test_without_a_key_the_report_says_the_signatures_were_not_checked(db_url: str, tmp_path) -> None:  # type: ignore[no-untyped-def]
    with Store.open(db_url, audit_key=tmp_path / "audit.key") as sealed:
        _start(sealed, 2)
        write_checkpoint(sealed)
    with Store.open(db_url, audit_key=tmp_path / "elsewhere" / "audit.key") as copy:
        report = verify(copy)
    assert report.ok and not report.complete and not report.signatures_checked
    assert report.signatures_unchecked == f"no key at {tmp_path / 'elsewhere' / 'audit.key'}"
    assert "signatures of 1 checkpoint were NOT checked" in report.summary()
    assert not (tmp_path / "elsewhere").exists()


@pytest.mark.parametrize("key", ["missing.pem", "junk.pem", "ab" * 31 + "zz"])
def test_a_key_that_cannot_be_read_is_a_clear_error(store: Store, tmp_path, key: str) -> None:  # type: ignore[no-untyped-def]
    from casework.audit.checkpoints import AuditKeyError

    (tmp_path / "junk.pem").write_text("junk\n")
    with pytest.raises(AuditKeyError, match="key"):
        verify(store, str(tmp_path / key) if key.endswith(".pem") else key)


def test_snapshots_the_service_wrote_verify_and_a_forged_one_is_named(db_url: str, tmp_path) -> None:  # type: ignore[no-untyped-def]
    from casework.engine import commands
    from casework.paths import shared_dir
    from casework.service import CaseService

    root = shared_dir()
    if root is None:
        pytest.skip("the shared corpus (../shared) is not available")
    tasks = ("Review claim", "Request documents", "Assess damage", "Close claim")  # amount 500: these close it
    at = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
    with Store.open(db_url, audit_key=tmp_path / "k") as store, CaseService(store, snapshot_every=3) as svc:
        svc.deploy((root / "bench" / "claim.cmmn").read_text(encoding="utf-8"))
        ids = []
        for done in range(len(tasks) + 1):  # from just started to closed, snapshots at various distances behind
            case_id = svc.start_case("claim", {"amount": 500}, now=at).case_id
            for name in tasks[:done]:
                svc.execute(case_id, commands.CompleteItem(item=name, actor="ann"), now=at)
            if done < len(tasks):
                svc.execute(case_id, commands.SetVariables(variables={"note": done}, actor="bob"), now=at)
            ids.append(case_id)
        assert verify(store).ok, verify(store).problems
        assert store.case(ids[-1]).status == "completed"  # type: ignore[union-attr]

        row = store.case(ids[2])
        assert row is not None and 0 < row.snapshot_version < row.version  # events after the snapshot, too
        _tamper_case_row(store, ids[2], snapshot=json.dumps({**row.snapshot, "variables": {"amount": 5000}}))
        assert svc.state(ids[2]).variables["amount"] == 5000  # what the service now acts on
        first = verify(store).first
        assert first is not None and (first.case_id, first.seq) == (ids[2], row.snapshot_version)
        assert first.what.startswith(
            f"snapshot of the case differs from the replay of its events at seq {row.snapshot_version} (variables;"
        )


def test_an_intact_chain_the_engine_cannot_replay_is_named(store: Store) -> None:
    # Hashed and linked like any event (as someone with the database could append past the last checkpoint), but
    # not one the engine could have written: the service could not load the case.
    case = store.cases_for_test[0]  # type: ignore[attr-defined]
    row = store.case(case)
    assert row is not None
    rows = w.event_rows(case, row.version + 1, row.last_hash, [NewEvent("item_created", NOW, "eve", None, {})])

    def work(conn: Connection) -> None:
        w.update_case(conn, case_id=case, expected_version=row.version, version=row.version + 1, status="active",
                      last_hash=rows[-1]["hash"], snapshot=None, now=datetime.now(UTC))
        w.insert_events(conn, rows)

    store.write(work)
    first = verify(store).first
    assert first is not None and (first.case_id, first.seq) == (case, 5)
    assert first.what == "the case's events cannot be replayed: applying this one fails (KeyError('id'))"


def _rehash_from(store: Store, case: str, seq: int, payload: dict[str, object]) -> None:
    """Rewrite the case's event `seq` and re-hash every event after it, so that its chain links up again."""
    events = store.events(case)
    prev = events[seq - 2].hash
    updates = []
    params: dict[str, object] = {"c": case}
    for ev in events[seq - 1:]:
        body = payload if ev.seq == seq else ev.payload
        digest = event_hash(case_id=case, seq=ev.seq, type=ev.type, at=ev.at, actor=ev.actor, reason=ev.reason,
                            payload=body, prev_hash=prev)
        params[f"p{ev.id}"] = canonical_json(body)
        updates.append(f"UPDATE events SET payload = :p{ev.id}, prev_hash = '{prev}', hash = '{digest}' "
                       f"WHERE id = {ev.id}")
        prev = digest
    _tamper(store, *updates, f"UPDATE cases SET last_hash = '{prev}' WHERE id = :c", **params)


def test_deleting_the_newest_checkpoints_before_rewriting_is_caught_by_the_witness(store: Store) -> None:
    case = store.cases_for_test[0]  # type: ignore[attr-defined]
    assert verify(store).witnessed == 3
    # The newest checkpoint sealed seq 4 of every case: delete it, then rewrite seq 4 as if it had never been sealed.
    _tamper(store, "DELETE FROM checkpoints WHERE id = 3")
    _rehash_from(store, case, 4, {"round": 99})
    report = verify(store)
    assert not report.ok and report.checkpoints == 2
    first = report.first
    assert first is not None and first.what.startswith(
        "checkpoint #3 (sealing events up to #12) is in the witness file but not in the database: it was deleted"), \
        report.problems
    # Without the witness file the same database passes: the remaining checkpoints hold, and the rewritten events
    # look merely not yet sealed. This is what the witness is for.
    (store.audit_key_path.parent / "audit.key.witness").unlink()
    blind = verify(store)
    assert blind.ok and blind.sealed_events == 9 and blind.witness_unchecked is not None
    assert blind.notes() == [f"note: deleted checkpoints would go unnoticed: there is no witness file at "
                             f"{store.audit_key_path}.witness"]


def test_a_checkpoint_row_rewritten_to_match_a_rewritten_log_differs_from_its_witness(store: Store) -> None:
    _tamper(store, "UPDATE checkpoints SET last_event_id = 11 WHERE id = 3")
    problems = [str(p) for p in verify(store).problems]
    assert "log: checkpoint #3 (sealing events up to #12) differs from its copy in the witness file" in problems


def test_witness_lines_of_other_databases_and_a_torn_line_are_not_judged(store: Store, tmp_path) -> None:  # type: ignore[no-untyped-def]
    # Another database sealed with the same key file: its lines name it, and they are counted, not judged here.
    other = Store.open(f"sqlite:///{tmp_path / 'other.db'}", audit_key=store.audit_key_path)
    try:
        _start(other, 2)
        assert write_checkpoint(other) == 1
    finally:
        other.close()
    with open(f"{store.audit_key_path}.witness", "a", encoding="ascii") as fh:
        fh.write('{"db":"cut short by a cra')  # a crash in the middle of an append
    report = verify(store)
    assert report.ok, report.problems
    assert (report.witnessed, report.witness_other_databases, report.witness_unreadable) == (3, 1, 1)
    assert report.notes() == ["note: 1 line of the witness file is not a whole entry"]
    # Reached by another name, this database's lines read as another's: said, not passed over in silence.
    moved = Store.open(f"sqlite:///{tmp_path / 'moved.db'}", audit_key=store.audit_key_path)
    try:
        _start(moved, 2)
        write_checkpoint(moved)
    finally:
        moved.close()  # SQLite folds its WAL file back in: the database is one file to move
    (tmp_path / "moved.db").rename(tmp_path / "renamed.db")
    renamed = Store.open(f"sqlite:///{tmp_path / 'renamed.db'}", audit_key=store.audit_key_path)
    try:
        assert renamed.audit_key_path == store.audit_key_path
        report = verify(renamed)
        # the first store's 3 lines, the other database's, the moved one's: and the torn line was ended, not joined
        assert report.ok and report.witnessed == 0 and report.witness_other_databases == 5
        assert report.witness_unreadable == 1
        assert report.notes()[0].startswith(
            "note: deleted checkpoints would go unnoticed: the witness file "
            f"{store.audit_key_path}.witness lists none of this database's checkpoints (it lists 5 of other")
    finally:
        renamed.close()


def test_what_is_written_while_verify_runs_is_not_taken_for_a_broken_link(
    store: Store, monkeypatch: pytest.MonkeyPatch
) -> None:
    import importlib

    verifying = importlib.import_module("casework.audit.verify")  # the module: the package exports its function
    count_cases = verifying._count_cases

    def count_then_another_process_writes(source):  # type: ignore[no-untyped-def]
        counted = count_cases(source)  # verify's first read: its snapshot begins here
        _start(store, 2)  # a case that did not exist when the case rows were read
        _append(store, store.cases_for_test[0], {"round": 9})  # type: ignore[attr-defined]  # one that moved on
        return counted

    monkeypatch.setattr(verifying, "_count_cases", count_then_another_process_writes)
    report = verify(store)
    # Before, "events belong to no case row" and "events appended past the case row": a live database failed.
    assert report.ok, report.problems
    assert (report.cases, report.events) == (3, 12)  # the database as it stood when the run began
    monkeypatch.undo()
    again = verify(store)
    assert again.ok and (again.cases, again.events) == (4, 15)


def test_a_database_has_one_witness_tag_however_its_url_is_written(tmp_path) -> None:  # type: ignore[no-untyped-def]
    from casework.audit.witness import database_tag

    pg = {database_tag(u) for u in ("postgresql://ann:one@db.example/cases", "postgres://bob@db.example:5432/cases",
                                    "postgresql+psycopg://db.example:5432/cases")}
    assert len(pg) == 1 and database_tag("postgresql://db.example/other") not in pg
    # how to connect is not where: TLS, a timeout or the client's name leave the database the same; a schema not
    assert database_tag("postgresql://db.example/cases?sslmode=require&connect_timeout=5&application_name=w") in pg
    assert database_tag("postgresql://db.example/cases?tcp_user_timeout=5000&keepalives=1&keepalives_idle=2"
                        "&keepalives_interval=1&keepalives_count=4") in pg
    assert database_tag("postgresql://db.example/cases?options=-csearch_path%3Dother") not in pg
    assert database_tag(f"sqlite:///{tmp_path / 'a.db'}") == database_tag(f"sqlite:///{tmp_path / 'x' / '..' / 'a.db'}")


def test_a_checkpoint_written_while_verify_runs_is_not_taken_for_a_deleted_one(
    store: Store, monkeypatch: pytest.MonkeyPatch
) -> None:
    import importlib

    verifying = importlib.import_module("casework.audit.verify")
    count_cases = verifying._count_cases
    _append(store, store.cases_for_test[0], {"round": 9})  # type: ignore[attr-defined]  # something to seal

    def count_then_a_timer_seals(source):  # type: ignore[no-untyped-def]
        counted = count_cases(source)  # the run's snapshot is taken
        assert write_checkpoint(store) == 4  # a live service's timer seals, and the witness file gets its line
        return counted

    monkeypatch.setattr(verifying, "_count_cases", count_then_a_timer_seals)
    report = verify(store)
    assert report.ok, report.problems
    assert (report.checkpoints, report.witnessed) == (3, 3)  # as the database stood, and as the witness did then
    monkeypatch.undo()
    assert verify(store).witnessed == 4


def _tag_before_connection_options_left_it(url: str) -> str:
    """A PostgreSQL database's witness tag as casework wrote it until 2026-12-07: every query parameter in it."""
    import hashlib

    parsed = make_url(url)
    options = sorted((k, str(v)) for k, v in parsed.query.items())
    where = f"postgresql:{parsed.host or ''}:{parsed.port or 5432}/{parsed.database or ''}?{options}"
    return hashlib.sha256(where.encode("utf-8")).hexdigest()[:16]


def test_witness_lines_written_with_the_old_tag_of_a_url_with_connection_options_are_still_required(
    pg_url: str, tmp_path
) -> None:  # type: ignore[no-untyped-def]
    url = f"{pg_url}&sslmode=disable&application_name=casework-worker&connect_timeout=5"
    key = tmp_path / "audit.key"
    with Store.open(url, audit_key=key) as store:
        for _ in range(2):
            _append(store, _start(store, 1), {"round": 0})
            write_checkpoint(store)
    # The lines as casework wrote them through this URL before: tagged with its options. And one of another
    # database on the same server, reached with the same options, which must stay another database's.
    witness_file = tmp_path / "audit.key.witness"
    lines = [json.loads(line) for line in witness_file.read_text().splitlines()]
    elsewhere = make_url(url).set(database="elsewhere").render_as_string(hide_password=False)
    other = {**lines[0], "db": _tag_before_connection_options_left_it(elsewhere), "id": 9}
    witness_file.write_text("".join(json.dumps({**line, "db": _tag_before_connection_options_left_it(url)}) + "\n"
                                    for line in lines) + json.dumps(other) + "\n")
    # verify reached through the same URL, or with one more option: the old lines are this database's
    for through in (url, f"{url}&keepalives=1"):
        with Store.open(through, audit_key=key) as store:
            report = verify(store)
            assert report.ok, report.problems
            assert (report.witnessed, report.witness_other_databases) == (2, 1)
    with Store.open(url, audit_key=key) as store:
        _tamper(store, "DELETE FROM checkpoints WHERE id = 2")
        first = verify(store).first
    assert first is not None and first.what.startswith(
        "checkpoint #2 (sealing events up to #4) is in the witness file but not in the database: it was deleted")


def test_a_checkpoint_committed_but_never_copied_to_the_witness_is_copied_by_the_next(
    store: Store, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A process that stops between committing a checkpoint and copying it (killed, its machine down, the reply to
    its COMMIT lost) left the checkpoint out of the witness file for good, and its deletion would go unnoticed."""
    from casework.audit import witness

    record = witness.record

    def killed_before_copying(*args: object) -> None:
        raise OSError(28, "No space left on device")  # as good as a kill: the line is never written

    _append(store, store.cases_for_test[0], {"round": 9})  # type: ignore[attr-defined]
    monkeypatch.setattr(witness, "record", killed_before_copying)
    assert write_checkpoint(store) == 4
    monkeypatch.setattr(witness, "record", record)
    report = verify(store)
    assert report.ok and (report.checkpoints, report.witnessed) == (4, 3)
    assert report.notes() == [
        "note: 1 checkpoint is not in the witness file, so deleting it would go unnoticed (written before the file, "
        "or by a process that stopped before copying; the next checkpoint, or `casework audit checkpoint`, copies "
        "the newest 32)"]
    # With nothing new to seal, a checkpoint run still copies it (`casework audit checkpoint` says "nothing to seal").
    assert write_checkpoint(store) is None
    report = verify(store)
    assert (report.checkpoints, report.witnessed, report.notes()) == (4, 4, [])
    lines = (store.audit_key_path.parent / "audit.key.witness").read_text().splitlines()
    assert [json.loads(line)["id"] for line in lines] == [1, 2, 3, 4]  # once each, in the log's order
    _tamper(store, "DELETE FROM checkpoints WHERE id = 4")
    first = verify(store).first
    assert first is not None and first.what.startswith("checkpoint #4 (sealing events up to #13) is in the witness")


def test_the_next_checkpoint_copies_a_missed_one_before_its_own(store: Store, monkeypatch: pytest.MonkeyPatch) -> None:
    from casework.audit import witness

    record = witness.record
    monkeypatch.setattr(witness, "record", lambda *a: (_ for _ in ()).throw(OSError(5, "Input/output error")))
    _append(store, store.cases_for_test[0], {"round": 9})  # type: ignore[attr-defined]
    assert write_checkpoint(store) == 4
    monkeypatch.setattr(witness, "record", record)
    _append(store, store.cases_for_test[1], {"round": 9})  # type: ignore[attr-defined]
    assert write_checkpoint(store) == 5
    lines = (store.audit_key_path.parent / "audit.key.witness").read_text().splitlines()
    assert [json.loads(line)["id"] for line in lines] == [1, 2, 3, 4, 5]
    assert write_checkpoint(store) is None  # nothing missing, nothing new: nothing written
    assert len((store.audit_key_path.parent / "audit.key.witness").read_text().splitlines()) == 5


def test_a_checkpoint_run_with_nothing_to_seal_makes_no_witness_file_beside_no_key(store: Store) -> None:
    witness_file = store.audit_key_path.parent / "audit.key.witness"
    witness_file.unlink()
    store.audit_key_path.rename(store.audit_key_path.with_name("elsewhere.key"))
    assert write_checkpoint(store) is None
    assert not witness_file.exists()
