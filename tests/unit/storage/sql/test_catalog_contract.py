"""The catalog contracts on SQLite, the default catalog."""

from __future__ import annotations

import itertools
from collections.abc import AsyncIterator, Callable
from pathlib import Path

import pytest

from storage.sql.database import Database
from tests.catalog_contract import (
    AuditCheckpointsContract,
    AuditLogContract,
    CatalogContract,
    CatalogScansContract,
    HoldStoreContract,
    LeasesContract,
    MigrationsContract,
    PolicyStoreContract,
    SubjectStoreContract,
    UnitOfWorkContract,
)
from tests.catalog_templates import migrated_sqlite


@pytest.fixture
async def db(tmp_path: Path) -> AsyncIterator[Database]:
    database = Database(migrated_sqlite(tmp_path / "catalog.db"))
    await database.create_schema()
    yield database
    await database.dispose()


@pytest.fixture
def fresh_url(tmp_path: Path) -> Callable[[], str]:
    names = itertools.count()
    return lambda: f"sqlite+aiosqlite:///{tmp_path / f'fresh-{next(names)}.db'}"


class TestCatalogOnSqlite(CatalogContract):
    pass


class TestCatalogScansOnSqlite(CatalogScansContract):
    pass


class TestHoldsOnSqlite(HoldStoreContract):
    pass


class TestSubjectsOnSqlite(SubjectStoreContract):
    pass


class TestAuditLogOnSqlite(AuditLogContract):
    pass


class TestLeasesOnSqlite(LeasesContract):
    pass


class TestPolicyVersionsOnSqlite(PolicyStoreContract):
    pass


class TestMigrationsOnSqlite(MigrationsContract):
    pass


class TestUnitsOfWorkOnSqlite(UnitOfWorkContract):
    pass


class TestAuditCheckpointsOnSqlite(AuditCheckpointsContract):
    pass
