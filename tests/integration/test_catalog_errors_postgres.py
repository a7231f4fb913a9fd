"""On PostgreSQL, database failures leave storage/ as storage errors, quoting no row."""

from __future__ import annotations

import socket

import pytest
from sqlalchemy import text

from deploy.postgres import PostgresProcess
from storage.errors import CatalogConflictError, CatalogUnavailableError
from storage.sql.database import Database
from tests.integration.fixtures_postgres import CatalogUrlFactory

PERSONAL = "cust-4711@example.test"


async def test_a_unique_conflict_names_its_sqlstate_and_no_value(
    catalog_url: CatalogUrlFactory,
) -> None:
    db = Database(catalog_url())
    try:
        async with db.begin() as conn:
            await conn.execute(text("CREATE TABLE people (address TEXT UNIQUE)"))
            await conn.execute(text("INSERT INTO people VALUES (:a)"), {"a": PERSONAL})
        with pytest.raises(CatalogConflictError) as refused:
            async with db.begin() as conn:
                await conn.execute(text("INSERT INTO people VALUES (:a)"), {"a": PERSONAL})
        assert refused.value.code == "23505"
        assert not refused.value.retriable
        # PostgreSQL's own message says "Key (address)=(cust-4711@...) already exists".
        assert PERSONAL not in str(refused.value)
        assert PERSONAL not in repr(refused.value.args)
    finally:
        await db.dispose()


async def test_a_connection_the_server_ends_is_unavailable_then_recovers(
    catalog_url: CatalogUrlFactory, postgres: PostgresProcess
) -> None:
    db = Database(catalog_url())
    try:
        async with db.connect() as conn:
            pid = (await conn.execute(text("SELECT pg_backend_pid()"))).scalar_one()
            postgres.execute(f"SELECT pg_terminate_backend({int(pid)})")
            with pytest.raises(CatalogUnavailableError) as failed:
                await conn.execute(text("SELECT 1"))
        assert failed.value.retriable
        async with db.connect() as conn:  # the pool dropped the dead connection
            assert (await conn.execute(text("SELECT 1"))).scalar_one() == 1
    finally:
        await db.dispose()


async def test_a_server_that_is_not_there_is_unavailable() -> None:
    with socket.socket() as probe:  # a loopback port nothing listens on
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    db = Database(f"postgresql+asyncpg://keepline:x@127.0.0.1:{port}/catalog")
    try:
        with pytest.raises(CatalogUnavailableError) as failed:
            async with db.connect() as conn:
                await conn.execute(text("SELECT 1"))
        assert failed.value.retriable
    finally:
        await db.dispose()
