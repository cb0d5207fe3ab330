"""Jobs: timers, SLA deadlines, automated tasks and outbox deliveries that workers claim and run."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import Connection, and_, insert, or_, select, update

from casework.store import schema as t
from casework.store.base import StoreBase
from casework.store.records import JobRow, as_utc, stored_utc


class JobsMixin(StoreBase):
    def jobs(self, *, case_id: str | None = None, kind: str | None = None) -> list[JobRow]:
        q = select(t.jobs).order_by(t.jobs.c.due_at, t.jobs.c.id)
        q = q.where(t.jobs.c.case_id == case_id) if case_id is not None else q
        q = q.where(t.jobs.c.kind == kind) if kind is not None else q
        with self.read() as conn:
            return [_job(r) for r in conn.execute(q)]

    def add_job(self, kind: str, case_id: str | None, ref: str, due_at: datetime, payload: dict[str, Any]) -> int:
        def work(conn: Connection) -> int:
            res = conn.execute(
                insert(t.jobs)
                .values(
                    kind=kind,
                    case_id=case_id,
                    ref=ref,
                    due_at=due_at.astimezone(UTC),  # stored as UTC text on SQLite: see claim_jobs
                    payload=json.dumps(payload),
                    attempts=0,
                    created_at=datetime.now(UTC),
                )
                .returning(t.jobs.c.id)
            )
            return int(res.scalar_one())

        return self.write(work)

    def claim_jobs(
        self, worker: str, now: datetime, *, limit: int = 10, lease: timedelta = timedelta(seconds=60)
    ) -> list[JobRow]:
        """Claim due jobs that nobody holds (or whose lease ran out); each job goes to exactly one worker."""
        now = now.astimezone(UTC)  # SQLite compares the stored UTC text: a time in another zone would be misread
        free = or_(t.jobs.c.claimed_until.is_(None), t.jobs.c.claimed_until < now)
        due = and_(t.jobs.c.due_at <= now, free)
        until = now + lease

        def work(conn: Connection) -> list[JobRow]:
            if conn.dialect.name == "postgresql":
                ids = list(
                    conn.execute(
                        select(t.jobs.c.id)
                        .where(due)
                        .order_by(t.jobs.c.due_at)
                        .limit(limit)
                        .with_for_update(skip_locked=True)
                    ).scalars()
                )
                if not ids:
                    return []
                conn.execute(
                    update(t.jobs)
                    .where(t.jobs.c.id.in_(ids))
                    .values(claimed_by=worker, claimed_until=until, attempts=t.jobs.c.attempts + 1)
                )
            else:
                # SQLite has one writer at a time: the conditional UPDATE (still free?) is the claim.
                candidates = list(
                    conn.execute(select(t.jobs.c.id).where(due).order_by(t.jobs.c.due_at).limit(limit)).scalars()
                )
                ids = []
                for job_id in candidates:
                    res = conn.execute(
                        update(t.jobs)
                        .where(and_(t.jobs.c.id == job_id, free))
                        .values(claimed_by=worker, claimed_until=until, attempts=t.jobs.c.attempts + 1)
                    )
                    if res.rowcount == 1:
                        ids.append(job_id)
                if not ids:
                    return []
            return [_job(r) for r in conn.execute(select(t.jobs).where(t.jobs.c.id.in_(ids)).order_by(t.jobs.c.id))]

        return self.write(work)

    def finish_job(self, job_id: int, worker: str) -> bool:
        """Delete a job this worker holds; False if the claim was lost (lease ran out and someone else took it)."""

        def work(conn: Connection) -> bool:
            res = conn.execute(
                t.jobs.delete().where(and_(t.jobs.c.id == job_id, t.jobs.c.claimed_by == worker))
            )
            return bool(res.rowcount == 1)

        return self.write(work)

    def release_job(self, job_id: int, worker: str, retry_at: datetime) -> None:
        def work(conn: Connection) -> None:
            conn.execute(
                update(t.jobs)
                .where(and_(t.jobs.c.id == job_id, t.jobs.c.claimed_by == worker))
                .values(claimed_by=None, claimed_until=None, due_at=retry_at)
            )

        self.write(work)



def _job(r: Any) -> JobRow:
    return JobRow(
        id=r.id,
        kind=r.kind,
        case_id=r.case_id,
        ref=r.ref,
        due_at=stored_utc(r.due_at),
        payload=json.loads(r.payload),
        attempts=r.attempts,
        claimed_by=r.claimed_by,
        claimed_until=as_utc(r.claimed_until),
    )
