from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from pathlib import Path

import pytest

from casework.demo import demo_model_xml
from casework.engine import commands
from casework.service import CaseService
from casework.store import Store
from casework.store.testing import db_url, pg_url, sqlite_url

__all__ = ["db_url", "pg_url", "sqlite_url"]

REGISTERED_AT = dt.datetime(2026, 3, 1, 9, tzinfo=dt.UTC)


@pytest.fixture
def claim(db_url: str) -> Iterator[tuple[str, str]]:
    """(database URL, case id) of a demo claim of 12,500 registered at REGISTERED_AT: a police report is required and
    missing. A test module may define its own `claim`."""
    with Store.open(db_url) as store, CaseService(store, clock=lambda: REGISTERED_AT) as service:
        service.deploy(demo_model_xml("insurance_claim.cmmn"))
        case_id = service.start_case("insuranceClaim", {"amount": 12500}, actor="ann").case_id
        service.execute(case_id, commands.CompleteItem(item="Register claim", actor="ann"))
    yield db_url, case_id


@pytest.fixture
def configured_env(db_url: str, tmp_path: Path) -> dict[str, str]:
    """The environment of `casework` commands on a database with the demo claim model deployed and
    CASEWORK_CASE_TYPES=insurance_claim: every change is judged as it is made."""
    with Store.open(db_url, audit_key=tmp_path / "audit.key") as store, CaseService(store) as svc:
        svc.deploy(demo_model_xml("insurance_claim.cmmn"))
    return {"COLUMNS": "200", "CASEWORK_DB": db_url, "CASEWORK_AUDIT_KEY": str(tmp_path / "audit.key"),
            "CASEWORK_BLOBS": str(tmp_path / "blobs"), "CASEWORK_CASE_TYPES": "insurance_claim"}
