"""Intake on every judgement, attacked: documents and values no form should hold, found by trying (each test failed
before its fix)."""

from __future__ import annotations

import datetime as dt
from typing import Any

from casework.demo import demo_definition
from casework.engine import CaseState, commands, execute
from casework.insight.casetype import bundled_case_type, parse_case_type
from casework.insight.extraction import DocumentText, extract_fields
from casework.insight.flags import assess
from casework.insight.rules import Finding, accept_command, feedback_command

T0 = dt.datetime(2025, 3, 1, 9, 0, tzinfo=dt.UTC)
CLAIM = bundled_case_type("insurance_claim")


def _claim(variables: dict[str, Any]) -> tuple[Any, CaseState]:
    definition = demo_definition()
    state = CaseState.create("c1", definition)
    execute(definition, state, commands.StartCase(variables=variables, actor="ann"), T0)
    return definition, state


def _findings(state: CaseState, docs: list[DocumentText], kind: Any = CLAIM) -> dict[str, Finding]:
    found = assess(kind, demo_definition(), state, [(d.kind, d.name) for d in docs], T0,
                   extracted=extract_fields(kind, docs))
    return {f.id: f for f in found}


def test_many_documents_that_disagree_leave_a_finding_that_can_be_accepted_and_dismissed() -> None:
    # witness statements with 84 dates between them: 80 of them named all 79 others, 4,125 characters, and the
    # fill's reason (the finding's, when the person gives none) was refused; with a few hundred the decision too
    statements = [DocumentText(f"witness_{i:03}.txt", f"witness_{i:03}",
                               (f"Date of the incident: 2026-{i % 12 + 1:02}-{i % 28 + 1:02}\n",)) for i in range(400)]
    definition, state = _claim({"amount": 900})
    gap = _findings(state, statements)["missing-field:incidentDate"]
    assert gap.reason.endswith("and 80 other values (`casework suggest intake` lists them)")
    assert gap.reason.count(" gives ") == 4  # the value offered and three others
    dismissed = CaseState.from_dict(state.to_dict())
    execute(definition, dismissed, feedback_command(gap, accepted=False, actor="bob", reason="no"), T0)
    execute(definition, state, accept_command(gap, actor="bob"), T0)
    assert state.variables["incidentDate"] == "2026-01-01"


def test_a_long_reason_of_the_person_leaves_the_source_of_the_value_whole() -> None:
    form = DocumentText("claim_form.txt", "claim_form", ("Claimed amount: 12,500\n",))
    definition, state = _claim({})
    gap = _findings(state, [form])["missing-field:amount"]
    events = execute(definition, state, accept_command(gap, actor="bob", reason="checked " * 499), T0)
    fill, record = events[0], events[-1]
    assert fill.reason is not None and fill.reason.endswith("…; value from claim_form.txt p.1: '12,500'")
    assert len(fill.reason) == 4000
    assert record.type == "suggestion_accepted" and record.reason == "checked " * 499


def test_a_label_keeps_its_capitals_where_it_starts_a_finding() -> None:
    fields = [("iban", "string", "IBAN of the EU account"), ("vat", "number", "VAT rate")]
    kind = parse_case_type(
        '[case_type]\nkey = "claim_iban"\ndefinition = "insuranceClaim"\nlabel = "claim"\n'
        + "".join(f'[[fields]]\nname = "{n}"\ntype = "{t}"\nlabel = "{label}"\nrequired = false\n'
                  for n, t, label in fields)
        + "[[patterns]]\nfield = \"iban\"\nregex = 'IBAN:[ \\t]*(\\S+)'\n")
    doc = DocumentText("claim_form.txt", "claim_form", ("IBAN: NL91ABNA0417164300\n",))
    found = _findings(_claim({"vat": "high"})[1], [doc], kind)
    assert found["document-value:iban"].message == "IBAN of the EU account is not filled in; claim_form.txt gives it"
    assert found["invalid-field:vat"].message == "VAT rate is not a valid number"
    differs = _findings(_claim({"iban": "NL00"})[1], [doc], kind)["document-differs:iban"]
    assert differs.message.startswith("IBAN of the EU account: the case holds")

