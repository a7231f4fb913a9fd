"""ItemDestroyer: the one way an item is destroyed (sweeper and erasure alike)."""

from __future__ import annotations

import asyncio
import logging
from datetime import datetime

from storage.errors import ObjectStoreError
from storage.models import ItemRecord
from storage.ports import AuditLog, Catalog, ObjectStore, ObjectVersion

log = logging.getLogger(__name__)


class ItemDestroyer:
    """Shreds the data key, keeps a tombstone, audits it, then removes the object versions.

    Callers decide *whether* (policies.decide, policies.erasure_outcome); this only does it.
    The catalog decides last: in one transaction it checks again that no active hold covers
    the item (a hold placed after the caller's decision wins: ItemHeldError, nothing
    changed), forgets the wrapped data key and records the audit entry. Only then are the
    object versions removed, so a hold can never find its item's content already gone.
    Without its key the ciphertext is unreadable; versions the store refuses to remove are
    left to `keepline reconcile` as orphans.
    """

    def __init__(self, catalog: Catalog, store: ObjectStore, audit: AuditLog) -> None:
        self._catalog = catalog
        self._store = store
        self._audit = audit

    async def destroy(self, record: ItemRecord, *, reason: str, actor: str, at: datetime) -> bool:
        """Destroy one item; False if it was already gone.

        Raises:
            ItemHeldError: An active hold covers the item now; nothing changed.
            ObjectStoreError: The store cannot list the object's versions (e.g. it is
                unreachable); nothing changed, so a later attempt can succeed.
        """
        versions: list[ObjectVersion] = []
        if record.stored is not None:
            versions = await asyncio.to_thread(self._store.versions, record.stored.object_key)
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
        if record.stored is not None:
            try:
                await asyncio.to_thread(self._remove_objects, record, versions)
            except ObjectStoreError as err:
                # The data key is gone already: what is left is unreadable ciphertext.
                log.warning(
                    "item %s destroyed; its object versions are left to reconcile (%s)",
                    record.item_id,
                    type(err).__name__,
                )
        log.info("item %s destroyed (%s)", record.item_id, reason)
        return True

    def _remove_objects(self, record: ItemRecord, versions: list[ObjectVersion]) -> None:
        assert record.stored is not None
        key = record.stored.object_key
        if record.s3_legal_hold:
            # The flag would make S3 refuse; no active hold covers the item any more.
            for version in versions:
                self._store.set_legal_hold(key, version.version_id, on=False)
        self._store.delete_versions(versions, bypass_governance=True)
