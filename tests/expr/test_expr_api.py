"""The public surface of casework.expr: language dispatch, the Expression value type, and error types."""

from __future__ import annotations

import dataclasses

import pytest

from casework.expr import EvaluationError, Expression, ExpressionError, compile_expression


def test_error_types_have_the_documented_bases() -> None:
    assert issubclass(ExpressionError, ValueError)
    assert issubclass(EvaluationError, RuntimeError)


@pytest.mark.parametrize("source", ["", "   ", "\n\t"])
def test_empty_text_is_rejected(source: str) -> None:
    with pytest.raises(ExpressionError, match="empty"):
        compile_expression(source)


def test_language_dispatch() -> None:
    assert compile_expression("${a}").language == "juel"
    assert compile_expression(" #{a} ").language == "juel"
    assert compile_expression("a").language == "cel"
    # the same text means different things: JUEL tolerates a missing variable, CEL does not
    assert compile_expression("${a}").evaluate({}) is None
    with pytest.raises(EvaluationError, match="'a' is not defined"):
        compile_expression("a").evaluate({})


def test_expression_is_frozen_hashable_and_keeps_source() -> None:
    expression = compile_expression("${amount > 1000}")
    assert expression.source == "${amount > 1000}"
    assert expression.variables == frozenset({"amount"})
    with pytest.raises(dataclasses.FrozenInstanceError):
        expression.source = "x"  # type: ignore[misc]
    assert {expression: 1}[compile_expression("${amount > 1000}")] == 1


def test_direct_construction_compiles_the_source() -> None:
    expression = Expression("${x + 1}", frozenset({"x"}))
    assert expression.evaluate({"x": 1}) == 2
    assert expression == compile_expression("${x + 1}")
    with pytest.raises(ExpressionError):
        Expression("${x +}", frozenset())


def test_local_defaults_to_empty_and_is_not_mutated() -> None:
    local = {"repetitionCounter": 1}
    assert compile_expression("${repetitionCounter}").evaluate({}) is None
    assert compile_expression("${repetitionCounter}").evaluate({}, local) == 1
    assert local == {"repetitionCounter": 1}


def test_evaluation_does_not_mutate_variables() -> None:
    variables = {"a": {"b": [1]}}
    compile_expression("${a.b[0] + 1}").evaluate(variables)
    compile_expression("a.b[0] + 1").evaluate(variables)
    assert variables == {"a": {"b": [1]}}
