from __future__ import annotations

import datetime as dt
from collections.abc import Iterator

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
