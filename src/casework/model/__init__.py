"""Case definitions: CMMN 1.1 import and export, immutable definition objects."""

from casework.model.cmmn_export import to_xml
from casework.model.cmmn_import import load_definition
from casework.model.definition import (
    CaseDefinition,
    CaseFileItemDef,
    CaseRole,
    Criterion,
    OnPart,
    PlanItemDef,
    Rule,
    Sentry,
)
from casework.model.errors import ModelError, Problem

__all__ = [
    "CaseDefinition",
    "CaseFileItemDef",
    "CaseRole",
    "Criterion",
    "ModelError",
    "OnPart",
    "PlanItemDef",
    "Problem",
    "Rule",
    "Sentry",
    "load_definition",
    "to_xml",
]
