"""A batch of units that each run in their own savepoint (not command writes) meets a full disk."""

from __future__ import annotations

from pathlib import Path

from sqlalchemy import Connection

from casework.store import Store
from casework.store.testing import fill_up, small_disk

__all__ = ["small_disk"]


def _insert(conn: Connection) -> None:
    conn.exec_driver_sql("INSERT INTO scratch (b) VALUES (randomblob(100000))")


def test_a_full_disk_under_a_savepoint_batch_fails_each_unit_with_the_disk_error(small_disk: Path) -> None:
    store = Store.open(f"sqlite:///{small_disk / 'casework.db'}", audit_key=small_disk / "k")
    store.write(lambda conn: conn.exec_driver_sql("CREATE TABLE scratch (b BLOB)"))
    with store.engine.connect() as conn:
        conn.exec_driver_sql("PRAGMA wal_checkpoint(TRUNCATE)")
    # A page cache that spills in the first unit: SQLite then rolls back the whole transaction, savepoints and all,
    # and the writers were told "no such savepoint: unit" (from the ROLLBACK TO that followed).
    store._committer._runner._raw.execute("PRAGMA cache_size = 5")  # type: ignore[attr-defined]
    filler = fill_up(small_disk)
    units = store._committer.submit_all([_insert, _insert, _insert])
    assert all("database or disk is full" in str(unit.error).splitlines()[0] for unit in units), units[0].error
    filler.unlink()
    store.write(_insert)
    with store.read() as conn:
        assert conn.exec_driver_sql("SELECT count(*) FROM scratch").scalar() == 1
        assert conn.exec_driver_sql("PRAGMA integrity_check").scalar() == "ok"
    store.close()
