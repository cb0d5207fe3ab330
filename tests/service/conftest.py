from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from helpers_service import T0, Backends, claim_xml

from casework.service import CaseService
from casework.store import Store
from casework.store.testing import db_url, pg_url, sqlite_url

__all__ = ["db_url", "pg_service", "pg_url", "sqlite_url", "svc"]


@pytest.fixture
def pg_service(pg_url: str, tmp_path: Path) -> Iterator[tuple[CaseService, Backends]]:
    """A service on a fresh PostgreSQL schema whose sessions carry an application_name of their own, and what
    terminates them (`Backends`): only this test's sessions, never other users' of the server."""
    name = f"casework-test-{uuid.uuid4().hex[:12]}"
    store = Store.open(f"{pg_url}&application_name={name}", audit_key=tmp_path / "audit.key",
                       blob_dir=tmp_path / "blobs")
    svc = CaseService(store, clock=lambda: T0)
    svc.deploy(claim_xml())
    backends = Backends(os.environ["CASEWORK_TEST_POSTGRES_URL"], name)
    yield svc, backends
    svc.close()
    store.close()
    backends.admin.dispose()


@pytest.fixture
def svc(db_url: str, tmp_path: Path) -> Iterator[CaseService]:
    """A service on a fresh store of either database, its clock at T0, with the claim model deployed."""
    model = claim_xml()  # before the store opens: without the shared corpus it skips, and the store was left open
    store = Store.open(db_url, audit_key=tmp_path / "audit.key", blob_dir=tmp_path / "blobs")
    service = CaseService(store, clock=lambda: T0)
    service.deploy(model)
    yield service
    service.close()
    store.close()
