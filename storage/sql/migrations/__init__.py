"""The catalog schema's revisions (Alembic), and bringing a catalog up to the newest one.

Every schema change is a revision in `versions/`, numbered in order (`0002_...py` follows
`0001_...py`) and tested on SQLite and PostgreSQL (`tests/catalog_contract/migrations.py`);
`storage/sql/schema.py` always describes the newest revision, and a test checks that the two
agree. To add one, write the next file by hand after the existing ones (`script.py.mako` is
the template), change `schema.py` to match, and run those tests.

`upgrade` takes a catalog from any older revision (or from nothing) to the newest. It refuses
a catalog at a revision this code does not know: a newer keepline upgraded it, and running
older code against it could corrupt it.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Final

from alembic import command
from alembic.config import Config
from alembic.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy.engine import Connection

from storage.errors import StorageError

MIGRATIONS_DIR: Final = Path(__file__).resolve().parent
# Held for the whole upgrade on PostgreSQL, so processes starting together migrate in turn.
_PG_LOCK_KEY: Final = int.from_bytes(b"keepline", "big")


class SchemaTooNewError(StorageError):
    """The catalog is at a schema revision newer than this code knows."""

    def __init__(self, found: str, newest_known: str) -> None:
        self.found = found
        self.newest_known = newest_known
        super().__init__(
            f"the catalog is at schema revision {found!r}, which this keepline does not know "
            f"(the newest it knows is {newest_known!r}): a newer keepline has upgraded it. "
            "Run that keepline version or a later one against this catalog, or restore a "
            "backup taken before the upgrade; do not downgrade the schema by hand."
        )


@dataclass(frozen=True, slots=True)
class SchemaState:
    """Where a catalog's schema stands.

    Attributes:
        current: The catalog's revision; None for an empty (or pre-migration) catalog.
        head: The newest revision this code knows.
        known: Whether this code knows `current` (False: a newer keepline upgraded it).
    """

    current: str | None
    head: str
    known: bool = True

    @property
    def up_to_date(self) -> bool:
        """Whether the catalog is at the newest revision."""
        return self.current == self.head


def alembic_config(connection: Connection | None = None) -> Config:
    """The Alembic configuration of the catalog, for `alembic.command` (no alembic.ini).

    Args:
        connection: The connection `env.py` runs the migrations on.
    """
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    if connection is not None:
        config.attributes["connection"] = connection
    return config


@cache
def _revisions() -> tuple[str, ...]:
    # The revision files ship with the code, so they are read once per process.
    script = ScriptDirectory.from_config(alembic_config())
    return tuple(rev.revision for rev in script.walk_revisions())


def head_revision() -> str:
    """The newest revision this code knows."""
    return _revisions()[0]  # versions/ is never empty; walk_revisions starts at the head


def known_revisions() -> list[str]:
    """Every revision this code knows, newest first."""
    return list(_revisions())


def schema_state(connection: Connection) -> SchemaState:
    """Read where the catalog's schema stands (nothing is changed)."""
    current = MigrationContext.configure(connection).get_current_revision()
    known = known_revisions()
    return SchemaState(current=current, head=known[0], known=current in {None, *known})


def upgrade(connection: Connection, revision: str = "head") -> tuple[SchemaState, SchemaState]:
    """Upgrade the catalog to `revision` (the newest by default), in one transaction.

    On PostgreSQL concurrent callers wait for each other (an advisory lock), so only the
    first migrates; on SQLite the caller serialises (see `Database.create_schema`).

    Args:
        connection: A connection with no transaction begun.
        revision: The revision to reach.

    Returns:
        The schema state before and after.

    Raises:
        SchemaTooNewError: The catalog is at a revision this code does not know.
    """
    with connection.begin():
        if connection.dialect.name == "postgresql":
            connection.exec_driver_sql(f"SELECT pg_advisory_xact_lock({_PG_LOCK_KEY})")
        before = schema_state(connection)
        if not before.known:
            raise SchemaTooNewError(str(before.current), before.head)
        if before.current != revision:
            command.upgrade(alembic_config(connection), revision)
        after = schema_state(connection)
    return before, after
