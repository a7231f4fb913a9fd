"""Exactly one item per (source, event_id): republished, redelivered, or shared by workers.

On both catalogs: two workers of one group share one catalog (and its URL).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable

from minio import Minio

from tests.integration.catalog_support import on_both_catalogs
from tests.integration.ingest_support import (
    GeneratedContent,
    all_items,
    call_event,
    chat_event,
    email_event,
    generated_content,  # noqa: F401 - fixture
    metric,
    object_versions,
    shared_env,
    wait_items,
)
from tests.integration.keepline_service import KeeplineService, wait_for

pytestmark = on_both_catalogs


def test_republished_and_redelivered_events_make_no_second_item(
    keepline_factory: Callable[..., KeeplineService],
    generated_content: GeneratedContent,  # noqa: F811 - fixture
    minio_client: Minio,
) -> None:
    service = keepline_factory()
    call = call_event("i-call", generated_content.ref(500_000, seed=11))
    chat = chat_event("i-chat", b"once only")
    mail = email_event("i-mail")
    for _ in range(3):
        service.publish("calls", call, key=b"call-i")
    for _ in range(2):
        service.publish("chats", chat, key=b"conv-i")
        service.publish("emails", mail, key=b"mail-i")

    with service.client("legal") as http:
        wait_items(http, 3)
        with service.client() as anonymous:
            wait_for(
                lambda: (
                    metric(anonymous.get("/metrics").text, "keepline_duplicate_events_total") == 4
                ),
                what="the four republished copies seen as duplicates",
            )
        assert sorted(i["event_id"] for i in all_items(http)) == ["i-call", "i-chat", "i-mail"]
    service.stop()

    # Redelivery of everything: a new consumer group reads the topics from the start.
    again = keepline_factory(env=shared_env(service, KEEPLINE_APP_ID=f"{service.suffix}-again"))
    with again.client() as anonymous:
        wait_for(
            lambda: metric(anonymous.get("/metrics").text, "keepline_duplicate_events_total") == 7,
            timeout_s=60,
            what="all seven deliveries seen as duplicates",
        )
        assert (
            metric(anonymous.get("/metrics").text, "keepline_items_stored_total", type="chat") == 0
        )
    with again.client("legal") as http:
        assert sorted(i["event_id"] for i in all_items(http)) == ["i-call", "i-chat", "i-mail"]
    assert len(object_versions(minio_client, service.bucket)) == 2


def test_workers_of_one_group_share_partitions_without_duplicating(
    keepline_factory: Callable[..., KeeplineService],
    generated_content: GeneratedContent,  # noqa: F811 - fixture
    minio_client: Minio,
) -> None:
    first = keepline_factory(env={"KEEPLINE_LAG_INTERVAL_S": "0.5"})
    second = keepline_factory(env=shared_env(first, KEEPLINE_LAG_INTERVAL_S="0.5"))

    def partitions_of(service: KeeplineService) -> set[str]:
        with service.client() as anonymous:
            text = anonymous.get("/metrics").text
        return {
            line.split("{", 1)[1].split("}", 1)[0]
            for line in text.splitlines()
            if line.startswith("keepline_consumer_lag{") and first.topics["calls"] in line
        }

    # Wait until the group has settled: each worker owns one of the two call partitions.
    wait_for(
        lambda: (
            len(partitions_of(first)) == 1
            and len(partitions_of(second)) == 1
            and partitions_of(first) != partitions_of(second)
        ),
        timeout_s=90,
        what="the two call partitions split between the workers",
    )
    total = 40
    for n in range(total):
        event = call_event(f"w-{n}", generated_content.ref(64_000, seed=100 + n))
        first.publish("calls", event, key=f"call-{n}".encode())

    with first.client("legal") as http:
        items = wait_items(http, total, timeout_s=90)
    counts = Counter(item["event_id"] for item in items)
    assert len(counts) == total
    assert set(counts.values()) == {1}
    stored = []
    for service in (first, second):
        with service.client() as anonymous:
            stored.append(
                metric(
                    anonymous.get("/metrics").text,
                    "keepline_items_stored_total",
                    type="call_recording",
                )
            )
    assert sum(stored) == total
    assert all(n > 0 for n in stored)  # both did work
    assert len(object_versions(minio_client, first.bucket)) == total
