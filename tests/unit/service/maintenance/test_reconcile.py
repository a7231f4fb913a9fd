"""Reconciliation removes orphans, audited, and cannot be turned against the archive."""

from __future__ import annotations

import io
from collections.abc import AsyncIterator
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path

import pytest

from keepline.root import Keepline, build
from policies.policy_file import load_default_policy
from service.maintenance.reconcile import reconcile
from storage.settings import StorageSettings
from tests.catalog_contract.support import add_item, stored_content

AT = datetime(2026, 11, 21, 12, 0, tzinfo=UTC)


@pytest.fixture
async def root(tmp_path: Path) -> AsyncIterator[Keepline]:
    keepline = build(StorageSettings(data_dir=tmp_path, object_store="filesystem"))
    await keepline.prepare(load_default_policy())
    yield keepline
    await keepline.close()


def _put(root: Keepline, key: str) -> str | None:
    result = root.storage.store.put_stream(
        key, io.BytesIO(b"ciphertext"), content_type="application/octet-stream", tags={}
    )
    return result.version_id


async def _objects(root: Keepline, owned: int, orphans: int) -> list[str]:
    for n in range(owned):
        key = f"items/aa/owned-{n}"
        version = _put(root, key)
        content = replace(stored_content(f"o{n}"), object_key=key, version_id=version)
        await add_item(root.storage.catalog, stored=content)
    keys = [f"items/zz/orphan-{n}" for n in range(orphans)]
    for key in keys:
        _put(root, key)
    return keys


async def _removals(root: Keepline) -> list[int]:
    entries = await root.storage.audit.query(action="object.orphans_removed")
    return [int(e.details["removed"]) for e in entries]


async def test_a_few_orphans_are_removed_and_the_removal_is_audited(root: Keepline) -> None:
    orphans = await _objects(root, owned=19, orphans=1)
    report = await reconcile(
        root.storage.catalog, root.storage.store, root.storage.audit, dry_run=False, at=AT
    )
    assert (report.refused, report.removed, report.missing) == (None, 1, [])
    assert [v.key for v in report.orphans] == orphans
    assert list(root.storage.store.list_keys("items/zz/")) == []
    assert await _removals(root) == [1]


async def test_against_an_empty_or_wrong_catalog_nothing_is_removed(
    root: Keepline, tmp_path: Path
) -> None:
    await _objects(root, owned=5, orphans=0)
    # The same bucket, a catalog that knows none of it (a wrong KEEPLINE_CATALOG_URL).
    other = build(
        StorageSettings(
            data_dir=tmp_path, object_store="filesystem", catalog_url=f"sqlite:///{tmp_path}/o.db"
        )
    )
    try:
        await other.storage.db.create_schema()
        report = await reconcile(
            other.storage.catalog, other.storage.store, other.storage.audit, dry_run=False, at=AT
        )
    finally:
        await other.close()
    assert report.refused is not None
    assert "5 of 5 object versions" in report.refused
    assert "--force" in report.refused
    assert report.removed == 0
    assert len(list(root.storage.store.list_keys("items/"))) == 5


async def test_force_removes_what_the_operator_confirmed(root: Keepline) -> None:
    await _objects(root, owned=1, orphans=3)
    refused = await reconcile(
        root.storage.catalog, root.storage.store, root.storage.audit, dry_run=False, at=AT
    )
    assert refused.refused is not None
    forced = await reconcile(
        root.storage.catalog,
        root.storage.store,
        root.storage.audit,
        dry_run=False,
        force=True,
        at=AT,
    )
    assert (forced.refused, forced.removed) == (None, 3)
    assert await _removals(root) == [3]
