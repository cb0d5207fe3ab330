"""JUEL / Unified EL behaviour through the public API."""

from __future__ import annotations

import contextlib
import math
import operator
import re
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from casework.expr import EvaluationError, ExpressionError, compile_expression


def ev(source: str, variables: dict[str, Any] | None = None, local: dict[str, Any] | None = None) -> Any:
    return compile_expression(source).evaluate(variables or {}, local)


def ev_bool(source: str, variables: dict[str, Any] | None = None, local: dict[str, Any] | None = None) -> bool:
    return compile_expression(source).evaluate_bool(variables or {}, local)


# --------------------------------------------------------------------------------------------- conformance corpus


def test_literal_true_and_false() -> None:
    assert ev_bool("${true}") is True
    assert ev_bool("${false}") is False


@pytest.mark.parametrize(("value", "expected"), [(True, True), (False, False), (None, False)])
def test_plain_variable(value: Any, expected: bool) -> None:
    assert ev_bool("${myVar}", {"myVar": value}) is expected


def test_string_true_variable_is_truthy() -> None:
    assert ev_bool("${whileTrue}", {"whileTrue": "true"}) is True
    assert ev_bool("${whileTrue}", {"whileTrue": "TRUE"}) is True
    assert ev_bool("${whileTrue}", {"whileTrue": "false"}) is False


@pytest.mark.parametrize(("value", "ge100", "lt99"), [(100, True, False), (99, False, False), (5, False, True)])
def test_threshold_comparisons(value: int, ge100: bool, lt99: bool) -> None:
    assert ev_bool("${value >= 100}", {"value": value}) is ge100
    assert ev_bool("${value < 99}", {"value": value}) is lt99


def test_repetition_counter_comes_from_local() -> None:
    expression = compile_expression("${repetitionCounter < 5}")
    assert expression.evaluate_bool({}, {"repetitionCounter": 4}) is True
    assert expression.evaluate_bool({}, {"repetitionCounter": 5}) is False
    # local shadows a case variable of the same name
    assert expression.evaluate_bool({"repetitionCounter": 1}, {"repetitionCounter": 9}) is False


def test_get_variable_guard() -> None:
    source = "${caseInstance.getVariable('variable') != null && variable}"
    assert ev_bool(source, {}) is False
    assert ev_bool(source, {"variable": None}) is False
    assert ev_bool(source, {"variable": False}) is False
    assert ev_bool(source, {"variable": True}) is True
    assert ev_bool(source, {"variable": "true"}) is True


@pytest.mark.parametrize(("amount", "big"), [(1001, True), (1000, False), (999.5, False), (1000.5, True)])
def test_amount_rules(amount: float, big: bool) -> None:
    assert ev_bool("${amount > 1000}", {"amount": amount}) is big
    assert ev_bool("${amount <= 1000}", {"amount": amount}) is not big


def test_unknown_identifier_is_null() -> None:
    assert ev("${var1}") is None
    assert ev_bool("${var1}") is False
    assert ev_bool("${var1}", {"var1": True}) is True


def test_hash_delimiter_and_surrounding_whitespace() -> None:
    assert ev_bool("  #{ amount gt 10 }\n", {"amount": 11}) is True


# ------------------------------------------------------------------------------------------------------ operators


@pytest.mark.parametrize(
    ("source", "expected"),
    [
        ("${1 + 2 * 3}", 7),
        ("${(1 + 2) * 3}", 9),
        ("${7 - 10}", -3),
        ("${-3 + 1}", -2),
        ("${- -3}", 3),
        ("${7 / 2}", 3.5),
        ("${7 div 2}", 3.5),
        ("${6 / 3}", 2.0),
        ("${7 % 3}", 1),
        ("${7 mod 3}", 1),
        ("${-7 % 3}", -1),
        ("${7.5 % 2}", 1.5),
        ("${1.5 + 1}", 2.5),
        ("${2.5e2}", 250.0),
        ("${.5}", 0.5),
    ],
)
def test_arithmetic(source: str, expected: Any) -> None:
    result = ev(source)
    assert result == expected
    assert type(result) is type(expected)


@pytest.mark.parametrize(
    ("source", "expected"),
    [
        ("${true && false}", False),
        ("${true and true}", True),
        ("${false || true}", True),
        ("${false or false}", False),
        ("${!true}", False),
        ("${not false}", True),
        ("${1 eq 1}", True),
        ("${1 ne 1}", False),
        ("${1 lt 2}", True),
        ("${2 gt 1}", True),
        ("${2 le 2}", True),
        ("${1 ge 2}", False),
        ("${'abc' < 'abd'}", True),
        ("${'b' > 'a'}", True),
        ("${true ? 'yes' : 'no'}", "yes"),
        ("${false ? 'yes' : 'no'}", "no"),
        ("${false ? 1 : true ? 2 : 3}", 2),
        ("${'a\\'b'}", "a'b"),
        ('${"say \\"hi\\""}', 'say "hi"'),
        ("${null}", None),
    ],
)
def test_logic_relations_and_literals(source: str, expected: Any) -> None:
    assert ev(source) == expected


def test_operator_precedence() -> None:
    assert ev("${1 + 2 < 4 && 2 * 3 == 6 || false}") is True
    assert ev("${!false && false}") is False
    assert ev("${true || false && false}") is True


def test_and_or_short_circuit() -> None:
    # the right-hand side would raise if evaluated (a number is not a boolean in EL)
    assert ev("${false && 5}") is False
    assert ev("${true || 5}") is True
    assert ev("${true ? 1 : 1 / 0}") == 1


@pytest.mark.parametrize(
    ("value", "expected"),
    [(None, True), ("", True), ([], True), ({}, True), ((), True), ("x", False), ([0], False), ({"a": 1}, False),
     (0, False), (False, False)],
)
def test_empty_operator(value: Any, expected: bool) -> None:
    assert ev("${empty x}", {"x": value}) is expected
    assert ev("${not empty x}", {"x": value}) is (not expected)


def test_member_and_index_access() -> None:
    variables = {"order": {"lines": [{"qty": 3}, {"qty": 5}], "customer": {"name": "Ada"}}}
    assert ev("${order.customer.name}", variables) == "Ada"
    assert ev("${order['customer']['name']}", variables) == "Ada"
    assert ev("${order.lines[1].qty}", variables) == 5
    assert ev("${order.lines['0'].qty}", variables) == 3
    assert ev("${order.lines[7]}", variables) is None
    assert ev("${order.missing.deeper}", variables) is None
    assert ev("${nothing.at.all}", variables) is None
    assert ev("${order.lines[1].qty * 2 > 9}", variables) is True


def test_has_variable_and_dynamic_get_variable() -> None:
    assert ev("${caseInstance.hasVariable('a')}", {"a": None}) is True
    assert ev("${caseInstance.hasVariable('a')}", {}) is False
    assert ev("${caseInstance.getVariable(name)}", {"name": "a", "a": 42}) == 42


# ------------------------------------------------------------------------------------------------------ coercions


def test_numeric_strings_coerce_in_relations_and_arithmetic() -> None:
    assert ev("${amount > 1000}", {"amount": "1500"}) is True
    assert ev("${amount > 1000}", {"amount": "999.5"}) is False
    assert ev("${'10' > 9}") is True
    assert ev("${'2' + 3}") == 5
    assert ev("${'1.5' * 2}") == 3.0
    assert ev("${5 == '5'}") is True


def test_null_in_arithmetic_and_relations() -> None:
    assert ev("${missing + 1}") == 1
    assert ev("${missing + other}") == 0
    assert ev("${-missing}") == 0
    assert ev("${missing > 1}") is False
    assert ev("${missing < 1}") is False
    assert ev("${missing == null}") is True
    assert ev("${null == missing}") is True
    assert ev("${0 == null}") is False
    assert ev("${'' != null}") is True


def test_string_plus_is_not_concatenation() -> None:
    with pytest.raises(EvaluationError, match=r"'abc'.*as a number"):
        ev("${'abc' + 'def'}")


def test_boolean_equality_coerces_strings() -> None:
    assert ev("${flag == true}", {"flag": "true"}) is True
    assert ev("${flag == true}", {"flag": "yes"}) is False


def test_number_in_boolean_context_is_an_error() -> None:
    with pytest.raises(EvaluationError, match=r"expected a boolean result but got 1 \(int\)"):
        ev_bool("${count}", {"count": 1})
    with pytest.raises(EvaluationError, match="as a boolean"):
        ev("${count && true}", {"count": 1})
    with pytest.raises(EvaluationError, match="as a boolean"):
        ev("${!count}", {"count": 0})


def test_other_strings_are_false_in_boolean_context() -> None:
    assert ev_bool("${s}", {"s": "yes"}) is False
    assert ev_bool("${s}", {"s": ""}) is False


def test_bool_is_not_a_number() -> None:
    with pytest.raises(EvaluationError, match="as a number"):
        ev("${flag + 1}", {"flag": True})
    with pytest.raises(EvaluationError, match="as a number"):
        ev("${flag > 1}", {"flag": True})


def test_runtime_errors_name_the_expression_and_problem() -> None:
    with pytest.raises(EvaluationError, match=r"cannot evaluate '\$\{a / b\}': division by zero"):
        ev("${a / b}", {"a": 1, "b": 0})
    with pytest.raises(EvaluationError, match="modulo by zero"):
        ev("${a % 0}", {"a": 1})
    with pytest.raises(EvaluationError, match="cannot compare"):
        ev("${a < b}", {"a": [1], "b": {"x": 1}})
    with pytest.raises(EvaluationError, match="cannot read property 'x'"):
        ev("${a.x}", {"a": 5})
    with pytest.raises(EvaluationError, match="'lots' \\(str\\) as a number"):
        ev("${amount > 1000}", {"amount": "lots"})


# ---------------------------------------------------------------------------------------------------- compilation


@pytest.mark.parametrize(
    ("source", "fragment"),
    [
        ("${}", "at column 3: empty expression"),
        ("${   }", "empty expression"),
        ("${a +}", "at column 6: unexpected end of expression"),
        ("${a b}", "at column 5: unexpected 'b' after a complete expression"),
        ("${(a}", "expected ')' to close '('"),
        ("${a ? b}", "expected ':'"),
        ("${'abc}", "at column 3: unterminated string literal"),
        ("${a # b}", "unexpected character '#'"),
        ("${x", "missing closing '}'"),
        ("${a} and ${b}", "composite text"),
        ("${obj.toString()}", "method call 'toString(...)' is not supported"),
        ("${caseInstance.getId()}", "method call 'getId(...)' is not supported"),
        ("${caseInstance.getVariable()}", "exactly one argument"),
        ("${caseInstance.getVariable('a', 'b')}", "exactly one argument"),
        ("${fn(1)}", "function call 'fn(...)' is not supported"),
        ("${a instanceof b}", "'instanceof' is not supported"),
        ("${a.}", "expected a property name after '.'"),
        ("${a.true}", "expected a property name"),
        ("${true = 1}", "unexpected character '='"),
        ("${" + "(" * 100 + "1" + ")" * 100 + "}", "nested more than"),
        ("${" + "!" * 100 + "true}", "nested more than"),
        ("${" + " + ".join(["1"] * 500) + "}", "nested more than"),
    ],
)
def test_compile_errors_are_readable(source: str, fragment: str) -> None:
    with pytest.raises(ExpressionError) as info:
        compile_expression(source)
    message = str(info.value)
    assert fragment in message
    assert message.startswith("invalid EL expression")


def test_a_long_expression_is_quoted_around_its_problem_only() -> None:
    source = "${" + "a + " * 2_000 + "}"
    with pytest.raises(ExpressionError) as info:
        compile_expression(source)
    message = str(info.value)
    assert len(message) < 300 and message.startswith("invalid EL expression '...+ a + a")
    short = "${a +}"
    with pytest.raises(ExpressionError, match=re.escape(f"invalid EL expression {short!r} at column 6")):
        compile_expression(short)


@pytest.mark.parametrize(
    ("source", "expected"),
    [
        ("${true}", frozenset()),
        ("${myVar}", frozenset({"myVar"})),
        ("${repetitionCounter < 5}", frozenset()),
        ("${caseInstance.getVariable('variable') != null && variable}", frozenset({"variable"})),
        ("${caseInstance.hasVariable('h')}", frozenset({"h"})),
        ("${a.b.c > x['y'] ? p : q}", frozenset({"a", "x", "p", "q"})),
        ("${'quoted' == text}", frozenset({"text"})),
        ("${caseInstance.getVariable(name)}", frozenset({"*"})),
    ],
)
def test_read_variables(source: str, expected: frozenset[str]) -> None:
    assert compile_expression(source).variables == expected


# ----------------------------------------------------------------------------------------------------- properties

_RELATIONS = {"<": operator.lt, ">": operator.gt, "<=": operator.le, ">=": operator.ge, "==": operator.eq,
              "!=": operator.ne, "lt": operator.lt, "gt": operator.gt, "le": operator.le, "ge": operator.ge,
              "eq": operator.eq, "ne": operator.ne}


@given(a=st.integers(-(10**12), 10**12), b=st.integers(-(10**12), 10**12), op=st.sampled_from(sorted(_RELATIONS)))
def test_relations_agree_with_python(a: int, b: int, op: str) -> None:
    expected = _RELATIONS[op](a, b)
    assert ev(f"${{a {op} b}}", {"a": a, "b": b}) is expected
    assert ev(f"${{a {op} {b}}}", {"a": a}) is expected
    assert ev(f"${{a {op} b}}", {"a": str(a), "b": b}) is expected


@given(a=st.integers(-(10**9), 10**9), b=st.integers(-(10**9), 10**9))
def test_arithmetic_agrees_with_python(a: int, b: int) -> None:
    variables = {"a": a, "b": b}
    assert ev("${a + b}", variables) == a + b
    assert ev("${a - b}", variables) == a - b
    assert ev("${a * b}", variables) == a * b
    if b != 0:
        assert ev("${a / b}", variables) == a / b
        assert ev("${a % b}", variables) == int(math.fmod(a, b))


_EL_ALPHABET = st.sampled_from([*"ab01 .'\"()[]?:!=<>&|+-*/%$#{}\\e", "and", "empty", "null", "caseInstance"])


@given(st.text(max_size=40) | st.lists(_EL_ALPHABET, max_size=25).map("".join))
def test_parser_only_raises_expression_error(body: str) -> None:
    for source in (f"${{{body}}}", body):
        with contextlib.suppress(ExpressionError):
            compile_expression(source)


_VALUES = st.none() | st.booleans() | st.integers(-5, 5) | st.floats(allow_nan=False) | st.text(max_size=3) | st.lists(
    st.integers(0, 2), max_size=2
) | st.dictionaries(st.sampled_from(["a", "b"]), st.integers(0, 2), max_size=2)


@given(st.lists(_EL_ALPHABET, min_size=1, max_size=20).map("".join), st.dictionaries(st.sampled_from(["a", "b", "e"]),
                                                                                     _VALUES))
def test_evaluator_only_raises_evaluation_error(body: str, variables: dict[str, Any]) -> None:
    try:
        expression = compile_expression(f"${{{body}}}")
    except ExpressionError:
        return
    with contextlib.suppress(EvaluationError):
        expression.evaluate_bool(variables)
