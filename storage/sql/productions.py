"""SqlProductionStore: legal productions (``productions``) and their items (``production_items``).

A production is requested with the items its hold covers at that moment, each given a control
number in the order they occurred. A builder claims it (one conditional UPDATE, atomic on
SQLite and PostgreSQL), renews the claim as it goes and records its progress; a builder that
dies stops renewing, and once the claim runs out another process claims the production again
and builds it anew. The sealed zip's key material (its wrapped data key) is kept here, never
in the object store.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import and_, func, insert, or_, select, update

from storage.errors import HoldAlreadyReleasedError, HoldNotFoundError
from storage.models import (
    OPEN_PRODUCTION_STATES,
    ContentInfo,
    ItemStatus,
    ProductionRecord,
    ProductionStatus,
    StoredContent,
)
from storage.sql.database import Database, as_utc, must_utc
from storage.sql.schema import hold_items, holds, items, production_items, productions

_MAX_ERROR_CHARS = 2000
_OPEN = sorted(s.value for s in OPEN_PRODUCTION_STATES)
_IN_CHUNK = 500


def stored_json(stored: StoredContent) -> dict[str, Any]:
    """The ``stored`` column of a sealed zip."""
    return {
        "object_key": stored.object_key,
        "version_id": stored.version_id,
        "ciphertext_size_bytes": stored.ciphertext_size_bytes,
        "segment_size_bytes": stored.segment_size_bytes,
        "key_id": stored.key_id,
        "wrapped_key": stored.wrapped_key,
        "size_bytes": stored.content.size_bytes,
        "sha256": stored.content.sha256,
        "content_type": stored.content.content_type,
    }


def _stored(doc: Any) -> StoredContent | None:
    if not isinstance(doc, dict):
        return None
    return StoredContent(
        object_key=doc["object_key"],
        version_id=doc.get("version_id"),
        ciphertext_size_bytes=int(doc["ciphertext_size_bytes"]),
        segment_size_bytes=int(doc["segment_size_bytes"]),
        key_id=doc["key_id"],
        wrapped_key=doc["wrapped_key"],
        content=ContentInfo(int(doc["size_bytes"]), doc["sha256"], doc["content_type"]),
    )


def _record(row: Any) -> ProductionRecord:
    return ProductionRecord(
        production_id=row.production_id,
        hold_id=row.hold_id,
        matter=row.matter,
        status=ProductionStatus(row.status),
        requested_by=row.requested_by,
        requested_at=must_utc(row.requested_at),
        items_total=row.items_total,
        items_done=row.items_done,
        bytes_done=row.bytes_done,
        attempts=row.attempts,
        started_at=as_utc(row.started_at),
        finished_at=as_utc(row.finished_at),
        error=row.error,
        stored=_stored(row.stored),
        kid=row.kid,
    )


class SqlProductionStore:
    """Requests, claims, progress and outcomes of legal productions."""

    def __init__(self, db: Database) -> None:
        self._db = db

    async def create(
        self, production_id: str, *, hold_id: str, requested_by: str, at: datetime
    ) -> ProductionRecord:
        """Record a production of every stored item the hold covers now, queued.

        Raises:
            HoldNotFoundError: No such hold.
            HoldAlreadyReleasedError: The hold was released: it covers nothing any more.
        """
        async with self._db.begin() as conn:
            hold = (
                await conn.execute(
                    select(holds.c.matter, holds.c.released_at).where(holds.c.hold_id == hold_id)
                )
            ).first()
            if hold is None:
                raise HoldNotFoundError(hold_id)
            if hold.released_at is not None:
                raise HoldAlreadyReleasedError(hold_id, must_utc(hold.released_at))
            covered = (
                await conn.execute(
                    select(items.c.item_id)
                    .join(hold_items, hold_items.c.item_id == items.c.item_id)
                    .where(
                        hold_items.c.hold_id == hold_id,
                        items.c.status == ItemStatus.STORED.value,
                    )
                    .order_by(items.c.occurred_at, items.c.item_id)
                )
            ).all()
            await conn.execute(
                insert(productions).values(
                    production_id=production_id,
                    hold_id=hold_id,
                    matter=hold.matter,
                    status=ProductionStatus.QUEUED.value,
                    requested_by=requested_by,
                    requested_at=at,
                    attempts=0,
                    items_total=len(covered),
                    items_done=0,
                    bytes_done=0,
                )
            )
            if covered:
                await conn.execute(
                    insert(production_items),
                    [
                        {
                            "production_id": production_id,
                            "item_id": row.item_id,
                            "control_number": n,
                        }
                        for n, row in enumerate(covered, start=1)
                    ],
                )
        found = await self.get(production_id)
        assert found is not None
        return found

    async def get(self, production_id: str) -> ProductionRecord | None:
        """One production, or None."""
        async with self._db.connect() as conn:
            row = (
                await conn.execute(
                    select(productions).where(productions.c.production_id == production_id)
                )
            ).first()
        return None if row is None else _record(row)

    async def item_ids(self, production_id: str) -> list[tuple[int, str]]:
        """(control number, item id) of every item the production was asked for, in order."""
        async with self._db.connect() as conn:
            rows = (
                await conn.execute(
                    select(production_items.c.control_number, production_items.c.item_id)
                    .where(production_items.c.production_id == production_id)
                    .order_by(production_items.c.control_number)
                )
            ).all()
        return [(row.control_number, row.item_id) for row in rows]

    async def claim(
        self, holder: str, *, now: datetime, ttl_s: float, max_attempts: int
    ) -> ProductionRecord | None:
        """Claim the oldest production waiting for a builder: queued, or running unclaimed.

        A production whose builder stopped renewing (a crash, a restart) is claimed again
        and built anew; one that has been tried ``max_attempts`` times is marked failed.

        Returns:
            The production, now running and claimed by ``holder``; None if none waits.
        """
        claimable = or_(
            productions.c.status == ProductionStatus.QUEUED.value,
            and_(
                productions.c.status == ProductionStatus.RUNNING.value,
                productions.c.claimed_until < now,
            ),
        )
        while True:
            async with self._db.begin() as conn:
                row = (
                    await conn.execute(
                        select(productions.c.production_id, productions.c.attempts)
                        .where(claimable)
                        .order_by(productions.c.requested_at, productions.c.production_id)
                        .limit(1)
                    )
                ).first()
                if row is None:
                    return None
                if row.attempts >= max_attempts:
                    await conn.execute(
                        update(productions)
                        .where(productions.c.production_id == row.production_id, claimable)
                        .values(
                            status=ProductionStatus.FAILED.value,
                            finished_at=now,
                            claimed_by=None,
                            claimed_until=None,
                            error=f"not finished after {row.attempts} attempts",
                        )
                    )
                    continue
                taken = await conn.execute(
                    update(productions)
                    .where(productions.c.production_id == row.production_id, claimable)
                    .values(
                        status=ProductionStatus.RUNNING.value,
                        claimed_by=holder,
                        claimed_until=now + timedelta(seconds=ttl_s),
                        started_at=now,
                        attempts=productions.c.attempts + 1,
                        items_done=0,
                        bytes_done=0,
                    )
                )
            if taken.rowcount == 1:
                found = await self.get(row.production_id)
                assert found is not None
                return found
            # Another builder took it between the read and the update: look again.

    async def progress(
        self,
        production_id: str,
        holder: str,
        *,
        items_done: int,
        bytes_done: int,
        now: datetime,
        ttl_s: float,
    ) -> bool:
        """Record progress and renew the claim; False if the holder lost it."""
        async with self._db.begin() as conn:
            result = await conn.execute(
                update(productions)
                .where(
                    productions.c.production_id == production_id,
                    productions.c.claimed_by == holder,
                    productions.c.status == ProductionStatus.RUNNING.value,
                )
                .values(
                    items_done=items_done,
                    bytes_done=bytes_done,
                    claimed_until=now + timedelta(seconds=ttl_s),
                )
            )
        return bool(result.rowcount == 1)

    async def finish(
        self,
        production_id: str,
        holder: str,
        *,
        stored: StoredContent,
        kid: str,
        bytes_done: int,
        at: datetime,
    ) -> bool:
        """Mark the production ready with its sealed zip; False if the holder lost it."""
        async with self._db.begin() as conn:
            result = await conn.execute(
                update(productions)
                .where(
                    productions.c.production_id == production_id,
                    productions.c.claimed_by == holder,
                    productions.c.status == ProductionStatus.RUNNING.value,
                )
                .values(
                    status=ProductionStatus.READY.value,
                    stored=stored_json(stored),
                    kid=kid,
                    finished_at=at,
                    claimed_by=None,
                    claimed_until=None,
                    items_done=productions.c.items_total,
                    bytes_done=bytes_done,
                    error=None,
                )
            )
        return bool(result.rowcount == 1)

    async def fail(self, production_id: str, holder: str, *, error: str, at: datetime) -> bool:
        """Mark the production failed (it will not be tried again); False if not ours."""
        async with self._db.begin() as conn:
            result = await conn.execute(
                update(productions)
                .where(
                    productions.c.production_id == production_id,
                    productions.c.claimed_by == holder,
                    productions.c.status == ProductionStatus.RUNNING.value,
                )
                .values(
                    status=ProductionStatus.FAILED.value,
                    error=error[:_MAX_ERROR_CHARS],
                    finished_at=at,
                    claimed_by=None,
                    claimed_until=None,
                )
            )
        return bool(result.rowcount == 1)

    async def release_claim(self, production_id: str, holder: str) -> bool:
        """Give a claim up (on shutdown) so another builder may take the production at once."""
        async with self._db.begin() as conn:
            result = await conn.execute(
                update(productions)
                .where(
                    productions.c.production_id == production_id,
                    productions.c.claimed_by == holder,
                    productions.c.status == ProductionStatus.RUNNING.value,
                )
                .values(status=ProductionStatus.QUEUED.value, claimed_by=None, claimed_until=None)
            )
        return bool(result.rowcount == 1)

    async def open_item_ids(self, item_ids: Iterable[str]) -> set[str]:
        """Which of these items an open (queued or running) production names."""
        wanted = sorted(set(item_ids))
        found: set[str] = set()
        async with self._db.connect() as conn:
            for start in range(0, len(wanted), _IN_CHUNK):
                chunk = wanted[start : start + _IN_CHUNK]
                rows = await conn.execute(
                    select(production_items.c.item_id)
                    .join(
                        productions,
                        productions.c.production_id == production_items.c.production_id,
                    )
                    .where(production_items.c.item_id.in_(chunk), productions.c.status.in_(_OPEN))
                    .distinct()
                )
                found.update(row.item_id for row in rows)
        return found

    async def open_count(self, hold_id: str) -> int:
        """How many productions of this hold are still open."""
        async with self._db.connect() as conn:
            count = await conn.scalar(
                select(func.count())
                .select_from(productions)
                .where(productions.c.hold_id == hold_id, productions.c.status.in_(_OPEN))
            )
        return int(count or 0)
