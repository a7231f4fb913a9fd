"""The audit hash chain: append, query, verify, and tampering of every kind detected."""

from __future__ import annotations

import asyncio
import itertools
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import delete, update

from storage.database import Database
from storage.schema import audit
from storage.sql_audit import GENESIS_HASH, SqlAuditLog

T0 = datetime(2026, 11, 21, 12, 0, tzinfo=UTC)


@pytest.fixture
async def log(tmp_path: Path) -> AsyncIterator[SqlAuditLog]:
    db = Database(f"sqlite+aiosqlite:///{tmp_path / 'catalog.db'}")
    await db.create_schema()
    yield SqlAuditLog(db)
    await db.dispose()


async def _fill(log: SqlAuditLog, n: int) -> None:
    for i in range(n):
        await log.append(
            actor=f"user-{i % 2}",
            action="content.read" if i % 2 else "hold.placed",
            at=T0 + timedelta(seconds=i),
            item_id=f"item-{i}",
            details={"n": i},
        )


async def test_empty_chain_verifies(log: SqlAuditLog) -> None:
    verdict = await log.verify()
    assert verdict.ok
    assert verdict.entries == 0
    assert verdict.head == GENESIS_HASH


async def test_entries_link_and_verify(log: SqlAuditLog) -> None:
    await _fill(log, 5)
    entries = await log.query()
    assert [e.seq for e in entries] == [1, 2, 3, 4, 5]
    assert entries[0].prev_hash == GENESIS_HASH
    assert all(b.prev_hash == a.hash for a, b in itertools.pairwise(entries))
    verdict = await log.verify()
    assert verdict.ok
    assert verdict.entries == 5
    assert verdict.head == entries[-1].hash


async def test_filters(log: SqlAuditLog) -> None:
    await _fill(log, 6)
    assert {e.action for e in await log.query(action="content.read")} == {"content.read"}
    assert len(await log.query(actor="user-0")) == 3
    assert [e.item_id for e in await log.query(item_id="item-4")] == ["item-4"]
    assert len(await log.query(since=T0 + timedelta(seconds=4))) == 2


async def test_concurrent_appends_never_fork(log: SqlAuditLog) -> None:
    await asyncio.gather(
        *(log.append(actor="a", action="x", at=T0, details={"i": i}) for i in range(20))
    )
    verdict = await log.verify()
    assert verdict.ok
    assert verdict.entries == 20


@pytest.mark.parametrize(
    "tamper",
    [
        pytest.param(lambda: update(audit).where(audit.c.seq == 3).values(actor="x"), id="edit"),
        pytest.param(lambda: delete(audit).where(audit.c.seq == 2), id="delete-middle"),
        pytest.param(lambda: delete(audit).where(audit.c.seq == 5), id="delete-newest"),
        pytest.param(lambda: delete(audit).where(audit.c.seq >= 4), id="truncate"),
        pytest.param(lambda: delete(audit), id="delete-all"),
    ],
)
async def test_tampering_fails_verify(log: SqlAuditLog, tamper: object) -> None:
    await _fill(log, 5)
    async with log._db.begin() as conn:
        await conn.execute(tamper())  # type: ignore[operator]  # the lambdas build statements
    verdict = await log.verify()
    assert not verdict.ok
    assert verdict.first_broken_seq is not None
