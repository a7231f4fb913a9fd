"""The catalog contracts on PostgreSQL, the production catalog."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from storage.sql.database import Database
from tests.catalog_contract import (
    AuditCheckpointsContract,
    AuditLogContract,
    CatalogContract,
    CatalogScansContract,
    DisclosureRegisterContract,
    HoldStoreContract,
    LeasesContract,
    MigrationsContract,
    PolicyStoreContract,
    SubjectStoreContract,
    UnitOfWorkContract,
)
from tests.catalog_contract.reviews import ReviewStoreContract
from tests.integration.fixtures_postgres import CatalogUrlFactory


@pytest.fixture
async def db(migrated_catalog_url: CatalogUrlFactory) -> AsyncIterator[Database]:
    database = Database(migrated_catalog_url())
    await database.create_schema()
    yield database
    await database.dispose()


@pytest.fixture
def fresh_url(catalog_url: CatalogUrlFactory) -> CatalogUrlFactory:
    return catalog_url


class TestCatalogOnPostgres(CatalogContract):
    pass


class TestCatalogScansOnPostgres(CatalogScansContract):
    pass


class TestHoldsOnPostgres(HoldStoreContract):
    pass


class TestSubjectsOnPostgres(SubjectStoreContract):
    pass


class TestAuditLogOnPostgres(AuditLogContract):
    pass


class TestLeasesOnPostgres(LeasesContract):
    pass


class TestPolicyVersionsOnPostgres(PolicyStoreContract):
    pass


class TestMigrationsOnPostgres(MigrationsContract):
    pass


class TestReviewsOnPostgres(ReviewStoreContract):
    pass


class TestDisclosureRegisterOnPostgres(DisclosureRegisterContract):
    pass


class TestUnitsOfWorkOnPostgres(UnitOfWorkContract):
    pass


class TestAuditCheckpointsOnPostgres(AuditCheckpointsContract):
    pass
