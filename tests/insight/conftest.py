from __future__ import annotations

from casework.store.testing import db_url, pg_url, sqlite_url

__all__ = ["db_url", "pg_url", "sqlite_url"]
