"""SqlReviewStore: disposition reviews of items in SQLite or PostgreSQL (owns `reviews`)."""

from __future__ import annotations

import builtins
import uuid
from collections.abc import Iterable, Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import insert, literal, select, tuple_, update
from sqlalchemy.engine import Row

from policies.review import ReviewState
from storage.errors import ReviewNotPendingError
from storage.models import ItemStatus, ReviewRecord
from storage.sql.database import Database, as_utc, must_utc
from storage.sql.schema import TS, item_purposes, items, reviews

#: A review still bearing on the item: waiting for a decision, or decided for destruction.
_OPEN = (ReviewState.PENDING.value, ReviewState.DESTROY.value)


class SqlReviewStore:
    """Opens reviews, records decisions, lists the queue."""

    def __init__(self, db: Database) -> None:
        self._db = db

    async def current(self, item_id: str) -> ReviewRecord | None:
        """The item's latest review, or None if it never had one."""
        async with self._db.connect() as conn:
            row = (
                await conn.execute(
                    select(reviews)
                    .where(reviews.c.item_id == item_id)
                    .order_by(reviews.c.opened_at.desc(), reviews.c.review_id.desc())
                    .limit(1)
                )
            ).first()
        return None if row is None else _record(row)

    async def open_states(self, item_ids: Iterable[str]) -> dict[str, ReviewState]:
        """For each of these items with an open review (pending or destroy), its state."""
        ids = sorted(set(item_ids))
        if not ids:
            return {}
        async with self._db.connect() as conn:
            rows = (
                await conn.execute(
                    select(reviews.c.item_id, reviews.c.state).where(
                        reviews.c.item_id.in_(ids), reviews.c.state.in_(_OPEN)
                    )
                )
            ).all()
        return {row.item_id: ReviewState(row.state) for row in rows}

    async def open(
        self, item_id: str, *, purposes: Sequence[str], at: datetime
    ) -> ReviewRecord | None:
        """Open a pending review of the item; None if one is open already (idempotent).

        None too if a reviewer extended one of these purposes past ``at`` since the caller
        read the item: the extension and its closed review commit together, so a pass that
        read the item before them does not reopen what was just decided.
        """
        review_id = str(uuid.uuid4())
        async with self._db.begin() as conn:
            found = (
                await conn.execute(
                    select(reviews.c.review_id).where(
                        reviews.c.item_id == item_id, reviews.c.state.in_(_OPEN)
                    )
                )
            ).first()
            if found is not None:
                return None
            extended = (
                await conn.execute(
                    select(item_purposes.c.name).where(
                        item_purposes.c.item_id == item_id,
                        item_purposes.c.name.in_(list(purposes)),
                        item_purposes.c.expires_at > at,
                    )
                )
            ).first()
            if extended is not None:
                return None
            await conn.execute(
                insert(reviews).values(
                    review_id=review_id,
                    item_id=item_id,
                    purposes=list(purposes),
                    state=ReviewState.PENDING.value,
                    opened_at=at,
                )
            )
        return ReviewRecord(
            review_id=review_id,
            item_id=item_id,
            purposes=tuple(purposes),
            state=ReviewState.PENDING,
            opened_at=at,
        )

    async def decide(
        self,
        item_id: str,
        *,
        state: ReviewState,
        by: str,
        at: datetime,
        justification: str,
        extend_by: str | None = None,
        expires_at: datetime | None = None,
    ) -> ReviewRecord:
        """Record a reviewer's decision on the item's pending review.

        Raises:
            ReviewNotPendingError: No review of the item waits for a decision (none was
                opened, or another reviewer decided first).
        """
        async with self._db.begin() as conn:
            result = await conn.execute(
                update(reviews)
                .where(
                    reviews.c.item_id == item_id,
                    reviews.c.state == ReviewState.PENDING.value,
                )
                .values(
                    state=state.value,
                    decided_at=at,
                    decided_by=by,
                    justification=justification,
                    extend_by=extend_by,
                    expires_at=expires_at,
                )
            )
            changed = result.rowcount
        record = await self.current(item_id)
        if changed != 1 or record is None:
            raise ReviewNotPendingError(item_id, record.state.value if record else None)
        return record

    async def list(
        self,
        *,
        state: ReviewState,
        after: tuple[datetime, str] | None = None,
        limit: int = 100,
    ) -> builtins.list[ReviewRecord]:
        """Reviews in one state of items still stored, oldest first; page on with ``after``."""
        stmt = (
            select(reviews)
            .join(items, items.c.item_id == reviews.c.item_id)
            .where(reviews.c.state == state.value, items.c.status == ItemStatus.STORED.value)
        )
        if after is not None:
            at, review_id = after
            stmt = stmt.where(
                tuple_(reviews.c.opened_at, reviews.c.review_id)
                > tuple_(_literal_ts(at), review_id)
            )
        stmt = stmt.order_by(reviews.c.opened_at, reviews.c.review_id).limit(limit)
        async with self._db.connect() as conn:
            rows = (await conn.execute(stmt)).all()
        return [_record(row) for row in rows]


def _literal_ts(at: datetime) -> Any:
    return literal(at, TS)


def _record(row: Row[Any]) -> ReviewRecord:
    return ReviewRecord(
        review_id=row.review_id,
        item_id=row.item_id,
        purposes=tuple(row.purposes or ()),
        state=ReviewState(row.state),
        opened_at=must_utc(row.opened_at),
        decided_at=as_utc(row.decided_at),
        decided_by=row.decided_by,
        justification=row.justification,
        extend_by=row.extend_by,
        expires_at=as_utc(row.expires_at),
    )
