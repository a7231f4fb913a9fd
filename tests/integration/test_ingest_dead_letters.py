"""Every kind of bad input goes to keepline.dlq with its reason, and the next event is stored."""

from __future__ import annotations

import base64
import json
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
    wait_items,
)
from tests.integration.keepline_service import KeeplineService


def test_each_dead_letter_reason(
    keepline_factory: Callable[..., KeeplineService],
    generated_content: GeneratedContent,  # noqa: F811 - fixture
    content_server: Callable[[bytes], str],
    minio_client: Minio,
    bucket_factory: BucketFactory,
) -> None:
    staging = bucket_factory("staging", object_lock=False)
    service = keepline_factory(content_sources=[f"s3://{staging}"])
    good_ref = generated_content.ref(200_000, seed=7)
    missing_http = dict(good_ref, uri=content_server(b"x").rsplit("/", 1)[0] + "/absent.wav")
    missing_s3 = dict(good_ref, uri=f"s3://{staging}/nothing/here.wav")
    wrong_sum = dict(good_ref, sha256="ab" * 32)
    wrong_size = dict(good_ref, size_bytes=199_999)
    forbidden = dict(good_ref, uri="file:///etc/hostname")
    no_parties = call_event("d-schema", good_ref, parties=[])
    unknown = chat_event("d-type", b"hello", type="fax")
    too_big = chat_event("d-big", b"x" * (512 * 1024 + 1))

    bad: list[tuple[str, bytes | dict[str, Any], str]] = [
        ("calls", b"{not json", "invalid_json"),
        ("calls", no_parties, "schema_violation"),
        ("chats", unknown, "unknown_type"),
        ("calls", call_event("d-404", missing_http), "content_missing"),
        ("emails", email_event("d-s3", missing_s3), "content_missing"),
        ("calls", call_event("d-sum", wrong_sum), "checksum_mismatch"),
        ("calls", call_event("d-size", wrong_size), "size_mismatch"),
        ("chats", too_big, "inline_too_large"),
        ("calls", call_event("d-file", forbidden), "content_forbidden"),
    ]
    for kind, value, _reason in bad:
        service.publish(kind, value, key=b"bad-key")
    good = call_event("d-good", good_ref)
    service.publish("calls", good, key=b"good-key")

    with service.client("legal") as http:
        items = wait_items(http, 1)
    assert [item["event_id"] for item in items] == ["d-good"]

    letters = service.read_topic("dlq", expect=len(bad))
    assert sorted(letter["reason"] for letter in letters) == sorted(r for _, _, r in bad)
    sent = {
        (service.topics[kind], value if isinstance(value, bytes) else json.dumps(value).encode())
        for kind, value, _ in bad
    }
    received = {(letter["topic"], base64.b64decode(letter["value_b64"])) for letter in letters}
    assert received == sent
    for letter in letters:
        assert letter["key"] == "bad-key"
        assert isinstance(letter["partition"], int)
        assert isinstance(letter["offset"], int)
        assert letter["error"]
        assert letter["failed_at"].endswith("+00:00")
    by_reason = {letter["reason"]: letter["error"] for letter in letters}
    assert by_reason["schema_violation"].startswith("parties:")
    assert by_reason["inline_too_large"].startswith("content_inline.data_b64:")
    assert by_reason["unknown_type"].startswith("type:")
    # What was fetched is never echoed: not its digest, not its size, not the source's status
    # or whether a bucket or key exists.
    for reason in ("checksum_mismatch", "size_mismatch"):
        assert good_ref["sha256"] not in by_reason[reason]
        assert str(good_ref["size_bytes"]) not in by_reason[reason]
    assert by_reason["checksum_mismatch"] == "content failed its sha256 check"
    assert by_reason["size_mismatch"] == "content size differs from size_bytes"
    missing = [letter["error"] for letter in letters if letter["reason"] == "content_missing"]
    assert missing == ["content not available from the source"] * 2

    # Nothing of a refused event stays: one object, for the good event only.
    assert len(object_versions(minio_client, service.bucket)) == 1
    with service.client() as anonymous:
        text = anonymous.get("/metrics").text
    assert metric(text, "keepline_dead_letters_total", reason="content_missing") == 2
    assert metric(text, "keepline_dead_letters_total", reason="checksum_mismatch") == 1
    with service.client("legal") as http:
        assert len(all_items(http)) == 1
