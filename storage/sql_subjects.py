"""SqlSubjectStore: consent, objection and restriction state per data subject."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import insert, select, update
from sqlalchemy.ext.asyncio import AsyncConnection

from storage.database import Database
from storage.schema import consents, objections, subjects


class SqlSubjectStore:
    """What each data subject has granted, objected to or restricted."""

    def __init__(self, db: Database) -> None:
        self._db = db

    async def set_consent(
        self, subject_id: str, purpose: str, *, granted: bool, at: datetime, source: str
    ) -> None:
        """Record a grant or a withdrawal (the latest wins)."""
        async with self._db.begin() as conn:
            found = (
                await conn.execute(
                    select(consents.c.subject_id).where(
                        consents.c.subject_id == subject_id, consents.c.purpose == purpose
                    )
                )
            ).first()
            if found is None:
                await conn.execute(
                    insert(consents).values(
                        subject_id=subject_id,
                        purpose=purpose,
                        granted=granted,
                        updated_at=at,
                        source=source,
                    )
                )
            else:
                await conn.execute(
                    update(consents)
                    .where(consents.c.subject_id == subject_id, consents.c.purpose == purpose)
                    .values(granted=granted, updated_at=at, source=source)
                )

    async def set_restricted(self, subject_id: str, *, restricted: bool, at: datetime) -> None:
        """Restrict processing of the subject's items, or lift the restriction."""
        async with self._db.begin() as conn:
            await _upsert_subject(conn, subject_id, restricted=restricted, at=at)

    async def add_objection(self, subject_id: str, purpose: str, *, at: datetime) -> None:
        """Record an objection ("*": every legitimate-interests purpose)."""
        async with self._db.begin() as conn:
            found = (
                await conn.execute(
                    select(objections.c.subject_id).where(
                        objections.c.subject_id == subject_id, objections.c.purpose == purpose
                    )
                )
            ).first()
            if found is None:
                await conn.execute(
                    insert(objections).values(subject_id=subject_id, purpose=purpose, created_at=at)
                )

    async def is_restricted(self, subject_id: str) -> bool:
        """Whether the subject's items are restricted."""
        async with self._db.connect() as conn:
            value = (
                await conn.execute(
                    select(subjects.c.restricted).where(subjects.c.subject_id == subject_id)
                )
            ).scalar_one_or_none()
        return bool(value)


async def _upsert_subject(
    conn: AsyncConnection, subject_id: str, *, restricted: bool, at: datetime
) -> None:
    found = (
        await conn.execute(select(subjects.c.subject_id).where(subjects.c.subject_id == subject_id))
    ).first()
    if found is None:
        await conn.execute(
            insert(subjects).values(subject_id=subject_id, restricted=restricted, updated_at=at)
        )
    else:
        await conn.execute(
            update(subjects)
            .where(subjects.c.subject_id == subject_id)
            .values(restricted=restricted, updated_at=at)
        )
