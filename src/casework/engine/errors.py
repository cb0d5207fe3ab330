"""Errors the engine reports to its callers."""

from __future__ import annotations


class CommandRejected(ValueError):
    """The command does not apply to the case in its current state; nothing was changed."""
