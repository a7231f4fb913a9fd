"""Keeps each object's S3 Object Lock state (legal hold, retention) in step with the catalog."""

from __future__ import annotations

import asyncio
from datetime import datetime

from policies.retention import worm_retain_until
from service.facts import item_facts
from storage.models import ItemRecord
from storage.ports import Catalog, ObjectStore


class ObjectLockSync:
    """Applies what the catalog says to the object: the legal-hold flag and WORM retention."""

    def __init__(self, catalog: Catalog, store: ObjectStore) -> None:
        self._catalog = catalog
        self._store = store

    async def sync(self, record: ItemRecord, now: datetime) -> None:
        """Bring one object's lock state in line; records the result in the catalog.

        Retention is only ever extended: S3 refuses to shorten it, and a purpose removed
        early is still honoured by the sweeper bypassing GOVERNANCE when it destroys.
        """
        stored = record.stored
        if stored is None:
            if not record.s3_synced:
                await self._catalog.set_s3_state(
                    record.item_id, legal_hold=False, retain_until=None, synced=True
                )
            return
        want_hold = bool(record.hold_ids)
        want_until = worm_retain_until(item_facts(record), now)
        retain_until = record.s3_retain_until
        if want_until is not None and (retain_until is None or want_until > retain_until):
            await asyncio.to_thread(
                self._store.set_retention, stored.object_key, stored.version_id, until=want_until
            )
            retain_until = want_until
        if want_hold != record.s3_legal_hold or not record.s3_synced:
            await asyncio.to_thread(
                self._store.set_legal_hold, stored.object_key, stored.version_id, on=want_hold
            )
        await self._catalog.set_s3_state(
            record.item_id, legal_hold=want_hold, retain_until=retain_until, synced=True
        )
