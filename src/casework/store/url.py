"""Database URLs as the command line takes them, and SQLAlchemy engines configured for durability."""

from __future__ import annotations

import os
import re
import sqlite3
from collections.abc import Callable
from pathlib import Path
from typing import Any, cast
from urllib.parse import quote, unquote

from sqlalchemy import Engine, create_engine, event
from sqlalchemy.engine import URL, make_url


class StoreURLError(ValueError):
    """The database URL is neither `sqlite:///path` (or SQLite's URI filename form) nor `postgresql://...`."""


# SQLite's URI parameters that casework can honour, and their values: `mode=memory`, `cache=shared` (several
# connections of one process sharing a cache, and its table locks), `nolock`, `vfs` and the rest would each undo a
# guarantee of the store (durability, one database for every process, locking).
_URI_PARAMETERS = {"uri": ("true",), "mode": ("ro", "rw", "rwc"), "immutable": ("0", "1")}
_URI_FORM = "sqlite:///file:path?uri=true, optionally with mode=ro|rw|rwc and immutable=0|1"


# libpq takes these as query parameters too (`postgresql://ann@host/db?password=...`); SQLAlchemy's hide_password
# only knows the password of the user-info part.
_SECRET_PARAMETERS = frozenset({"password", "sslpassword"})
_SECRET_PARAMETER_RE = re.compile(r"(?i)([?&](?:ssl)?password=)[^&#]*")
# libpq's key/value form: `password = 'it''s'` or `password=pw`, after the start or a space.
_SECRET_KEYWORD_RE = re.compile(r"(?i)((?:^|\s)(?:ssl)?password\s*=\s*)(?:'(?:[^'\\]|\\.|'')*'?|\S*)")
# A scheme as typed, with however many slashes (none, one, two).
_SCHEME_RE = re.compile(r"[A-Za-z][A-Za-z0-9+.\- ]*:/*")


def redacted(url: str) -> str:
    """The URL as it may be printed in a message or log: its passwords replaced by `***`, also when it does not parse
    (a mistyped port must not put the password on the screen)."""
    try:
        parsed = make_url(url)
    except Exception:
        return _redacted_text(url)
    if parsed.host and "@" in parsed.host:
        # SQLAlchemy split the user info at the first '@' of a password holding more: the rest of the password
        # would be shown as part of the host.
        return _redacted_text(url)
    secrets = [name for name in parsed.query if name.lower() in _SECRET_PARAMETERS]
    if parsed.password is None and not secrets:
        # Rendering encodes the whole URL again (a path's 'ä b' became '%C3%A4 b'): only one with a secret needs it.
        return url
    return _SECRET_PARAMETER_RE.sub(r"\1***", parsed.render_as_string(hide_password=True))


# A URL within a message: from its scheme to the next white space (a password cannot hold one unencoded).
_URL_IN_TEXT_RE = re.compile(r"[A-Za-z][A-Za-z0-9+.\-]*:/+\S+")


def redacted_in(message: str) -> str:
    """`message` (a usage error that quotes what was typed, say) with the passwords of the URLs in it replaced."""
    return _SECRET_KEYWORD_RE.sub(r"\1***", _URL_IN_TEXT_RE.sub(lambda m: _redacted_text(m.group()), message))


def _redacted_text(url: str) -> str:
    """`url` that does not parse, with what may be a password replaced: the user info's password (after a scheme
    however mistyped: `postgres:/ann:pw@h`), and `password=` / `sslpassword=` as a query parameter or as a key of
    libpq's key/value form (`host=h password=pw`), which is not a URL at all."""
    scheme = _SCHEME_RE.match(url)
    head, rest = (url[:scheme.end()], url[scheme.end():]) if scheme else ("", url)
    at = rest.rfind("@")  # the last one: a password may hold an unencoded '@' (or '/')
    if at >= 0:
        user, colon, _ = rest[:at].partition(":")
        if colon:
            rest = f"{user}:***{rest[at:]}"
    rest = _SECRET_PARAMETER_RE.sub(r"\1***", rest)
    return head + _SECRET_KEYWORD_RE.sub(r"\1***", rest)


def parse_url(url: str) -> URL:
    """Map the user-facing URL onto the driver we ship (pysqlite, psycopg 3)."""
    try:
        parsed = make_url(url)
    except Exception as exc:  # SQLAlchemy raises ArgumentError with a terse message
        raise StoreURLError(
            f"not a database URL: {redacted(url)!r} (use sqlite:///path or postgresql://...)") from exc
    backend = parsed.get_backend_name()
    if backend == "sqlite":
        parsed = _uri_flag_spelled_once(parsed)
        _check_sqlite(parsed)
        return parsed.set(drivername="sqlite+pysqlite")
    if backend in ("postgresql", "postgres"):
        if parsed.host and "@" in parsed.host:
            # SQLAlchemy splits at the first '@': the rest of a password holding one would be taken for the host
            # and shown in every error. Nothing of the URL is repeated here, since it holds the password.
            raise StoreURLError(
                "the database URL has more than one '@': write an '@' in the user name or password as %40"
            )
        return parsed.set(drivername="postgresql+psycopg")
    raise StoreURLError(f"unsupported database {backend!r}: use sqlite:///path or postgresql://...")


def _uri_flag_spelled_once(parsed: URL) -> URL:
    """`uri=TRUE`, or `uri=true` given twice, as `uri=true`: the driver reads them so (SQLAlchemy's asbool), and the
    checks below took them for ?options on a plain path."""
    flag = parsed.query.get("uri")
    values = (flag,) if isinstance(flag, str) else tuple(flag or ())
    if values and all(v.lower() == "true" for v in values) and flag != "true":
        return parsed.update_query_dict({"uri": "true"})
    return parsed


def _check_sqlite(parsed: URL) -> None:
    database, query = parsed.database or "", parsed.query
    if query and query.get("uri") != "true":
        # pysqlite would drop them with a warning: a `?mode=ro` that seems to apply and does not.
        raise StoreURLError(f"sqlite:///path takes no ?options; SQLite's URI parameters need the form {_URI_FORM}")
    if query and not database.startswith("file:"):
        # SQLite takes a name without `file:` as a plain file name, and the parameters as part of that name.
        raise StoreURLError(f"with uri=true the path must be a file: URI: {_URI_FORM}")
    if query and ("?" in database or "#" in database):
        # SQLAlchemy decodes the path once and appends the parameters after it; SQLite's own URI parser then ends the
        # path at the first '?' or '#': another file than the one named, and mode=ro or immutable=1 silently lost.
        raise StoreURLError(
            "a SQLite URI filename's path cannot hold '?' or '#' (written as %3F or %23 too: SQLAlchemy decodes the "
            "URL before SQLite reads it): write them as %253F and %2523, or use sqlite:///path")
    for name, value in query.items():
        if name not in _URI_PARAMETERS or not isinstance(value, str) or value not in _URI_PARAMETERS[name]:
            raise StoreURLError(f"unsupported SQLite URI parameter {name}={value!r}: casework takes {_URI_FORM}")
    path = str(sqlite_file(parsed))
    if "\x00" in path:
        # SQLite ends a URI path at %00 while Python refuses the name: it crashed opening the store
        raise StoreURLError("a SQLite path cannot hold a NUL character (%00)")
    if path in ("", ".", ":memory:"):
        # Several connections must see one database and survive restarts: in-memory cannot do that.
        raise StoreURLError("SQLite needs a file path: sqlite:///path/to/casework.db")


def sqlite_file(parsed: URL) -> Path:
    """The file a SQLite URL names: the path of `sqlite:///path`, or of SQLite's URI filename
    `sqlite:///file:path?uri=true` (`file:///abs`, `file://localhost/abs`), percent-decoded as SQLite decodes it."""
    database = parsed.database or ""
    if parsed.query.get("uri") != "true" or not database.startswith("file:"):
        return Path(database)
    path = database.removeprefix("file:").partition("#")[0]
    if path.startswith("//"):
        authority, slash, rest = path[2:].partition("/")
        if authority not in ("", "localhost"):
            raise StoreURLError(f"a SQLite file URI names a file on this machine, not on {authority!r}")
        path = slash + rest
    return Path(unquote(path))


# SQLite reads a WAL-mode database in a folder it cannot write only if its -wal and -shm files exist, or if the
# database is declared immutable, which is safe only where nothing can change it (https://www.sqlite.org/wal.html,
# "Read-Only Databases"). File systems that another machine can change under a read-only superblock (a server's
# export) are never taken for unchangeable.
_SHARED_FILE_SYSTEMS = ("nfs", "nfs4", "cifs", "smb3", "smbfs", "9p", "ceph", "glusterfs", "lustre", "afs",
                        "virtiofs", "fuse")


class SqliteReadError(StoreURLError):
    """The SQLite file cannot be read without writing beside it, and reading it as immutable would not be safe."""


def read_only_url(parsed: URL) -> tuple[URL, str | None]:
    """The URL to read `parsed` through without writing anything, and a note to show when the read relies on the
    file not changing (`immutable`). `SqliteReadError` when SQLite cannot read it safely."""
    path = sqlite_file(parsed).absolute()
    if parsed.query.get("immutable") == "1":
        return parsed, f"note: {path} was read as immutable, as the URL says: a change made meanwhile is not seen"
    if os.access(path.parent, os.W_OK):
        return parsed, None  # SQLite creates its -wal and -shm files as it needs them
    wal, shm = Path(f"{path}-wal"), Path(f"{path}-shm")
    if not _in_wal_mode(path) or (wal.exists() and shm.exists()):
        return _as_uri(parsed, path, mode="ro"), None  # SQLite reads it in place, a live writer's changes too
    if wal.exists() and wal.stat().st_size > 0:
        raise SqliteReadError(
            f"cannot read {path}: its -wal file holds commits that are not in the database file yet, and SQLite "
            f"cannot create the -shm file it needs to read them in {path.parent}, which cannot be written from here; "
            "copy the database and its -wal file to a writable folder and read the copy")
    if _frozen(path.parent):
        return _as_uri(parsed, path, mode="ro", immutable="1"), (
            f"note: {path} was read as immutable: its folder cannot be written and SQLite cannot create its -shm file "
            "there, and nothing can change it (a read-only file system)")
    raise SqliteReadError(
        f"cannot read {path}: it is in WAL mode and SQLite needs to create its -shm file in {path.parent}, which "
        "cannot be written from here (its permissions, or a read-only mount); reading it as immutable instead could "
        "give wrong data, since the database can still be changed (by the folder's owner, or through another mount): "
        "run the command as a user who can write the folder, or read a copy of the database")


def _as_uri(parsed: URL, path: Path, **parameters: str) -> URL:
    query = {**parsed.query, **parameters, "uri": "true"}
    return parsed.set(database="file:" + quote(str(path)), query=query)


def _in_wal_mode(path: Path) -> bool:
    """Bytes 18 and 19 of the header are 2 in WAL mode; a file that cannot be read is left to SQLite to name."""
    try:
        with path.open("rb") as file:
            header = file.read(20)
    except OSError:
        return False
    return header[18:20] == b"\x02\x02"


def _frozen(folder: Path) -> bool:
    """No process can write the file system holding `folder`: its superblock is read-only (read-only media or image,
    a file system mounted read-only everywhere), not merely this mount (a read-only bind mount of a folder that a
    service writes through another), and no server holds it. Unknown (no /proc) is not frozen."""
    try:
        device = os.stat(folder).st_dev
        mounts = Path("/proc/self/mountinfo").read_text().splitlines()
    except OSError:
        return False
    key = f"{os.major(device)}:{os.minor(device)}"
    for fields in (line.split() for line in mounts):
        if len(fields) > 2 and fields[2] == key and "-" in fields:
            fstype, _source, options = [*fields[fields.index("-") + 1:], "", "", ""][:3]
            return "ro" in options.split(",") and fstype.partition(".")[0] not in _SHARED_FILE_SYSTEMS
    return False


class SettingError(StoreURLError):
    """A CASEWORK_PG_* setting is not a whole number of seconds, or not one of the values it takes."""


NETWORK_TIMEOUT_ENV = "CASEWORK_PG_NETWORK_TIMEOUT"
CONNECT_TIMEOUT_ENV = "CASEWORK_PG_CONNECT_TIMEOUT"
DEFAULT_NETWORK_TIMEOUT_S = 30
DEFAULT_CONNECT_TIMEOUT_S = 10


def seconds_setting(name: str, default: int) -> int:
    """The whole number of seconds the environment variable `name` sets (0: no limit), or `default` if unset;
    `SettingError` for anything else."""
    raw = os.environ.get(name, "").strip()
    if not raw:
        return default
    if not raw.isdigit() or int(raw) > 86_400:
        raise SettingError(f"{name}={raw!r} is not a number of seconds: give a whole number from 0 (casework sets "
                           f"no limit, libpq's own default) to 86400; the default is {default}")
    return int(raw)


POOLER_ENV = "CASEWORK_PG_POOLER"
SESSION_POOLING, TRANSACTION_POOLING = "session", "transaction"


def pooler_setting() -> str:
    """How the PostgreSQL connections reach the server (CASEWORK_PG_POOLER): `session` (the default: directly, or
    through a pooler that gives each client a server connection of its own for its session) or `transaction` (a
    pooler such as PgBouncer with `pool_mode = transaction`, which may run each transaction on another server
    connection shared with other clients); `SettingError` for anything else."""
    raw = os.environ.get(POOLER_ENV, "").strip()
    if not raw:
        return SESSION_POOLING
    if raw.lower() not in (SESSION_POOLING, TRANSACTION_POOLING):
        raise SettingError(f"{POOLER_ENV}={raw!r} is not a pooling mode: give {SESSION_POOLING} (the default: "
                           f"PostgreSQL itself, or a pooler in session mode) or {TRANSACTION_POOLING} (PgBouncer's "
                           "pool_mode = transaction)")
    return raw.lower()


def pg_connect_args(parsed: URL) -> dict[str, Any]:
    """libpq settings for PostgreSQL connections that a URL does not set itself (its own win): a network path that
    goes silent (packets dropped, no RST or FIN: a firewall, a failed switch, a frozen server host) fails a statement
    after CASEWORK_PG_NETWORK_TIMEOUT seconds (default 30) instead of the kernel's retransmission timeout (about 15
    minutes on Linux) or never, and a connection attempt after CASEWORK_PG_CONNECT_TIMEOUT (default 10, libpq's
    least is 2). `tcp_user_timeout`: data sent and not acknowledged for that long ends the connection. Keepalive
    probes on an idle connection (or one waiting for a reply) find the path silent as well, so that a pooled
    connection is known dead before it is handed out (`lostwrites.server_left` sees the socket's error); their first
    after a third of the bound, then every sixth, ending it by the bound (Linux counts tcp_user_timeout for
    them too; elsewhere the count does). 0 sets nothing. An empty dict for SQLite."""
    if parsed.get_backend_name() == "sqlite":
        return {}
    network = seconds_setting(NETWORK_TIMEOUT_ENV, DEFAULT_NETWORK_TIMEOUT_S)
    connect = seconds_setting(CONNECT_TIMEOUT_ENV, DEFAULT_CONNECT_TIMEOUT_S)
    settings: dict[str, Any] = {}
    if network:
        settings |= {"tcp_user_timeout": network * 1000, "keepalives": 1, "keepalives_idle": -(-network // 3),
                     "keepalives_interval": -(-network // 6), "keepalives_count": 4}
    if connect and not os.environ.get("PGCONNECT_TIMEOUT"):  # libpq's own setting, as the operator chose it
        settings["connect_timeout"] = connect
    return {name: value for name, value in settings.items() if name not in parsed.query}


def is_sqlite(engine: Engine) -> bool:
    return engine.dialect.name == "sqlite"


def create_store_engine(
    url: str, *, pool_size: int = 20, busy_timeout_ms: int = 30_000, read_only: bool = False
) -> Engine:
    """An engine for the store; a lock wait longer than `busy_timeout_ms` fails (SQLite's busy timeout, PostgreSQL's
    lock_timeout unless CASEWORK_PG_LOCK_TIMEOUT sets another; PostgreSQL's other bounds: `pgbounds`). `read_only`:
    every connection refuses to write (SQLite's query_only, PostgreSQL's read-only transactions), and SQLite's
    journal mode is left as the file has it, so that a command that only reads cannot change the database, even by
    accident."""
    parsed = parse_url(url)
    kwargs: dict[str, Any] = {"pool_size": pool_size, "max_overflow": 40, "pool_pre_ping": False}
    if parsed.get_backend_name() == "sqlite":
        parsed = read_only_url(parsed)[0] if read_only else parsed
        engine = create_engine(parsed, connect_args={"timeout": busy_timeout_ms / 1000}, **kwargs)
        _configure_sqlite(engine, busy_timeout_ms, read_only)
        return engine
    engine = create_engine(parsed, connect_args=pg_connect_args(parsed), **kwargs)
    from casework.store.pgbounds import bound_engine

    bound_engine(engine, lock_timeout_ms=busy_timeout_ms)

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_conn: Any, _record: Any) -> None:
        if read_only:
            # psycopg begins each transaction READ ONLY: a session characteristic would not follow the transactions
            # that a pooler in transaction mode runs on other server connections, and would bind other clients'.
            dbapi_conn.read_only = True

    @event.listens_for(engine, "checkout")
    def _on_checkout(dbapi_conn: Any, _record: Any, _proxy: Any) -> None:
        # A pooled connection the server has closed is replaced before anything is sent on it: a read given it
        # failed once after every restart, and so did `CaseService.close`'s last checkpoint. The pool's other
        # connections went with the server: they are replaced too, as each is checked out.
        from sqlalchemy.exc import DisconnectionError, InvalidatePoolError

        from casework.store.lostwrites import server_left

        gone = server_left(dbapi_conn)
        if gone == "server":
            raise InvalidatePoolError("the server closed this pooled connection")
        if gone is not None:
            raise DisconnectionError("an idle pooled connection had something unread")

    return engine


def _configure_sqlite(engine: Engine, busy_timeout_ms: int, read_only: bool = False) -> None:
    # Python's sqlite3 looks for __adapt__ and __conform__ on every None it binds, raising and discarding an
    # AttributeError each time (3x the cost of binding an int); most projection rows carry several NULLs. An adapter
    # registered for None makes that a dictionary hit; `{}.get(None)` returns None, so NULL is still bound.
    null: Callable[[None], None] = cast(Callable[[None], None], {}.get)  # a C call: no Python frame per NULL
    sqlite3.register_adapter(type(None), null)

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_conn: Any, _record: Any) -> None:
        # Let SQLAlchemy (not the sqlite3 module) decide where transactions begin, so that SAVEPOINT works
        # and writers can take the write lock up front with BEGIN IMMEDIATE.
        dbapi_conn.isolation_level = None
        cur = dbapi_conn.cursor()
        if read_only:
            # Switching a file in another journal mode to WAL rewrites its header: a write the reader did not ask for.
            cur.execute("PRAGMA query_only=ON")
        else:
            cur.execute("PRAGMA journal_mode=WAL")
        # FULL: the WAL is fsynced at every commit, so an acknowledged command survives power loss.
        cur.execute("PRAGMA synchronous=FULL")
        cur.execute(f"PRAGMA busy_timeout={int(busy_timeout_ms)}")
        cur.execute("PRAGMA foreign_keys=ON")
        cur.close()

    @event.listens_for(engine, "begin")
    def _on_begin(conn: Any) -> None:
        # A deferred transaction that later wants to write fails with SQLITE_BUSY instead of waiting, so
        # writers ask for the lock when they begin.
        raw = conn.connection.driver_connection
        if raw.in_transaction:  # the group committer opened it on the driver already
            return
        raw.execute("BEGIN IMMEDIATE" if conn.get_execution_options().get("casework_write") else "BEGIN")
