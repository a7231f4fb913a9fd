"""SqlTombstones: the tombstones destruction leaves, read by when they were made.

`SqlCatalog.mark_destroyed` writes a tombstone in the transaction that forgets the item; this
module only reads them, for the disposal listing and the daily certificate. Ordered by
(destroyed_at, item_id), so a page boundary never skips or repeats a tombstone.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import and_, or_, select

from storage.ports import Tombstone
from storage.sql.database import Database, must_utc
from storage.sql.schema import tombstones


class SqlTombstones:
    """Reads the catalog's tombstones table."""

    def __init__(self, db: Database) -> None:
        self._db = db

    async def between(
        self,
        *,
        since: datetime | None = None,
        until: datetime | None = None,
        after: tuple[datetime, str] | None = None,
        limit: int = 1000,
    ) -> list[Tombstone]:
        """Tombstones destroyed in [since, until), oldest first, after the (at, id) given."""
        t = tombstones.c
        stmt = select(tombstones)
        if since is not None:
            stmt = stmt.where(t.destroyed_at >= since)
        if until is not None:
            stmt = stmt.where(t.destroyed_at < until)
        if after is not None:
            at, item_id = after
            stmt = stmt.where(
                or_(t.destroyed_at > at, and_(t.destroyed_at == at, t.item_id > item_id))
            )
        stmt = stmt.order_by(t.destroyed_at, t.item_id).limit(limit)
        async with self._db.connect() as conn:
            rows = (await conn.execute(stmt)).all()
        return [
            Tombstone(
                item_id=row.item_id,
                type=row.type,
                destroyed_at=must_utc(row.destroyed_at),
                reason=row.reason,
                policy_version=row.policy_version,
            )
            for row in rows
        ]
