"""`keepline keys rotate` and `keepline reconcile` against a running service's data."""

from __future__ import annotations

import hashlib
import io
import json
import uuid
from collections.abc import Callable

from minio import Minio
from minio.deleteobjects import DeleteObject

from tests.integration.ingest_support import (
    GeneratedContent,
    call_event,
    catalog_rows,
    chat_event,
    generated_content,  # noqa: F401 - fixture
    object_versions,
    run_cli,
    wait_items,
)
from tests.integration.keepline_service import KeeplineService


def _key_ids(service: KeeplineService) -> list[str]:
    rows = catalog_rows(service, "SELECT key_id FROM items WHERE wrapped_key IS NOT NULL")
    return sorted(str(r[0]) for r in rows)


def test_rotation_rewraps_every_data_key_and_content_still_decrypts(
    keepline_factory: Callable[..., KeeplineService],
    generated_content: GeneratedContent,  # noqa: F811 - fixture
    minio_client: Minio,
) -> None:
    service = keepline_factory()
    call = call_event("r-call", generated_content.ref(2_500_000, seed=31))
    service.publish("calls", call, key=b"call-r")
    service.publish("chats", chat_event("r-chat-1", b"first"), key=b"c1")
    service.publish("chats", chat_event("r-chat-2", b"second"), key=b"c2")
    with service.client("legal") as http:
        wait_items(http, 3)
    assert _key_ids(service) == ["k1", "k1", "k1"]
    objects_before = object_versions(minio_client, service.bucket)

    rotated = run_cli(service, "keys", "rotate", "--batch-size", "2")
    assert rotated.returncode == 0, rotated.stderr
    assert "current key k2; 3 data keys re-wrapped; 0 still under older keys" in rotated.stdout
    assert "re-wrapped 3/3" in rotated.stderr
    assert _key_ids(service) == ["k2", "k2", "k2"]
    assert object_versions(minio_client, service.bucket) == objects_before  # untouched

    service.publish("chats", chat_event("r-chat-3", b"after rotation"), key=b"c3")
    with service.client("legal") as http:
        items = {i["event_id"]: i for i in wait_items(http, 4)}
        for event_id, item in items.items():
            body = http.get(f"/v1/items/{item['item_id']}/content")
            assert body.status_code == 200, event_id
            assert hashlib.sha256(body.content).hexdigest() == item["content"]["sha256"]
        assert items["r-call"]["content"]["sha256"] == call["content"]["sha256"]
    assert _key_ids(service) == ["k2", "k2", "k2", "k2"]

    again = run_cli(service, "keys", "rewrap")
    assert again.returncode == 0, again.stderr
    assert "0 data keys re-wrapped" in again.stdout


def test_reconcile_removes_orphans_and_reports_missing_objects(
    keepline_factory: Callable[..., KeeplineService],
    generated_content: GeneratedContent,  # noqa: F811 - fixture
    minio_client: Minio,
) -> None:
    service = keepline_factory()
    for n in range(2):
        event = call_event(f"rc-{n}", generated_content.ref(300_000, seed=40 + n))
        service.publish("calls", event, key=f"call-{n}".encode())
    service.publish("chats", chat_event("rc-chat", b"kept"), key=b"conv")
    with service.client("legal") as http:
        items = {i["event_id"]: i for i in wait_items(http, 3)}
    bucket = service.bucket
    owned = object_versions(minio_client, bucket)
    assert len(owned) == 3

    # An object no row owns, a stray version of an item's object, and a lost object.
    stray_key = f"items/zz/{uuid.uuid4()}"
    minio_client.put_object(bucket, stray_key, io.BytesIO(b"orphan"), 6)
    kept_id = items["rc-chat"]["item_id"]
    kept_key = f"items/{kept_id[:2]}/{kept_id}"
    minio_client.put_object(bucket, kept_key, io.BytesIO(b"stray version"), 13)
    lost_id = items["rc-0"]["item_id"]
    lost_key = f"items/{lost_id[:2]}/{lost_id}"
    lost_version = next(v for k, v in owned if k == lost_key)
    errors = list(
        minio_client.remove_objects(
            bucket, [DeleteObject(lost_key, lost_version)], bypass_governance_mode=True
        )
    )
    assert errors == []
    before = sorted(object_versions(minio_client, bucket), key=str)
    assert len(before) == 4

    dry = run_cli(service, "reconcile", "--dry-run", "--json", "--min-orphan-age-h", "0")
    assert dry.returncode == 1, dry.stderr  # a missing object is something to look at
    report = json.loads(dry.stdout)
    assert report["summary"]["orphans"] == 2
    assert report["summary"]["removed"] == 0
    assert report["summary"]["missing"] == 1
    assert {o["key"] for o in report["orphans"]} == {stray_key, kept_key}
    assert [m["item_id"] for m in report["missing"]] == [lost_id]
    assert sorted(object_versions(minio_client, bucket), key=str) == before

    # Half the versions are orphans: far above a healthy share, so nothing goes unforced.
    refused = run_cli(service, "reconcile", "--min-orphan-age-h", "0")
    assert refused.returncode == 3, refused.stdout
    assert "--force" in refused.stderr
    assert sorted(object_versions(minio_client, bucket), key=str) == before
    text = run_cli(service, "reconcile", "--force", "--min-orphan-age-h", "0")
    assert text.returncode == 1
    assert f"missing item {lost_id}" in text.stdout
    assert "removed=2" in text.stdout
    after = object_versions(minio_client, bucket)
    assert stray_key not in {k for k, _ in after}
    assert len([k for k, _ in after if k == kept_key]) == 1
    assert len(after) == 2

    with service.client("legal") as http:
        body = http.get(f"/v1/items/{kept_id}/content")
        assert body.status_code == 200
        assert body.content == b"kept"

    clean = run_cli(service, "reconcile", "--json", "--force", "--min-orphan-age-h", "0")
    assert json.loads(clean.stdout)["summary"]["orphans"] == 0
