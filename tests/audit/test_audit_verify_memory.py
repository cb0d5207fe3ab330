"""verify() holds one case and one checkpoint at a time, whatever the store's size; and what it then reads per case
(the case row with the first event, a deleted case's earlier checkpoint) still names each broken link."""

from __future__ import annotations

import importlib
import sqlite3
from collections.abc import Iterator
from contextlib import closing
from typing import Any

import pytest
from sqlalchemy import text
from test_audit_verify import _tamper, filled_store

from casework.audit.verify import verify
from casework.store import Store
from casework.store.url import parse_url, sqlite_file

verifying = importlib.import_module("casework.audit.verify")
sealing = importlib.import_module("casework.audit.checkpoints")


@pytest.fixture
def store(db_url: str, tmp_path) -> Iterator[Store]:  # type: ignore[no-untyped-def]
    """Twelve cases of four events, sealed after each append: 36 checkpoints."""
    s = filled_store(db_url, tmp_path / "audit.key", 12, seal_each_append=True)
    yield s
    s.close()


def _count_alive(monkeypatch: pytest.MonkeyPatch, module: Any, name: str) -> dict[str, int]:
    """Replace the class `module.name` with one that counts its live instances; returns {"alive", "peak"}."""
    counts = {"alive": 0, "peak": 0}
    base = getattr(module, name)

    class Counted(base):  # type: ignore[misc, valid-type]
        def __init__(self, *args: Any, **kwargs: Any) -> None:
            if "__init__" in base.__dict__:  # a dataclass; a NamedTuple is built by __new__
                super().__init__(*args, **kwargs)
            counts["alive"] += 1
            counts["peak"] = max(counts["peak"], counts["alive"])

        def __del__(self) -> None:
            counts["alive"] -= 1

    monkeypatch.setattr(module, name, Counted)
    return counts


def test_verify_holds_one_case_row_at_a_time(store: Store, monkeypatch: pytest.MonkeyPatch) -> None:
    heads = _count_alive(monkeypatch, verifying, "_Head")
    report = verify(store)
    assert report.ok and report.cases == 12, report.problems
    assert 0 < heads["peak"] <= 2  # all twelve, before: every case row was read into a dict first


def test_verify_holds_one_checkpoint_at_a_time(store: Store, monkeypatch: pytest.MonkeyPatch) -> None:
    sealed = _count_alive(monkeypatch, sealing, "Checkpoint")
    report = verify(store)
    assert report.ok and report.checkpoints == 36, report.problems
    assert 0 < sealed["peak"] <= 3  # all 36 twice over, before


def test_a_case_whose_row_is_gone_is_named(store: Store) -> None:
    case = store.cases_for_test[5]  # type: ignore[attr-defined]
    if store.is_sqlite:  # past the foreign key from its events, as someone with the file could
        with closing(sqlite3.connect(sqlite_file(parse_url(store.url)), isolation_level=None)) as db:
            db.execute("PRAGMA foreign_keys = OFF")
            db.execute("DELETE FROM cases WHERE id = ?", (case,))
    else:
        with store.engine.begin() as conn:
            conn.execute(text("SET LOCAL session_replication_role = replica"))  # skips the foreign key's triggers
            conn.execute(text("DELETE FROM cases WHERE id = :c"), {"c": case})
    problems = [str(p) for p in verify(store).problems]
    assert any(p.startswith(f"case {case}") and "events belong to no case row" in p for p in problems), problems


def test_a_deleted_first_event_is_named(store: Store) -> None:
    case = store.cases_for_test[3]  # type: ignore[attr-defined]
    _tamper(store, "DELETE FROM events WHERE case_id = :c AND seq = 1", c=case)
    first = verify(store).first
    assert first is not None and (first.case_id, first.seq) == (case, 1) and "missing" in first.what


def test_a_deleted_case_names_the_events_its_checkpoints_sealed(store: Store) -> None:
    case = store.cases_for_test[7]  # type: ignore[attr-defined]
    _tamper(store, "DELETE FROM events WHERE case_id = :c AND seq > 2", c=case)
    with store.engine.begin() as conn:
        conn.execute(text("UPDATE cases SET version = 2, last_hash = (SELECT hash FROM events WHERE case_id = :c "
                          "AND seq = 2) WHERE id = :c"), {"c": case})
    problems = [str(p) for p in verify(store).problems]
    # seq 3 was sealed by the checkpoint of the second round, seq 4 by that of the third: each range says which.
    assert f"case {case} seq 3: checkpoint #" in "\n".join(problems), problems
    assert any(p.startswith(f"case {case} seq 4: checkpoint #") and "sealed events seq 4 " in p
               for p in problems), problems
