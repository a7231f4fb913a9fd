"""HoldsService: placing and releasing legal holds, S3 legal-hold flags and audit included."""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable, Iterable
from datetime import datetime

from policies.models import HoldCriteria
from service.retention.locks import ObjectLockSync
from storage.errors import StorageError
from storage.models import HoldRecord
from storage.ports import AuditLog, Catalog, HoldStore

log = logging.getLogger(__name__)

_CHUNK = 200

AfterRelease = Callable[[datetime], Awaitable[object]]


class HoldsService:
    """Orchestrates a hold's life: coverage, S3 flags, audit entries, deferred erasures.

    The catalog is changed first and every affected item is marked unsynced in the same
    transaction, so a crash before the flags are set is repaired by the sweeper; the flags
    are then applied here, several objects at a time.
    """

    def __init__(
        self,
        *,
        holds: HoldStore,
        catalog: Catalog,
        lock_sync: ObjectLockSync,
        audit: AuditLog,
        after_release: AfterRelease | None = None,
        concurrency: int = 8,
        sync_budget_s: float = 20.0,
    ) -> None:
        self._holds = holds
        self._catalog = catalog
        self._lock_sync = lock_sync
        self._audit = audit
        self._after_release = after_release
        self._concurrency = concurrency
        self._sync_budget_s = sync_budget_s

    @property
    def holds(self) -> HoldStore:
        """The hold store (for listing, reading and previews)."""
        return self._holds

    async def place(
        self,
        *,
        matter: str,
        description: str,
        criteria: HoldCriteria,
        by: str,
        at: datetime,
    ) -> HoldRecord:
        """Place a hold: cover matching items, set their S3 legal-hold flags, audit it.

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
        await self.sync_items(covered, at)
        log.info("hold %s placed, covering %d items", record.hold_id, record.matched)
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
        await self.sync_items(freed, at)
        log.info("hold %s released, %d items freed", hold_id, len(freed))
        if self._after_release is not None:
            try:
                await self._after_release(at)
            except StorageError as err:
                # The release stands; the sweeper runs the same hook on its next pass.
                log.warning("deferred erasures after release left to the sweeper (%s)", err)
        return record

    async def sync_items(self, item_ids: Iterable[str], now: datetime) -> int:
        """Bring the S3 lock state of items in line with the catalog; returns how many synced.

        An object store that refuses or is unreachable does not fail the hold, which is in
        force in the catalog already: the item stays marked unsynced and the sweeper's
        repair pass sets its flag later. So do the items left when the time budget is spent,
        so that placing a hold on a very large matter answers in bounded time.
        """
        gate = asyncio.Semaphore(self._concurrency)

        async def one(item_id: str) -> int:
            async with gate:
                record = await self._catalog.get(item_id)
                if record is None:
                    return 0
                try:
                    await self._lock_sync.sync(record, now)
                except StorageError as err:
                    log.warning("item %s: lock sync deferred (%s)", item_id, type(err).__name__)
                    return 0
                return 1

        ids = list(item_ids)
        synced = 0
        deadline = time.monotonic() + self._sync_budget_s
        for start in range(0, len(ids), _CHUNK):
            if time.monotonic() >= deadline:
                log.info("%d lock syncs left to the sweeper's repair", len(ids) - start)
                break
            chunk = ids[start : start + _CHUNK]
            synced += sum(await asyncio.gather(*(one(i) for i in chunk)))
        return synced
