"""Database failures leave storage/ as storage errors that say whether a retry helps."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import text

from storage.errors import CatalogConflictError, CatalogError, CatalogUnavailableError
from storage.sql.database import Database, redacted_url

PERSONAL = "cust-4711@example.test"


async def test_a_unique_conflict_is_a_conflict_that_quotes_nothing(tmp_path: Path) -> None:
    db = Database(f"sqlite+aiosqlite:///{tmp_path / 'k.db'}")
    try:
        async with db.begin() as conn:
            await conn.execute(text("CREATE TABLE people (address TEXT UNIQUE)"))
            await conn.execute(text("INSERT INTO people VALUES (:a)"), {"a": PERSONAL})
        with pytest.raises(CatalogConflictError) as refused:
            async with db.begin() as conn:
                await conn.execute(text("INSERT INTO people VALUES (:a)"), {"a": PERSONAL})
        assert not refused.value.retriable
        assert refused.value.code == "SQLITE_CONSTRAINT_UNIQUE"
        assert PERSONAL not in str(refused.value)
        assert "people" not in str(refused.value)  # nor the statement
        async with db.connect() as conn:  # the failed transaction was rolled back
            count = (await conn.execute(text("SELECT count(*) FROM people"))).scalar_one()
        assert count == 1
    finally:
        await db.dispose()


async def test_bad_sql_is_a_catalog_error_not_worth_retrying(tmp_path: Path) -> None:
    db = Database(f"sqlite+aiosqlite:///{tmp_path / 'k.db'}")
    try:
        with pytest.raises(CatalogError) as failed:
            async with db.connect() as conn:
                await conn.execute(text("SELECT * FROM no_such_table"))
        assert type(failed.value) is CatalogError
        assert not failed.value.retriable
    finally:
        await db.dispose()


async def test_a_catalog_it_cannot_open_is_unavailable_and_worth_retrying(
    tmp_path: Path,
) -> None:
    folder = tmp_path / "gone"
    db = Database(f"sqlite+aiosqlite:///{folder / 'k.db'}")
    (folder / "k.db").unlink()
    folder.rmdir()  # the catalog's volume went away after start
    try:
        with pytest.raises(CatalogUnavailableError) as failed:
            async with db.connect() as conn:
                await conn.execute(text("SELECT 1"))
        assert failed.value.retriable
    finally:
        await db.dispose()


def test_the_shown_url_hides_the_password() -> None:
    shown = redacted_url("postgresql+asyncpg://keepline:s3cret@127.0.0.1:5432/catalog")
    assert "s3cret" not in shown
    assert shown.startswith("postgresql+asyncpg://keepline:")
