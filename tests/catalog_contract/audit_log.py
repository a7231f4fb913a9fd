"""SqlAuditLog's contract: append, query, the outbox, and tampering of every kind detected."""

from __future__ import annotations

import asyncio
import itertools
from collections.abc import Callable
from datetime import timedelta, timezone
from typing import Any

import pytest
from sqlalchemy import delete, update

from storage.models import AuditDraft
from storage.sql.audit import GENESIS_HASH, SqlAuditLog
from storage.sql.database import Database
from storage.sql.schema import audit, audit_head
from tests.catalog_contract.support import T0


async def _fill(log: SqlAuditLog, n: int) -> None:
    for i in range(n):
        await log.append(
            actor=f"user-{i % 2}",
            action="content.read" if i % 2 else "hold.placed",
            at=T0 + timedelta(seconds=i),
            item_id=f"item-{i}",
            details={"n": i},
        )


TAMPERING: dict[str, Callable[[], Any]] = {
    "edit": lambda: update(audit).where(audit.c.seq == 3).values(actor="x"),
    "edit-details": lambda: update(audit).where(audit.c.seq == 2).values(details={"n": 9}),
    "delete-middle": lambda: delete(audit).where(audit.c.seq == 2),
    "delete-newest": lambda: delete(audit).where(audit.c.seq == 5),
    "truncate": lambda: delete(audit).where(audit.c.seq >= 4),
    "delete-all": lambda: delete(audit),
    "forge-head": lambda: update(audit_head).values(hash="f" * 64),
}


class AuditLogContract:
    """What the tamper-evident audit trail relies on from the catalog."""

    @pytest.fixture
    def log(self, db: Database) -> SqlAuditLog:
        return SqlAuditLog(db)

    async def test_empty_chain_verifies(self, log: SqlAuditLog) -> None:
        verdict = await log.verify()
        assert (verdict.ok, verdict.entries, verdict.head) == (True, 0, GENESIS_HASH)

    async def test_entries_link_and_verify(self, log: SqlAuditLog) -> None:
        await _fill(log, 5)
        entries = await log.query()
        assert [e.seq for e in entries] == [1, 2, 3, 4, 5]
        assert entries[0].prev_hash == GENESIS_HASH
        assert all(b.prev_hash == a.hash for a, b in itertools.pairwise(entries))
        verdict = await log.verify(batch=2)
        assert (verdict.ok, verdict.entries, verdict.head) == (True, 5, entries[-1].hash)

    async def test_a_batch_appends_in_order_and_links_to_the_chain(self, log: SqlAuditLog) -> None:
        await _fill(log, 2)
        assert await log.append_many([]) == []
        drafts = [
            AuditDraft(
                actor="sweeper",
                action="item.destroyed",
                at=T0 + timedelta(minutes=1),
                item_id=f"batch-{i}",
                details={"reason": "expired", "i": i},
            )
            for i in range(4)
        ]
        written = await log.append_many(drafts)
        assert [e.seq for e in written] == [3, 4, 5, 6]
        assert [e.item_id for e in written] == [f"batch-{i}" for i in range(4)]
        after = await log.append(actor="a", action="hold.placed", at=T0 + timedelta(minutes=2))
        entries = await log.query()
        assert entries[2:6] == written
        assert all(b.prev_hash == a.hash for a, b in itertools.pairwise(entries))
        verdict = await log.verify(batch=3)
        assert (verdict.ok, verdict.entries, verdict.head) == (True, 7, after.hash)

    async def test_a_batch_rolls_back_with_its_transaction(self, log: SqlAuditLog) -> None:
        await _fill(log, 1)
        draft = AuditDraft(actor="a", action="item.destroyed", at=T0, item_id="x")

        async def failing() -> None:
            async with log.transaction():
                await log.append_many([draft, draft])
                raise RuntimeError("the change it records failed")

        with pytest.raises(RuntimeError):
            await failing()
        assert [e.seq for e in await log.query()] == [1]
        assert (await log.append_many([draft]))[0].seq == 2
        assert (await log.verify()).ok

    async def test_concurrent_batches_take_turns(self, log: SqlAuditLog) -> None:
        drafts = [AuditDraft(actor="a", action="x", at=T0, item_id=str(i)) for i in range(5)]
        await asyncio.gather(*(log.append_many(drafts) for _ in range(4)))
        entries = await log.query(limit=100)
        assert [e.seq for e in entries] == list(range(1, 21))
        assert (await log.verify()).ok

    async def test_what_is_read_back_is_what_was_hashed(self, log: SqlAuditLog) -> None:
        local = T0.astimezone(timezone(timedelta(hours=-5)))
        details = {"nested": {"list": [1, 2.5, None, True]}, "text": "Zoë 北京", "n": 10**15}
        written = await log.append(actor="alice", action="hold.placed", at=local, details=details)
        (read,) = await log.query()
        assert read == written
        assert read.at == T0
        assert read.at.utcoffset() == timedelta(0)
        assert read.details == details
        assert (await log.verify()).ok

    async def test_filters(self, log: SqlAuditLog) -> None:
        await _fill(log, 6)
        assert {e.action for e in await log.query(action="content.read")} == {"content.read"}
        assert len(await log.query(actor="user-0")) == 3
        assert [e.item_id for e in await log.query(item_id="item-4")] == ["item-4"]
        assert len(await log.query(since=T0 + timedelta(seconds=4))) == 2
        assert [e.seq for e in await log.query(after_seq=2, limit=2)] == [3, 4]

    async def test_concurrent_appends_never_fork(self, log: SqlAuditLog) -> None:
        await asyncio.gather(
            *(log.append(actor="a", action="x", at=T0, details={"i": i}) for i in range(20))
        )
        verdict = await log.verify()
        assert (verdict.ok, verdict.entries) == (True, 20)

    async def test_the_outbox_hands_out_each_entry_until_published(self, log: SqlAuditLog) -> None:
        await _fill(log, 4)
        assert [e.seq for e in await log.unpublished(limit=3)] == [1, 2, 3]
        await log.mark_published([1, 3])
        await log.mark_published([])
        assert [e.seq for e in await log.unpublished()] == [2, 4]

    @pytest.mark.parametrize("tamper", list(TAMPERING.values()), ids=list(TAMPERING))
    async def test_tampering_fails_verify(
        self, db: Database, log: SqlAuditLog, tamper: Callable[[], Any]
    ) -> None:
        await _fill(log, 5)
        async with db.begin() as conn:
            await conn.execute(tamper())
        verdict = await log.verify()
        assert not verdict.ok
        assert verdict.first_broken_seq is not None
