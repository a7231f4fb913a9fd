"""The dead-letter contract on PostgreSQL."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from storage.sql.database import Database
from tests.catalog_contract.dead_letters import DeadLettersContract
from tests.integration.fixtures_postgres import CatalogUrlFactory


@pytest.fixture
async def db(migrated_catalog_url: CatalogUrlFactory) -> AsyncIterator[Database]:
    database = Database(migrated_catalog_url())
    await database.create_schema()
    yield database
    await database.dispose()


class TestDeadLettersOnPostgres(DeadLettersContract):
    pass
