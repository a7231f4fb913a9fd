"""An event still retrying at the head of its partition is never committed over.

The head event's content source refuses it (503, retry later) while the events behind it
on the same partition are stored; the worker is then killed. Its successor must get the
head event again and store it exactly once, with nothing stored twice and no orphan.
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Callable

from minio import Minio

from deploy.kafka import KafkaProcess
from tests.integration.fault_support import (
    GatedContent,
    committed_offset,
    gated_content,  # noqa: F401 - fixture
    publish_to_partition,
)
from tests.integration.ingest_support import (
    all_items,
    call_event,
    catalog_rows,
    chat_event,
    metric,
    object_versions,
    run_cli,
)
from tests.integration.keepline_service import KeeplineService, wait_for


def _event_ids(service: KeeplineService) -> Counter[str]:
    with service.client("legal") as http:
        return Counter(item["event_id"] for item in all_items(http))


def test_a_retrying_head_event_survives_a_kill_after_its_successors_are_stored(
    keepline_factory: Callable[..., KeeplineService],
    kafka: KafkaProcess,
    gated_content: GatedContent,  # noqa: F811 - fixture
    minio_client: Minio,
) -> None:
    service = keepline_factory(
        env={
            "KEEPLINE_CONTENT_SOURCES": gated_content.origin,
            "KEEPLINE_LAG_INTERVAL_S": "0.3",
            "KEEPLINE_RETRY_INITIAL_S": "0.2",
            "KEEPLINE_RETRY_MAX_S": "0.5",
        }
    )
    topic, group = service.topics["chats"], service.env["KEEPLINE_APP_ID"]

    def send(partition: int, event: dict[str, object]) -> int:
        return publish_to_partition(kafka.bootstrap, topic, partition, event, key=b"conv")

    first = send(0, chat_event("first", b"before the outage"))
    wait_for(
        lambda: committed_offset(kafka.bootstrap, group, topic, 0) == first + 1,
        timeout_s=60,
        what="the first event committed",
    )

    head = send(
        0, chat_event("head", content=gated_content.ref("head.wav", b"x" * 4096, closed=True))
    )
    wait_for(lambda: gated_content.refusals("head.wav") >= 2, timeout_s=60, what="head retrying")
    behind = [send(0, chat_event(f"behind-{n}", f"message {n}".encode())) for n in range(2)]
    assert behind == [head + 1, head + 2]
    wait_for(
        lambda: {"behind-0", "behind-1"} <= set(_event_ids(service)),
        timeout_s=60,
        what="the events behind the head stored",
    )

    def withheld() -> bool:
        with service.client() as http:
            text = http.get("/metrics").text
        return metric(text, "keepline_acks_withheld", topic=topic, partition="0") == 2

    wait_for(withheld, timeout_s=30, what="both acknowledgements withheld behind the head")
    # A commit round after they were stored: the sentinel on the other partition is committed.
    sentinel = send(1, chat_event("sentinel", b"other partition"))
    wait_for(
        lambda: committed_offset(kafka.bootstrap, group, topic, 1) == sentinel + 1,
        timeout_s=60,
        what="a commit after the events behind the head were stored",
    )
    assert committed_offset(kafka.bootstrap, group, topic, 0) == head, "committed over the head"

    service.kill()
    gated_content.open("head.wav")
    service.start()

    wait_for(lambda: "head" in _event_ids(service), timeout_s=120, what="the head event stored")
    ids = _event_ids(service)
    assert ids == Counter({"first": 1, "head": 1, "behind-0": 1, "behind-1": 1, "sentinel": 1})
    wait_for(
        lambda: committed_offset(kafka.bootstrap, group, topic, 0) == head + 3,
        timeout_s=60,
        what="the partition committed to its end",
    )
    with service.client("legal") as http:
        keys = {item["item_id"] for item in all_items(http)}
    versions = object_versions(minio_client, service.bucket)
    assert len(versions) == len(keys), f"orphan object versions: {versions}"


def test_a_claim_left_without_a_worker_is_reported_by_reconcile(
    keepline_factory: Callable[..., KeeplineService],
    gated_content: GatedContent,  # noqa: F811 - fixture
) -> None:
    service = keepline_factory(
        env={"KEEPLINE_CONTENT_SOURCES": gated_content.origin, "KEEPLINE_RETRY_MAX_S": "0.5"}
    )
    ref = gated_content.ref("stuck.wav", b"y" * 2048, closed=True)
    service.publish("calls", call_event("stuck", ref), key=b"call")
    wait_for(lambda: gated_content.refusals("stuck.wav") >= 1, timeout_s=60, what="retrying")
    service.kill()  # a claim is pending and no worker is on it any more
    (item_id,) = catalog_rows(service, "SELECT item_id FROM items WHERE status = 'pending'")[0]

    report = run_cli(service, "reconcile", "--dry-run", "--json", "--stale-after-min", "0")
    assert report.returncode == 1, report.stderr
    body = json.loads(report.stdout)
    assert body["summary"]["stale_claims"] == 1
    assert [c["item_id"] for c in body["stale_claims"]] == [item_id]
    text = run_cli(service, "reconcile", "--dry-run", "--stale-after-min", "0")
    assert f"stale claim {item_id}" in text.stdout

    gated_content.open("stuck.wav")
    service.start()  # the event was never committed: it is delivered again and stored
    wait_for(lambda: "stuck" in _event_ids(service), timeout_s=120, what="stored after all")
    clean = run_cli(service, "reconcile", "--json", "--stale-after-min", "0")
    assert clean.returncode == 0, clean.stdout
    assert json.loads(clean.stdout)["summary"]["stale_claims"] == 0
