"""`casework suggest intake CASE_ID --case-type T`: fields read from the case's documents by its case type's patterns
(without --case-type, those of the case type CASEWORK_CASE_TYPES names for its definition), shown with where each was
found; `--apply --as NAME` fills them in as one audited change of the case.

Without `--apply` nothing is written: the values are a proposal for a person to check against the document. With it,
the fill is `extraction.fill_command`'s `SetVariables`, whose reason names the document, page and text of every
value, so the audit trail shows where each came from. A value already entered is kept unless `--overwrite FIELD`
names it; a value the document gives differently is shown beside it for the person to decide.
"""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from casework.service.case_cli import fail
from casework.store import DEFAULT_DB, organisation_zone
from casework.store.cli import DbOption

if TYPE_CHECKING:
    from casework.insight.casetype import CaseType
    from casework.insight.doctext import Pending
    from casework.insight.extraction import DocumentText, IntakePlan
    from casework.store import Store


def suggest_intake(
    case_id: Annotated[str, typer.Argument(help="id of a stored case")],
    case_type: Annotated[
        str | None,
        typer.Option(help="a bundled case type name (e.g. insurance_claim) or a case type TOML file (default: the one "
                     "CASEWORK_CASE_TYPES names for the case's definition)"),
    ] = None,
    document: Annotated[
        list[str] | None,
        typer.Option("--document", help="read only this document (its latest version; repeatable; default: all)"),
    ] = None,
    apply: Annotated[bool, typer.Option("--apply", help="fill the fields in (needs --as); without it nothing changes")]
    = False,
    actor: Annotated[str | None, typer.Option("--as", "--actor", help="who fills them in (with --apply)")] = None,
    overwrite: Annotated[
        list[str] | None,
        typer.Option("--overwrite", help="replace this field's entered value with the document's (repeatable)"),
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="print JSON instead of tables")] = False,
    db: DbOption = DEFAULT_DB,
) -> None:
    """Read the case's documents for the fields its case type's patterns find, and show where each was found.

    Example: `casework suggest intake CASE_ID --case-type insurance_claim`, then, once checked,
    `casework suggest intake CASE_ID --case-type insurance_claim --apply --as ann`."""
    from casework.engine import CommandRejected
    from casework.insight.configured import CASE_TYPES_ENV, ConfigurationError, configured_case_types
    from casework.insight.decide_cli import case_type_or_exit, keep_findings_current
    from casework.insight.extraction import extract_fields, fill_command
    from casework.insight.watch import stored_documents
    from casework.service import CaseService
    from casework.service.errors import Conflict, InvalidInput, NotFound
    from casework.store.cli import open_store, sealable

    if apply and (actor is None or not actor.strip()):
        fail("--apply needs --as NAME: the person who fills the fields in, recorded on the audit trail")
    if actor is not None and not apply:
        fail("--as is for --apply: without it nothing is written")
    replace = [name.strip() for name in overwrite or ()]
    configured: list[CaseType] = []
    if case_type is not None:
        kind = case_type_or_exit(case_type)
        _check_case_type(kind, replace)
    else:
        try:
            configured = configured_case_types()
        except ConfigurationError as exc:
            fail(str(exc))
        if not configured:
            fail(f"give --case-type (or set {CASE_TYPES_ENV}): the case type whose patterns read the documents")
    now = dt.datetime.now(dt.UTC)
    with open_store(db, read_only=None if apply else "suggest intake") as store:
        row = store.case(case_id)
        if row is None:
            fail(f"no case {case_id}")
        if case_type is None:
            # as `suggest case` does: the installation's case type for this case's definition
            found_kind = next((k for k in configured if k.definition == row.definition_key), None)
            if found_kind is None:
                fail(f"{CASE_TYPES_ENV} has no case type for definition {row.definition_key!r}: give --case-type")
            kind = found_kind
            _check_case_type(kind, replace)
        if row.definition_key != kind.definition:
            fail(f"case type {kind.key!r} describes definition {kind.definition!r}; case {case_id} is of definition "
                  f"{row.definition_key!r}")
        if apply:
            sealable(store)
        with CaseService(store, clock=lambda: now) as service:
            try:
                state = service.state(case_id)
            except (NotFound, InvalidInput) as exc:
                fail(str(exc))
            texts, unread, pending = _read(store, case_id, kind, [name.strip() for name in document or ()])
            if unkept := pending.keep(store):
                typer.echo(f"note: {unkept}", err=True)
            attached = stored_documents(store, case_id)
            found = extract_fields(kind, texts)
            plan = fill_command(found, state.variables, actor=(actor or "").strip(), overwrite=replace)
            plan.problems[:0] = unread
            # Found as entered: nothing to do, but a person checking the case wants to know the document agrees.
            same = sorted(set(found.values) - {f.field for f in plan.filled} - {f.field for f, _ in plan.kept})
            written = ""
            if apply and plan.command is not None:
                if state.ended or state.status == "suspended":
                    fail(f"case {case_id} is {state.status}: its data cannot change now; nothing filled")
                # Filled fields are no longer missing: `suggest flags` should stop saying so.
                keep_findings_current(service, store, case_id, kind, None, organisation_zone())
                try:
                    result = service.execute(case_id, plan.command, now)
                except (CommandRejected, Conflict, NotFound, InvalidInput) as exc:
                    fail(f"nothing filled: {' '.join(str(exc).split())}")
                from casework.display import events_written

                written = events_written(result.version, [e.type for e in result.events])
    missing = _still_missing(kind, state.variables, plan, attached)
    if as_json:
        typer.echo(json.dumps(_as_dict(case_id, plan, same, missing, applied=apply, written=written), indent=2,
                              ensure_ascii=False))
        return
    _print(case_id, plan, same, missing, applied=apply, written=written)



def _check_case_type(kind: CaseType, replace: list[str]) -> None:
    """One `error:` line, exit 2, when `kind` cannot serve this intake: a field to overwrite it does not have, or no
    patterns to read documents with."""
    fields = {spec.name for spec in kind.fields} | {pattern.field for pattern in kind.patterns}
    unknown = sorted(set(replace) - fields)
    if unknown:
        fail(f"--overwrite {', '.join(unknown)}: case type {kind.key!r} has no such field (its fields: "
              f"{', '.join(sorted(fields)) or 'none'})")
    if not kind.patterns:
        fail(f"case type {kind.key!r} declares no extraction patterns: there is nothing to read documents for")


def _read(store: Store, case_id: str, kind: CaseType, names: list[str]) -> tuple[list[DocumentText], list[str],
                                                                              Pending]:
    """The latest version of each document some pattern reads (its kind is its name without the extension, as for
    the case type's required documents), and a line for each that could not be read. Its stored text, if any
    (`casework.insight.doctext`), else its bytes read now, whose text is returned to store: either way, only once
    its bytes are checked against the SHA-256 the case recorded."""
    from casework.insight.case_documents import latest_versions, read_by_patterns
    from casework.insight.doctext import Pending, choose, document_text, read_text
    from casework.insight.extraction import TEXT_VERSION, ExtractionError

    latest = latest_versions(store.documents(case_id))
    for name in names:
        if name not in latest:
            fail(f"no document {name!r} on case {case_id} (`casework case documents {case_id}` lists them)")
    chosen = read_by_patterns((latest[name] for name in (names or sorted(latest))), kind)
    stored = store.document_texts([row.sha256 for row in chosen], TEXT_VERSION)
    pending = Pending()
    texts: list[DocumentText] = []
    problems: list[str] = []
    for row in chosen:
        found = choose(stored.get(row.sha256, ()), row.name, row.media_type)
        try:
            # checks the bytes against the SHA-256 the case recorded
            if found is None:
                text, _ = read_text(store.blobs, row.sha256, row.name, row.media_type, row.size)
            else:
                store.blobs.verify(row.sha256)
                text = found
        except (OSError, ValueError) as exc:
            problems.append(f"{row.name}: its stored bytes cannot be read ({exc}); it was not searched")
            continue
        if found is None:
            pending.add(text)
            stored.setdefault(row.sha256, []).append(text)
        try:
            texts.append(document_text(text, row.name, Path(row.name).stem, row.media_type))
        except ExtractionError as exc:
            problems.append(f"{row.name}: {exc}")
    return texts, problems, pending

def _still_missing(kind: CaseType, variables: dict[str, Any], plan: IntakePlan,
                   documents: list[tuple[str, str]]) -> list[str]:
    """Required fields the case would still lack once the values found are filled in: what a person must enter by
    hand or ask for (documents missing are `suggest case`'s to flag)."""
    from casework.insight.gaps import find_gaps

    after = {**variables, **{found.field: found.value for found in plan.filled}}
    return [gap.message for gap in find_gaps(kind, after, documents) if gap.id.startswith("missing-field:")]


def _as_dict(case_id: str, plan: IntakePlan, same: list[str], missing: list[str], *, applied: bool,
             written: str) -> dict[str, Any]:
    return {
        "case": case_id,
        "fill": [{"field": f.field, "value": f.value, "document": f.document, "page": f.page, "text": f.text,
                  "context": f.context} for f in plan.filled],
        "kept": [{"field": f.field, "value": f.value, "entered": entered, "document": f.document, "page": f.page,
                  "text": f.text} for f, entered in plan.kept],
        "as_entered": same,
        "problems": plan.problems,
        "still_missing": missing,
        "applied": applied and plan.command is not None,
        "events": written,
    }


def _print(case_id: str, plan: IntakePlan, same: list[str], missing: list[str], *, applied: bool,
           written: str) -> None:
    from rich.console import Console
    from rich.table import Table

    from casework.display import plain, shown

    console = Console()
    if plan.filled or plan.kept:
        table = Table(title=plain(f"fields found in the documents of case {case_id}"), title_justify="left")
        for column in ("field", "value", "found in", "context", "then"):
            table.add_column(column, overflow="fold")
        verb = "filled in" if applied else "to fill in"
        for found in plan.filled:
            table.add_row(*map(plain, (found.field, _value(found.value), f"{found.document} p.{found.page}",
                                       found.context, verb)))
        for found, entered in plan.kept:
            table.add_row(*map(plain, (found.field, _value(found.value), f"{found.document} p.{found.page}",
                                       found.context, f"kept the entered {_value(entered)} (--overwrite "
                                                      f"{found.field} to replace it)")))
        console.print(table)
    elif not same:
        typer.echo("no field was found in the documents read")
    if same:
        typer.echo(shown(f"as entered: {', '.join(same)} (the documents give the values the case holds)"))
    for problem in plan.problems:
        typer.echo(shown(f"note: {problem}"))
    for message in missing:
        typer.echo(shown(f"still missing: {message}"))
    fields = f"{len(plan.filled)} field{'' if len(plan.filled) == 1 else 's'}"
    if applied and written:
        typer.echo(shown(f"filled {fields} of case {case_id} ({written})"))
    elif plan.filled and not applied:
        typer.echo(f"nothing changed: check the values against the documents, then run again with --apply --as NAME "
                   f"to fill {fields} in")


def _value(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False)
