"""Case documents: metadata in the database, bytes in the content-addressed blob folder."""

from __future__ import annotations

import uuid
from collections.abc import Iterator, Sequence
from datetime import UTC, datetime
from typing import Any, BinaryIO

from sqlalchemy import Connection, and_, func, insert, select

from casework.names import typed, unreadable
from casework.store import schema as t
from casework.store.base import StoreBase
from casework.store.records import DocumentRow, stored_utc
from casework.store.storable import ACTOR, DOCUMENT_NAME, MEDIA_TYPE, NotStorable, check_text


class DocumentsMixin(StoreBase):
    def add_document(
        self, case_id: str, name: str, content: bytes | BinaryIO, *, media_type: str, created_by: str, now: datetime
    ) -> DocumentRow:
        """Store the bytes (content-addressed, outside the database), then the metadata as the next version.
        `NotStorable` (nothing stored) for a name, media type or author the database cannot hold. `content`: the
        bytes or a file object opened in binary mode, streamed (`BlobStore.put_content`; `NotBytes` for others).

        The row alone, with no event in the case's log: `CaseService.add_document` is the audited way to attach."""
        check_text(name, "document name", DOCUMENT_NAME)
        check_text(media_type, "media type", MEDIA_TYPE)
        check_text(created_by, "author", ACTOR)
        # Kept as `CaseService.add_document` keeps it, so that the two count the name's versions alike.
        if problem := unreadable(name, "the document name"):
            raise NotStorable(problem)
        name = typed(name)
        digest, size = self.blobs.put_content(content)

        def work(conn: Connection) -> DocumentRow:
            if conn.execute(select(t.cases.c.id).where(t.cases.c.id == case_id)).first() is None:
                raise KeyError(f"no case {case_id}")
            current = conn.execute(
                select(func.max(t.documents.c.version)).where(
                    and_(t.documents.c.case_id == case_id, t.documents.c.name == name)
                )
            ).scalar()
            row = DocumentRow(
                id=uuid.uuid4().hex,
                case_id=case_id,
                name=name,
                version=int(current or 0) + 1,
                media_type=media_type,
                sha256=digest,
                size=size,
                created_by=created_by,
                created_at=now.astimezone(UTC),  # SQLite keeps the wall-clock text it is given
            )
            conn.execute(insert(t.documents).values(**row.__dict__))
            return row

        return self.write(work)

    def latest_document_version(self, case_id: str, name: str) -> int:
        """The highest stored version of the case's document `name` (0: none)."""
        with self.read() as conn:
            latest = conn.execute(
                select(func.max(t.documents.c.version)).where(
                    and_(t.documents.c.case_id == case_id, t.documents.c.name == name)
                )
            ).scalar()
        return int(latest or 0)

    def latest_documents(self, case_ids: Sequence[str]) -> dict[str, list[DocumentRow]]:
        """The latest version of each document of each case, by name; one statement per 500 cases."""
        d = t.documents.c
        out: dict[str, dict[str, DocumentRow]] = {case_id: {} for case_id in case_ids}
        with self.read() as conn:
            for start in range(0, len(case_ids), 500):
                q = select(t.documents).where(d.case_id.in_(list(case_ids[start:start + 500])))
                for r in conn.execute(q.order_by(d.case_id, d.name, d.version)):
                    out[r.case_id][r.name] = _row(r)  # ordered by version: the last one stays
        return {case_id: list(rows.values()) for case_id, rows in out.items()}

    def documents(self, case_id: str | None = None) -> list[DocumentRow]:
        return list(self.iter_documents(case_id))

    def iter_documents(self, case_id: str | None = None) -> Iterator[DocumentRow]:
        """The document rows by case, name and version, streamed (an export reads every case's)."""
        q = select(t.documents).order_by(t.documents.c.case_id, t.documents.c.name, t.documents.c.version)
        q = q.where(t.documents.c.case_id == case_id) if case_id is not None else q
        with self.read() as conn:
            result = conn.execution_options(stream_results=True, yield_per=1000).execute(q)
            for r in result:
                yield _row(r)


def _row(r: Any) -> DocumentRow:
    return DocumentRow(
        id=r.id,
        case_id=r.case_id,
        name=r.name,
        version=r.version,
        media_type=r.media_type,
        sha256=r.sha256,
        size=r.size,
        created_by=r.created_by,
        created_at=stored_utc(r.created_at),
    )
