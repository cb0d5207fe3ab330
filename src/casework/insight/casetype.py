"""Case types: a CMMN definition key plus a declarative schema that decision support works from.

A case type is a TOML file (read with the standard library's ``tomllib``)::

    [case_type]
    key = "insurance_claim"          # the case type's own name
    definition = "insuranceClaim"    # the CMMN case id it describes
    label = "Motor insurance claim"
    sla = "P30D"                      # ISO-8601 duration from the case's start

    [[fields]]                        # case data the case needs
    name = "policyNumber"
    type = "string"                   # string | number | bool | date
    label = "policy number"
    required = true                   # default true
    when = "amount > 0"               # optional: required only while this condition holds

    [[documents]]                     # documents the case needs
    kind = "police_report"
    label = "police report"
    when = "amount > 10000"

    [[patterns]]                      # intake extraction: a regex with one group per field
    field = "policyNumber"
    regex = 'Policy number:\\s*([A-Z]{2}-\\d{6})'
    documents = ["claim_form"]        # document kinds to search; empty or absent: every document

    [[rules]]
    id = "large-claim-expert"
    condition = 'amount > 50000 && !("Expert opinion" in completed)'
    kind = "suggestion"               # suggestion | flag
    severity = "warning"              # info | warning | critical
    message = "Large claim: ask for an expert opinion"
    action = { plan = "Expert opinion" }   # or add_task / request_document / fill_in

Loading validates everything up front and raises :class:`CaseTypeError` listing every problem with the path of the
field it concerns (``rules[2].severity: ... (rule 'large-claim')``: a rule's problems name its id too), so that a
wrong case type fails when it is deployed, not when a rule first runs. Conditions are compiled with
:func:`casework.expr.compile_expression` (CEL, or JUEL inside ``${...}``).
"""

from __future__ import annotations

import datetime as dt
import re
import tomllib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Any, Final

import regex

from casework.engine.state import has_instance_id_form
from casework.expr import Expression, ExpressionError, compile_expression
from casework.model.timers import TimerError, add_duration, check_time_part, parse_duration
from casework.names import typed, unreadable

__all__ = [
    "ACTION_KINDS",
    "FIELD_TYPES",
    "SEVERITIES",
    "ActionSpec",
    "CaseType",
    "CaseTypeError",
    "DocumentSpec",
    "FieldSpec",
    "PatternSpec",
    "RuleSpec",
    "bundled_case_type",
    "bundled_case_types",
    "case_type_from_dict",
    "load_case_type",
    "named_case_type",
    "parse_case_type",
]

FIELD_TYPES: Final = ("string", "number", "bool", "date")
SEVERITIES: Final = ("info", "warning", "critical")
RULE_KINDS: Final = ("suggestion", "flag")
# What a rule may suggest doing; rules.resolve_action maps each onto what the case can do now.
ACTION_KINDS: Final = ("add_task", "plan", "start", "request_document", "fill_in")
_KEY_RE: Final = re.compile(r"^[A-Za-z_][A-Za-z0-9_.-]*$")
# A field is a case variable, whose name the engine takes only as an identifier (expressions read it): a field named
# `policy-number` was always missing, and every value a document gave it was offered and could never be filled.
_FIELD_RE: Final = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
_NOT_A_FIELD: Final = ("{!r} cannot be a case variable's name (letters, digits and _, not starting with a digit), so "
                       "no case could hold it")


class CaseTypeError(ValueError):
    """A case type file is invalid; ``problems`` lists each problem as ``"<field path>: <what is wrong>"``."""

    def __init__(self, source: str, problems: Sequence[str]) -> None:
        self.source = source
        self.problems = list(problems)
        super().__init__(f"{source}: invalid case type:\n" + "\n".join(f"  - {p}" for p in self.problems))


class UnknownCaseType(ValueError):
    """No bundled case type has the name asked for."""


def load_error_line(exc: BaseException) -> str:
    """Why a case type (or a model file beside it) could not be loaded, on one line, for a command's `error:`: a
    CaseTypeError lists its problems one a line, and an OSError's text is Python's `[Errno 2] ...`."""
    if isinstance(exc, CaseTypeError):
        return f"{exc.source}: invalid case type: {'; '.join(exc.problems)}"
    if isinstance(exc, OSError) and exc.filename is not None:
        return f"cannot read {exc.filename}: {exc.strerror or exc}"
    return "; ".join(line.strip() for line in str(exc).splitlines() if line.strip()) or type(exc).__name__


@dataclass(frozen=True)
class FieldSpec:
    name: str
    type: str
    label: str
    required: bool = True
    when: Expression | None = None
    severity: str = "warning"


@dataclass(frozen=True)
class DocumentSpec:
    kind: str
    label: str
    when: Expression | None = None
    severity: str = "warning"


@dataclass(frozen=True)
class PatternSpec:
    field: str
    regex: regex.Pattern[str]  # the `regex` package's: its searches take a timeout
    type: str
    documents: tuple[str, ...] = ()  # document kinds searched; empty means all

    def applies_to(self, kind: str) -> bool:
        return not self.documents or kind in self.documents


@dataclass(frozen=True)
class ActionSpec:
    """What a rule suggests doing, as declared: ``kind`` is one of :data:`ACTION_KINDS`, ``target`` its argument."""

    kind: str
    target: str


@dataclass(frozen=True)
class RuleSpec:
    id: str
    condition: Expression
    kind: str
    message: str
    severity: str
    action: ActionSpec | None = None


@dataclass(frozen=True)
class CaseType:
    key: str
    definition: str
    label: str
    fields: tuple[FieldSpec, ...] = ()
    documents: tuple[DocumentSpec, ...] = ()
    patterns: tuple[PatternSpec, ...] = ()
    rules: tuple[RuleSpec, ...] = ()
    sla: str | None = None  # ISO-8601 duration counted from the case's start

    def field(self, name: str) -> FieldSpec | None:
        return next((f for f in self.fields if f.name == name), None)

    def document(self, kind: str) -> DocumentSpec | None:
        return next((d for d in self.documents if d.kind == kind), None)

    def document_label(self, kind: str) -> str:
        spec = self.document(kind)
        return spec.label if spec is not None else kind.replace("_", " ")

    def field_label(self, name: str) -> str:
        spec = self.field(name)
        return spec.label if spec is not None else name


# -- loading ------------------------------------------------------------------------------------------------------
def load_case_type(path: str | Path) -> CaseType:
    """Read and validate a case type TOML file."""
    p = Path(path)
    try:
        # A byte order mark, as Notepad writes UTF-8, is no TOML: tomllib refused it as "Invalid statement (at line 1,
        # column 1)", which told no one what to change.
        text = p.read_text(encoding="utf-8-sig")
    except UnicodeDecodeError as exc:  # TOML is UTF-8 by definition
        raise CaseTypeError(str(p), [f"not UTF-8 text (byte {exc.start}): TOML files must be UTF-8"]) from None
    return parse_case_type(text, source=str(p))


def parse_case_type(text: str, source: str = "<case type>") -> CaseType:
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise CaseTypeError(source, [f"not valid TOML: {exc}"]) from None
    except RecursionError:  # tomllib reads nested arrays and tables recursively
        raise CaseTypeError(source, ["not valid TOML: arrays or tables nested too deeply"]) from None
    return case_type_from_dict(data, source)


def bundled_case_types() -> list[str]:
    """Names of the example case types shipped in ``casework/insight/case_types``."""
    folder = resources.files("casework.insight").joinpath("case_types")
    return sorted(entry.name.removesuffix(".toml") for entry in folder.iterdir() if entry.name.endswith(".toml"))


def bundled_case_type(name: str) -> CaseType:
    entry = resources.files("casework.insight").joinpath("case_types", f"{name}.toml")
    if not entry.is_file():
        raise UnknownCaseType(f"no bundled case type {name!r} (have: {', '.join(bundled_case_types()) or 'none'})")
    return parse_case_type(entry.read_text(encoding="utf-8"), source=f"case_types/{name}.toml")


def named_case_type(name: str) -> CaseType:
    """What `--case-type NAME` names: a case type file (a path, or a name ending in .toml in any case), else a bundled
    case type. A file named otherwise (`claims.TOML`, `types/claims`) was looked for among the bundled ones, and the
    error said there was no bundled case type of that name."""
    if name.lower().endswith(".toml") or "/" in name or "\\" in name or Path(name).is_file():
        return load_case_type(name)
    return bundled_case_type(name)


def case_type_from_dict(data: Mapping[str, Any], source: str = "<case type>") -> CaseType:
    """Build a case type from parsed TOML (or equivalent JSON); raises :class:`CaseTypeError` naming each field."""
    v = _Validator()
    head = data.get("case_type")
    if not isinstance(head, Mapping):
        v.problem("case_type", "missing table [case_type] with key and definition")
        head = {}
    v.unknown("case_type", head, {"key", "definition", "label", "sla"})
    key = v.text("case_type.key", head.get("key"), pattern=_KEY_RE)
    definition = v.text("case_type.definition", head.get("definition"))
    label = v.text("case_type.label", head.get("label", key or ""), required=False) or key
    sla = v.duration("case_type.sla", head.get("sla"))
    v.unknown("", data, {"case_type", "fields", "documents", "patterns", "rules"})

    # Duplicates are named by their place in the file, counted over every entry: counted over the valid ones only,
    # an entry dropped before them moved the name onto the wrong one ("rules[1].id: duplicate" for rules[2]).
    field_tables = v.tables("fields", data)
    fields = tuple(f for i, t in field_tables if (f := v.field_spec(f"fields[{i}]", t)) is not None)
    v.unique("fields", _named(field_tables, "fields", "name"))
    document_tables = v.tables("documents", data)
    documents = tuple(d for i, t in document_tables if (d := v.document_spec(f"documents[{i}]", t)) is not None)
    v.unique("documents", _named(document_tables, "documents", "kind"))
    by_name = {f.name: f for f in fields}
    patterns = tuple(
        p for i, t in v.tables("patterns", data) if (p := v.pattern_spec(f"patterns[{i}]", t, by_name)) is not None
    )
    rule_tables = v.tables("rules", data)
    rules = tuple(r for i, t in rule_tables if (r := v.named_rule_spec(f"rules[{i}]", t)) is not None)
    v.unique("rules", _named(rule_tables, "rules", "id"))
    if v.problems:
        raise CaseTypeError(source, v.problems)
    return CaseType(key, definition, label, fields, documents, patterns, rules, sla)


def _named(tables: list[tuple[int, Mapping[str, Any]]], what: str, key: str) -> list[tuple[str, str]]:
    """(path, name) of each entry that names itself with a string, at its place among all the entries."""
    return [(f"{what}[{i}].{key}", t[key].strip()) for i, t in tables if isinstance(t.get(key), str) and t[key].strip()]


class _Validator:
    """Collects every problem instead of stopping at the first, so one load shows the author all of them."""

    def __init__(self) -> None:
        self.problems: list[str] = []

    def problem(self, path: str, message: str) -> None:
        self.problems.append(f"{path}: {message}" if path else message)

    def unknown(self, path: str, table: Mapping[str, Any], allowed: set[str]) -> None:
        # Misspelt keys would otherwise be ignored silently ("sevrity" leaving the default in place).
        for name in sorted(set(table) - allowed):
            where = f"{path}.{name}" if path else name
            self.problem(where, f"unknown key (expected one of: {', '.join(sorted(allowed))})")

    def tables(self, name: str, data: Mapping[str, Any]) -> list[tuple[int, Mapping[str, Any]]]:
        value = data.get(name, [])
        if not isinstance(value, list):
            self.problem(name, f"must be an array of tables ([[{name}]])")
            return []
        out = []
        for i, t in enumerate(value):
            if isinstance(t, Mapping):
                out.append((i, t))
            else:
                self.problem(f"{name}[{i}]", "must be a table")
        return out

    def unique(self, what: str, entries: list[tuple[str, str]]) -> None:
        seen: set[str] = set()
        for path, value in entries:
            if value in seen:
                self.problem(path, f"duplicate {value!r} in {what}")
            seen.add(value)

    def text(self, path: str, value: Any, *, required: bool = True, pattern: re.Pattern[str] | None = None) -> str:
        if value is None:
            if required:
                self.problem(path, "is required")
            return ""
        if not isinstance(value, str) or not value.strip():
            self.problem(path, f"must be a non-empty string (got {value!r})")
            return ""
        if pattern is not None and not pattern.match(value):
            self.problem(path, f"{value!r} is not a valid name (letters, digits, _ . -)")
        return value.strip()

    def field_name(self, path: str, value: Any) -> str:
        name = self.text(path, value)
        if name and not _FIELD_RE.match(name):
            self.problem(path, _NOT_A_FIELD.format(name))
            return ""
        return name

    def choice(self, path: str, value: Any, options: Sequence[str], default: str | None = None) -> str:
        if value is None and default is not None:
            return default
        if value not in options:
            self.problem(path, f"must be one of {', '.join(options)} (got {value!r})")
            return options[0]
        return str(value)

    def boolean(self, path: str, value: Any, default: bool) -> bool:
        if value is None:
            return default
        if not isinstance(value, bool):
            self.problem(path, f"must be true or false (got {value!r})")
            return default
        return value

    def condition(self, path: str, value: Any, *, required: bool = False) -> Expression | None:
        source = self.text(path, value, required=required)
        if not source:
            return None
        try:
            return compile_expression(source)
        except ExpressionError as exc:
            self.problem(path, str(exc))
            return None

    def duration(self, path: str, value: Any) -> str | None:
        if value is None:
            return None
        if not isinstance(value, str):
            self.problem(path, f"must be an ISO-8601 duration such as 'P30D' (got {value!r})")
            return None
        try:
            check_time_part(value)
            length = parse_duration(value)
        except (TimerError, ValueError) as exc:
            self.problem(path, f"must be an ISO-8601 duration such as 'P30D': {exc}")
            return None
        start = dt.datetime(2000, 1, 1, tzinfo=dt.UTC)
        try:
            # A deadline past year 9999 cannot be computed, and the SLA then judged nothing, silently.
            end = add_duration(start, value)
        except TimerError:
            self.problem(path, f"{value!r} is longer than a case can run (it ends past the year 9999)")
            return None
        if end == start or not length:
            self.problem(path, f"{value!r} is no time at all: every case would be late from its start")
            return None
        return value

    def field_spec(self, path: str, t: Mapping[str, Any]) -> FieldSpec | None:
        self.unknown(path, t, {"name", "type", "label", "required", "when", "severity"})
        name = self.field_name(f"{path}.name", t.get("name"))
        kind = self.choice(f"{path}.type", t.get("type"), FIELD_TYPES, default="string")
        label = self.text(f"{path}.label", t.get("label"), required=False) or name
        required = self.boolean(f"{path}.required", t.get("required"), True)
        when = self.condition(f"{path}.when", t.get("when"))
        severity = self.choice(f"{path}.severity", t.get("severity"), SEVERITIES, default="warning")
        return FieldSpec(name, kind, label, required, when, severity) if name else None

    def document_spec(self, path: str, t: Mapping[str, Any]) -> DocumentSpec | None:
        self.unknown(path, t, {"kind", "label", "when", "severity"})
        kind = self.text(f"{path}.kind", t.get("kind"), pattern=_KEY_RE)
        label = self.text(f"{path}.label", t.get("label"), required=False) or kind.replace("_", " ")
        when = self.condition(f"{path}.when", t.get("when"))
        severity = self.choice(f"{path}.severity", t.get("severity"), SEVERITIES, default="warning")
        return DocumentSpec(kind, label, when, severity) if kind else None

    def pattern_spec(self, path: str, t: Mapping[str, Any], fields: Mapping[str, FieldSpec]) -> PatternSpec | None:
        self.unknown(path, t, {"field", "regex", "type", "documents", "ignore_case"})
        name = self.field_name(f"{path}.field", t.get("field"))
        declared = fields.get(name)
        # The type defaults to the declared field's, so a pattern cannot fill a number field with text.
        default_type = declared.type if declared is not None else "string"
        kind = self.choice(f"{path}.type", t.get("type"), FIELD_TYPES, default=default_type)
        if declared is not None and kind != declared.type:
            self.problem(f"{path}.type", f"{kind!r} differs from field {name!r}, declared as {declared.type!r}")
        ignore_case = self.boolean(f"{path}.ignore_case", t.get("ignore_case"), True)
        source = self.text(f"{path}.regex", t.get("regex"))
        pattern: regex.Pattern[str] | None = None
        if source:
            # Checked with `re`, the syntax case types are written in (and its error messages); matched with `regex`,
            # which runs the same pattern but can stop it when it takes too long (extraction.PATTERN_SECONDS).
            try:
                groups = re.compile(source).groups
                pattern = regex.compile(source, (regex.IGNORECASE if ignore_case else 0) | regex.MULTILINE)
            except (re.error, regex.error) as exc:
                self.problem(f"{path}.regex", f"not a valid regular expression: {exc}")
            else:
                if groups != 1:
                    self.problem(f"{path}.regex", f"must have exactly one capturing group (has {groups})")
                    pattern = None
        docs = t.get("documents", [])
        if isinstance(docs, str):
            docs = [docs]
        if not isinstance(docs, list) or not all(isinstance(d, str) and d for d in docs):
            self.problem(f"{path}.documents", f"must be a list of document kinds (got {docs!r})")
            docs = []
        if not name or pattern is None:
            return None
        return PatternSpec(name, pattern, kind, tuple(docs))

    def named_rule_spec(self, path: str, t: Mapping[str, Any]) -> RuleSpec | None:
        """`rule_spec`, each problem naming the rule by its id too: a case type has many rules, and "rules[17]" made
        the author count them."""
        start = len(self.problems)
        spec = self.rule_spec(path, t)
        ident = t.get("id")
        if isinstance(ident, str) and ident.strip():
            self.problems[start:] = [f"{problem} (rule {ident.strip()!r})" for problem in self.problems[start:]]
        return spec

    def rule_spec(self, path: str, t: Mapping[str, Any]) -> RuleSpec | None:
        self.unknown(path, t, {"id", "condition", "kind", "message", "severity", "action"})
        rule_id = self.text(f"{path}.id", t.get("id"), pattern=_KEY_RE)
        condition = self.condition(f"{path}.condition", t.get("condition"), required=True)
        kind = self.choice(f"{path}.kind", t.get("kind"), RULE_KINDS, default="suggestion")
        message = self.text(f"{path}.message", t.get("message"))
        severity = self.choice(f"{path}.severity", t.get("severity"), SEVERITIES, default="info")
        action = self.action(f"{path}.action", t.get("action"))
        if not rule_id or condition is None or not message:
            return None
        return RuleSpec(rule_id, condition, kind, message, severity, action)

    def action(self, path: str, value: Any) -> ActionSpec | None:
        if value is None:
            return None
        if not isinstance(value, Mapping) or len(value) != 1:
            expected = ", ".join(ACTION_KINDS)
            self.problem(path, f"must be a table with exactly one of {expected}, e.g. {{ plan = \"X\" }}")
            return None
        ((kind, target),) = value.items()
        if kind not in ACTION_KINDS:
            self.problem(f"{path}.{kind}", f"unknown action (expected one of: {', '.join(ACTION_KINDS)})")
            return None
        if not isinstance(target, str) or not target.strip():
            self.problem(f"{path}.{kind}", f"must name a task, item, document kind or field (got {target!r})")
            return None
        if problem := unreadable(target, "the name"):  # as a command would refuse it, when the suggestion is accepted
            self.problem(f"{path}.{kind}", problem)
            return None
        if kind == "fill_in" and not _FIELD_RE.match(target.strip()):
            self.problem(f"{path}.{kind}", _NOT_A_FIELD.format(target.strip()))
            return None
        if kind in ("add_task", "plan", "start") and has_instance_id_form(target):
            # Each of these becomes an ad hoc task of that name when nothing in the case has it, and the engine adds
            # none named like an item id (commands read "i5" as the id): the suggestion could never be accepted.
            self.problem(f"{path}.{kind}", f"{target.strip()!r} has the form of an item id (i1, i2, ...), which "
                                           "commands read as the id: name the task otherwise")
            return None
        # In NFC, as the names of the case's items and documents it is matched against are kept (`casework.names`).
        return ActionSpec(kind, typed(target))
