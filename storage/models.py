"""Records of the storage context: what the catalog and the object store hold."""

from __future__ import annotations

import base64
import binascii
import re
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from typing import Any

from policies.models import Hold, HoldCriteria
from policies.review import ReviewState
from storage.errors import FormatError


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
    submitted_by: str | None = None

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
class S3State:
    """What the object store has been told about one item's object: its lock state.

    Attributes:
        item_id: The item.
        legal_hold: Whether its object carries the legal-hold flag.
        retain_until: The Object Lock retention date set on it, if any.
    """

    item_id: str
    legal_hold: bool
    retain_until: datetime | None


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


@dataclass(frozen=True, slots=True)
class HoldRecord:
    """A legal hold as the catalog knows it, with the number of items it covers now.

    Attributes:
        hold_id: The hold's id.
        matter: The legal matter.
        description: Free text from the legal team.
        criteria: Which items it covers.
        created_by: The principal who placed it.
        created_at: When it was placed.
        released_at: When it was released; None while active.
        released_by: Who released it.
        matched: Items covered (stored, not destroyed) at the time of reading.
        release_reason: Why it was released, as the releaser gave it; None if not given.
        flags_pending: Covered (or, once released, freed) items whose object's S3 lock state
            is still to be brought in line with the catalog; 0 when every flag is in place.
    """

    hold_id: str
    matter: str
    description: str
    criteria: HoldCriteria
    created_by: str
    created_at: datetime
    released_at: datetime | None
    released_by: str | None
    matched: int
    release_reason: str | None = None
    flags_pending: int = 0

    @property
    def active(self) -> bool:
        """Whether the hold is in force."""
        return self.released_at is None

    def to_hold(self) -> Hold:
        """The policy engine's view of the hold."""
        return Hold(
            hold_id=self.hold_id,
            matter=self.matter,
            criteria=self.criteria,
            released_at=self.released_at,
        )


@dataclass(frozen=True, slots=True)
class Destruction:
    """What one destroying transaction did.

    Attributes:
        destroyed: The items destroyed by it, in id order.
        held: Items left as they were because an active hold covers them: (hold_id, matter)
            of the first such hold.
    """

    destroyed: tuple[str, ...]
    held: Mapping[str, tuple[str, str]]


@dataclass(frozen=True, slots=True)
class AuditDraft:
    """An entry to append: the chain gives it its seq and hashes."""

    actor: str
    action: str
    at: datetime
    item_id: str | None = None
    details: Mapping[str, Any] | None = None


@dataclass(frozen=True, slots=True)
class AuditEntry:
    """One link of the chain."""

    seq: int
    at: datetime
    actor: str
    action: str
    item_id: str | None
    details: dict[str, Any]
    prev_hash: str
    hash: str

    def as_record(self) -> dict[str, Any]:
        """The entry's canonical form, as the audit topic carries it."""
        return {
            "seq": self.seq,
            "at": self.at.isoformat(),
            "actor": self.actor,
            "action": self.action,
            "item_id": self.item_id,
            "details": self.details,
            "prev_hash": self.prev_hash,
            "hash": self.hash,
        }


@dataclass(frozen=True, slots=True)
class ChainVerdict:
    """The result of recomputing the chain."""

    ok: bool
    entries: int
    head: str
    first_broken_seq: int | None = None


#: The objection row that stands for every legitimate-interests purpose.
ALL_PURPOSES = "*"


class Change(StrEnum):
    """What recording a decision did to the state on file."""

    CHANGED = "changed"
    UNCHANGED = "unchanged"
    #: The state on file was kept: not the requester's to change (an event lifting the
    #: privacy team's restriction).
    KEPT = "kept"


@dataclass(frozen=True, slots=True)
class SubjectState:
    """Everything on file about one data subject's choices.

    Attributes:
        subject_id: The subject.
        restricted: Whether processing of the subject's items is restricted.
        consents: Purpose name to granted (True) or withdrawn (False).
        objections: Purposes objected to; ``*`` stands for every legitimate-interests one.
    """

    subject_id: str
    restricted: bool
    consents: Mapping[str, bool]
    objections: frozenset[str]

    def as_record(self) -> dict[str, Any]:
        """The state as plain JSON values (as a subject's export file holds it)."""
        return {
            "subject_id": self.subject_id,
            "restricted": self.restricted,
            "consents": dict(sorted(self.consents.items())),
            "objections": sorted(self.objections),
        }


@dataclass(frozen=True, slots=True)
class DeferredErasure:
    """An item whose erasure waits for the last hold covering it to be released."""

    request_id: str
    item_id: str
    queued_at: datetime


Renew = Callable[[], Awaitable[bool]]


@dataclass(frozen=True, slots=True)
class NewItem:
    """An item to insert already stored: everything the catalog keeps of it."""

    source: str
    event_id: str
    item_type: str
    occurred_at: datetime
    ingested_at: datetime
    policy_version: str
    event: Mapping[str, Any]
    parties: Sequence[PartyRow]
    attributes: Mapping[str, str]
    purposes: Sequence[PurposeRow]
    hold_ids: Sequence[str]
    submitted_by: str | None = None
    event_sha256: str | None = None


@dataclass(frozen=True, slots=True)
class ClaimCommit:
    """A pending claim's content, purposes and holds, to commit while it is still pending."""

    item_id: str
    stored: StoredContent | None
    purposes: Sequence[PurposeRow]
    hold_ids: Sequence[str]
    s3_synced: bool
    s3_retain_until: datetime | None = None


@dataclass(frozen=True, slots=True)
class Lease:
    """Who holds a lease, and until when."""

    name: str
    holder: str
    expires_at: datetime


@dataclass(frozen=True, slots=True)
class ObjectOwner:
    """The catalog row that names an object, and the version it committed."""

    item_id: str
    status: ItemStatus
    object_key: str
    version_id: str | None


OBJECT_PREFIX = "items/"
_KEY_ID = re.compile(r"[A-Za-z0-9._-]{1,32}")


def object_key_for(item_id: str) -> str:
    """The object name of an item: its random id only, never personal data."""
    return f"{OBJECT_PREFIX}{item_id[:2]}/{item_id}"


@dataclass(frozen=True, slots=True)
class WrappedKey:
    """A data key encrypted under one version of the key-encryption key.

    Attributes:
        key_id: Id of the KEK version that wrapped it (not secret).
        ciphertext: Format byte, 12-byte nonce, encrypted key and 16-byte tag (61 bytes).
    """

    key_id: str
    ciphertext: bytes = field(repr=False)

    def __repr__(self) -> str:
        return f"WrappedKey(key_id={self.key_id!r}, ciphertext=<{len(self.ciphertext)} bytes>)"

    def to_str(self) -> str:
        """Return the catalog form ``"<key_id>:<base64 ciphertext>"``."""
        return f"{self.key_id}:{base64.b64encode(self.ciphertext).decode('ascii')}"

    @classmethod
    def from_str(cls, text: str) -> WrappedKey:
        """Parse the catalog form written by ``to_str``.

        Raises:
            FormatError: Not ``"<key_id>:<base64>"``.
        """
        key_id, sep, encoded = text.partition(":")
        try:
            ciphertext = base64.b64decode(encoded, validate=True)
        except binascii.Error:
            raise FormatError("malformed wrapped key") from None
        if not sep or not _KEY_ID.fullmatch(key_id):
            raise FormatError("malformed wrapped key")
        return cls(key_id, ciphertext)


@dataclass(frozen=True, slots=True)
class Signature:
    """A detached Ed25519 signature and the id of the key that made it.

    Attributes:
        kid: The signing key's id (its RFC 7638 thumbprint), as listed in the signing keys.
        value: The 64-byte signature.
    """

    kid: str
    value: bytes = field(repr=False)


@dataclass(frozen=True, slots=True)
class ReviewRecord:
    """One disposition review of an item, as the catalog keeps it.

    Attributes:
        review_id: The review's id.
        item_id: The item.
        purposes: The purposes that asked for the review.
        state: ``pending``, ``destroy`` (decided; the sweeper destroys) or ``extended``.
        opened_at: When the sweeper opened it.
        decided_at: When a reviewer decided.
        decided_by: The reviewer's principal.
        justification: Why, in the reviewer's words.
        extend_by: For an extension, the ISO 8601 duration given.
        expires_at: For an extension, the purposes' new expiry.
    """

    review_id: str
    item_id: str
    purposes: tuple[str, ...]
    state: ReviewState
    opened_at: datetime
    decided_at: datetime | None = None
    decided_by: str | None = None
    justification: str | None = None
    extend_by: str | None = None
    expires_at: datetime | None = None


class ProductionStatus(StrEnum):
    """Where a legal production stands."""

    QUEUED = "queued"
    RUNNING = "running"
    READY = "ready"
    FAILED = "failed"


#: The states in which a production still needs the items it names.
OPEN_PRODUCTION_STATES = frozenset({ProductionStatus.QUEUED, ProductionStatus.RUNNING})


@dataclass(frozen=True, slots=True, kw_only=True)
class ProductionRecord:
    """One legal production as the catalog records it.

    Attributes:
        stored: The sealed zip, once the production is ready.
        kid: The signing key that signed its manifest.
    """

    production_id: str
    hold_id: str
    matter: str
    status: ProductionStatus
    requested_by: str
    requested_at: datetime
    items_total: int
    items_done: int = 0
    bytes_done: int = 0
    attempts: int = 0
    started_at: datetime | None = None
    finished_at: datetime | None = None
    error: str | None = None
    stored: StoredContent | None = None
    kid: str | None = None


@dataclass(frozen=True, slots=True)
class DisclosureRecord:
    """One entry of the register of disclosures to third parties.

    Attributes:
        disclosure_id: The entry's id.
        recipient: Who received the items (an authority, a court, a firm).
        legal_basis: Why the disclosure was lawful (a court order, a crime-prevention request).
        reference: The recipient's or the legal team's reference for the request.
        hold_id: The hold whose items were disclosed, when it was a hold's items.
        disclosed_at: When the items were handed over.
        recorded_by: The principal who entered it.
        recorded_at: When it was entered.
        item_ids: The items disclosed (of one subject only, when listed for a subject).
    """

    disclosure_id: str
    recipient: str
    legal_basis: str
    reference: str
    hold_id: str | None
    disclosed_at: datetime
    recorded_by: str
    recorded_at: datetime
    item_ids: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class Notice:
    """A notice the privacy team owes, as the notices topic carries it.

    Attributes:
        notice_id: Its id (the record's key on the topic).
        created_at: When it was written.
        subject_id: The data subject it concerns.
        action: ``restriction_lifting`` or ``recipients_to_inform``.
        body: The message: ``subject_id``, ``action`` and what the action needs.
    """

    notice_id: int
    created_at: datetime
    subject_id: str
    action: str
    body: Mapping[str, Any]


@dataclass(frozen=True, slots=True)
class AuditCheckpoint:
    """A signed checkpoint of the audit chain head.

    Attributes:
        seq: The head entry's seq when the checkpoint was taken.
        hash: That entry's hash.
        at: When it was signed.
        kid: The signing key's id (listed at /v1/signing-keys).
        signature: Ed25519 over `checkpoint_message(seq, hash, at)`, base64url.
    """

    seq: int
    hash: str
    at: datetime
    kid: str
    signature: str

    def as_record(self) -> dict[str, Any]:
        """The checkpoint's canonical form, as the audit topic carries it."""
        return {
            "seq": self.seq,
            "hash": self.hash,
            "at": self.at.isoformat(),
            "kid": self.kid,
            "signature": self.signature,
        }


@dataclass(frozen=True, slots=True)
class CheckpointVerdict:
    """The result of checking the chain against its signed checkpoints."""

    ok: bool
    checked: int
    first_broken_seq: int | None = None


@dataclass(frozen=True, slots=True)
class WrappedKeyRow:
    """An item's wrapped data key, as the catalog holds it."""

    item_id: str
    key_id: str | None
    wrapped_key: str


@dataclass(frozen=True, slots=True)
class RewrappedKey:
    """A data key re-wrapped under another KEK, and the value it replaces."""

    item_id: str
    old_wrapped_key: str
    key_id: str
    wrapped_key: str
