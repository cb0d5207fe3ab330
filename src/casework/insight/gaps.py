"""Missing information: case data and documents that a case type requires and the case lacks.

A field is a gap when it is absent, empty (``None``, blank text, an empty list) or of the wrong type; a document is
a gap when no attached document has its kind. Requirements with a ``when`` condition count only while that condition
holds; a condition that cannot be evaluated yet (it reads data the case does not have, or data of the wrong type
in a declared field) does not require anything, because the data it reads is itself reported. One that fails
otherwise (a division by zero, text compared with a number in a field the case type does not declare) is a warning,
``requirement-error:field:NAME`` or ``requirement-error:document:KIND``, instead of a requirement that silently
vanished.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Mapping
from typing import Any

from casework.expr import EvaluationError, Expression
from casework.insight.casetype import CaseType, DocumentSpec, FieldSpec
from casework.insight.rules import Action, Document, Finding, Flag, request_document

__all__ = ["check_type", "find_gaps", "is_empty"]


def find_gaps(
    case_type: CaseType,
    variables: Mapping[str, Any],
    documents: Iterable[Document],
    *,
    derived: Mapping[str, Any] | None = None,
) -> list[Finding]:
    """Flags for required fields and documents that are missing, in the order the case type declares them.

    ``documents`` are the attached documents as (kind, name) pairs. ``derived`` are extra names that ``when``
    conditions may read (the facts of :func:`casework.insight.rules.facts`); by default ``documents`` (their kinds)
    and ``case`` (the variables) are provided.
    """
    docs = list(documents)
    ctx: dict[str, Any] = {**variables, "case": dict(variables), "documents": sorted({k for k, _ in docs})}
    if derived is not None:
        ctx.update(derived)
    out: list[Finding] = []
    for spec in case_type.fields:
        flag = _field_gap(case_type, spec, variables, ctx)
        if flag is not None:
            out.append(flag)
    present = {kind for kind, _ in docs}
    for doc in case_type.documents:
        flag = _document_gap(case_type, doc, present, ctx)
        if flag is not None:
            out.append(flag)
    return out


def _field_gap(
    case_type: CaseType, spec: FieldSpec, variables: Mapping[str, Any], ctx: Mapping[str, Any]
) -> Finding | None:
    value = variables.get(spec.name)
    fill = Action("fill_in", spec.name, f"fill in: {spec.label}")
    if not is_empty(value):
        problem = check_type(spec.type, value)
        if problem is None:
            return None
        # Wrong data is reported even when the field is optional: a rule reading it would fail or mislead.
        return Flag(
            f"invalid-field:{spec.name}",
            f"{capitalized(spec.label)} is not a valid {spec.type}",
            spec.severity,
            f"{spec.name} = {value!r}: {problem}",
            "gap",
            fill,
        )
    if not spec.required:
        return None
    required, why = _required(case_type, spec.when, ctx)
    if required is None:
        return _unjudged(case_type, f"field:{spec.name}", spec.label, spec.when, why)
    if not required:
        return None
    state = "absent" if spec.name not in variables else "empty"
    return Flag(
        f"missing-field:{spec.name}",
        f"Missing information: {spec.label}",
        spec.severity,
        f"case type {case_type.key!r} requires {spec.label} ({spec.name}){why}; it is {state}",
        "gap",
        fill,
    )


def _document_gap(case_type: CaseType, doc: DocumentSpec, present: set[str], ctx: Mapping[str, Any]) -> Finding | None:
    if doc.kind in present:
        return None
    required, why = _required(case_type, doc.when, ctx)
    if required is None:
        return _unjudged(case_type, f"document:{doc.kind}", f"a {doc.label}", doc.when, why)
    if not required:
        return None
    return Flag(
        f"missing-document:{doc.kind}",
        f"Missing document: {doc.label}",
        doc.severity,
        f"case type {case_type.key!r} requires a {doc.label}{why}; no document of kind {doc.kind!r} is attached",
        "gap",
        request_document(doc.kind, doc.label),
    )


def _required(case_type: CaseType, when: Expression | None, ctx: Mapping[str, Any]) -> tuple[bool | None, str]:
    """(whether the requirement holds, why); (None, the error) if its condition fails for a reason no other flag
    reports."""
    if when is None:
        return True, ""
    try:
        held = when.evaluate_bool(ctx)
    except EvaluationError as exc:
        # Data the condition reads that is missing, or of the wrong type, is flagged as such already.
        reported = [n for n in when.variables if n != "*" and (n not in ctx or _invalid(case_type, n, ctx[n]))]
        return (False, "") if reported else (None, str(exc))
    if not held:
        return False, ""
    read = [f"{n} = {ctx[n]!r}" for n in sorted(when.variables) if n in ctx and n not in ("case", "documents")]
    values = f" ({', '.join(read)})" if read else ""
    return True, f" when {when.source}{values}"


def _invalid(case_type: CaseType, name: str, value: Any) -> bool:
    spec = case_type.field(name)
    return spec is not None and not is_empty(value) and check_type(spec.type, value) is not None


def _unjudged(case_type: CaseType, what: str, label: str, when: Expression | None, error: str) -> Finding:
    """A requirement whose condition failed (a division by zero, a comparison of text with a number in a field the
    case type does not declare): it was taken as not required, and the flag it would have raised went missing."""
    assert when is not None
    return Flag(
        f"requirement-error:{what}",
        f"Whether {label} is required could not be judged: {error}",
        "warning",
        f"case type {case_type.key!r}: the condition {when.source} failed; fix the case data or the case type",
        "gap",
    )


def capitalized(label: str) -> str:
    """A label starting a sentence. Not `str.capitalize`, which lowercases the rest: "IBAN" read "Iban", "EU VAT
    number" "Eu vat number"."""
    return label[:1].upper() + label[1:]


def is_empty(value: Any) -> bool:
    if value is None:
        return True
    if isinstance(value, str):
        return not value.strip()
    if isinstance(value, list | tuple | dict | set):
        return not value
    return False


def check_type(kind: str, value: Any) -> str | None:
    """None if ``value`` is a valid ``kind`` (string, number, bool, date), else what is wrong with it."""
    if kind == "string":
        return None if isinstance(value, str) else f"expected text, got {type(value).__name__}"
    if kind == "number":
        # bool is an int subclass in Python, but true is not an amount.
        ok = isinstance(value, int | float) and not isinstance(value, bool)
        return None if ok else f"expected a number, got {type(value).__name__}"
    if kind == "bool":
        return None if isinstance(value, bool) else f"expected true or false, got {type(value).__name__}"
    if kind == "date":
        if isinstance(value, dt.date):
            return None
        if isinstance(value, str):
            return None if _iso_date(value) else "expected a date as YYYY-MM-DD"
        return f"expected a date, got {type(value).__name__}"
    return f"unknown field type {kind!r}"


def _iso_date(text: str) -> bool:
    # A date, or a date-time (whose date part is what counts); Python 3.11 parses both, "Z" included.
    for parse in (dt.date.fromisoformat, dt.datetime.fromisoformat):
        try:
            parse(text.strip())
        except ValueError:
            continue
        return True
    return False
