"""`casework suggest index-documents`: extract and store the text of every document whose text is not stored yet
(attached before texts were stored, or by `Store.add_document`), so that `suggest similar` and `suggest intake` read
it from the store. Safe to run again: a text stored is not read again. `--prune` then removes the texts an older
extractor stored (`extraction.TEXT_VERSION` raised), which no reader uses."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Annotated

import typer

from casework.store import DEFAULT_DB
from casework.store.cli import DbOption

if TYPE_CHECKING:
    from casework.store import Store
    from casework.store.records import StoredText

# Characters of new texts held before they are stored: a batch of contents can hold 2 million characters each.
FLUSH_CHARS = 8_000_000
BATCH = 500


@dataclass
class Counts:
    extracted: int = 0
    stored: int = 0  # already stored
    unreadable: Counter[str] = field(default_factory=Counter)  # reasons
    missing: list[str] = field(default_factory=list)  # lines: bytes missing or damaged
    # the texts this run stored of the content being read (contents come in SHA-256 order)
    new: set[tuple[str, str]] = field(default_factory=set)


def suggest_index_documents(
    db: DbOption = DEFAULT_DB,
    prune: Annotated[bool, typer.Option(
        "--prune", help="then remove the texts an older extractor stored, a batch per transaction")] = False,
) -> None:
    """Store the text of every document whose text is not stored yet, or why it cannot be read.

    `suggest similar` and `suggest intake` read it from the store. Run it once after upgrading, or any time: what
    is stored is not read again. With `--prune` (after an upgrade whose extractor reads documents differently), the
    texts of the older extractor are removed once the new ones are stored; those of the current one stay.

    Example: `casework suggest index-documents --prune`."""
    from casework.store.cli import open_store

    with open_store(db) as store:
        counts = index_documents(store)
        for line in counts.missing:
            typer.echo(f"warning: {line}", err=True)
        typer.echo(f"index-documents: {counts.extracted} texts extracted, {counts.stored} already stored, "
                   f"{sum(counts.unreadable.values())} unreadable (stored with the reason), {len(counts.missing)} "
                   "whose bytes are missing or damaged (the same bytes on several documents count once)")
        for reason, count in counts.unreadable.most_common():
            typer.echo(f"  {count} unreadable: {reason}")
        if prune:
            _prune(store)


def _prune(store: Store) -> None:
    from casework.display import counted
    from casework.insight.extraction import TEXT_VERSION

    texts = pages = batches = 0
    for gone, gone_pages in store.prune_document_texts(TEXT_VERSION):
        texts, pages, batches = texts + gone, pages + gone_pages, batches + 1
    if not texts:
        typer.echo(f"prune: no text of an extractor older than version {TEXT_VERSION} is stored")
        return
    typer.echo(f"prune: {counted(texts, 'text')} of an extractor older than version {TEXT_VERSION} removed, with "
               f"their {counted(pages, 'page')}, in {counted(batches, 'transaction')}")


def index_documents(store: Store) -> Counts:
    """Extract and store the texts not stored yet, each content (SHA-256 and reading) once; what was done."""
    counts = Counts()
    batch: list[tuple[str, str, str, int]] = []
    last: tuple[str, bool] | None = None
    from casework.insight.extraction import said_pdf

    for sha256, name, media_type, size in store.iter_document_contents():
        key = (sha256, said_pdf(name, media_type))
        if key == last:
            continue  # the same bytes, named alike, on another document or version: one content
        last = key
        batch.append((sha256, name, media_type, size))
        if len(batch) >= BATCH:
            _index(store, batch, counts)
            batch = []
    _index(store, batch, counts)
    return counts


def _index(store: Store, batch: list[tuple[str, str, str, int]], counts: Counts) -> None:
    from casework.insight.doctext import choose, read_text
    from casework.insight.extraction import TEXT_VERSION

    stored = store.document_texts([sha256 for sha256, *_ in batch], TEXT_VERSION, max_pages=0)
    new: list[StoredText] = []
    held = 0
    for sha256, name, media_type, size in batch:
        found = choose(stored.get(sha256, ()), name, media_type)
        if found is not None:
            # stored before this run; one stored by it is the same bytes read the same way, counted already
            counts.stored += (sha256, found.read_as) not in counts.new
            continue
        try:
            text, _ = read_text(store.blobs, sha256, name, media_type, size)
        except (OSError, ValueError) as exc:
            counts.missing.append(f"the bytes of {name!r} ({sha256}) cannot be read: {exc}")
            continue
        new.append(text)
        stored.setdefault(sha256, []).append(text)
        counts.new = {key for key in counts.new if key[0] == sha256} | {(sha256, text.read_as)}
        if text.error is not None:
            counts.unreadable[text.error] += 1
        else:
            counts.extracted += 1
        held += sum(map(len, text.pages))
        if held > FLUSH_CHARS:
            store.put_document_texts(new)
            new, held = [], 0
    store.put_document_texts(new)
