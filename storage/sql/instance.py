"""SqlCatalogInstance: the catalog's own identity, which the bucket's marker object names.

One row, made on first use. Two processes making it at once agree: the loser of the insert
reads the winner's row.
"""

from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import insert, select

from storage.errors import CatalogConflictError
from storage.sql.database import Database
from storage.sql.schema import catalog_instance

_ROW = 1


class SqlCatalogInstance:
    """The identity of one catalog (a uuid), made the first time it is asked for."""

    def __init__(self, db: Database) -> None:
        self._db = db

    async def instance_id(self, *, at: datetime) -> str:
        """This catalog's identity; made (and dated ``at``) if the catalog has none yet."""
        found = await self._read()
        if found is not None:
            return found
        try:
            async with self._db.begin() as conn:
                await conn.execute(
                    insert(catalog_instance).values(
                        id=_ROW, instance_id=str(uuid.uuid4()), created_at=at
                    )
                )
        except CatalogConflictError:
            pass  # another process made it first: its row is the identity
        made = await self._read()
        assert made is not None  # inserted just above, by us or by another process
        return made

    async def _read(self) -> str | None:
        async with self._db.connect() as conn:
            row = (
                await conn.execute(
                    select(catalog_instance.c.instance_id).where(catalog_instance.c.id == _ROW)
                )
            ).first()
        return None if row is None else str(row[0])
