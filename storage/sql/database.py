"""The catalog database: one async engine for SQLite or PostgreSQL."""

from __future__ import annotations

import asyncio
import contextlib
import fcntl
import os
from collections.abc import AsyncIterator
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from contextvars import ContextVar
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from sqlalchemy import event, exc
from sqlalchemy.engine import Engine, ExceptionContext, make_url
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine, create_async_engine
from sqlalchemy.pool import ConnectionPoolEntry

from storage.errors import CatalogConflictError, CatalogError, CatalogUnavailableError
from storage.sql.migrations import SchemaState, schema_state, upgrade

# SQLSTATE classes worth a retry: connection exceptions, transaction rollback (serialization
# failures, deadlocks), insufficient resources, operator intervention (a server shutting down).
_RETRIABLE_SQLSTATE_PREFIXES = ("08", "40", "53", "57P")


#: Rows of each index SQLite's ANALYZE samples (see `Database.refresh_statistics`).
_ANALYSIS_ROWS = 1000


def _sqlite_pragmas(dbapi_conn: Any, _record: ConnectionPoolEntry) -> None:
    # WAL lets the API read while a worker writes; foreign keys are off by default in SQLite.
    # secure_delete zeroes what a delete or an update frees, so a destroyed item's wrapped
    # data key does not linger in free pages (crypto-shredding); the WAL keeps it only until
    # the next checkpoint.
    cursor = dbapi_conn.cursor()
    cursor.execute("PRAGMA secure_delete=ON")
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA busy_timeout=30000")
    cursor.close()


def _driver_code(err: BaseException | None) -> str | None:
    # asyncpg's adapted errors carry the SQLSTATE; sqlite3's carry an error name.
    for attribute in ("sqlstate", "pgcode", "sqlite_errorname"):
        value = getattr(err, attribute, None)
        if isinstance(value, str) and value:
            return value
    return None


def storage_error_for(context: ExceptionContext) -> CatalogError:
    """The storage error that stands for a database error; never the driver's message.

    The driver's text can quote the row it refused (PostgreSQL's ``Key (subject_id)=(...)``),
    so only the kind of failure and the driver's code travel on.
    """
    code = _driver_code(context.original_exception)
    failure = context.sqlalchemy_exception
    if code == "SQLITE_ERROR":  # SQLite's generic code: bad SQL or schema, never transient
        return CatalogError("catalog statement failed", code=code)
    if context.is_disconnect or isinstance(failure, (exc.OperationalError, exc.InterfaceError)):
        return CatalogUnavailableError("catalog unavailable", code=code)
    if code is not None and code.startswith(_RETRIABLE_SQLSTATE_PREFIXES):
        return CatalogUnavailableError("catalog transaction failed transiently", code=code)
    if isinstance(failure, exc.IntegrityError):
        return CatalogConflictError("catalog refused a conflicting write", code=code)
    kind = type(failure).__name__ if failure is not None else "error"
    return CatalogError(f"catalog {kind}", code=code)


def _translate(context: ExceptionContext) -> None:
    # Raising here replaces SQLAlchemy's exception once it has cleaned up (a dropped connection
    # is still invalidated), so no SQLAlchemy type leaves storage/.
    if not isinstance(context.sqlalchemy_exception, exc.DBAPIError):
        # The statement never reached the driver: keepline's own code refused a value (a naive
        # datetime, say). That is a programming error; it travels on as itself.
        raise context.original_exception
    raise storage_error_for(context) from context.original_exception


def redacted_url(url: str) -> str:
    """The catalog URL as it may be shown: the password hidden."""
    return make_url(url).render_as_string(hide_password=True)


def _private_file(path: Path) -> None:
    """Create the catalog file (and its folder) readable by this user only.

    SQLite gives its -wal and -shm files the database file's permissions.
    """
    if not path.parent.exists():
        path.parent.mkdir(mode=0o700, parents=True)
        path.parent.chmod(0o700)  # mkdir's mode is filtered by the umask
    # Made earlier, or by another process starting beside this one: leave it be.
    with contextlib.suppress(FileExistsError):
        os.close(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, 0o600))


def as_utc(value: datetime | None) -> datetime | None:
    """SQLite hands back naive datetimes; they were written as UTC."""
    if value is None:
        return None
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def must_utc(value: datetime) -> datetime:
    """As as_utc, for a column that is never null."""
    result = as_utc(value)
    assert result is not None
    return result


async def _checked_out(
    stack: contextlib.AsyncExitStack, opening: AbstractAsyncContextManager[AsyncConnection]
) -> AsyncConnection:
    # A pool exhausted past its timeout, or a server that refuses the connection before the
    # driver speaks (asyncpg raises OSError), is an unavailable catalog: handle_error sees
    # neither. Only the checkout is guarded, never the caller's statements.
    try:
        return await stack.enter_async_context(opening)
    except exc.TimeoutError as err:
        raise CatalogUnavailableError("catalog busy: no pooled connection free") from err
    except OSError as err:
        raise CatalogUnavailableError(f"catalog unreachable: {type(err).__name__}") from err


class Database:
    """Owns the async engine; every catalog repository shares one."""

    def __init__(self, url: str) -> None:
        self.url = url
        self.is_sqlite = url.startswith("sqlite")
        # Bound values are personal data (addresses, subject ids): never in error messages.
        kwargs: dict[str, Any] = {"hide_parameters": True}
        self._sqlite_file: Path | None = None
        if self.is_sqlite:
            path = url.split(":///", 1)[-1]
            if path and path != ":memory:":
                self._sqlite_file = Path(path)
                _private_file(self._sqlite_file)
            kwargs["connect_args"] = {"timeout": 30}
        else:
            kwargs["pool_pre_ping"] = True
        self.engine: AsyncEngine = create_async_engine(url, **kwargs)
        if self.is_sqlite:
            event.listen(self.engine.sync_engine, "connect", _sqlite_pragmas)
        event.listen(self.engine.sync_engine, "handle_error", _translate)
        # The connection of the unit of work this task is inside (see `transaction`).
        self._joined: ContextVar[AsyncConnection | None] = ContextVar(
            f"keepline.catalog.transaction.{id(self)}", default=None
        )

    async def create_schema(self) -> tuple[SchemaState, SchemaState]:
        """Upgrade the schema to the newest revision, creating it in an empty catalog.

        Idempotent, and safe when several processes start at once: they migrate in turn.

        Returns:
            The schema state before and after.

        Raises:
            SchemaTooNewError: The catalog is at a revision this code does not know.
        """
        async with self._migration_lock(), self.engine.connect() as conn:
            return await conn.run_sync(upgrade)

    async def refresh_statistics(self) -> None:
        """Give SQLite's query planner fresh statistics (a sample of each index: cheap).

        Without them SQLite plans a listing by subject, say, as a walk over every item
        newest first; with them, as a lookup of that subject's few items. PostgreSQL keeps
        its own statistics (autovacuum), so nothing is done there.
        """
        if not self.is_sqlite:
            return
        async with self.engine.begin() as conn:
            await conn.exec_driver_sql(f"PRAGMA analysis_limit={_ANALYSIS_ROWS}")
            await conn.exec_driver_sql("ANALYZE")

    async def schema_state(self) -> SchemaState:
        """Where the catalog's schema stands, without changing it."""
        async with self.engine.connect() as conn:
            return await conn.run_sync(schema_state)

    @asynccontextmanager
    async def _migration_lock(self) -> AsyncIterator[None]:
        # PostgreSQL takes an advisory lock inside the migration's transaction. SQLite runs
        # DDL outside transactions, so processes sharing a file take turns on a lock beside it.
        if self._sqlite_file is None:
            yield
            return
        lock = self._sqlite_file.with_name(f"{self._sqlite_file.name}.migrate-lock")
        with lock.open("a") as handle:
            while True:
                try:
                    fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
                    break
                except BlockingIOError:
                    await asyncio.sleep(0.05)  # another process is migrating this catalog
            try:
                yield
            finally:
                fcntl.flock(handle, fcntl.LOCK_UN)

    @asynccontextmanager
    async def transaction(self) -> AsyncIterator[AsyncConnection]:
        """One unit of work: every `begin` and `connect` inside the block joins it.

        The block's changes commit together at its end, or none of them does. On SQLite it
        takes the write lock at once (BEGIN IMMEDIATE), so what it reads stays true until it
        commits; keep object-store calls out of the block. A block inside another joins it.
        """
        joined = self._joined.get()
        if joined is not None:
            yield joined
            return
        async with contextlib.AsyncExitStack() as stack:
            conn = await _checked_out(stack, self.engine.begin())
            if self.is_sqlite:
                # pysqlite would begin only at the first write, after the reads it depends on.
                await conn.exec_driver_sql("BEGIN IMMEDIATE")
            token = self._joined.set(conn)
            try:
                yield conn
            finally:
                self._joined.reset(token)

    @asynccontextmanager
    async def begin(self) -> AsyncIterator[AsyncConnection]:
        """A connection inside one transaction, committed on success.

        Inside a unit of work it is a savepoint of that work's transaction: an error rolls
        back only what the block did, and its changes commit with the rest of the work.
        """
        joined = self._joined.get()
        if joined is not None:
            async with joined.begin_nested():
                yield joined
            return
        async with contextlib.AsyncExitStack() as stack:
            yield await _checked_out(stack, self.engine.begin())

    @asynccontextmanager
    async def connect(self) -> AsyncIterator[AsyncConnection]:
        """A connection for reads (the unit of work's own, inside one)."""
        joined = self._joined.get()
        if joined is not None:
            yield joined
            return
        async with contextlib.AsyncExitStack() as stack:
            yield await _checked_out(stack, self.engine.connect())

    async def ping(self) -> None:
        """Raise if the database cannot be reached."""
        async with self.engine.connect() as conn:
            await conn.exec_driver_sql("SELECT 1")

    async def dispose(self) -> None:
        """Close every pooled connection."""
        await self.engine.dispose()


def sync_engine_of(db: Database) -> Engine:
    """The engine's sync face, for run_sync helpers."""
    return db.engine.sync_engine
