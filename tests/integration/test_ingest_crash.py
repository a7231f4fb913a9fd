"""A worker killed with SIGKILL mid-stream: after a restart every event is stored exactly once."""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Callable

from minio import Minio

from tests.integration.ingest_support import (
    GeneratedContent,
    all_items,
    catalog_rows,
    generated_content,  # noqa: F401 - fixture
    object_versions,
    publish_mixed,
    run_cli,
    settled_dead_letters,
    wait_items,
)
from tests.integration.keepline_service import KeeplineService, wait_for

CALLS = 24
MAILS = 20
CHATS = 20


def _stored_calls(service: KeeplineService) -> int:
    rows = catalog_rows(
        service, "SELECT count(*) FROM items WHERE type = 'call_recording' AND status = 'stored'"
    )
    return int(rows[0][0])


def test_sigkill_mid_stream_then_restart_stores_everything_once(
    keepline_factory: Callable[..., KeeplineService],
    generated_content: GeneratedContent,  # noqa: F811 - fixture
    minio_client: Minio,
) -> None:
    service = keepline_factory(env={"KEEPLINE_RETRY_MAX_S": "1"})
    publish_mixed(
        service,
        generated_content,
        prefix="k",
        calls=CALLS,
        mails=MAILS,
        chats=CHATS,
        call_bytes=320 * 1024,
        seed=500,
        delay_s=0.04,
    )

    wait_for(lambda: _stored_calls(service) >= 4, timeout_s=90, what="a few calls stored")
    service.kill()

    stored_at_kill = _stored_calls(service)
    pending_at_kill = catalog_rows(service, "SELECT count(*) FROM items WHERE status='pending'")
    assert stored_at_kill < CALLS, "the kill must land mid-stream"
    assert pending_at_kill[0][0] > 0, "claims were in flight when the worker died"

    service.start()
    with service.client("legal") as http:
        wait_items(http, CALLS + MAILS + CHATS, timeout_s=180)
        items = all_items(http)
    counts = Counter(item["event_id"] for item in items)
    assert len(counts) == CALLS + MAILS + CHATS
    assert set(counts.values()) == {1}
    assert catalog_rows(service, "SELECT count(*) FROM items WHERE status='pending'") == [(0,)]
    assert settled_dead_letters(service) == []

    # Every object version belongs to an item: reconcile finds no missing object, and what
    # it may remove (uploads that died uncommitted) leaves exactly one version per item.
    report = run_cli(service, "reconcile", "--json", "--min-orphan-age-h", "0")
    assert report.returncode == 0, report.stdout + report.stderr
    summary = json.loads(report.stdout)["summary"]
    assert summary["missing"] == 0
    assert summary["removed"] == summary["orphans"]
    versions = object_versions(minio_client, service.bucket)
    assert len(versions) == CALLS + CHATS
    assert len({key for key, _ in versions}) == CALLS + CHATS

    with service.client("legal") as http:
        sample = next(i for i in items if i["event_id"] == f"k-call-{CALLS - 1}")
        body = http.get(f"/v1/items/{sample['item_id']}/content")
        assert body.status_code == 200
        assert len(body.content) == 320 * 1024
