"""Decision support's findings per case: flags and rule suggestions as they stood when the case was last judged, and
the version of the case that judgement was made at (commands that run without a `FindingsWatcher` change a case
without judging it again)."""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Connection, bindparam, case, delete, exists, insert, select, update

from casework.store import schema as t
from casework.store.base import StoreBase
from casework.store.records import stored_utc

SEVERITY_RANK = {"critical": 0, "warning": 1, "info": 2}


@dataclass(frozen=True)
class FindingRow:
    case_id: str
    finding_id: str
    kind: str
    severity: str
    source: str
    message: str
    reason: str
    action: dict[str, Any] | None
    judged_version: int  # the version of the case the finding was last judged at
    model_version: str
    case_type: str
    raised_at: datetime
    checked_at: datetime  # when it was last judged
    # The case as it is now (None: no such case any more): a version past `judged_version` is a change nobody
    # judged, and `migrated` one that moved the case to another model version (`definition_key` and
    # `definition_version` say which) since.
    case_version: int | None = None
    definition_key: str | None = None
    definition_version: int | None = None
    migrated: bool = False

    @property
    def current(self) -> bool:
        """Whether the case is still at the version the finding was judged at."""
        return self.case_version == self.judged_version


# (case id, case version, when): a judgement that found what is stored, for `FindingsMixin.mark_judged`
Judged = tuple[str, int, datetime]


class FindingsMixin(StoreBase):
    def replace_findings(
        self, case_id: str, case_version: int, findings: Sequence[dict[str, Any]], now: datetime,
        model_version: str = "", case_type: str = "", *, unchanged: list[Judged] | None = None,
    ) -> bool:
        """Make `findings` (dicts as `Finding.to_dict` gives them) the case's findings as judged at `case_version`
        by `case_type`.

        A finding that was already there keeps the time it was first raised. Returns False, writing nothing, if the
        case has moved past `case_version` meanwhile (a later change brings its own, newer judgement) or is gone.
        When the findings are what is stored already (most changes of a case leave them as they are), only the
        version they were judged at moves on (`mark_judged`): `suggest flags` tells findings judged on an older
        version of the case by it. A write is a transaction of its own, and on SQLite with synchronous=FULL its own
        fsync: a refresh that wrote every case's rows took half as long again as the commands it followed. So a
        caller judging many cases passes `unchanged`, which collects those marks for one `mark_judged` of them all.
        """
        moment = now.astimezone(UTC)
        wanted = {f["id"]: _content(f, model_version, case_type) for f in findings}
        c = t.case_findings.c
        columns = (c.finding_id, c.kind, c.severity, c.source, c.message, c.reason, c.action, c.model_version,
                   c.case_type, c.case_version)
        with self.read() as conn:
            rows = conn.execute(select(*columns).where(c.case_id == case_id)).all()
        if {r[0]: tuple(r[1:-1]) for r in rows} == wanted:
            if any(r[-1] < case_version for r in rows):
                mark = (case_id, case_version, moment)
                if unchanged is None:
                    self.mark_judged([mark])
                else:
                    unchanged.append(mark)
            return True

        def work(conn: Connection) -> bool:
            # The case row stays locked to the end (PostgreSQL; SQLite's writers are one at a time anyway): two
            # judgements of one case are written one after the other, and one made on an older version sees the
            # newer version here instead of deleting the newer judgement's rows.
            version = conn.execute(
                select(t.cases.c.version).where(t.cases.c.id == case_id).with_for_update()
            ).scalar()
            if version is None or int(version) != case_version:
                return False
            # A finding offering a document's value is raised anew about other values (a later letter): its "since"
            # is when that value came, not when the field first differed from a document.
            raised = {
                finding_id: at for finding_id, at, action in conn.execute(
                    select(c.finding_id, c.raised_at, c.action).where(c.case_id == case_id)
                ).all()
                if (finding := wanted.get(finding_id)) is not None and _seen(action) == _seen(finding[5])
            }
            conn.execute(delete(t.case_findings).where(t.case_findings.c.case_id == case_id))
            rows = [
                {
                    "case_id": case_id,
                    "finding_id": f["id"],
                    "kind": f["kind"],
                    "severity": f["severity"],
                    "source": f["source"],
                    "message": f["message"],
                    "reason": f["reason"],
                    "action": _action_json(f),
                    "case_version": case_version,
                    "model_version": model_version,
                    "case_type": case_type,
                    "raised_at": raised.get(f["id"], moment),
                    "checked_at": moment,
                }
                for f in {f["id"]: f for f in findings}.values()  # one row per id: the last one given
            ]
            if rows:
                conn.execute(insert(t.case_findings), rows)
            return True

        return self.write(work)

    def mark_judged(self, judged: Sequence[Judged]) -> None:
        """Record that each case's stored findings were judged again at that version, and found as they are, in one
        transaction. Only forwards: findings a later judgement wrote meanwhile keep their version (a judgement made
        at a version the case has left writes no rows, so rows of an older version cannot appear after the read).
        A mark that is lost (a crash before it is written) leaves the findings shown as judged on an older version
        of the case: to be judged again, never current when they are not."""
        if not judged:
            return
        c = t.case_findings.c
        statement = (
            update(t.case_findings)
            .where(c.case_id == bindparam("id"), c.case_version < bindparam("version"))
            .values(case_version=bindparam("version"), checked_at=bindparam("at"))
        )
        rows = [{"id": case_id, "version": version, "at": at.astimezone(UTC)} for case_id, version, at in judged]

        def work(conn: Connection) -> None:
            conn.execute(statement, rows)

        self.write(work)

    def clear_findings(self, case_id: str, case_types: Sequence[str]) -> int:
        """Remove what `case_types` found on the case (it has moved to a definition none of them describes)."""

        def work(conn: Connection) -> int:
            c = t.case_findings.c
            return int(conn.execute(
                delete(t.case_findings).where(c.case_id == case_id, c.case_type.in_(list(case_types)))
            ).rowcount)

        return self.write(work)

    def findings(
        self, *, case_id: str | None = None, min_severity: str | None = None, limit: int | None = None
    ) -> list[FindingRow]:
        """Stored findings, most severe first, then the longest-standing, each with its case as it is now (one
        statement: the case's row joined, and whether a `migrate` event follows the version judged)."""
        c = t.case_findings.c
        k = t.cases.c
        e = t.events.c
        rank = case(SEVERITY_RANK, value=c.severity, else_=len(SEVERITY_RANK))
        # An index range of uq_events_case_seq, empty for a finding judged at its case's latest version.
        migrated = exists().where(e.case_id == c.case_id, e.seq > c.case_version, e.type == "migrate")
        q = (
            select(t.case_findings, k.version.label("now_version"), k.definition_key.label("now_key"),
                   k.definition_version.label("now_definition_version"), migrated.label("migrated"))
            .outerjoin(t.cases, k.id == c.case_id)
            .order_by(rank, c.raised_at, c.case_id, c.finding_id)
        )
        if case_id is not None:
            q = q.where(c.case_id == case_id)
        if min_severity is not None:
            q = q.where(c.severity.in_([s for s, r in SEVERITY_RANK.items() if r <= SEVERITY_RANK[min_severity]]))
        if limit is not None:
            q = q.limit(limit)
        with self.read() as conn:
            return [
                FindingRow(
                    case_id=r.case_id,
                    finding_id=r.finding_id,
                    kind=r.kind,
                    severity=r.severity,
                    source=r.source,
                    message=r.message,
                    reason=r.reason,
                    action=None if r.action is None else json.loads(r.action),
                    judged_version=r.case_version,
                    model_version=r.model_version,
                    case_type=r.case_type,
                    raised_at=stored_utc(r.raised_at),
                    checked_at=stored_utc(r.checked_at),
                    case_version=r.now_version,
                    definition_key=r.now_key,
                    definition_version=r.now_definition_version,
                    migrated=bool(r.migrated),
                )
                for r in conn.execute(q)
            ]


def _action_json(finding: dict[str, Any]) -> str | None:
    action = finding.get("action")
    return None if action is None else json.dumps(action)


def _seen(action: str | None) -> str:
    """What a stored action's fill was about (`rules.Fill.seen`), "" for one that fills in no document's value."""
    from casework.engine.answers import values_seen

    return values_seen({"action": json.loads(action)}) if action else ""


def _content(finding: dict[str, Any], model_version: str, case_type: str) -> tuple[Any, ...]:
    """A finding's stored columns after its id, as a row reads them back."""
    return (finding["kind"], finding["severity"], finding["source"], finding["message"], finding["reason"],
            _action_json(finding), model_version, case_type)
