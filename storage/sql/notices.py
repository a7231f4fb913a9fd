"""SqlNotices: the outbox of the notices topic, and restrictions to lift once announced.

A notice is written here first and marked published only once Kafka acknowledged it, so none
is lost. A restriction lifted at a later time is kept in ``restriction_liftings`` with the id
of its notice: it is due only when its time has come and that notice is on the topic, so the
subject and the recipients always hear of a lifting before it takes effect.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import delete, insert, select, update

from storage.models import Notice
from storage.sql.database import Database, must_utc
from storage.sql.schema import notices, restriction_liftings


class SqlNotices:
    """Notices for the notices topic, and scheduled restriction liftings."""

    def __init__(self, db: Database) -> None:
        self._db = db

    async def add(
        self, *, subject_id: str, action: str, body: Mapping[str, Any], at: datetime
    ) -> int:
        """Write a notice for the publisher; its id."""
        async with self._db.begin() as conn:
            done = await conn.execute(
                insert(notices)
                .values(
                    created_at=at,
                    subject_id=subject_id,
                    action=action,
                    body=dict(body),
                    published=False,
                )
                .returning(notices.c.notice_id)
            )
            return int(done.scalar_one())

    async def schedule_lifting(
        self, subject_id: str, *, effective_at: datetime, notice_id: int, by: str, at: datetime
    ) -> None:
        """Lift the subject's restriction at effective_at, once notice_id is published."""
        async with self._db.begin() as conn:
            await conn.execute(
                delete(restriction_liftings).where(restriction_liftings.c.subject_id == subject_id)
            )
            await conn.execute(
                insert(restriction_liftings).values(
                    subject_id=subject_id,
                    effective_at=effective_at,
                    notice_id=notice_id,
                    requested_by=by,
                    requested_at=at,
                )
            )

    async def cancel_lifting(self, subject_id: str) -> bool:
        """Forget a scheduled lifting; False if there was none."""
        async with self._db.begin() as conn:
            done = await conn.execute(
                delete(restriction_liftings).where(restriction_liftings.c.subject_id == subject_id)
            )
        return bool(done.rowcount)

    async def pending_lifting(self, subject_id: str) -> datetime | None:
        """When the subject's restriction is to be lifted, if that is scheduled."""
        async with self._db.connect() as conn:
            value = (
                await conn.execute(
                    select(restriction_liftings.c.effective_at).where(
                        restriction_liftings.c.subject_id == subject_id
                    )
                )
            ).scalar_one_or_none()
        return None if value is None else must_utc(value)

    async def due_liftings(self, now: datetime) -> list[str]:
        """Subjects whose lifting is due at now and whose notice is on the topic."""
        stmt = (
            select(restriction_liftings.c.subject_id)
            .join(notices, notices.c.notice_id == restriction_liftings.c.notice_id)
            .where(restriction_liftings.c.effective_at <= now, notices.c.published.is_(True))
            .order_by(restriction_liftings.c.effective_at)
        )
        async with self._db.connect() as conn:
            return [row.subject_id for row in await conn.execute(stmt)]

    async def unpublished(self, limit: int = 500) -> list[Notice]:
        """Notices not yet on the topic, oldest first."""
        stmt = (
            select(notices)
            .where(notices.c.published.is_(False))
            .order_by(notices.c.notice_id)
            .limit(limit)
        )
        async with self._db.connect() as conn:
            rows = (await conn.execute(stmt)).all()
        return [
            Notice(r.notice_id, must_utc(r.created_at), r.subject_id, r.action, dict(r.body))
            for r in rows
        ]

    async def mark_published(self, notice_ids: Sequence[int]) -> None:
        """Record that notices reached the topic."""
        if not notice_ids:
            return
        async with self._db.begin() as conn:
            await conn.execute(
                update(notices)
                .where(notices.c.notice_id.in_(list(notice_ids)))
                .values(published=True)
            )
