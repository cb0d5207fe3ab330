"""Documents' text, extracted once and kept by the SHA-256 of their bytes (`casework.insight.doctext` extracts it);
the texts an older extractor stored are removed in batches (`prune_document_texts`)."""

from __future__ import annotations

import json
from collections.abc import Iterator, Sequence
from datetime import UTC
from typing import Any

from sqlalchemy import Connection, and_, delete, func, select, tuple_

from casework.store import schema as t
from casework.store.base import StoreBase
from casework.store.records import StoredText, stored_utc

# Texts asked for in one statement: as `latest_documents` reads documents, 500 at a time.
CHUNK = 500
# What one transaction of `prune_document_texts` removes at most: so many texts, and so many pages (unless one
# content's older texts have more). Each batch holds the write lock (SQLite) or its rows' locks (PostgreSQL) only
# while it deletes them, so that attaches, and readers storing texts, go on meanwhile.
PRUNE_TEXTS = 500
PRUNE_PAGES = 20_000


class DocumentTextsMixin(StoreBase):
    def put_document_texts(self, texts: Sequence[StoredText]) -> int:
        """Store the texts in one transaction, each with its pages; how many were new. A text already stored under
        its key (SHA-256, extractor, reading) is kept as it is: the same bytes read by the same extractor give the
        same text, so two processes that read them at once store one."""
        if not texts:
            return 0

        def work(conn: Connection) -> int:
            c = t.document_texts.c
            keys = [(text.sha256, text.extractor, text.read_as) for text in texts]
            present: set[tuple[str, int, str]] = set()
            for start in range(0, len(keys), CHUNK):
                chunk = keys[start:start + CHUNK]
                q = select(c.sha256, c.extractor, c.read_as).where(tuple_(c.sha256, c.extractor, c.read_as).in_(chunk))
                present.update((r.sha256, r.extractor, r.read_as) for r in conn.execute(q))
            new = {(text.sha256, text.extractor, text.read_as): text for text in texts
                   if (text.sha256, text.extractor, text.read_as) not in present}
            if not new:
                return 0
            # Another process may store one of them between the look above and this (PostgreSQL; SQLite's writers
            # take the lock up front): its row stands, and this one's is left out rather than failing the rest.
            conn.execute(_insert_missing(conn, t.document_texts), [_header(text) for text in new.values()])
            pages = [{"sha256": text.sha256, "extractor": text.extractor, "read_as": text.read_as, "page": number,
                      "text": page} for text in new.values() for number, page in enumerate(text.pages, start=1)]
            if pages:
                conn.execute(_insert_missing(conn, t.document_text_pages), pages)
            return len(new)

        return self.write(work)

    def document_texts(
        self, sha256s: Sequence[str], extractor: int, *, max_pages: int | None = None, max_chars: int | None = None
    ) -> dict[str, list[StoredText]]:
        """The stored texts of these contents by the given extractor, by SHA-256 (a content missing has none; one
        read both ways, as PDF and as text, has two); one statement per 500 contents for the texts and one for
        their pages. `max_pages`, `max_chars`: only the first pages, each cut to that many characters (the
        database cuts them: a reader that compares the start of every document does not fetch whole ones)."""
        c, p = t.document_texts.c, t.document_text_pages.c
        wanted = sorted(set(sha256s))
        out: dict[str, list[StoredText]] = {}
        with self.read() as conn:
            for start in range(0, len(wanted), CHUNK):
                chunk = wanted[start:start + CHUNK]
                headers = conn.execute(select(t.document_texts).where(and_(c.sha256.in_(chunk),
                                                                           c.extractor == extractor))).all()
                if not headers:
                    continue
                text = func.substr(p.text, 1, max_chars) if max_chars is not None else p.text
                q = select(p.sha256, p.read_as, p.page, text.label("text")).where(
                    and_(p.sha256.in_(chunk), p.extractor == extractor))
                if max_pages is not None:
                    q = q.where(p.page <= max_pages)
                pages: dict[tuple[str, str], list[str]] = {}
                for r in conn.execute(q.order_by(p.sha256, p.read_as, p.page)):
                    pages.setdefault((r.sha256, r.read_as), []).append(r.text)
                for r in headers:
                    out.setdefault(r.sha256, []).append(_stored(r, tuple(pages.get((r.sha256, r.read_as), ()))))
        return out

    def prune_document_texts(self, extractor: int) -> Iterator[tuple[int, int]]:
        """Remove the texts an extractor older than `extractor` stored, with their pages: a batch per transaction,
        in SHA-256 order, yielding (texts, pages) removed as each is committed. A batch takes the older texts of
        whole contents (SHA-256s), at most PRUNE_TEXTS texts and PRUNE_PAGES pages unless one content's have more.
        Those of `extractor` and of a newer one (a newer casework sharing the database) stay. A text stored while it
        runs, behind where it has got to, is left for the next run."""
        c, p = t.document_texts.c, t.document_text_pages.c
        after = ""
        while True:
            q = select(c.sha256, c.page_count).where(and_(c.sha256 > after, c.extractor < extractor))
            with self.read() as conn:
                rows = conn.execute(q.order_by(c.sha256).limit(PRUNE_TEXTS)).all()
            if not rows:
                return
            pages: dict[str, int] = {}
            for r in rows:
                pages[r.sha256] = pages.get(r.sha256, 0) + r.page_count
            if len(rows) == PRUNE_TEXTS and len(pages) > 1:
                pages.popitem()  # the last content's older texts may go on past the rows read: the next batch's
            contents: list[str] = []
            held = 0
            for sha256, count in pages.items():
                if contents and held + count > PRUNE_PAGES:
                    break
                contents.append(sha256)
                held += count

            def work(conn: Connection, contents: list[str] = contents) -> tuple[int, int]:
                gone_pages = conn.execute(delete(t.document_text_pages).where(
                    and_(p.sha256.in_(contents), p.extractor < extractor))).rowcount
                gone = conn.execute(delete(t.document_texts).where(
                    and_(c.sha256.in_(contents), c.extractor < extractor))).rowcount
                return gone, gone_pages

            yield self.write(work)
            after = contents[-1]

    def iter_document_contents(self) -> Iterator[tuple[str, str, str, int]]:
        """(SHA-256, name, media type, size) of every document version, streamed in SHA-256 order: the versions that
        share bytes come together, so a reader of every content holds one at a time."""
        d = t.documents.c
        q = select(d.sha256, d.name, d.media_type, d.size).order_by(d.sha256, d.case_id, d.name, d.version)
        with self.read() as conn:
            for r in conn.execution_options(stream_results=True, yield_per=1000).execute(q):
                yield r.sha256, r.name, r.media_type, int(r.size)


def _insert_missing(conn: Connection, table: Any) -> Any:
    """INSERT that leaves out rows whose key is already there."""
    if conn.dialect.name == "postgresql":
        from sqlalchemy.dialects.postgresql import insert as pg_insert

        return pg_insert(table).on_conflict_do_nothing()
    from sqlalchemy.dialects.sqlite import insert as sqlite_insert

    return sqlite_insert(table).on_conflict_do_nothing()


def _header(text: StoredText) -> dict[str, Any]:
    return {"sha256": text.sha256, "extractor": text.extractor, "read_as": text.read_as, "form": text.form,
            "page_count": len(text.pages), "unread_pages": text.unread_pages, "unread_reason": text.unread_reason,
            "notes": json.dumps(list(text.notes), ensure_ascii=False), "error": text.error,
            "extracted_at": text.extracted_at.astimezone(UTC)}  # SQLite keeps the wall-clock text it is given


def _stored(r: Any, pages: tuple[str, ...]) -> StoredText:
    return StoredText(sha256=r.sha256, extractor=r.extractor, read_as=r.read_as, form=r.form, pages=pages,
                      page_count=r.page_count, unread_pages=r.unread_pages, unread_reason=r.unread_reason,
                      notes=tuple(json.loads(r.notes)), error=r.error, extracted_at=stored_utc(r.extracted_at))
