"""`casework suggest similar CASE_ID`: the closed cases of its definition most like it, with how each ended, how long it
took, and what the two share.

A case is compared by its data, the reasons people gave for its changes (the notes of its audit trail), the text of
its documents, and its path so far (`casework.insight.similar`: TF-IDF by default, sentence embeddings with
`--method embeddings` and the `embeddings` extra). Closed cases are those run by casework (an imported log's cases
have no data, notes or documents to compare), the most recently created first up to `--limit`.
"""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from casework.service.case_cli import fail
from casework.store import DEFAULT_DB
from casework.store.cli import DbOption

if TYPE_CHECKING:
    from casework.engine import CaseState
    from casework.store import Store
    from casework.store.records import DocumentRow, StoredText

# How much of the documents counts: the start of what a letter or a form is about, not a whole upload. Documents'
# text is stored (`casework.insight.doctext`); one whose text is not stored yet (attached before texts were, or by
# `Store.add_document`) is read once, stored, and read from the store after. Reading them is bounded for the whole
# query, so that one slow or hostile PDF on a closed case cannot slow a query much: past the budget, or past the
# size, a document not stored yet is compared by its kind alone (and read by a later query).
DOCUMENT_CHARS = 20_000
DOCUMENT_PAGES = 5
DOCUMENT_BYTES = 5 * 1024 * 1024
DOCUMENTS_SECONDS = 20.0


def suggest_similar(
    case_id: Annotated[str, typer.Argument(help="id of a stored case")],
    k: Annotated[int, typer.Option(min=1, max=100, help="how many similar cases")] = 5,
    method: Annotated[str, typer.Option(help="lexical (TF-IDF, the default) or embeddings (the embeddings extra)")]
    = "lexical",
    limit: Annotated[int, typer.Option(min=1, help="compare with at most this many closed cases, the newest")] = 5000,
    as_json: Annotated[bool, typer.Option("--json", help="print JSON instead of a table")] = False,
    db: DbOption = DEFAULT_DB,
) -> None:
    """The closed cases most like this one: how each ended, how long it took, and what the two have in common.

    Example: `casework suggest similar claim-2002 --k 3`."""
    from casework.insight.similar import CaseSimilarity, SimilarCases, from_state, open_case
    from casework.service import CaseService
    from casework.service.errors import Corrupt, InvalidInput, NotFound
    from casework.store.cli import open_store

    if method not in ("lexical", "embeddings"):
        fail(f"--method {method!r}: choose lexical or embeddings")
    searcher: CaseSimilarity
    if method == "embeddings":
        from casework.insight.embeddings import EmbeddingSimilarCases, embeddings_available

        if not embeddings_available():
            fail("--method embeddings needs the embeddings extra: pip install torch==2.13.0 && pip install "
                  "'casework[embeddings]'")
        searcher = EmbeddingSimilarCases()
    else:
        searcher = SimilarCases()
    with open_store(db, read_only="suggest similar") as store, CaseService(store) as service:
        row = store.case(case_id)
        if row is None:
            fail(f"no case {case_id}")
        try:
            state = service.state(case_id)
        except (NotFound, InvalidInput) as exc:
            fail(str(exc))
        # Newest first: a process changes, and its recent cases are the ones to learn from.
        ended = [listed.id for listed in store.case_listing(definition_key=row.definition_key, closed_only=True,
                                                            engine_only=True, limit=limit + 1)
                 if listed.id != case_id][:limit]  # a closed case asked about is not its own match
        notes = store.reasons([case_id, *ended])
        documents = store.latest_documents([case_id, *ended])
        reading = _Reading(store, documents)
        query = open_case(state, notes=notes[case_id], documents=reading.texts(documents[case_id]))
        closed = []
        skipped = 0
        for cid in ended:
            try:
                closed_state = service.state(cid)
            except (NotFound, InvalidInput, Corrupt):
                skipped += 1  # one damaged case must not stop the comparison with the others
                continue
            closed.append(from_state(closed_state, notes=notes[cid], documents=reading.texts(documents[cid]),
                                     outcome=_outcome(closed_state)))
        # the closed cases an imported log stored under this key, which are not compared
        imported = 0 if closed else store.open_and_closed(row.definition_key)[1] - state.ended - skipped
        unkept = reading.pending.keep(store)
    if unkept:
        typer.echo(f"note: {unkept}", err=True)
    matches = searcher.fit(closed).query(query, k=k)
    if reading.by_kind:
        typer.echo(f"note: {reading.by_kind} documents were compared by their kind alone: their text is not stored "
                   f"yet, and they are larger than {DOCUMENT_BYTES // 2**20} MiB or past the {DOCUMENTS_SECONDS:g} s a "
                   "query reads documents for", err=True)
    if as_json:
        typer.echo(json.dumps({"case": case_id, "compared": len(closed), "method": method,
                               "documents_by_kind_only": reading.by_kind, "similar": [
            {"case": m.case_id, "score": m.score, "outcome": m.outcome, "duration_days": round(m.duration_days, 2),
             "why": list(m.why)} for m in matches]}, indent=2, ensure_ascii=False))
        return
    _print(case_id, state, matches, len(closed), skipped, row.definition_key, imported)



def _outcome(state: CaseState) -> str:
    """How the case ended: its status, and the last step it took (which of the ways out it went)."""
    from casework.insight.flags import case_path

    steps, _ = case_path(state)
    return f"{state.status} after {steps[-1]}" if steps else state.status


class _Reading:
    """The documents' text: stored, else read within DOCUMENTS_SECONDS for the whole query (and kept to store);
    counts what was compared by kind."""

    def __init__(self, store: Store, documents: dict[str, list[DocumentRow]]) -> None:
        from casework.insight.doctext import Pending
        from casework.insight.extraction import TEXT_VERSION

        self.store = store
        # Only the start of each, cut by the database: whole texts of thousands of cases would not fit in memory.
        self.stored = store.document_texts([row.sha256 for rows in documents.values() for row in rows], TEXT_VERSION,
                                           max_pages=DOCUMENT_PAGES, max_chars=DOCUMENT_CHARS)
        self.pending = Pending()
        self.deadline = time.monotonic() + DOCUMENTS_SECONDS
        self.by_kind = 0

    def texts(self, rows: list[DocumentRow]) -> list[str]:
        """The kind and the start of the text of each document; one that cannot be read (or not now) by its kind."""
        from casework.insight.doctext import choose

        texts = []
        for row in rows:
            kind = Path(row.name).stem
            stored = choose(self.stored.get(row.sha256, ()), row.name, row.media_type)
            if stored is None:
                stored = self._read(row)
            # damaged or unreadable: its kind still says what it is
            text = "" if stored is None or stored.error else "\n".join(stored.pages[:DOCUMENT_PAGES])[:DOCUMENT_CHARS]
            texts.append(f"{kind.replace('_', ' ')}\n{text}")
        return texts

    def _read(self, row: DocumentRow) -> StoredText | None:
        """The text of a document not stored yet, read now if the budget allows (and kept to store)."""
        from casework.insight.doctext import extract
        from casework.insight.extraction import PDF_SECONDS

        left = self.deadline - time.monotonic()
        if row.size > DOCUMENT_BYTES or left <= 0:
            self.by_kind += 1
            return None
        try:
            data = self.store.blobs.get(row.sha256)
        except (OSError, ValueError):
            return None  # its bytes are missing or damaged: compared by its kind
        text, complete = extract(row.sha256, data, row.name, row.media_type, seconds=min(PDF_SECONDS, left))
        if complete and self.pending.add(text):
            # the same bytes on another case are read once
            self.stored.setdefault(row.sha256, []).append(text)
        return text


def _print(
    case_id: str, state: CaseState, matches: list[Any], compared: int, skipped: int, key: str, imported: int
) -> None:
    from rich.console import Console
    from rich.table import Table

    from casework.display import plain, shown

    if skipped:
        typer.echo(f"note: {skipped} closed cases could not be read and were not compared", err=True)
    if not compared:
        # "no closed case ... is like case X (compared with 0)" read as if they had been compared and found unlike
        why = (f": the {imported} closed cases of {key} were imported from a log, and have no data, notes or documents "
               "to compare" if imported > 0 else "")
        typer.echo(shown(f"no closed case of {key} to compare case {case_id} with{why}"))
        return
    if not matches:
        typer.echo(shown(f"no closed case of {key} is like case {case_id} (compared with {compared})"))
        return
    table = Table(title=plain(f"closed cases like {case_id} ({state.status}; compared with {compared})"),
                  title_justify="left")
    for column in ("case", "similarity", "outcome", "took", "in common"):
        table.add_column(column, overflow="fold")
    for match in matches:
        table.add_row(*map(plain, (match.case_id, f"{match.score:.2f}", match.outcome,
                                   f"{match.duration_days:.1f} days", ", ".join(match.why))))
    Console().print(table)

