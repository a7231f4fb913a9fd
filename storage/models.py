"""Records of the storage context: what the catalog and the object store hold."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from typing import Any


class ItemStatus(StrEnum):
    """Lifecycle of a catalog row."""

    PENDING = "pending"
    STORED = "stored"
    DESTROYED = "destroyed"


@dataclass(frozen=True, slots=True)
class ContentInfo:
    """What the caller may know of an item's plaintext content."""

    size_bytes: int
    sha256: str
    content_type: str


@dataclass(frozen=True, slots=True)
class StoredContent:
    """An encrypted object as written: where it is and how to open it."""

    object_key: str
    version_id: str | None
    ciphertext_size_bytes: int
    segment_size_bytes: int
    key_id: str
    wrapped_key: str
    content: ContentInfo


@dataclass(frozen=True, slots=True)
class PurposeRow:
    """One purpose attached to an item."""

    name: str
    basis: str
    expires_at: datetime
    worm: bool = False


@dataclass(frozen=True, slots=True)
class PartyRow:
    """The searchable identifiers of one party."""

    address: str | None
    subject_id: str | None
    staff_id: str | None


@dataclass(frozen=True, slots=True)
class Claim:
    """The outcome of claiming an idempotency key (source, event_id)."""

    item_id: str
    status: ItemStatus
    created: bool


@dataclass(frozen=True, slots=True)
class ItemRecord:
    """One item as the catalog knows it."""

    item_id: str
    source: str
    event_id: str
    type: str
    status: ItemStatus
    occurred_at: datetime
    ingested_at: datetime
    policy_version: str
    event: dict[str, Any]
    stored: StoredContent | None
    purposes: tuple[PurposeRow, ...] = ()
    hold_ids: tuple[str, ...] = ()
    restricted: bool = False
    s3_legal_hold: bool = False
    s3_retain_until: datetime | None = None
    s3_synced: bool = True

    @property
    def subject_ids(self) -> frozenset[str]:
        """Data subjects taking part."""
        return frozenset(
            p["subject_id"] for p in self.event.get("parties", []) if p.get("subject_id")
        )

    @property
    def staff_ids(self) -> frozenset[str]:
        """Staff taking part."""
        return frozenset(p["staff_id"] for p in self.event.get("parties", []) if p.get("staff_id"))

    @property
    def addresses(self) -> frozenset[str]:
        """Addresses of the parties."""
        return frozenset(p["address"] for p in self.event.get("parties", []) if p.get("address"))

    @property
    def attributes(self) -> dict[str, str]:
        """The event's attributes."""
        return dict(self.event.get("attributes") or {})


@dataclass(frozen=True, slots=True)
class ItemQuery:
    """Filters of GET /v1/items; all given filters must match."""

    purpose: str | None = None
    type: str | None = None
    subject_id: str | None = None
    staff_id: str | None = None
    since: datetime | None = None
    until: datetime | None = None
    attributes: dict[str, str] = field(default_factory=dict)
    unexpired_at: datetime | None = None
    exclude_restricted: bool = False
    limit: int = 50
    cursor: tuple[datetime, str] | None = None


@dataclass(frozen=True, slots=True)
class ItemPage:
    """One page of items, newest first, and where the next page starts."""

    items: tuple[ItemRecord, ...]
    next_cursor: tuple[datetime, str] | None
