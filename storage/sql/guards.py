"""SqlRequestGuards: items named by requests in progress, which nothing may destroy meanwhile.

A subject's export or erasure opens a guard over the items it names (``request_guards``,
``request_guard_items``) and closes it when it finishes. A guard also expires: a process that
dies half-way through a request stops renewing it, and its items resume normal retention
once ``expires_at`` passes. An open (queued or running) legal production guards its items
as well, through ``production_items``, for as long as it stays open.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable
from datetime import datetime, timedelta

from sqlalchemy import delete, insert, select, update

from storage.sql.database import Database
from storage.sql.productions import SqlProductionStore
from storage.sql.schema import request_guard_items, request_guards

_IN_CHUNK = 500


class SqlRequestGuards:
    """Open, renew, close and consult request guards."""

    def __init__(self, db: Database) -> None:
        self._db = db
        self._productions = SqlProductionStore(db)

    async def open(self, kind: str, item_ids: Iterable[str], *, at: datetime, ttl_s: float) -> str:
        """Guard these items until the guard is closed or ``ttl_s`` passes; the guard's id."""
        guard_id = str(uuid.uuid4())
        ids = sorted(set(item_ids))
        async with self._db.begin() as conn:
            await conn.execute(
                insert(request_guards).values(
                    guard_id=guard_id,
                    kind=kind,
                    opened_at=at,
                    expires_at=at + timedelta(seconds=ttl_s),
                )
            )
            if ids:
                await conn.execute(
                    insert(request_guard_items),
                    [{"guard_id": guard_id, "item_id": item_id} for item_id in ids],
                )
        return guard_id

    async def renew(self, guard_id: str, *, at: datetime, ttl_s: float) -> None:
        """Extend an open guard to ``at + ttl_s``."""
        async with self._db.begin() as conn:
            await conn.execute(
                update(request_guards)
                .where(request_guards.c.guard_id == guard_id)
                .values(expires_at=at + timedelta(seconds=ttl_s))
            )

    async def close(self, guard_id: str) -> None:
        """Close a guard (closing one already closed is no error)."""
        async with self._db.begin() as conn:
            await conn.execute(
                delete(request_guard_items).where(request_guard_items.c.guard_id == guard_id)
            )
            await conn.execute(delete(request_guards).where(request_guards.c.guard_id == guard_id))

    async def guarded(
        self, item_ids: Iterable[str], *, now: datetime, exempt: str | None = None
    ) -> set[str]:
        """Which of these items an unexpired guard (but ``exempt``) or an open production names."""
        wanted = sorted(set(item_ids))
        found: set[str] = set()
        async with self._db.connect() as conn:
            for start in range(0, len(wanted), _IN_CHUNK):
                chunk = wanted[start : start + _IN_CHUNK]
                query = (
                    select(request_guard_items.c.item_id)
                    .join(
                        request_guards, request_guards.c.guard_id == request_guard_items.c.guard_id
                    )
                    .where(
                        request_guard_items.c.item_id.in_(chunk), request_guards.c.expires_at > now
                    )
                    .distinct()
                )
                if exempt is not None:
                    query = query.where(request_guards.c.guard_id != exempt)
                found.update(row.item_id for row in await conn.execute(query))
        return found | await self._productions.open_item_ids(wanted)
