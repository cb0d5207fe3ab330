"""Documents' text, extracted once and stored (`Store.put_document_texts`) instead of read from the blob by every
query: `suggest similar` compared the documents of every closed case on every query, and `suggest intake` read a
case's documents again each time.

A text is kept by the SHA-256 of the bytes (the same bytes on any case, under any name, are read once) and by the
extractor's version (`extraction.TEXT_VERSION`). What is stored is what `extraction.read_content` gives with its
default limits (the 500 pages and 30 s intake reads a PDF for), or the `ExtractionError` that says why the bytes
cannot be read: a reader shows the same pages, notes and problems whether the text was stored or read now. Only
`read_document`'s note that a file named as a PDF is none depends on the name; it is added when the text is used
(`as_document`). The few bytes whose very reading depends on the name (no PDF signature, PDF objects inside: read as
a PDF if named one, else as text) are stored once per reading (`read_as`).

Texts are extracted when a document is attached (`CaseService.add_document`, after the attach is durable), by
`casework suggest index-documents` for documents attached before, and by a reader that finds none (then stored, so
that the next query finds it); all through `read_text`.

A document larger than INDEX_BYTES is never in memory whole. A text file's text is that of its first bytes
(`extraction.TEXT_HEAD_BYTES`, enough for the MAX_TEXT_CHARS characters kept: the text reading it whole gives), read
from a stream that checks the SHA-256 on the way. A PDF cannot be read so (pypdf holds all its bytes): it is stored as
unreadable with that reason, as an encrypted one is, so that a reader says why instead of reading it again on every
query. A text keeps the INDEX_BYTES it was stored under: raise TEXT_VERSION with it, so that the PDFs stored as too
large are read again.

`casework suggest index-documents --prune` removes the texts an older extractor stored
(`Store.prune_document_texts`). Nothing removes a document or its bytes (the documents are the cases' record, and
their events are append-only), so no text outlives the bytes it was read from.
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from casework.insight.extraction import (
    PDF_HEADER_WINDOW,
    PDF_OBJECT_MARKERS,
    PDF_SECONDS,
    PDF_SIGNATURE,
    TEXT_HEAD_BYTES,
    TEXT_VERSION,
    ContentText,
    DocumentText,
    ExtractionError,
    as_document,
    has_pdf_objects,
    read_content,
    reads_as_pdf,
    said_pdf,
)
from casework.store.blobs import limit_text
from casework.store.records import StoredText

if TYPE_CHECKING:
    from casework.store import Store
    from casework.store.blobs import BlobStore
    from casework.store.records import DocumentRow

logger = logging.getLogger(__name__)

# The largest document read with all its bytes in memory: an attach keeps a document of any size in bounded memory
# (`BlobStore.put_stream`), and so does reading a larger one for its text (`read_text`). CASEWORK_MAX_DOCUMENT_MB
# allows 50 MiB by default; a deployment that raises it has larger ones.
INDEX_BYTES = 64 * 1024 * 1024


def read_as(data: bytes, said: bool) -> str:
    """The reading the text of these bytes is stored under: "any" unless the name decides whether they are read as
    a PDF (`extraction.reads_as_pdf`), then as it decided."""
    if reads_as_pdf(data, True) == reads_as_pdf(data, False):
        return "any"
    return "pdf" if said else "text"


def choose(texts: Iterable[StoredText], name: str, media_type: str | None) -> StoredText | None:
    """The stored text that `read_document` would give for a document of this name and media type, if stored."""
    found = {text.read_as: text for text in texts}
    return found.get("any") or found.get("pdf" if said_pdf(name, media_type) else "text")


def extract(sha256: str, data: bytes, name: str, media_type: str | None, *,
            seconds: float | None = None) -> tuple[StoredText, bool]:
    """The text of these bytes (whose SHA-256 the caller checked) as stored, and whether it may be stored: not if
    `seconds` (less than the PDF_SECONDS a stored text is read for) stopped the reading, since that text is shorter
    than the stored one would be."""
    said = said_pdf(name, media_type)
    how = read_as(data, said)
    now = dt.datetime.now(dt.UTC)
    try:
        content = read_content(data, reads_as_pdf(data, said), seconds=seconds)
    except ExtractionError as exc:
        return StoredText(sha256, TEXT_VERSION, how, "", (), 0, 0, "", (), str(exc), now), True
    complete = not content.timed_out or seconds is None or seconds >= PDF_SECONDS
    return StoredText(sha256, TEXT_VERSION, how, content.form, content.pages, len(content.pages),
                      content.unread_pages, content.unread_reason, content.notes, None, now), complete


def read_text(blobs: BlobStore, sha256: str, name: str, media_type: str | None, size: int, *,
              seconds: float | None = None) -> tuple[StoredText, bool]:
    """`extract` of the document's bytes, read from the blob store: whole up to INDEX_BYTES, else from a stream (see
    the module's docstring). Raises what reading the blob raises (`OSError`, `ValueError` for bytes that no longer
    match their SHA-256)."""
    if size <= INDEX_BYTES:
        return extract(sha256, blobs.get(sha256), name, media_type, seconds=seconds)
    return _too_large_to_hold(blobs, sha256, name, media_type), True


def too_large_reason() -> str:
    """Why the text of a PDF larger than INDEX_BYTES is not read."""
    return (f"cannot read PDF: it is larger than {limit_text(INDEX_BYTES)}, the most of a PDF that is read (a PDF is "
            "read with all its bytes in memory): enter its fields by hand, or attach a smaller copy")


def _too_large_to_hold(blobs: BlobStore, sha256: str, name: str, media_type: str | None) -> StoredText:
    """`extract` of bytes too large to hold whole, read a chunk at a time: the first TEXT_HEAD_BYTES + 1 (all a text
    file's text is read from), and whether a PDF object's marker is anywhere in them (all `reads_as_pdf` looks at past
    the signature)."""
    head = bytearray()
    objects = False
    overlap = max(map(len, PDF_OBJECT_MARKERS)) - 1  # a marker may straddle two chunks
    tail = b""
    for chunk in blobs.chunks(sha256):
        if len(head) <= TEXT_HEAD_BYTES:
            head += chunk[:TEXT_HEAD_BYTES + 1 - len(head)]
        objects = objects or has_pdf_objects(tail + chunk[:overlap]) or has_pdf_objects(chunk)
        tail = (tail + chunk[-overlap:])[-overlap:]
    data = bytes(head)
    del head  # 8 MB that reading the text would hold twice
    said = said_pdf(name, media_type)
    signature = PDF_SIGNATURE in data[:PDF_HEADER_WINDOW]
    # as `read_as` and `reads_as_pdf` decide on the whole bytes
    how = "any" if signature or not objects else "pdf" if said else "text"
    now = dt.datetime.now(dt.UTC)
    if signature or (said and objects):
        return StoredText(sha256, TEXT_VERSION, how, "", (), 0, 0, "", (), too_large_reason(), now)
    try:
        content = read_content(data, False)
    except ExtractionError as exc:
        return StoredText(sha256, TEXT_VERSION, how, "", (), 0, 0, "", (), str(exc), now)
    return StoredText(sha256, TEXT_VERSION, how, content.form, content.pages, len(content.pages),
                      content.unread_pages, content.unread_reason, content.notes, None, now)


def document_text(text: StoredText, name: str, kind: str, media_type: str | None) -> DocumentText:
    """The document's text as `read_document` gives it; `ExtractionError` with the stored reason if it could not be
    read."""
    if text.error is not None:
        raise ExtractionError(text.error)
    content = ContentText(text.form, text.pages, text.unread_pages, text.unread_reason, text.notes)
    return as_document(content, name, kind, said_pdf(name, media_type))


def index_document(store: Store, row: DocumentRow) -> StoredText:
    """Extract and store the text of the document's bytes unless it is stored (for any document holding them):
    what is stored for them. Raises what reading the blob raises (`read_text`)."""
    stored = choose(store.document_texts([row.sha256], TEXT_VERSION).get(row.sha256, ()), row.name, row.media_type)
    if stored is not None:
        return stored
    text, _ = read_text(store.blobs, row.sha256, row.name, row.media_type, row.size)
    store.put_document_texts([text])
    return text


def index_attached(store: Store, row: DocumentRow) -> None:
    """`index_document` for a document just attached, which must never fail the attach: the bytes and the event are
    what the person asked to store, and stand. A failure is logged, and the text is read when a reader needs it."""
    try:
        index_document(store, row)
    except Exception:
        logger.warning("casework: the text of document %r of case %s (%s) was not stored; it is read when needed",
                       row.name, row.case_id, row.sha256, exc_info=True)


# Characters of texts a reader holds to store once it is done: past them, it reads on without keeping what it reads
# (a later query reads those documents again), so that a query over many large texts holds a bounded amount.
PENDING_CHARS = 50_000_000


@dataclass
class Pending:
    """Texts a command that opened the store read-only extracted, to store once it is done (`keep`)."""

    texts: list[StoredText] = field(default_factory=list)
    chars: int = 0

    def add(self, text: StoredText) -> bool:
        """Keep the text to store; False if the texts kept already hold PENDING_CHARS characters."""
        size = sum(map(len, text.pages))
        if self.chars + size > PENDING_CHARS:
            return False
        self.texts.append(text)
        self.chars += size
        return True

    def keep(self, store: Store) -> str | None:
        """Store the texts through a writer of the store's database; None once stored, else why they were not (a
        line to show: the next query reads those documents again). Not written: a database the URL opens read-only
        (`mode=ro`, `immutable=1`), and a SQLite file not in WAL mode (a copy the sqlite3 shell's `.backup` made,
        perhaps kept as evidence), which a writer would switch to WAL, rewriting its header."""
        if not self.texts:
            return None
        if not store.read_only:
            store.put_document_texts(self.texts)
            self.texts.clear()
            self.chars = 0
            return None
        why = _not_writable(store)
        if why is None:
            from casework.store import Store as Opened

            try:
                with Opened.open(store.url) as writer:
                    writer.put_document_texts(self.texts)
            except Exception as exc:  # the database or its folder cannot be written now; the answer stands
                why = f"{type(exc).__name__}: {str(exc).splitlines()[0] if str(exc) else ''}".rstrip(": ")
        if why is None:
            self.texts.clear()
            self.chars = 0
            return None
        return (f"the text of {len(self.texts)} documents read now was not stored ({why}): the next query reads "
                "them again")


def _not_writable(store: Store) -> str | None:
    from casework.store.url import parse_url

    parsed = parse_url(store.url)
    if parsed.get_backend_name() != "sqlite":
        return None
    if parsed.query.get("mode") == "ro" or parsed.query.get("immutable") == "1":
        return "the database URL opens it read-only"
    with store.read() as conn:
        mode = str(conn.exec_driver_sql("PRAGMA journal_mode").scalar() or "").lower()
    return None if mode == "wal" else f"the database file is in {mode} journal mode, and is left as it is"

