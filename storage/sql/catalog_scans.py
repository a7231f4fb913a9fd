"""Catalog scans for maintenance: key rotation and reconciliation with the object store.

Every scan pages by item id, so a catalog of any size is walked in bounded memory.
"""

from __future__ import annotations

import builtins
import time
from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import ColumnElement, exists, func, or_, select, update

from storage.models import ItemStatus, ObjectOwner, RewrappedKey, WrappedKeyRow
from storage.sql.database import Database, must_utc
from storage.sql.schema import hold_items, holds, item_purposes, items

#: Least time between two refreshes of the planner's statistics (seconds).
STATISTICS_EVERY_S = 600.0

__all__ = ["CatalogScans", "RewrappedKey", "WrappedKeyRow"]


class CatalogScans:
    """SqlCatalog's maintenance methods (kept apart to keep each module small)."""

    _db: Database
    _statistics_at: float | None

    async def wrapped_keys(
        self, *, not_key_id: str, after_item_id: str = "", limit: int = 500
    ) -> builtins.list[WrappedKeyRow]:
        """One page, in item id order, of the wrapped data keys not under ``not_key_id``.

        Page on with the last row's item id as ``after_item_id``; an empty page is the end.
        Destroyed items have no wrapped key and never appear.
        """
        async with self._db.connect() as conn:
            rows = (
                await conn.execute(
                    select(items.c.item_id, items.c.key_id, items.c.wrapped_key)
                    .where(
                        items.c.wrapped_key.is_not(None),
                        items.c.item_id > after_item_id,
                        or_(items.c.key_id.is_(None), items.c.key_id != not_key_id),
                    )
                    .order_by(items.c.item_id)
                    .limit(limit)
                )
            ).all()
        return [WrappedKeyRow(r.item_id, r.key_id, r.wrapped_key) for r in rows]

    async def count_wrapped_keys(self, *, not_key_id: str) -> int:
        """How many wrapped data keys are not under ``not_key_id``."""
        async with self._db.connect() as conn:
            count = (
                await conn.execute(
                    select(func.count())
                    .select_from(items)
                    .where(
                        items.c.wrapped_key.is_not(None),
                        or_(items.c.key_id.is_(None), items.c.key_id != not_key_id),
                    )
                )
            ).scalar_one()
        return int(count)

    async def wrapped_key_counts(self) -> dict[str | None, int]:
        """How many wrapped data keys each KEK version wraps (None: rows that do not say)."""
        async with self._db.connect() as conn:
            rows = (
                await conn.execute(
                    select(items.c.key_id, func.count())
                    .where(items.c.wrapped_key.is_not(None))
                    .group_by(items.c.key_id)
                )
            ).all()
        return {row[0]: int(row[1]) for row in rows}

    async def replace_wrapped_keys(self, updates: Sequence[RewrappedKey]) -> int:
        """Store re-wrapped data keys in one transaction; returns how many rows changed.

        A row changes only if it still holds the wrapped key that was re-wrapped, so an item
        destroyed meanwhile (its key shredded) is never given its key back.
        """
        changed = 0
        async with self._db.begin() as conn:
            for u in updates:
                result = await conn.execute(
                    update(items)
                    .where(items.c.item_id == u.item_id, items.c.wrapped_key == u.old_wrapped_key)
                    .values(key_id=u.key_id, wrapped_key=u.wrapped_key)
                )
                changed += result.rowcount
        return changed

    async def object_owners(self, object_keys: Sequence[str]) -> dict[str, ObjectOwner]:
        """For each object key, the catalog row that names it (keys without one are absent)."""
        if not object_keys:
            return {}
        async with self._db.connect() as conn:
            rows = (
                await conn.execute(
                    select(
                        items.c.item_id,
                        items.c.status,
                        items.c.object_key,
                        items.c.object_version_id,
                    ).where(items.c.object_key.in_(list(object_keys)))
                )
            ).all()
        return {
            r.object_key: ObjectOwner(
                r.item_id, ItemStatus(r.status), r.object_key, r.object_version_id
            )
            for r in rows
        }

    async def stored_objects(
        self, *, after_item_id: str = "", limit: int = 1000
    ) -> builtins.list[ObjectOwner]:
        """One page, in item id order, of the stored items that have an object."""
        async with self._db.connect() as conn:
            rows = (
                await conn.execute(
                    select(
                        items.c.item_id,
                        items.c.status,
                        items.c.object_key,
                        items.c.object_version_id,
                    )
                    .where(
                        items.c.status == ItemStatus.STORED.value,
                        items.c.object_key.is_not(None),
                        items.c.item_id > after_item_id,
                    )
                    .order_by(items.c.item_id)
                    .limit(limit)
                )
            ).all()
        return [
            ObjectOwner(r.item_id, ItemStatus(r.status), r.object_key, r.object_version_id)
            for r in rows
        ]

    async def stale_claims(
        self, *, attempted_before: datetime, limit: int = 100
    ) -> tuple[int, builtins.list[tuple[str, datetime]]]:
        """Pending claims no attempt has touched since attempted_before: count, oldest first.

        Every attempt at a pending claim (a redelivery, a retry) sets its `ingested_at` to
        the attempt's time, so a claim older than a few minutes has no worker on it: its
        event was never delivered again, and only republishing it will store it.
        """
        stale = (items.c.status == ItemStatus.PENDING.value) & (
            items.c.ingested_at < attempted_before
        )
        async with self._db.connect() as conn:
            count = (
                await conn.execute(select(func.count()).select_from(items).where(stale))
            ).scalar_one()
            rows = (
                await conn.execute(
                    select(items.c.item_id, items.c.ingested_at)
                    .where(stale)
                    .order_by(items.c.ingested_at)
                    .limit(limit)
                )
            ).all()
        return int(count), [(row.item_id, must_utc(row.ingested_at)) for row in rows]

    async def pending_claims(self) -> int:
        """How many claims wait for their event to be redelivered and stored."""
        async with self._db.connect() as conn:
            count = (
                await conn.execute(
                    select(func.count())
                    .select_from(items)
                    .where(items.c.status == ItemStatus.PENDING.value)
                )
            ).scalar_one()
        return int(count)

    # -- the sweeper's queries -------------------------------------------------------------

    async def refresh_statistics(self) -> None:
        """Refresh what the database's query planner knows of the tables (after a pass).

        At most every `STATISTICS_EVERY_S`: a sweeper passing every few seconds need not
        sample the indexes each time.
        """
        now = time.monotonic()
        if self._statistics_at is not None and now - self._statistics_at < STATISTICS_EVERY_S:
            return
        await self._db.refresh_statistics()
        self._statistics_at = now

    async def count_due(self, now: datetime) -> int:
        """How many stored items have an expired purpose, or none and no hold keeping them."""
        async with self._db.connect() as conn:
            due = _due(now, expired_list=self._db.is_sqlite)
            return int((await conn.execute(select(func.count()).where(due))).scalar_one())

    async def due_ids(self, now: datetime, *, after: str, limit: int) -> builtins.list[str]:
        """The next due item ids after `after`, in id order."""
        async with self._db.connect() as conn:
            return list(
                (
                    await conn.execute(
                        select(items.c.item_id)
                        .where(_due(now, expired_list=self._db.is_sqlite), items.c.item_id > after)
                        .order_by(items.c.item_id)
                        .limit(limit)
                    )
                ).scalars()
            )

    async def unsynced_ids(
        self, *, after: str, limit: int, hold_id: str | None = None
    ) -> builtins.list[str]:
        """The next stored item ids after `after` whose object lock state lags the catalog.

        With `hold_id`, only the items that hold covers (or covered, once released).
        """
        stmt = select(items.c.item_id).where(
            items.c.status == ItemStatus.STORED.value,
            items.c.s3_synced.is_(False),
            items.c.item_id > after,
        )
        if hold_id is not None:
            stmt = stmt.where(
                exists().where(
                    hold_items.c.hold_id == hold_id, hold_items.c.item_id == items.c.item_id
                )
            )
        async with self._db.connect() as conn:
            return list((await conn.execute(stmt.order_by(items.c.item_id).limit(limit))).scalars())


def _due(now: datetime, *, expired_list: bool = False) -> ColumnElement[bool]:
    """Stored items with an expired purpose, or with none and no active hold keeping them.

    A held item without purposes can only be kept, so it is left out until its last hold
    is released; an item with a hold that coverage has not recorded yet is still judged.

    ``expired_list`` (SQLite) finds the items with an expired purpose as one list, read
    once from the expiry index, instead of a probe per item: over a million items that
    finds nothing due it is four times faster there. PostgreSQL keeps the probe, which
    its planner runs as an index lookup per item whatever the number of expired purposes
    (a list too large for its memory would be searched item by item instead).
    """
    has_expired: ColumnElement[bool] = (
        items.c.item_id.in_(
            select(item_purposes.c.item_id).where(item_purposes.c.expires_at <= now)
        )
        if expired_list
        else exists().where(
            item_purposes.c.item_id == items.c.item_id, item_purposes.c.expires_at <= now
        )
    )
    has_none = ~exists().where(item_purposes.c.item_id == items.c.item_id)
    held = exists().where(
        hold_items.c.item_id == items.c.item_id,
        hold_items.c.hold_id == holds.c.hold_id,
        holds.c.released_at.is_(None),
    )
    return (items.c.status == ItemStatus.STORED.value) & (has_expired | (has_none & ~held))
