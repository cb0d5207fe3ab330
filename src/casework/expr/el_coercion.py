"""Unified EL (JSR-245 §1.8-1.9, §1.18) coercions and operator semantics used by the JUEL evaluator.

Deliberate departures from the specification, chosen because a case condition should fail loudly rather than
silently produce a surprising value:

* division or modulo by zero raises :class:`EvaluationError` (Java EL would yield ``Infinity``/``NaN`` for doubles);
* property access and indexing only work on mappings and sequences: arbitrary Python objects are never
  introspected, so an expression cannot reach attributes the modeller did not put in the case file.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping, Sequence, Sized
from decimal import Decimal
from typing import Any

from casework.expr.errors import EvaluationError

__all__ = [
    "arith",
    "compare",
    "describe",
    "divide",
    "equals",
    "get_index",
    "get_property",
    "is_empty",
    "modulo",
    "negate",
    "to_bool",
    "to_number",
    "to_str",
]

# Java's Long.valueOf / Double.valueOf grammar; Python's int()/float() would also accept "1_000", " 1", "nan", "inf".
_INT_RE = re.compile(r"[+-]?[0-9]+")
_FLOAT_RE = re.compile(r"[+-]?(?:[0-9]+\.?[0-9]*|\.[0-9]+)(?:[eE][+-]?[0-9]+)?")


def describe(value: Any) -> str:
    """Render a value for an error message without dumping a whole case file into it."""
    text = repr(value)
    if len(text) > 60:
        text = text[:57] + "..."
    return f"{text} ({type(value).__name__})"


def is_number(value: Any) -> bool:
    # bool is an int subclass in Python but not a Number in EL.
    return isinstance(value, int | float | Decimal) and not isinstance(value, bool)


def to_bool(value: Any) -> bool:
    """Coerce to Boolean per EL: null and "" are false, strings go through Boolean.valueOf, numbers are an error."""
    if value is True or value is False:
        return value
    if value is None:
        return False
    if isinstance(value, str):
        return value.lower() == "true"
    if isinstance(value, bool):  # e.g. numpy.bool_ subclasses are not caught by the identity checks above
        return bool(value)
    raise EvaluationError(f"cannot use {describe(value)} as a boolean")


def to_number(value: Any) -> int | float:
    if type(value) is int or type(value) is float:
        return value
    if value is None:
        return 0
    if isinstance(value, bool):
        raise EvaluationError(f"cannot use {describe(value)} as a number")
    if isinstance(value, int):
        return int(value)
    if isinstance(value, float | Decimal):
        return float(value)
    if isinstance(value, str):
        text = value
        if text == "":
            return 0
        if _INT_RE.fullmatch(text):
            return int(text)
        if _FLOAT_RE.fullmatch(text):
            return float(text)
    raise EvaluationError(f"cannot use {describe(value)} as a number")


def to_str(value: Any) -> str:
    if value is None:
        return ""
    if value is True or value is False:
        return "true" if value else "false"
    return str(value)


def equals(left: Any, right: Any) -> bool:
    if left is right:
        return True
    if left is None or right is None:
        return False
    if is_number(left) or is_number(right):
        return to_number(left) == to_number(right)
    if isinstance(left, bool) or isinstance(right, bool):
        return to_bool(left) == to_bool(right)
    if isinstance(left, str) or isinstance(right, str):
        return to_str(left) == to_str(right)
    return bool(left == right)


def compare(op: str, left: Any, right: Any) -> bool:
    """Relational operators; ``op`` is one of ``< > <= >=``."""
    if left is None or right is None:
        return left is right and op in ("<=", ">=")
    a: Any
    b: Any
    if is_number(left) or is_number(right):
        a, b = to_number(left), to_number(right)
    elif isinstance(left, str) or isinstance(right, str):
        a, b = to_str(left), to_str(right)
    else:
        a, b = left, right
    try:
        if op == "<":
            return bool(a < b)
        if op == ">":
            return bool(a > b)
        if op == "<=":
            return bool(a <= b)
        return bool(a >= b)
    except TypeError:
        raise EvaluationError(f"cannot compare {describe(left)} {op} {describe(right)}") from None


def arith(op: str, left: Any, right: Any) -> int | float:
    """``+ - *``: numeric only (EL has no string concatenation with ``+``)."""
    if left is None and right is None:
        return 0
    a, b = to_number(left), to_number(right)
    if op == "+":
        return a + b
    if op == "-":
        return a - b
    return a * b


def divide(left: Any, right: Any) -> int | float:
    if left is None and right is None:
        return 0
    a, b = float(to_number(left)), float(to_number(right))
    if b == 0:
        raise EvaluationError(f"division by zero: {describe(left)} / {describe(right)}")
    return a / b


def modulo(left: Any, right: Any) -> int | float:
    if left is None and right is None:
        return 0
    a, b = to_number(left), to_number(right)
    if b == 0:
        raise EvaluationError(f"modulo by zero: {describe(left)} % {describe(right)}")
    if isinstance(a, float) or isinstance(b, float):
        return math.fmod(a, b)
    # Java's remainder takes the sign of the dividend; Python's % takes the sign of the divisor.
    remainder = abs(a) % abs(b)
    return -remainder if a < 0 else remainder


def negate(value: Any) -> int | float:
    return -to_number(value)


def is_empty(value: Any) -> bool:
    if value is None:
        return True
    if isinstance(value, Sized):
        return len(value) == 0
    return False


def get_property(base: Any, name: str) -> Any:
    if base is None:
        return None
    if isinstance(base, Mapping):
        return base.get(name)
    raise EvaluationError(f"cannot read property {name!r} of {describe(base)}")


def get_index(base: Any, key: Any) -> Any:
    if base is None:
        return None
    if isinstance(base, Mapping):
        try:
            return base.get(key)
        except TypeError:
            raise EvaluationError(f"cannot use {describe(key)} as a map key") from None
    if isinstance(base, Sequence) and not isinstance(base, str | bytes):
        number = to_number(key)
        if isinstance(number, float):
            if not number.is_integer():
                raise EvaluationError(f"cannot use {describe(key)} as a list index")
            number = int(number)
        # EL's list resolver yields null out of range instead of failing (and never counts from the end).
        if 0 <= number < len(base):
            return base[number]
        return None
    raise EvaluationError(f"cannot index {describe(base)} with {describe(key)}")
