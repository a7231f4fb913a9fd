"""The retention sweeper: drops expired purposes and destroys items with nothing left.

Every pass is a fresh scan of the catalog for due items (a purpose expired at ``now``, or no
purpose at all), in ``item_id`` batches. Each item's step is idempotent and ordered so a
crash anywhere is completed by the next pass: purposes are replaced in one transaction that
also marks the object unsynced, and `ItemDestroyer` shreds the keys of a whole batch's
destructions in one transaction before one bulk delete removes their objects. A batch is
read, then the active holds, right before `policies.decide` judges each item, and the
destroying transaction checks the holds once more, so a hold placed while a pass runs still
protects.

An item whose last purpose asks for a disposition review (`review: true`) is not destroyed:
the pass opens a review (audited) and the item waits, shown as `awaiting_review`, until a
reviewer decides; a `destroy` decision is carried out by the next pass that finds no hold.
A dry run lists each item it would destroy with its explanation (`RetentionExplainer`).
"""

from __future__ import annotations

import asyncio
import logging
import os
import socket
import time
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field, fields
from datetime import datetime

from policies.explanation import Explanation
from policies.models import Hold, ItemFacts, Policy, PurposeState
from policies.outcomes import Decision, SweepAction
from policies.retention import decide
from policies.review import ReviewState, review_purposes
from service.facts import item_facts
from service.retention.destruction import ItemDestroyer
from service.retention.explain import RetentionExplainer
from service.retention.locks import ObjectLockSync
from storage.errors import LeaseUnavailableError, StorageError
from storage.models import ItemRecord, PurposeRow, Renew
from storage.ports import (
    AuditLog,
    Catalog,
    HoldStore,
    Leases,
    ObjectStore,
    PolicyStore,
    ReviewStore,
)

log = logging.getLogger(__name__)

AfterSweep = Callable[[datetime], Awaitable[object]]
Progress = Callable[[int, int], None]
SWEEP_LEASE = "sweeper"


def purpose_rows(states: tuple[PurposeState, ...]) -> list[PurposeRow]:
    """Catalog rows of purpose states."""
    return [PurposeRow(s.name, s.basis.value, s.expires_at, s.worm) for s in states]


def purpose_tags(item_type: str, names: list[str]) -> dict[str, str]:
    """The object tags naming an item's type and purposes (no personal data)."""
    return {"kl-type": item_type, "kl-purposes": "+".join(sorted(names)) or "none"}


@dataclass(frozen=True, slots=True)
class SweepEntry:
    """What a pass did, or in a dry run would do, with one item."""

    item_id: str
    type: str
    action: SweepAction
    reason: str
    expired_purposes: tuple[str, ...]
    holds: tuple[str, ...]
    explanation: Explanation | None = None


@dataclass(slots=True)
class SweepReport:
    """The counts of one pass (and, in a dry run, every item it would change)."""

    started_at: datetime
    dry_run: bool
    examined: int = 0
    destroyed: int = 0
    purposes_dropped: int = 0
    kept: int = 0
    failed: int = 0
    locked: int = 0
    covered: int = 0
    repaired: int = 0
    reviews_opened: int = 0
    awaiting_review: int = 0
    interrupted: bool = False
    duration_s: float = 0.0
    entries: list[SweepEntry] = field(default_factory=list)

    def to_json(self) -> dict[str, object]:
        """The counts as JSON values."""
        body = {f.name: getattr(self, f.name) for f in fields(self) if f.name != "entries"}
        body.update(started_at=self.started_at.isoformat(), duration_s=round(self.duration_s, 3))
        return body


class Sweeper:
    """Applies `policies.decide` to every due item; see the module docstring."""

    def __init__(
        self,
        *,
        catalog: Catalog,
        holds: HoldStore,
        policies: PolicyStore,
        destroyer: ItemDestroyer,
        lock_sync: ObjectLockSync,
        store: ObjectStore,
        audit: AuditLog,
        clock: Callable[[], datetime],
        after_sweep: AfterSweep | None = None,
        compliance_lock: bool = False,
        batch_size: int = 200,
        concurrency: int = 8,
        actor: str = "sweeper",
        reviews: ReviewStore | None = None,
        explainer: RetentionExplainer | None = None,
    ) -> None:
        self._catalog = catalog
        self._holds = holds
        self._policies = policies
        self._destroyer = destroyer
        self._lock_sync = lock_sync
        self._store = store
        self._audit = audit
        self._clock = clock
        self._after_sweep = after_sweep
        self._compliance = compliance_lock
        self._batch = batch_size
        self._concurrency = concurrency
        self._actor = actor
        self._reviews = reviews
        self._explainer = explainer

    async def count_due(self, now: datetime) -> int:
        """How many stored items have an expired purpose or none at all."""
        return await self._catalog.count_due(now)

    async def sweep(
        self,
        now: datetime | None = None,
        *,
        dry_run: bool = False,
        progress: Progress | None = None,
        keep_going: Renew | None = None,
    ) -> SweepReport:
        """One pass over every due item.

        Args:
            now: The instant purposes are judged at; the clock by default.
            dry_run: Decide only: change nothing and list what would change.
            progress: Called with (done, total) after each batch.
            keep_going: Called between batches (e.g. to renew a lease); False stops the pass.

        Returns:
            What the pass did.
        """
        now = now or self._clock()
        report = SweepReport(started_at=now, dry_run=dry_run)
        started = time.monotonic()
        if not dry_run:
            report.covered = await self._cover_new_items()
        total = await self.count_due(now) if progress else 0
        policy = await self._policies.active()
        gate = asyncio.Semaphore(self._concurrency)
        after = ""
        while True:
            ids = await self._due_ids(now, after)
            if not ids:
                break
            after = ids[-1]
            await self._batch_of(ids, policy, now, report, gate)
            if progress is not None:
                progress(report.examined, max(total, report.examined))
            if keep_going is not None and not await keep_going():
                report.interrupted = True
                break
        if not dry_run and not report.interrupted:
            report.repaired = await self._repair(now)
            if self._after_sweep is not None:
                await self._after_sweep(now)
            # The catalog grows between passes: its planner's statistics follow it (throttled).
            await self._catalog.refresh_statistics()
        report.duration_s = time.monotonic() - started
        return report

    async def _batch_of(
        self,
        ids: list[str],
        policy: Policy,
        now: datetime,
        report: SweepReport,
        gate: asyncio.Semaphore,
    ) -> None:
        """Judge one batch of due items; the destructions among them go in one transaction."""
        records = await self._catalog.get_many(ids)
        report.examined += len(records)
        # The holds are read after the items, right before acting on them: a hold placed
        # while the pass runs wins over a decision taken on older facts (and one placed
        # after this read is seen by the destroying transaction itself).
        holds = await self._holds.active()

        async def one(record: ItemRecord) -> tuple[ItemRecord, str] | None:
            async with gate:
                return await self._item(record, policy, holds, now, report)

        judged = await asyncio.gather(*(one(record) for record in records))
        doomed = [entry for entry in judged if entry is not None]
        if doomed:
            await self._destroy(doomed, report)

    async def _destroy(self, doomed: list[tuple[ItemRecord, str]], report: SweepReport) -> None:
        try:
            outcome = await self._destroyer.destroy_many(
                doomed, actor=self._actor, at=self._clock()
            )
        except StorageError as err:
            report.failed += len(doomed)
            log.warning("sweep: %d items left for the next pass (%s)", len(doomed), err)
            return
        report.destroyed += len(outcome.destroyed)
        for item_id, error in outcome.unlisted.items():
            log.warning("sweep: item %s left for the next pass (%s)", item_id, error)
        report.failed += len(outcome.unlisted)
        # An export, erasure or production in progress reads them: the pass after it ends.
        for item_id in outcome.guarded:
            log.info("sweep: item %s kept while a request in progress names it", item_id)
        # A hold placed after the decision: the destroying transaction saw it and won.
        for item_id, (hold_id, _matter) in outcome.held.items():
            log.info("sweep: item %s kept, hold %s placed meanwhile", item_id, hold_id)
        report.kept += len(outcome.guarded) + len(outcome.held)

    async def _item(
        self,
        record: ItemRecord,
        policy: Policy,
        holds: list[Hold],
        now: datetime,
        report: SweepReport,
    ) -> tuple[ItemRecord, str] | None:
        """Judge one item and carry out what is not a destruction; a destruction is returned."""
        decision = await self._decision(record, policy, holds, now, report)
        if decision is None:
            return None
        if decision.action is SweepAction.KEEP:
            report.kept += 1
            return None
        if report.dry_run:
            await self._plan(record, decision, policy=policy, holds=holds, report=report)
            return None
        if decision.action is not SweepAction.DESTROY:
            await self._drop_purposes(record, decision, now, report)
            return None
        if self._compliance and record.s3_retain_until and record.s3_retain_until > now:
            # COMPLIANCE retention cannot be bypassed; the object goes once it runs out.
            report.locked += 1
            return None
        return record, decision.reason.value

    async def _decision(
        self,
        record: ItemRecord,
        policy: Policy,
        holds: list[Hold],
        now: datetime,
        report: SweepReport,
    ) -> Decision | None:
        """What `policies.decide` says of an item, a disposition review taken into account."""
        facts = item_facts(record)
        decision: Decision | None = decide(facts, policy, holds, now)
        if decision is None or decision.action is not SweepAction.REVIEW:
            return decision
        try:
            return await self._review(
                record, facts, policy=policy, holds=holds, now=now, report=report
            )
        except StorageError as err:
            report.failed += 1
            log.warning("sweep: review of item %s left for the next pass (%s)", record.item_id, err)
            return None

    async def _drop_purposes(
        self, record: ItemRecord, decision: Decision, now: datetime, report: SweepReport
    ) -> None:
        try:
            await self._drop(record, decision, now)
            report.purposes_dropped += 1
        except StorageError as err:
            report.failed += 1
            log.warning("sweep: item %s left for the next pass (%s)", record.item_id, err)

    async def _plan(
        self,
        record: ItemRecord,
        decision: Decision,
        *,
        policy: Policy,
        holds: list[Hold],
        report: SweepReport,
    ) -> None:
        """List what a real pass would do; a destruction with the item's explanation."""
        explanation = None
        if decision.action is SweepAction.DESTROY and self._explainer is not None:
            explanation = await self._explainer.explain_record(
                record, policy, holds, report.started_at
            )
        report.entries.append(_entry(record, decision, explanation))
        if decision.action is SweepAction.DESTROY:
            report.destroyed += 1
        else:
            report.purposes_dropped += 1

    async def _review(
        self,
        record: ItemRecord,
        facts: ItemFacts,
        *,
        policy: Policy,
        holds: list[Hold],
        now: datetime,
        report: SweepReport,
    ) -> Decision | None:
        """Disposition review instead of destruction: the decision to carry out, if any.

        A reviewer's ``destroy`` makes it a destruction now; an open review keeps the item;
        otherwise a review is opened (audited) and the item waits for it.
        """
        if self._reviews is None:
            report.kept += 1
            return None
        review = await self._reviews.current(record.item_id)
        if review is not None and review.state is ReviewState.DESTROY:
            return decide(facts, policy, holds, now, disposal_approved=True)
        if review is not None and review.state is ReviewState.PENDING:
            report.awaiting_review += 1
            return None
        purposes = review_purposes(facts, policy)
        if report.dry_run:
            report.entries.append(_entry(record, decide(facts, policy, holds, now)))
            report.reviews_opened += 1
            return None
        opened = await self._reviews.open(record.item_id, purposes=purposes, at=self._clock())
        if opened is None:
            report.awaiting_review += 1
            return None
        await self._audit.append(
            actor=self._actor,
            action="review.opened",
            at=opened.opened_at,
            item_id=record.item_id,
            details={"review_id": opened.review_id, "purposes": list(purposes)},
        )
        log.info("item %s awaits disposition review", record.item_id)
        report.reviews_opened += 1
        return None

    async def _drop(self, record: ItemRecord, decision: Decision, now: datetime) -> None:
        async with self._audit.transaction():
            await self._catalog.set_purposes(record.item_id, purpose_rows(decision.remaining))
            await self._audit.append(
                actor=self._actor,
                action="purposes.expired",
                at=self._clock(),
                item_id=record.item_id,
                details={
                    "expired": list(decision.expired_purposes),
                    "remaining": [p.name for p in decision.remaining],
                    "holds": list(decision.holds),
                },
            )
        updated = await self._catalog.get(record.item_id)
        if updated is None:
            return
        await self._lock_sync.sync(updated, now)
        if updated.stored is not None:
            tags = purpose_tags(updated.type, [p.name for p in updated.purposes])
            stored = updated.stored
            await asyncio.to_thread(
                self._store.set_tags, stored.object_key, stored.version_id, tags
            )

    async def _cover_new_items(self) -> int:
        """Cover items that became stored while a hold was being placed (ingest race)."""
        covered = 0
        for hold in await self._holds.active():
            covered += await self._holds.cover(hold.hold_id, hold.criteria)
        return covered

    async def _repair(self, now: datetime) -> int:
        """Apply the lock state of items whose object is not in step with the catalog."""
        repaired, after = 0, ""
        while ids := await self._catalog.unsynced_ids(after=after, limit=self._batch):
            after = ids[-1]
            records = [r for r in await self._catalog.get_many(ids) if not r.s3_synced]
            repaired += await self._lock_sync.sync_many(records, now, concurrency=self._concurrency)
        return repaired

    async def _due_ids(self, now: datetime, after: str) -> list[str]:
        return await self._catalog.due_ids(now, after=after, limit=self._batch)


def _entry(
    record: ItemRecord, decision: Decision, explanation: Explanation | None = None
) -> SweepEntry:
    return SweepEntry(
        item_id=record.item_id,
        type=record.type,
        action=decision.action,
        reason=decision.reason.value,
        expired_purposes=decision.expired_purposes,
        holds=decision.holds,
        explanation=explanation,
    )


async def sweep_forever(
    sweeper: Sweeper,
    leases: Leases,
    *,
    interval_s: float,
    holder: str,
    clock: Callable[[], datetime],
    lease_ttl_s: float = 30.0,
    observe: Callable[[SweepReport | None], None] | None = None,
) -> None:
    """Sweep every interval_s, on whichever process holds the sweeper lease at that time.

    The lease is taken for each pass and given up after it, so `keepline sweep` and
    `keepline policy apply` can run between passes; a process that dies mid-pass loses it
    after lease_ttl_s and another one carries on. ``observe`` is told of each pass this
    process ran: its report, or None when it raised (the error then propagates).
    """
    while True:
        started = time.monotonic()
        try:
            async with leases.holding(SWEEP_LEASE, holder, ttl_s=lease_ttl_s, clock=clock) as renew:
                report = await sweeper.sweep(keep_going=renew)
            if (
                report.destroyed
                or report.purposes_dropped
                or report.failed
                or report.repaired
                or report.reviews_opened
            ):
                log.info("sweep: %s", report.to_json())
            if observe is not None:
                observe(report)
        except LeaseUnavailableError as err:
            log.debug("sweep skipped: %s", err)
        except Exception:
            if observe is not None:
                observe(None)
            raise
        await asyncio.sleep(max(0.0, interval_s - (time.monotonic() - started)))


def default_holder() -> str:
    """A lease holder id unique to this process (host, pid and a random suffix)."""
    return f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"
