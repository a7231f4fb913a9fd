"""Integrity passes on real MinIO: a pass finds an object removed behind keepline's back, one
with a flipped byte, an object no catalog row owns, and a bucket whose versioning was
suspended; `keepline fixity` and the background pass under the fixity lease agree, and the
result is at GET /v1/fixity/latest, in the metrics and in the audit trail.

S3 versions cannot be edited in place, so the flipped byte is written the way a fault under
the object store would look to keepline: the committed version is replaced by a copy with
one bit changed, and the catalog names the copy.
"""

from __future__ import annotations

import io
import json
import sqlite3
from typing import Any

from minio import Minio
from minio.commonconfig import ENABLED
from minio.versioningconfig import SUSPENDED, VersioningConfig

from storage.models import object_key_for
from tests.integration.catalog_support import on_both_catalogs
from tests.integration.fixtures_keepline import KeeplineFactory
from tests.integration.ingest_support import metric, run_cli
from tests.integration.keepline_service import KeeplineService, wait_for
from tests.integration.retention_support import artefact, audit_actions, ingest, object_versions

#: Long retention and no worm purpose: nothing expires during the test, and the bucket
#: (made here without Object Lock, so its versioning can be suspended) is all the policy needs.
POLICY = """
purposes:
  quality: {basis: legitimate_interests, retention: P1D, roles: [qa, legal]}
rules:
  - match: {type: chat}
    purposes: [quality]
"""


def _fixity(service: KeeplineService) -> tuple[int, dict[str, Any]]:
    done = run_cli(service, "fixity", "--json", "--wait-s", "120", timeout_s=300)
    assert done.returncode in {0, 1}, done.stdout + done.stderr
    return done.returncode, json.loads(done.stdout.splitlines()[-1])


def _service(factory: KeeplineFactory, minio_client: Minio) -> KeeplineService:
    service = factory(policy_text=POLICY, env={"KEEPLINE_FIXITY_INTERVAL_S": "3"}, run=False)
    minio_client.make_bucket(service.bucket)
    minio_client.set_bucket_versioning(service.bucket, VersioningConfig(ENABLED))
    service.start()
    return service


def _flip_committed_version(service: KeeplineService, minio_client: Minio, item_id: str) -> None:
    key = object_key_for(item_id)
    (version,) = object_versions(minio_client, service, item_id)
    response = minio_client.get_object(service.bucket, key, version_id=version.version_id)
    try:
        body = bytearray(response.read())
    finally:
        response.close()
        response.release_conn()
    body[len(body) // 2] ^= 0x01
    copy = minio_client.put_object(service.bucket, key, io.BytesIO(bytes(body)), len(body))
    minio_client.remove_object(service.bucket, key, version_id=version.version_id)
    with sqlite3.connect(service.workdir / "data" / "keepline.db", timeout=30) as db:
        db.execute(
            "UPDATE items SET object_version_id = ? WHERE item_id = ?", (copy.version_id, item_id)
        )


def test_a_pass_finds_removed_flipped_and_orphaned_objects_and_suspended_versioning(
    keepline_factory: KeeplineFactory, minio_client: Minio
) -> None:
    service = _service(keepline_factory, minio_client)
    items = [ingest(service, artefact("chat", subject="cust-fixity")) for _ in range(3)]
    intact, removed, flipped = (item["item_id"] for item in items)

    code, clean = _fixity(service)
    assert code == 0, clean
    assert clean["ok"] is True
    assert clean["objects_checked"] == 3
    assert clean["bucket"]["versioning"] == "Enabled"

    (gone,) = object_versions(minio_client, service, removed)
    minio_client.remove_object(service.bucket, gone.object_name, version_id=gone.version_id)
    _flip_committed_version(service, minio_client, flipped)
    stray = "items/stray-object"
    minio_client.put_object(service.bucket, stray, io.BytesIO(b"not keepline's"), 14)
    minio_client.set_bucket_versioning(service.bucket, VersioningConfig(SUSPENDED))

    code, found = _fixity(service)
    assert code == 1, found
    assert found["ok"] is False
    assert (found["objects_checked"], found["mismatched"], found["missing"]) == (3, 1, 1)
    assert found["orphaned"] == 1
    by_kind = {p["kind"]: p for p in found["problems"]}
    assert by_kind["missing"]["item_id"] == removed
    assert by_kind["mismatched"]["item_id"] == flipped
    assert "failed authentication" in by_kind["mismatched"]["detail"]
    assert by_kind["orphaned"]["object_key"] == stray
    assert intact not in {p["item_id"] for p in found["problems"]}
    assert found["bucket"]["versioning"] == "Suspended"
    assert found["bucket"]["versioning_ok"] is False

    with service.client("auditor") as auditor, service.client() as anonymous:

        def latest_sees_it() -> dict[str, Any] | None:
            body: dict[str, Any] = auditor.get("/v1/fixity/latest").json()
            return body if body.get("missing") == 1 and body["versioning_ok"] is False else None

        latest = wait_for(latest_sees_it, timeout_s=60, what="the latest pass")
        assert (latest["mismatched"], latest["orphaned"], latest["ok"]) == (1, 1, False)
        assert latest["object_lock_ok"] is True  # no worm purpose needs it

        def metrics_see_it() -> str | None:
            text: str = anonymous.get("/metrics").text
            missing = metric(text, "keepline_fixity_objects", state="missing")
            versioning = metric(text, "keepline_fixity_bucket_ok", setting="versioning")
            return text if missing == 1 and versioning == 0 else None

        text = wait_for(metrics_see_it, timeout_s=60, what="the background pass's metrics")
        assert metric(text, "keepline_fixity_objects", state="mismatched") == 1
        assert metric(text, "keepline_fixity_ok") == 0

    completed = audit_actions(service, "fixity.completed")
    actors = {entry["actor"] for entry in completed}
    assert {"keepline-cli", "fixity"} <= actors, actors
    assert any(e["details"]["missing"] == 1 and e["details"]["mismatched"] == 1 for e in completed)


@on_both_catalogs
def test_the_background_pass_runs_and_is_recorded_on_each_catalog(
    keepline_factory: KeeplineFactory,
) -> None:
    service = keepline_factory(policy_text=POLICY, env={"KEEPLINE_FIXITY_INTERVAL_S": "2"})
    ingest(service, artefact("chat", subject="cust-fixity-bg"))
    with service.client("auditor") as auditor:

        def checked() -> dict[str, Any] | None:
            response = auditor.get("/v1/fixity/latest")
            body: dict[str, Any] = response.json() if response.is_success else {}
            return body if body.get("objects_checked", 0) >= 1 else None

        latest = wait_for(checked, timeout_s=60, what="a background pass over the chat")
    assert latest["ok"] is True, latest
    assert (latest["mismatched"], latest["missing"], latest["orphaned"]) == (0, 0, 0)
    assert latest["bucket"]["versioning"] == "Enabled"
    assert latest["bucket"]["object_lock"] is True
    assert {e["actor"] for e in audit_actions(service, "fixity.completed")} == {"fixity"}
