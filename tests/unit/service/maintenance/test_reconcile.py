"""Reconciliation removes orphans, audited, and cannot be turned against the archive."""

from __future__ import annotations

import io
from collections.abc import AsyncIterator
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from keepline.root import Keepline, build
from policies.policy_file import load_default_policy
from service.maintenance.reconcile import ReconcileReport, reconcile
from storage.errors import BucketClaimedError
from storage.objects.marker import MARKER_KEY, read_marker, write_marker
from storage.runtime import prepare_storage
from storage.settings import StorageSettings
from tests.catalog_contract.support import add_item, stored_content

# After every object the tests write (the store dates versions by the wall clock).
AT = datetime.now(UTC) + timedelta(days=1)


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


async def _reconcile(root: Keepline, **kwargs: Any) -> ReconcileReport:
    """Reconcile the root's own bucket and catalog (as `keepline reconcile` does)."""
    options: dict[str, Any] = {
        "dry_run": False,
        "at": AT,
        "catalog_instance": await root.storage.instance.instance_id(at=AT),
        "bucket_instance": read_marker(root.storage.store),
    }
    options.update(kwargs)
    return await reconcile(root.storage.catalog, root.storage.store, root.storage.audit, **options)


async def _removals(root: Keepline) -> list[int]:
    entries = await root.storage.audit.query(action="object.orphans_removed")
    return [int(e.details["removed"]) for e in entries]


async def test_a_few_orphans_are_removed_and_the_removal_is_audited(root: Keepline) -> None:
    orphans = await _objects(root, owned=19, orphans=1)
    report = await _reconcile(root)
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
        report = await _reconcile(other, force=True)
    finally:
        await other.close()
    assert report.refused is not None
    assert "the bucket's marker names catalog" in report.refused
    assert "--force does not change that" in report.refused
    assert report.removed == 0
    assert len(list(root.storage.store.list_keys("items/"))) == 5


async def test_force_removes_what_the_operator_confirmed(root: Keepline) -> None:
    await _objects(root, owned=1, orphans=3)
    refused = await _reconcile(root)
    assert refused.refused is not None
    assert "3 of 4 object versions" in refused.refused
    assert "--force" in refused.refused
    forced = await _reconcile(root, force=True)
    assert (forced.refused, forced.removed) == (None, 3)
    assert await _removals(root) == [3]


async def test_an_unmarked_bucket_is_never_reconciled_even_forced(root: Keepline) -> None:
    await _objects(root, owned=19, orphans=1)
    report = await _reconcile(root, bucket_instance=None, force=True)
    assert report.refused is not None
    assert "names no catalog" in report.refused
    assert (report.removed, len(list(root.storage.store.list_keys("items/zz/")))) == (0, 1)
    assert await _removals(root) == []


async def test_an_orphan_younger_than_the_minimum_age_is_left_alone(root: Keepline) -> None:
    (orphan,) = await _objects(root, owned=19, orphans=1)
    written_at = datetime.now(UTC)
    young = await _reconcile(root, at=written_at, min_orphan_age=timedelta(hours=1))
    assert (young.young, young.orphans, young.removed) == (1, [], 0)
    assert list(root.storage.store.list_keys("items/zz/")) == [orphan]
    old = await _reconcile(root, at=written_at + timedelta(hours=2))
    assert (old.young, old.removed) == (0, 1)


async def test_a_version_under_legal_hold_or_retention_is_never_removed(root: Keepline) -> None:
    held, retained, free = await _objects(root, owned=27, orphans=3)
    store = root.storage.store
    store.set_legal_hold(held, None, on=True)
    store.set_retention(retained, None, until=AT + timedelta(days=30))
    report = await _reconcile(root)
    assert (report.refused, report.locked, report.removed) == (None, 2, 1)
    assert sorted(store.list_keys("items/zz/")) == sorted([held, retained])
    (entry,) = await root.storage.audit.query(action="object.orphans_removed")
    assert [v["key"] for v in entry.details["versions"]] == [free]
    forced = await _reconcile(root, force=True)
    assert (forced.locked, forced.removed, forced.failed) == (2, 0, 0)
    assert sorted(store.list_keys("items/zz/")) == sorted([held, retained])


async def test_start_up_marks_the_bucket_and_refuses_one_another_catalog_marked(
    root: Keepline, tmp_path: Path
) -> None:
    own = await root.storage.instance.instance_id(at=AT)
    assert read_marker(root.storage.store) == own
    assert MARKER_KEY not in list(root.storage.store.list_keys("items/"))
    await prepare_storage(root.storage)  # the same catalog again: accepted
    other = build(
        StorageSettings(
            data_dir=tmp_path, object_store="filesystem", catalog_url=f"sqlite:///{tmp_path}/o.db"
        )
    )
    try:
        with pytest.raises(BucketClaimedError, match="KEEPLINE_CATALOG_URL") as raised:
            await prepare_storage(other.storage)
        assert raised.value.bucket_instance == own
        assert read_marker(other.storage.store) == own  # the marker was not taken over
    finally:
        await other.close()


async def test_an_unmarked_bucket_is_marked_by_start_up(root: Keepline) -> None:
    write_marker(root.storage.store, "someone-else")
    with pytest.raises(BucketClaimedError):
        await prepare_storage(root.storage)
    root.storage.store.delete_versions(
        root.storage.store.versions(MARKER_KEY), bypass_governance=False
    )
    assert read_marker(root.storage.store) is None
    await prepare_storage(root.storage)
    assert read_marker(root.storage.store) == await root.storage.instance.instance_id(at=AT)


async def test_progress_counts_the_scan_then_the_removals(root: Keepline) -> None:
    await _objects(root, owned=30, orphans=2)
    heard: list[tuple[str, int, int]] = []
    report = await _reconcile(root, batch_keys=10, progress=lambda *step: heard.append(step))
    assert report.removed == 2
    scans = [done for phase, done, _ in heard if phase == "scanning"]
    assert scans == sorted(scans)
    assert scans[-1] == report.versions_scanned
    assert len(scans) >= 3  # one report per batch of keys, not one at the end
    assert [step for step in heard if step[0] == "removing"][-1] == ("removing", 2, 2)


async def test_each_refusal_is_audited_with_why_and_the_counts(root: Keepline) -> None:
    await _objects(root, owned=1, orphans=3)
    too_many = await _reconcile(root)
    foreign = await _reconcile(root, bucket_instance="another-catalog", force=True)
    assert (too_many.refused is not None, foreign.refused is not None) == (True, True)
    entries = await root.storage.audit.query(action="reconcile.refused")
    assert [(e.actor, e.at, e.item_id) for e in entries] == [("keepline-reconcile", AT, None)] * 2
    assert [e.details for e in entries] == [
        {
            "reason": "too_many_orphans",
            "versions_scanned": 4,
            "orphans": 3,
            "max_orphan_share": 0.10,
            "forced": False,
        },
        {
            "reason": "foreign_marker",
            "versions_scanned": 4,
            "orphans": 3,
            "max_orphan_share": 0.10,
            "forced": True,
        },
    ]
    # A dry run removes nothing, so it refuses nothing; a removal that goes is not a refusal.
    await _reconcile(root, dry_run=True)
    assert (await _reconcile(root, force=True)).removed == 3
    assert len(await root.storage.audit.query(action="reconcile.refused")) == 2
    assert await _removals(root) == [3]
