"""The disclosure register's contract on SQLite."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from storage.sql.database import Database
from tests.catalog_contract.disclosures import DisclosureRegisterContract
from tests.catalog_templates import migrated_sqlite


@pytest.fixture
async def db(tmp_path: Path) -> AsyncIterator[Database]:
    database = Database(migrated_sqlite(tmp_path / "catalog.db"))
    await database.create_schema()
    yield database
    await database.dispose()


class TestDisclosureRegisterOnSqlite(DisclosureRegisterContract):
    pass
