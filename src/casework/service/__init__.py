"""Use cases over the engine and the store: deploy models, start cases, run commands durably."""

from __future__ import annotations

from casework.service.errors import Conflict, Corrupt, InvalidInput, NotFound, ServiceClosed, ServiceError
from casework.service.service import CaseResult, CaseService, utc_now

__all__ = [
    "CaseResult",
    "CaseService",
    "Conflict",
    "Corrupt",
    "InvalidInput",
    "NotFound",
    "ServiceClosed",
    "ServiceError",
    "utc_now",
]
