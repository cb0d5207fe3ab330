"""Load a historical event log (CSV: case_id,activity,timestamp[,resource]; or XES, `xes_read`; gzip or plain) as
closed cases.

Every imported case gets a hash-chained history like any other: `case_imported`, then one `imported_activity` per
row, in time order. Its business key is "<name>:<case id in the log>" (the name is the file stem unless given), so
importing the same file twice adds nothing; a stored case under the same key whose rows differ stops the import
instead of being taken for the same one. The whole file is read and checked before anything is written: a bad row
stops the import with nothing stored. Meanwhile its rows wait on disk, grouped by case (`spill.CaseRows`), and the
store's keys are compared a batch at a time: an import holds one batch of cases, however long the log.

A timestamp without an offset is a wall-clock time in the organisation's zone (`CASEWORK_TIMEZONE`, default UTC;
`logfile.parse_time` says how a time in a change of summer time is read), stored as its UTC instant; one with an
offset keeps its instant. The digest that tells a re-import from a different log is over the rows as the file gives
them, whatever the zone: importing a file again under another zone finds its cases present and adds nothing (they
keep the instants of the first import; import it under another --name, or into a new database, to store it anew).
"""

from __future__ import annotations

import contextlib
import csv
import functools
import gzip
import hashlib
import json
import sqlite3
import uuid
from collections.abc import Callable, Generator, Iterable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, tzinfo
from pathlib import Path
from typing import Any, NamedTuple

import psycopg
from sqlalchemy import Connection, select
from sqlalchemy.exc import IntegrityError

from casework.audit.checkpoints import signing_key, write_checkpoint
from casework.audit.hashing import GENESIS
from casework.display import quoted
from casework.logfile import LogHeaderError, find_columns, numbered, open_log_text, parse_time, shown_row
from casework.store import NewEvent, Store, storable
from casework.store import schema as t
from casework.store import writes as w

from .spill import CaseRows, SpilledRow
from .xes_read import LeftOut, XesError, is_xml, xes_rows

BATCH_CASES = 500
# A business key written by another import between the check and the batch's insert: SQLAlchemy's wrapper, or the
# driver's own error where the batch ran on the driver.
_UNIQUE_VIOLATIONS = (IntegrityError, sqlite3.IntegrityError, psycopg.errors.UniqueViolation)


class LogImportError(ValueError):
    """The log cannot be imported as it is; nothing was written."""


Row = tuple[str, str, str | None]  # (activity, at ISO UTC, resource)


@dataclass
class LogCase:
    source_id: str
    rows: list[Row]
    reordered: bool = False  # the file listed its rows out of time order
    digest: str = ""  # `rows_digest` of the rows as the file gives them (their times read as UTC)


@dataclass(frozen=True)
class ImportResult:
    cases: int
    events: int
    skipped: int  # cases already imported before
    reordered: int = 0  # imported cases whose rows the file listed out of time order
    repeated: int = 0  # rows of the log's cases (imported or present) that repeat an earlier row of their case exactly


def _at(where: int | str) -> str:
    """Where a row is, for an error: a CSV log's line number, or an XES log's trace and event."""
    return f"line {where}" if isinstance(where, int) else where


def _timestamps(value: str, where: int | str, zone: tzinfo) -> tuple[str, str]:
    """(as given, as stored): the time read as UTC where it has no offset, which the digest is over, and its
    instant with `zone` as the clock's zone."""
    try:
        given = parse_time(value)
        # equal where the value has an offset (the same instant): one string, as for every row of a log in UTC
        stored = given if zone is UTC else parse_time(value, zone)
        at = given.astimezone(UTC).isoformat()
        return at, (at if stored == given else stored.astimezone(UTC).isoformat())
    except ValueError:
        raise LogImportError(f"{_at(where)}: timestamp {quoted(value)} is not ISO-8601") from None
    except OverflowError:  # e.g. 0001-01-01T00:00:00+01:00, which is in year 0 in UTC
        raise LogImportError(f"{_at(where)}: timestamp {quoted(value)} is out of range (years 1 to 9999 in UTC)"
                             ) from None


def _stem(path: Path) -> str:
    name = path.name.removesuffix(".gz")
    for suffix in (".csv", ".xes"):
        if name.endswith(suffix):
            return name.removesuffix(suffix)
    return name


def _check(where: int | str, value: str, column: str, limit: int | None = None) -> None:
    try:
        storable.check_text(value, column, limit)
    except storable.NotStorable as exc:
        raise LogImportError(f"{_at(where)}: {exc}") from None


def by_time(rows: list[Row]) -> list[Row]:
    """The rows in time order. Stable: rows at the same time keep the order the log gave them, which in these logs
    is the order the work was done. The times are all `datetime.isoformat()` of UTC values, whose text sorts as
    the times do (the seconds are followed by "+" when there is no fraction, which sorts before its ".")."""
    return sorted(rows, key=lambda row: row[1])


def rows_digest(rows: list[Row]) -> str:
    """A digest of a case's rows, in time order, to tell a re-import of the same case from a different one.
    No value can hold a NUL (they are checked), so NUL-terminated fields cannot run into each other."""
    text = "".join(f"{act}\x00{at}\x00{res or ''}\x00" for act, at, res in by_time(rows))
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def read_log(path: Path, name: str | None = None, zone: tzinfo = UTC) -> CaseRows:
    """The log's rows, checked and held on disk by case (`spill.CaseRows`); `name` (default the file stem) prefixes
    the business keys, so it limits how long a case id may be; `zone`: the zone of the times without an offset. The
    caller closes what it returns."""
    if not path.is_file():
        raise LogImportError(f"{path}: no such file")
    name = _stem(path) if name is None else name
    case_id_limit = storable.BUSINESS_KEY - len(name) - 1  # the business key is "<name>:<case_id>"
    if case_id_limit < 1:
        raise LogImportError(
            f"{path}: the name {quoted(name)} is too long to name its cases by (at most {storable.BUSINESS_KEY - 2} "
            "characters)"
        )
    spill = CaseRows()
    try:
        _spill(path, spill, case_id_limit, zone)
        spill.done()
    except sqlite3.Error as exc:  # the temporary folder full, most likely
        spill.close()
        raise LogImportError(f"{path}: cannot hold its rows in a temporary file while it is checked: {exc} (TMPDIR "
                             "names the folder)") from exc
    except BaseException:
        spill.close()
        raise
    return spill


def _csv_rows(path: Path) -> Generator[tuple[int, str, str, str, str | None], None, None]:
    """(line, case id, activity, timestamp as written, resource) of each row of a CSV log."""
    with open_log_text(path) as fh:
        reader = csv.reader(fh)
        try:
            columns = find_columns(next(reader, []))
        except LogHeaderError as exc:
            raise LogImportError(f"{path}: {exc}") from None
        for line, row in numbered(reader):
            if not row:
                continue
            if len(row) < columns.width:
                raise LogImportError(f"line {line}: expected case_id, activity and timestamp, got {shown_row(row)}")
            resource = None
            if columns.resource is not None and len(row) > columns.resource:
                resource = row[columns.resource].strip() or None
            yield (line, row[columns.case_id].strip(), row[columns.activity].strip(), row[columns.timestamp],
                   resource)


def _spill(path: Path, spill: CaseRows, case_id_limit: int, zone: tzinfo) -> None:
    # The names seen, each checked once, when first seen
    activities: set[str] = set()
    resources: set[str] = set()
    last_id, last_case = "", 0  # a case's rows mostly follow each other
    try:
        # An XES log or a CSV one, told by its content (a CSV log's header cannot begin with "<")
        left_out = LeftOut()
        rows: Generator[tuple[int | str, str, str, str, str | None], None, None] = (
            xes_rows(path, left_out) if is_xml(path) else _csv_rows(path))
        with contextlib.closing(rows):
            for where, case_id, activity, timestamp, resource in rows:
                if not case_id or not activity:
                    raise LogImportError(f"{_at(where)}: empty case_id or activity")
                given, at = _timestamps(timestamp, where, zone)
                # Checked here, before anything is written: PostgreSQL refuses a NUL (and an over-long key or
                # actor) only when the batch holding it is inserted, after earlier batches are committed.
                if case_id != last_id:
                    case = spill.case(case_id)
                    if case is None:
                        _check(where, case_id, "case_id", case_id_limit)
                        case = spill.new_case(case_id)
                    last_id, last_case = case_id, case
                if activity not in activities:
                    _check(where, activity, "activity")
                    activities.add(activity)
                if resource is not None and resource not in resources:
                    _check(where, resource, "resource", storable.ACTOR)
                    resources.add(resource)
                spill.add(last_case, activity, given, None if at is given else at, resource)
        spill.left_out = left_out.events
    except XesError as exc:
        raise LogImportError(f"{path}: {exc}") from None
    except (OSError, EOFError, UnicodeDecodeError, csv.Error, gzip.BadGzipFile) as exc:
        raise LogImportError(f"{path}: cannot read: {exc}") from exc


def log_case(source_id: str, rows: list[SpilledRow]) -> LogCase:
    """A case as it is imported, from its rows as the file gives them."""
    given: list[Row] = [(act, at, res) for act, at, _, res in rows]
    case = LogCase(source_id, given, digest=rows_digest(given))
    if any(moved is not None for _, _, moved, _ in rows):
        case.rows = [(act, at if moved is None else moved, res) for act, at, moved, res in rows]
    ordered = by_time(case.rows)
    if ordered != case.rows:
        case.rows, case.reordered = ordered, True
    return case


class CheckedLog:
    """A log read and checked (`read_checked`), its rows on disk: `len` counts the cases to import, iterating
    reads them one at a time. Close it (or use it as a context manager) to remove its temporary file."""

    def __init__(self, rows: CaseRows, limit: int | None) -> None:
        self._rows, self._limit = rows, limit

    def __len__(self) -> int:
        return self._rows.count if self._limit is None else min(self._limit, self._rows.count)

    @property
    def left_out(self) -> int:
        """Events of the log not imported: an XES log's events of other lifecycle transitions than `complete`."""
        return self._rows.left_out

    def __iter__(self) -> Iterator[LogCase]:
        return (log_case(source_id, rows) for source_id, rows in self._rows.cases(self._limit))

    def close(self) -> None:
        self._rows.close()

    def __enter__(self) -> CheckedLog:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


class _Stored(NamedTuple):
    digest: str  # `rows_digest` of the stored case's imported rows
    definition_key: str


def _stored_digests(store: Store, keys: list[str]) -> dict[str, _Stored]:
    """business key -> the stored case's digest and definition key, for those of `keys` that are taken.

    Imports record the digest in `case_imported`; cases imported before that (and any other case holding such a key)
    have theirs computed from their stored events."""
    found: dict[str, _Stored] = {}
    missing: dict[str, tuple[str, str]] = {}  # case id -> business key, definition key
    with store.read() as conn:
        q = (
            select(t.cases.c.id, t.cases.c.business_key, t.cases.c.definition_key, t.events.c.type,
                   t.events.c.payload)
            .outerjoin(t.events, (t.events.c.case_id == t.cases.c.id) & (t.events.c.seq == 1))
            .where(t.cases.c.business_key.in_(keys))
        )
        for case_id, key, definition_key, event_type, payload in conn.execute(q):
            digest = json.loads(payload).get("rows_sha256") if event_type == "case_imported" else None
            if isinstance(digest, str):
                found[key] = _Stored(digest, definition_key)
            else:
                # Any other case under the key, not imported, gets the digest of no rows: that matches no case of a
                # log, where each has at least one row.
                missing[case_id] = key, definition_key
        if missing:
            rows: dict[str, list[Row]] = {case_id: [] for case_id in missing}
            q = (
                select(t.events.c.case_id, t.events.c.at, t.events.c.payload)
                .where(t.events.c.case_id.in_(list(missing)), t.events.c.type == "imported_activity")
                .order_by(t.events.c.case_id, t.events.c.seq)
            )
            for r in conn.execute(q):
                p = json.loads(r.payload)
                rows[r.case_id].append((str(p.get("activity")), str(r.at), p.get("resource")))
            for case_id, (key, definition_key) in missing.items():
                found[key] = _Stored(rows_digest(rows[case_id]), definition_key)
    return found


def read_checked(
    path: Path, definition_key: str, *, limit: int | None = None, name: str | None = None, zone: tzinfo = UTC
) -> CheckedLog:
    """The cases `import_log` would import from `path`, read and checked without a store: a caller that opens the
    store only afterwards (opening creates the database) leaves nothing behind for a log that cannot be imported.
    `zone`: the zone of the log's times without an offset. The caller closes what it returns."""
    if not definition_key.strip():
        raise LogImportError("the definition key must not be empty")
    if len(definition_key) > storable.DEFINITION_KEY:
        raise LogImportError(f"the definition key is longer than {storable.DEFINITION_KEY} characters")
    if limit is not None and limit < 1:
        raise LogImportError(f"the limit must be at least 1 case, not {limit}")
    if name is not None:
        if not name.strip():
            raise LogImportError("the name must not be empty")
        try:
            storable.check_text(name, "the name")
        except storable.NotStorable as exc:
            raise LogImportError(str(exc)) from None
    cases = CheckedLog(read_log(path, name, zone), limit)
    if not len(cases):  # a header alone: an export that went wrong, not a log of nothing to keep
        cases.close()
        raise LogImportError(f"{path}: no events" + (
            " to import (of an XES log's events that give a lifecycle:transition, only the complete ones are)"
            if is_xml(path) else ""))
    return cases


def _batches(cases: Iterable[LogCase]) -> Iterator[list[LogCase]]:
    batch: list[LogCase] = []
    for case in cases:
        batch.append(case)
        if len(batch) == BATCH_CASES:
            yield batch
            batch = []
    if batch:
        yield batch


def import_log(
    store: Store,
    path: Path,
    definition_key: str,
    *,
    progress: Callable[[int], None] | None = None,
    limit: int | None = None,
    on_read: Callable[[int], None] | None = None,
    name: str | None = None,
    cases: CheckedLog | None = None,
    zone: tzinfo = UTC,
) -> ImportResult:
    """Import `path`; `on_read(n)` is called once the n cases to import are read and checked, `progress(n)` as
    batches of n cases are committed; `limit` caps the case count; `name` replaces the file stem in the business
    keys (to import a different log that has the same file name); `zone`: the zone of the log's times without an
    offset; `cases`: what `read_checked` returned for the same arguments, so that the file is not read again (the
    caller closes it)."""
    if cases is not None:
        return _import(store, path, definition_key, cases, progress=progress, on_read=on_read, name=name)
    with read_checked(path, definition_key, limit=limit, name=name, zone=zone) as log_cases:
        return _import(store, path, definition_key, log_cases, progress=progress, on_read=on_read, name=name)


def _any_key_under(store: Store, prefix: str) -> bool:
    """Whether a stored case's business key begins with "<prefix>:". When none does, no key of the log is taken,
    and its cases need not be read once more to check them first. A range of code points: an index range on
    SQLite, whose text compares as bytes; PostgreSQL's compares by the database's collation, so in "C" (a scan)."""
    key: Any = t.cases.c.business_key
    with store.read() as conn:
        if conn.dialect.name == "postgresql":
            key = key.collate("C")
        found = conn.execute(select(t.cases.c.id).where(key >= f"{prefix}:", key < f"{prefix};").limit(1))
        return found.first() is not None


def _check_keys(
    store: Store, log_cases: CheckedLog, prefix: str, definition_key: str
) -> tuple[bool, int | None]:
    """(whether any case is not stored yet, how many rows repeat an earlier row of their case, or None where the
    cases were not read), having checked every case's key against the store.

    A key taken by a case with other rows is a different log with the same file name (or a key that two names and
    case ids spell alike: "a" with "b:1", "a:b" with "1"): counted as already present, its cases would be silently
    dropped. So every key is checked before anything is written, a batch of keys at a time."""
    if not _any_key_under(store, prefix):
        return True, None
    new = False
    repeated = 0
    for batch in _batches(log_cases):
        stored = _stored_digests(store, [f"{prefix}:{c.source_id}" for c in batch])
        for log_case in batch:
            key = f"{prefix}:{log_case.source_id}"
            if key not in stored:
                new = True
            elif stored[key].digest != log_case.digest:
                raise LogImportError(
                    f"case {log_case.source_id!r}: its key {key!r} is taken by a stored case with other events (from "
                    "another log of the same name, or one whose name and case id spell the same key); nothing was "
                    "imported. Import this log under another name (import-log --name NAME)"
                )
            repeated += len(log_case.rows) - len(set(log_case.rows))
        _check_definition(stored, definition_key, imported=0)
    return new, repeated


def _check_definition(stored: dict[str, _Stored], definition_key: str, *, imported: int) -> None:
    """Refuse the import when a case of the log is stored under another definition key. Counted as already present,
    it would be reported imported while none of the log's cases were under the key asked for (and `suggest train
    --definition KEY` finds no such key). `imported`: how many of the log's cases this import wrote before (another
    import of the same log under another key can write its cases after the first check, before this one's)."""
    other = next(((key, s.definition_key) for key, s in stored.items() if s.definition_key != definition_key), None)
    if other is not None:
        key, stored_under = other
        done = "the batches before it were imported" if imported else "nothing was imported"
        raise LogImportError(
            f"case key {key!r} is stored as a case of {stored_under!r}, not {definition_key!r} (this log was imported "
            f"under that definition key before); {done}. Import it under another name (import-log --name NAME) to "
            "store it again as cases of this key")


def _taken(key: str) -> LogImportError:
    return LogImportError(
        f"case key {key!r} was just taken by a stored case with other events (another log of the same name, imported "
        "at the same time); the batches before it were imported. Import this log under another name (import-log "
        "--name NAME)")


def _import(
    store: Store,
    path: Path,
    definition_key: str,
    log_cases: CheckedLog,
    *,
    progress: Callable[[int], None] | None,
    on_read: Callable[[int], None] | None,
    name: str | None,
) -> ImportResult:
    if on_read is not None:
        on_read(len(log_cases))
    prefix = _stem(path) if name is None else name
    any_new, counted = _check_keys(store, log_cases, prefix, definition_key)
    if not any_new:  # a log imported before: nothing to read again, only a batch left unsealed to seal
        if progress is not None:
            progress(len(log_cases))
        write_checkpoint(store, None)
        return ImportResult(0, 0, len(log_cases), 0, counted or 0)
    definition = store.definition(definition_key)
    version = definition.version if definition is not None else 0
    imported = events = skipped = reordered = repeated = 0
    # The key that seals each batch, read (and checked against the database's checkpoints) before the first batch
    # is written: a key missing or foreign stops the import with nothing written, not after its first batch.
    signer = signing_key(store)
    for batch in _batches(log_cases):
        case_rows: list[dict[str, Any]] = []
        event_rows: list[dict[str, Any]] = []
        # Which are present, asked again where some of the log's keys were taken when they were checked. Another
        # import of the same log (a second operator, an overlapping cron run) may write some of them since: its
        # cases collide with this batch's on their keys when it is written (below).
        stored = {} if counted is None else _stored_digests(store, [f"{prefix}:{c.source_id}" for c in batch])
        for log_case in batch:
            key, digest = f"{prefix}:{log_case.source_id}", log_case.digest
            if counted is None:
                repeated += len(log_case.rows) - len(set(log_case.rows))
            if key in stored:
                if stored[key].digest != digest:
                    raise _taken(key)
                _check_definition({key: stored[key]}, definition_key, imported=imported)
                skipped += 1
                continue
            reordered += log_case.reordered
            case_id = uuid.uuid4().hex
            first_at = log_case.rows[0][1]  # the earliest: the rows are in time order
            new = [NewEvent("case_imported", first_at, "import", None,
                            {"definition": definition_key, "source": path.name, "source_case": log_case.source_id,
                             "rows_sha256": digest})]
            new += [
                NewEvent("imported_activity", at, resource or "import", None, {"activity": act, "resource": resource})
                for act, at, resource in log_case.rows
            ]
            rows = w.event_rows(case_id, 1, GENESIS, new)
            event_rows.extend(rows)
            snapshot = {"imported": True, "source": path.name, "source_case": log_case.source_id,
                        "activities": len(log_case.rows), "status": "completed"}
            case_rows.append(
                {"case_id": case_id, "key": key, "version": len(rows), "last_hash": rows[-1]["hash"],
                 "snapshot": snapshot, "digest": digest, "reordered": log_case.reordered,
                 # when the log says it started and last changed: stamped with the time of the import, a case of
                 # 2012 was listed by `cases` as started today, newest of all
                 "started": datetime.fromisoformat(first_at), "ended": datetime.fromisoformat(new[-1].at)}
            )

        def work(conn: Connection, case_rows: list[dict[str, Any]] = case_rows,
                 event_rows: list[dict[str, Any]] = event_rows) -> None:
            for c in case_rows:
                w.insert_case(conn, case_id=c["case_id"], definition_key=definition_key, definition_version=version,
                              business_key=c["key"], status="completed", version=c["version"],
                              last_hash=c["last_hash"], snapshot=c["snapshot"], now=c["started"],
                              last_change=c["ended"], source="import")
            w.insert_events(conn, event_rows)

        while case_rows:
            try:
                store.write(functools.partial(work, case_rows=case_rows, event_rows=event_rows))
                break
            except _UNIQUE_VIOLATIONS:
                # Another import of the same log (a second operator, an overlapping cron run) wrote some of these
                # cases since they were checked: those are present now, the rest of the batch goes in.
                taken = _stored_digests(store, [c["key"] for c in case_rows])
                if not taken:
                    raise
                for c in case_rows:
                    if c["key"] in taken and taken[c["key"]].digest != c["digest"]:
                        raise _taken(c["key"]) from None
                # the same rule as the first check: a competing import of this log under another key is no copy
                _check_definition(taken, definition_key, imported=imported)
                gone = {c["case_id"] for c in case_rows if c["key"] in taken}
                skipped += len(gone)
                reordered -= sum(c["reordered"] for c in case_rows if c["case_id"] in gone)
                case_rows = [c for c in case_rows if c["case_id"] not in gone]
                event_rows = [r for r in event_rows if r["case_id"] not in gone]
        if case_rows:
            # Sealed batch by batch: a checkpoint's signed heads stay one batch long however large the log, and
            # an import that stops half-way leaves what it loaded sealed.
            write_checkpoint(store, signer)
        imported += len(case_rows)
        events += len(event_rows)
        if progress is not None:
            progress(len(batch))
    # A run stopped between a batch's commit and its checkpoint (Ctrl-C, a kill) left that batch unsealed, and the
    # run that completes the import finds those cases present and writes no batch of its own: it seals them here.
    # Nothing to seal costs one query, and reads no key.
    write_checkpoint(store, signer)
    if imported:
        store.refresh_statistics()
    return ImportResult(imported, events, skipped, reordered, repeated if counted is None else counted)
