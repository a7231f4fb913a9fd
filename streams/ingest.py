"""IngestService: one validated artefact event in, exactly one encrypted, catalogued item out."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import datetime

from policies.retention import purposes_at_ingest
from policies.holds import active_holds_covering
from policies.models import ArtefactType, Hold, HoldCriteria, ItemFacts
from storage.errors import ContentMismatchError
from storage.models import ItemStatus, PartyRow, PurposeRow, StoredContent
from storage.object_lock import ObjectLockSync
from storage.service import ContentVault
from storage.sql_catalog import SqlCatalog, abandon_claim
from storage.sql_policies import SqlPolicyStore
from streams.errors import BadEventError, DeadLetterReason
from streams.events import CallRecording, Chat, Email
from streams.fetch import ContentFetcher

log = logging.getLogger(__name__)

Artefact = CallRecording | Email | Chat


@dataclass(frozen=True, slots=True)
class IngestOutcome:
    """What ingesting one event did."""

    item_id: str
    created: bool
    size_bytes: int


class IngestService:
    """Claims the idempotency key, seals the content, decides purposes and holds, commits."""

    def __init__(
        self,
        *,
        catalog: SqlCatalog,
        policies: SqlPolicyStore,
        vault: ContentVault,
        fetcher: ContentFetcher,
        lock_sync: ObjectLockSync,
        clock: Callable[[], datetime],
    ) -> None:
        self._catalog = catalog
        self._policies = policies
        self._vault = vault
        self._fetcher = fetcher
        self._lock_sync = lock_sync
        self._clock = clock
        # Concurrent deliveries of one event inside this worker wait for each other; across
        # workers a partition has one consumer at a time.
        self._in_flight: dict[tuple[str, str], asyncio.Lock] = {}

    async def ingest(self, event: Artefact) -> IngestOutcome:
        """Store event once (see _ingest); concurrent copies of one event are serialised."""
        key = (event.source, event.event_id)
        lock = self._in_flight.setdefault(key, asyncio.Lock())
        try:
            async with lock:
                return await self._ingest(event)
        finally:
            if not lock.locked() and self._in_flight.get(key) is lock:
                del self._in_flight[key]

    async def _ingest(self, event: Artefact) -> IngestOutcome:
        """Store event once; a redelivered or republished event returns the existing item.

        Raises:
            BadEventError: The content is missing or fails its size or checksum.
            StorageError, ContentUnavailableError, SQLAlchemyError: transient faults when
                retriable; the caller retries with backoff and commits nothing meanwhile.
        """
        now = self._clock()
        policy = await self._policies.active()
        claim = await self._catalog.claim(
            source=event.source,
            event_id=event.event_id,
            item_type=event.type,
            occurred_at=event.occurred_at,
            ingested_at=now,
            policy_version=policy.version,
            event=event.metadata(),
            parties=[PartyRow(p.address, p.subject_id, p.staff_id) for p in event.parties],
            attributes=event.attributes,
        )
        if claim.status is ItemStatus.STORED or claim.status is ItemStatus.DESTROYED:
            log.info("duplicate event ignored: item %s", claim.item_id)
            return IngestOutcome(item_id=claim.item_id, created=False, size_bytes=0)
        item_id = claim.item_id
        consents = await self._catalog.standing_consents(event.subject_ids())
        purposes = purposes_at_ingest(
            item_type=ArtefactType(event.type),
            attributes=event.attributes,
            occurred_at=event.occurred_at,
            subject_ids=event.subject_ids(),
            policy=policy,
            consents=consents,
        )
        try:
            stored = await self._seal(event, item_id, tuple(sorted(p.name for p in purposes)))
        except BadEventError:
            await abandon_claim(self._catalog, item_id)
            raise
        if not claim.created and stored is not None:
            # An earlier attempt died after uploading: drop its orphaned versions.
            await asyncio.to_thread(self._drop_other_versions, stored)
        facts = ItemFacts(
            item_id=item_id,
            type=ArtefactType(event.type),
            occurred_at=event.occurred_at,
            attributes=event.attributes,
            subject_ids=event.subject_ids(),
            addresses=frozenset(p.address for p in event.parties),
            staff_ids=frozenset(p.staff_id for p in event.parties if p.staff_id),
            purposes=purposes,
        )
        holds = [
            Hold(hold_id=h, matter=m, criteria=HoldCriteria.from_json(c))
            for h, m, c in await self._catalog.active_hold_criteria()
        ]
        covering = active_holds_covering(holds, facts)
        rows = [PurposeRow(p.name, p.basis.value, p.expires_at, p.worm) for p in purposes]
        needs_lock = bool(covering) or any(p.worm for p in purposes)
        await self._catalog.commit_stored(
            item_id,
            stored=stored,
            purposes=rows,
            hold_ids=[h.hold_id for h in covering],
            s3_synced=not needs_lock,
        )
        if needs_lock:
            record = await self._catalog.get(item_id)
            if record is not None:
                await self._lock_sync.sync(record, self._clock())
        size = stored.content.size_bytes if stored else 0
        log.info("item %s stored (%d bytes, %d purposes)", item_id, size, len(rows))
        return IngestOutcome(item_id=item_id, created=True, size_bytes=size)

    def _drop_other_versions(self, stored: StoredContent) -> None:
        store = self._vault.store
        stale = [v for v in store.versions(stored.object_key) if v.version_id != stored.version_id]
        store.delete_versions(stale, bypass_governance=True)

    async def _seal(
        self, event: Artefact, item_id: str, purpose_names: tuple[str, ...]
    ) -> StoredContent | None:
        tags = {"kl-type": event.type, "kl-purposes": "+".join(purpose_names) or "none"}
        chunks: Iterator[bytes]
        if event.content_inline is not None:
            data = event.content_inline.data()
            chunks, content_type = iter([data]), event.content_inline.content_type
            expected_size: int | None = len(data)
            expected_sha: str | None = None
        elif event.content is not None:
            chunks = self._fetcher.open(event.content.uri)
            content_type = event.content.content_type
            expected_size, expected_sha = event.content.size_bytes, event.content.sha256
        else:
            return None
        try:
            return await asyncio.to_thread(
                self._vault.seal,
                item_id=item_id,
                chunks=chunks,
                content_type=content_type,
                expected_size_bytes=expected_size,
                expected_sha256=expected_sha,
                tags=tags,
            )
        except ContentMismatchError as err:
            reason = (
                DeadLetterReason.CHECKSUM_MISMATCH
                if err.field == "sha256"
                else DeadLetterReason.SIZE_MISMATCH
            )
            raise BadEventError(reason, str(err)) from err
