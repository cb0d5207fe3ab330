"""Demo models shipped with casework and a guided walk through one case."""

from __future__ import annotations

from importlib import resources
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # the model loads the expression engine: not for `casework demo --help`
    from casework.model import CaseDefinition


def demo_model_names() -> list[str]:
    folder = resources.files("casework.demo").joinpath("models")
    return sorted(p.name for p in folder.iterdir() if p.name.endswith(".cmmn"))


def demo_model_xml(name: str) -> str:
    return resources.files("casework.demo").joinpath("models", name).read_text(encoding="utf-8")


def demo_definition(name: str = "insurance_claim.cmmn") -> CaseDefinition:
    from casework.model import load_definition

    return load_definition(demo_model_xml(name))
