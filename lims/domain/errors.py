"""Domain errors. Each carries a message a bench technician can act on.

The API maps each class to one HTTP status in one place (lims/api/problems.py).
"""

from __future__ import annotations

from collections.abc import Callable


class DomainError(Exception):
    """Base class: a rule of the lab refused the request."""

    title = "Request refused"

    def __init__(self, detail: str, **extra: object) -> None:
        super().__init__(detail)
        self.detail = detail
        self.extra = extra
        # Something to record although the request fails (a failed sign-in or signature,
        # an unknown tube at the bench): run by the unit of work after the rollback.
        self.keep: Callable[[], object] | None = None

    def keeping(self, record: Callable[[], object]) -> DomainError:
        self.keep = record
        return self


class NotFound(DomainError):
    title = "Not found"


class Invalid(DomainError):
    """The request itself is malformed or incomplete (missing reason, bad value)."""

    title = "Invalid request"


class Conflict(DomainError):
    """The request clashes with the current state of the record."""

    title = "Conflict with the current record"


class IllegalTransition(Conflict):
    title = "Step not allowed in this state"


class GuardFailed(Conflict):
    title = "Step blocked by a rule"


class StaleVersion(DomainError):
    """The caller's copy (If-Match) is older than the stored record."""

    title = "Record changed since you loaded it"


class NotPermitted(DomainError):
    title = "Not permitted for your role"


class NotAuthenticated(DomainError):
    title = "Sign-in required"


class TooManyAttempts(DomainError):
    """Throttled: too many failed attempts from one place; try again later."""

    title = "Too many attempts"
