"""SqlDeadLetters: the messages the stream workers could not accept, kept in the catalog.

The dead-letter topic has every letter with the message itself; this table keeps what an
operator needs to find and understand one without a Kafka client: the reason, the error, where
the message was, and its event id and source when the message was a JSON object that named
them. Nothing fetched and no message value is kept here.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import insert, select

from storage.errors import CatalogConflictError
from storage.sql.database import Database, must_utc
from storage.sql.schema import dead_letters

#: Column sizes; longer values are cut (an error message is for people, not for parsing).
MAX_ERROR_CHARS = 2000
MAX_EVENT_ID_CHARS = 200
MAX_SOURCE_CHARS = 100


@dataclass(frozen=True, slots=True, kw_only=True)
class DeadLetterRecord:
    """One dead-lettered message, as recorded."""

    failed_at: datetime
    reason: str
    error: str
    topic: str
    partition: int
    offset: int
    event_id: str | None = None
    source: str | None = None

    def as_record(self) -> dict[str, Any]:
        """The letter as recorded, as `keepline dlq --json` prints it."""
        return {
            "reason": self.reason,
            "error": self.error,
            "topic": self.topic,
            "partition": self.partition,
            "offset": self.offset,
            "event_id": self.event_id,
            "source": self.source,
            "failed_at": self.failed_at.isoformat(),
        }


def _cut(value: str | None, limit: int) -> str | None:
    return None if value is None else value[:limit]


class SqlDeadLetters:
    """Records dead letters and lists the most recent ones."""

    def __init__(self, db: Database) -> None:
        self._db = db

    async def record(self, letter: DeadLetterRecord) -> bool:
        """Record a letter; False when this message position was recorded before."""
        values = {
            "failed_at": letter.failed_at,
            "reason": letter.reason,
            "error": _cut(letter.error, MAX_ERROR_CHARS),
            "topic": letter.topic,
            "partition": letter.partition,
            "offset": letter.offset,
            "event_id": _cut(letter.event_id, MAX_EVENT_ID_CHARS),
            "source": _cut(letter.source, MAX_SOURCE_CHARS),
        }
        try:
            async with self._db.begin() as conn:
                await conn.execute(insert(dead_letters).values(**values))
        except CatalogConflictError:
            return False  # redelivered after a restart and dead-lettered again: one row
        return True

    async def recent(
        self,
        *,
        reason: str | None = None,
        source: str | None = None,
        since: datetime | None = None,
        limit: int = 100,
    ) -> list[DeadLetterRecord]:
        """The newest letters matching every filter given, newest first."""
        stmt = select(dead_letters)
        if reason is not None:
            stmt = stmt.where(dead_letters.c.reason == reason)
        if source is not None:
            stmt = stmt.where(dead_letters.c.source == source)
        if since is not None:
            stmt = stmt.where(dead_letters.c.failed_at >= since)
        stmt = stmt.order_by(dead_letters.c.failed_at.desc(), dead_letters.c.id.desc())
        async with self._db.connect() as conn:
            rows = (await conn.execute(stmt.limit(limit))).all()
        return [
            DeadLetterRecord(
                failed_at=must_utc(row.failed_at),
                reason=row.reason,
                error=row.error,
                topic=row.topic,
                partition=row.partition,
                offset=row.offset,
                event_id=row.event_id,
                source=row.source,
            )
            for row in rows
        ]
