"""WORM on real MinIO: a worm purpose locks the object until it expires, MinIO enforces it."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta

import pytest
from minio import Minio
from minio.deleteobjects import DeleteObject
from minio.error import S3Error

from storage.models import object_key_for
from tests.integration.keepline_service import KeeplineService, wait_for
from tests.integration.retention_support import (
    LATE_S,
    POLICY,
    artefact,
    expiry,
    fast_sweeps,
    ingest,
    object_versions,
    sleep_until,
    tombstone,
    wait_versions_gone,
)


def _early_deletes_refused(minio_client: Minio, service: KeeplineService, item_id: str) -> None:
    key = object_key_for(item_id)
    version_id = object_versions(minio_client, service, item_id)[0].version_id
    with pytest.raises(S3Error) as refused:
        minio_client.remove_object(service.bucket, key, version_id=version_id)
    assert "WORM protected" in str(refused.value.message)
    errors = list(minio_client.remove_objects(service.bucket, [DeleteObject(key, version_id)]))
    assert ["WORM protected" in str(e.message) for e in errors] == [True]
    assert len(object_versions(minio_client, service, item_id)) == 1


@pytest.mark.parametrize("mode", ["GOVERNANCE", "COMPLIANCE"])
def test_worm_object_cannot_be_deleted_early_and_is_destroyed_once_expired(
    keepline_factory: Callable[..., KeeplineService], minio_client: Minio, mode: str
) -> None:
    service = keepline_factory(policy_text=POLICY, env=fast_sweeps(KEEPLINE_OBJECT_LOCK_MODE=mode))
    item = ingest(service, artefact("call_recording", subject=f"cust-worm-{mode.lower()}"))
    item_id = item["item_id"]
    until = expiry(item, "legal")
    version_id = object_versions(minio_client, service, item_id)[0].version_id
    # The lock is put on right after the item is committed, so it is waited for, not assumed.
    retention = wait_for(
        lambda: minio_client.get_object_retention(
            service.bucket, object_key_for(item_id), version_id=version_id
        ),
        timeout_s=LATE_S,
        what="the object's retention",
    )
    assert retention.mode == mode
    assert retention.retain_until_date is not None
    assert abs(retention.retain_until_date - until) < timedelta(seconds=1)

    _early_deletes_refused(minio_client, service, item_id)
    if mode == "COMPLIANCE":
        # Not even a caller allowed to bypass governance may remove it.
        key = object_key_for(item_id)
        errors = list(
            minio_client.remove_objects(
                service.bucket, [DeleteObject(key, version_id)], bypass_governance_mode=True
            )
        )
        assert ["WORM protected" in str(e.message) for e in errors] == [True]

    # quality (6s) expires first: the sweep drops it and the item stays, locked, for legal (12s).
    sleep_until(expiry(item, "quality"))
    with service.client("legal") as legal:
        wait_for(
            lambda: (
                [p["name"] for p in legal.get(f"/v1/items/{item_id}").json()["purposes"]]
                == ["legal"]
            ),
            timeout_s=LATE_S,
            what="quality to be dropped",
        )
    assert tombstone(service, item_id) is None
    assert len(object_versions(minio_client, service, item_id)) == 1

    sleep_until(until)
    wait_for(lambda: tombstone(service, item_id), timeout_s=LATE_S + 2, what="the sweeper")
    wait_versions_gone(minio_client, service, item_id)
