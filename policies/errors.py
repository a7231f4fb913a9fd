"""Errors of the policy engine: one root, each subclass carrying the data a caller needs."""

from __future__ import annotations

from typing import ClassVar

__all__ = [
    "DurationOverflowError",
    "InvalidDurationError",
    "InvalidHoldCriteria",
    "NaiveDatetimeError",
    "PolicyError",
    "PolicyFileUnreadableError",
    "PolicyValidationError",
]


class PolicyError(Exception):
    """Root of every error raised by ``policies``.

    Attributes:
        retriable: Whether trying the same call again could succeed. Policy decisions are
            pure, so none of them is: the input has to change.
    """

    retriable: ClassVar[bool] = False


class InvalidDurationError(PolicyError, ValueError):
    """A text is not an ISO 8601 duration keepline accepts."""

    def __init__(self, text: str, message: str) -> None:
        super().__init__(f"{text!r}: {message}")
        self.text = text
        self.message = message


class NaiveDatetimeError(PolicyError, ValueError):
    """A datetime without a timezone was given where only aware ones are meaningful."""

    def __init__(self, field: str) -> None:
        super().__init__(f"{field} must be a timezone-aware datetime")
        self.field = field


class DurationOverflowError(PolicyError, OverflowError):
    """Adding a duration to a datetime leaves the range of representable dates."""

    def __init__(self, duration: str, start_at: str) -> None:
        super().__init__(f"{start_at} + {duration} is beyond the last representable date")
        self.duration = duration
        self.start_at = start_at


class PolicyValidationError(PolicyError, ValueError):
    """A policy file does not parse or validate; names the source, line and field."""

    def __init__(self, *, source: str, line: int, field: str, message: str) -> None:
        self.source = source
        self.line = line
        self.field = field
        self.message = message
        super().__init__(str(self))

    def __str__(self) -> str:
        # An empty field means the error concerns the document itself (YAML syntax, an
        # empty file), so there is no field to name.
        if self.field:
            return f"{self.source}:{self.line}: {self.field}: {self.message}"
        return f"{self.source}:{self.line}: {self.message}"


class PolicyFileUnreadableError(PolicyError):
    """A policy file cannot be read at all (missing, not permitted, not UTF-8)."""

    def __init__(self, path: str, reason: str) -> None:
        super().__init__(f"{path}: {reason}")
        self.path = path
        self.reason = reason


# The name states the verdict on the criteria, in the manner of faust's exception names.
class InvalidHoldCriteria(PolicyError, ValueError):  # noqa: N818
    """Legal-hold criteria are malformed or would cover everything; names the field."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(f"{field}: {message}" if field else message)
        self.field = field
        self.message = message
