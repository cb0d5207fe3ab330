"""`Store`: one durable home for definitions, cases, events and projections, on SQLite or PostgreSQL."""

from __future__ import annotations

import hashlib
import os
import threading
from collections.abc import Callable, Generator, Iterator, Sequence
from contextlib import contextmanager
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

from sqlalchemy import Connection, Engine, Select, cast, func, insert, select, text
from sqlalchemy.exc import DBAPIError

from casework.durable import make_folder
from casework.store import default_db_url, migrate
from casework.store import schema as t
from casework.store.blobs import BlobStore
from casework.store.documents import DocumentsMixin
from casework.store.findings import FindingsMixin
from casework.store.groupcommit import GroupCommitter, PostgresBatches, SqliteBatches
from casework.store.jobs import JobsMixin
from casework.store.listings import ListingsMixin
from casework.store.records import CaseHead, CaseRow, DefinitionRow, ImportedStep, StoredEvent, TaskRow, as_utc
from casework.store.texts import DocumentTextsMixin
from casework.store.url import create_store_engine, parse_url, sqlite_file
from casework.store.writable import check_writable

if TYPE_CHECKING:
    from casework.store.writes import CommandWrite

T = TypeVar("T")
_DEPLOY_LOCKS = 0x43574446  # the advisory-lock key space of definition deploys ("CWDF")


_LATEST_VERSION_SQLITE = "SELECT max(version) FROM definitions WHERE key = ?"
_LATEST_VERSION_PG = _LATEST_VERSION_SQLITE.replace("?", "%s")
_CASE_HEAD_SQLITE = (
    "SELECT id, definition_key, definition_version, version, last_hash, source, snapshot, snapshot_version "
    "FROM cases WHERE id = ?"
)
_CASE_HEAD_PG = _CASE_HEAD_SQLITE.replace("?", "%s")


class Store(JobsMixin, DocumentsMixin, DocumentTextsMixin, FindingsMixin, ListingsMixin):
    """Open with `Store.open(url)`; migrations run on open. Thread-safe: share one per process."""

    def __init__(self, url: str, engine: Engine, blob_dir: Path, audit_key_path: Path) -> None:
        self.url = url
        self.engine = engine
        self.is_sqlite = engine.dialect.name == "sqlite"
        self.blobs = BlobStore(blob_dir)
        self.audit_key_path = audit_key_path
        self._committer = GroupCommitter(SqliteBatches(engine) if self.is_sqlite else PostgresBatches(engine))
        # Imported late: casework.store.writes imports the audit package, which imports the store.
        from casework.store.writes import CommandWrite

        self._command_write = CommandWrite
        self._definition_lock = threading.Lock()
        self.closed = False
        self.read_only = False  # opened with `read_only`: every connection refuses to write

    @classmethod
    def open(
        cls,
        url: str | None = None,
        *,
        blob_dir: str | Path | None = None,
        audit_key: str | Path | None = None,
        run_migrations: bool = True,
        read_only: bool = False,
    ) -> Store:
        """`read_only`: no migration, and every connection refuses to write (see `create_store_engine`)."""
        url = url or default_db_url()
        parsed = parse_url(url)
        engine = create_store_engine(url, read_only=read_only)
        run_migrations = run_migrations and not read_only
        if parsed.get_backend_name() == "sqlite":
            db_path = sqlite_file(parsed).resolve()
            if not read_only:  # a folder that cannot be written may still be read
                make_folder(db_path.parent)
                check_writable(db_path)
            default_blobs = db_path.with_name(db_path.name + ".blobs")
            default_key = db_path.with_name(db_path.name + ".audit-key")
        else:
            default_blobs = Path("casework-blobs").resolve()
            default_key = Path("casework-audit.key").resolve()
        blobs = Path(blob_dir or os.environ.get("CASEWORK_BLOBS") or default_blobs)
        key = Path(audit_key or os.environ.get("CASEWORK_AUDIT_KEY") or default_key)
        if run_migrations:
            try:
                migrate.upgrade(engine)
            except BaseException:
                engine.dispose()  # a refused or failed migration must not leave the pool's connections open
                raise
        store = cls(url, engine, blobs, key)
        store.read_only = read_only
        return store

    def close(self) -> None:
        self.closed = True
        self._committer.close()
        self.engine.dispose()

    def __enter__(self) -> Store:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- transactions -------------------------------------------------------------------------------------------

    def write(self, work: Callable[[Connection], T]) -> T:
        """Run `work` in a transaction and commit durably before returning; all-or-nothing.

        Concurrent callers are group-committed (`casework.store.groupcommit`): on SQLite every unit (one fsync for
        many), on PostgreSQL the command writes (other work has its own transaction, side by side with others).
        """
        if self.is_sqlite or (type(work) is self._command_write and getattr(work, "definition", None) is None):
            return self._committer.submit(work)
        with self.engine.begin() as conn:
            return work(conn)

    def write_commands(self, works: Sequence[CommandWrite]) -> list[BaseException | None]:
        """Write several commands' units durably, together where they can be; each one's error (None: written).
        One failing unit (e.g. a `VersionMismatch`) does not undo the others. Migrations go through `write`."""
        if any(work.definition is not None for work in works):
            raise ValueError("write_commands takes no migrations")
        return [unit.error for unit in self._committer.submit_all(list(works))]

    def refresh_statistics(self) -> None:
        """Have PostgreSQL read the row statistics of the cases and their events now, after a bulk load: until
        autovacuum gets to it, the planner took a freshly imported `events` for small and scanned all of it for each
        500 cases a statement asks about (`reasons`, `imported_steps`: 230 ms a statement against 24 ms). SQLite's
        planner needs none for these queries."""
        if self.is_sqlite:
            return
        from casework.store.pgbounds import unbounded

        # ANALYZE reads a sample of each table, but it takes longer as they grow (1.1 s after four bpic12 imports).
        with self.engine.begin() as conn, unbounded(conn):
            conn.execute(text("ANALYZE cases, events"))

    @contextmanager
    def read(self) -> Iterator[Connection]:
        with self.engine.connect() as conn:
            yield conn

    # -- definitions --------------------------------------------------------------------------------------------

    def deploy_definition(self, key: str, name: str | None, xml: str, now: datetime) -> tuple[int, bool]:
        """Store `xml` as the next version of `key`; the same text as the latest version is not a new version.

        Returns (version, created).
        """
        digest = hashlib.sha256(xml.encode("utf-8")).hexdigest()

        def work(conn: Connection) -> tuple[int, bool]:
            if not self.is_sqlite:
                # Processes deploying one key at once would both read the same latest version and both insert the
                # next one (SQLite's BEGIN IMMEDIATE already serialises writers): one waits for the other here.
                conn.execute(text("SELECT pg_advisory_xact_lock(:space, hashtext(:key))"),
                             {"space": _DEPLOY_LOCKS, "key": key})
            latest = conn.execute(
                select(t.definitions.c.version, t.definitions.c.sha256)
                .where(t.definitions.c.key == key)
                .order_by(t.definitions.c.version.desc())
                .limit(1)
            ).first()
            if latest is not None and latest.sha256 == digest:
                return int(latest.version), False
            version = 1 if latest is None else int(latest.version) + 1
            conn.execute(
                insert(t.definitions).values(
                    key=key, version=version, name=name, xml=xml, sha256=digest, deployed_at=now
                )
            )
            return version, True

        with self._definition_lock:
            return self.write(work)

    def definition(self, key: str, version: int | None = None) -> DefinitionRow | None:
        q = select(t.definitions).where(t.definitions.c.key == key)
        q = q.where(t.definitions.c.version == version) if version is not None else q
        q = q.order_by(t.definitions.c.version.desc()).limit(1)
        with self.read() as conn:
            row = conn.execute(q).first()
        return DefinitionRow.from_row(row) if row is not None else None

    def latest_definition_version(self, key: str) -> int | None:
        """The newest deployed version of `key` (None if none): one index probe, without reading the model."""
        row = self._fetch_one(_LATEST_VERSION_SQLITE if self.is_sqlite else _LATEST_VERSION_PG, (key,))
        return None if row is None or row[0] is None else int(row[0])

    def definitions(self) -> list[tuple[str, int, str | None]]:
        with self.read() as conn:
            rows = conn.execute(
                select(t.definitions.c.key, t.definitions.c.version, t.definitions.c.name).order_by(
                    t.definitions.c.key, t.definitions.c.version
                )
            ).all()
        return [(r.key, r.version, r.name) for r in rows]

    # -- cases and events ---------------------------------------------------------------------------------------

    def case(self, case_id: str) -> CaseRow | None:
        with self.read() as conn:
            row = conn.execute(select(t.cases).where(t.cases.c.id == case_id)).first()
        return CaseRow.from_row(row) if row is not None else None

    def case_head(self, case_id: str) -> CaseHead | None:
        """The hot-path read of a case (one indexed row, straight from the driver)."""
        row = self._fetch_one(_CASE_HEAD_SQLITE if self.is_sqlite else _CASE_HEAD_PG, (case_id,))
        return CaseHead(*row) if row is not None else None

    def _fetch_one(self, sql: str, params: tuple[Any, ...]) -> Any:
        """One row of a hot-path read, on a pooled driver connection. Not through SQLAlchemy's `Connection`: its
        construction, the BEGIN its first statement opens and the ROLLBACK its close sends cost a case start more
        than the read itself. The pool ends the driver's implicit read transaction (PostgreSQL) when the connection
        goes back; on SQLite the statement runs in autocommit mode, a read transaction of its own.

        A pooled connection the server dropped (a restart, an idle timeout) is thrown away, with the pool's others,
        and the read made once more on a fresh one, as SQLAlchemy's own path recovers; other failures are raised as
        SQLAlchemy's errors, as that path raises them (the driver's own went past the handlers that name a failure
        in one line)."""
        dialect = self.engine.dialect
        driver_error = dialect.loaded_dbapi.Error
        for attempt in (1, 2):
            try:
                fairy = self.engine.raw_connection()
            except driver_error as exc:  # no connection to be had (the pool does not wrap the driver's error)
                raise DBAPIError.instance(None, None, exc, driver_error, dialect=dialect) from exc
            try:
                cur = fairy.cursor()
                try:
                    cur.execute(sql, params)
                    return cur.fetchone()
                finally:
                    cur.close()
            except driver_error as exc:
                gone = dialect.is_disconnect(exc, fairy.dbapi_connection, None)
                if gone:
                    fairy.invalidate(exc)
                    # And the pool's other connections, as SQLAlchemy's own path does: after a server restart they
                    # are all stale, and the second attempt took the next one and failed again.
                    self.engine.dispose()
                    if attempt == 1:
                        continue
                raise DBAPIError.instance(sql, params, exc, driver_error, connection_invalidated=gone,
                                          dialect=dialect) from exc
            finally:
                fairy.close()
        raise AssertionError("unreachable")  # the second attempt returns or raises

    def case_id_for_business_key(self, business_key: str) -> str | None:
        with self.read() as conn:
            return conn.execute(select(t.cases.c.id).where(t.cases.c.business_key == business_key)).scalar()

    def case_id_for_idempotency_key(self, key: str) -> str | None:
        with self.read() as conn:
            return conn.execute(select(t.idempotency_keys.c.case_id).where(t.idempotency_keys.c.key == key)).scalar()

    def case_ids(self, *, status: str | None = None, limit: int | None = None) -> list[str]:
        q = select(t.cases.c.id).order_by(t.cases.c.created_at, t.cases.c.id)
        q = q.where(t.cases.c.status == status) if status else q
        q = q.limit(limit) if limit else q
        with self.read() as conn:
            return list(conn.execute(q).scalars())

    def case_summaries(self) -> list[tuple[str, str, str]]:
        """(id, definition key, status) of every case, oldest first."""
        return list(self.iter_case_summaries())

    def iter_case_summaries(self) -> Generator[tuple[str, str, str], None, None]:
        """`case_summaries`, streamed: an export names every case of the store."""
        q = select(t.cases.c.id, t.cases.c.definition_key, t.cases.c.status)
        q = q.order_by(t.cases.c.created_at, t.cases.c.id)
        with self.engine.connect() as conn:
            for r in conn.execution_options(stream_results=True, yield_per=5000).execute(q):
                yield r.id, r.definition_key, r.status

    def existing_business_keys(self, keys: list[str]) -> set[str]:
        with self.read() as conn:
            found = conn.execute(select(t.cases.c.business_key).where(t.cases.c.business_key.in_(keys))).scalars()
            return {k for k in found if k is not None}

    def events(
        self, case_id: str, *, upto_seq: int | None = None, after_seq: int = 0, types: Sequence[str] | None = None
    ) -> list[StoredEvent]:
        """A case's events in order: all of them, or those with after_seq < seq <= upto_seq; only `types`, if given
        (the others' payloads are not read)."""
        q = select(t.events).where(t.events.c.case_id == case_id)
        q = q.where(t.events.c.type.in_(list(types))) if types is not None else q
        q = q.where(t.events.c.seq <= upto_seq) if upto_seq is not None else q
        q = q.where(t.events.c.seq > after_seq) if after_seq else q
        with self.read() as conn:
            return [StoredEvent.from_row(r) for r in conn.execute(q.order_by(t.events.c.seq))]

    def reasons(self, case_ids: Sequence[str]) -> dict[str, list[str]]:
        """What people wrote on each case's changes: every distinct reason, in the order first given (a command
        writes its reason on each of its events). One statement per 500 cases, the events' payloads unread."""
        e = t.events.c
        out: dict[str, dict[str, None]] = {case_id: {} for case_id in case_ids}
        with self.read() as conn:
            for start in range(0, len(case_ids), 500):
                q = select(e.case_id, e.reason).where(e.case_id.in_(list(case_ids[start:start + 500])),
                                                      e.reason.is_not(None))
                for case_id, reason in conn.execute(q.order_by(e.case_id, e.seq)):
                    if reason.strip():
                        out[case_id].setdefault(reason.strip())
        return {case_id: list(reasons) for case_id, reasons in out.items()}

    def imported_steps(self, case_ids: Sequence[str]) -> dict[str, list[ImportedStep]]:
        """Each imported case's rows of its log (its `imported_activity` events), in order; no rows for a case run
        by casework. One statement per 500 cases, as `reasons`: a query comparing 5,000 imported cases must not
        read them case by case."""
        e = t.events.c
        out: dict[str, list[ImportedStep]] = {case_id: [] for case_id in case_ids}
        case_ids = list(out)  # each once: a case in two statements would get its rows twice
        with self.read() as conn:
            # The database reads the two fields out of each payload: decoding 100,000 payloads here took longer
            # than reading their rows.
            if conn.dialect.name == "postgresql":
                from sqlalchemy.dialects.postgresql import JSONB

                payload: Any = cast(e.payload, JSONB)
                activity, resource = payload["activity"].astext, payload["resource"].astext
            else:
                activity = func.json_extract(e.payload, "$.activity")
                resource = func.json_extract(e.payload, "$.resource")
            for start in range(0, len(case_ids), 500):
                q = select(e.case_id, e.at, activity, resource).where(
                    e.case_id.in_(list(case_ids[start:start + 500])), e.type == "imported_activity")
                for case_id, at, act, who in conn.execute(q.order_by(e.case_id, e.seq)):
                    out[case_id].append(ImportedStep(str(act), at, who))
        return out

    def iter_events(
        self,
        *,
        order: str = "case",
        batch: int = 2000,
        types: Sequence[str] | None = None,
        definition_key: str | None = None,
        statuses: Sequence[str] | None = None,
    ) -> Generator[StoredEvent, None, None]:
        """Stream every event, by (case, seq) or by global id, without loading the log into memory; `types` keeps
        only events of those types, `definition_key` only those of cases of that definition, `statuses` only those
        of cases in one of those statuses now."""
        key = (t.events.c.case_id, t.events.c.seq) if order == "case" else (t.events.c.id,)
        q = select(t.events)
        if types is not None:
            q = q.where(t.events.c.type.in_(list(types)))
        if definition_key is not None or statuses is not None:
            q = q.join(t.cases, t.cases.c.id == t.events.c.case_id)
        if definition_key is not None:
            q = q.where(t.cases.c.definition_key == definition_key)
        if statuses is not None:
            q = q.where(t.cases.c.status.in_(list(statuses)))
        with self.engine.connect() as conn:
            result = conn.execution_options(stream_results=True, yield_per=batch).execute(q.order_by(*key))
            for row in result:
                yield StoredEvent.from_row(row)

    def counts(self) -> tuple[int, int]:
        with self.read() as conn:
            n_cases = conn.execute(select(func.count()).select_from(t.cases)).scalar_one()
            n_events = conn.execute(select(func.count()).select_from(t.events)).scalar_one()
        return int(n_cases), int(n_events)

    # -- projections ----------------------------------------------------------------------------------------------

    @staticmethod
    def tasks_query(
        *,
        case_id: str | None = None,
        owner: str | None = None,
        candidate_group: str | None = None,
        candidate_user: str | None = None,
        unassigned: bool = False,
        states: tuple[str, ...] | None = None,
        kinds: tuple[str, ...] | None = None,
        due_before: datetime | None = None,
        limit: int = 1000,
    ) -> Select[Any]:
        """The inbox query behind `tasks` (kept apart so its plan can be checked against the indexes).

        `candidate_group` reads the group's queue, which holds open tasks only: completed and terminated tasks have
        left it (their rows stay in `tasks`, found by case, owner or due date). `unassigned`: only tasks nobody owns
        (with a group: what is left in its queue for someone to claim). `candidate_user`: the open tasks offered to
        this user by name (flowable:candidateUsers), kept like a group's queue."""
        q = select(t.tasks)
        if case_id is not None:
            q = q.where(t.tasks.c.case_id == case_id)
        if owner is not None:
            q = q.where(t.tasks.c.owner == owner)
        if unassigned:
            q = q.where(t.tasks.c.owner.is_(None))
        offers = ((t.task_groups.c.group_name, candidate_group), (t.task_candidates.c.user_name, candidate_user))
        for offered_to, who in offers:
            if who is not None:
                o = offered_to.table.c
                q = q.join(offered_to.table, (o.case_id == t.tasks.c.case_id) & (o.item_id == t.tasks.c.item_id))
                q = q.where(offered_to == who)
        if states:
            q = q.where(t.tasks.c.state.in_(states))
        if kinds:
            q = q.where(t.tasks.c.kind.in_(kinds))
        if due_before is not None:
            # In UTC, as due_at is stored: SQLite compares the stored text, and SQLAlchemy writes a bound datetime's
            # wall-clock time there without its offset.
            q = q.where(t.tasks.c.due_at <= as_utc(due_before))
        # Soonest due first, undated last, on both databases (SQLite would put NULL first, PostgreSQL last).
        return q.order_by(t.tasks.c.due_at.asc().nulls_last(), t.tasks.c.case_id, t.tasks.c.item_id).limit(limit)

    def tasks(
        self,
        *,
        case_id: str | None = None,
        owner: str | None = None,
        candidate_group: str | None = None,
        candidate_user: str | None = None,
        unassigned: bool = False,
        states: tuple[str, ...] | None = None,
        kinds: tuple[str, ...] | None = None,
        due_before: datetime | None = None,
        limit: int = 1000,
    ) -> list[TaskRow]:
        q = self.tasks_query(
            case_id=case_id,
            owner=owner,
            candidate_group=candidate_group,
            candidate_user=candidate_user,
            unassigned=unassigned,
            states=states,
            kinds=kinds,
            due_before=due_before,
            limit=limit,
        )
        with self.read() as conn:
            rows = conn.execute(q).all()
        return [
            TaskRow(
                case_id=r.case_id,
                item_id=r.item_id,
                def_id=r.def_id,
                name=r.name,
                kind=r.kind,
                state=r.state,
                owner=r.owner,
                candidate_groups=tuple(r.candidate_groups.split(",")) if r.candidate_groups else (),
                due_at=as_utc(r.due_at),
                candidate_users=tuple(r.candidate_users.split(",")) if r.candidate_users else (),
            )
            for r in rows
        ]

    def participants(self, case_id: str) -> list[tuple[str, str]]:
        with self.read() as conn:
            rows = conn.execute(
                select(t.participants.c.user, t.participants.c.role)
                .where(t.participants.c.case_id == case_id)
                .order_by(t.participants.c.user, t.participants.c.role)
            ).all()
        return [(r.user, r.role) for r in rows]
