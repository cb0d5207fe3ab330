from __future__ import annotations

import threading
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import Connection, text
from sqlalchemy.exc import DBAPIError

from casework.audit.hashing import GENESIS
from casework.store import NewEvent, Store, StoreURLError, VersionMismatch
from casework.store import writes as w
from casework.store.url import parse_url

NOW = datetime(2024, 5, 1, 12, 0, tzinfo=UTC)


def _new_case(store: Store, n_events: int = 3) -> str:
    case_id = uuid.uuid4().hex
    rows = w.event_rows(
        case_id, 1, GENESIS, [NewEvent(f"e{i}", NOW.isoformat(), "ann", None, {"i": i}) for i in range(n_events)]
    )

    def work(conn):  # type: ignore[no-untyped-def]
        w.insert_case(
            conn,
            case_id=case_id,
            definition_key="k",
            definition_version=1,
            business_key=None,
            status="active",
            version=len(rows),
            last_hash=rows[-1]["hash"],
            snapshot={"n": n_events},
            now=NOW,
        )
        w.insert_events(conn, rows)

    store.write(work)
    return case_id


def test_open_migrates_and_reopens(db_url: str) -> None:
    with Store.open(db_url) as store:
        case_id = _new_case(store)
    with Store.open(db_url) as store:
        assert store.counts() == (1, 3)
        events = store.events(case_id)
        assert [e.seq for e in events] == [1, 2, 3]
        assert events[0].prev_hash == GENESIS and events[1].prev_hash == events[0].hash


def test_bad_urls_are_rejected() -> None:
    for url in ("mysql://x/y", "sqlite://", "sqlite:///:memory:", "nonsense"):
        with pytest.raises(StoreURLError):
            Store.open(url)


def test_a_password_holding_an_unescaped_at_sign_is_refused_without_showing_any_of_it() -> None:
    with pytest.raises(StoreURLError) as refused:
        Store.open("postgresql://ann:s3cr@t-Xq9@db.example:5432/cases")
    assert "%40" in str(refused.value) and "Xq9" not in str(refused.value)
    # written as %40 it is the password, and the URL is taken
    assert parse_url("postgresql://ann:pa%40ssword@db.example:5432/cases").password == "pa@ssword"


def test_events_are_append_only(db_url: str) -> None:
    with Store.open(db_url) as store:
        case_id = _new_case(store)
        for sql in ("UPDATE events SET actor = 'eve'", "DELETE FROM events"):
            with pytest.raises(DBAPIError), store.engine.begin() as conn:
                conn.execute(text(sql))
        assert [e.actor for e in store.events(case_id)] == ["ann"] * 3


def test_optimistic_lock_writes_nothing_on_mismatch(db_url: str) -> None:
    with Store.open(db_url) as store:
        case_id = _new_case(store)
        rows = w.event_rows(case_id, 4, store.events(case_id)[-1].hash, [NewEvent("x", NOW.isoformat(), "a", None)])

        def work(conn):  # type: ignore[no-untyped-def]
            w.update_case(conn, case_id=case_id, expected_version=2, version=4, status="active",
                          last_hash=rows[-1]["hash"], snapshot={}, now=NOW)
            w.insert_events(conn, rows)

        with pytest.raises(VersionMismatch):
            store.write(work)
        assert store.counts() == (1, 3)


def test_group_commit_many_threads(db_url: str) -> None:
    with Store.open(db_url) as store:
        ids: list[str] = []
        lock = threading.Lock()

        def client() -> None:
            for _ in range(10):
                cid = _new_case(store, 2)
                with lock:
                    ids.append(cid)

        threads = [threading.Thread(target=client) for _ in range(8)]
        for th in threads:
            th.start()
        for th in threads:
            th.join()
        assert store.counts() == (80, 160)
        assert len(set(ids)) == 80


def test_jobs_are_claimed_once(db_url: str) -> None:
    with Store.open(db_url) as store:
        for i in range(20):
            store.add_job("automated", None, f"r{i}", NOW - timedelta(minutes=1), {"i": i})
        store.add_job("automated", None, "later", NOW + timedelta(hours=1), {})
        got: list[int] = []
        lock = threading.Lock()

        def worker(name: str) -> None:
            while True:
                jobs = store.claim_jobs(name, NOW, limit=3)
                if not jobs:
                    return
                with lock:
                    got.extend(j.id for j in jobs)

        threads = [threading.Thread(target=worker, args=(f"w{i}",)) for i in range(4)]
        for th in threads:
            th.start()
        for th in threads:
            th.join()
        assert len(got) == 20 and len(set(got)) == 20
        # An expired lease makes a job claimable again.
        again = store.claim_jobs("late", NOW + timedelta(minutes=5), limit=50)
        assert len(again) == 20 and all(j.attempts == 2 for j in again)
        assert store.finish_job(again[0].id, "late") is True
        assert store.finish_job(again[1].id, "someone-else") is False


def test_job_times_in_any_zone_mean_the_same_instant(db_url: str) -> None:
    from datetime import timezone

    plus2 = timezone(timedelta(hours=2))
    with Store.open(db_url) as store:
        store.add_job("automated", None, "r", datetime(2026, 3, 1, 12, 0, tzinfo=plus2), {})  # 10:00 UTC
        assert store.claim_jobs("early", datetime(2026, 3, 1, 11, 30, tzinfo=plus2)) == []  # 09:30 UTC
        (job,) = store.claim_jobs("w", datetime(2026, 3, 1, 13, 0, tzinfo=plus2))  # 11:00 UTC
        assert job.due_at == datetime(2026, 3, 1, 10, 0, tzinfo=UTC)


def test_documents_are_content_addressed(db_url: str, tmp_path) -> None:  # type: ignore[no-untyped-def]
    with Store.open(db_url, blob_dir=tmp_path / "blobs") as store:
        case_id = _new_case(store)
        meta = {"media_type": "application/pdf", "created_by": "ann", "now": NOW}
        d1 = store.add_document(case_id, "report.pdf", b"hello", **meta)  # type: ignore[arg-type]
        d2 = store.add_document(case_id, "report.pdf", b"hello", **meta)  # type: ignore[arg-type]
        assert (d1.version, d2.version) == (1, 2) and d1.sha256 == d2.sha256
        assert store.blobs.get(d1.sha256) == b"hello"
        assert store.blobs.path_of(d1.sha256).name == d1.sha256
        with pytest.raises(KeyError):
            store.add_document("nope", "x", b"x", media_type="text/plain", created_by="ann", now=NOW)
        assert len(store.documents(case_id)) == 2


def test_a_failing_unit_undoes_only_itself(db_url: str) -> None:
    """Under group commit a unit that fails after writing is rolled back alone; the rest of its batch commits."""
    with Store.open(db_url) as store:
        results: list[str] = []
        lock = threading.Lock()

        def client(i: int) -> None:
            for j in range(6):
                fail = (i + j) % 3 == 0
                case_id = uuid.uuid4().hex

                def work(conn, case_id: str = case_id, fail: bool = fail):  # type: ignore[no-untyped-def]
                    w.insert_case(conn, case_id=case_id, definition_key="k", definition_version=1,
                                  business_key=None, status="active", version=0, last_hash=GENESIS,
                                  snapshot={}, now=NOW)
                    if fail:
                        raise RuntimeError("unit fails after writing")

                try:
                    store.write(work)
                    outcome = "ok"
                except RuntimeError:
                    outcome = "failed"
                with lock:
                    results.append(outcome)

        threads = [threading.Thread(target=client, args=(i,)) for i in range(8)]
        for th in threads:
            th.start()
        for th in threads:
            th.join()
        assert store.counts()[0] == results.count("ok") == 48 - results.count("failed") == 32


def _alembic(db_url: str) -> tuple[Any, Any]:
    """The store's engine (SQLite DDL inside the transaction, as when the store migrates) and a runner of an Alembic
    command to a revision in one transaction."""
    from casework.store.migrate import alembic_config
    from casework.store.url import create_store_engine

    engine = create_store_engine(db_url)
    cfg = alembic_config()

    def alembic(action, revision: str) -> None:  # type: ignore[no-untyped-def]
        with engine.connect() as conn:
            conn = conn.execution_options(casework_write=True)
            with conn.begin():
                cfg.attributes["connection"] = conn
                action(cfg, revision)

    return engine, alembic


def test_migration_0002_keeps_existing_snapshots_current_and_downgrade_refuses_stale_ones(db_url: str) -> None:
    from alembic import command

    engine, alembic = _alembic(db_url)
    try:
        alembic(command.upgrade, "0001")  # a database written before snapshots could lag behind
        with engine.begin() as conn:
            conn.execute(
                text(
                    "INSERT INTO cases (id, definition_key, definition_version, status, version, last_hash, source, "
                    "snapshot, created_at, updated_at) VALUES ('old', 'k', 1, 'active', 7, :h, 'engine', '{}', :t, :t)"
                ),
                {"h": GENESIS, "t": NOW},
            )
        with Store.open(db_url) as store:  # migrates to head
            row = store.case("old")
            assert row is not None and (row.snapshot_version, row.version) == (7, 7)
        with engine.begin() as conn:
            conn.execute(text("UPDATE cases SET version = 9 WHERE id = 'old'"))
        with pytest.raises(RuntimeError, match="1 cases have a snapshot older"):
            alembic(command.downgrade, "0001")
        with engine.begin() as conn:
            conn.execute(text("UPDATE cases SET snapshot_version = 9 WHERE id = 'old'"))
        alembic(command.downgrade, "0001")
        with engine.connect() as conn:
            assert conn.execute(text("SELECT version FROM cases WHERE id = 'old'")).scalar_one() == 9
    finally:
        engine.dispose()


def _insert_old_case(conn: Connection) -> None:
    """A case row as revisions 0002 and later store it, written with SQL (no model classes of today)."""
    conn.execute(
        text(
            "INSERT INTO cases (id, definition_key, definition_version, status, version, snapshot_version, "
            "last_hash, source, snapshot, created_at, updated_at) "
            "VALUES ('old', 'k', 1, 'active', 1, 1, :h, 'engine', '{}', :t, :t)"
        ),
        {"h": GENESIS, "t": NOW},
    )


def test_migration_0003_queues_open_tasks_of_their_group(db_url: str) -> None:
    from alembic import command

    engine, alembic = _alembic(db_url)
    try:
        alembic(command.upgrade, "0002")
        with engine.begin() as conn:
            _insert_old_case(conn)
            for item, state in (("i1", "active"), ("i2", "completed")):
                conn.execute(
                    text(
                        "INSERT INTO tasks (case_id, item_id, kind, state, candidate_group, updated_at) "
                        "VALUES ('old', :i, 'humanTask', :s, 'clerks', :t)"
                    ),
                    {"i": item, "s": state, "t": NOW},
                )
        with Store.open(db_url) as store:  # migrates to head
            assert [(r.item_id, r.candidate_groups) for r in store.tasks(candidate_group="clerks")] == [
                ("i1", ("clerks",))
            ]
        with engine.begin() as conn:  # written at revision 0003: a task of two groups
            conn.execute(
                text(
                    "INSERT INTO tasks (case_id, item_id, kind, state, candidate_groups, updated_at) "
                    "VALUES ('old', 'i3', 'humanTask', 'completed', :g, :t)"
                ),
                {"g": "fraud," + "x" * 250, "t": NOW},
            )
        alembic(command.downgrade, "0002")
        with engine.connect() as conn:
            rows = conn.execute(text("SELECT item_id, candidate_group FROM tasks ORDER BY item_id")).all()
            assert [tuple(r) for r in rows] == [("i1", "clerks"), ("i2", "clerks"), ("i3", "fraud")]
        alembic(command.upgrade, "head")
    finally:
        engine.dispose()


def test_migration_0004_adds_candidate_users_and_keeps_tasks_clustered(db_url: str) -> None:
    from alembic import command

    engine, alembic = _alembic(db_url)
    try:
        alembic(command.upgrade, "0003")
        with engine.begin() as conn:
            _insert_old_case(conn)
            conn.execute(
                text("INSERT INTO tasks (case_id, item_id, kind, state, updated_at) "
                     "VALUES ('old', 'i1', 'humanTask', 'active', :t)"),
                {"t": NOW},
            )
        with Store.open(db_url) as store:  # migrates to head
            (task,) = store.tasks(case_id="old")
            assert task.candidate_users == ()
            assert store.tasks(candidate_user="dan") == []
        alembic(command.downgrade, "0003")
        with engine.connect() as conn:
            assert [tuple(r) for r in conn.execute(text("SELECT case_id, item_id FROM tasks"))] == [("old", "i1")]
            if engine.dialect.name == "sqlite":
                ddl = conn.execute(text("SELECT sql FROM sqlite_master WHERE name = 'tasks'")).scalar_one()
                assert "candidate_users" not in ddl and "WITHOUT ROWID" in ddl
        alembic(command.upgrade, "head")
        if engine.dialect.name == "sqlite":
            with engine.connect() as conn:
                ddl = conn.execute(text("SELECT sql FROM sqlite_master WHERE name = 'tasks'")).scalar_one()
                assert "candidate_users" in ddl and "WITHOUT ROWID" in ddl
    finally:
        engine.dispose()


def test_a_cases_events_can_be_read_by_type(db_url: str) -> None:
    with Store.open(db_url) as store:
        case_id = _new_case(store, 4)
        every = store.events(case_id)
        assert store.events(case_id, types=[every[1].type]) == [e for e in every if e.type == every[1].type]
        assert store.events(case_id, types=["no such type"]) == []
        assert store.events(case_id, types=[every[0].type], upto_seq=2) == [e for e in every[:2]
                                                                          if e.type == every[0].type]


def test_a_hot_path_read_survives_a_pooled_connection_the_server_dropped(pg_url: str) -> None:
    # A PostgreSQL restart (or an idle timeout) leaves the pool holding dead connections: the next case read must
    # take a fresh one, not fail (it raised the driver's own OperationalError, once per pooled connection).
    import psycopg

    from casework.store.testing import postgres_base_url

    with Store.open(pg_url) as store:
        assert store.case_head("nope") is None  # a pooled connection now exists
        fairy = store.engine.raw_connection()
        pid = fairy.dbapi_connection.info.backend_pid  # type: ignore[union-attr]
        fairy.close()
        with psycopg.connect(postgres_base_url(), autocommit=True) as admin:
            admin.execute("SELECT pg_terminate_backend(%s)", (pid,))
        assert store.case_head("nope") is None
        assert store.latest_definition_version("nope") is None


def test_imported_cases_steps_are_read_for_many_cases_at_once(db_url: str, tmp_path) -> None:  # type: ignore[no-untyped-def]
    from casework.export.importlog import import_log
    from casework.store.records import ImportedStep

    # more than the 500 cases of one statement; a row may name no performer, and a value may hold quotes
    log = tmp_path / "log.csv"
    rows = [f'c{i},"Check ""{i % 3}""",2024-05-0{1 + i % 2}T09:00:00,{"" if i % 2 else "ann"}' for i in range(600)]
    log.write_text("case_id,activity,timestamp,resource\n" + "\n".join([*rows, "c1,Close,2024-05-09T10:30:00,bob"])
                   + "\n", encoding="utf-8")
    with Store.open(db_url, audit_key=tmp_path / "audit.key") as store:
        import_log(store, log, "k")
        ids = {row.business_key: row.id for row in store.case_listing(definition_key="k")}
        live = _new_case(store)
        steps = store.imported_steps([ids["log:c0"], ids["log:c1"], *ids.values(), live])
    assert steps[ids["log:c0"]] == [ImportedStep('Check "0"', "2024-05-01T09:00:00+00:00", "ann")]
    assert steps[ids["log:c1"]] == [ImportedStep('Check "1"', "2024-05-02T09:00:00+00:00", None),
                                    ImportedStep("Close", "2024-05-09T10:30:00+00:00", "bob")]
    assert len(steps) == 601 and all(len(steps[i]) >= 1 for i in ids.values())
    assert steps[live] == []  # a case run here has no rows of a log
