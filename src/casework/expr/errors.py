"""Exception types shared by the expression front ends (kept apart so backends need not import the package root)."""

from __future__ import annotations

__all__ = ["EvaluationError", "ExpressionError"]


class ExpressionError(ValueError):
    """The expression text cannot be compiled; the message names the position and the problem."""


class EvaluationError(RuntimeError):
    """A compiled expression failed while being evaluated (type mismatch, missing CEL variable, ...)."""
