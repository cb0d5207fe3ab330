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


class Corrupt(ServiceError):
    """What is stored contradicts itself, e.g. a case row names events the log does not hold (HTTP 500).

    `casework audit verify` names the first bad event.
    """


class ServiceClosed(ServiceError, RuntimeError):
    """The service was closed: it takes no more commands (HTTP 503 while a server shuts down)."""
