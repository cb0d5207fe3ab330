from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from bouncer import Bouncer, pgbouncer

from casework.store.testing import db_url, pg_schema, pg_url, sqlite_url

__all__ = ["bouncer", "db_url", "pg_url", "sqlite_url"]


@pytest.fixture
def bouncer(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Bouncer]:
    """A PgBouncer in transaction pooling mode in front of a schema of the test's own (`bouncer.pgbouncer`); its
    pool holds `@pytest.mark.parametrize("bouncer", [N], indirect=True)` server connections, else 2."""
    pool_size = getattr(request, "param", 2)
    with pg_schema() as (base, schema), pgbouncer(base, schema, tmp_path / "pgbouncer", pool_size=pool_size) as found:
        yield found
