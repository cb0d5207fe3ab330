"""Plain rows handed out by the store: no SQLAlchemy objects leak past it."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, NamedTuple


def as_utc(value: datetime | None) -> datetime | None:
    """SQLite hands back naive datetimes; everything casework stores is UTC."""
    if value is None:
        return None
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def stored_utc(value: datetime | None) -> datetime:
    """A timestamp from a NOT NULL column, in UTC; a missing one means the row is damaged, not 'now'."""
    moment = as_utc(value)
    if moment is None:
        raise StoreError("a stored row lacks a required timestamp")
    return moment


class StoreError(Exception):
    """Base class of the store's own errors."""


class VersionMismatch(StoreError):
    """The case changed since it was read (optimistic lock lost)."""

    def __init__(self, case_id: str, expected: int) -> None:
        super().__init__(f"case {case_id} is no longer at version {expected}")
        self.case_id = case_id
        self.expected = expected


class WriteOutcomeUnknown(StoreError):
    """A write lost its connection, and the database could not be reached again to tell whether its COMMIT went
    through (`lostwrites`): it may have been written. The error it was lost with is its `__cause__`."""

    def __init__(self, case_id: str) -> None:
        super().__init__(f"case {case_id}: the write may or may not have been committed")
        self.case_id = case_id


@dataclass(frozen=True)
class DefinitionRow:
    key: str
    version: int
    name: str | None
    xml: str
    sha256: str
    deployed_at: datetime

    @classmethod
    def from_row(cls, row: Any) -> DefinitionRow:
        m = row._mapping
        return cls(
            key=m["key"],
            version=m["version"],
            name=m["name"],
            xml=m["xml"],
            sha256=m["sha256"],
            deployed_at=stored_utc(m["deployed_at"]),
        )


@dataclass(frozen=True)
class CaseRow:
    id: str
    definition_key: str
    definition_version: int
    business_key: str | None
    status: str
    version: int
    last_hash: str
    source: str
    snapshot: dict[str, Any]  # the state at snapshot_version; apply the events after it for the current state
    snapshot_version: int
    created_at: datetime
    updated_at: datetime

    @classmethod
    def from_row(cls, row: Any) -> CaseRow:
        m = row._mapping
        return cls(
            id=m["id"],
            definition_key=m["definition_key"],
            definition_version=m["definition_version"],
            business_key=m["business_key"],
            status=m["status"],
            version=m["version"],
            last_hash=m["last_hash"],
            source=m["source"],
            snapshot=json.loads(m["snapshot"]),
            snapshot_version=m["snapshot_version"],
            created_at=stored_utc(m["created_at"]),
            updated_at=stored_utc(m["updated_at"]),
        )


@dataclass(frozen=True)
class CaseHead:
    """What running a command needs of a case: where its chain ends and its snapshot (as stored JSON text, at
    `snapshot_version`; the events after it, up to `version`, complete the state)."""

    id: str
    definition_key: str
    definition_version: int
    version: int
    last_hash: str
    source: str
    snapshot_json: str
    snapshot_version: int


@dataclass(frozen=True)
class StoredEvent:
    id: int
    case_id: str
    seq: int
    type: str
    at: str
    actor: str
    reason: str | None
    payload: dict[str, Any]
    prev_hash: str
    hash: str

    @classmethod
    def from_row(cls, row: Any) -> StoredEvent:
        m = row._mapping
        return cls(
            id=m["id"],
            case_id=m["case_id"],
            seq=m["seq"],
            type=m["type"],
            at=m["at"],
            actor=m["actor"],
            reason=m["reason"],
            payload=json.loads(m["payload"]),
            prev_hash=m["prev_hash"],
            hash=m["hash"],
        )

    def engine_dict(self) -> dict[str, Any]:
        """The shape `casework.engine.Event.from_dict` reads."""
        return {"type": self.type, "at": self.at, "actor": self.actor, "reason": self.reason, "payload": self.payload}


class ImportedStep(NamedTuple):
    """One row of an imported log as stored (`imported_activity`): what was done, when (ISO, UTC), by whom (None:
    the log named nobody)."""

    activity: str
    at: str
    resource: str | None


@dataclass(frozen=True)
class NewEvent:
    """An event about to be appended; the store gives it its seq and hashes."""

    type: str
    at: str
    actor: str
    reason: str | None
    payload: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class TaskRow:
    case_id: str
    item_id: str
    def_id: str | None
    name: str | None
    kind: str
    state: str
    owner: str | None
    candidate_groups: tuple[str, ...]
    due_at: datetime | None
    candidate_users: tuple[str, ...] = ()


@dataclass(frozen=True)
class JobRow:
    id: int
    kind: str
    case_id: str | None
    ref: str
    due_at: datetime
    payload: dict[str, Any]
    attempts: int
    claimed_by: str | None
    claimed_until: datetime | None


@dataclass(frozen=True)
class DocumentRow:
    id: str
    case_id: str
    name: str
    version: int
    media_type: str
    sha256: str
    size: int
    created_by: str
    created_at: datetime


@dataclass(frozen=True)
class StoredText:
    """The text extracted from a document's bytes (`casework.insight.doctext`): its pages, or why it could not be
    read (`error`, no pages then). `pages` may hold fewer than `page_count` pages, each cut short, when it was read
    with a bound (`Store.document_texts`)."""

    sha256: str
    extractor: int
    read_as: str  # any | pdf | text
    form: str  # pdf | text | empty; "" when it could not be read
    pages: tuple[str, ...]
    page_count: int
    unread_pages: int
    unread_reason: str
    notes: tuple[str, ...]
    error: str | None
    extracted_at: datetime
