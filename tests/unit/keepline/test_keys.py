"""`keepline keys retire`: a KEK version goes only once nothing is wrapped by it."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import replace
from datetime import timedelta
from pathlib import Path

import pytest

from service.maintenance.keys import retire_unused, rewrap_all
from storage.crypto.keyring import FileKeyRing
from storage.sql.audit import SqlAuditLog
from storage.sql.catalog import SqlCatalog
from storage.sql.database import Database
from tests.catalog_contract.support import T0, add_item, stored_content
from tests.catalog_templates import migrated_sqlite


@pytest.fixture
async def catalog(tmp_path: Path) -> AsyncIterator[SqlCatalog]:
    db = Database(migrated_sqlite(tmp_path / "catalog.db"))
    await db.create_schema()
    yield SqlCatalog(db)
    await db.dispose()


async def _wrapped_item(catalog: SqlCatalog, ring: FileKeyRing, tag: str) -> str:
    item_id = await add_item(catalog, commit=False)
    wrapped = ring.wrap(b"\x01" * 32, item_id=item_id)
    content = replace(stored_content(tag), key_id=wrapped.key_id, wrapped_key=wrapped.to_str())
    await catalog.commit_claimed(item_id, stored=content, purposes=[], hold_ids=[], s3_synced=True)
    return item_id


async def test_a_version_still_wrapping_data_keys_is_kept_until_rewrapped(
    catalog: SqlCatalog, tmp_path: Path
) -> None:
    ring = FileKeyRing(tmp_path / "keys" / "keyring.json")
    old = ring.current_key_id()
    await _wrapped_item(catalog, ring, "a")
    new = ring.rotate()

    kept = await retire_unused(catalog, ring, key_ids=[], in_flight_after=T0)
    assert kept.retired == ()
    assert "1 data keys may still be wrapped by it" in kept.kept[old]
    assert ring.key_ids() == [old, new]

    await rewrap_all(catalog, ring)
    audit = SqlAuditLog(catalog.db)
    done = await retire_unused(catalog, ring, key_ids=[], in_flight_after=T0, audit=audit, at=T0)
    assert (done.retired, done.kept) == ((old,), {})
    (entry,) = await audit.query(action="key.retired")
    assert entry.details == {"key_id": old, "current": new}
    assert ring.key_ids() == [new]
    current = await retire_unused(catalog, ring, key_ids=[new], in_flight_after=T0)
    assert "current key" in current.kept[new]


async def test_nothing_is_retired_while_an_upload_may_be_sealing_with_it(
    catalog: SqlCatalog, tmp_path: Path
) -> None:
    ring = FileKeyRing(tmp_path / "keys" / "keyring.json")
    old = ring.current_key_id()
    ring.rotate()
    await add_item(catalog, commit=False)  # a claim attempted at T0, its upload under way
    busy = await retire_unused(catalog, ring, key_ids=[], in_flight_after=T0 - timedelta(hours=1))
    assert "1 uploads are under way" in busy.kept[old]
    stale = await retire_unused(catalog, ring, key_ids=[], in_flight_after=T0 + timedelta(hours=1))
    assert stale.retired == (old,)
