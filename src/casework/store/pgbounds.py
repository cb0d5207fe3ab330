"""How long a PostgreSQL statement, a lock wait and a reply may take, so that a database host that stops answering
fails a command instead of hanging it for ever.

libpq's own bounds (`url.pg_connect_args`: connect_timeout, tcp_user_timeout, keepalives) end a connection whose
network path goes silent, but not one whose peer still acknowledges every segment while nothing answers: a server
paused (SIGSTOP, a frozen VM, a stalled disk under its process), or a proxy or pooler in between that stopped
passing data on. Its kernel acknowledges the request and the keepalive probes, and psycopg waited for the reply for
ever. So each session gets

- `statement_timeout` (CASEWORK_PG_STATEMENT_TIMEOUT): the server cancels a statement that runs longer;
- `lock_timeout` (CASEWORK_PG_LOCK_TIMEOUT): the server cancels a statement that waits longer for a lock another
  session holds (a forgotten `LOCK TABLE` in psql, a stuck transaction);
- a deadline on the client (`BoundedConnection`): a reply that has not come in the statement timeout plus
  CASEWORK_PG_NETWORK_TIMEOUT can no longer come from a server that works (it would have cancelled the statement
  and said so), and the connection is closed with an error naming the server. Its transaction never committed
  (the server rolls it back as the session ends); a COMMIT that was waiting is a write whose outcome is unknown,
  which `lostwrites` settles.

Statements whose length grows with the store (migrations, ANALYZE) run `unbounded`. A setting the session already
has from the URL's or PGOPTIONS' `options` (`-c statement_timeout=...`), or from `ALTER ROLE/DATABASE ... SET`, is
kept, and the client's deadline follows it.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any, TypeVar

import psycopg
from psycopg import errors as pg_errors
from psycopg.abc import PQGen
from sqlalchemy import Connection, Engine, event, text

from casework.store.url import DEFAULT_NETWORK_TIMEOUT_S, NETWORK_TIMEOUT_ENV, seconds_setting

RV = TypeVar("RV")

STATEMENT_TIMEOUT_ENV = "CASEWORK_PG_STATEMENT_TIMEOUT"
LOCK_TIMEOUT_ENV = "CASEWORK_PG_LOCK_TIMEOUT"
# The longest statements of casework's heavy commands (import-log, audit verify, suggest train, export) on four
# bpic12 imports (52,348 cases, 1.1 million events) took 0.6 s (a batch's COPY), ANALYZE (exempt) 1.1 s: each
# bounded statement is a batch, an index probe or a streamed fetch of at most 5,000 rows, far below this on a store
# a hundred times larger.
DEFAULT_STATEMENT_TIMEOUT_S = 600
DEFAULT_LOCK_TIMEOUT_S = 30
# The name of the attribute that a `BoundedConnection`'s errors carry the server's `host:port` in.
SERVER_ATTRIBUTE = "casework_server"

# Where a setting came from (pg_settings.source) that is the operator's own for this session: the startup packet's
# options (the URL's `options`, PGOPTIONS), ALTER ROLE / ALTER DATABASE ... SET. casework's default replaces only
# the server-wide ones.
_OPERATORS_SOURCES = ("client", "user", "database", "database user")
# One round trip: each setting's value (in milliseconds for both) and source, and casework's set where the operator
# set none.
_SETTINGS_SQL = (
    "SELECT name, setting, source, CASE WHEN source IN ({}) THEN NULL ELSE set_config(name, v.value, false) END "
    "FROM pg_settings JOIN (VALUES ('lock_timeout', %s), ('statement_timeout', %s)) AS v(name, value) USING (name)"
).format(", ".join(f"'{source}'" for source in _OPERATORS_SOURCES))


class ReplyTimeout(psycopg.OperationalError):
    """The server sent no reply for longer than it may run a statement: it, its host or something between has
    stopped answering. The connection is closed."""


class BoundedConnection(psycopg.Connection[Any]):
    """A psycopg connection that gives up waiting for the server after `reply_timeout` seconds (None: never), and
    whose errors carry the server's `host:port` (`SERVER_ATTRIBUTE`) for the one line that reports them."""

    reply_timeout: float | None = None
    server = "(unknown)"  # host:port, known once connected (a closed connection no longer tells)

    def rollback(self) -> None:
        # A connection lost, or closed at the deadline, has no transaction left to end here (the server rolls it
        # back as the session ends); raising "the connection is closed" instead hid the error that lost it, as
        # SQLAlchemy rolls back on the way out of a failed transaction.
        if self.closed:
            return
        super().rollback()

    def wait(self, gen: PQGen[RV], interval: float = 0.1, timeout: float | None = None) -> RV:
        bound = self.reply_timeout if timeout is None else None
        try:
            return super().wait(gen, interval, timeout if bound is None else bound)
        except pg_errors._WaitTimeout as exc:
            if bound is None:
                raise  # psycopg's own timeout (a cancel), for psycopg to handle
            where = self.server
            # The request may be half-sent or its reply half-read: nothing more can be said on this connection.
            self.pgconn.finish()
            error = ReplyTimeout(
                f"the database server {where} sent no reply for {bound:g} s, longer than it may run a statement "
                f"({STATEMENT_TIMEOUT_ENV} plus {NETWORK_TIMEOUT_ENV}): the server, its host or the network to it "
                "has stopped answering (paused, frozen or cut off); casework closed the connection")
            setattr(error, SERVER_ATTRIBUTE, where)
            raise error from exc
        except psycopg.Error as exc:
            setattr(exc, SERVER_ATTRIBUTE, self.server)
            raise


def _connect(cargs: Any, cparams: dict[str, Any]) -> BoundedConnection:
    """A new connection; one that cannot be made fails naming the server it was made to (libpq's "connection
    timeout expired" did not)."""
    try:
        conn = BoundedConnection.connect(*cargs, **cparams)
    except psycopg.OperationalError as exc:
        where = f"{cparams.get('host') or 'localhost'}:{cparams.get('port') or 5432}"
        if where.partition(":")[0] in str(exc):
            setattr(exc, SERVER_ATTRIBUTE, where)
            raise
        error = psycopg.OperationalError(f"cannot connect to the database server {where}: {exc}")
        setattr(error, SERVER_ATTRIBUTE, where)
        raise error from exc
    conn.server = f"{conn.info.host}:{conn.info.port}"  # as libpq names it: no user, no password
    return conn


def bound_engine(engine: Engine, *, lock_timeout_ms: int = DEFAULT_LOCK_TIMEOUT_S * 1000) -> None:
    """Make `engine`'s PostgreSQL connections `BoundedConnection`s whose sessions carry the bounds above (the lock
    timeout `lock_timeout_ms` unless CASEWORK_PG_LOCK_TIMEOUT sets another). Reads the environment now: a setting
    that is not a number of seconds fails before anything is opened."""
    statement_s = seconds_setting(STATEMENT_TIMEOUT_ENV, DEFAULT_STATEMENT_TIMEOUT_S)
    lock_s = seconds_setting(LOCK_TIMEOUT_ENV, -1)
    lock_ms = lock_timeout_ms if lock_s < 0 else lock_s * 1000
    network_s = seconds_setting(NETWORK_TIMEOUT_ENV, DEFAULT_NETWORK_TIMEOUT_S)
    # Until the session's own statement timeout is known, its setup waits as long as casework's allows.
    first_reply = statement_s + network_s if statement_s and network_s else None

    @event.listens_for(engine, "do_connect")
    def _do_connect(_dialect: Any, _record: Any, cargs: Any, cparams: Any) -> Any:
        conn = _connect(cargs, cparams)
        conn.reply_timeout = first_reply
        return conn

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_conn: Any, _record: Any) -> None:
        with dbapi_conn.cursor() as cur:
            cur.execute(_SETTINGS_SQL, (f"{lock_ms}ms", f"{statement_s}s"))
            kept = {name: int(value) for name, value, source, _ in cur.fetchall() if source in _OPERATORS_SOURCES}
        dbapi_conn.commit()  # the settings last as long as the session; rolled back, they would not
        # The statement timeout the session runs with, the operator's or casework's, in milliseconds.
        statement_ms = kept.get("statement_timeout", statement_s * 1000)
        if isinstance(dbapi_conn, BoundedConnection):
            dbapi_conn.reply_timeout = statement_ms / 1000 + network_s if statement_ms and network_s else None


@contextmanager
def unbounded(conn: Connection) -> Iterator[None]:
    """Within `conn`'s transaction, statements whose length grows with the store (a migration's index build or
    rewrite, ANALYZE) run without a statement timeout, and the client waits for them as long as they take (the
    network bounds still end a connection whose path goes silent); lock waits stay bounded. A no-op on SQLite."""
    if conn.dialect.name != "postgresql":
        yield
        return
    conn.execute(text("SET LOCAL statement_timeout = 0"))
    driver = conn.connection.driver_connection
    if not isinstance(driver, BoundedConnection):
        yield
        return
    before, driver.reply_timeout = driver.reply_timeout, None
    try:
        yield
    finally:
        driver.reply_timeout = before
