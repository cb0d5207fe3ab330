"""Load a historical event log (case_id,activity,timestamp[,resource], gzip or plain CSV) as closed cases.

Every imported case gets a hash-chained history like any other: `case_imported`, then one `imported_activity` per
row. Its business key is "<file stem>:<case id in the log>", so importing the same file twice adds nothing.
The whole file is read and checked before anything is written: a bad row stops the import with nothing stored.
"""

from __future__ import annotations

import csv
import gzip
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from sqlalchemy import Connection

from casework.audit.checkpoints import write_checkpoint
from casework.audit.hashing import GENESIS
from casework.logfile import LogHeaderError, find_columns, open_log_text, parse_time
from casework.store import NewEvent, Store, storable
from casework.store import writes as w

BATCH_CASES = 500


class LogImportError(ValueError):
    """The log cannot be imported as it is; nothing was written."""


@dataclass(frozen=True)
class LogCase:
    source_id: str
    rows: list[tuple[str, str, str | None]]  # (activity, at ISO UTC, resource)


@dataclass(frozen=True)
class ImportResult:
    cases: int
    events: int
    skipped: int  # cases already imported before


def _timestamp(value: str, line: int) -> str:
    try:
        return parse_time(value).astimezone(UTC).isoformat()
    except ValueError:
        raise LogImportError(f"line {line}: timestamp {value!r} is not ISO-8601") from None


def _stem(path: Path) -> str:
    return path.name.removesuffix(".gz").removesuffix(".csv")


def _fits(line: int, value: str | None, column: str, limit: int) -> None:
    if value is not None and len(value) > limit:
        raise LogImportError(f"line {line}: {column} is {len(value)} characters long; at most {limit} can be stored")


def read_log(path: Path) -> list[LogCase]:
    if not path.is_file():
        raise LogImportError(f"{path}: no such file")
    cases: dict[str, LogCase] = {}
    names: dict[str, str] = {}
    case_id_limit = storable.BUSINESS_KEY - len(_stem(path)) - 1  # the business key is "<file stem>:<case_id>"
    if case_id_limit < 1:
        raise LogImportError(
            f"{path}: the file name is too long to name its cases by (at most {storable.BUSINESS_KEY - 2} characters)"
        )
    try:
        with open_log_text(path) as fh:
            reader = csv.reader(fh)
            try:
                columns = find_columns(next(reader, []))
            except LogHeaderError as exc:
                raise LogImportError(f"{path}: {exc}") from None
            for line, row in enumerate(reader, start=2):
                if not row:
                    continue
                if len(row) < columns.width:
                    raise LogImportError(f"line {line}: expected case_id, activity and timestamp, got {row}")
                case_id, activity = row[columns.case_id].strip(), row[columns.activity].strip()
                if not case_id or not activity:
                    raise LogImportError(f"line {line}: empty case_id or activity")
                at = _timestamp(row[columns.timestamp], line)
                resource = None
                if columns.resource is not None and len(row) > columns.resource:
                    resource = row[columns.resource].strip() or None
                _fits(line, case_id, "case_id", case_id_limit)
                _fits(line, resource, "resource", storable.ACTOR)
                activity = names.setdefault(activity, activity)  # one object per name, not one per row
                resource = None if resource is None else names.setdefault(resource, resource)
                cases.setdefault(case_id, LogCase(case_id, [])).rows.append((activity, at, resource))
    except (OSError, EOFError, UnicodeDecodeError, csv.Error, gzip.BadGzipFile) as exc:
        raise LogImportError(f"{path}: cannot read: {exc}") from exc
    return list(cases.values())


def import_log(
    store: Store,
    path: Path,
    definition_key: str,
    *,
    progress: Callable[[int], None] | None = None,
    limit: int | None = None,
    on_read: Callable[[int], None] | None = None,
) -> ImportResult:
    """Import `path`; `on_read(n)` is called once the n cases to import are read and checked, `progress(n)` as
    batches of n cases are committed; `limit` caps the case count."""
    if not definition_key.strip():
        raise LogImportError("the definition key must not be empty")
    if len(definition_key) > storable.DEFINITION_KEY:
        raise LogImportError(f"the definition key is longer than {storable.DEFINITION_KEY} characters")
    log_cases = read_log(path)[:limit] if limit else read_log(path)
    if on_read is not None:
        on_read(len(log_cases))
    stem = _stem(path)
    definition = store.definition(definition_key)
    version = definition.version if definition is not None else 0
    imported = events = skipped = 0
    now = datetime.now(UTC)
    for start in range(0, len(log_cases), BATCH_CASES):
        batch = log_cases[start : start + BATCH_CASES]
        keys = [f"{stem}:{c.source_id}" for c in batch]
        seen = store.existing_business_keys(keys)
        case_rows: list[dict[str, Any]] = []
        event_rows: list[dict[str, Any]] = []
        for log_case, key in zip(batch, keys, strict=True):
            if key in seen:
                skipped += 1
                continue
            case_id = uuid.uuid4().hex
            first_at = log_case.rows[0][1]
            new = [NewEvent("case_imported", first_at, "import", None,
                            {"definition": definition_key, "source": path.name, "source_case": log_case.source_id})]
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
                 "snapshot": snapshot}
            )

        def work(conn: Connection, case_rows: list[dict[str, Any]] = case_rows,
                 event_rows: list[dict[str, Any]] = event_rows) -> None:
            for c in case_rows:
                w.insert_case(conn, case_id=c["case_id"], definition_key=definition_key, definition_version=version,
                              business_key=c["key"], status="completed", version=c["version"],
                              last_hash=c["last_hash"], snapshot=c["snapshot"], now=now, source="import")
            w.insert_events(conn, event_rows)

        if case_rows:
            store.write(work)
            # Sealed batch by batch: a checkpoint's signed heads stay one batch long however large the log, and
            # an import that stops half-way leaves what it loaded sealed.
            write_checkpoint(store)
        imported += len(case_rows)
        events += len(event_rows)
        if progress is not None:
            progress(len(batch))
    return ImportResult(imported, events, skipped)
