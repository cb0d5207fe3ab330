"""`casework tasks`, `audit`, `export`, `import-log`: the store's command-line face."""

from __future__ import annotations

import contextlib
import sys
from datetime import UTC, datetime, tzinfo
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from casework.display import quoted
from casework.names import typed
from casework.store import DEFAULT_DB, organisation_zone

if TYPE_CHECKING:
    from sqlalchemy.engine import URL

    from casework.store import Store

DbOption = Annotated[
    str,
    typer.Option("--db", envvar="CASEWORK_DB", help="sqlite:///path or postgresql://..."),
]

# The person acting: recorded as the actor of the events written. `--as` reads as the sentence it makes
# ("dismiss ... --as ann"); `--actor` is the engine's word for it.
ActorOption = Annotated[
    str, typer.Option("--as", "--actor", metavar="USER", help="who acts (recorded as the events' actor)")
]

audit_app = typer.Typer(no_args_is_help=True, help="Tamper-evident audit trail: verify, seal, time travel.")


_SILENT_SERVER = ("the database server did not answer for longer than casework waits for it "
                  "(CASEWORK_PG_NETWORK_TIMEOUT, CASEWORK_PG_CONNECT_TIMEOUT): the network to it, or its host, is down")
# What the databases' terse messages mean for the operator, and what to do about it.
_SQLITE_HINTS = {
    "database is locked": "another process held the database's write lock for longer than the busy timeout (30 s);"
                          " run the command again once it is done",
    "readonly database": "the database file, or its folder (where SQLite keeps the -wal and -shm files), is not "
                         "writable",
    "database or disk is full": "the disk is full; free space and run the command again",
    "unable to open database file": "the database file, or its folder (where SQLite keeps the -wal and -shm files), "
                                    "cannot be opened or is not writable",
    "disk i/o error": "the disk failed to read or write the database",
    "lock timeout": "another session held a lock on the data for longer than the lock timeout (30 s, or "
                    "CASEWORK_PG_LOCK_TIMEOUT); run the command again once it is done",
    "statement timeout": "the statement ran longer than the statement timeout (CASEWORK_PG_STATEMENT_TIMEOUT, "
                         "600 s by default, or the options of the database URL or role): the server is overloaded, "
                         "or the timeout is too short for this store",
    # PostgreSQL over a network path gone silent: tcp_user_timeout ("Connection timed out") and connect_timeout
    # ("connection timeout expired").
    "timed out": _SILENT_SERVER,
    "timeout expired": _SILENT_SERVER,
    "malformed": "the database file is damaged (a disk fault, or a copy taken without its -wal file); restore it "
                 "from a backup (`PRAGMA integrity_check` in sqlite3 names what is damaged)",
}
# SQLite's extended result codes whose message says less than the code: a full disk as the database is opened shows
# as "disk I/O error" (SQLITE_IOERR_SHMSIZE: no room to size the -shm file), which sent operators to check a disk
# that had merely filled up.
_SQLITE_CODE_HINTS = {
    "SQLITE_IOERR_SHMSIZE": "SQLite could not make room for the database's -shm file beside it: the disk is full; "
                            "free space and run the command again",
}
# PostgreSQL's SQLSTATE classes (and codes) of a server that cannot do the work as it stands: connection lost (08),
# out of disk or connections (53), shut down or cancelled (57), I/O failure (58), a read-only standby or
# transaction (25006), a role without the rights (42501), a lock held past the lock timeout (55P03), damaged data
# or index files (XX001, XX002). Any other error is casework's to answer for.
_PG_ENVIRONMENT = ("08", "53", "57", "58", "25006", "42501", "55P03", "XX001", "XX002")


def database_reason(exc: BaseException) -> str:
    """The driver's message (its first line: no statement, no parameters), and what it means where it is terse."""
    exc = getattr(exc, "orig", None) or exc
    reason = (str(exc).strip().splitlines() or [type(exc).__name__])[0]
    hint = _SQLITE_CODE_HINTS.get(getattr(exc, "sqlite_errorname", ""))
    hint = hint or next((h for text, h in _SQLITE_HINTS.items() if text in reason.lower()), None)
    return f"{reason}: {hint}" if hint else reason


def _loaded(module: str, name: str) -> type | tuple[()]:
    """The exception class `name` of `module`, or nothing to match if the module was never imported, since then
    nothing raised it: every command ends here (even `--help`, with click's Exit), and must not load psycopg,
    SQLAlchemy or the audit package to learn that."""
    loaded = sys.modules.get(module)
    return getattr(loaded, name) if loaded is not None else ()


def environment_error(exc: BaseException) -> str | None:
    """A one-line account of a failure of the machine rather than of casework (the database locked, read-only or
    unreachable, the disk full, a file that cannot be written, an audit key that cannot be read), or None for any
    other exception, which stays a traceback: that is a bug to report."""
    import sqlite3

    if isinstance(exc, (_loaded("casework.audit.checkpoints", "AuditKeyError"),
                        _loaded("casework.audit.checkpoints", "CheckpointFailed"),
                        _loaded("casework.service.errors", "OutcomeUnknown"),
                        _loaded("casework.service.errors", "Corrupt"),
                        _loaded("casework.store.migrate", "SchemaError"),
                        _loaded("casework.store.integrity", "DamagedDatabase"),
                        _loaded("casework.store.writable", "NotWritable"),
                        _loaded("casework.store", "ZoneSettingError"))):
        return str(exc)
    driver = getattr(exc, "orig", None) if isinstance(exc, _loaded("sqlalchemy.exc", "DBAPIError")) else exc
    pg_error = _loaded("psycopg", "Error")
    # SQLite's plain DatabaseError is a damaged file ("database disk image is malformed"); its subclasses other
    # than OperationalError (IntegrityError, ProgrammingError, ...) are casework's own mistakes.
    if type(driver) in (sqlite3.OperationalError, sqlite3.DatabaseError) or isinstance(
        driver, _loaded("psycopg", "OperationalError")
    ) or (
        isinstance(driver, pg_error) and (getattr(driver, "sqlstate", None) or "").startswith(_PG_ENVIRONMENT)
    ):
        reason = database_reason(exc)
        # A PostgreSQL connection's errors name its server (`pgbounds.BoundedConnection`): which one failed.
        server = getattr(driver, "casework_server", None)
        at = f" at {server}" if server and server not in reason else ""
        return f"the database{at} failed: {reason}"
    if isinstance(exc, OSError):
        return f"cannot use {exc.filename}: {exc.strerror or exc}" if exc.filename else str(exc.strerror or exc)
    return None


def _shown(db: str) -> str:
    """The URL as it may be printed: without its passwords."""
    from casework.store.url import redacted

    return redacted(db)


def _read_only_setting(parsed: URL) -> str | None:
    """The URI parameter of a SQLite URL that lets nothing be written (mode=ro, immutable=1), if it has one."""
    query = parsed.query if parsed.get_backend_name() == "sqlite" else {}
    found = [f"{name}={value}" for name, value in (("mode", "ro"), ("immutable", "1")) if query.get(name) == value]
    return " and ".join(found) or None


def open_store(db: str, *, create: bool = False, read_only: str | None = None):  # type: ignore[no-untyped-def]
    """The store at `db`, or exit 2 with a one-line reason. Unless `create`, the database must already be a casework
    database: a mistyped SQLite path must not become a new, empty database, nor another application's database (or
    an empty PostgreSQL one) gain casework's tables, that `audit verify` then calls ok. A command that only reads
    (`read_only` names it) refuses a database of an older schema instead of migrating it: the operator asked to
    read, not to upgrade, perhaps a copy kept as evidence or one an older casework still serves."""
    from sqlalchemy import create_engine, inspect
    from sqlalchemy.exc import SQLAlchemyError
    from sqlalchemy.pool import NullPool

    from casework.store import Store
    from casework.store.migrate import SchemaError, check_known, head_revision, revision_of
    from casework.store.url import StoreURLError, parse_url, pg_connect_args, read_only_url, sqlite_file
    from casework.store.writable import NotWritable, check_writable

    shown = _shown(db)
    try:
        parsed = parse_url(db)
        note = None
        if parsed.get_backend_name() == "sqlite" and sqlite_file(parsed).is_dir():
            folder = sqlite_file(parsed)
            typer.echo(f"error: {folder} is a folder, not a database file: name the file, e.g. --db "
                       f"sqlite:///{folder / 'casework.db'}", err=True)
            raise typer.Exit(2)
        if read_only is None and (setting := _read_only_setting(parsed)):
            # SQLite would refuse the first write as if the file or its folder could not be written
            typer.echo(f"error: the database URL says {setting}, and this command writes: remove it from --db (the "
                       "commands that only read open the database read-only themselves)", err=True)
            raise typer.Exit(2)
        if read_only is None and parsed.get_backend_name() == "sqlite":
            check_writable(sqlite_file(parsed))  # before the probe below opens it
        if not create:
            if parsed.get_backend_name() == "sqlite" and not sqlite_file(parsed).is_file():
                typer.echo(f"error: no database at {sqlite_file(parsed)} (give --db or set CASEWORK_DB)", err=True)
                raise typer.Exit(2)
            if read_only and parsed.get_backend_name() == "sqlite":
                parsed, note = read_only_url(parsed)  # as the store's read-only engine will open it
            # Looked at without the store's engine, which on SQLite switches the file to WAL mode as it connects: a
            # write to a file that may not be ours.
            probe = create_engine(parsed, poolclass=NullPool, connect_args=pg_connect_args(parsed))
            if parsed.get_backend_name() != "sqlite":
                from casework.store.pgbounds import bound_engine

                bound_engine(probe)  # a server that stops answering fails the look, as it fails the store
            try:
                with probe.connect() as conn:
                    tables = set(inspect(conn).get_table_names())
                    revision = revision_of(conn) if "alembic_version" in tables else None
            finally:
                probe.dispose()
            if not tables:
                # An operator's new PostgreSQL database (or an empty file) is where a first run starts: say which
                # commands set one up, rather than only what it is not.
                typer.echo(f"error: {shown} is empty, not yet a casework database: `casework deploy`, `casework "
                           "import-log` or `casework demo` sets it up", err=True)
                raise typer.Exit(2)
            if not {"alembic_version", "cases", "events", "checkpoints"} <= tables:
                typer.echo(f"error: {shown} is not a casework database", err=True)
                raise typer.Exit(2)
            check_known(revision)
            if read_only and revision != head_revision():
                typer.echo(
                    f"error: the database {shown} has an older schema (revision {revision}; this casework needs "
                    f"{head_revision()}), and `casework {read_only}` only reads: upgrade it first with "
                    f"`casework reproject --db {shown}` (it migrates the schema and rebuilds what the new version "
                    "derives from the events)", err=True)
                raise typer.Exit(2)
        store = Store.open(db, read_only=read_only is not None)
        if note:
            typer.echo(note, err=True)  # what the output rests on
        return store
    except StoreURLError as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(2) from exc
    except (SchemaError, NotWritable) as exc:
        typer.echo(f"error: cannot use the database {shown}: {exc}", err=True)
        raise typer.Exit(2) from exc
    except SQLAlchemyError as exc:
        typer.echo(f"error: cannot open the database {shown}: {database_reason(exc)}", err=True)
        raise typer.Exit(2) from exc


def sealable(store: Store) -> None:
    """Exit 2 before a command writes events that could not be sealed with the database's audit key (its file
    moved, or CASEWORK_AUDIT_KEY pointing elsewhere). Found only as the case service closes, after the change was
    stored, it was reported as an error, and the person ran the change again."""
    from casework.audit.checkpoints import AuditKeyError, signing_key

    try:
        signing_key(store)
    except AuditKeyError as exc:
        typer.echo(f"error: nothing recorded: {exc}", err=True)
        raise typer.Exit(2) from exc


def moment_option(option: str, text: str) -> datetime:
    """A date or time given on the command line (ISO-8601, a trailing Z too). One without an offset is a wall-clock
    time in the organisation's zone (CASEWORK_TIMEZONE, default UTC), as `import-log` reads a log's: an operator in
    Amsterdam who asks for tasks due before 17:00 means Amsterdam's 17:00."""
    try:
        moment = datetime.fromisoformat(text.replace("Z", "+00:00") if text.endswith("Z") else text)
    except ValueError:
        raise typer.BadParameter(f"{quoted(text)} is not an ISO-8601 date or time", param_hint=option) from None
    moment = moment if moment.tzinfo is not None else moment.replace(tzinfo=organisation_zone())
    try:
        # Stored times are UTC: a moment whose UTC falls outside years 1 to 9999 (0001-01-01T00:00+14:00) fails
        # where it is compared with them, in a traceback.
        moment.astimezone(UTC)
    except OverflowError:
        raise typer.BadParameter(f"{quoted(text)} is outside the years 1 to 9999 in UTC",
                                 param_hint=option) from None
    return moment


@audit_app.command("verify")
def verify_cmd(
    db: DbOption = DEFAULT_DB,
    public_key: Annotated[
        str | None, typer.Option(help="Ed25519 public key (64 hex digits or key file) to check checkpoints with")
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="print the full report as JSON")] = False,
) -> None:
    """Recompute every hash chain, signed checkpoint and case snapshot: `audit: N cases, M events, ok`.

    Exit 1 naming the first broken link; exit 2 if it cannot check (no such database, a bad key, signed checkpoints
    and no key to check them with, or audited documents and no blob folder to find their bytes in)."""
    from casework.audit.checkpoints import AuditKeyError
    from casework.audit.verify import report_json, verify

    with open_store(db, read_only="audit verify") as store:
        try:
            report = verify(store, public_key)
        except AuditKeyError as exc:
            typer.echo(f"error: {exc}", err=True)
            raise typer.Exit(2) from exc
    if as_json:
        typer.echo(report_json(report))
    elif report.ok:
        typer.echo(report.summary())
        for note in report.notes():
            typer.echo(note, err=True)
    else:
        typer.echo(f"audit: FAILED: first broken link: {report.first}", err=False)
        for problem in report.problems[1:10]:
            typer.echo(f"  also: {problem}")
    if not report.ok:
        raise typer.Exit(1)
    if not report.complete:
        # A copy of the database without its key file, or without its documents' bytes, must not pass for a
        # checked one.
        if report.signatures_unchecked is not None:
            typer.echo(
                f"error: signed checkpoints ({report.checkpoints}) were not checked: {report.signatures_unchecked};"
                " pass --public-key (64 hex digits or the key file) or set CASEWORK_AUDIT_KEY",
                err=True,
            )
        if report.blobs_unchecked is not None:
            typer.echo(
                f"error: the bytes of {report.documents} audited documents were not checked: "
                f"{report.blobs_unchecked}; set CASEWORK_BLOBS to the folder the documents were stored in",
                err=True,
            )
        raise typer.Exit(2)
    raise typer.Exit(0)


@audit_app.command("checkpoint")
def checkpoint_cmd(db: DbOption = DEFAULT_DB) -> None:
    """Seal every event written since the last checkpoint with a signed checkpoint now."""
    from casework.audit.checkpoints import AuditKeyError, check_signing_key, write_checkpoint

    with open_store(db) as store:
        try:
            cp = write_checkpoint(store)
            if cp is None:
                check_signing_key(store)
        except AuditKeyError as exc:
            typer.echo(f"error: {exc}", err=True)
            raise typer.Exit(2) from exc
    typer.echo(f"checkpoint #{cp}" if cp is not None else "nothing to seal")


@audit_app.command("state-at")
def state_at_cmd(
    case_id: Annotated[str, typer.Argument(help="id of a stored case (`casework cases` lists them)")],
    db: DbOption = DEFAULT_DB,
    seq: Annotated[int | None, typer.Option(help="replay up to this event (inclusive)")] = None,
    at: Annotated[
        str | None, typer.Option(help="replay the log up to its first event stamped later than this ISO-8601 time")
    ] = None,
) -> None:
    """Print the case as it stood after event SEQ or at time AT (as JSON), rebuilt by replaying its log.

    Without --seq or --at: the case as it stands now. Example: `casework audit state-at CASE_ID --seq 10`."""
    import json

    from casework.audit.timetravel import TimeTravelError, state_at

    moment = moment_option("--at", at) if at else None
    with open_store(db, read_only="audit state-at") as store:
        try:
            state = state_at(store, case_id, at=moment, seq=seq)
        except TimeTravelError as exc:
            typer.echo(f"error: {exc}", err=True)
            raise typer.Exit(2) from exc
    typer.echo(json.dumps(state.to_dict(), indent=2, sort_keys=True))


def export_cmd(
    fmt: Annotated[str, typer.Option("--format", help="xes | ocel | csv")],
    output: Annotated[Path, typer.Option("-o", "--output", help="file to write, or - for standard output")],
    db: DbOption = DEFAULT_DB,
) -> None:
    """Export the event log for process mining (IEEE XES, OCEL 2.0 JSON, or case_id,activity,timestamp,resource CSV)."""
    import io

    from casework.export import FORMATS, ExportPathError, export, export_to, output_target
    from casework.outstream import binary_stdout

    if fmt not in FORMATS:
        raise typer.BadParameter(f"--format must be one of {', '.join(FORMATS)}")
    to_stdout = str(output) == "-"
    shown = "standard output" if to_stdout else str(output)
    try:
        # Checked before the database is opened, so that a bad path is all the error says.
        in_place = to_stdout or output_target(output)[1]
    except ExportPathError as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(2) from exc
    if not to_stdout and _is_the_database(output, db):  # `--db sqlite:///cases.db -o cases.db` replaced every case
        typer.echo(f"error: cannot write {shown}: it is the database being exported; give -o another file", err=True)
        raise typer.Exit(2)
    with open_store(db, read_only="export") as store:
        try:
            if to_stdout:
                with binary_stdout() as raw:  # each write whole or an error, whatever PYTHONUNBUFFERED says
                    out = io.TextIOWrapper(raw, encoding="utf-8", newline="", write_through=True)
                    try:
                        first, events = export_to(store, fmt, out)
                    finally:
                        out.detach()  # leave standard output open
            else:
                first, events = export(store, fmt, output)
        except ExportPathError as exc:
            typer.echo(f"error: {exc}", err=True)
            raise typer.Exit(2) from exc
        except BrokenPipeError:
            raise  # the reader of the pipe stopped: not an error to report (casework.cli)
        except OSError as exc:
            typer.echo(f"error: cannot write {shown}: {exc.strerror or exc}", err=True)
            raise typer.Exit(2) from exc
    unit = "objects" if fmt == "ocel" else "cases"
    # Written to a stream (standard output, a pipe), the export owns standard output: the summary goes aside.
    typer.echo(f"export: {first} {unit}, {events} events -> {shown}", err=in_place)


def _is_the_database(path: Path, db: str) -> bool:
    """Whether `path` is the file of the SQLite database at `db` (a URL that is not one is for `open_store` to
    refuse)."""
    import os

    from casework.store.url import StoreURLError, parse_url, sqlite_file

    try:
        parsed = parse_url(db)
        if parsed.get_backend_name() != "sqlite":
            return False
        database = sqlite_file(parsed)
        return path.exists() and database.exists() and os.path.samefile(path, database)
    except (StoreURLError, OSError):
        return False


def import_log_cmd(
    file: Annotated[
        Path,
        typer.Argument(help="event log, gzip or plain: CSV (case_id,activity,timestamp[,resource]) or XES (told by "
                            "its content)"),
    ],
    definition: Annotated[str, typer.Option("--definition", help="definition key the imported cases belong to")],
    db: DbOption = DEFAULT_DB,
    limit: Annotated[int | None, typer.Option(min=1, help="import only the first N cases")] = None,
    name: Annotated[
        str | None,
        typer.Option(help="name the log's cases NAME:<case id> instead of <file stem>:<case id> (to import a "
                          "different log with the same file name)"),
    ] = None,
) -> None:
    """Load a historical log as closed, hash-chained cases (importing the same file again adds nothing).

    An XES log (IEEE 1849-2016) gives a case per trace (its concept:name), a row per event: concept:name the
    activity, time:timestamp the time, org:resource the resource. Where events have a lifecycle:transition, only
    the complete ones are imported (one row per activity done, as in a CSV log); other attributes are ignored, and
    a DTD is refused."""
    from rich.console import Console
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

    from casework.export.importlog import LogImportError, import_log, read_checked
    from casework.logfile import duplicates_note

    zone = organisation_zone()  # an unknown zone stops the command here, before anything is read or written
    imported = 0

    def advance(n: int) -> None:
        nonlocal imported
        imported += n
        progress.advance(task, n)

    def kept() -> str:
        # Batches commit whole and are sealed one by one: what went in stays, and a second run adds the rest.
        return (f"the first {imported} cases of the log were imported (or already present) and stay; importing the "
                "file again adds the rest" if imported else "nothing was imported")

    if not file.is_file():  # before the store is opened, which creates the database: a mistyped path changes nothing
        typer.echo(f"error: {file}: " + ("a folder, not a log file" if file.is_dir() else "no such file"), err=True)
        raise typer.Exit(2)
    console = Console(stderr=True)
    try:  # read and checked before the store is opened, for the same reason: a bad row leaves no database behind
        with console.status(f"reading {file.name}") if sys.stderr.isatty() else contextlib.nullcontext():
            cases = read_checked(file, definition, limit=limit, name=name, zone=zone)
    except LogImportError as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(2) from exc
    with cases, open_store(db, create=True) as store:
        try:
            with Progress(
                TextColumn("importing {task.description}"),
                BarColumn(),
                MofNCompleteColumn(),
                TimeElapsedColumn(),
                console=console,
                disable=not sys.stderr.isatty(),
                transient=False,
            ) as progress:
                task = progress.add_task(file.name, total=len(cases))
                result = import_log(store, file, definition, limit=limit, name=name, progress=advance, cases=cases,
                                    zone=zone)
        except LogImportError as exc:
            typer.echo(f"error: {exc}", err=True)
            raise typer.Exit(2) from exc
        except KeyboardInterrupt as exc:  # Ctrl-C: the status a shell gives it, and what stayed
            typer.echo(f"interrupted: {kept()}", err=True)
            raise typer.Exit(130) from exc
        except Exception as exc:
            message = environment_error(exc)
            if message is None:
                raise
            typer.echo(f"error: {message}; {kept()}", err=True)
            raise typer.Exit(2) from exc
    summary = f"import-log: {result.cases} cases, {result.events} events imported, {result.skipped} already present"
    if result.reordered:
        summary += f"; {result.reordered} cases had rows out of time order (imported in time order)"
    typer.echo(summary)
    if result.repeated:
        typer.echo(f"import-log: {duplicates_note(result.repeated)}", err=True)
    if cases.left_out:
        typer.echo(f"import-log: {cases.left_out} events of other lifecycle transitions than complete (start, "
                   "schedule, ...) were left out: one row per completed activity is imported", err=True)


def _check_states(state: list[str]) -> None:
    # The engine's names, loaded only when asked for: the engine brings the expression libraries.
    from casework.engine.lifecycle import OPEN, TERMINAL
    from casework.service.projection import SKIPPED

    states = sorted(OPEN | TERMINAL | {SKIPPED})
    unknown = [s for s in state if s not in states]
    if unknown:
        raise typer.BadParameter(f"unknown state {quoted(unknown[0])}: choose from {', '.join(states)}",
                                 param_hint="'--state'")


def tasks_cmd(
    db: DbOption = DEFAULT_DB,
    owner: Annotated[str | None, typer.Option(help="tasks assigned to this user")] = None,
    group: Annotated[str | None, typer.Option(help="the queue of this candidate group (open tasks only)")] = None,
    candidate: Annotated[
        str | None, typer.Option(help="open tasks offered to this user by name (candidate users)")
    ] = None,
    unassigned: Annotated[
        bool, typer.Option(help="only tasks nobody owns (with --group or --candidate: left to claim)")
    ] = False,
    case: Annotated[str | None, typer.Option(help="the tasks of one case")] = None,
    state: Annotated[
        list[str] | None, typer.Option(help="lifecycle state, repeatable (default: active and enabled)")
    ] = None,
    kind: Annotated[list[str] | None, typer.Option(help="plan item kind, repeatable (default: humanTask)")] = None,
    due_before: Annotated[str | None, typer.Option(help="due at or before this ISO-8601 time")] = None,
    limit: Annotated[int, typer.Option(min=1, max=10_000, help="at most this many, soonest due first")] = 50,
    as_json: Annotated[bool, typer.Option("--json", help="one JSON object per line")] = False,
) -> None:
    """List tasks: a user's work, a group's queue, what is offered to a user, what falls due.

    Read from the inbox projection. Examples: `casework tasks --owner bob`, `casework tasks --group fraud-team
    --unassigned`, `casework tasks --case CASE_ID --state completed`, `casework tasks --due-before 2026-12-31`."""
    import json

    from rich.console import Console
    from rich.table import Table

    from casework.display import id_column, plain

    if state:
        _check_states(state)
    # Read as the case commands keep them (`casework.names.typed`): an owner given as " bob " is bob, and a task list
    # for " bob " was empty; "café" typed with a combining accent finds café's tasks.
    owner, group, candidate, case = (None if v is None else typed(v) for v in (owner, group, candidate, case))
    due = moment_option("--due-before", due_before) if due_before is not None else None
    zone = organisation_zone()
    with open_store(db, read_only="tasks") as store:
        rows = store.tasks(
            case_id=case,
            owner=owner,
            candidate_group=group,
            candidate_user=candidate,
            unassigned=unassigned,
            states=tuple(state or ("active", "enabled")),
            kinds=tuple(kind or ("humanTask",)),
            due_before=due,
            limit=limit,
        )
    if as_json:
        for r in rows:
            typer.echo(json.dumps({
                "case_id": r.case_id, "item_id": r.item_id, "name": r.name, "kind": r.kind, "state": r.state,
                "owner": r.owner, "candidate_groups": list(r.candidate_groups),
                "candidate_users": list(r.candidate_users),
                "due_at": r.due_at.isoformat() if r.due_at else None,
            }))
        return
    title = f"{len(rows)} task" if len(rows) == 1 else f"{len(rows)} tasks"
    table = Table(id_column("case"), "task", "state", "owner", id_column("groups"), id_column("candidates"), "due",
                  title=title)
    for r in rows:
        cells = (r.case_id, r.name or r.item_id, r.state, r.owner or "", ", ".join(r.candidate_groups),
                 ", ".join(r.candidate_users), clock_text(r.due_at, zone))
        table.add_row(*map(plain, cells))
    Console().print(table)


def clock_text(moment: datetime | None, zone: tzinfo) -> str:
    # On the organisation's clock, and saying which: a bare 09:00 from a store that keeps UTC was an hour or two off.
    return moment.astimezone(zone).strftime("%Y-%m-%d %H:%M %Z") if moment is not None else ""


def stored_clock_text(text: str | None, zone: tzinfo) -> str:
    """An ISO-8601 time as events and states store it (UTC), as `clock_text` shows one; text that does not read as a
    time is shown as it is."""
    if not text:
        return ""
    try:
        moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        return text
    return clock_text(moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC), zone)


def register(app: typer.Typer) -> None:
    app.command("tasks")(tasks_cmd)
    app.add_typer(audit_app, name="audit")
    app.command("export")(export_cmd)
    app.command("import-log")(import_log_cmd)
