"""ItemDestroyer: the one way an item is destroyed (sweeper and erasure alike)."""

from __future__ import annotations

import asyncio
import logging
from datetime import datetime

from service.errors import ServiceError
from storage.models import ItemRecord
from storage.ports import AuditLog, Catalog, ObjectStore, RequestGuards

log = logging.getLogger(__name__)


class ItemGuardedError(ServiceError):
    """A request in progress (an export, an erasure, a production) names the item: not now."""

    retriable = True

    def __init__(self, item_id: str) -> None:
        super().__init__(f"item {item_id} is named by a request in progress")
        self.item_id = item_id


class ItemDestroyer:
    """Removes every object version, shreds the data key, keeps a tombstone, audits it.

    Callers decide *whether* (policies.decide, policies.erasure_outcome); this only does it.
    The order makes a crash at any step safe to repeat: objects first (a retry finds none
    left), then the catalog row in one transaction, then the audit entry.
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

        Nothing is destroyed that a request in progress names (an open export, erasure or
        production), except by that request itself (``on_behalf_of``, its guard's id).

        Raises:
            ItemGuardedError: Another request in progress names the item; try after it.
            ObjectStoreError: The store refused (e.g. a COMPLIANCE retention not yet over);
                nothing in the catalog changed, so a later attempt can succeed.
        """
        if self._guards is not None and await self._guards.guarded(
            [record.item_id], now=at, exempt=on_behalf_of
        ):
            raise ItemGuardedError(record.item_id)
        if record.stored is not None:
            await asyncio.to_thread(self._remove_objects, record)
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
