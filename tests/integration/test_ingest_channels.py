"""Every channel end to end on real Kafka and MinIO: calls, e-mails, chats, and HTTP ingest."""

from __future__ import annotations

import hashlib
import io
import os
from collections.abc import Callable
from typing import Any

from minio import Minio

from tests.integration.conftest import BucketFactory
from tests.integration.ingest_support import (
    GeneratedContent,
    all_items,
    call_event,
    chat_event,
    email_event,
    generated_content,  # noqa: F401 - fixture
    metric,
    object_versions,
    settled_dead_letters,
    wait_items,
)
from tests.integration.keepline_service import KeeplineService, wait_for


def _ref(uri: str, data: bytes, content_type: str) -> dict[str, Any]:
    return {
        "uri": uri,
        "sha256": hashlib.sha256(data).hexdigest(),
        "size_bytes": len(data),
        "content_type": content_type,
    }


def test_every_channel_is_stored_once_and_reads_back(
    keepline_factory: Callable[..., KeeplineService],
    content_server: Callable[[bytes], str],
    generated_content: GeneratedContent,  # noqa: F811 - fixture
    minio_client: Minio,
    bucket_factory: BucketFactory,
) -> None:
    staging = bucket_factory("staging", object_lock=False)
    service = keepline_factory(
        env={"KEEPLINE_LAG_INTERVAL_S": "0.5"}, content_sources=[f"s3://{staging}"]
    )
    message = b"From: accounts@example.co.uk\r\nSubject: renewal\r\n\r\n" + os.urandom(20_000)
    minio_client.put_object(staging, "mx-1/4711.eml", io.BytesIO(message), len(message))
    transcript = b"agent: hello\nvisitor: my router keeps dropping the line\n" * 500

    call = call_event("ch-call", generated_content.ref(3_000_000, seed=1))
    mail = email_event("ch-mail", _ref(f"s3://{staging}/mx-1/4711.eml", message, "message/rfc822"))
    metadata_only = email_event("ch-mail-meta")
    inline_chat = chat_event("ch-chat-inline", b"Hi! My router keeps dropping the line.")
    ref_chat = chat_event(
        "ch-chat-ref", content=_ref(content_server(transcript), transcript, "text/plain")
    )
    service.publish("calls", call, key=b"call-ch-call")
    service.publish("emails", mail, key=b"m1")
    service.publish("emails", metadata_only, key=b"m2")
    service.publish("chats", inline_chat, key=b"c1")
    service.publish("chats", ref_chat, key=b"c2")

    with service.client("legal") as http:
        items = wait_items(http, 5)
        by_event = {item["event_id"]: item for item in items}
        assert sorted(by_event) == sorted(
            ["ch-call", "ch-mail", "ch-mail-meta", "ch-chat-inline", "ch-chat-ref"]
        )
        expected = {
            "ch-call": call["content"]["sha256"],
            "ch-mail": hashlib.sha256(message).hexdigest(),
            "ch-chat-inline": hashlib.sha256(b"Hi! My router keeps dropping the line.").hexdigest(),
            "ch-chat-ref": hashlib.sha256(transcript).hexdigest(),
        }
        for event_id, sha in expected.items():
            item = by_event[event_id]
            assert item["content"]["sha256"] == sha
            body = http.get(f"/v1/items/{item['item_id']}/content")
            assert body.status_code == 200
            assert hashlib.sha256(body.content).hexdigest() == sha
        assert by_event["ch-mail-meta"]["content"] is None
        assert by_event["ch-mail"]["message_id"] == "<ch-mail@mail.example>"
        assert [p["name"] for p in by_event["ch-mail"]["purposes"]] == ["legal"]
        assert {p["name"] for p in by_event["ch-chat-ref"]["purposes"]} == {"quality", "legal"}

        # A range in the middle of the recording decrypts only what it needs, and right.
        call_id = by_event["ch-call"]["item_id"]
        part = http.get(f"/v1/items/{call_id}/content", headers={"Range": "bytes=1500000-1500099"})
        assert part.status_code == 206
        assert part.headers["content-range"] == "bytes 1500000-1500099/3000000"
        assert len(part.content) == 100

    # One object per item with content, and no version left over.
    versions = object_versions(minio_client, service.bucket)
    assert len(versions) == 4
    assert len({key for key, _ in versions}) == 4

    with service.client() as anonymous:

        def lag_lines() -> list[str]:
            text = anonymous.get("/metrics").text
            lines = [
                line for line in text.splitlines() if line.startswith("keepline_consumer_lag{")
            ]
            # One gauge per assigned partition, and nothing left to do on any of them.
            return lines if lines and all(line.endswith(" 0.0") for line in lines) else []

        assert len(wait_for(lag_lines, what="consumer lag caught up")) == 4 * 2  # 4 topics
        text = anonymous.get("/metrics").text
    assert metric(text, "keepline_items_stored_total", type="call_recording") == 1
    assert metric(text, "keepline_items_stored_total", type="email") == 2
    assert metric(text, "keepline_items_stored_total", type="chat") == 2
    assert metric(text, "keepline_bytes_stored_total") == (
        3_000_000 + len(message) + len(transcript) + len(b"Hi! My router keeps dropping the line.")
    )
    assert metric(text, "keepline_events_consumed_total", topic=service.topics["emails"]) == 2
    assert metric(text, "keepline_ingest_latency_seconds_count") == 5


def test_http_ingest_publishes_valid_events_and_names_bad_fields(
    keepline_factory: Callable[..., KeeplineService],
) -> None:
    service = keepline_factory()
    good = chat_event("http-1", b"sent over HTTP")
    no_parties = chat_event("http-2", b"x", parties=[])
    too_big = chat_event("http-3", b"x" * (512 * 1024 + 1))
    no_recording = call_event("http-4", content=None)
    del no_recording["content"]
    unknown = chat_event("http-5", b"x", type="fax")
    bad_sum = email_event(
        "http-6",
        {"uri": "http://x/y", "sha256": "zz", "size_bytes": 1, "content_type": "message/rfc822"},
    )

    with service.client("ingest") as http:
        accepted = http.post("/v1/events", json=good)
        assert accepted.status_code == 202, accepted.text
        assert accepted.json()["topic"] == service.topics["chats"]
        for body, field in [
            (no_parties, "parties"),
            (too_big, "content_inline.data_b64"),
            (no_recording, "content"),
            (unknown, "type"),
            (bad_sum, "content.sha256"),
            ([good], "(root)"),
        ]:
            refused = http.post("/v1/events", json=body)
            assert refused.status_code == 422, refused.text
            assert refused.json()["field"] == field
            assert refused.json()["detail"].startswith(f"{field}: ")
        not_json = http.post(
            "/v1/events", content=b"{nope", headers={"Content-Type": "application/json"}
        )
        assert not_json.status_code == 422

    with service.client("qa") as qa:
        assert qa.post("/v1/events", json=good).status_code == 403
    with service.client() as anonymous:
        assert anonymous.post("/v1/events", json=good).status_code == 401

    with service.client("legal") as legal:
        items = wait_for(lambda: all_items(legal), what="the HTTP-ingested chat")
    assert [item["event_id"] for item in items] == ["http-1"]
    # Only the valid event reached Kafka, and it was stored: nothing was dead-lettered.
    kinds = ("calls", "emails", "chats")
    assert sum(sum(service.end_offsets(kind).values()) for kind in kinds) == 1
    assert settled_dead_letters(service, kinds) == []
