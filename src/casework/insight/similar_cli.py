"""`casework suggest similar CASE_ID`: the closed cases of its definition most like it, with how each ended, how long it
took, and what the two share.

A case is compared by its data, the reasons people gave for its changes (the notes of its audit trail), the text of
its documents, and its path so far (`casework.insight.similar`: TF-IDF by default, sentence embeddings with
`--method embeddings` and the `embeddings` extra). The closed cases an imported log stored have no data, notes or
documents: they are compared by their path alone, and who performed it (`casework.insight.similar_path`), and the
output says which matches were. Closed cases are the most recently created first, up to `--limit`, of either kind.
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
    from casework.insight.similar_path import PathResult, PathSimilarCases
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
    from casework.display import shown
    from casework.insight.flags import case_performers, plan_step_names
    from casework.insight.similar import CaseSimilarity, SimilarCases, from_state, open_case
    from casework.insight.similar_path import PathResult, PathSimilarCases, imported_case, merged
    from casework.service import CaseService
    from casework.service.errors import Corrupt, InvalidInput, NotFound
    from casework.store.cli import open_store

    if method not in ("lexical", "embeddings"):
        fail(f"--method {method!r}: choose lexical or embeddings")
    searcher: CaseSimilarity
    if method == "embeddings":
        from casework.insight.embeddings import EmbeddingSimilarCases, embeddings_available, install_hint

        if not embeddings_available():
            fail(f"--method embeddings needs the embeddings extra: {install_hint()}")
        searcher = EmbeddingSimilarCases()
    else:
        searcher = SimilarCases()
    with open_store(db, read_only="suggest similar") as store, CaseService(store) as service:
        row = store.case(case_id)
        if row is None:
            fail(f"no case {case_id}")
        try:
            state = service.state(case_id)
            _, definition = service.definition(row.definition_key, row.definition_version)
        except (NotFound, InvalidInput) as exc:
            fail(str(exc))
        # Newest first: a process changes, and its recent cases are the ones to learn from.
        listed = [c for c in store.case_listing(definition_key=row.definition_key, closed_only=True, limit=limit + 1)
                  if c.id != case_id][:limit]  # a closed case asked about is not its own match
        ended = [c.id for c in listed if c.source == "engine"]
        logged = [c for c in listed if c.source == "import"]
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
        steps = store.imported_steps([c.id for c in logged])
        history = PathSimilarCases(plan_step_names(definition)).fit(
            imported_case(c.id, c.status, steps[c.id]) for c in logged)
        # who performed each step, compared where the log names its performers
        performers = case_performers(state, store.events(case_id)) if logged else []
        unkept = reading.pending.keep(store)
    if unkept:
        typer.echo(f"note: {unkept}", err=True)
    content = searcher.fit(closed).query(query, k=k)
    by_path = history.query(query, performers, k=k) if history.matched else PathResult([], 0.0, 0)
    matches = merged(searcher, query, content, by_path, k)
    by_path_alone = len(logged) if by_path.steps else 0
    not_compared = _not_compared(history, by_path, len(logged), row.definition_key, case_id)
    if reading.by_kind:
        one = reading.by_kind == 1
        typer.echo(f"note: {reading.by_kind} document{' was' if one else 's were'} compared by "
                   f"{'its' if one else 'their'} kind alone: {'its' if one else 'their'} text is not stored yet, and "
                   f"{'it is' if one else 'they are'} larger than {DOCUMENT_BYTES // 2**20} MiB or past the "
                   f"{DOCUMENTS_SECONDS:g} s a query reads documents for", err=True)
    if as_json:
        if not_compared:
            typer.echo(f"note: {shown(not_compared)}", err=True)
        typer.echo(json.dumps({"case": case_id, "compared": len(closed) + by_path_alone,
                               "compared_by_path_alone": by_path_alone, "path_steps": by_path.steps,
                               "not_compared": not_compared, "method": method,
                               "documents_by_kind_only": reading.by_kind, "similar": [
            {"case": m.case_id, "score": m.score, "outcome": m.outcome, "duration_days": round(m.duration_days, 2),
             "path_alone": m.path_alone, "why": list(m.why)} for m in matches]}, indent=2, ensure_ascii=False))
        return
    _print(case_id, state, matches, (len(closed), by_path_alone, by_path.steps), skipped, row.definition_key,
           not_compared)



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
        from casework.insight.doctext import read_text
        from casework.insight.extraction import PDF_SECONDS

        left = self.deadline - time.monotonic()
        if row.size > DOCUMENT_BYTES or left <= 0:
            self.by_kind += 1
            return None
        try:
            text, complete = read_text(self.store.blobs, row.sha256, row.name, row.media_type, row.size,
                                       seconds=min(PDF_SECONDS, left))
        except (OSError, ValueError):
            return None  # its bytes are missing or damaged: compared by its kind
        if complete and self.pending.add(text):
            # the same bytes on another case are read once
            self.stored.setdefault(row.sha256, []).append(text)
        return text


def _not_compared(history: PathSimilarCases, by_path: PathResult, logged: int, key: str, case_id: str) -> str | None:
    """Why the imported closed cases were not compared, if they were not."""
    if not logged:
        return None
    if not history.matched:
        # Their paths and the case's have no step in common by name: a ranking would be noise.
        return (f"the {logged} imported closed cases of {key} were not compared: none of the {len(history.activities)} "
                f"activities of their log is the name of an item of {key}'s plan (a log's steps are its items by "
                "name, as `suggest case` maps a model's)")
    if not by_path.steps:
        return (f"the {logged} imported closed cases of {key} are compared by path alone, and case {case_id} has taken "
                "none of their steps yet")
    return None


def _print(
    case_id: str, state: CaseState, matches: list[Any], compared: tuple[int, int, int], skipped: int, key: str,
    not_compared: str | None,
) -> None:
    """`compared`: how many closed cases were compared by content and path, how many by path alone, and over how
    many steps."""
    from rich.console import Console
    from rich.table import Table

    from casework.display import plain, shown

    by_content, by_path, steps = compared
    total = by_content + by_path
    if skipped:
        typer.echo(f"note: {skipped} closed cases could not be read and were not compared", err=True)
    why = f": {not_compared}" if not_compared else ""
    if not total:
        # "no closed case ... is like case X (compared with 0)" read as if they had been compared and found unlike
        typer.echo(shown(f"no closed case of {key} to compare case {case_id} with{why}"))
        return
    first = "its first step" if steps == 1 else f"its first {steps} steps"
    how = f"{total}, {by_path} of them by path alone ({first})" if by_path else f"{total}"
    if not matches:
        typer.echo(shown(f"no closed case of {key} is like case {case_id} (compared with {how}){why}"))
        return
    table = Table(title=plain(f"closed cases like {case_id} ({state.status}; compared with {how})"),
                  title_justify="left")
    for column in ("case", "similarity", "compared by", "outcome", "took", "in common"):
        table.add_column(column, overflow="fold")
    for match in matches:
        table.add_row(*map(plain, (match.case_id, f"{match.score:.2f}",
                                   "path alone" if match.path_alone else "content and path", match.outcome,
                                   f"{match.duration_days:.1f} days", ", ".join(match.why))))
    Console().print(table)
    if not_compared:
        typer.echo(f"note: {shown(not_compared)}", err=True)

