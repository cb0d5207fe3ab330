"""Durable, event-sourced storage for casework on SQLite (default) or PostgreSQL.

The event log is the source of truth; case snapshots, the task inbox and jobs are projections written in the same
transaction as the events they derive from.
"""

from __future__ import annotations

import os
from datetime import UTC, tzinfo
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
        WriteOutcomeUnknown,
    )
    from casework.store.store import Store
    from casework.store.url import StoreURLError

# Loaded on first use (the store brings SQLAlchemy and Alembic): every module of the package, the command line's
# casework.store.cli among them, runs this file first.
__getattr__ = lazy_exports(__name__, {
    "casework.store.records": ("CaseHead", "CaseRow", "DefinitionRow", "DocumentRow", "JobRow", "NewEvent",
                               "StoredEvent", "StoreError", "TaskRow", "VersionMismatch",
                               "WriteOutcomeUnknown"),
    "casework.store.store": ("Store",),
    "casework.store.url": ("StoreURLError",),
})


def default_db_url() -> str:
    return os.environ.get("CASEWORK_DB") or DEFAULT_DB


class ZoneSettingError(ValueError):
    """CASEWORK_TIMEZONE names no time zone."""


def organisation_zone() -> tzinfo:
    """The organisation's time zone, $CASEWORK_TIMEZONE (an IANA name such as Europe/Amsterdam; default UTC): the
    zone of the wall-clock times that event logs record without an offset, and the one whose hour, weekday and date
    decision support reads from stored instants. `ZoneSettingError` names an unknown zone."""
    name = os.environ.get("CASEWORK_TIMEZONE", "").strip()
    if not name or name == "UTC":
        return UTC  # needs no time zone database: the default works on a platform without one
    from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):  # ValueError: a path rather than a name ("../x", "/etc/x")
        raise ZoneSettingError(
            f"CASEWORK_TIMEZONE={name!r} is no time zone known here: give an IANA name such as Europe/Amsterdam "
            "(or UTC); the names are case-sensitive, and a platform without a zone database needs the tzdata package"
        ) from None


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
    "WriteOutcomeUnknown",
    "ZoneSettingError",
    "default_db_url",
    "organisation_zone",
]
