"""Answers to a subject's requests, as the service returns them (`api.presenters` shows them)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from service.disclosures.models import Recipient
from storage.models import Change


@dataclass(frozen=True, slots=True)
class ConsentResult:
    """What a consent grant or withdrawal did."""

    subject_id: str
    purpose: str
    granted: bool
    change: Change
    items_changed: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class ObjectionResult:
    """What an objection did; ``purposes`` None means every legitimate-interests purpose."""

    subject_id: str
    purposes: tuple[str, ...] | None
    ignored: tuple[str, ...]
    items_changed: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class RestrictionResult:
    """What a restriction or its lifting did."""

    subject_id: str
    restricted: bool
    change: Change
    lifting_at: datetime | None = None
    recipients: tuple[Recipient, ...] = ()


@dataclass(frozen=True, slots=True)
class RetainedItem:
    """An item an erasure request could not erase, and why.

    Attributes:
        item_id: The item.
        reason: ``legal_hold:<matter>`` or ``legal_obligation:<purpose>``.
        deferred: Whether it is erased once the last hold covering it is released.
        dropped_purposes: The purposes this request removed (the reason does not need them).
        kept_purposes: The purposes the item keeps for the reason.
    """

    item_id: str
    reason: str
    deferred: bool
    dropped_purposes: tuple[str, ...] = ()
    kept_purposes: tuple[str, ...] = ()

    def as_record(self) -> dict[str, Any]:
        """``{"item_id", "reason"}`` and what changed, as the erasure's outcome records it."""
        return {
            "item_id": self.item_id,
            "reason": self.reason,
            "dropped_purposes": list(self.dropped_purposes),
            "kept_purposes": list(self.kept_purposes),
        }


@dataclass(frozen=True, slots=True)
class ErasureResult:
    """The answer to an erasure request, item by item."""

    request_id: str
    subject_id: str
    erased: tuple[str, ...]
    retained: tuple[RetainedItem, ...]
    recipients: tuple[Recipient, ...] = ()

    @property
    def deferred(self) -> tuple[str, ...]:
        """Items queued until the last hold covering them is released."""
        return tuple(r.item_id for r in self.retained if r.deferred)

    def as_record(self) -> dict[str, Any]:
        """The outcome the catalog and the audit entry record for the request.

        ``{"erased": [..], "retained": [{"item_id", "reason"}..]}`` plus the request id.
        """
        return {
            "request_id": self.request_id,
            "subject_id": self.subject_id,
            "erased": list(self.erased),
            "retained": [r.as_record() for r in self.retained],
            "deferred": list(self.deferred),
            "recipients_to_inform": [r.to_json() for r in self.recipients],
        }
