"""Keeps each object's S3 Object Lock state (legal hold, retention) in step with the catalog."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime

from policies.retention import worm_retain_until
from service.facts import item_facts
from storage.errors import StorageError
from storage.models import ItemRecord, S3State
from storage.ports import Catalog, ObjectStore

log = logging.getLogger(__name__)

#: Object store calls in flight at most (the S3 client pools about as many connections).
MAX_CALLS = 8


class ObjectLockSync:
    """Applies what the catalog says to the object: the legal-hold flag and WORM retention."""

    def __init__(self, catalog: Catalog, store: ObjectStore) -> None:
        self._catalog = catalog
        self._store = store
        self._calls = ThreadPoolExecutor(MAX_CALLS, thread_name_prefix="keepline-lock-sync")

    async def sync(self, record: ItemRecord, now: datetime) -> None:
        """Bring one object's lock state in line; records the result in the catalog.

        Retention is only ever extended: S3 refuses to shorten it, and a purpose removed
        early is still honoured by the sweeper bypassing GOVERNANCE when it destroys.
        """
        if record.stored is None and record.s3_synced:
            return
        state = await self._apply(record, now)
        await self._catalog.set_s3_state(
            state.item_id, legal_hold=state.legal_hold, retain_until=state.retain_until, synced=True
        )

    async def sync_many(
        self, records: Sequence[ItemRecord], now: datetime, *, concurrency: int = MAX_CALLS
    ) -> int:
        """Bring many objects in line, several at a time; one catalog write records them all.

        An object the store refuses, or cannot be reached for, is left as it was (still
        marked unsynced, for the sweeper's repair pass) and does not stop the others.

        Returns:
            How many were brought in line.
        """
        gate = asyncio.Semaphore(max(1, min(concurrency, MAX_CALLS)))

        async def one(record: ItemRecord) -> S3State | None:
            async with gate:
                try:
                    return await self._apply(record, now)
                except StorageError as err:
                    log.warning(
                        "item %s: lock state left to the repair pass (%s)",
                        record.item_id,
                        type(err).__name__,
                    )
                    return None

        states = [s for s in await asyncio.gather(*map(one, records)) if s is not None]
        await self._catalog.set_s3_states(states)
        return len(states)

    async def _apply(self, record: ItemRecord, now: datetime) -> S3State:
        """Tell the object store what the catalog says; what it was told."""
        stored = record.stored
        if stored is None:
            return S3State(record.item_id, legal_hold=False, retain_until=None)
        want_hold = bool(record.hold_ids)
        want_until = worm_retain_until(item_facts(record), now)
        retain_until = record.s3_retain_until
        if want_until is not None and (retain_until is None or want_until > retain_until):
            await self._call(
                lambda: self._store.set_retention(
                    stored.object_key, stored.version_id, until=want_until
                )
            )
            retain_until = want_until
        if want_hold != record.s3_legal_hold or not record.s3_synced:
            await self._call(
                lambda: self._store.set_legal_hold(
                    stored.object_key, stored.version_id, on=want_hold
                )
            )
        return S3State(record.item_id, legal_hold=want_hold, retain_until=retain_until)

    async def _call(self, call: Callable[[], None]) -> None:
        await asyncio.get_running_loop().run_in_executor(self._calls, call)
