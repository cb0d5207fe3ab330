"""Errors raised while importing or validating a case model."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Problem:
    element_id: str
    message: str

    def __str__(self) -> str:
        return f"{self.element_id}: {self.message}" if self.element_id else self.message


class ModelError(ValueError):
    """A model that cannot be used; ``problems`` lists every problem found, each naming its element."""

    def __init__(self, problems: list[Problem]) -> None:
        self.problems = list(problems)
        super().__init__("; ".join(str(p) for p in self.problems) or "invalid model")
