"""HoldsService: placing and releasing legal holds; S3 legal-hold flags follow in the background."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable
from datetime import datetime

from policies.models import HoldCriteria
from service.retention.locks import MAX_CALLS, ObjectLockSync
from storage.errors import StorageError
from storage.models import HoldRecord, ItemRecord
from storage.ports import AuditLog, Catalog, HoldStore

log = logging.getLogger(__name__)

#: Items read from the catalog, flagged and recorded as synced at a time.
_PAGE = 200

AfterRelease = Callable[[datetime], Awaitable[object]]


class HoldsService:
    """Orchestrates a hold's life: coverage, S3 flags, audit entries, deferred erasures.

    The catalog is changed first, in one statement, and every affected item is marked
    unsynced in the same transaction: the hold is in force (nothing it covers can be
    destroyed) once that commits, and the route answers with the count. The S3 legal-hold
    flags then follow in a background task of this process, many objects at a time; its
    progress is the hold's ``flags_pending``. A crash, a stopped process or an unreachable
    object store leaves the rest marked unsynced, and the sweeper's repair pass sets them.
    """

    def __init__(
        self,
        *,
        holds: HoldStore,
        catalog: Catalog,
        lock_sync: ObjectLockSync,
        audit: AuditLog,
        after_release: AfterRelease | None = None,
        concurrency: int = MAX_CALLS,
    ) -> None:
        self._holds = holds
        self._catalog = catalog
        self._lock_sync = lock_sync
        self._audit = audit
        self._after_release = after_release
        self._concurrency = concurrency
        self._tasks: set[asyncio.Task[int]] = set()
        self.flags_synced = 0
        """Objects whose lock state the background tasks of this process brought in line."""

    @property
    def holds(self) -> HoldStore:
        """The hold store (for listing, reading and previews)."""
        return self._holds

    @property
    def syncing(self) -> int:
        """Background flag tasks running in this process."""
        return len(self._tasks)

    async def place(
        self,
        *,
        matter: str,
        description: str,
        criteria: HoldCriteria,
        by: str,
        at: datetime,
    ) -> HoldRecord:
        """Place a hold: cover matching items and audit it; their S3 flags follow.

        Returns:
            The hold, its ``matched`` count being the items it covers.
        """
        async with self._audit.transaction():
            record, covered = await self._holds.create(
                matter=matter,
                description=description,
                criteria=criteria,
                created_by=by,
                created_at=at,
            )
            await self._audit.append(
                actor=by,
                action="hold.placed",
                at=at,
                details={
                    "hold_id": record.hold_id,
                    "matter": record.matter,
                    "criteria_fields": sorted(criteria.to_json()),
                    "matched": record.matched,
                },
            )
        # The hold is in force in the catalog once committed; the S3 flags follow.
        self.sync_in_background(record.hold_id, at)
        log.info("hold %s placed, covering %d items", record.hold_id, covered)
        return record

    async def release(
        self, hold_id: str, *, by: str, at: datetime, reason: str | None = None
    ) -> HoldRecord:
        """Release a hold; flags are cleared where no other active hold covers the item.

        The reason, when given, is kept with the hold and in the audit entry (never logged).

        Afterwards the deferred-erasure hook runs, so erasures that only this hold blocked
        are carried out now rather than at the next sweep.

        Raises:
            HoldNotFoundError: No such hold.
            HoldAlreadyReleasedError: It was released before.
        """
        async with self._audit.transaction():
            record, freed = await self._holds.release(hold_id, by=by, at=at, reason=reason)
            await self._audit.append(
                actor=by,
                action="hold.released",
                at=at,
                details={
                    "hold_id": hold_id,
                    "matter": record.matter,
                    "items_freed": len(freed),
                    **({"reason": reason} if reason else {}),
                },
            )
        self.sync_in_background(hold_id, at)
        log.info("hold %s released, %d items freed", hold_id, len(freed))
        if self._after_release is not None:
            try:
                await self._after_release(at)
            except StorageError as err:
                # The release stands; the sweeper runs the same hook on its next pass.
                log.warning("deferred erasures after release left to the sweeper (%s)", err)
        return record

    def sync_in_background(self, hold_id: str, now: datetime) -> None:
        """Start bringing the S3 lock state of a hold's items in line, without waiting."""
        task = asyncio.create_task(self.sync_hold(hold_id, now), name=f"hold-flags-{hold_id}")
        self._tasks.add(task)
        task.add_done_callback(self._finished)

    def _finished(self, task: asyncio.Task[int]) -> None:
        self._tasks.discard(task)
        if not task.cancelled() and task.exception() is not None:
            # The items stay marked unsynced: the sweeper's repair pass sets their flags.
            log.warning("hold flags left to the sweeper (%s)", type(task.exception()).__name__)

    async def sync_hold(self, hold_id: str, now: datetime) -> int:
        """Bring the lock state of every unsynced item of a hold in line; returns how many.

        An object the store refuses, or cannot be reached for, stays marked unsynced for the
        sweeper's repair pass; the others are recorded a page at a time. The next page is
        read while the object store works on this one, so the calls do not pause between
        pages.
        """
        synced = 0
        page = await self._page(hold_id, after="")
        while page:
            ahead = asyncio.create_task(self._page(hold_id, after=page[-1].item_id))
            try:
                done = await self._lock_sync.sync_many(page, now, concurrency=self._concurrency)
            except BaseException:
                ahead.cancel()
                with contextlib.suppress(BaseException):
                    await ahead
                raise
            synced += done
            self.flags_synced += done
            page = await ahead
        return synced

    async def _page(self, hold_id: str, *, after: str) -> list[ItemRecord]:
        """The next page of the hold's unsynced items after ``after`` (empty at the end)."""
        while ids := await self._catalog.unsynced_ids(after=after, limit=_PAGE, hold_id=hold_id):
            records = await self._catalog.get_many(ids)
            if records:
                return records
            after = ids[-1]  # all of them destroyed meanwhile: on to the next ids
        return []

    async def settle(self) -> None:
        """Wait until the background flag tasks started so far have finished."""
        while self._tasks:
            await asyncio.gather(*self._tasks, return_exceptions=True)

    async def aclose(self, *, grace_s: float = 10.0) -> None:
        """Stop the background flag tasks, letting them finish for up to ``grace_s``.

        What a task stopped after that leaves is the sweeper's repair pass's to set.
        """
        if self._tasks:
            await asyncio.wait(set(self._tasks), timeout=grace_s)
        for task in list(self._tasks):
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
