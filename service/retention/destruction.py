"""ItemDestroyer: the one way an item is destroyed (sweeper and erasure alike)."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime

from service.errors import ServiceError
from storage.errors import ItemHeldError, ObjectNotFoundError, ObjectStoreError
from storage.models import AuditDraft, ItemRecord
from storage.ports import AuditLog, Catalog, ObjectStore, ObjectVersion, RequestGuards

log = logging.getLogger(__name__)


class ItemGuardedError(ServiceError):
    """A request in progress (an export, an erasure, a production) names the item: not now."""

    retriable = True

    def __init__(self, item_id: str) -> None:
        super().__init__(f"item {item_id} is named by a request in progress")
        self.item_id = item_id


@dataclass(slots=True)
class BatchDestruction:
    """What destroying a batch did, item by item.

    Attributes:
        destroyed: Destroyed now (key shredded, tombstone and audit entry written).
        held: Left as they were: an active hold covers them now (hold_id, matter).
        guarded: Left as they were: a request in progress names them.
        unlisted: Left as they were: the store did not answer before the batch (the
            error); items without an object go on regardless.
    """

    destroyed: list[str] = field(default_factory=list)
    held: dict[str, tuple[str, str]] = field(default_factory=dict)
    guarded: list[str] = field(default_factory=list)
    unlisted: dict[str, ObjectStoreError] = field(default_factory=dict)


class ItemDestroyer:
    """Shreds the data keys, keeps tombstones, audits, then removes the object versions.

    Callers decide *whether* (policies.decide, policies.erasure_outcome); this only does it,
    one item or a batch at a time. Nothing is destroyed that a request in progress names (an
    open export, erasure or production), except by that request itself. The catalog decides
    last: in one transaction it checks again that no active hold covers each item (a hold
    placed after the caller's decision wins: the item is left as it was), forgets the
    wrapped data keys and records one audit entry per item. Only then are the object
    versions removed, with one bulk delete per batch, so a hold can never find its item's
    content already gone. Without its key the ciphertext is unreadable; versions the store
    refuses to remove are left to `keepline reconcile` as orphans.

    The version removed is the one the catalog names: the only version whose data key was
    ever kept. Another version of the same key can only be left by an upload that lost its
    race or was cut short and then not tidied; its data key died with that attempt, so it
    was unreadable from the start, and `keepline reconcile` removes it. The store is asked
    once per batch whether it answers, so an outage leaves the batch for the next attempt
    instead of leaving its ciphertext to reconcile.
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
        outcome = await self.destroy_many(
            [(record, reason)], actor=actor, at=at, on_behalf_of=on_behalf_of
        )
        if outcome.guarded:
            raise ItemGuardedError(record.item_id)
        if record.item_id in outcome.unlisted:
            raise outcome.unlisted[record.item_id]
        if record.item_id in outcome.held:
            hold_id, matter = outcome.held[record.item_id]
            raise ItemHeldError(record.item_id, hold_id, matter)
        return bool(outcome.destroyed)

    async def destroy_many(
        self,
        batch: Sequence[tuple[ItemRecord, str]],
        *,
        actor: str,
        at: datetime,
        on_behalf_of: str | None = None,
    ) -> BatchDestruction:
        """Destroy a batch of items, each with its tombstone's reason, in one transaction.

        Items already gone are in no list of the outcome. While the store does not answer,
        the items with an object are left as they were, so a later attempt can succeed;
        the others go on.
        """
        outcome = BatchDestruction()
        ids = [record.item_id for record, _ in batch]
        guarded: set[str] = set()
        if self._guards is not None and ids:
            guarded = await self._guards.guarded(ids, now=at, exempt=on_behalf_of)
        outcome.guarded = [i for i in ids if i in guarded]
        chosen = [(record, reason) for record, reason in batch if record.item_id not in guarded]
        if not chosen:
            return outcome
        await self._probe([record for record, _ in chosen], outcome)
        chosen = [
            (record, reason) for record, reason in chosen if record.item_id not in outcome.unlisted
        ]
        if not chosen:
            return outcome
        async with self._audit.transaction():
            done = await self._catalog.mark_destroyed_many(
                {record.item_id: reason for record, reason in chosen}, at=at
            )
            destroyed = set(done.destroyed)
            await self._audit.append_many(
                [
                    AuditDraft(
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
                    for record, reason in chosen
                    if record.item_id in destroyed
                ]
            )
        outcome.held = dict(done.held)
        outcome.destroyed = [r.item_id for r, _ in chosen if r.item_id in destroyed]
        gone = [record for record, _ in chosen if record.item_id in destroyed]
        if any(record.stored is not None for record in gone):
            try:
                await asyncio.to_thread(self._remove_objects, gone)
            except ObjectStoreError as err:
                # The data keys are gone already: what is left is unreadable ciphertext.
                log.warning(
                    "%d items destroyed; object versions are left to reconcile (%s)",
                    len(gone),
                    type(err).__name__,
                )
        for item_id in outcome.destroyed:
            log.info("item %s destroyed", item_id)
        return outcome

    async def _probe(self, records: Sequence[ItemRecord], outcome: BatchDestruction) -> None:
        """Ask the store once whether it answers; if not, its items go to ``unlisted``."""
        with_object = [r.item_id for r in records if r.stored is not None]
        if not with_object:
            return
        try:
            await asyncio.to_thread(self._store.ping)
        except ObjectStoreError as err:
            outcome.unlisted.update(dict.fromkeys(with_object, err))

    def _remove_objects(self, records: Sequence[ItemRecord]) -> None:
        doomed: list[ObjectVersion] = []
        for record in records:
            if record.stored is None:
                continue
            version = ObjectVersion(record.stored.object_key, record.stored.version_id)
            if record.s3_legal_hold:
                # The flag would make S3 refuse; no active hold covers the item any more.
                try:
                    self._store.set_legal_hold(version.key, version.version_id, on=False)
                except ObjectNotFoundError:
                    continue  # removed already (a destruction cut short): nothing to delete
            doomed.append(version)
        self._store.delete_versions(doomed, bypass_governance=True)
