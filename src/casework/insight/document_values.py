"""Intake on every change of a case: what the case's documents say about its data, as findings a person decides on.

`casework suggest intake` reads a case's documents on request. A case judged by the findings watcher (after each
change, an attach included) gets the same reading as findings, so that a claims adjuster who attaches a claim form
sees at once what it gives, without running intake:

- a finding that asks for a field to be filled in (a required field that is missing, a rule's ``fill_in``) offers the
  value a document gives instead: accepting it fills the field with that value, as one audited change whose reason
  names the document, page and text;
- ``document-value:FIELD`` (a suggestion, info): a field the case type reads from documents is empty, no other
  finding asks for it, and a document gives it;
- ``document-differs:FIELD`` (a flag, warning): the case holds one value and a document says another. Accepting it
  replaces the entered value with the document's; dismissing it (with a reason) keeps the entered one.

Nothing is filled by itself: the value read from a scan or a letter is a proposal, and a person decides.
Pure: the extraction result comes in (`casework.insight.case_documents.stored_values` reads it from the store).
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import replace
from typing import Any

from casework.insight.casetype import CaseType
from casework.insight.extraction import Extracted, ExtractionResult, agrees
from casework.insight.gaps import capitalized, is_empty
from casework.insight.rules import Action, Fill, Finding, Flag, Suggestion, with_action

__all__ = ["FILL_FROM_DOCUMENT", "with_document_values"]

FILL_FROM_DOCUMENT = "fill_from_document"
# The longest value (as JSON) offered: a finding carries its value into the findings table, every listing and, once
# answered, the audit trail. A form's field is a few words; a pattern that captured a whole page has gone wrong, and
# `casework suggest intake` shows what it read.
MAX_OFFERED_CHARS = 500
# Other documents' values a finding's reason names; the rest it counts.
OTHERS_NAMED = 3


def with_document_values(
    case_type: CaseType, variables: Mapping[str, Any], extracted: ExtractionResult, findings: Sequence[Finding]
) -> list[Finding]:
    """The findings, each ``fill_in`` of a field a document gives turned into filling it with that value, and a
    finding for each other field a document gives that is empty or held differently."""
    values = {name: found for name, found in extracted.values.items() if len(_text(found.value)) <= MAX_OFFERED_CHARS}
    out: list[Finding] = []
    asked: set[str] = set()
    for finding in findings:
        action = finding.action
        if action is not None and action.kind == "fill_in" and action.target in values:
            found = values[action.target]
            held = variables.get(action.target)
            if is_empty(held):
                asked.add(action.target)
                finding = with_action(finding, _fill(case_type, found, held, verb="fill in"))
                finding = _with_reason(finding, f"{_gives(found)}{_others(extracted, found)}")
        out.append(finding)
    for name, found in sorted(values.items()):
        held = variables.get(name)
        label = capitalized(case_type.field_label(name))
        if is_empty(held):
            if name not in asked:
                out.append(Suggestion(
                    f"document-value:{name}",
                    f"{label} is not filled in; {found.document} gives it",
                    "info",
                    f"{_gives(found)}{_others(extracted, found)}",
                    "document",
                    _fill(case_type, found, held, verb="fill in"),
                ))
        elif not agrees(held, found.value):
            out.append(Flag(
                f"document-differs:{name}",
                f"{label}: the case holds {_short(held)}, {found.document} says {_short(found.value)}",
                "warning",
                f"{_gives(found)}{_others(extracted, found)}; check which is right: accepting replaces the case's "
                "value with the document's, dismissing keeps it",
                "document",
                _fill(case_type, found, held, verb="replace with"),
            ))
    return out


def _fill(case_type: CaseType, found: Extracted, held: Any, *, verb: str) -> Action:
    label = f"{verb} {case_type.field_label(found.field)}: {_text(found.value)} (from {found.document} p.{found.page})"
    return Action(FILL_FROM_DOCUMENT, found.field, label,
                  fill=Fill(found.value, held, found.document, found.page, found.source))


def _gives(found: Extracted) -> str:
    return f"{found.document} p.{found.page} gives {found.field} = {_text(found.value)} (\u201c{found.context}\u201d)"


def _others(extracted: ExtractionResult, found: Extracted) -> str:
    """What other documents give for the same field, when they disagree: the person should know before accepting.
    The first few by name, the rest counted: the reason is the fill's reason when the person gives none (at most
    `commands.MAX_TEXT`), and part of the decision recorded (`commands.MAX_SUGGESTION`), and 80 witness statements
    with other dates made a finding that could be neither accepted nor dismissed."""
    others = [alt for alt in extracted.alternatives if alt.field == found.field]
    if not others:
        return ""
    named = ", ".join(f"{alt.document} p.{alt.page} gives {_short(alt.value)}" for alt in others[:OTHERS_NAMED])
    more = len(others) - OTHERS_NAMED
    return f"; but {named}" + (f", and {more:,} other value{'s' if more > 1 else ''} (`casework suggest intake` "
                               "lists them)" if more > 0 else "")


def _with_reason(finding: Finding, extra: str) -> Finding:
    return replace(finding, reason=f"{finding.reason}; {extra}")


def _text(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False)


def _short(value: Any) -> str:
    text = _text(value)
    return text if len(text) <= 80 else f"{text[:80]}... ({len(text):,} characters)"
