"""A pending claim that no attempt touches for long is stale: reported, never silent."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from storage.models import PartyRow
from storage.sql.catalog import SqlCatalog
from storage.sql.database import Database
from tests.catalog_templates import migrated_sqlite

T0 = datetime(2026, 11, 21, 12, 0, tzinfo=UTC)


@pytest.fixture
async def catalog(tmp_path: Path) -> AsyncIterator[SqlCatalog]:
    database = Database(migrated_sqlite(tmp_path / "catalog.db"))
    await database.create_schema()
    yield SqlCatalog(database)
    await database.dispose()


async def _claim(catalog: SqlCatalog, event_id: str, *, at_min: float) -> str:
    claim = await catalog.claim(
        source="pbx-1",
        event_id=event_id,
        item_type="call_recording",
        occurred_at=T0,
        ingested_at=T0 + timedelta(minutes=at_min),
        policy_version="v1",
        event={"type": "call_recording"},
        parties=[PartyRow("sub-1", "s1", None)],
        attributes={},
    )
    return claim.item_id


async def test_a_claim_without_an_attempt_since_the_threshold_is_stale(
    catalog: SqlCatalog,
) -> None:
    old = await _claim(catalog, "old", at_min=0)
    await _claim(catalog, "recent", at_min=9)

    count, oldest = await catalog.stale_claims(attempted_before=T0 + timedelta(minutes=5))

    assert count == 1
    assert oldest == [(old, T0)]


async def test_each_attempt_at_a_pending_claim_keeps_it_fresh(catalog: SqlCatalog) -> None:
    item_id = await _claim(catalog, "retried", at_min=0)
    # A redelivery (or a retry) claims again: the same item, touched at the attempt's time.
    assert await _claim(catalog, "retried", at_min=12) == item_id

    count, _ = await catalog.stale_claims(attempted_before=T0 + timedelta(minutes=10))
    assert count == 0
    count, oldest = await catalog.stale_claims(attempted_before=T0 + timedelta(minutes=13))
    assert (count, oldest) == (1, [(item_id, T0 + timedelta(minutes=12))])


async def test_stored_items_are_never_stale(catalog: SqlCatalog) -> None:
    item_id = await _claim(catalog, "done", at_min=0)
    assert await catalog.commit_claimed(
        item_id, stored=None, purposes=[], hold_ids=[], s3_synced=True
    )
    count, _ = await catalog.stale_claims(attempted_before=T0 + timedelta(days=1))
    assert count == 0
