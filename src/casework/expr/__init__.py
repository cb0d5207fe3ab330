"""Safe expression language for case models: Unified EL (JUEL) for imported models, CEL for casework's own.

Text wrapped in ``${...}`` or ``#{...}`` is JUEL; anything else is CEL. Neither path uses Python ``eval``.

Missing variables behave differently on purpose, following each language:

* JUEL: an unknown identifier is ``null`` (``None``), as in Flowable/Camunda, so ``${var1}`` with no ``var1``
  evaluates to ``None`` and ``evaluate_bool`` gives ``False``.
* CEL: a referenced variable absent from both ``local`` and the case variables raises :class:`EvaluationError`
  naming it; CEL has no implicit null.

``Expression.variables`` lists the case variables an expression may read so the engine can re-evaluate only the
conditions affected by a change; it is ``{"*"}`` when that cannot be known statically.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from functools import lru_cache
from types import MappingProxyType
from typing import Any, Final

from casework.expr.cel_backend import CelProgram
from casework.expr.errors import EvaluationError, ExpressionError
from casework.expr.juel import compile_juel, is_juel

__all__ = ["EvaluationError", "Expression", "ExpressionError", "compile_expression"]

_NO_LOCALS: Final[Mapping[str, Any]] = MappingProxyType({})
_Evaluator = Callable[[Mapping[str, Any], Mapping[str, Any]], Any]
_BoolEvaluator = Callable[[Mapping[str, Any], Mapping[str, Any]], bool]
# Evaluator bugs and odd values from the case file must still surface as EvaluationError.
_RUNTIME_FAILURES: Final = (TypeError, ValueError, LookupError, ArithmeticError, RecursionError)


@dataclass(frozen=True)
class Expression:
    """A compiled expression. Construct with :func:`compile_expression`; instances are immutable and hashable."""

    source: str
    variables: frozenset[str]
    language: str = field(default="", compare=False)
    _evaluator: _Evaluator | None = field(default=None, repr=False, compare=False)
    _bool_evaluator: _BoolEvaluator | None = field(default=None, repr=False, compare=False)

    def __post_init__(self) -> None:
        # Direct construction (e.g. in tests or deserialisation) still yields a working expression.
        if self._evaluator is None or self._bool_evaluator is None:
            compiled = compile_expression(self.source)
            object.__setattr__(self, "language", compiled.language)
            object.__setattr__(self, "_evaluator", compiled._evaluator)
            object.__setattr__(self, "_bool_evaluator", compiled._bool_evaluator)

    def evaluate(self, variables: Mapping[str, Any], local: Mapping[str, Any] | None = None) -> Any:
        """Evaluate against case ``variables``; names in ``local`` (e.g. ``repetitionCounter``) take precedence."""
        evaluator = self._evaluator
        assert evaluator is not None
        try:
            return evaluator(variables, _NO_LOCALS if local is None else local)
        except EvaluationError as exc:
            raise EvaluationError(f"cannot evaluate {self.source!r}: {exc}") from exc
        except _RUNTIME_FAILURES as exc:
            raise EvaluationError(f"cannot evaluate {self.source!r}: {type(exc).__name__}: {exc}") from exc

    def evaluate_bool(self, variables: Mapping[str, Any], local: Mapping[str, Any] | None = None) -> bool:
        """Evaluate as a condition: EL boolean coercion for JUEL, a strict ``bool`` result for CEL."""
        evaluator = self._bool_evaluator
        assert evaluator is not None
        try:
            return evaluator(variables, _NO_LOCALS if local is None else local)
        except EvaluationError as exc:
            raise EvaluationError(f"cannot evaluate {self.source!r}: {exc}") from exc
        except _RUNTIME_FAILURES as exc:
            raise EvaluationError(f"cannot evaluate {self.source!r}: {type(exc).__name__}: {exc}") from exc


MAX_SOURCE: Final = 10_000  # characters of one expression


@lru_cache(maxsize=4096)
def compile_expression(source: str) -> Expression:
    """Compile JUEL (``${...}``/``#{...}``) or CEL text; raises :class:`ExpressionError` on any syntax problem.

    Results are cached by source text because models repeat the same conditions and expressions are immutable.
    """
    if not isinstance(source, str):
        raise ExpressionError(f"expression must be a string, not {type(source).__name__}")
    if not source.strip():
        raise ExpressionError("expression is empty")
    if len(source) > MAX_SOURCE:
        # A condition is a line or two; a megabyte literal took CEL's compiler 19 s and 5 GB.
        raise ExpressionError(f"expression is {len(source):,} characters long; at most {MAX_SOURCE:,} are allowed")
    if is_juel(source):
        juel = compile_juel(source)
        return Expression(source, juel.variables, "juel", juel.evaluate, juel.evaluate_bool)
    program = CelProgram(source)
    return Expression(source, program.variables, "cel", program, program.evaluate_bool)
