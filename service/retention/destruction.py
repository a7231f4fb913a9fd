"""ItemDestroyer: the one way an item is destroyed (sweeper and erasure alike)."""

from __future__ import annotations

import asyncio
import logging
from datetime import datetime

from service.errors import ServiceError
from storage.errors import ObjectStoreError
from storage.models import ItemRecord
from storage.ports import AuditLog, Catalog, ObjectStore, ObjectVersion, RequestGuards

log = logging.getLogger(__name__)


class ItemGuardedError(ServiceError):
    """A request in progress (an export, an erasure, a production) names the item: not now."""

    retriable = True

    def __init__(self, item_id: str) -> None:
        super().__init__(f"item {item_id} is named by a request in progress")
        self.item_id = item_id


class ItemDestroyer:
    """Shreds the data key, keeps a tombstone, audits it, then removes the object versions.

    Callers decide *whether* (policies.decide, policies.erasure_outcome); this only does it.
    Nothing is destroyed that a request in progress names (an open export, erasure or
    production), except by that request itself. The catalog decides last: in one
    transaction it checks again that no active hold covers the item (a hold placed after the
    caller's decision wins: ItemHeldError, nothing changed), forgets the wrapped data key and
    records the audit entry. Only then are the object versions removed, so a hold can never
    find its item's content already gone. Without its key the ciphertext is unreadable;
    versions the store refuses to remove are left to `keepline reconcile` as orphans.
    """

    def __init__(
        self,
        catalog: Catalog,
        store: ObjectStore,
        audit: AuditLog,
        guards: RequestGuards | None = None,
    ) -> None:
        self._catalog = catalog
        self._store = store
        self._audit = audit
        self._guards = guards

    async def destroy(
        self,
        record: ItemRecord,
        *,
        reason: str,
        actor: str,
        at: datetime,
        on_behalf_of: str | None = None,
    ) -> bool:
        """Destroy one item; False if it was already gone.

        Args:
            record: The item as the caller decided on it.
            reason: The tombstone's reason.
            actor: Who destroys it (audited).
            at: When.
            on_behalf_of: The guard id of the request doing it, which its own guard exempts.

        Raises:
            ItemGuardedError: Another request in progress names the item; try after it.
            ItemHeldError: An active hold covers the item now; nothing changed.
            ObjectStoreError: The store cannot list the object's versions (e.g. it is
                unreachable); nothing changed, so a later attempt can succeed.
        """
        if self._guards is not None and await self._guards.guarded(
            [record.item_id], now=at, exempt=on_behalf_of
        ):
            raise ItemGuardedError(record.item_id)
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
