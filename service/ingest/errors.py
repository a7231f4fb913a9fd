"""Errors of ingest: why an event can never be accepted, and sources that may answer later."""

from __future__ import annotations

from enum import StrEnum

from service.errors import ServiceError


class DeadLetterReason(StrEnum):
    """Why an input message could not be accepted (the `reason` of a dead letter)."""

    INVALID_JSON = "invalid_json"
    SCHEMA_VIOLATION = "schema_violation"
    UNKNOWN_TYPE = "unknown_type"
    CONTENT_MISSING = "content_missing"
    CHECKSUM_MISMATCH = "checksum_mismatch"
    SIZE_MISMATCH = "size_mismatch"
    INLINE_TOO_LARGE = "inline_too_large"
    CONTENT_FORBIDDEN = "content_forbidden"
    INTERNAL_ERROR = "internal_error"
    #: The (source, event_id) of an item already stored, republished with other content.
    CONFLICTING_DUPLICATE = "conflicting_duplicate"


class IngestError(ServiceError):
    """Root of ingest's errors."""


class BadEventError(IngestError):
    """The input can never be accepted; it goes to the dead-letter topic."""

    def __init__(self, reason: DeadLetterReason, error: str, *, field: str | None = None) -> None:
        super().__init__(f"{reason}: {error}")
        self.reason = reason
        self.error = error
        self.field = field


class ContentUnavailableError(IngestError):
    """The content's source did not answer now; try again later."""

    retriable = True

    def __init__(self, scheme: str, detail: str) -> None:
        super().__init__(f"{scheme} source unavailable: {detail}")
        self.scheme = scheme
        self.detail = detail
