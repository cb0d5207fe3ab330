"""Statements that run inside a unit of work (one transaction): appends, snapshot update, projections, jobs."""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Mapping, Sequence
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Connection, insert

from casework.audit.hashing import hash_new_event
from casework.store import schema as t
from casework.store.records import NewEvent, VersionMismatch

_PARAM = re.compile(r"(?<!:):([a-z_]+)")
_VALUES = re.compile(r"VALUES (\([^)]*\))")
_PG_SQL: dict[tuple[str, int], str] = {}


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
    finally:
        cur.close()


def db_time(conn: Connection, value: datetime | None) -> Any:
    """A timestamp as the dialect stores it: SQLAlchemy's SQLite text form (UTC), or the aware datetime."""
    if value is None or conn.dialect.name == "postgresql":
        return value
    utc = value.astimezone(UTC) if value.tzinfo is not None else value
    return utc.strftime("%Y-%m-%d %H:%M:%S.%f")


_INSERT_EVENT = (
    "INSERT INTO events (case_id, seq, type, at, actor, reason, payload, prev_hash, hash) "
    "VALUES (:case_id, :seq, :type, :at, :actor, :reason, :payload, :prev_hash, :hash)"
)
_UPDATE_CASE = (
    "UPDATE cases SET version = :version, status = :status, last_hash = :last_hash, snapshot = :snapshot, "
    "updated_at = :updated_at WHERE id = :id AND version = :expected RETURNING id"
)
_UPSERT_TASK = (
    "INSERT INTO tasks (case_id, item_id, def_id, name, kind, state, owner, candidate_group, due_at, updated_at) "
    "VALUES (:case_id, :item_id, :def_id, :name, :kind, :state, :owner, :candidate_group, :due_at, :updated_at) "
    "ON CONFLICT (case_id, item_id) DO UPDATE SET def_id = excluded.def_id, name = excluded.name, "
    "kind = excluded.kind, state = excluded.state, owner = excluded.owner, "
    "candidate_group = excluded.candidate_group, due_at = excluded.due_at, updated_at = excluded.updated_at"
)


def event_rows(case_id: str, first_seq: int, prev_hash: str, new_events: Iterable[NewEvent]) -> list[dict[str, Any]]:
    """Number and hash-chain events of one case starting after (first_seq - 1, prev_hash)."""
    rows: list[dict[str, Any]] = []
    seq = first_seq
    for ev in new_events:
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


def insert_events(conn: Connection, rows: Sequence[dict[str, Any]]) -> None:
    if rows:
        _raw(conn, _INSERT_EVENT, rows, many=True)


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
) -> None:
    conn.execute(
        insert(t.cases).values(
            id=case_id,
            definition_key=definition_key,
            definition_version=definition_version,
            business_key=business_key,
            status=status,
            version=version,
            last_hash=last_hash,
            source=source,
            snapshot=snapshot if isinstance(snapshot, str) else json.dumps(snapshot, separators=(",", ":")),
            created_at=now,
            updated_at=now,
        )
    )


def update_case(
    conn: Connection,
    *,
    case_id: str,
    expected_version: int,
    version: int,
    status: str,
    last_hash: str,
    snapshot: Mapping[str, Any] | str,
    now: datetime,
    definition: tuple[str, int] | None = None,
) -> None:
    """The optimistic lock: runs first in a unit of work, so losing the race writes nothing at all."""
    params = {
        "version": version,
        "status": status,
        "last_hash": last_hash,
        "snapshot": snapshot if isinstance(snapshot, str) else json.dumps(snapshot, separators=(",", ":")),
        "updated_at": db_time(conn, now),
        "id": case_id,
        "expected": expected_version,
    }
    if _raw(conn, _UPDATE_CASE, params, many=False, returning=True) != 1:
        raise VersionMismatch(case_id, expected_version)
    if definition is not None:  # the case moved to another model version (migration)
        _raw(conn, "UPDATE cases SET definition_key = :k, definition_version = :v WHERE id = :id",
             {"k": definition[0], "v": definition[1], "id": case_id}, many=False)


def upsert_tasks(conn: Connection, rows: list[dict[str, Any]]) -> None:
    if rows:
        for row in rows:
            row["due_at"] = db_time(conn, row["due_at"])
            row["updated_at"] = db_time(conn, row["updated_at"])
        _raw(conn, _UPSERT_TASK, rows, many=True)


def delete_tasks(conn: Connection, case_id: str, item_ids: Iterable[str]) -> None:
    rows = [{"case_id": case_id, "item_id": i} for i in item_ids]
    if rows:
        _raw(conn, "DELETE FROM tasks WHERE case_id = :case_id AND item_id = :item_id", rows, many=True)


def add_participants(conn: Connection, case_id: str, pairs: Iterable[tuple[str, str]]) -> None:
    rows = [{"case_id": case_id, "user": u, "role": r} for u, r in pairs]
    if rows:
        sql = 'INSERT INTO participants (case_id, "user", role) VALUES (:case_id, :user, :role) ON CONFLICT DO NOTHING'
        _raw(conn, sql, rows, many=True)


def remove_participants(conn: Connection, case_id: str, pairs: Iterable[tuple[str, str]]) -> None:
    rows = [{"case_id": case_id, "user": u, "role": r} for u, r in pairs]
    if rows:
        sql = 'DELETE FROM participants WHERE case_id = :case_id AND "user" = :user AND role = :role'
        _raw(conn, sql, rows, many=True)


_UPSERT_JOB = (
    "INSERT INTO jobs (kind, case_id, ref, due_at, payload, claimed_by, claimed_until, attempts, created_at) "
    "VALUES (:kind, :case_id, :ref, :due_at, :payload, NULL, NULL, 0, :created_at) "
    "ON CONFLICT (kind, case_id, ref) DO UPDATE SET due_at = excluded.due_at, payload = excluded.payload, "
    "claimed_by = NULL, claimed_until = NULL, attempts = 0"
)


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


def delete_jobs(conn: Connection, kind: str, case_id: str, refs: Iterable[str]) -> None:
    rows = [{"kind": kind, "case_id": case_id, "ref": ref} for ref in refs]
    if rows:
        _raw(conn, "DELETE FROM jobs WHERE kind = :kind AND case_id = :case_id AND ref = :ref", rows, many=True)


def insert_idempotency_key(conn: Connection, key: str, case_id: str, now: datetime) -> None:
    conn.execute(insert(t.idempotency_keys).values(key=key, case_id=case_id, created_at=now))
