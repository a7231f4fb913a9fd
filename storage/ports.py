"""Ports of the storage context: every store the application layer talks to.

The use cases in `service/` are typed against these protocols only; `storage/sql_*`,
`storage/objects/minio_store.py` and `storage/objects/filesystem_store.py` implement them, and the
composition root (`keepline/root.py`) picks the implementations.
"""

from __future__ import annotations

import builtins
from collections.abc import AsyncIterator, Callable, Iterable, Iterator, Mapping, Sequence
from contextlib import AbstractAsyncContextManager
from dataclasses import dataclass
from datetime import datetime
from typing import Any, BinaryIO, Protocol

from policies.models import Hold, HoldCriteria, Policy
from storage.models import (
    AuditCheckpoint,
    AuditEntry,
    ChainVerdict,
    Change,
    CheckpointVerdict,
    Claim,
    DeferredErasure,
    HoldRecord,
    ItemPage,
    ItemQuery,
    ItemRecord,
    Lease,
    NewItem,
    ObjectOwner,
    PartyRow,
    PurposeRow,
    Renew,
    Signature,
    StoredContent,
    SubjectState,
    WrappedKey,
)

__all__ = [
    "AuditCheckpoints",
    "AuditLog",
    "Catalog",
    "ContentSource",
    "HoldStore",
    "KeyRing",
    "Leases",
    "ObjectStore",
    "ObjectVersion",
    "PolicyStore",
    "PutResult",
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
        self, key: str, reader: BinaryIO, *, content_type: str, tags: Mapping[str, str]
    ) -> PutResult:
        """Upload everything reader yields (length unknown, multipart when large)."""
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
    ) -> Claim:
        """Claim (source, event_id) for a new item, or return the item that already has it."""
        ...

    async def commit_claimed(
        self,
        item_id: str,
        *,
        stored: StoredContent | None,
        purposes: Sequence[PurposeRow],
        hold_ids: Iterable[str],
        s3_synced: bool,
    ) -> bool:
        """As commit_stored, but only while the claim is still pending: False if it was not."""
        ...

    async def count_due(self, now: datetime) -> int:
        """How many stored items have an expired purpose, or none and no hold keeping them."""
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

    async def unsynced_ids(self, *, after: str, limit: int) -> builtins.list[str]:
        """The next stored item ids after `after` whose object lock state lags the catalog."""
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


class HoldStore(Protocol):
    """Legal holds and the items each covers."""

    async def active(self) -> builtins.list[Hold]:
        """The policy engine's view of every unreleased hold (criteria only, no counts)."""
        ...

    async def cover(self, hold_id: str, criteria: HoldCriteria) -> builtins.list[str]:
        """Cover every matching stored item the hold does not cover yet (idempotent)."""
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
    ) -> tuple[HoldRecord, builtins.list[str]]:
        """Place a hold and cover every stored item it matches."""
        ...

    async def release(
        self, hold_id: str, *, by: str, at: datetime
    ) -> tuple[HoldRecord, builtins.list[str]]:
        """Release a hold."""
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

    async def set_restricted(self, subject_id: str, *, restricted: bool, at: datetime) -> Change:
        """Restrict processing of the subject's items, or lift the restriction."""
        ...

    async def removed_purposes(self, item_ids: Iterable[str]) -> dict[str, frozenset[str]]:
        """For each item, the purposes subject requests removed (for ItemFacts.removed_purposes)."""
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
    ) -> StoredContent:
        """Encrypt chunks under a fresh data key and upload them (blocking).

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
