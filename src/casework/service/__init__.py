"""Use cases over the engine and the store: deploy models, start cases, run commands durably."""

from __future__ import annotations

from typing import TYPE_CHECKING

from casework.lazy import lazy_exports

if TYPE_CHECKING:
    from casework.service.errors import (
        Conflict,
        Corrupt,
        DocumentTooLarge,
        InvalidInput,
        NotFound,
        OutcomeUnknown,
        ServiceClosed,
        ServiceError,
    )
    from casework.service.service import CaseResult, CaseService, utc_now

# Loaded on first use (the service brings the engine and the store): `casework` imports casework.service.cli, and
# with it this file, for every command.
__getattr__ = lazy_exports(__name__, {
    "casework.service.errors": ("Conflict", "Corrupt", "DocumentTooLarge", "InvalidInput", "NotFound",
                                "OutcomeUnknown", "ServiceClosed", "ServiceError"),
    "casework.service.service": ("CaseResult", "CaseService", "utc_now"),
})

__all__ = [
    "CaseResult",
    "CaseService",
    "Conflict",
    "Corrupt",
    "DocumentTooLarge",
    "InvalidInput",
    "NotFound",
    "OutcomeUnknown",
    "ServiceClosed",
    "ServiceError",
    "utc_now",
]
