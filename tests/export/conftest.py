from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest

from casework.service import CaseService
from casework.store import Store
from casework.store.testing import db_url, pg_url, sqlite_url

__all__ = ["db_url", "pg_url", "sqlite_url"]

T0 = datetime(2024, 5, 1, 9, 0, tzinfo=UTC)


@pytest.fixture
def svc(db_url: str, tmp_path: Path) -> Iterator[CaseService]:
    """A service on a new store of each kind whose clock stands at T0 (a test module may define its own)."""
    store = Store.open(db_url, audit_key=tmp_path / "k", blob_dir=tmp_path / "blobs")
    service = CaseService(store, clock=lambda: T0)
    yield service
    service.close()
    store.close()
