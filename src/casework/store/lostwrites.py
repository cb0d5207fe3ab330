"""Command writes on PostgreSQL whose connection was lost (a server restart, a terminated backend, a network cut).

Lost before its COMMIT reached the server, a write was rolled back; lost after, only the reply is missing and the
write stands. The client cannot tell which, and neither answer may be guessed: reporting a written command as
failed invites the caller to send it again, and taking it for a lost race makes the service judge it again on a state
that already holds it (a command applied twice). A command write is settled by writing it again on a new
connection: its version check lets it in only if the first attempt was not written, and if it is refused, the
case's log says whether the first attempt was (its last event, at its seq, with its hash: hashes chain the whole
case, so no other write stores that one). The new write waits on the case row for a lost attempt the server is still
committing, so the log is read after that attempt's outcome is settled.
"""

from __future__ import annotations

import select
from typing import Any

from casework.store.records import VersionMismatch

_LAST_EVENT = "SELECT hash FROM events WHERE case_id = %s AND seq = %s"


def connection_lost(dbapi: Any) -> bool:
    """Whether the server or the network dropped this psycopg connection (its status is bad)."""
    return bool(dbapi.closed)


def server_left(dbapi: Any) -> str | None:
    """Whether the server has closed this idle psycopg connection (a restart, a terminated backend), found without
    a round trip: "server" if it is gone (then so are the pool's other connections, most likely), "this" if it
    holds something unread that an idle connection should not (replaced, to be safe), None if it looks healthy.

    An idle connection has nothing to read; a server that ends a session sends an error and closes the socket, so
    the socket is readable. libpq reads without waiting (its sockets are non-blocking): the first read takes the
    error, the second meets the end of the stream. Before, a connection the server had dropped was handed out as
    if alive, and the read or write given it failed (`pool_pre_ping` would cost a round trip per checkout). A
    connection cut by the network without a word still looks healthy here: its statement fails instead."""
    import psycopg

    if dbapi.closed:
        return "server"
    pgconn = dbapi.pgconn
    if not _readable(pgconn.socket):
        return None
    try:
        pgconn.consume_input()
        pgconn.consume_input()
    except psycopg.OperationalError:
        return "server"
    return "server" if pgconn.status != 0 else "this"  # 0: CONNECTION_OK


def _readable(fd: int) -> bool:
    if hasattr(select, "poll"):
        poller = select.poll()
        poller.register(fd, select.POLLIN)
        return bool(poller.poll(0))
    return bool(select.select([fd], [], [], 0)[0])  # pragma: no cover - Windows has no poll


def write_again(dbapi: Any, wr: Any) -> None:
    """Write the command write `wr` (a `CommandWrite`), whose first attempt lost its connection, on the healthy
    connection `dbapi`: done if it is stored now, by this attempt or the first; `VersionMismatch` if another
    writer's events took its place (the first attempt was not written)."""
    from casework.store.writes import write_command_pg

    try:
        write_command_pg(dbapi, wr)
    except VersionMismatch:
        if not is_stored(dbapi, wr):
            raise


def is_stored(dbapi: Any, wr: Any) -> bool:
    """Whether the log holds `wr`'s last event as `wr` wrote it."""
    cur = dbapi.cursor()
    try:
        cur.execute(_LAST_EVENT, (wr.case_id, wr.version))
        row = cur.fetchone()
    finally:
        cur.close()
        dbapi.rollback()  # ends the read's transaction: the connection is kept for the next batch
    return row is not None and row[0] == wr.last_hash
