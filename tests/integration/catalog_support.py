"""Reading a running service's catalog read-only, on SQLite or on PostgreSQL alike.

The tests look into the catalog behind the API (tombstones, audit rows, pending claims).
Queries go through SQLAlchemy with the service's own catalog setting: Core queries on
`storage.sql.schema` tables come back typed (aware datetimes, decoded JSON) on both dialects;
plain SQL text comes back as tuples.
"""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any, Final

import pytest
from sqlalchemy import TextClause, text
from sqlalchemy.ext.asyncio import create_async_engine
from sqlalchemy.pool import NullPool
from sqlalchemy.sql import Executable

from tests.integration.keepline_service import KeeplineService

#: The catalogs the scenarios that matter most run on.
CATALOGS: Final = ("sqlite", "postgresql")
#: For a module whose tests run on each catalog: `pytestmark = on_both_catalogs`. Module
#: scope keeps a module's tests on one catalog together (a shared service serves them all).
on_both_catalogs: Final = pytest.mark.parametrize(
    "catalog", CATALOGS, indirect=True, scope="module"
)
_DRIVERS: Final = (
    ("sqlite:", "sqlite+aiosqlite:"),
    ("postgresql:", "postgresql+asyncpg:"),
    ("postgres:", "postgresql+asyncpg:"),
)


def catalog_url_of(service: KeeplineService) -> str:
    """The async SQLAlchemy URL of the service's catalog (a SQLite file opened read-only)."""
    url = service.env.get("KEEPLINE_CATALOG_URL")
    if not url:
        path = Path(service.env["KEEPLINE_DATA_DIR"]) / "keepline.db"
        return f"sqlite+aiosqlite:///file:{path.resolve()}?mode=ro&uri=true"
    for prefix, driver in _DRIVERS:
        if url.startswith(prefix):
            return driver + url[len(prefix) :]
    return url


def _execute(service: KeeplineService, query: Executable, params: dict[str, Any]) -> Any:
    url = catalog_url_of(service)
    connect_args: dict[str, Any] = {}
    if url.startswith("postgresql"):
        connect_args["server_settings"] = {"default_transaction_read_only": "on"}
    else:
        connect_args["timeout"] = 30

    async def run() -> Any:
        engine = create_async_engine(url, poolclass=NullPool, connect_args=connect_args)
        try:
            async with engine.connect() as conn:
                result = await conn.execute(query, params)
                if isinstance(query, TextClause):
                    return [tuple(row) for row in result]
                return [dict(row) for row in result.mappings()]
        finally:
            await engine.dispose()

    return asyncio.run(run())


def catalog_rows(service: KeeplineService, sql: str, **params: Any) -> list[tuple[Any, ...]]:
    """Rows, as tuples, of a read-only SQL query (`:name` parameters) on the catalog."""
    rows: list[tuple[Any, ...]] = _execute(service, text(sql), params)
    return rows


def catalog_select(service: KeeplineService, query: Executable) -> list[dict[str, Any]]:
    """Rows, by column name and typed, of a read-only Core query on the catalog."""
    rows: list[dict[str, Any]] = _execute(service, query, {})
    return rows
