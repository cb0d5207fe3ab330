"""How long a PostgreSQL statement, a lock wait and a reply may take, so that a database host that stops answering
fails a command instead of hanging it for ever.

libpq's own bounds (`url.pg_connect_args`: connect_timeout, tcp_user_timeout, keepalives) end a connection whose
network path goes silent, but not one whose peer still acknowledges every segment while nothing answers: a server
paused (SIGSTOP, a frozen VM, a stalled disk under its process), or a proxy or pooler in between that stopped
passing data on. Its kernel acknowledges the request and the keepalive probes, and psycopg waited for the reply for
ever. So each transaction gets

- `statement_timeout` (CASEWORK_PG_STATEMENT_TIMEOUT): the server cancels a statement that runs longer;
- `lock_timeout` (CASEWORK_PG_LOCK_TIMEOUT): the server cancels a statement that waits longer for a lock another
  session holds (a forgotten `LOCK TABLE` in psql, a stuck transaction);
- a deadline on the client (`BoundedConnection`): a reply that has not come in the statement timeout plus
  CASEWORK_PG_NETWORK_TIMEOUT can no longer come from a server that works (it would have cancelled the statement
  and said so), and the connection is closed with an error naming the server. Its transaction never committed
  (the server rolls it back as the session ends); a COMMIT that was waiting is a write whose outcome is unknown,
  which `lostwrites` settles.

Statements whose length grows with the store (migrations, ANALYZE) run `unbounded`. A setting the operator gave
(the URL's or PGOPTIONS' `options`, `-c statement_timeout=...`; `ALTER ROLE/DATABASE ... SET`) is kept, and the
client's deadline follows it.

The settings are made for each transaction (`set_config(..., true)`, as `SET LOCAL`), sent in one message with its
BEGIN, never for the session: behind a pooler in transaction mode (PgBouncer's `pool_mode = transaction`) the next
transaction may run on another server connection, which session settings would not reach, and this one's would
apply to the other clients that share it. For the same reason the URL's `options` are read here rather than left
to the server (PgBouncer does not pass them on), and CASEWORK_PG_POOLER=transaction turns psycopg's server-side
prepared statements off (a statement prepared on one server connection is not there on the next).
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from types import MappingProxyType
from typing import Any, TypeVar

import psycopg
from psycopg import errors as pg_errors
from psycopg import generators
from psycopg.abc import PQGen
from psycopg.pq import ExecStatus, TransactionStatus
from sqlalchemy import Connection, Engine, event, text

from casework.store.url import (
    DEFAULT_NETWORK_TIMEOUT_S,
    NETWORK_TIMEOUT_ENV,
    TRANSACTION_POOLING,
    SettingError,
    pooler_setting,
    seconds_setting,
)

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

# Where a setting came from (pg_settings.source) that is the operator's own: the startup packet's options (the
# URL's `options`, PGOPTIONS), ALTER ROLE / ALTER DATABASE ... SET. casework's default replaces only the server-wide
# ones.
_OPERATORS_SOURCES = ("client", "user", "database", "database user")
_SETTINGS = ("lock_timeout", "statement_timeout")
_SETTINGS_SQL = "SELECT name, setting, source FROM pg_settings WHERE name IN ('lock_timeout', 'statement_timeout')"
# A time setting as PostgreSQL reads it: a number, then a unit (milliseconds without one).
_TIME_RE = re.compile(r"\s*(\d+(?:\.\d*)?|\.\d+)\s*(us|ms|s|min|h|d)?\s*")
_MS_PER_UNIT = {"us": 0.001, "ms": 1, None: 1, "s": 1000, "min": 60_000, "h": 3_600_000, "d": 86_400_000}


def _options_settings(options: str) -> dict[str, int]:
    """The lock and statement timeouts, in milliseconds, that libpq's `options` (`-c statement_timeout=15min
    -clock_timeout=5s --lock-timeout=1s`) give the session. Read here because a pooler may drop them: PgBouncer
    refuses `options`, or ignores them when `ignore_startup_parameters` lists them."""
    words = re.split(r"(?<!\\)\s+", options.strip())
    found: dict[str, int] = {}
    for i, word in enumerate(words):
        setting = words[i + 1] if word == "-c" and i + 1 < len(words) else word.removeprefix("-c")
        if word.startswith("--"):
            setting = word[2:]
        elif not word.startswith("-c"):
            continue
        name, equals, value = setting.replace("\\", "").partition("=")
        name = name.replace("-", "_").lower()
        if equals and name in _SETTINGS:
            time = _TIME_RE.fullmatch(value)
            if time is None:
                raise SettingError(f"the database URL's options (or PGOPTIONS) set {name}={value!r}, which is no time: "
                                   "give a number with a unit (ms, s, min, h, d), e.g. -c statement_timeout=15min")
            found[name] = round(float(time.group(1)) * _MS_PER_UNIT[time.group(2)])
    return found


class ReplyTimeout(psycopg.OperationalError):
    """The server sent no reply for longer than it may run a statement: it, its host or something between has
    stopped answering. The connection is closed."""


class BoundedConnection(psycopg.Connection[Any]):
    """A psycopg connection that gives up waiting for the server after `reply_timeout` seconds (None: never), and
    whose errors carry the server's `host:port` (`SERVER_ATTRIBUTE`) for the one line that reports them."""

    reply_timeout: float | None = None
    server = "(unknown)"  # host:port, known once connected (a closed connection no longer tells)
    # The lock and statement timeouts, in milliseconds, that the connection's `options` give (`_options_settings`).
    options_settings: Mapping[str, int] = MappingProxyType({})
    # Sent with every BEGIN, in the same message: the transaction's own settings (`_start_query`).
    transaction_settings: bytes | None = None

    def _start_query(self) -> PQGen[None]:
        # psycopg begins a transaction here, before the first statement (of a cursor, a pipeline, a COPY, a
        # server-side cursor), whoever runs it: SQLAlchemy, the group committer on the driver, a hot read. The
        # settings go in the same message as the BEGIN (the simple query protocol takes several statements; in a
        # pipeline they are queued together before its sync), so they cost no round trip.
        settings = self.transaction_settings
        if settings is None or self._autocommit or self.pgconn.transaction_status != TransactionStatus.IDLE:
            yield from super()._start_query()
            return
        begin = self._get_tx_start_command()
        if self._pipeline:
            yield from self._exec_command(begin)
            yield from self._exec_command(settings)
            yield from self._pipeline._sync_gen()
            return
        self._check_connection_ok()
        self.pgconn.send_query(begin + b"; " + settings)
        for result in (yield from generators.execute(self.pgconn)):
            if result.status == ExecStatus.FATAL_ERROR:
                raise pg_errors.error_from_result(result, encoding=self.pgconn._encoding)

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
    """Make `engine`'s PostgreSQL connections `BoundedConnection`s whose transactions carry the bounds above (the
    lock timeout `lock_timeout_ms` unless CASEWORK_PG_LOCK_TIMEOUT sets another), ready for a pooler in transaction
    mode if CASEWORK_PG_POOLER says so. Reads the environment now: a setting that is not a number of seconds, or no
    pooling mode, fails before anything is opened."""
    statement_s = seconds_setting(STATEMENT_TIMEOUT_ENV, DEFAULT_STATEMENT_TIMEOUT_S)
    lock_s = seconds_setting(LOCK_TIMEOUT_ENV, -1)
    casework_ms = {"lock_timeout": lock_timeout_ms if lock_s < 0 else lock_s * 1000,
                   "statement_timeout": statement_s * 1000}
    network_s = seconds_setting(NETWORK_TIMEOUT_ENV, DEFAULT_NETWORK_TIMEOUT_S)
    per_transaction_pooler = pooler_setting() == TRANSACTION_POOLING
    url_options = engine.url.query.get("options")
    options = _options_settings(url_options if isinstance(url_options, str) else os.environ.get("PGOPTIONS", ""))
    # Until the session's own statement timeout is known, its setup waits as long as casework's allows.
    first_reply = statement_s + network_s if statement_s and network_s else None

    @event.listens_for(engine, "do_connect")
    def _do_connect(_dialect: Any, _record: Any, cargs: Any, cparams: Any) -> Any:
        if per_transaction_pooler:
            cparams["prepare_threshold"] = None  # a prepared statement lives on one server connection only
        conn = _connect(cargs, cparams)
        conn.reply_timeout, conn.options_settings = first_reply, options
        return conn

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_conn: Any, _record: Any) -> None:
        with dbapi_conn.cursor() as cur:
            cur.execute(_SETTINGS_SQL)
            # Settings the operator gave the server for this role or database (ALTER ROLE/DATABASE ... SET), which
            # reach every server connection a pooler opens, or the startup packet's options (none through PgBouncer)
            server = {name: int(value) for name, value, source in cur.fetchall() if source in _OPERATORS_SOURCES}
        dbapi_conn.rollback()
        if isinstance(dbapi_conn, BoundedConnection):
            chosen = casework_ms | server | dict(dbapi_conn.options_settings)
            dbapi_conn.transaction_settings = ("SELECT " + ", ".join(
                f"set_config('{name}', '{chosen[name]}', true)" for name in _SETTINGS)).encode()
            statement_ms = chosen["statement_timeout"]
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
