"""`keepline db upgrade|current`: the catalog schema's revision, and bringing it up to date.

`keepline serve` (and every command) upgrades the catalog when it starts; `db upgrade` does
it ahead of a deployment, e.g. with a database role that may create tables while the
service's own role may not. `db current` only reads.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
from typing import TYPE_CHECKING, Any

from storage.errors import StorageError

if TYPE_CHECKING:
    from storage.settings import StorageSettings
    from storage.sql.database import Database
    from storage.sql.migrations import SchemaState


def _catalog(settings: StorageSettings) -> tuple[Database, str]:
    from storage.sql.database import Database, redacted_url

    url = settings.resolved_catalog_url()
    return Database(url), redacted_url(url)


async def upgrade_catalog(settings: StorageSettings) -> tuple[SchemaState, SchemaState]:
    """Upgrade the configured catalog to the newest revision; the states before and after."""
    db, _ = _catalog(settings)
    try:
        return await db.create_schema()
    finally:
        await db.dispose()


async def catalog_state(settings: StorageSettings) -> SchemaState:
    """Where the configured catalog's schema stands (nothing is changed)."""
    db, _ = _catalog(settings)
    try:
        return await db.schema_state()
    finally:
        await db.dispose()


def describe(state: SchemaState) -> str:
    """One line on a schema state, saying what to do when it is behind."""
    if state.up_to_date:
        return f"at revision {state.current} (the newest)"
    found = f"at revision {state.current}" if state.current else "empty (no schema yet)"
    return f"{found}; the newest is {state.head}: run `keepline db upgrade`"


def run_upgrade(args: argparse.Namespace) -> int:
    """Entry point of `keepline db upgrade`."""
    from storage.settings import StorageSettings

    settings = StorageSettings()
    shown = _catalog(settings)[1]
    try:
        before, after = asyncio.run(upgrade_catalog(settings))
    except StorageError as err:
        sys.stderr.write(f"keepline db upgrade: {shown}: {err}\n")
        return 2
    if before.current == after.current:
        sys.stdout.write(f"{shown}: already at revision {after.current} (the newest)\n")
    else:
        sys.stdout.write(
            f"{shown}: upgraded from {before.current or 'an empty catalog'} "
            f"to revision {after.current}\n"
        )
    return 0


def run_current(args: argparse.Namespace) -> int:
    """Entry point of `keepline db current`: 0 up to date, 1 behind, 2 unknown revision."""
    from storage.settings import StorageSettings
    from storage.sql.migrations import SchemaTooNewError

    settings = StorageSettings()
    shown = _catalog(settings)[1]
    state = asyncio.run(catalog_state(settings))
    if not state.known:
        sys.stderr.write(f"{shown}: {SchemaTooNewError(str(state.current), state.head)}\n")
        return 2
    sys.stdout.write(f"{shown}: {describe(state)}\n")
    return 0 if state.up_to_date else 1


def add_parser(sub: Any) -> None:
    """Register `keepline db` on the subcommand parsers."""
    parser = sub.add_parser("db", help="the catalog schema: upgrade it, show its revision")
    actions = parser.add_subparsers(dest="db_action", required=True)
    upgrade = actions.add_parser("upgrade", help="upgrade the catalog to the newest revision")
    upgrade.set_defaults(func=run_upgrade)
    current = actions.add_parser("current", help="show the catalog's revision (changes nothing)")
    current.set_defaults(func=run_current)
