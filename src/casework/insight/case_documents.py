"""A case's documents as decision support reads them: the latest version of each, and the values the case type's
patterns find in their stored text (`casework.insight.doctext` stores it when a document is attached)."""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from casework.insight.casetype import CaseType
    from casework.insight.extraction import ExtractionResult
    from casework.store import Store
    from casework.store.records import DocumentRow


def latest_versions(rows: Iterable[DocumentRow]) -> dict[str, DocumentRow]:
    """Each document's latest version, by name, from rows listed by name and version (`Store.documents`)."""
    latest: dict[str, DocumentRow] = {}
    for row in rows:
        latest[row.name] = row  # the last is the latest
    return latest


def read_by_patterns(rows: Iterable[DocumentRow], kind: CaseType) -> list[DocumentRow]:
    """The documents some pattern of the case type reads: a document is the kind its file is named after."""
    return [row for row in rows if any(pattern.applies_to(Path(row.name).stem) for pattern in kind.patterns)]


def stored_values(store: Store, case_id: str, kind: CaseType) -> ExtractionResult | None:
    """What the case type's patterns find in the stored text of the case's documents; None if it declares none.

    Only stored texts are read, so that judging a case after each change reads no document's bytes: a document
    whose text is not stored (attached before texts were stored: `casework suggest index-documents`; larger than
    `doctext.INDEX_BYTES`) or cannot be read gives nothing here, and `casework suggest intake` says why."""
    if not kind.patterns:
        return None
    from casework.insight.doctext import choose, document_text
    from casework.insight.extraction import TEXT_VERSION, ExtractionError, extract_fields

    chosen = read_by_patterns(sorted(latest_versions(store.documents(case_id)).values(), key=lambda r: r.name), kind)
    stored = store.document_texts([row.sha256 for row in chosen], TEXT_VERSION)
    texts = []
    for row in chosen:
        text = choose(stored.get(row.sha256, ()), row.name, row.media_type)
        if text is None:
            continue
        try:
            texts.append(document_text(text, row.name, Path(row.name).stem, row.media_type))
        except ExtractionError:
            continue
    return extract_fields(kind, texts)
