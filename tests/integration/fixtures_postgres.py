"""A real PostgreSQL for the integration tests, started once per session by the first test
that asks for it (`postgres`, or `catalog_url` for a fresh database of its own).

The server binaries are those `make` provisioned (see `deploy/postgres_install.py`); the
cluster lives in pytest's temporary directory (logs included) and skips fsync, since it
need not survive a crash.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterator

import pytest

from deploy.postgres import PostgresClient, PostgresProcess
from tests.shared_stack import handed, start_postgres

CatalogUrlFactory = Callable[..., str]


@pytest.fixture(scope="session")
def postgres(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[PostgresProcess | PostgresClient]:
    """A PostgreSQL server on 127.0.0.1; `url(database)`, `execute(sql)` and
    `create_database(name)` reach it as its superuser (in a parallel run, the one the
    controller started)."""
    shared = handed(request.config)
    if shared is not None:
        yield shared.postgres
        return
    server = start_postgres(tmp_path_factory.mktemp("postgres"))
    yield server
    server.close()


@pytest.fixture(scope="session")
def catalog_url(postgres: PostgresProcess | PostgresClient) -> CatalogUrlFactory:
    """Create a fresh, empty database: `catalog_url(prefix="catalog") -> URL`.

    The URL (`postgresql+asyncpg://...`) serves `storage.sql.database.Database` as it is and
    `KEEPLINE_CATALOG_URL` alike.
    """

    def create(prefix: str = "catalog") -> str:
        name = f"{prefix}_{uuid.uuid4().hex[:12]}"
        postgres.create_database(name)
        return postgres.url(name)

    return create
