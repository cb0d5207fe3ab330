from __future__ import annotations

from pathlib import Path

import pytest

from casework.demo import demo_definition
from casework.insight.casetype import (
    ActionSpec,
    CaseTypeError,
    UnknownCaseType,
    bundled_case_type,
    bundled_case_types,
    load_case_type,
    parse_case_type,
)

MINIMAL = """
[case_type]
key = "permit"
definition = "permitReview"
"""


def test_bundled_insurance_claim_matches_the_demo_model() -> None:
    assert "insurance_claim" in bundled_case_types()
    ct = bundled_case_type("insurance_claim")
    definition = demo_definition()
    assert ct.definition == definition.key
    assert ct.sla == "P30D"
    amount = ct.field("amount")
    assert amount is not None and amount.type == "number"
    police = ct.document("police_report")
    assert police is not None and police.when is not None and police.when.source == "amount > 10000"
    # Every item a rule names exists in the demo model, so the actions can map onto it.
    names = {item.name for item in definition.items.values()}
    for rule in ct.rules:
        if rule.action is not None and rule.action.kind in ("plan", "start"):
            assert rule.action.target in names, rule.id
    expert = next(r for r in ct.rules if r.id == "large-claim-expert")
    assert expert.action == ActionSpec("plan", "Expert opinion")


def test_minimal_case_type_has_defaults(tmp_path: Path) -> None:
    path = tmp_path / "permit.toml"
    path.write_text(MINIMAL + '[[fields]]\nname = "address"\n', encoding="utf-8")
    ct = load_case_type(path)
    assert (ct.key, ct.definition, ct.label, ct.sla) == ("permit", "permitReview", "permit", None)
    address = ct.field("address")
    assert address is not None
    assert (address.type, address.label, address.required, address.when) == ("string", "address", True, None)


def test_a_file_saved_with_a_byte_order_mark_and_crlf_loads(tmp_path: Path) -> None:
    # as Notepad saves UTF-8: it was "not valid TOML: Invalid statement (at line 1, column 1)"
    path = tmp_path / "permit.toml"
    path.write_bytes(b"\xef\xbb\xbf" + (MINIMAL + 'label = "Permit \u00e9"\n').replace("\n", "\r\n").encode())
    ct = load_case_type(path)
    assert (ct.key, ct.definition, ct.label) == ("permit", "permitReview", "Permit \u00e9")


def test_pattern_type_defaults_to_the_field_type_and_must_have_one_group() -> None:
    ct = parse_case_type(
        MINIMAL
        + """
[[fields]]
name = "area"
type = "number"

[[patterns]]
field = "area"
regex = 'Area:\\s*(\\d+)'
documents = "plan"
"""
    )
    (pattern,) = ct.patterns
    assert pattern.type == "number"
    assert pattern.documents == ("plan",)
    assert pattern.applies_to("plan") and not pattern.applies_to("letter")
    assert pattern.regex.search("area: 120") is not None  # ignore_case is the default


def test_every_problem_is_reported_with_its_field_path() -> None:
    text = """
[case_type]
key = "bad key!"
sla = "thirty days"

[[fields]]
name = "amount"
type = "money"

[[fields]]
name = "amount"

[[documents]]
kind = "police_report"
when = "amount >"

[[patterns]]
field = "amount"
regex = '(\\d+)-(\\d+)'
type = "string"

[[patterns]]
field = "ref"
regex = '(unclosed'

[[rules]]
id = "r1"
condition = "amount > 1"
kind = "alert"
severity = "high"
message = "m"
action = { call = "someone" }

[[rules]]
id = "r1"
condition = "true"
message = "again"
sevrity = "info"
"""
    with pytest.raises(CaseTypeError) as info:
        parse_case_type(text, source="bad.toml")
    problems = info.value.problems
    joined = "\n".join(problems)
    expected_paths = [
        "case_type.key:",
        "case_type.definition: is required",
        "case_type.sla:",
        "fields[0].type: must be one of string, number, bool, date (got 'money')",
        "fields[1].name: duplicate 'amount'",
        "documents[0].when: invalid CEL expression",
        "patterns[0].regex: must have exactly one capturing group (has 2)",
        "patterns[1].regex: not a valid regular expression",
        "rules[0].kind: must be one of suggestion, flag (got 'alert')",
        "rules[0].severity: must be one of info, warning, critical (got 'high')",
        "rules[0].action.call: unknown action",
        "rules[1].id: duplicate 'r1'",
        "rules[1].sevrity: unknown key",
    ]
    for prefix in expected_paths:
        assert any(p.startswith(prefix) for p in problems), f"{prefix!r} not in:\n{joined}"
    assert str(info.value).startswith("bad.toml: invalid case type:")
    # a rule's problems name it by its id too, not only by its place among the rules
    assert "rules[0].severity: must be one of info, warning, critical (got 'high') (rule 'r1')" in problems
    assert "rules[1].sevrity: unknown key (expected one of: action, condition, id, kind, message, severity) " \
           "(rule 'r1')" in problems


def test_pattern_type_conflicting_with_field_is_rejected() -> None:
    text = MINIMAL + '[[fields]]\nname = "n"\ntype = "number"\n'
    text += '[[patterns]]\nfield = "n"\nregex = "(x)"\ntype = "date"\n'
    with pytest.raises(CaseTypeError, match=r"patterns\[0\]\.type: 'date' differs from field 'n'"):
        parse_case_type(text)


def test_a_duplicate_is_named_at_its_own_place_after_an_entry_that_is_invalid() -> None:
    # Counted over the valid entries only, the duplicate below was named rules[1] (the first 'a'), fields[1], ...
    text = MINIMAL + """
[[fields]]
type = "number"
[[fields]]
name = "amount"
[[fields]]
name = "amount"
[[documents]]
label = "no kind"
[[documents]]
kind = "plan"
[[documents]]
kind = "plan"
[[rules]]
id = "broken"
condition = "amount >"
message = "m"
[[rules]]
id = "a"
condition = "true"
message = "m"
[[rules]]
id = "a"
condition = "true"
message = "m"
"""
    with pytest.raises(CaseTypeError) as info:
        parse_case_type(text, source="dup.toml")
    duplicates = [p for p in info.value.problems if "duplicate" in p]
    assert duplicates == ["fields[2].name: duplicate 'amount' in fields",
                          "documents[2].kind: duplicate 'plan' in documents", "rules[2].id: duplicate 'a' in rules"]


def test_invalid_toml_and_missing_table_are_readable() -> None:
    with pytest.raises(CaseTypeError, match="not valid TOML"):
        parse_case_type("[case_type\n")
    with pytest.raises(CaseTypeError, match=r"case_type: missing table \[case_type\]"):
        parse_case_type('[[fields]]\nname = "x"\n')


def test_unknown_bundled_case_type() -> None:
    with pytest.raises(UnknownCaseType, match="no bundled case type 'nope'"):
        bundled_case_type("nope")


@pytest.mark.parametrize("value", ["[" * 5000 + "]" * 5000, "{a = " * 3000 + "1" + "}" * 3000])
def test_values_nested_too_deeply_are_a_case_type_error(value: str) -> None:
    # tomllib recurses into nested arrays and inline tables: a RecursionError and a traceback, before
    with pytest.raises(CaseTypeError, match="nested too deeply"):
        parse_case_type(f"name = {value}\n")


@pytest.mark.parametrize("kind", ["add_task", "plan", "start"])
def test_an_action_naming_a_task_like_an_item_id_is_refused(kind: str) -> None:
    # Such an action falls back to adding a task of that name, which the engine refuses: offered, never acceptable.
    text = MINIMAL + f'[[rules]]\nid = "r"\ncondition = "true"\nmessage = "m"\naction = {{ {kind} = " i5 " }}\n'
    with pytest.raises(CaseTypeError, match=rf"rules\[0\]\.action\.{kind}: 'i5' has the form of an item id"):
        parse_case_type(text)
    parse_case_type(text.replace(" i5 ", "i5 review"))


@pytest.mark.parametrize("kind", ["add_task", "plan", "start"])
def test_an_action_naming_a_task_with_a_character_that_does_not_show_is_refused_and_names_are_kept_in_nfc(
        kind: str) -> None:
    # Accepted, the suggestion would be a command the engine refuses; and a name typed in NFD was never matched with
    # the case's items, whose names are kept in NFC.
    text = MINIMAL + ('[[rules]]\nid = "r"\ncondition = "true"\nmessage = "m"\n'
                      f'action = {{ {kind} = "Call\\u202eback" }}\n')
    with pytest.raises(CaseTypeError, match=rf"rules\[0\]\.action\.{kind}: the name contains U\+202E"):
        parse_case_type(text)
    parsed = parse_case_type(text.replace("Call\\u202eback", "Call Jose\\u0301"))
    assert parsed.rules[0].action is not None and parsed.rules[0].action.target == "Call Jos\u00e9"


@pytest.mark.parametrize(("sla", "said"), [
    # A deadline past year 9999 could not be computed, and the SLA then flagged nothing, silently.
    ("P1000000Y", "'P1000000Y' is longer than a case can run (it ends past the year 9999)"),
    ("P0D", "'P0D' is no time at all: every case would be late from its start"),
    ("PT", "its T is followed by no hours, minutes or seconds"),
])
def test_an_sla_no_case_could_keep_or_miss_is_refused_at_load(sla: str, said: str) -> None:
    text = f'[case_type]\nkey = "permit"\ndefinition = "permitReview"\nlabel = "permit"\nsla = "{sla}"\n'
    with pytest.raises(CaseTypeError) as info:
        parse_case_type(text, source="permit.toml")
    (problem,) = info.value.problems
    assert problem.startswith("case_type.sla: ") and said in problem


@pytest.mark.parametrize("name", ["policy-number", "claimant.name", "2nd_amount"])
def test_a_field_no_case_variable_could_be_is_refused_wherever_it_is_named(name: str) -> None:
    # The engine sets only identifiers: such a field was always missing, and the value a document gave it was
    # offered and refused when accepted (`suggest intake --apply` refused every other field with it).
    text = MINIMAL + f'[[fields]]\nname = "{name}"\n[[patterns]]\nfield = "{name}"\nregex = "(x)"\n'
    text += f'[[rules]]\nid = "r"\ncondition = "true"\nmessage = "m"\naction = {{ fill_in = "{name}" }}\n'
    with pytest.raises(CaseTypeError) as info:
        parse_case_type(text)
    problems = str(info.value)
    for path in ("fields[0].name", "patterns[0].field", "rules[0].action.fill_in"):
        assert f"{path}: {name!r} cannot be a case variable's name" in problems
    parse_case_type(text.replace(name, "policy_number"))
