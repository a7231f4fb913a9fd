"""The SQLite catalog keeps what it holds to its owner, and forgets what it deletes."""

from __future__ import annotations

import stat
from pathlib import Path

import pytest
from sqlalchemy import text

from storage.errors import CatalogConflictError
from storage.sql.database import Database

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
