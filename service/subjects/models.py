"""Answers to a subject's requests, as the service returns them and the API shows them."""

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

    def to_json(self) -> dict[str, Any]:
        """The API's answer."""
        return {
            "subject_id": self.subject_id,
            "purpose": self.purpose,
            "granted": self.granted,
            "changed": self.change is Change.CHANGED,
            "items_changed": list(self.items_changed),
        }


@dataclass(frozen=True, slots=True)
class ObjectionResult:
    """What an objection did; ``purposes`` None means every legitimate-interests purpose."""

    subject_id: str
    purposes: tuple[str, ...] | None
    ignored: tuple[str, ...]
    items_changed: tuple[str, ...]

    def to_json(self) -> dict[str, Any]:
        """The API's answer: ``ignored`` names purposes an objection cannot remove."""
        return {
            "subject_id": self.subject_id,
            "purposes": None if self.purposes is None else list(self.purposes),
            "ignored": list(self.ignored),
            "items_changed": list(self.items_changed),
        }


@dataclass(frozen=True, slots=True)
class RestrictionResult:
    """What a restriction or its lifting did."""

    subject_id: str
    restricted: bool
    change: Change
    lifting_at: datetime | None = None
    recipients: tuple[Recipient, ...] = ()

    def to_json(self) -> dict[str, Any]:
        """The API's answer: ``restricted`` is what is in force now."""
        return {
            "subject_id": self.subject_id,
            "restricted": self.restricted,
            "changed": self.change is Change.CHANGED,
            "lifting_at": None if self.lifting_at is None else self.lifting_at.isoformat(),
            "recipients_to_inform": [r.to_json() for r in self.recipients],
        }


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

    def to_json(self) -> dict[str, Any]:
        """``{"item_id", "reason"}`` as SPEC section 7 answers it, and what changed."""
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

    def to_json(self) -> dict[str, Any]:
        """``{"erased": [..], "retained": [{"item_id", "reason"}..]}`` plus the request id."""
        return {
            "request_id": self.request_id,
            "subject_id": self.subject_id,
            "erased": list(self.erased),
            "retained": [r.to_json() for r in self.retained],
            "deferred": list(self.deferred),
            "recipients_to_inform": [r.to_json() for r in self.recipients],
        }
