"""Errors the engine reports to its callers."""

from __future__ import annotations


class CommandRejected(ValueError):
    """The command does not apply to the case in its current state; nothing was changed."""


class UnknownItem(LookupError):
    """A name or id that designates no item of the case, or more than one: the message says which."""
