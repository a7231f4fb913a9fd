"""Audit entries commit with the change they record: the unit of work of `SqlAuditLog`.

A failure after the change but before the commit leaves neither the change nor its entry,
and entries appended by many units of work at once still form one chain that verifies.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest

from policies.models import HoldCriteria
from service.retention.destruction import ItemDestroyer
from storage.errors import CatalogConflictError, ItemHeldError
from storage.models import ItemStatus
from storage.objects.filesystem_store import FilesystemObjectStore
from storage.sql.audit import SqlAuditLog
from storage.sql.catalog import SqlCatalog
from storage.sql.database import Database
from storage.sql.holds import SqlHoldStore
from storage.sql.subjects import SqlSubjectStore
from tests.catalog_contract.support import T0, add_item, purpose


class InjectedFailureError(Exception):
    """Raised on purpose after the change and its entry, before the commit."""


class FailingAfterAppend:
    """An audit log that appends, then fails: the crash between the entry and the commit."""

    def __init__(self, log: SqlAuditLog) -> None:
        self._log = log

    def transaction(self) -> Any:
        """The real unit of work."""
        return self._log.transaction()

    async def append(self, **entry: Any) -> Any:
        """Append for real, then fail before the unit of work commits."""
        await self._log.append(**entry)
        raise InjectedFailureError

    async def append_many(self, drafts: Any) -> Any:
        """Append for real, then fail before the unit of work commits."""
        await self._log.append_many(drafts)
        raise InjectedFailureError

    async def query(self, **filters: Any) -> Any:
        """The real query."""
        return await self._log.query(**filters)

    async def verify(self, *, batch: int = 1000) -> Any:
        """The real verify."""
        return await self._log.verify(batch=batch)


class UnitOfWorkContract:
    """What `SqlAuditLog.transaction()` promises on every catalog."""

    @pytest.fixture
    def log(self, db: Database) -> SqlAuditLog:
        return SqlAuditLog(db)

    async def _entries(self, log: SqlAuditLog) -> list[str]:
        return [e.action for e in await log.query(limit=1000)]

    async def test_a_failed_destruction_leaves_neither_the_change_nor_its_entry(
        self, db: Database, log: SqlAuditLog, tmp_path: Path
    ) -> None:
        catalog = SqlCatalog(db)
        await log.append(actor="alice", action="hold.placed", at=T0)
        item_id = await add_item(catalog, subjects=["cust-1"], purposes=[purpose("q")])
        record = await catalog.get(item_id)
        assert record is not None
        store = FilesystemObjectStore(tmp_path / "bucket")
        failing = ItemDestroyer(catalog, store, FailingAfterAppend(log))
        with pytest.raises(InjectedFailureError):
            await failing.destroy(record, reason="expired", actor="sweeper", at=T0)
        kept = await catalog.get(item_id)
        assert kept is not None
        assert kept.status is ItemStatus.STORED
        assert kept.subject_ids == {"cust-1"}
        assert await catalog.tombstone(item_id) is None
        assert await self._entries(log) == ["hold.placed"]
        verdict = await log.verify()
        assert (verdict.ok, verdict.entries) == (True, 1)
        # The crash is repeatable: the next attempt destroys and records it, once.
        assert await ItemDestroyer(catalog, store, log).destroy(
            record, reason="expired", actor="sweeper", at=T0
        )
        assert await self._entries(log) == ["hold.placed", "item.destroyed"]
        assert (await log.verify()).ok

    @pytest.mark.parametrize("change", ["hold", "consent", "restriction", "purposes"])
    async def test_a_failure_before_commit_rolls_back_change_and_entry(
        self, db: Database, log: SqlAuditLog, change: str
    ) -> None:
        catalog, hold_store, subjects = SqlCatalog(db), SqlHoldStore(db), SqlSubjectStore(db)
        item_id = await add_item(catalog, subjects=["cust-1"], purposes=[purpose("q")])

        async def make_change() -> None:
            if change == "hold":
                await hold_store.create(
                    matter="m-1",
                    description="",
                    criteria=HoldCriteria(subject_ids=frozenset({"cust-1"})),
                    created_by="legal",
                    created_at=T0,
                )
            elif change == "consent":
                await subjects.set_consent("cust-1", "marketing", granted=True, at=T0, source="api")
            elif change == "restriction":
                await subjects.set_restricted("cust-1", restricted=True, at=T0)
            else:
                await catalog.set_purposes(item_id, [purpose("legal", 1825)])

        async def fail_before_commit() -> None:
            async with log.transaction():
                await make_change()
                await log.append(actor="someone", action=f"{change}.changed", at=T0)
                raise InjectedFailureError

        with pytest.raises(InjectedFailureError):
            await fail_before_commit()
        assert await hold_store.list_all() == []
        state = await subjects.state("cust-1")
        assert (state.restricted, dict(state.consents)) == (False, {})
        record = await catalog.get(item_id)
        assert record is not None
        assert [p.name for p in record.purposes] == ["q"]
        assert await self._entries(log) == []
        assert (await log.verify()).ok

    async def test_a_repository_error_inside_the_work_rolls_back_only_its_own_part(
        self, db: Database, log: SqlAuditLog
    ) -> None:
        hold_store = SqlHoldStore(db)
        criteria = HoldCriteria(subject_ids=frozenset({"cust-1"}))
        first, _ = await hold_store.create(
            matter="m-1", description="", criteria=criteria, created_by="l", created_at=T0
        )
        async with log.transaction():
            await log.append(actor="legal", action="hold.placed", at=T0)
            # The same hold id again: the repository's own write fails inside the work.
            with pytest.raises(CatalogConflictError):
                await hold_store.create(
                    matter="m-2",
                    description="",
                    criteria=criteria,
                    created_by="l",
                    created_at=T0,
                    hold_id=first.hold_id,
                )
            await log.append(actor="legal", action="hold.released", at=T0)
        assert await self._entries(log) == ["hold.placed", "hold.released"]
        assert [h.matter for h in await hold_store.list_all()] == ["m-1"]
        assert (await log.verify()).ok

    async def test_concurrent_units_of_work_form_one_chain(
        self, db: Database, log: SqlAuditLog
    ) -> None:
        subjects = SqlSubjectStore(db)

        def work(n: int) -> Callable[[], Awaitable[None]]:
            async def run() -> None:
                async with log.transaction():
                    await subjects.set_restricted(f"cust-{n}", restricted=True, at=T0)
                    await log.append(
                        actor=f"user-{n}",
                        action="restriction.changed",
                        at=T0 + timedelta(seconds=n),
                        details={"n": n},
                    )

            return run

        standalone = [
            log.append(actor="reader", action="content.read", at=T0, details={"n": n})
            for n in range(5)
        ]
        await asyncio.gather(*(work(n)() for n in range(12)), *standalone)
        entries = await log.query(limit=100)
        assert [e.seq for e in entries] == list(range(1, 18))
        verdict = await log.verify()
        assert (verdict.ok, verdict.entries) == (True, 17)
        for n in range(12):
            assert (await subjects.state(f"cust-{n}")).restricted

    async def test_an_item_an_active_hold_covers_is_never_marked_destroyed(
        self, db: Database
    ) -> None:
        catalog, hold_store = SqlCatalog(db), SqlHoldStore(db)
        item_id = await add_item(catalog, subjects=["cust-1"], purposes=[purpose("q")])
        hold, _ = await hold_store.create(
            matter="m-late",
            description="",
            criteria=HoldCriteria(subject_ids=frozenset({"cust-1"})),
            created_by="legal",
            created_at=T0,
        )
        with pytest.raises(ItemHeldError) as raised:
            await catalog.mark_destroyed(item_id, reason="expired", at=T0)
        assert (raised.value.hold_id, raised.value.matter) == (hold.hold_id, "m-late")
        record = await catalog.get(item_id)
        assert record is not None
        assert (record.status, record.hold_ids) == (ItemStatus.STORED, (hold.hold_id,))
        assert await catalog.tombstone(item_id) is None
        # Released, the hold no longer protects it.
        await hold_store.release(hold.hold_id, by="legal", at=T0)
        assert await catalog.mark_destroyed(item_id, reason="expired", at=T0)

    async def test_a_hold_committing_while_the_item_is_destroyed_wins(
        self, db: Database, log: SqlAuditLog
    ) -> None:
        catalog, hold_store = SqlCatalog(db), SqlHoldStore(db)
        item_id = await add_item(catalog, subjects=["cust-1"], purposes=[purpose("q")])
        covered, commit = asyncio.Event(), asyncio.Event()

        async def place() -> None:
            async with log.transaction():
                await hold_store.create(
                    matter="m-race",
                    description="",
                    criteria=HoldCriteria(subject_ids=frozenset({"cust-1"})),
                    created_by="legal",
                    created_at=T0,
                )
                covered.set()
                await commit.wait()  # the coverage is written, not yet committed

        async def destroy() -> bool:
            await covered.wait()
            attempt = asyncio.create_task(catalog.mark_destroyed(item_id, reason="x", at=T0))
            # Give the attempt time to reach the lock the hold's transaction holds; whether
            # it got there or not, the hold commits first and must win.
            await asyncio.sleep(0.3)
            commit.set()
            return await attempt

        results = await asyncio.gather(place(), destroy(), return_exceptions=True)
        assert results[0] is None
        assert isinstance(results[1], ItemHeldError)
        record = await catalog.get(item_id)
        assert record is not None
        assert record.hold_ids
