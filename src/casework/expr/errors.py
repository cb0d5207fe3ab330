"""Exception types shared by the expression front ends (kept apart so backends need not import the package root)."""

from __future__ import annotations

__all__ = ["EvaluationError", "ExpressionError"]


class ExpressionError(ValueError):
    """The expression text cannot be compiled; the message names the position and the problem."""


class EvaluationError(RuntimeError):
    """A compiled expression failed while being evaluated (type mismatch, missing CEL variable, ...)."""


def excerpt(source: str, pos: int = 0, width: int = 60) -> str:
    """The expression as an error quotes it: whole if short, else the part around `pos`, the problem's position (a
    generated model's 10,000-character condition must not fill the screen)."""
    if len(source) <= 2 * width:
        return source
    lo = max(0, min(pos - width, len(source) - 2 * width))
    hi = lo + 2 * width
    return ("..." if lo else "") + source[lo:hi] + ("..." if hi < len(source) else "")
