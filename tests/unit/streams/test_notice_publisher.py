"""The notice publisher: notices reach the topic in order, and liftings wait for theirs."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from storage.sql.database import Database
from storage.sql.notices import SqlNotices
from streams.notice_publisher import NoticePublisher
from tests.catalog_templates import migrated_sqlite

T0 = datetime(2026, 12, 1, 9, 0, tzinfo=UTC)


class RecordingPublisher:
    """A record publisher that keeps what it sends, or refuses while `down`."""

    def __init__(self) -> None:
        self.sent: list[tuple[str, bytes, bytes]] = []
        self.down = False

    async def start(self) -> None:
        return None

    async def publish(self, topic: str, key: bytes, value: bytes) -> None:
        if self.down:
            raise ConnectionError("Kafka is down")
        self.sent.append((topic, key, value))

    async def stop(self) -> None:
        return None


@pytest.fixture
async def outbox(tmp_path: Path) -> AsyncIterator[SqlNotices]:
    db = Database(migrated_sqlite(tmp_path / "catalog.db"))
    await db.create_schema()
    yield SqlNotices(db)
    await db.dispose()


async def test_notices_are_published_once_in_order_keyed_by_id(outbox: SqlNotices) -> None:
    first = await outbox.add(subject_id="s-1", action="a", body={"subject_id": "s-1"}, at=T0)
    second = await outbox.add(subject_id="s-2", action="b", body={"subject_id": "s-2"}, at=T0)
    kafka = RecordingPublisher()

    async def lift(_now: datetime) -> int:
        return 0

    publisher = NoticePublisher(outbox, kafka, "notices", lift_due=lift, clock=lambda: T0)
    assert await publisher.publish_pending() == 2
    assert await publisher.publish_pending() == 0
    assert [key for _, key, _ in kafka.sent] == [str(first).encode(), str(second).encode()]
    body = json.loads(kafka.sent[0][2])
    assert body == {"subject_id": "s-1", "notice_id": first, "at": T0.isoformat()}


async def test_a_lifting_is_due_only_after_its_time_and_its_notice(outbox: SqlNotices) -> None:
    notice = await outbox.add(
        subject_id="s-1", action="restriction_lifting", body={"subject_id": "s-1"}, at=T0
    )
    later = T0 + timedelta(minutes=10)
    await outbox.schedule_lifting("s-1", effective_at=later, notice_id=notice, by="p", at=T0)
    assert await outbox.pending_lifting("s-1") == later
    assert await outbox.due_liftings(later + timedelta(minutes=1)) == []  # not announced yet
    kafka = RecordingPublisher()
    kafka.down = True

    async def lift(_now: datetime) -> int:
        return 0

    publisher = NoticePublisher(outbox, kafka, "notices", lift_due=lift, clock=lambda: T0)
    with pytest.raises(ConnectionError):
        await publisher.publish_pending()
    assert await outbox.due_liftings(later) == []
    kafka.down = False
    assert await publisher.publish_pending() == 1
    assert await outbox.due_liftings(later - timedelta(seconds=1)) == []
    assert await outbox.due_liftings(later) == ["s-1"]
    assert await outbox.cancel_lifting("s-1") is True
    assert await outbox.cancel_lifting("s-1") is False
    assert await outbox.due_liftings(later) == []
