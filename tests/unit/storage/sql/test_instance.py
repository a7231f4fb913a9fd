"""The catalog's identity: made once, the same on every later read, one per catalog."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime
from pathlib import Path

from storage.sql.database import Database
from storage.sql.instance import SqlCatalogInstance

AT = datetime(2026, 12, 2, 12, 0, tzinfo=UTC)


async def _catalog(path: Path) -> Database:
    db = Database(f"sqlite+aiosqlite:///{path}")
    await db.create_schema()
    return db


async def test_the_identity_is_made_once_and_kept(tmp_path: Path) -> None:
    db = await _catalog(tmp_path / "a.db")
    try:
        first, second = await asyncio.gather(
            SqlCatalogInstance(db).instance_id(at=AT), SqlCatalogInstance(db).instance_id(at=AT)
        )
        assert first == second
        assert len(first) == 36
        assert await SqlCatalogInstance(db).instance_id(at=AT) == first
    finally:
        await db.dispose()


async def test_two_catalogs_have_two_identities(tmp_path: Path) -> None:
    one, other = await _catalog(tmp_path / "a.db"), await _catalog(tmp_path / "b.db")
    try:
        assert await SqlCatalogInstance(one).instance_id(at=AT) != await SqlCatalogInstance(
            other
        ).instance_id(at=AT)
    finally:
        await one.dispose()
        await other.dispose()
