"""Domain errors. The web layer maps each class to one HTTP status in a single table."""

from __future__ import annotations


class DomainError(Exception):
    """Base class: carries a message a call-taker or API client can act on."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class NotFound(DomainError):
    """The thing asked for does not exist (or is not visible to this user)."""


class InvalidTransition(DomainError):
    """A lifecycle step that the state machine does not allow from the current state."""


class Conflict(DomainError):
    """The request clashes with current state (unit already busy, name taken...)."""


class Invalid(DomainError):
    """Input that is well-formed but makes no sense for the domain (unknown incident type...)."""


class Forbidden(DomainError):
    """The user's role does not allow this action."""
