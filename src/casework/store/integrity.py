"""Whether a SQLite file is whole: `PRAGMA integrity_check`, for `audit verify`."""

from __future__ import annotations

from sqlalchemy import Connection, text

from casework.store.records import StoreError

# integrity_check stops after this many findings: the first names the damage, the count says whether it is one page.
_SHOWN = 10


class DamagedDatabase(StoreError):
    """The database file fails SQLite's integrity check (a disk fault, a file copied while written, a truncation)."""


def check_integrity(conn: Connection) -> None:
    """Raise `DamagedDatabase` if SQLite finds the file damaged. The hash chains are read through the events table
    alone, so a damaged index or projection table (tasks, cases' unique keys, definitions, jobs) passed verify as ok
    while the store answered queries from it wrongly and every write risked spreading the damage. PostgreSQL keeps
    page checksums of its own and has no cheap equivalent: nothing is checked there."""
    if conn.dialect.name != "sqlite":
        return
    rows = [row[0] for row in conn.execute(text(f"PRAGMA integrity_check({_SHOWN})"))]
    if rows == ["ok"]:
        return
    # A row may hold several findings, one a line, under a "*** in database main ***" heading.
    found = [line.strip() for row in rows for line in str(row).splitlines() if line.strip() and "***" not in line]
    first = found[0] if found else "(no details)"
    more = len(found) - 1
    counted = f" (and {more}{' or more' if len(found) >= _SHOWN else ''} more)" if more > 0 else ""
    raise DamagedDatabase(
        f"the database file is damaged: PRAGMA integrity_check says {first!r}{counted}; restore it from a backup "
        "(a disk fault, or a copy taken without its -wal file): a damaged file cannot be vouched for"
    )
