"""Where the benches' keepline catalogs live: a SQLite file each, or one PostgreSQL server.

With PostgreSQL the run starts one server of its own (`deploy.postgres`, as `make chaos`
does) and gives every `keepline serve` a database of its own on it, so no bench sees
another's items.
"""

from __future__ import annotations

import re
from enum import StrEnum
from pathlib import Path

from deploy.postgres import PostgresProcess


class CatalogKind(StrEnum):
    """Where the catalog lives."""

    SQLITE = "sqlite"
    POSTGRESQL = "postgresql"


_UNSAFE = re.compile(r"[^a-z0-9_]")


def database_name(label: str) -> str:
    """A PostgreSQL database name for a keepline's label: lower case, ``[a-z0-9_]``, <= 63."""
    cleaned = _UNSAFE.sub("_", label.lower())
    return f"kl_{cleaned}"[:63]


class CatalogServer:
    """The run's catalog server: nothing for SQLite, one PostgreSQL server otherwise.

    Args:
        kind: SQLite (each keepline's default file in its data directory) or PostgreSQL.
        root: Where PostgreSQL's data goes.
    """

    def __init__(self, kind: CatalogKind, root: Path) -> None:
        self.kind = kind
        self._root = root
        self._server: PostgresProcess | None = None

    def start(self) -> None:
        """Start PostgreSQL if that is the kind."""
        if self.kind is CatalogKind.POSTGRESQL and self._server is None:
            self._server = PostgresProcess(self._root / "postgres", database="keepline_bench")
            self._server.start()

    def stop(self) -> None:
        """Stop PostgreSQL and remove its private directory, if it was started."""
        if self._server is not None:
            self._server.close()
            self._server = None

    def catalog_url(self, label: str) -> str | None:
        """KEEPLINE_CATALOG_URL for a keepline of that label; None keeps keepline's SQLite file.

        Raises:
            RuntimeError: PostgreSQL was asked for but not started.
        """
        if self.kind is CatalogKind.SQLITE:
            return None
        if self._server is None:
            raise RuntimeError("the PostgreSQL catalog server was not started")
        name = database_name(label)
        self._server.create_database(name)
        return self._server.url(name, driver=None)
