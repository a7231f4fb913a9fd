"""MinIO down for 20 seconds during ingest: nothing lost, nothing dead-lettered, all once."""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Callable

import pytest
from minio import Minio

from deploy.minio import MinioProcess
from tests.integration.ingest_support import (
    GeneratedContent,
    all_items,
    catalog_rows,
    generated_content,  # noqa: F401 - fixture
    metric,
    object_versions,
    publish_mixed,
    settled_dead_letters,
    wait_items,
)
from tests.integration.keepline_service import KeeplineService, wait_for

CALLS = 30
CHATS = 10
MAILS = 10
OUTAGE_S = 20


@pytest.fixture(scope="module")
def minio(private_minio: MinioProcess) -> MinioProcess:
    """A server of this module's own: its tests stop and restart it."""
    return private_minio


def _stored(service: KeeplineService) -> int:
    return int(catalog_rows(service, "SELECT count(*) FROM items WHERE status='stored'")[0][0])


def test_minio_outage_of_twenty_seconds_loses_nothing(
    keepline_factory: Callable[..., KeeplineService],
    generated_content: GeneratedContent,  # noqa: F811 - fixture
    minio: MinioProcess,
    minio_client: Minio,
) -> None:
    service = keepline_factory(env={"KEEPLINE_RETRY_MAX_S": "2"})
    publish_mixed(
        service,
        generated_content,
        prefix="o",
        calls=CALLS,
        mails=MAILS,
        chats=CHATS,
        call_bytes=128 * 1024,
        seed=900,
        delay_s=0.03,
    )

    wait_for(lambda: _stored(service) >= 3, timeout_s=60, what="ingest under way")
    try:
        minio.stop()
        down_at = time.monotonic()
        stored_when_down = _stored(service)
        with service.client() as anonymous:
            wait_for(
                lambda: (
                    sum(
                        metric(anonymous.get("/metrics").text, "keepline_retries_total", error=name)
                        for name in ("ObjectStoreUnavailableError",)
                    )
                    > 0
                ),
                timeout_s=OUTAGE_S,
                what="uploads retried while MinIO is down",
            )
        time.sleep(max(0.0, OUTAGE_S - (time.monotonic() - down_at)))
        assert _stored(service) < CALLS + CHATS + MAILS, "the outage must land mid-ingest"
        assert stored_when_down < CALLS + CHATS + MAILS
    finally:
        if not minio.running:
            minio.start()

    with service.client("legal") as http:
        wait_items(http, CALLS + CHATS + MAILS, timeout_s=120)
        items = all_items(http)
        counts = Counter(item["event_id"] for item in items)
        assert len(counts) == CALLS + CHATS + MAILS
        assert set(counts.values()) == {1}
        last = next(i for i in items if i["event_id"] == f"o-call-{CALLS - 1}")
        body = http.get(f"/v1/items/{last['item_id']}/content")
        assert body.status_code == 200
        assert len(body.content) == 128 * 1024
    assert settled_dead_letters(service) == []
    assert catalog_rows(service, "SELECT count(*) FROM items WHERE status='pending'") == [(0,)]
    versions = object_versions(minio_client, service.bucket)
    assert len({key for key, _ in versions}) == CALLS + CHATS
