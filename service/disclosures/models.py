"""Requests to the disclosure register, and its entries as the API shows them."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from storage.models import DisclosureRecord

#: Items named in one entry; a larger disclosure is a hold's items (``hold_id``).
MAX_DISCLOSED_ITEMS = 10_000


@dataclass(frozen=True, slots=True, kw_only=True)
class RecordDisclosure:
    """A disclosure to enter: of the items named, or of every item a hold covers.

    Attributes:
        recipient: Who received the items.
        legal_basis: Why handing them over was lawful.
        reference: The request's reference (a court order number, a police reference).
        disclosed_at: When the items were handed over (aware).
        item_ids: The items disclosed; empty when hold_id is given.
        hold_id: The hold whose covered items were disclosed.
    """

    recipient: str
    legal_basis: str
    reference: str
    disclosed_at: datetime
    item_ids: tuple[str, ...] = ()
    hold_id: str | None = None


def disclosure_json(entry: DisclosureRecord) -> dict[str, Any]:
    """One entry as the API and the access report show it."""
    return {
        "disclosure_id": entry.disclosure_id,
        "recipient": entry.recipient,
        "legal_basis": entry.legal_basis,
        "reference": entry.reference,
        "hold_id": entry.hold_id,
        "item_ids": list(entry.item_ids),
        "item_count": len(entry.item_ids),
        "disclosed_at": entry.disclosed_at.isoformat(),
        "recorded_by": entry.recorded_by,
        "recorded_at": entry.recorded_at.isoformat(),
    }


@dataclass(frozen=True, slots=True)
class Recipient:
    """A recipient of earlier disclosures who must be told of a change to a subject's data."""

    recipient: str
    disclosure_id: str
    reference: str
    item_ids: tuple[str, ...]

    def to_json(self) -> dict[str, Any]:
        """``{"recipient", "disclosure_id", "reference", "item_ids"}``."""
        return {
            "recipient": self.recipient,
            "disclosure_id": self.disclosure_id,
            "reference": self.reference,
            "item_ids": list(self.item_ids),
        }


def recipients_of(entries: list[DisclosureRecord]) -> tuple[Recipient, ...]:
    """The recipients to tell, one per disclosure, oldest disclosure first."""
    ordered = sorted(entries, key=lambda e: (e.disclosed_at, e.disclosure_id))
    return tuple(Recipient(e.recipient, e.disclosure_id, e.reference, e.item_ids) for e in ordered)
