"""The operator's listings: each deployed definition version with its open and closed cases, and the cases."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Select, case, func, select

from casework.display import quoted
from casework.store import schema as t
from casework.store.base import StoreBase
from casework.store.records import stored_utc

# A case's status is its case plan's state; these two end it (the engine's TERMINAL, not imported: the store does
# not load the engine).
ENDED = ("completed", "terminated")


@dataclass(frozen=True)
class DefinitionVersion:
    key: str
    version: int
    name: str | None
    deployed_at: datetime
    open: int
    closed: int


@dataclass(frozen=True)
class CaseListing:
    id: str
    business_key: str | None
    definition_key: str
    definition_version: int
    status: str
    source: str
    created_at: datetime
    updated_at: datetime


def definition_versions_query() -> Select[Any]:
    """The definitions, each joined to its cases' counts: the count reads ix_cases_definition_version_status alone
    (not the case rows, snapshots and all), in the index's order, once for all versions."""
    ended = t.cases.c.status.in_(ENDED)
    counts = (
        select(
            t.cases.c.definition_key,
            t.cases.c.definition_version,
            func.sum(case((ended, 0), else_=1)).label("open"),
            func.sum(case((ended, 1), else_=0)).label("closed"),
        )
        .group_by(t.cases.c.definition_key, t.cases.c.definition_version)
        .subquery()
    )
    d = t.definitions
    return (
        select(d.c.key, d.c.version, d.c.name, d.c.deployed_at, counts.c.open, counts.c.closed)
        .outerjoin(counts, (counts.c.definition_key == d.c.key) & (counts.c.definition_version == d.c.version))
        .order_by(d.c.key, d.c.version)
    )


class ListingsMixin(StoreBase):
    def definition_versions(self) -> list[DefinitionVersion]:
        """Every deployed version, by key and version, with how many of its cases are open and closed: one
        statement (`definition_versions_query`)."""
        with self.read() as conn:
            return [DefinitionVersion(r.key, r.version, r.name, stored_utc(r.deployed_at), int(r.open or 0),
                                      int(r.closed or 0)) for r in conn.execute(definition_versions_query())]

    def open_and_closed(self, definition_key: str) -> tuple[int, int]:
        """How many cases of `definition_key` (every version, imported ones too) are open, and how many closed."""
        ended = t.cases.c.status.in_(ENDED)
        q = select(func.sum(case((ended, 0), else_=1)), func.sum(case((ended, 1), else_=0)))
        q = q.where(t.cases.c.definition_key == definition_key)
        with self.read() as conn:
            row = conn.execute(q).one()
        return int(row[0] or 0), int(row[1] or 0)

    def definition_keys(self) -> list[str]:
        """Every key a definition is deployed under or a case is stored under (an imported log's needs no
        definition), sorted."""
        q = select(t.definitions.c.key).union(select(t.cases.c.definition_key))
        with self.read() as conn:
            return sorted(conn.execute(q).scalars())

    def unknown_definition(self, definition_key: str) -> str | None:
        """Why `definition_key` names nothing in the store, with the keys it has; None if a definition or a case has
        it (a mistyped key otherwise reads as "no cases")."""
        known = self.definition_keys()
        if definition_key in known:
            return None
        return (f"no definition key {quoted(definition_key)} in the store (its keys: {', '.join(known) or 'none'}; an "
                "imported log's is the --definition it was imported under)")

    def case_listing(
        self,
        *,
        definition_key: str | None = None,
        definition_version: int | None = None,
        statuses: Sequence[str] | None = None,
        open_only: bool = False,
        closed_only: bool = False,
        engine_only: bool = False,
        limit: int | None = None,
    ) -> list[CaseListing]:
        """Cases, newest first (by start, then id): of a definition (and version), in `statuses`, open (not ended)
        or closed; `engine_only` leaves out the cases imported from logs, which no command can change."""
        c = t.cases.c
        q = select(c.id, c.business_key, c.definition_key, c.definition_version, c.status, c.source, c.created_at,
                   c.updated_at)
        q = q.where(c.definition_key == definition_key) if definition_key is not None else q
        q = q.where(c.definition_version == definition_version) if definition_version is not None else q
        q = q.where(c.status.in_(list(statuses))) if statuses else q
        q = q.where(c.status.not_in(ENDED)) if open_only else q
        q = q.where(c.status.in_(ENDED)) if closed_only else q
        q = q.where(c.source == "engine") if engine_only else q
        q = q.order_by(c.created_at.desc(), c.id.desc())
        q = q.limit(limit) if limit is not None else q
        with self.read() as conn:
            return [CaseListing(r.id, r.business_key, r.definition_key, r.definition_version, r.status, r.source,
                                stored_utc(r.created_at), stored_utc(r.updated_at)) for r in conn.execute(q)]
