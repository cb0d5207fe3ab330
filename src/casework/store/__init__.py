"""Durable, event-sourced storage for casework on SQLite (default) or PostgreSQL.

The event log is the source of truth; case snapshots, the task inbox and jobs are projections written in the same
transaction as the events they derive from.
"""

from __future__ import annotations

import os
from typing import TYPE_CHECKING

from casework.lazy import lazy_exports

DEFAULT_DB = "sqlite:///./casework.db"

if TYPE_CHECKING:
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
    from casework.store.url import StoreURLError

# Loaded on first use (the store brings SQLAlchemy and Alembic): every module of the package, the command line's
# casework.store.cli among them, runs this file first.
__getattr__ = lazy_exports(__name__, {
    "casework.store.records": ("CaseHead", "CaseRow", "DefinitionRow", "DocumentRow", "JobRow", "NewEvent",
                               "StoredEvent", "StoreError", "TaskRow", "VersionMismatch"),
    "casework.store.store": ("Store",),
    "casework.store.url": ("StoreURLError",),
})


def default_db_url() -> str:
    return os.environ.get("CASEWORK_DB") or DEFAULT_DB


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
