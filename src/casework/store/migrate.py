"""Bring a database to the current schema with Alembic, on open, safely when several processes start at once."""

from __future__ import annotations

from contextlib import AbstractContextManager, nullcontext
from pathlib import Path
from typing import TYPE_CHECKING

from sqlalchemy import Connection, Engine, inspect, text

if TYPE_CHECKING:
    from alembic.config import Config
    from alembic.script import ScriptDirectory

MIGRATIONS = Path(__file__).resolve().parent / "migrations"
# The newest migration's revision (tests/store check it against Alembic's scripts). Known without Alembic, whose
# import cost every command 0.1 s although a database that is current needs nothing of it.
HEAD = "0008"
# Arbitrary constant: the PostgreSQL advisory lock that serialises concurrent migrators.
_PG_LOCK_ID = 0x6361_7365_776B


class SchemaError(RuntimeError):
    """A database whose schema this casework cannot use as it is (written by a newer casework, or older than this
    one when the caller must not upgrade it); nothing was written."""


def alembic_config() -> Config:
    from alembic.config import Config

    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    return cfg


def _script() -> ScriptDirectory:
    from alembic.script import ScriptDirectory

    return ScriptDirectory.from_config(alembic_config())


def head_revision() -> str:
    return HEAD


def current_revision(engine: Engine) -> str | None:
    with engine.connect() as conn:
        return revision_of(conn)


def check_known(revision: str | None) -> None:
    """`SchemaError` if `revision` is not one of this casework's: a newer casework wrote the database, and this
    one can neither read its tables as they are nor migrate them (Alembic only said it could not locate it)."""
    if revision is None or revision == HEAD:
        return
    known = {script.revision for script in _script().walk_revisions()}
    if revision not in known:
        raise SchemaError(
            f"the database's schema is at revision {revision}, which this casework does not know (it knows up to "
            f"{head_revision()}): a newer casework wrote it; use that version, or a newer one, with this database"
        )


def revision_of(conn: Connection) -> str | None:
    """The revision recorded in Alembic's version table (None: no table or no row, a database casework never
    migrated), read as Alembic reads it."""
    if not inspect(conn).has_table("alembic_version"):
        return None
    rows = conn.execute(text("SELECT version_num FROM alembic_version")).scalars().all()
    if len(rows) > 1:  # casework's migrations are one line: two heads are not its doing
        raise SchemaError(f"the database records several schema revisions ({', '.join(sorted(rows))})")
    return rows[0] if rows else None


def _unbounded(conn: Connection) -> AbstractContextManager[None]:
    """An index built or a table rewritten takes as long as the store is large: no statement timeout on PostgreSQL
    (`pgbounds.unbounded`; SQLite's migrations need not load psycopg)."""
    if conn.dialect.name != "postgresql":
        return nullcontext()
    from casework.store.pgbounds import unbounded

    return unbounded(conn)


def upgrade(engine: Engine) -> None:
    """Run pending migrations; a no-op (one cheap query) when the database is current. `SchemaError` if a newer
    casework wrote the database: nothing is changed."""
    head = head_revision()
    current = current_revision(engine)
    if current == head:
        return
    check_known(current)
    cfg = alembic_config()
    with engine.connect() as conn:
        conn = conn.execution_options(casework_write=True)
        with conn.begin(), _unbounded(conn):
            if engine.dialect.name == "postgresql":
                conn.execute(text("SELECT pg_advisory_xact_lock(:k)"), {"k": _PG_LOCK_ID})
            # Another process may have migrated while we waited for the lock (perhaps a newer casework).
            current = revision_of(conn)
            if current == head:
                return
            check_known(current)
            from alembic import command

            cfg.attributes["connection"] = conn
            command.upgrade(cfg, "head")
