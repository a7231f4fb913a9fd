"""SqlFixityLog: the record of integrity passes, one row per pass, saved as it goes."""

from __future__ import annotations

from typing import Any

from sqlalchemy import insert, select, update

from storage.ports import FixityPass
from storage.sql.database import Database, as_utc, must_utc
from storage.sql.schema import fixity_passes


def _values(state: FixityPass) -> dict[str, Any]:
    return {
        "started_at": state.started_at,
        "finished_at": state.finished_at,
        "phase": state.phase,
        "cursor": state.cursor,
        "objects_checked": state.objects_checked,
        "bytes_checked": state.bytes_checked,
        "mismatched": state.mismatched,
        "missing": state.missing,
        "orphaned": state.orphaned,
        "problems": list(state.problems),
        "bucket": state.bucket,
    }


class SqlFixityLog:
    """Saves and reads integrity passes in the catalog's ``fixity_passes`` table."""

    def __init__(self, db: Database) -> None:
        self._db = db

    async def save(self, state: FixityPass) -> None:
        """Record a pass's state (insert or replace by pass_id)."""
        values = _values(state)
        async with self._db.begin() as conn:
            done = await conn.execute(
                update(fixity_passes)
                .where(fixity_passes.c.pass_id == state.pass_id)
                .values(**values)
            )
            if done.rowcount == 0:
                await conn.execute(insert(fixity_passes).values(pass_id=state.pass_id, **values))

    async def unfinished(self) -> FixityPass | None:
        """The newest pass that has not finished, if any."""
        return await self._newest(fixity_passes.c.finished_at.is_(None))

    async def latest(self) -> FixityPass | None:
        """The newest finished pass, if any."""
        return await self._newest(fixity_passes.c.finished_at.is_not(None))

    async def _newest(self, condition: Any) -> FixityPass | None:
        stmt = (
            select(fixity_passes)
            .where(condition)
            .order_by(fixity_passes.c.started_at.desc(), fixity_passes.c.pass_id.desc())
            .limit(1)
        )
        async with self._db.connect() as conn:
            row = (await conn.execute(stmt)).first()
        if row is None:
            return None
        return FixityPass(
            pass_id=row.pass_id,
            started_at=must_utc(row.started_at),
            phase=row.phase,
            cursor=row.cursor,
            objects_checked=row.objects_checked,
            bytes_checked=row.bytes_checked,
            mismatched=row.mismatched,
            missing=row.missing,
            orphaned=row.orphaned,
            problems=tuple(row.problems or ()),
            bucket=row.bucket,
            finished_at=as_utc(row.finished_at),
        )
