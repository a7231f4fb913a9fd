"""IngestService: one validated artefact event in, exactly one encrypted, catalogued item out.

(source, event_id) is claimed in the catalog before anything is uploaded, so every attempt
at an event, in this worker or another, finds the same item:

- a stored (or destroyed) item: the event is a duplicate and nothing is written; if it
  differs from the event the item was stored from (another fingerprint), it is bad input,
  dead-lettered as ``conflicting_duplicate``, and the stored item is left as it was;
- a pending claim: an earlier attempt died between upload and commit, or is still running in
  a worker that lost the partition. This attempt uploads again and commits only while the
  claim is still pending; the winner drops every other version of the object, a loser drops
  its own upload. A crash at any step leaves a state the next delivery resumes from.

Events without content need no upload: they are written stored at once, many per
transaction (see `Batcher`).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import datetime
from functools import partial

from policies.holds import active_holds_covering
from policies.models import ArtefactType, Hold, HoldCriteria, ItemFacts, Policy, PurposeState
from policies.retention import Consents, Objections, purposes_at_ingest, worm_retain_until
from service.ingest.batching import Batcher
from service.ingest.errors import BadEventError, DeadLetterReason
from service.ingest.keyed_locks import KeyedLocks
from service.ingest.models import CallRecording, Chat, Email
from service.retention.locks import ObjectLockSync
from storage.errors import ContentMismatchError, ObjectStoreUnavailableError, StorageError
from storage.models import (
    Claim,
    ClaimCommit,
    ItemStatus,
    NewItem,
    PartyRow,
    PurposeRow,
    StoredContent,
    object_key_for,
)
from storage.ports import Catalog, ContentSource, PolicyStore, SubjectStore, Vault

log = logging.getLogger(__name__)

Artefact = CallRecording | Email | Chat
#: Told of each stored (item_id, subject ids, new: not a redelivery); a standing erasure's cue.
AfterStored = Callable[[Sequence[tuple[str, frozenset[str], bool]]], Awaitable[object]]


@dataclass(frozen=True, slots=True)
class IngestOutcome:
    """What ingesting one event did."""

    item_id: str
    created: bool
    size_bytes: int


@dataclass(frozen=True, slots=True)
class _Claimed:
    """A content event's claim, with what deciding its purposes and holds needs."""

    claim: Claim
    policy: Policy
    consents: Consents
    objections: Objections
    holds: list[Hold]


@dataclass(frozen=True, slots=True)
class _Committed:
    """Whether a commit won its claim (or the error it alone failed with); holds after it."""

    won: bool | StorageError
    holds: list[Hold]


class IngestService:
    """Claims the idempotency key, seals the content, decides purposes and holds, commits.

    Args:
        uploads: Most content uploads at once, one per upload thread (each holds a few
            multipart parts in memory; an upload still queued holds nothing yet).
        max_batch: Most metadata-only events written in one transaction.
        lock_at_upload: Upload objects with their WORM retention in the same call (the
            store's lock mode lets the destroyer bypass it: GOVERNANCE); otherwise the
            retention follows the commit, as the legal-hold flag always does.
    """

    def __init__(
        self,
        *,
        catalog: Catalog,
        subjects: SubjectStore,
        policies: PolicyStore,
        vault: Vault,
        fetcher: ContentSource,
        lock_sync: ObjectLockSync,
        clock: Callable[[], datetime],
        uploads: int = 4,
        max_batch: int = 200,
        after_stored: AfterStored | None = None,
        lock_at_upload: bool = False,
    ) -> None:
        self._lock_at_upload = lock_at_upload
        self._catalog = catalog
        self._subjects = subjects
        self._policies = policies
        self._vault = vault
        self._fetcher = fetcher
        self._lock_sync = lock_sync
        self._clock = clock
        # Concurrent deliveries of one event inside this worker wait for each other.
        self._locks = KeyedLocks()
        # Uploads run in their own threads, so they never starve the default executor
        # that the API's content reads use.
        self._upload_pool = ThreadPoolExecutor(uploads, thread_name_prefix="keepline-upload")
        self._store_down = False
        self._metadata = Batcher(self._store_metadata, max_batch=max_batch)
        # Content events: the claims of those arriving together go in one transaction,
        # and so do their commits and the erasure cues of what they stored.
        self._claims = Batcher(self._claim_many, max_batch=max_batch)
        self._commits = Batcher(self._commit_many, max_batch=max_batch)
        self._arrivals = Batcher(self._arrive_many, max_batch=max_batch)
        self._after_stored = after_stored

    @property
    def metadata_batches(self) -> int:
        """How many catalog transactions have stored metadata-only events."""
        return self._metadata.batches

    @property
    def content_batches(self) -> tuple[int, int]:
        """How many catalog transactions have claimed, and committed, content events."""
        return self._claims.batches, self._commits.batches

    async def close(self) -> None:
        """Stop the batcher and the upload threads (uploads under way finish in the thread)."""
        for batcher in (self._metadata, self._claims, self._commits, self._arrivals):
            await batcher.close()
        self._upload_pool.shutdown(wait=False, cancel_futures=True)

    async def ingest(self, event: Artefact, *, submitted_by: str) -> IngestOutcome:
        """Store event once; a redelivered or republished event returns the existing item.

        Args:
            event: The validated event.
            submitted_by: Who submitted it: the API principal, or ``kafka:<topic>``.

        Raises:
            BadEventError: The content is missing or fails its size or checksum, or the
                (source, event_id) names an item stored from an event with other content.
            StorageError, ContentUnavailableError, SQLAlchemyError: transient faults when
                retriable; the caller retries with backoff and commits nothing meanwhile.
        """
        async with self._locks.hold((event.source, event.event_id)):
            if event.content is None and event.content_inline is None:
                outcome = await self._metadata.submit((event, submitted_by))
                if not outcome.created:
                    await self._same_as_stored(event, outcome.item_id)
                return outcome
            return await self._ingest_content(event, submitted_by)

    async def _same_as_stored(self, event: Artefact, item_id: str) -> None:
        """Refuse a duplicate whose content differs from the event the item came from.

        Items stored before fingerprints were kept (and destroyed ones) have none: their
        duplicates are taken as redeliveries, as before.
        """
        stored = await self._catalog.event_fingerprint(item_id)
        if stored is None or stored == event.fingerprint():
            log.info("duplicate event ignored: item %s", item_id)
            return
        log.warning("event for item %s republished with other content: not stored", item_id)
        raise BadEventError(
            DeadLetterReason.CONFLICTING_DUPLICATE,
            f"(source, event_id) already names item {item_id}, stored from an event with "
            "other content; this event was not stored (a correction needs a new event_id)",
        )

    async def _ingest_content(self, event: Artefact, submitted_by: str) -> IngestOutcome:
        claimed = await self._claims.submit((event, submitted_by))
        claim = claimed.claim
        if claim.status is not ItemStatus.PENDING:
            await self._same_as_stored(event, claim.item_id)
            if claim.status is ItemStatus.STORED:
                await self._arrived([(claim.item_id, frozenset(event.subject_ids()), False)])
            return IngestOutcome(item_id=claim.item_id, created=False, size_bytes=0)
        item_id = claim.item_id
        if not claim.created:
            log.info("resuming the pending claim of item %s", item_id)
        subjects = event.subject_ids()
        purposes = _purposes(event, claimed.policy, claimed.consents, claimed.objections)
        covering = _covering(item_id, event, purposes, claimed.holds)
        # Retained from the upload on (one call, not two): only where the destroyer may
        # bypass the lock, so that an upload that loses its race can still be dropped.
        retain_until = (
            worm_retain_until(_facts(item_id, event, purposes), self._clock())
            if self._lock_at_upload
            else None
        )
        try:
            stored = await self._seal(
                event, item_id, tuple(sorted(p.name for p in purposes)), retain_until
            )
        except BadEventError:
            await self._abandon(claim)
            raise
        needs_lock = bool(covering) or (retain_until is None and any(p.worm for p in purposes))
        committed = await self._commits.submit(
            ClaimCommit(
                item_id=item_id,
                stored=stored,
                purposes=_rows(purposes),
                hold_ids=covering,
                s3_synced=not needs_lock,
                s3_retain_until=retain_until,
            )
        )
        if isinstance(committed.won, BaseException):
            raise committed.won
        if not committed.won:
            # Another attempt at this event committed first: ours is an orphan.
            await self._tidy(
                partial(self._vault.drop_version, stored.object_key, stored.version_id)
            )
            log.info("item %s was stored by another attempt; upload dropped", item_id)
            return IngestOutcome(item_id=item_id, created=False, size_bytes=0)
        late = _late_holds(item_id, event, purposes, covering, committed.holds)
        if late:
            await self._catalog.cover(item_id, late, has_object=True)
            needs_lock = True
        if not claim.created:
            # An earlier attempt died after uploading: drop what it left.
            await self._tidy(
                partial(self._vault.drop_versions, stored.object_key, keep=stored.version_id)
            )
        if needs_lock:
            await self._sync_lock(item_id)
        if subjects and self._after_stored is not None:
            await self._arrivals.submit((item_id, frozenset(subjects), True))
        log.info(
            "item %s stored (%d bytes, %d purposes)",
            item_id,
            stored.content.size_bytes,
            len(purposes),
        )
        return IngestOutcome(item_id=item_id, created=True, size_bytes=stored.content.size_bytes)

    async def _claim_many(self, submissions: Sequence[tuple[Artefact, str]]) -> list[_Claimed]:
        """Claim a batch of content events' keys in one transaction, with what deciding needs.

        The subjects' standing consents and objections and the active holds are read once
        for the batch, after the claims.
        """
        policy = await self._policies.active()
        now = self._clock()
        claims = await self._catalog.claim_many(
            [
                _new_item(event, now=now, policy=policy, submitted_by=submitted_by)
                for event, submitted_by in submissions
            ]
        )
        subjects = frozenset(
            s
            for (event, _), claim in zip(submissions, claims, strict=True)
            if claim.status is ItemStatus.PENDING
            for s in event.subject_ids()
        )
        consents = await self._catalog.standing_consents(subjects) if subjects else {}
        objections = await self._subjects.objections(subjects) if subjects else {}
        holds = await self._holds()
        return [_Claimed(claim, policy, consents, objections, holds) for claim in claims]

    async def _commit_many(self, commits: Sequence[ClaimCommit]) -> list[_Committed]:
        """Commit a batch of uploaded claims in one transaction; the holds read after it.

        A batch that fails for good is tried one commit at a time, so one bad commit fails
        its own event only.
        """
        won: list[bool | StorageError]
        try:
            won = list(await self._catalog.commit_claimed_many(commits))
        except StorageError as err:
            if err.retriable or len(commits) == 1:
                raise
            won = []
            for commit in commits:
                try:
                    won.extend(await self._catalog.commit_claimed_many([commit]))
                except StorageError as one:
                    won.append(one)
        holds = await self._holds()  # see _late_holds
        return [_Committed(w, holds) for w in won]

    async def _arrive_many(
        self, arrivals: Sequence[tuple[str, frozenset[str], bool]]
    ) -> list[None]:
        await self._arrived(arrivals)
        return [None] * len(arrivals)

    async def _store_metadata(
        self, submissions: Sequence[tuple[Artefact, str]]
    ) -> list[IngestOutcome]:
        """Write a batch of metadata-only events in one transaction."""
        events = [event for event, _ in submissions]
        submitters = {(e.source, e.event_id): by for e, by in submissions}
        policy = await self._policies.active()
        subjects = frozenset(s for e in events for s in e.subject_ids())
        consents = await self._catalog.standing_consents(subjects)
        objections = await self._subjects.objections(subjects)
        holds = await self._holds()
        now = self._clock()
        decided = [(e, _purposes(e, policy, consents, objections)) for e in events]
        entries = [
            _new_item(
                event,
                now=now,
                policy=policy,
                submitted_by=submitters[(event.source, event.event_id)],
                purposes=_rows(purposes),
                hold_ids=_covering(event.event_id, event, purposes, holds),
            )
            for event, purposes in decided
        ]
        claims: list[Claim] = await self._catalog.insert_stored_many(entries)
        fresh = await self._holds()  # see _late_holds
        for (event, purposes), entry, claim in zip(decided, entries, claims, strict=True):
            late = _late_holds(claim.item_id, event, purposes, entry.hold_ids, fresh)
            if claim.created and late:
                await self._catalog.cover(claim.item_id, late, has_object=False)
        # Duplicates too: an erasure on arrival that failed before is carried out on redelivery.
        arrived = [
            (c.item_id, frozenset(e.subject_ids()), c.created)
            for e, c in zip(events, claims, strict=True)
            if c.created or c.status is ItemStatus.STORED
        ]
        await self._arrived(arrived)
        return [IngestOutcome(c.item_id, created=c.created, size_bytes=0) for c in claims]

    async def _arrived(self, arrivals: Sequence[tuple[str, frozenset[str], bool]]) -> None:
        """Tell after_stored of stored items that name a subject (a standing erasure's cue)."""
        named = [arrival for arrival in arrivals if arrival[1]]
        if self._after_stored is not None and named:
            await self._after_stored(named)

    async def _holds(self) -> list[Hold]:
        return [
            Hold(hold_id=h, matter=m, criteria=HoldCriteria.from_json(c))
            for h, m, c in await self._catalog.active_hold_criteria()
        ]

    async def _abandon(self, claim: Claim) -> None:
        """Bad input: free the claim (a corrected event may reuse it) and drop any upload."""
        if not claim.created:
            # An earlier attempt may have uploaded before it died.
            await self._tidy(
                partial(self._vault.drop_versions, object_key_for(claim.item_id), keep=None)
            )
        await self._catalog.abandon(claim.item_id)

    async def _tidy(self, fn: Callable[..., object], *args: object) -> None:
        """Remove orphaned versions; if the store refuses now, `keepline reconcile` will."""
        try:
            await asyncio.get_running_loop().run_in_executor(self._upload_pool, partial(fn, *args))
        except StorageError as err:
            log.warning("orphaned object versions left for reconcile (%s)", type(err).__name__)

    async def _sync_lock(self, item_id: str) -> None:
        record = await self._catalog.get(item_id)
        if record is None:
            return
        try:
            await self._lock_sync.sync(record, self._clock())
        except StorageError as err:
            # The row stays marked unsynced; the lock repair brings the object in line.
            log.warning("object lock of item %s not applied yet (%s)", item_id, err)

    async def _seal(
        self,
        event: Artefact,
        item_id: str,
        purpose_names: tuple[str, ...],
        retain_until: datetime | None = None,
    ) -> StoredContent:
        seal = self._sealer(event, item_id, purpose_names, retain_until)
        try:
            # The pool's threads are the upload slots: one that finishes takes the next
            # queued upload at once, without waiting for the event loop.
            stored = await asyncio.get_running_loop().run_in_executor(self._upload_pool, seal)
        except ObjectStoreUnavailableError:
            self._store_down = True
            raise
        except ContentMismatchError as err:
            reason = (
                DeadLetterReason.CHECKSUM_MISMATCH
                if err.field == "sha256"
                else DeadLetterReason.SIZE_MISMATCH
            )
            raise BadEventError(reason, str(err), field=f"content.{err.field}") from err
        self._store_down = False
        return stored

    def _sealer(
        self,
        event: Artefact,
        item_id: str,
        purpose_names: tuple[str, ...],
        retain_until: datetime | None,
    ) -> Callable[[], StoredContent]:
        """The blocking fetch-encrypt-upload of one event's content, ready to run.

        Everything that holds content in memory or reaches out happens when it runs in an
        upload thread, not while it waits in the queue.
        """
        tags = {"kl-type": event.type, "kl-purposes": "+".join(purpose_names) or "none"}

        def seal() -> StoredContent:
            if self._store_down:
                # Ask the store before fetching the content again, so an outage does not
                # make every retry download a whole recording only to fail its upload.
                self._vault.store.ping()
            chunks: Iterator[bytes]
            if event.content_inline is not None:
                data = event.content_inline.data()
                chunks, content_type = iter([data]), event.content_inline.content_type
                expected_size: int | None = len(data)
                expected_sha: str | None = None
            else:
                assert event.content is not None  # ingest() routes contentless events elsewhere
                chunks = self._fetcher.open(event.content.uri, size_bytes=event.content.size_bytes)
                content_type = event.content.content_type
                expected_size, expected_sha = event.content.size_bytes, event.content.sha256
            return self._vault.seal(
                item_id=item_id,
                chunks=chunks,
                content_type=content_type,
                expected_size_bytes=expected_size,
                expected_sha256=expected_sha,
                tags=tags,
                retain_until=retain_until,
            )

        return seal


def _new_item(
    event: Artefact,
    *,
    now: datetime,
    policy: Policy,
    submitted_by: str,
    purposes: Sequence[PurposeRow] = (),
    hold_ids: Sequence[str] = (),
) -> NewItem:
    """What the catalog keeps of an event's item (a claim's has no purposes or holds yet)."""
    metadata, fingerprint = event.metadata_and_fingerprint()
    return NewItem(
        source=event.source,
        event_id=event.event_id,
        item_type=event.type,
        occurred_at=event.occurred_at,
        ingested_at=now,
        policy_version=policy.version,
        event=metadata,
        parties=_parties(event),
        attributes=event.attributes,
        purposes=purposes,
        hold_ids=hold_ids,
        submitted_by=submitted_by,
        event_sha256=fingerprint,
    )


def _parties(event: Artefact) -> list[PartyRow]:
    return [PartyRow(p.address, p.subject_id, p.staff_id) for p in event.parties]


def _rows(purposes: Sequence[PurposeState]) -> list[PurposeRow]:
    return [PurposeRow(p.name, p.basis.value, p.expires_at, p.worm) for p in purposes]


def _purposes(
    event: Artefact, policy: Policy, consents: Consents, objections: Objections
) -> tuple[PurposeState, ...]:
    return purposes_at_ingest(
        item_type=ArtefactType(event.type),
        attributes=event.attributes,
        occurred_at=event.occurred_at,
        subject_ids=event.subject_ids(),
        policy=policy,
        consents=consents,
        objections=objections,
    )


def _late_holds(
    item_id: str,
    event: Artefact,
    purposes: Sequence[PurposeState],
    covering: Sequence[str],
    holds: Sequence[Hold],
) -> list[str]:
    """Holds read after the commit that cover the item but were not known before it.

    Placing a hold covers the items stored at that moment; an item still pending then is
    covered here, once it is stored, so a hold never misses an item ingested around it.
    """
    return sorted(set(_covering(item_id, event, purposes, holds)) - set(covering))


def _covering(
    item_id: str, event: Artefact, purposes: Sequence[PurposeState], holds: Sequence[Hold]
) -> list[str]:
    facts = _facts(item_id, event, purposes)
    return [hold.hold_id for hold in active_holds_covering(holds, facts)]


def _facts(item_id: str, event: Artefact, purposes: Sequence[PurposeState]) -> ItemFacts:
    """What the policy rules see of an item about to be stored from event."""
    return ItemFacts(
        item_id=item_id,
        type=ArtefactType(event.type),
        occurred_at=event.occurred_at,
        attributes=event.attributes,
        subject_ids=event.subject_ids(),
        addresses=frozenset(p.address for p in event.parties),
        staff_ids=frozenset(p.staff_id for p in event.parties if p.staff_id),
        purposes=tuple(purposes),
    )
