"""SqlLeases: named, expiring leases in the catalog, so one process at a time does a job.

A lease is a row (name, holder, expires_at). Taking it is one conditional statement: an
UPDATE that only matches when the row is free (expired) or already ours, or an INSERT that
the primary key lets only one writer win. Both are atomic on SQLite and PostgreSQL alike, so
no advisory locks or dialect-specific upserts are needed. A holder that dies simply stops
renewing; the lease falls free at ``expires_at`` and another process takes it over.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from datetime import datetime, timedelta

from sqlalchemy import delete, insert, or_, select, update

from storage.errors import CatalogConflictError, LeaseUnavailableError
from storage.models import Lease, Renew
from storage.sql.database import Database, must_utc
from storage.sql.schema import leases


class SqlLeases:
    """Acquire, renew and release leases stored in the catalog's ``leases`` table."""

    def __init__(self, db: Database) -> None:
        self._db = db

    async def acquire(self, name: str, holder: str, *, ttl_s: float, now: datetime) -> bool:
        """Take the lease if it is free, expired or already ours; extend it to now + ttl_s.

        Args:
            name: The lease, e.g. ``sweeper``.
            holder: A process-unique id of the caller.
            ttl_s: How long the lease lasts unless renewed.
            now: The current time (aware).

        Returns:
            True when the caller holds the lease until ``now + ttl_s``.
        """
        expires_at = now + timedelta(seconds=ttl_s)
        async with self._db.begin() as conn:
            taken = await conn.execute(
                update(leases)
                .where(
                    leases.c.name == name,
                    or_(leases.c.holder == holder, leases.c.expires_at <= now),
                )
                .values(holder=holder, expires_at=expires_at)
            )
            if taken.rowcount == 1:
                return True
            exists = (
                await conn.execute(select(leases.c.name).where(leases.c.name == name))
            ).first()
        if exists is not None:
            return False
        try:
            # Its own transaction: on PostgreSQL a failed INSERT spoils the transaction.
            async with self._db.begin() as conn:
                await conn.execute(
                    insert(leases).values(name=name, holder=holder, expires_at=expires_at)
                )
        except CatalogConflictError:
            return False  # another process inserted it first
        return True

    async def renew(self, name: str, holder: str, *, ttl_s: float, now: datetime) -> bool:
        """Extend a lease the caller holds; False if it is held by someone else now.

        A lease that expired but that nobody took meanwhile is still the caller's: no other
        process did the job in between, so carrying on is safe.
        """
        async with self._db.begin() as conn:
            result = await conn.execute(
                update(leases)
                .where(leases.c.name == name, leases.c.holder == holder)
                .values(expires_at=now + timedelta(seconds=ttl_s))
            )
        return result.rowcount == 1

    async def release(self, name: str, holder: str) -> bool:
        """Give the lease up if the caller holds it; False otherwise."""
        async with self._db.begin() as conn:
            result = await conn.execute(
                delete(leases).where(leases.c.name == name, leases.c.holder == holder)
            )
        return result.rowcount == 1

    async def current(self, name: str) -> Lease | None:
        """The lease as recorded (possibly expired), or None if nobody holds it."""
        async with self._db.connect() as conn:
            row = (await conn.execute(select(leases).where(leases.c.name == name))).first()
        if row is None:
            return None
        return Lease(name=row.name, holder=row.holder, expires_at=must_utc(row.expires_at))

    @asynccontextmanager
    async def holding(
        self,
        name: str,
        holder: str,
        *,
        ttl_s: float,
        clock: Callable[[], datetime],
        wait_s: float = 0.0,
        poll_s: float = 0.5,
    ) -> AsyncIterator[Renew]:
        """Hold a lease for the duration of a block, waiting up to wait_s to get it.

        Yields a ``renew()`` coroutine function: call it between units of work, and stop
        when it returns False (the lease expired and another process took it).

        Raises:
            LeaseUnavailableError: The lease stayed taken for wait_s.
        """
        deadline = time.monotonic() + wait_s

        async def renew() -> bool:
            return await self.renew(name, holder, ttl_s=ttl_s, now=clock())

        try:
            while not await self.acquire(name, holder, ttl_s=ttl_s, now=clock()):
                if time.monotonic() >= deadline:
                    lease = await self.current(name)
                    raise LeaseUnavailableError(
                        name, lease.holder if lease else None, lease.expires_at if lease else None
                    )
                await asyncio.sleep(poll_s)
            yield renew
        finally:
            # Also when cancelled mid-acquire: the row may be ours although acquire never
            # returned. Releasing a lease held by someone else changes nothing. A cancel that
            # arrives during the release waits for it: a half-done release would keep the
            # lease from everyone until it expires.
            releasing = asyncio.ensure_future(self.release(name, holder))
            try:
                await asyncio.shield(releasing)
            except asyncio.CancelledError:
                await releasing
                raise
