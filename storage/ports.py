"""Ports of the storage context: every store the application layer talks to.

The use cases in `service/` are typed against these protocols only; `storage/sql_*`,
`storage/objects/minio_store.py` and `storage/objects/filesystem_store.py` implement them, and the
composition root (`keepline/root.py`) picks the implementations.
"""

from __future__ import annotations

import builtins
from collections.abc import AsyncIterator, Callable, Iterable, Iterator, Mapping, Sequence
from contextlib import AbstractAsyncContextManager
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, BinaryIO, Protocol

from policies.explanation import Removal
from policies.models import Hold, HoldCriteria, Policy
from policies.review import ReviewState
from storage.models import (
    AuditCheckpoint,
    AuditDraft,
    AuditEntry,
    ChainVerdict,
    Change,
    CheckpointVerdict,
    Claim,
    ClaimCommit,
    DeferredErasure,
    Destruction,
    DisclosureRecord,
    HoldRecord,
    ItemPage,
    ItemQuery,
    ItemRecord,
    Lease,
    NewItem,
    Notice,
    ObjectOwner,
    PartyRow,
    ProductionRecord,
    PurposeRow,
    Renew,
    ReviewRecord,
    RewrappedKey,
    S3State,
    Signature,
    StoredContent,
    SubjectState,
    WrappedKey,
    WrappedKeyRow,
)

__all__ = [
    "AuditCheckpoints",
    "AuditLog",
    "Catalog",
    "ContentSource",
    "DisclosureRegister",
    "HoldStore",
    "KeyRing",
    "Leases",
    "NoticeOutbox",
    "ObjectStore",
    "ObjectVersion",
    "PolicyStore",
    "ProductionStore",
    "PutResult",
    "RequestGuards",
    "Signer",
    "SubjectStore",
    "Vault",
    "WrappedKey",
]


@dataclass(frozen=True, slots=True)
class PutResult:
    """What the store answered to a completed upload."""

    key: str
    version_id: str | None
    size_bytes: int


@dataclass(frozen=True, slots=True)
class ObjectVersion:
    """One version of an object."""

    key: str
    version_id: str | None
    #: When the store last wrote it, where the listing tells (reconcile's minimum orphan age).
    modified_at: datetime | None = field(default=None, compare=False)


class ContentSource(Protocol):
    """Where an event's content is fetched from (its `content.uri`), as the operator allows."""

    def open(self, uri: str, *, size_bytes: int | None = None) -> Iterator[bytes]:
        """Chunks of the content at uri, at most size_bytes; blocking (run it in a thread)."""
        ...


class ObjectStore(Protocol):
    """Where ciphertext lives. Blocking calls: async callers run them in a thread."""

    def ensure_bucket(self) -> None:
        """Create the bucket (with Object Lock where supported) if it is missing."""
        ...

    def ping(self) -> None:
        """Raise ObjectStoreUnavailableError if the store cannot be reached."""
        ...

    def put_stream(
        self,
        key: str,
        reader: BinaryIO,
        *,
        content_type: str,
        tags: Mapping[str, str],
        retain_until: datetime | None = None,
    ) -> PutResult:
        """Upload everything reader yields (length unknown, multipart when large).

        With ``retain_until`` the new version is retained (Object Lock, the store's mode)
        from the moment it exists: no second call to lock it.
        """
        ...

    def get_range(
        self, key: str, version_id: str | None, *, offset: int, length: int
    ) -> Iterator[bytes]:
        """Stream length bytes from offset of one version."""
        ...

    def versions(self, key: str) -> list[ObjectVersion]:
        """Every version (and delete marker) of key."""
        ...

    def delete_versions(self, versions: list[ObjectVersion], *, bypass_governance: bool) -> None:
        """Remove the given versions for good."""
        ...

    def set_legal_hold(self, key: str, version_id: str | None, *, on: bool) -> None:
        """Set or clear the S3 legal-hold flag of one version."""
        ...

    def set_retention(self, key: str, version_id: str | None, *, until: datetime) -> None:
        """Put an Object Lock retention on one version until the given time."""
        ...

    def set_tags(self, key: str, version_id: str | None, tags: Mapping[str, str]) -> None:
        """Replace the tags of one version."""
        ...

    def list_keys(self, prefix: str) -> Iterator[str]:
        """Every key under prefix."""
        ...

    def list_versions(self, prefix: str) -> Iterator[ObjectVersion]:
        """Every version under prefix, the versions of one key together."""
        ...

    def protection(self) -> BucketProtection:
        """The bucket's versioning state and whether Object Lock is enabled on it."""
        ...

    def lock_state(self, key: str, version_id: str | None) -> tuple[bool, datetime | None]:
        """(legal hold on, retained until) of one version, as the store enforces them."""
        ...


class Catalog(Protocol):
    """The items: claims, stored items, their purposes, parties and object state."""

    async def active_hold_criteria(self) -> builtins.list[tuple[str, str, dict[str, Any]]]:
        """(hold_id, matter, criteria) of every unreleased hold."""
        ...

    async def claim(
        self,
        *,
        source: str,
        event_id: str,
        item_type: str,
        occurred_at: datetime,
        ingested_at: datetime,
        policy_version: str,
        event: Mapping[str, Any],
        parties: Sequence[PartyRow],
        attributes: Mapping[str, str],
        submitted_by: str | None = None,
        event_sha256: str | None = None,
    ) -> Claim:
        """Claim (source, event_id) for a new item, or return the item that already has it."""
        ...

    async def claim_many(self, entries: Sequence[NewItem]) -> builtins.list[Claim]:
        """Claim many events' keys in one transaction (purposes and holds wait for the commit)."""
        ...

    async def commit_claimed_many(self, commits: Sequence[ClaimCommit]) -> builtins.list[bool]:
        """As `commit_claimed` for each, in one transaction: whether each claim was won."""
        ...

    async def commit_claimed(
        self,
        item_id: str,
        *,
        stored: StoredContent | None,
        purposes: Sequence[PurposeRow],
        hold_ids: Iterable[str],
        s3_synced: bool,
        s3_retain_until: datetime | None = None,
    ) -> bool:
        """As commit_stored, but only while the claim is still pending: False if it was not.

        ``s3_retain_until`` records a retention the object was uploaded with.
        """
        ...

    async def count_due(self, now: datetime) -> int:
        """How many stored items have an expired purpose, or none and no hold keeping them."""
        ...

    async def refresh_statistics(self) -> None:
        """Refresh what the database's query planner knows of the tables (after a pass)."""
        ...

    async def cover(self, item_id: str, hold_ids: Iterable[str], *, has_object: bool) -> None:
        """Record that these holds cover a stored item (a hold placed while it was pending)."""
        ...

    async def due_ids(self, now: datetime, *, after: str, limit: int) -> builtins.list[str]:
        """The next due item ids after `after`, in id order."""
        ...

    async def get(self, item_id: str, *, include_pending: bool = False) -> ItemRecord | None:
        """One item, or None."""
        ...

    async def insert_stored_many(self, entries: Sequence[NewItem]) -> builtins.list[Claim]:
        """Insert items that need no upload (metadata only) as stored, in one transaction."""
        ...

    async def list(self, query: ItemQuery) -> ItemPage:
        """Stored items matching every given filter, newest first."""
        ...

    async def mark_destroyed(self, item_id: str, *, reason: str, at: datetime) -> bool:
        """Forget everything about an item but its tombstone; False if already destroyed."""
        ...

    async def mark_destroyed_many(self, reasons: Mapping[str, str], *, at: datetime) -> Destruction:
        """Forget items but their tombstones in one transaction; held ones stay as they are."""
        ...

    async def set_purposes(
        self, item_id: str, purposes: Sequence[PurposeRow], *, policy_version: str | None = None
    ) -> None:
        """Replace an item's purposes (and, when given, the policy version that decided them)."""
        ...

    async def set_s3_state(
        self, item_id: str, *, legal_hold: bool, retain_until: datetime | None, synced: bool
    ) -> None:
        """Record what the object store has been told about an item's object."""
        ...

    async def standing_consents(self, subject_ids: Iterable[str]) -> dict[str, frozenset[str]]:
        """For each subject, the purposes it has a standing grant for."""
        ...

    async def unsynced_ids(
        self, *, after: str, limit: int, hold_id: str | None = None
    ) -> builtins.list[str]:
        """The next stored item ids after `after` whose object lock state lags the catalog.

        With `hold_id`, only items that hold covers (or covered, once released).
        """
        ...

    async def get_many(self, item_ids: Sequence[str]) -> builtins.list[ItemRecord]:
        """The stored items among these ids, in the order given (unknown ids left out)."""
        ...

    async def set_s3_states(self, states: Sequence[S3State]) -> None:
        """Record, in one transaction, what the object store has been told about objects."""
        ...

    async def abandon(self, item_id: str) -> None:
        """Drop a claim whose event turned out to be bad input, so a corrected one can reuse it."""
        ...

    async def stale_claims(
        self, *, attempted_before: datetime, limit: int = 100
    ) -> tuple[int, builtins.list[tuple[str, datetime]]]:
        """Pending claims no attempt has touched since attempted_before: count, oldest first."""
        ...

    async def object_owners(self, object_keys: Sequence[str]) -> dict[str, ObjectOwner]:
        """For each object key, the catalog row that names it (keys without one are absent)."""
        ...

    async def stored_objects(
        self, *, after_item_id: str = "", limit: int = 1000
    ) -> builtins.list[ObjectOwner]:
        """One page, in item id order, of the stored items that have an object."""
        ...

    async def pending_claims(self) -> int:
        """How many claims wait for their event to be redelivered and stored."""
        ...

    async def relink_parties(
        self, item_id: str, *, event: Mapping[str, Any], parties: Sequence[PartyRow]
    ) -> bool:
        """Replace a stored item's parties (never its content); False if it is not stored."""
        ...

    async def event_fingerprint(self, item_id: str) -> str | None:
        """The fingerprint of the event the item was claimed with; None if unknown or gone."""
        ...

    # Key rotation (service.maintenance.keys)
    async def wrapped_keys(
        self, *, not_key_id: str, after_item_id: str = "", limit: int = 500
    ) -> builtins.list[WrappedKeyRow]:
        """One page, in item id order, of the wrapped data keys not under ``not_key_id``."""
        ...

    async def count_wrapped_keys(self, *, not_key_id: str) -> int:
        """How many wrapped data keys are not under ``not_key_id``."""
        ...

    async def wrapped_key_counts(self) -> dict[str | None, int]:
        """How many wrapped data keys each KEK version wraps (None: rows that do not say)."""
        ...

    async def replace_wrapped_keys(self, updates: Sequence[RewrappedKey]) -> int:
        """Store re-wrapped data keys in one transaction (only rows still as read)."""
        ...


class HoldStore(Protocol):
    """Legal holds and the items each covers."""

    async def active(self) -> builtins.list[Hold]:
        """The policy engine's view of every unreleased hold (criteria only, no counts)."""
        ...

    async def cover(self, hold_id: str, criteria: HoldCriteria) -> int:
        """Cover every matching stored item the hold does not cover yet (idempotent).

        Returns how many it newly covers; those with an object are marked for flag sync.
        """
        ...

    async def create(
        self,
        *,
        matter: str,
        description: str,
        criteria: HoldCriteria,
        created_by: str,
        created_at: datetime,
        hold_id: str | None = None,
    ) -> tuple[HoldRecord, int]:
        """Place a hold and cover every stored item it matches (how many is the int)."""
        ...

    async def release(
        self, hold_id: str, *, by: str, at: datetime, reason: str | None = None
    ) -> tuple[HoldRecord, builtins.list[str]]:
        """Release a hold, with why when given."""
        ...

    async def get(self, hold_id: str) -> HoldRecord | None:
        """One hold with its current count, or None."""
        ...

    async def list_all(self, *, active_only: bool = False) -> builtins.list[HoldRecord]:
        """Every hold (newest first) with its current count."""
        ...

    async def preview(self, criteria: HoldCriteria) -> int:
        """How many stored items a hold with these criteria would cover now."""
        ...


class SubjectStore(Protocol):
    """What each data subject has granted, objected to or restricted; erasure bookkeeping."""

    async def state(self, subject_id: str) -> SubjectState:
        """Everything on file about the subject's choices."""
        ...

    async def add_objection(self, subject_id: str, purpose: str, *, at: datetime) -> Change:
        """Record an objection (``*``: every legitimate-interests purpose); it stands for good."""
        ...

    async def close_erasure(
        self,
        request_id: str,
        *,
        outcome: Mapping[str, Any],
        deferred_item_ids: Sequence[str],
        at: datetime,
    ) -> None:
        """Record a request's answer and queue the items only holds kept, in one transaction."""
        ...

    async def finish_deferred(self, request_id: str, item_id: str, *, at: datetime) -> None:
        """Take one item off the queue: erased, or no longer to be erased."""
        ...

    async def erasure_request(self, request_id: str) -> dict[str, Any] | None:
        """One erasure request as recorded: who asked, for which subject, when, the answer."""
        ...

    async def objections(self, subject_ids: Iterable[str]) -> dict[str, frozenset[str] | None]:
        """Standing objections by subject, in the form `policies.purposes_at_ingest` takes."""
        ...

    async def open_erasure(
        self, request_id: str, *, subject_id: str, requested_by: str, at: datetime
    ) -> None:
        """Record that an erasure request was received, before anything is erased."""
        ...

    async def pending_deferred(
        self, *, after: DeferredErasure | None = None, limit: int = 500
    ) -> builtins.list[DeferredErasure]:
        """Queued erasures not yet carried out, oldest first; page on with ``after``."""
        ...

    async def record_removed(
        self, item_id: str, names: Iterable[str], *, reason: str, at: datetime
    ) -> None:
        """Remember purposes a request took off an item, so a policy change never re-adds them."""
        ...

    async def set_consent(
        self, subject_id: str, purpose: str, *, granted: bool, at: datetime, source: str
    ) -> Change:
        """Record a grant or a withdrawal decided at ``at`` (the latest one processed wins)."""
        ...

    async def set_restricted(
        self, subject_id: str, *, restricted: bool, at: datetime, by: str = "api"
    ) -> Change:
        """Restrict or lift, as ``by`` (api or an event's source) may; KEPT if it may not."""
        ...

    async def removed_purposes(self, item_ids: Iterable[str]) -> dict[str, frozenset[str]]:
        """For each item, the purposes subject requests removed (for ItemFacts.removed_purposes)."""
        ...

    async def standing_erasures(self, subject_ids: Iterable[str]) -> dict[str, str]:
        """For each subject with an erasure on file, the request id of its latest one."""
        ...

    async def defer_erasure(self, request_id: str, item_id: str, *, at: datetime) -> None:
        """Queue one more item of a request, kept only by holds (idempotent)."""
        ...


class AuditLog(Protocol):
    """The hash-chained audit trail."""

    def transaction(self) -> AbstractAsyncContextManager[Any]:
        """A unit of work: the catalog changes and audit entries inside commit together.

        Keep object-store calls out of it: on SQLite it holds the catalog's write lock.
        """
        ...

    async def append(
        self,
        *,
        actor: str,
        action: str,
        at: datetime,
        item_id: str | None = None,
        details: Mapping[str, Any] | None = None,
    ) -> AuditEntry:
        """Append one entry at the head of the chain."""
        ...

    async def append_many(self, drafts: Sequence[AuditDraft]) -> builtins.list[AuditEntry]:
        """Append entries in order with one head update (one statement per batch)."""
        ...

    async def query(
        self,
        *,
        item_id: str | None = None,
        actor: str | None = None,
        action: str | None = None,
        since: datetime | None = None,
        after_seq: int = 0,
        limit: int = 100,
    ) -> builtins.list[AuditEntry]:
        """Entries matching every given filter, oldest first."""
        ...

    async def verify(self, *, batch: int = 1000) -> ChainVerdict:
        """Recompute every link; report the first broken one."""
        ...


class PolicyStore(Protocol):
    """Policy versions and the active one."""

    async def activate(self, policy: Policy, *, by: str, at: datetime) -> bool:
        """Make policy the active version; False if it already was."""
        ...

    async def active(self, *, refresh: bool = False) -> Policy:
        """The active policy, re-read at most every cache_ttl_s."""
        ...


class Leases(Protocol):
    """Named leases that let one process at a time run a job (the sweeper)."""

    async def acquire(self, name: str, holder: str, *, ttl_s: float, now: datetime) -> bool:
        """Take the lease if it is free, expired or already ours; extend it to now + ttl_s."""
        ...

    async def renew(self, name: str, holder: str, *, ttl_s: float, now: datetime) -> bool:
        """Extend a lease the caller holds; False if it is held by someone else now."""
        ...

    async def release(self, name: str, holder: str) -> bool:
        """Give the lease up if the caller holds it; False otherwise."""
        ...

    async def current(self, name: str) -> Lease | None:
        """The lease as recorded (possibly expired), or None if nobody holds it."""
        ...

    def holding(
        self,
        name: str,
        holder: str,
        *,
        ttl_s: float,
        clock: Callable[[], datetime],
        wait_s: float = 0.0,
        poll_s: float = 0.5,
    ) -> AbstractAsyncContextManager[Renew]:
        """Hold a lease for the duration of a block, waiting up to wait_s to get it."""
        ...


class KeyRing(Protocol):
    """Versioned key-encryption keys that wrap per-item data keys."""

    def current_key_id(self) -> str:
        """Return the id of the KEK version that new wraps use."""
        ...

    def key_ids(self) -> list[str]:
        """Return the ids of every KEK version held, oldest first."""
        ...

    def wrap(self, data_key: bytes, *, item_id: str) -> WrappedKey:
        """Encrypt ``data_key`` under the current KEK, bound to ``item_id``."""
        ...

    def unwrap(self, wrapped: WrappedKey, *, item_id: str) -> bytes:
        """Return the data key; raise KeyNotFoundError or UnwrapError if it cannot."""
        ...

    def rotate(self) -> str:
        """Add a new KEK version, make it current and return its id."""
        ...

    def rewrap(self, wrapped: WrappedKey, *, item_id: str) -> WrappedKey:
        """Return ``wrapped`` re-encrypted under the current KEK (unchanged if already)."""
        ...

    def retire(self, key_id: str) -> None:
        """Forget a KEK version that is not current; what it still wraps is lost."""
        ...


class Vault(Protocol):
    """Envelope encryption between plaintext and the object store: seal, open, drop."""

    @property
    def store(self) -> ObjectStore:
        """The object store the sealed objects live in."""
        ...

    @property
    def keyring(self) -> KeyRing:
        """The key ring that wraps each item's data key."""
        ...

    def seal(
        self,
        *,
        item_id: str,
        chunks: Iterator[bytes],
        content_type: str,
        expected_size_bytes: int | None,
        expected_sha256: str | None,
        tags: Mapping[str, str],
        object_key: str | None = None,
        retain_until: datetime | None = None,
    ) -> StoredContent:
        """Encrypt chunks under a fresh data key and upload them (blocking).

        With ``retain_until`` the object is retained under Object Lock from its upload on.

        ``object_key`` defaults to the item's (`storage.models.object_key_for`).

        Raises:
            ContentMismatchError: The content is not the size or sha256 expected.
            ObjectStoreError: The store refused or could not be reached (``retriable``).
        """
        ...

    def drop_versions(self, object_key: str, *, keep: str | None) -> int:
        """Remove every version of object_key but ``keep`` (blocking); returns how many."""
        ...

    def drop_version(self, object_key: str, version_id: str | None) -> None:
        """Remove one version (blocking); one that is already gone is not an error."""
        ...

    def open(
        self, *, item_id: str, stored: StoredContent, start: int, end: int
    ) -> AsyncIterator[bytes]:
        """Verified plaintext of the inclusive range [start, end]."""
        ...


class Signer(Protocol):
    """Signs what keepline proves to others; its private keys are never in the catalog."""

    def sign(self, data: bytes) -> Signature:
        """Sign ``data`` with the current key."""
        ...

    def public_keys(self) -> dict[str, Any]:
        """The JWK set of every signing key, current first (retired keys still verify)."""
        ...


class RetentionRecords(Protocol):
    """What the retention explanation reads beside the item: subject requests' traces."""

    async def removals(self, item_id: str) -> builtins.list[Removal]:
        """The purposes subject requests took off the item: name, reason and when."""
        ...

    async def erasure_pending(self, item_id: str) -> bool:
        """Whether a queued erasure (kept back only by holds) names the item."""
        ...


class ReviewStore(Protocol):
    """Disposition reviews: opened by the sweeper, decided by legal reviewers."""

    async def current(self, item_id: str) -> ReviewRecord | None:
        """The item's latest review, or None if it never had one."""
        ...

    async def open_states(self, item_ids: Iterable[str]) -> dict[str, ReviewState]:
        """For each of these items with an open review (pending or destroy), its state."""
        ...

    async def open(
        self, item_id: str, *, purposes: Sequence[str], at: datetime
    ) -> ReviewRecord | None:
        """Open a pending review of the item; None if one is open already (idempotent).

        None too if one of these purposes no longer expires by ``at`` (a reviewer extended it).
        """
        ...

    async def decide(
        self,
        item_id: str,
        *,
        state: ReviewState,
        by: str,
        at: datetime,
        justification: str,
        extend_by: str | None = None,
        expires_at: datetime | None = None,
    ) -> ReviewRecord:
        """Record a reviewer's decision on the item's pending review."""
        ...

    async def list(
        self,
        *,
        state: ReviewState,
        after: tuple[datetime, str] | None = None,
        limit: int = 100,
    ) -> builtins.list[ReviewRecord]:
        """Reviews in one state of items still stored, oldest first; page on with ``after``."""


class ProductionStore(Protocol):
    """Legal productions: what each was asked for, who builds it, how far, and its zip."""

    async def create(
        self, production_id: str, *, hold_id: str, requested_by: str, at: datetime
    ) -> ProductionRecord:
        """Queue a production of every stored item the hold covers now."""
        ...

    async def get(self, production_id: str) -> ProductionRecord | None:
        """One production, or None."""
        ...

    async def item_ids(self, production_id: str) -> builtins.list[tuple[int, str]]:
        """(control number, item id) of the production's items, in order."""
        ...

    async def claim(
        self, holder: str, *, now: datetime, ttl_s: float, max_attempts: int
    ) -> ProductionRecord | None:
        """Claim the oldest production waiting for a builder, or None."""
        ...

    async def progress(
        self,
        production_id: str,
        holder: str,
        *,
        items_done: int,
        bytes_done: int,
        now: datetime,
        ttl_s: float,
    ) -> bool:
        """Record progress and renew the claim; False if the holder lost it."""
        ...

    async def finish(
        self,
        production_id: str,
        holder: str,
        *,
        stored: StoredContent,
        kid: str,
        bytes_done: int,
        at: datetime,
    ) -> bool:
        """Mark it ready with its sealed zip; False if the holder lost it."""
        ...

    async def fail(self, production_id: str, holder: str, *, error: str, at: datetime) -> bool:
        """Mark it failed for good; False if the holder lost it."""
        ...

    async def release_claim(self, production_id: str, holder: str) -> bool:
        """Give a claim up so another builder may take the production at once."""
        ...


class RequestGuards(Protocol):
    """Items named by requests in progress (exports, erasures, productions): kept meanwhile."""

    async def open(self, kind: str, item_ids: Iterable[str], *, at: datetime, ttl_s: float) -> str:
        """Guard these items until closed or ttl_s passes; the guard's id."""
        ...

    async def renew(self, guard_id: str, *, at: datetime, ttl_s: float) -> None:
        """Extend an open guard to at + ttl_s."""
        ...

    async def close(self, guard_id: str) -> None:
        """Close a guard."""
        ...

    async def guarded(
        self, item_ids: Iterable[str], *, now: datetime, exempt: str | None = None
    ) -> set[str]:
        """Which of these items a request in progress (other than exempt) names."""


# --- Proof of disposal and integrity passes ---------------------------------------------


@dataclass(frozen=True, slots=True)
class Tombstone:
    """What stays of a destroyed item: no personal data, only what proves the destruction."""

    item_id: str
    type: str
    destroyed_at: datetime
    reason: str
    policy_version: str


class Tombstones(Protocol):
    """The tombstones destruction leaves in the catalog, read by when they were made."""

    async def between(
        self,
        *,
        since: datetime | None = None,
        until: datetime | None = None,
        after: tuple[datetime, str] | None = None,
        limit: int = 1000,
    ) -> builtins.list[Tombstone]:
        """Tombstones destroyed in [since, until), oldest first, after the (at, id) given."""
        ...


@dataclass(frozen=True, slots=True)
class BucketProtection:
    """What the bucket is configured to do: keep versions, and honour Object Lock."""

    #: ``Enabled``, ``Suspended`` or ``Off`` (never enabled), as S3 reports it.
    versioning: str
    object_lock: bool


@dataclass(frozen=True, slots=True)
class FixityPass:
    """One integrity pass as recorded: where it got to, what it found.

    Attributes:
        pass_id: Its id.
        started_at: When it began.
        phase: ``objects`` (reading every stored item's object), ``orphans`` (listing the
            bucket), or ``done``.
        cursor: The last item id (objects) or object key (orphans) fully checked; a pass
            that was interrupted resumes after it.
        objects_checked: Objects read back and authenticated.
        bytes_checked: Plaintext bytes those objects authenticated.
        mismatched: Objects that failed authentication or their catalog size or digest.
        missing: Stored items whose committed object version is not in the bucket.
        orphaned: Object versions no catalog row owns.
        problems: The first problems found, each a JSON object naming the item or object.
        bucket: The bucket's configuration against what the policy needs (at the end).
        finished_at: When it ended (None: under way, or interrupted and to be resumed).
    """

    pass_id: str
    started_at: datetime
    phase: str = "objects"
    cursor: str = ""
    objects_checked: int = 0
    bytes_checked: int = 0
    mismatched: int = 0
    missing: int = 0
    orphaned: int = 0
    problems: tuple[dict[str, Any], ...] = ()
    bucket: dict[str, Any] | None = None
    finished_at: datetime | None = None


class FixityLog(Protocol):
    """The record of integrity passes: the one under way and the latest finished."""

    async def save(self, state: FixityPass) -> None:
        """Record a pass's state (insert or replace by pass_id)."""
        ...

    async def unfinished(self) -> FixityPass | None:
        """The newest pass that has not finished, if any."""
        ...

    async def latest(self) -> FixityPass | None:
        """The newest finished pass, if any."""
        ...


class DisclosureRegister(Protocol):
    """The register of disclosures to third parties, and whose items each one held."""

    async def record(
        self, entry: DisclosureRecord, *, item_ids: Sequence[str] = ()
    ) -> DisclosureRecord:
        """Enter a disclosure of these items (or, with ``entry.hold_id``, of the hold's items).

        The subjects of each item are taken as the catalog links them now, so the entry
        still names them after the items are erased. Returns the entry with its items.
        """
        ...

    async def list(
        self,
        *,
        subject_id: str | None = None,
        since: datetime | None = None,
        item_ids: Iterable[str] | None = None,
        limit: int = 1000,
    ) -> builtins.list[DisclosureRecord]:
        """Entries disclosed at or after since, of one subject's items or of these items."""
        ...

    async def link_subject(self, item_ids: Iterable[str], subject_id: str) -> int:
        """Record that earlier disclosures of these items also concerned subject_id."""
        ...


class NoticeOutbox(Protocol):
    """Notices waiting for the notices topic, and restrictions to lift once announced."""

    async def add(
        self, *, subject_id: str, action: str, body: Mapping[str, Any], at: datetime
    ) -> int:
        """Write a notice for the publisher; its id."""
        ...

    async def schedule_lifting(
        self, subject_id: str, *, effective_at: datetime, notice_id: int, by: str, at: datetime
    ) -> None:
        """Lift the subject's restriction at effective_at, once notice_id is published."""
        ...

    async def cancel_lifting(self, subject_id: str) -> bool:
        """Forget a scheduled lifting; False if there was none."""
        ...

    async def pending_lifting(self, subject_id: str) -> datetime | None:
        """When the subject's restriction is to be lifted, if that is scheduled."""
        ...

    async def due_liftings(self, now: datetime) -> builtins.list[str]:
        """Subjects whose lifting is due at now and whose notice is on the topic."""
        ...

    async def unpublished(self, limit: int = 500) -> builtins.list[Notice]:
        """Notices not yet on the topic, oldest first."""
        ...

    async def mark_published(self, notice_ids: Sequence[int]) -> None:
        """Record that notices reached the topic."""


class AuditCheckpoints(Protocol):
    """Signed checkpoints of the audit chain head (the key is never in the catalog)."""

    async def head(self) -> tuple[int, str]:
        """The committed chain head (seq, hash)."""
        ...

    async def latest(self) -> AuditCheckpoint | None:
        """The newest checkpoint, or None."""
        ...

    async def write(self, at: datetime) -> AuditCheckpoint | None:
        """Sign the current head; None if it is empty or already checkpointed."""
        ...

    async def verify(self, *, batch: int = 500) -> CheckpointVerdict:
        """Check every checkpoint's signature and that the chain still has its hash."""
        ...
