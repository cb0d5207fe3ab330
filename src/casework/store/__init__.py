"""Durable, event-sourced storage for casework on SQLite (default) or PostgreSQL.

The event log is the source of truth; case snapshots, the task inbox and jobs are projections written in the same
transaction as the events they derive from.
"""

from __future__ import annotations

from casework.store.records import (
    CaseHead,
    CaseRow,
    DefinitionRow,
    DocumentRow,
    JobRow,
    NewEvent,
    StoredEvent,
    StoreError,
    TaskRow,
    VersionMismatch,
)
from casework.store.store import Store
from casework.store.url import DEFAULT_DB, StoreURLError, default_db_url

__all__ = [
    "DEFAULT_DB",
    "CaseHead",
    "CaseRow",
    "DefinitionRow",
    "DocumentRow",
    "JobRow",
    "NewEvent",
    "Store",
    "StoreError",
    "StoreURLError",
    "StoredEvent",
    "TaskRow",
    "VersionMismatch",
    "default_db_url",
]
