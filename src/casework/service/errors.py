"""What the service raises besides the engine's own `CommandRejected` (bad command for the case's state)."""

from __future__ import annotations


class ServiceError(Exception):
    """Base class of service errors."""


class NotFound(ServiceError, LookupError):
    """No such case or definition (HTTP 404)."""


class Conflict(ServiceError):
    """The case changed under the command and the command no longer applies, or the id is taken (HTTP 409).

    Nothing was written.
    """


class InvalidInput(ServiceError, ValueError):
    """The request itself is malformed (HTTP 400); nothing was written."""


class DocumentTooLarge(InvalidInput):
    """A document is larger than CASEWORK_MAX_DOCUMENT_MB allows (HTTP 413); nothing was stored."""

    def __init__(self, message: str, limit: int) -> None:
        super().__init__(message)
        self.limit = limit


class Corrupt(ServiceError):
    """What is stored contradicts itself, e.g. a case row names events the log does not hold (HTTP 500).

    `casework audit verify` names the first bad event.
    """


class ServiceClosed(ServiceError, RuntimeError):
    """The service was closed: it takes no more commands (HTTP 503 while a server shuts down)."""


class OutcomeUnknown(ServiceError):
    """The connection to the database was lost as the change was committed, and the database could not be reached
    again to tell whether it was (HTTP 503): it may have been written. Read the case's log before sending it again;
    a case start sent again with the same idempotency or business key starts the case at most once."""

    def __init__(self, message: str, case_id: str) -> None:
        super().__init__(message)
        self.case_id = case_id

    @classmethod
    def of(cls, case_id: str, what: str, cause: BaseException, then: str) -> OutcomeUnknown:
        """`what` (the command, the start) on case `case_id` lost its connection with `cause`; `then`: how the
        caller finds out, in the words of that case."""
        reason = (str(getattr(cause, "orig", None) or cause).strip().splitlines() or [type(cause).__name__])[0]
        return cls(f"case {case_id}: {what} may or may not have been written: the connection to the database was "
                   f"lost as it was committed, and the database could not be reached again to tell ({reason}); "
                   f"{then}", case_id)
