"""ItemDestroyer: the one way an item is destroyed (sweeper and erasure alike)."""

from __future__ import annotations

import asyncio
import logging
from datetime import datetime

from storage.models import ItemRecord
from storage.ports import AuditLog, Catalog, ObjectStore

log = logging.getLogger(__name__)


class ItemDestroyer:
    """Removes every object version, shreds the data key, keeps a tombstone, audits it.

    Callers decide *whether* (policies.decide, policies.erasure_outcome); this only does it.
    The order makes a crash at any step safe to repeat: objects first (a retry finds none
    left), then the catalog row and its audit entry in one transaction.
    """

    def __init__(self, catalog: Catalog, store: ObjectStore, audit: AuditLog) -> None:
        self._catalog = catalog
        self._store = store
        self._audit = audit

    async def destroy(self, record: ItemRecord, *, reason: str, actor: str, at: datetime) -> bool:
        """Destroy one item; False if it was already gone.

        Raises:
            ObjectStoreError: The store refused (e.g. a COMPLIANCE retention not yet over);
                nothing in the catalog changed, so a later attempt can succeed.
        """
        if record.stored is not None:
            await asyncio.to_thread(self._remove_objects, record)
        async with self._audit.transaction():
            if not await self._catalog.mark_destroyed(record.item_id, reason=reason, at=at):
                return False
            await self._audit.append(
                actor=actor,
                action="item.destroyed",
                at=at,
                item_id=record.item_id,
                details={
                    "reason": reason,
                    "type": record.type,
                    "policy_version": record.policy_version,
                },
            )
        log.info("item %s destroyed (%s)", record.item_id, reason)
        return True

    def _remove_objects(self, record: ItemRecord) -> None:
        assert record.stored is not None
        key = record.stored.object_key
        versions = self._store.versions(key)
        if record.s3_legal_hold:
            # The flag would make S3 refuse; no active hold covers the item any more.
            for version in versions:
                self._store.set_legal_hold(key, version.version_id, on=False)
        self._store.delete_versions(versions, bypass_governance=True)
