"""Intake's fill command (`extraction.fill_command`) on forms and cases no sample had: many fields at once, and values
Python's == takes for the same."""

from __future__ import annotations

import datetime as dt

from casework.demo import demo_definition
from casework.engine import CaseState, commands, execute
from casework.insight.casetype import parse_case_type
from casework.insight.extraction import DocumentText, extract_fields, fill_command

T0 = dt.datetime(2025, 3, 1, 9, 0, tzinfo=dt.UTC)
HEAD = '[case_type]\nkey = "form"\ndefinition = "insuranceClaim"\nlabel = "form"\n'


def _field(name: str, kind: str, regex: str) -> str:
    return (f'[[fields]]\nname = "{name}"\ntype = "{kind}"\nrequired = false\n'
            f"[[patterns]]\nfield = \"{name}\"\nregex = '{regex}'\n")


def test_a_form_of_sixty_fields_is_filled_with_the_source_of_each() -> None:
    # "field_07 from form.txt p.1: 'value ...'" for each made a reason of 5,294 characters: the engine refused the
    # whole fill, so `suggest intake --apply` could fill none of a large form
    kind = parse_case_type(HEAD + "".join(_field(f"field_{i:02}", "string", f"Field {i:02}:[ \\t]*([^\\n]+)")
                                          for i in range(60)))
    text = "".join(f"Field {i:02}: value number {i} of the big application form, as typed\n" for i in range(60))
    plan = fill_command(extract_fields(kind, [DocumentText("form.txt", "form", (text,))]), {}, actor="ann")
    assert plan.command is not None and len(plan.filled) == 60
    assert plan.command.reason is not None and plan.command.reason.endswith("field_58, field_59 from form.txt p.1")
    definition = demo_definition()
    state = CaseState.create("c1", definition)
    execute(definition, state, commands.StartCase(variables={}, actor="ann"), T0)
    execute(definition, state, plan.command, T0)
    assert state.variables["field_59"] == "value number 59 of the big application form, as typed"


def test_a_case_holding_1_where_the_document_says_yes_is_not_taken_as_agreeing() -> None:
    # Python's 1 == True: intake said the document gave the value the case holds, and --overwrite filled nothing,
    # while `suggest case` flagged the two as differing
    kind = parse_case_type(HEAD + _field("approved", "bool", "Approved:[ \\t]*(\\S+)"))
    result = extract_fields(kind, [DocumentText("form.txt", "form", ("Approved: yes\n",))])
    kept = fill_command(result, {"approved": 1}, actor="ann")
    assert [(found.value, held) for found, held in kept.kept] == [(True, 1)]
    replaced = fill_command(result, {"approved": 1}, actor="ann", overwrite={"approved"})
    assert replaced.command is not None and replaced.command.variables == {"approved": True}
    assert not fill_command(result, {"approved": True}, actor="ann").kept
