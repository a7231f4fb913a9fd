"""A real PostgreSQL for the integration tests, started once per session by the first test
that asks for it (`postgres`, or `catalog_url` for a fresh database of its own).

The server binaries are those `make` provisioned (see `deploy/postgres_install.py`); the
cluster lives in pytest's temporary directory (logs included) and skips fsync, since it
need not survive a crash.
"""

from __future__ import annotations

import asyncio
import threading
import uuid
from collections.abc import Callable, Iterator

import pytest

from deploy.postgres import PostgresClient, PostgresProcess
from storage.sql.database import Database
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


async def _migrate(url: str) -> None:
    db = Database(url)
    try:
        await db.create_schema()
    finally:
        await db.dispose()  # a template database may have no session open when copied


@pytest.fixture(scope="session")
def migrated_catalog_url(
    postgres: PostgresProcess | PostgresClient, catalog_url: CatalogUrlFactory
) -> CatalogUrlFactory:
    """Create a fresh database already at the newest schema revision: `-> URL`.

    A copy (`CREATE DATABASE ... TEMPLATE`) of one migrated once per test process, for tests
    that need a current catalog rather than the migration from empty (which the migration
    contract runs on its own databases).
    """
    lock = threading.Lock()
    template: list[str] = []

    def create(prefix: str = "catalog") -> str:
        with lock:
            if not template:
                url = catalog_url("template")
                # In its own thread: the caller may be inside a running event loop.
                migrating = threading.Thread(target=asyncio.run, args=(_migrate(url),))
                migrating.start()
                migrating.join()
                template.append(url.rsplit("/", 1)[1])
        name = f"{prefix}_{uuid.uuid4().hex[:12]}"
        postgres.create_database(name, template=template[0])
        return postgres.url(name)

    return create
