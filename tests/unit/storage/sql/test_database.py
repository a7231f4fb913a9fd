"""The SQLite catalog keeps what it holds to its owner, and forgets what it deletes."""

from __future__ import annotations

import stat
from pathlib import Path

import pytest
from sqlalchemy import select, text

from storage.errors import CatalogConflictError
from storage.models import ItemQuery
from storage.sql.catalog import SqlCatalog
from storage.sql.database import Database
from storage.sql.schema import item_parties, items
from tests.catalog_contract.support import new_item

SECRET = "kek-7:wrapped-data-key-" + "Q" * 40


def _files_holding(needle: bytes, folder: Path) -> list[Path]:
    return [f for f in folder.glob("keepline.db*") if needle in f.read_bytes()]


def _mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


async def test_the_catalog_file_and_its_folder_are_private(tmp_path: Path) -> None:
    db = Database(f"sqlite+aiosqlite:///{tmp_path / 'data' / 'keepline.db'}")
    try:
        await db.create_schema()
        async with db.engine.connect() as conn:
            # On every build of SQLite, whatever its compiled-in default.
            assert (await conn.execute(text("PRAGMA secure_delete"))).scalar_one() == 1
    finally:
        await db.dispose()
    assert _mode(tmp_path / "data") == 0o700
    assert _mode(tmp_path / "data" / "keepline.db") == 0o600
    for sidecar in (tmp_path / "data").glob("keepline.db-*"):
        assert _mode(sidecar) & 0o077 == 0, sidecar


async def test_a_destroyed_wrapped_key_leaves_no_trace_in_the_file(tmp_path: Path) -> None:
    path = tmp_path / "keepline.db"
    db = Database(f"sqlite+aiosqlite:///{path}")
    try:
        async with db.engine.begin() as conn:
            await conn.execute(text("CREATE TABLE keys (id INTEGER PRIMARY KEY, wrapped TEXT)"))
            for n in range(50):
                await conn.execute(
                    text("INSERT INTO keys (wrapped) VALUES (:w)"), {"w": f"{SECRET}-{n}"}
                )
        async with db.engine.begin() as conn:
            # What shredding keys does: a key's value goes, while other rows stay.
            await conn.execute(text("UPDATE keys SET wrapped = NULL WHERE id % 2 = 0"))
            await conn.execute(text("DELETE FROM keys WHERE id % 2 = 1"))
        async with db.engine.connect() as conn:
            await conn.execute(text("PRAGMA wal_checkpoint(TRUNCATE)"))
    finally:
        await db.dispose()
    assert _files_holding(SECRET.encode(), tmp_path) == []


async def test_database_errors_never_quote_the_values_bound_to_them(tmp_path: Path) -> None:
    db = Database(f"sqlite+aiosqlite:///{tmp_path / 'keepline.db'}")
    try:
        await db.create_schema()
        insert = text(
            "INSERT INTO subjects (subject_id, restricted, updated_at) VALUES (:s, 1, 'x')"
        )
        async with db.begin() as conn:
            await conn.execute(insert, {"s": "cust-4711@example.com"})
        with pytest.raises(CatalogConflictError) as raised:
            async with db.begin() as conn:
                await conn.execute(insert, {"s": "cust-4711@example.com"})
        assert "CONSTRAINT" in str(raised.value)
        assert "cust-4711@example.com" not in str(raised.value)
    finally:
        await db.dispose()


async def test_with_statistics_a_listing_by_subject_reads_only_that_subjects_items(
    tmp_path: Path,
) -> None:
    db = Database(f"sqlite+aiosqlite:///{tmp_path / 'keepline.db'}")
    try:
        await db.create_schema()
        catalog = SqlCatalog(db)
        await catalog.insert_stored_many(
            [new_item(f"s-{i}", subjects=[f"cust-{i}"]) for i in range(300)]
        )
        query = (
            select(items.c.item_id)
            .where(
                items.c.status == "stored",
                items.c.item_id.in_(
                    select(item_parties.c.item_id).where(item_parties.c.subject_id == "cust-7")
                ),
            )
            .order_by(items.c.occurred_at.desc(), items.c.item_id.desc())
            .limit(51)
        )
        sql = str(query.compile(db.engine.sync_engine, compile_kwargs={"literal_binds": True}))
        await catalog.refresh_statistics()
        async with db.engine.connect() as conn:
            stats = (await conn.execute(text("SELECT tbl FROM sqlite_stat1"))).scalars().all()
            plan = " | ".join(
                str(row[3]) for row in await conn.exec_driver_sql(f"EXPLAIN QUERY PLAN {sql}")
            )
        assert {"items", "item_parties"} <= set(stats)
        # The subject's ids from its index, then each item by its key: not a walk of all.
        assert "ix_parties_subject" in plan
        assert "ix_items_status_occurred" not in plan, plan
        page = await catalog.list(ItemQuery(subject_id="cust-7"))
        assert [r.subject_ids for r in page.items] == [{"cust-7"}]
        # A second refresh straight after is skipped (no second sampling in one interval).
        async with db.engine.begin() as conn:
            await conn.execute(text("DELETE FROM sqlite_stat1"))
        await catalog.refresh_statistics()
        async with db.engine.connect() as conn:
            left = (await conn.execute(text("SELECT count(*) FROM sqlite_stat1"))).scalar_one()
        assert left == 0
    finally:
        await db.dispose()
