"""The inbox queries use the task indexes (a plan check, not a timing test): at a million tasks a scan would not do."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest

from casework.store import Store

DUE = dt.datetime(2026, 6, 1, tzinfo=dt.UTC)
QUERIES = {
    "my open tasks": {"owner": "ann", "states": ("active", "enabled")},
    "my group's queue": {"candidate_group": "claims", "states": ("active",)},
    "left to claim in my group's queue": {"candidate_group": "claims", "unassigned": True, "states": ("active",)},
    "offered to me": {"candidate_user": "dan", "states": ("active", "enabled")},
    "left to claim of what is offered to me": {"candidate_user": "dan", "unassigned": True, "states": ("active",)},
    "due soon": {"due_before": DUE, "states": ("active",)},
    "one case": {"case_id": "c1"},
}


def _plan(store: Store, query: object) -> str:
    with store.read() as conn:
        compiled = query.compile(dialect=conn.dialect, compile_kwargs={"literal_binds": True})  # type: ignore[attr-defined]
        if conn.dialect.name == "sqlite":
            rows = conn.exec_driver_sql(f"EXPLAIN QUERY PLAN {compiled}").all()
            return "\n".join(str(r[-1]) for r in rows)
        # An empty test table makes any plan cheap: forbid the sequential scan to see whether an index can serve.
        conn.exec_driver_sql("SET enable_seqscan = off")
        rows = conn.exec_driver_sql(f"EXPLAIN {compiled}").all()
        return "\n".join(str(r[0]) for r in rows)


@pytest.mark.parametrize("name", sorted(QUERIES))
def test_inbox_queries_use_an_index(db_url: str, tmp_path: Path, name: str) -> None:
    with Store.open(db_url, blob_dir=tmp_path / "blobs", audit_key=tmp_path / "audit.key") as store:
        plan = _plan(store, Store.tasks_query(**QUERIES[name]))  # type: ignore[arg-type]
    if db_url.startswith("sqlite"):
        assert "SEARCH tasks USING" in plan and "SCAN " not in plan, plan  # SCAN = read every row of a table
        if "group's queue" in name:
            assert "SEARCH task_groups USING PRIMARY KEY (group_name=?)" in plan, plan
        if "offered to me" in name:
            assert "SEARCH task_candidates USING PRIMARY KEY (user_name=?)" in plan, plan
    else:
        assert "Index" in plan and "Seq Scan" not in plan, plan
