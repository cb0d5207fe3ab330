"""Statements that run inside a unit of work (one transaction): appends, snapshot update, projections, jobs."""

from __future__ import annotations

import functools
import json
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Protocol

from sqlalchemy import Connection, insert
from sqlalchemy.exc import IntegrityError

from casework.audit.hashing import hash_new_event
from casework.store import schema as t
from casework.store.records import NewEvent, VersionMismatch
from casework.store.storable import NotStorable, check_rows

_PARAM = re.compile(r"(?<!:):([a-z_]+)")
_VALUES = re.compile(r"VALUES (\([^)]*\))")
_PG_SQL: dict[tuple[str, int], str] = {}
PG_INSERT_ROWS = 256  # rows per multi-row INSERT on PostgreSQL: 256 x 12 columns is far below 65,535 parameters


def _pg_sql(sql: str, rows: int) -> str:
    """psycopg `%(name)s` style; for rows > 0, one multi-row INSERT (`VALUES (...), (...)` with numbered
    parameters): psycopg's executemany costs a network round trip per sync, a multi-row INSERT one in all."""
    key = (sql, rows)
    cached = _PG_SQL.get(key)
    if cached is None:
        if rows:
            match = _VALUES.search(sql)
            if match is None:  # a programming error in this module, not bad input
                raise ValueError(f"no VALUES (...) group to repeat in {sql!r}")
            groups = ", ".join(_PARAM.sub(rf"%(\1_{i})s", match.group(1)) for i in range(rows))
            cached = sql[: match.start(1)] + groups + sql[match.end(1) :]
        else:
            cached = _PARAM.sub(r"%(\1)s", sql)
        _PG_SQL[key] = cached
    return cached


def _raw(
    conn: Connection,
    sql: str,
    params: Sequence[Mapping[str, Any]] | Mapping[str, Any],
    many: bool,
    returning: bool = False,
) -> int:
    """Run hand-written SQL on the DBAPI connection inside the current transaction; returns the rowcount.

    The hot path (one command = one update, a few inserts) spends more time building and compiling SQLAlchemy
    constructs than in the database, so its few statements are written once as SQL, in `:name` style, and
    translated to psycopg's `%(name)s` style on PostgreSQL.
    """
    dbapi: Any = conn.connection.driver_connection
    if conn.dialect.name == "postgresql":
        if many and sql.startswith("INSERT") and isinstance(params, Sequence):
            if len(params) > PG_INSERT_ROWS:
                # One statement may bind at most 65,535 parameters (an imported batch of cases has tens of
                # thousands of events), and each row count is a statement text kept in `_PG_SQL`: cap both.
                return sum(_raw(conn, sql, params[i : i + PG_INSERT_ROWS], many=True, returning=returning)
                           for i in range(0, len(params), PG_INSERT_ROWS))
            flat = {f"{k}_{i}": v for i, row in enumerate(params) for k, v in row.items()}
            sql, params, many = _pg_sql(sql, len(params)), flat, False
        else:
            sql = _pg_sql(sql, 0)
    cur = dbapi.cursor()
    try:
        if many:
            cur.executemany(sql, params)
            return -1
        cur.execute(sql, params)
        if returning:
            return len(cur.fetchall())
        return int(cur.rowcount)
    except conn.dialect.loaded_dbapi.IntegrityError as exc:
        # As SQLAlchemy would raise it: callers catch one exception on both databases.
        raise IntegrityError(sql, params, exc) from exc
    finally:
        cur.close()


def db_time(conn: Connection, value: datetime | None) -> Any:
    """A timestamp as the dialect stores it: SQLAlchemy's SQLite text form (UTC), or the aware datetime."""
    if value is None or conn.dialect.name == "postgresql":
        return value
    return sqlite_time(value)


_LAST_TIME: tuple[datetime | None, str] = (None, "")


def sqlite_time(value: datetime) -> str:
    """SQLAlchemy's SQLite text form of a timestamp (UTC). A command stamps all its rows with one `now`, so the
    last value formatted is remembered (one `strftime` per command instead of one per row)."""
    global _LAST_TIME
    last, text = _LAST_TIME
    if last is value:
        return text
    utc = value.astimezone(UTC).replace(tzinfo=None) if value.tzinfo is not None else value
    text = utc.isoformat(" ", "microseconds")  # = strftime("%Y-%m-%d %H:%M:%S.%f"), at half the cost
    _LAST_TIME = (value, text)
    return text


_INSERT_EVENT = (
    "INSERT INTO events (case_id, seq, type, at, actor, reason, payload, prev_hash, hash) "
    "VALUES (:case_id, :seq, :type, :at, :actor, :reason, :payload, :prev_hash, :hash)"
)


@functools.cache
def _update_case_sql(status: bool, snapshot: bool) -> str:
    """The optimistic-lock update of a case row, setting status and snapshot only when they change: setting an
    indexed column, even to its old value, rewrites its index entries (on SQLite two more pages in every commit),
    and the snapshot is most of the row's bytes."""
    sets = ["version = :version"]
    if status:
        sets.append("status = :status")
    sets.append("last_hash = :last_hash")
    if snapshot:
        sets.append("snapshot = :snapshot, snapshot_version = :version")
    sets.append("updated_at = :updated_at")
    return f"UPDATE cases SET {', '.join(sets)} WHERE id = :id AND version = :expected"


_UPSERT_TASK = (
    "INSERT INTO tasks (case_id, item_id, def_id, name, kind, state, owner, candidate_groups, candidate_users, due_at, "
    "updated_at) VALUES (:case_id, :item_id, :def_id, :name, :kind, :state, :owner, :candidate_groups, "
    ":candidate_users, :due_at, :updated_at) "
    "ON CONFLICT (case_id, item_id) DO UPDATE SET def_id = excluded.def_id, name = excluded.name, "
    "kind = excluded.kind, state = excluded.state, owner = excluded.owner, "
    "candidate_groups = excluded.candidate_groups, candidate_users = excluded.candidate_users, "
    "due_at = excluded.due_at, updated_at = excluded.updated_at"
)


class EventLike(Protocol):
    """A `NewEvent`, or anything with its fields (the engine's `Event` has them)."""

    @property
    def type(self) -> str: ...
    @property
    def at(self) -> str: ...
    @property
    def actor(self) -> str: ...
    @property
    def reason(self) -> str | None: ...
    @property
    def payload(self) -> Any: ...


def event_rows(
    case_id: str, first_seq: int, prev_hash: str, new_events: Iterable[NewEvent | EventLike]
) -> list[dict[str, Any]]:
    """Number and hash-chain events of one case starting after (first_seq - 1, prev_hash)."""
    rows: list[dict[str, Any]] = []
    seq = first_seq
    for ev in new_events:
        try:
            digest, payload_json = hash_new_event(
                case_id=case_id,
                seq=seq,
                type=ev.type,
                at=ev.at,
                actor=ev.actor,
                reason=ev.reason,
                payload=ev.payload,
                prev_hash=prev_hash,
            )
        except UnicodeEncodeError:
            raise NotStorable(
                "text in the command (its actor, reason or data) is not valid Unicode: it holds a lone surrogate"
            ) from None
        rows.append(
            {
                "case_id": case_id,
                "seq": seq,
                "type": ev.type,
                "at": ev.at,
                "actor": ev.actor,
                "reason": ev.reason,
                "payload": payload_json,
                "prev_hash": prev_hash,
                "hash": digest,
            }
        )
        prev_hash = digest
        seq += 1
    return rows


_EVENT_COLUMNS = ("case_id", "seq", "type", "at", "actor", "reason", "payload", "prev_hash", "hash")


def insert_events(conn: Connection, rows: Sequence[dict[str, Any]]) -> None:
    if not rows:
        return
    if conn.dialect.name == "postgresql" and len(rows) > PG_INSERT_ROWS:
        # Many rows at once (an imported batch of cases): COPY streams them in one statement, where multi-row
        # INSERTs of at most PG_INSERT_ROWS rows took a round trip each (bpic12's import: 27.6 s).
        dbapi: Any = conn.connection.driver_connection
        with dbapi.cursor() as cur, cur.copy(f"COPY events ({', '.join(_EVENT_COLUMNS)}) FROM STDIN") as copy:
            for row in rows:
                copy.write_row(tuple(row[c] for c in _EVENT_COLUMNS))
        return
    _raw(conn, _INSERT_EVENT, rows, many=True)


_INSERT_CASE = (
    "INSERT INTO cases (id, definition_key, definition_version, business_key, status, version, last_hash, source, "
    "snapshot, snapshot_version, created_at, updated_at) VALUES (:id, :definition_key, :definition_version, "
    ":business_key, :status, :version, :last_hash, :source, :snapshot, :snapshot_version, :created_at, :updated_at)"
)


def insert_case(
    conn: Connection,
    *,
    case_id: str,
    definition_key: str,
    definition_version: int,
    business_key: str | None,
    status: str,
    version: int,
    last_hash: str,
    snapshot: Mapping[str, Any] | str,
    now: datetime,
    source: str = "engine",
    last_change: datetime | None = None,
) -> None:
    """A new case row, started at `now` and last changed then, or at `last_change` (an imported case's last row)."""
    _raw(
        conn,
        _INSERT_CASE,
        {
            "id": case_id,
            "definition_key": definition_key,
            "definition_version": definition_version,
            "business_key": business_key,
            "status": status,
            "version": version,
            "last_hash": last_hash,
            "source": source,
            "snapshot": snapshot if isinstance(snapshot, str) else json.dumps(snapshot, separators=(",", ":")),
            "snapshot_version": version,
            "created_at": db_time(conn, now),
            "updated_at": db_time(conn, now if last_change is None else last_change),
        },
        many=False,
    )


def update_case(
    conn: Connection,
    *,
    case_id: str,
    expected_version: int,
    version: int,
    status: str,
    last_hash: str,
    snapshot: Mapping[str, Any] | str | None,
    now: datetime,
    definition: tuple[str, int] | None = None,
    previous_status: str | None = None,
) -> None:
    """The optimistic lock: runs first in a unit of work, so losing the race writes nothing at all.

    `snapshot` None keeps the stored snapshot (and its snapshot_version); otherwise it is the state at `version`.
    `previous_status`, if given, is the status the case has at `expected_version`: if it is `status`, the status
    column is left alone."""
    set_status = previous_status is None or previous_status != status
    params: dict[str, Any] = {
        "version": version,
        "last_hash": last_hash,
        "updated_at": db_time(conn, now),
        "id": case_id,
        "expected": expected_version,
    }
    if set_status:
        params["status"] = status
    if snapshot is not None:
        params["snapshot"] = snapshot if isinstance(snapshot, str) else json.dumps(snapshot, separators=(",", ":"))
    sql = _update_case_sql(set_status, snapshot is not None) + " RETURNING id"
    if _raw(conn, sql, params, many=False, returning=True) != 1:
        raise VersionMismatch(case_id, expected_version)
    if definition is not None:  # the case moved to another model version (migration)
        _raw(conn, "UPDATE cases SET definition_key = :k, definition_version = :v WHERE id = :id",
             {"k": definition[0], "v": definition[1], "id": case_id}, many=False)


def upsert_tasks(conn: Connection, rows: list[dict[str, Any]]) -> None:
    if rows:
        # New dicts: the caller's rows stay as they were (a unit of work may be run again after a rollback).
        params = [
            {**row, "due_at": db_time(conn, row["due_at"]), "updated_at": db_time(conn, row["updated_at"])}
            for row in rows
        ]
        _raw(conn, _UPSERT_TASK, params, many=True)


@dataclass(frozen=True)
class KeyedRows:
    """Projection rows addressed by their key, for one case, outside a command write (a new case's participants and
    group queues and candidate lists); a `CommandWrite` carries the same fields."""

    case_id: str
    participants_add: Sequence[tuple[str, str]] = ()
    participants_remove: Sequence[tuple[str, str]] = ()
    queued_add: Sequence[tuple[str, str]] = ()  # (item id, candidate group)
    queued_remove: Sequence[tuple[str, str]] = ()
    offered_add: Sequence[tuple[str, str]] = ()  # (item id, candidate user)
    offered_remove: Sequence[tuple[str, str]] = ()
    task_deletes: Sequence[str] = ()
    job_deletes: Sequence[tuple[str, str]] = ()  # (kind, ref)


def write_keyed_rows(conn: Connection, units: Sequence[KeyedRows | CommandWrite]) -> None:
    """`_write_keyed_rows` inside `conn`'s transaction."""
    cur = conn.connection.driver_connection.cursor()  # type: ignore[union-attr]
    try:
        _write_keyed_rows(cur, units, "%s" if conn.dialect.name == "postgresql" else "?")
    finally:
        cur.close()


_UPSERT_JOB = (
    "INSERT INTO jobs (kind, case_id, ref, due_at, payload, claimed_by, claimed_until, attempts, created_at) "
    "VALUES (:kind, :case_id, :ref, :due_at, :payload, NULL, NULL, 0, :created_at) "
    "ON CONFLICT (kind, case_id, ref) DO UPDATE SET due_at = excluded.due_at, payload = excluded.payload, "
    "claimed_by = NULL, claimed_until = NULL, attempts = 0"
)


_UPSERT_JOB_QMARK = _PARAM.sub("?", _UPSERT_JOB)


def upsert_jobs(conn: Connection, rows: list[dict[str, Any]]) -> None:
    """Jobs are keyed by (kind, case, ref): re-arming a timer moves its due time and clears any stale claim."""
    if rows:
        params = [
            {
                "kind": r["kind"],
                "case_id": r["case_id"],
                "ref": r["ref"],
                "due_at": db_time(conn, r["due_at"]),
                "payload": r["payload"],
                "created_at": db_time(conn, r["created_at"]),
            }
            for r in rows
        ]
        _raw(conn, _UPSERT_JOB, params, many=True)


def insert_idempotency_key(conn: Connection, key: str, case_id: str, now: datetime) -> None:
    conn.execute(insert(t.idempotency_keys).values(key=key, case_id=case_id, created_at=now))


# -- one command's writes as data: run alone, or many at once by the SQLite group committer -------------------------


class CommandWrite:
    """Everything one command writes to an existing case: the optimistic-lock update of the case row, its new
    events (from `event_rows`) and the changes to its projections.

    Calling it runs the statements in `conn`'s transaction (as a unit of work for `Store.write`); on SQLite the
    group committer instead writes a whole batch of them together (`write_batch_sqlite`).
    """

    __slots__ = (
        "case_id", "definition", "events", "expected_version", "job_deletes", "job_upserts", "last_hash", "now",
        "offered_add", "offered_remove", "participants_add", "participants_remove", "previous_status", "queued_add",
        "queued_remove", "snapshot",
        "status", "task_deletes", "task_upserts", "version",
    )

    def __init__(
        self,
        *,
        case_id: str,
        expected_version: int,
        status: str,
        snapshot: str | None,
        now: datetime,
        events: list[dict[str, Any]],
        task_upserts: list[dict[str, Any]] | None = None,
        task_deletes: list[str] | None = None,
        participants_add: list[tuple[str, str]] | None = None,
        participants_remove: list[tuple[str, str]] | None = None,
        queued_add: list[tuple[str, str]] | None = None,
        queued_remove: list[tuple[str, str]] | None = None,
        offered_add: list[tuple[str, str]] | None = None,
        offered_remove: list[tuple[str, str]] | None = None,
        job_upserts: list[dict[str, Any]] | None = None,
        job_deletes: list[tuple[str, str]] | None = None,
        definition: tuple[str, int] | None = None,
        previous_status: str | None = None,
    ) -> None:
        if not events:
            raise ValueError("a command write appends at least one event")
        self.case_id = case_id
        self.expected_version = expected_version
        self.version = expected_version + len(events)
        self.status = status
        self.last_hash: str = events[-1]["hash"]
        self.snapshot = snapshot
        self.now = now
        self.events = events
        # The lists given are kept, even empty ones (`x or []` made a new list for each empty one).
        self.task_upserts = [] if task_upserts is None else task_upserts
        self.task_deletes = [] if task_deletes is None else task_deletes
        self.participants_add = [] if participants_add is None else participants_add
        self.participants_remove = [] if participants_remove is None else participants_remove
        self.queued_add = [] if queued_add is None else queued_add  # (item id, candidate group)
        self.queued_remove = [] if queued_remove is None else queued_remove
        self.offered_add = [] if offered_add is None else offered_add  # (item id, candidate user)
        self.offered_remove = [] if offered_remove is None else offered_remove
        self.job_upserts = [] if job_upserts is None else job_upserts
        self.job_deletes = [] if job_deletes is None else job_deletes  # (kind, ref)
        self.definition = definition
        self.previous_status = previous_status  # the status at expected_version, if known
        check_rows(events, self)

    def __call__(self, conn: Connection) -> None:
        # The version check goes first: if it fails, this unit has written nothing.
        update_case(
            conn,
            case_id=self.case_id,
            expected_version=self.expected_version,
            version=self.version,
            status=self.status,
            last_hash=self.last_hash,
            snapshot=self.snapshot,
            now=self.now,
            definition=self.definition,
            previous_status=self.previous_status,
        )
        insert_events(conn, self.events)
        upsert_tasks(conn, self.task_upserts)
        upsert_jobs(conn, self.job_upserts)
        write_keyed_rows(conn, [self])


@functools.cache
def _batch_update_case_sql(status: bool, snapshot: bool) -> str:
    # qmark style: `:version` appears twice when the snapshot is set, so the row carries it twice
    return _PARAM.sub("?", _update_case_sql(status, snapshot))


_BATCH_INSERT_EVENT = _PARAM.sub("?", _INSERT_EVENT)
_BATCH_UPSERT_TASK = _PARAM.sub("?", _UPSERT_TASK)


def batchable(units: Sequence[Any]) -> bool:
    """Whether `write_batch_sqlite` can write these units together: all plain command writes on distinct cases."""
    seen: set[str] = set()
    for unit in units:
        if type(unit) is not CommandWrite or unit.definition is not None or unit.case_id in seen:
            return False
        seen.add(unit.case_id)
    return True


def write_batch_sqlite(dbapi: Any, writes: Sequence[CommandWrite]) -> bool:
    """Write `writes` (see `batchable`) in the open SQLite transaction on the DBAPI connection: one executemany per
    statement for all of them, no SAVEPOINT per unit, no SQLAlchemy. Returns False, with the transaction to be
    rolled back, if any case is no longer at the version its command expected; the caller then writes the units one
    by one to tell which."""
    cur = dbapi.cursor()
    try:
        # executemany with positional rows: for the few rows of a batch it beats multi-row VALUES statements
        # (and UPDATE ... FROM (VALUES ...) costs ~30 us more than plain UPDATEs). rowcount sums over the rows.
        # Group the case updates by the columns they set (see _update_case_sql): one executemany per shape.
        shapes: dict[tuple[bool, bool], list[tuple[Any, ...]]] = {}
        for wr in writes:
            set_status = wr.previous_status is None or wr.previous_status != wr.status
            row: tuple[Any, ...] = (wr.version,)
            if set_status:
                row += (wr.status,)
            row += (wr.last_hash,)
            if wr.snapshot is not None:
                row += (wr.snapshot, wr.version)
            row += (sqlite_time(wr.now), wr.case_id, wr.expected_version)
            shapes.setdefault((set_status, wr.snapshot is not None), []).append(row)
        updated = 0
        for shape, rows in shapes.items():
            cur.executemany(_batch_update_case_sql(*shape), rows)
            updated += cur.rowcount
        if updated != len(writes):
            return False
        cur.executemany(
            _BATCH_INSERT_EVENT,
            [
                (r["case_id"], r["seq"], r["type"], r["at"], r["actor"], r["reason"], r["payload"], r["prev_hash"],
                 r["hash"])
                for wr in writes
                for r in wr.events
            ],
        )
        tasks = [
            (r["case_id"], r["item_id"], r["def_id"], r["name"], r["kind"], r["state"], r["owner"],
             r["candidate_groups"], r["candidate_users"], None if r["due_at"] is None else sqlite_time(r["due_at"]),
             sqlite_time(r["updated_at"]))
            for wr in writes
            for r in wr.task_upserts
        ]
        if tasks:
            cur.executemany(_BATCH_UPSERT_TASK, tasks)
        _write_keyed_rows(cur, writes, "?")
        jobs = [
            (j["kind"], j["case_id"], j["ref"], sqlite_time(j["due_at"]), j["payload"], sqlite_time(j["created_at"]))
            for wr in writes
            for j in wr.job_upserts
        ]
        if jobs:
            cur.executemany(_UPSERT_JOB_QMARK, jobs)
        return True
    finally:
        cur.close()


# One shape of case update on PostgreSQL: an UPDATE writes a new row version whatever it sets, an unchanged status
# keeps its index entries, and an unchanged snapshot keeps its TOAST value. One statement lets a batch lock its cases
# in one order (by id), which a statement per shape would not.
_PG_UPDATE_CASE = (
    "UPDATE cases SET version = %(version)s, status = %(status)s, last_hash = %(last_hash)s, "
    "snapshot = COALESCE(%(snapshot)s::text, snapshot), "
    "snapshot_version = CASE WHEN %(snapshot)s::text IS NULL THEN snapshot_version ELSE %(version)s END, "
    "updated_at = %(updated_at)s WHERE id = %(id)s AND version = %(expected)s"
)


def write_batch_pg(dbapi: Any, writes: Sequence[CommandWrite]) -> bool:
    """Write and commit `writes` (see `batchable`) on PostgreSQL, on the psycopg connection, in one transaction.

    Returns False, with the transaction rolled back, if a case is no longer at the version its command expected or
    a statement failed: the caller then writes the units one by one (`write_command_pg`) to tell which. A failing
    COMMIT raises.
    """
    import psycopg

    try:
        updates = _send_pg(dbapi, writes)
    except psycopg.Error:
        if dbapi.closed:
            raise
        dbapi.rollback()
        return False
    if updates.rowcount != len(writes):
        dbapi.rollback()
        return False
    dbapi.commit()
    return True


def write_command_pg(dbapi: Any, wr: CommandWrite) -> None:
    """One command's writes alone on PostgreSQL, committed; `VersionMismatch` (nothing written) if the case moved
    on. Its new events then usually collide with the other writer's on (case_id, seq) before the version check is
    read: the same lost race."""
    import psycopg

    try:
        updates = _send_pg(dbapi, [wr])
    except psycopg.errors.UniqueViolation as exc:
        dbapi.rollback()
        if exc.diag.table_name == "events":
            raise VersionMismatch(wr.case_id, wr.expected_version) from exc
        raise
    except psycopg.Error:
        if not dbapi.closed:
            dbapi.rollback()
        raise
    if updates.rowcount != 1:
        dbapi.rollback()
        raise VersionMismatch(wr.case_id, wr.expected_version)
    dbapi.commit()


def _send_pg(dbapi: Any, writes: Sequence[CommandWrite]) -> Any:
    """Run the statements of `writes` in the open (or an implicitly begun) transaction, all sent in one pipeline
    and their results read together: one network round trip, where running them one by one waits for each in
    turn. The cases are updated (locked) in the order of their ids, so that batches of several processes cannot
    deadlock on them. Returns the cursor of the case updates (its rowcount: how many version checks passed)."""
    ordered = sorted(writes, key=_case_id)
    with dbapi.pipeline():
        updates = dbapi.cursor()
        updates.executemany(
            _PG_UPDATE_CASE,
            [
                {"version": wr.version, "status": wr.status, "last_hash": wr.last_hash, "snapshot": wr.snapshot,
                 "updated_at": wr.now, "id": wr.case_id, "expected": wr.expected_version}
                for wr in ordered
            ],
        )
        cur = dbapi.cursor()
        cur.executemany(_pg_sql(_INSERT_EVENT, 0), [row for wr in ordered for row in wr.events])
        tasks = [row for wr in ordered for row in wr.task_upserts]
        if tasks:
            cur.executemany(_pg_sql(_UPSERT_TASK, 0), tasks)
        jobs = [job for wr in ordered for job in wr.job_upserts]
        if jobs:
            cur.executemany(_pg_sql(_UPSERT_JOB, 0), jobs)
        _write_keyed_rows(cur, ordered, "%s")
    return updates


def _write_keyed_rows(cur: Any, writes: Sequence[KeyedRows | CommandWrite], mark: str) -> None:
    """The batch's task and job deletions, participant, group-queue and candidate-user changes, one executemany
    each, on either driver (`mark`: its positional placeholder)."""
    statements = (
        ("DELETE FROM tasks WHERE case_id = ? AND item_id = ?",
         [(wr.case_id, item) for wr in writes for item in wr.task_deletes]),
        ('INSERT INTO participants (case_id, "user", role) VALUES (?, ?, ?) ON CONFLICT DO NOTHING',
         [(wr.case_id, u, r) for wr in writes for u, r in wr.participants_add]),
        ('DELETE FROM participants WHERE case_id = ? AND "user" = ? AND role = ?',
         [(wr.case_id, u, r) for wr in writes for u, r in wr.participants_remove]),
        ("DELETE FROM jobs WHERE kind = ? AND case_id = ? AND ref = ?",
         [(kind, wr.case_id, ref) for wr in writes for kind, ref in wr.job_deletes]),
        ("INSERT INTO task_groups (group_name, case_id, item_id) VALUES (?, ?, ?) ON CONFLICT DO NOTHING",
         [(g, wr.case_id, item) for wr in writes for item, g in wr.queued_add]),
        ("DELETE FROM task_groups WHERE group_name = ? AND case_id = ? AND item_id = ?",
         [(g, wr.case_id, item) for wr in writes for item, g in wr.queued_remove]),
        ("INSERT INTO task_candidates (user_name, case_id, item_id) VALUES (?, ?, ?) ON CONFLICT DO NOTHING",
         [(u, wr.case_id, item) for wr in writes for item, u in wr.offered_add]),
        ("DELETE FROM task_candidates WHERE user_name = ? AND case_id = ? AND item_id = ?",
         [(u, wr.case_id, item) for wr in writes for item, u in wr.offered_remove]),
    )
    for sql, rows in statements:
        if rows:
            cur.executemany(sql.replace("?", mark), rows)


def _case_id(wr: CommandWrite) -> str:
    return wr.case_id
