"""AuditCheckpointer: signs the head after N entries or once the interval passed, never twice."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from service.audit.service import AuditCheckpointer
from storage.crypto.signing import InMemorySigner
from storage.sql.audit import SqlAuditLog
from storage.sql.audit_checkpoints import SqlAuditCheckpoints
from storage.sql.database import Database
from tests.catalog_templates import migrated_sqlite

T0 = datetime(2026, 11, 25, 12, 0, tzinfo=UTC)


class Clock:
    def __init__(self) -> None:
        self.now = T0

    def __call__(self) -> datetime:
        return self.now


@pytest.fixture
async def db(tmp_path: Path) -> AsyncIterator[Database]:
    database = Database(migrated_sqlite(tmp_path / "catalog.db"))
    await database.create_schema()
    yield database
    await database.dispose()


async def _append(log: SqlAuditLog, n: int) -> None:
    for i in range(n):
        await log.append(actor="a", action="content.read", at=T0, details={"n": i})


async def test_signs_after_n_entries_or_the_interval(db: Database) -> None:
    log, clock = SqlAuditLog(db), Clock()
    checkpoints = SqlAuditCheckpoints(db, InMemorySigner())
    checkpointer = AuditCheckpointer(checkpoints, clock=clock, every_s=60, every_entries=3)
    assert await checkpointer.tick() is None  # nothing to sign
    await _append(log, 1)
    first = await checkpointer.tick()  # the first entry ever is signed at once
    assert first is not None
    assert first.seq == 1
    assert await checkpointer.tick() is None  # the same head again: not signed twice
    await _append(log, 2)
    assert await checkpointer.tick() is None  # 2 entries, 0 s: not due yet
    await _append(log, 1)
    by_count = await checkpointer.tick()
    assert by_count is not None
    assert by_count.seq == 4
    await _append(log, 1)
    clock.now += timedelta(seconds=59)
    assert await checkpointer.tick() is None
    clock.now += timedelta(seconds=1)
    by_time = await checkpointer.tick()
    assert by_time is not None
    assert by_time.seq == 5
    assert (await checkpoints.verify()).checked == 3
