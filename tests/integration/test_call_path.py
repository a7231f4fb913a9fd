"""The first end-to-end path: a call recording from Kafka to encrypted MinIO and back.

On both catalogs, one service per catalog: the recording and the chat are the only items
of their type, and each test reads only its own dead letter.
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Callable
from typing import Any

import pytest
from minio import Minio

from storage.models import object_key_for
from tests.integration.catalog_support import on_both_catalogs
from tests.integration.fixtures_keepline import ContentServer, KeeplineFactory
from tests.integration.ingest_support import example
from tests.integration.keepline_service import KeeplineService, wait_for

pytestmark = on_both_catalogs


@pytest.fixture(scope="module")
def service(
    shared_keepline_factory: KeeplineFactory, content_server: ContentServer
) -> KeeplineService:
    """The module's service, allowed to fetch from the content server."""
    return shared_keepline_factory(content_sources=[content_server.base_url])


def test_call_recording_round_trip(
    service: KeeplineService,
    content_server: Callable[[bytes], str],
    minio_client: Minio,
) -> None:
    recording = os.urandom(2_500_000) + b"RIFF-plaintext-marker" * 1000
    event = example("call_recording")
    event["content"] = {
        "uri": content_server(recording),
        "sha256": hashlib.sha256(recording).hexdigest(),
        "size_bytes": len(recording),
        "content_type": "audio/wav",
    }
    service.publish("calls", b"{not json", key=b"junk")  # must not stop the agent
    service.publish("calls", event, key=event["call_id"].encode())

    with service.client("legal") as http:

        def listed() -> list[dict[str, Any]]:
            query = {"subject_id": "cust-42", "type": "call_recording"}
            body = http.get("/v1/items", params=query).json()
            items: list[dict[str, Any]] = body["items"]
            return items

        items = wait_for(listed, what="the item to be listed")
        assert len(items) == 1
        item = items[0]
        assert item["call_id"] == "c-8f2a61"
        assert item["content"]["sha256"] == hashlib.sha256(recording).hexdigest()
        assert {p["name"] for p in item["purposes"]} == {"quality", "training", "legal"}

        content = http.get(f"/v1/items/{item['item_id']}/content")
        assert content.status_code == 200
        assert hashlib.sha256(content.content).hexdigest() == item["content"]["sha256"]

        one = http.get(f"/v1/items/{item['item_id']}")
        assert one.status_code == 200
        assert one.json()["status"] == "stored"

    # The object in MinIO is ciphertext, named without personal data.
    objects = list(
        minio_client.list_objects(service.bucket, prefix=object_key_for(item["item_id"]))
    )
    assert len(objects) == 1
    name = objects[0].object_name
    assert name is not None
    assert "cust-42" not in name
    assert "447700900123" not in name
    stored = minio_client.get_object(service.bucket, name).read()
    assert b"RIFF-plaintext-marker" not in stored
    assert recording[:4096] not in stored
    tags = minio_client.get_object_tags(service.bucket, name) or {}
    assert all("cust" not in v and "+44" not in v for v in tags.values())


def test_malformed_message_is_skipped_and_dead_lettered(service: KeeplineService) -> None:
    service.publish("calls", b"\xff\xfe not json", key=b"bad")
    chat = example("chat")
    service.publish("chats", chat, key=b"conv-991")
    letters = service.read_topic("dlq", expect=1, where=lambda letter: letter["key"] == "bad")
    assert letters[0]["reason"] == "invalid_json"
    assert letters[0]["topic"] == service.topics["calls"]
    with service.client("legal") as http:
        items = wait_for(
            lambda: http.get("/v1/items", params={"type": "chat"}).json()["items"],
            what="the chat after the bad message",
        )
    assert items[0]["conversation_id"] == "conv-991"
