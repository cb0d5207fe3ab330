"""What casework makes of the parts of a CMMN file that it does not run: vendor extensions (Flowable, Camunda) and the
CMMN task kinds that hand work to another engine.

A model that imports must run as its author expects, so each such part is one of three kinds (see README.md):
read (``vendor_attr``: assignees, candidates), ignored because it only draws or labels the model (diagram, forms,
stencils, priorities), or refused here with the element's id, because ignoring it would change how the case runs.
"""

from __future__ import annotations

import xml.etree.ElementTree as ET
from collections.abc import Callable

CMMN_NS = "http://www.omg.org/spec/CMMN/20151109/MODEL"
FLOWABLE_NS = "http://flowable.org/cmmn"
CAMUNDA_NS = "http://camunda.org/schema/1.0/cmmn"
VENDORS = {FLOWABLE_NS: "flowable", CAMUNDA_NS: "camunda"}

# CMMN elements whose work another engine does (a BPMN process, a sub case, a DMN decision) or that wait for events
# casework does not raise: imported as a plain task, one would wait for a worker to complete it by hand instead.
UNSUPPORTED_ELEMENTS = {
    "processTask": "casework runs no BPMN process",
    "caseTask": "casework starts no sub case",
    "decisionTask": "casework evaluates no DMN decision",
    "eventListener": "casework raises no generic events (use a userEventListener or a timerEventListener)",
}

# Vendor attributes whose effect casework does not reproduce, by the element they stand on ("" for any).
_REFUSED_ATTRS: dict[tuple[str, str], str] = {
    ("task", "type"): "an automated task (Java, HTTP, script, mail...) that casework does not run",
    ("task", "class"): "an automated task (Java, HTTP, script, mail...) that casework does not run",
    ("task", "expression"): "an automated task (Java, HTTP, script, mail...) that casework does not run",
    ("task", "delegateExpression"): "an automated task (Java, HTTP, script, mail...) that casework does not run",
    ("sentry", "triggerMode"): "casework remembers a fired on-part until the if-part holds (Flowable's default)",
    ("repetitionRule", "repeatOnStandardEvent"): "casework repeats an item as CMMN 1.1 does",
    ("repetitionRule", "maxInstanceCount"): "casework does not limit repetitions",
    ("", "availableCondition"): "casework has no available condition",
    ("", "dueDate"): "casework reads a due date on a human task only",
    ("", "followUpDate"): "casework has no follow-up date",
    ("", "async"): "casework runs no asynchronous jobs for plan items",
}

# Vendor attributes read on these elements (by `cmmn_import`), refused on any other.
_READ_ATTRS = frozenset({("humanTask", "dueDate")})

# Vendor elements (inside extensionElements) that run code or add conditions.
_REFUSED_ELEMENTS = {
    "taskListener": "listener code that casework does not run",
    "planItemLifecycleListener": "listener code that casework does not run",
    "caseLifecycleListener": "listener code that casework does not run",
    "caseExecutionListener": "listener code that casework does not run",
    "variableListener": "listener code that casework does not run",
    "variableOnPart": "casework has no variable on-parts (use an if-part)",
}


_DEFINITIONS = frozenset({"humanTask", "task", "processTask", "caseTask", "decisionTask", "stage", "milestone",
                          "userEventListener", "timerEventListener", "eventListener", "planFragment"})
_COMMON = frozenset({"documentation", "extensionElements"})
_ARTIFACTS = frozenset({"textAnnotation", "association", "artifact"})  # notes on the diagram; some tools nest them
_TASK = _COMMON | {"defaultControl", "input", "output", "inputs", "outputs"}
# The CMMN 1.1 children of the elements whose children decide how a case runs: a misspelt <entryCriterion> that were
# ignored would start its item at once.
_KNOWN_CHILDREN: dict[str, frozenset[str]] = {
    "planItem": _COMMON | {"itemControl", "entryCriterion", "exitCriterion"},
    "discretionaryItem": _COMMON | {"itemControl", "entryCriterion", "exitCriterion"},
    "itemControl": _COMMON | {"repetitionRule", "requiredRule", "manualActivationRule"},
    "defaultControl": _COMMON | {"repetitionRule", "requiredRule", "manualActivationRule"},
    "sentry": _COMMON | {"planItemOnPart", "caseFileItemOnPart", "ifPart"},
    "casePlanModel": _COMMON | _ARTIFACTS | _DEFINITIONS | {"planItem", "sentry", "planningTable", "exitCriterion",
                                                           "defaultControl"},
    "stage": _COMMON | _ARTIFACTS | _DEFINITIONS | {"planItem", "sentry", "planningTable", "exitCriterion",
                                                   "defaultControl"},
    "planningTable": _COMMON | {"discretionaryItem", "planningTable", "applicabilityRule"},
    "humanTask": _TASK | {"planningTable"},
    "task": _TASK,
    "milestone": _COMMON | {"defaultControl"},
    "timerEventListener": _COMMON | {"timerExpression", "planItemStartTrigger", "caseFileItemStartTrigger",
                                     "defaultControl"},
}


def _split(tag: str) -> tuple[str, str]:
    if tag.startswith("{"):
        ns, local = tag[1:].split("}", 1)
        return ns, local
    return "", tag


def vendor_attr(el: ET.Element, name: str) -> tuple[str, str] | None:
    """The vendor attribute ``name`` (flowable:name, else camunda:name) as (its prefixed name, its value)."""
    for ns, prefix in VENDORS.items():
        value = el.get(f"{{{ns}}}{name}")
        if value is not None:
            return f"{prefix}:{name}", value
    return None


def check_unsupported(root: ET.Element, problem: Callable[[str, str], None]) -> None:
    """Report every element whose meaning casework would silently drop, naming the nearest element with an id."""
    stack: list[tuple[ET.Element, str]] = [(root, root.get("id", ""))]
    while stack:
        el, owner = stack.pop()
        ns, local = _split(el.tag)
        el_id = el.get("id") or owner
        if ns in (CMMN_NS, "") and local in UNSUPPORTED_ELEMENTS:
            problem(el_id, f"<{local}> is not supported: {UNSUPPORTED_ELEMENTS[local]}")
        elif ns in VENDORS and local in _REFUSED_ELEMENTS:
            problem(el_id, f"{VENDORS[ns]}:{local} is not supported: {_REFUSED_ELEMENTS[local]}")
        if ns in (CMMN_NS, "") and local in _KNOWN_CHILDREN:
            for child in el:
                child_ns, child_local = _split(child.tag)
                if child_ns in (CMMN_NS, "") and child_local not in _KNOWN_CHILDREN[local]:
                    problem(child.get("id") or el_id,
                            f"<{child_local}> is not a CMMN 1.1 element of <{local}>, and would be ignored")
        for attr, value in el.attrib.items():
            attr_ns, attr_name = _split(attr)
            if attr_ns not in VENDORS or (local, attr_name) in _READ_ATTRS:
                continue
            why = _REFUSED_ATTRS.get((local, attr_name)) or _REFUSED_ATTRS.get(("", attr_name))
            if why is not None and not _harmless(attr_name, value):
                problem(el_id, f"{VENDORS[attr_ns]}:{attr_name}={value!r} is not supported: {why}")
        stack.extend((child, el_id) for child in reversed(el))


def _harmless(name: str, value: str) -> bool:
    """Values that ask for what casework does anyway."""
    value = value.strip().lower()
    if name == "triggerMode":
        return value in ("", "default")
    if name == "async":
        return value in ("", "false")
    return not value
