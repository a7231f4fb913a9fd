"""Events and reads for the subject-rights tests: calls, e-mails and chats of one subject."""

from __future__ import annotations

import base64
import hashlib
import io
import json
import time
import uuid
import zipfile
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx

from tests.integration.keepline_service import KeeplineService, wait_for

ContentServer = Callable[[bytes], str]


def minutes_ago(minutes: int = 5) -> str:
    """An RFC 3339 time some minutes ago."""
    return (datetime.now(UTC) - timedelta(minutes=minutes)).isoformat()


def call_event(
    subject_id: str, recording: bytes, content_server: ContentServer, **attributes: str
) -> dict[str, Any]:
    """A call of the subject with an agent, its recording served by content_server."""
    call_id = f"c-{uuid.uuid4().hex[:10]}"
    return {
        "type": "call_recording",
        "event_id": f"pbx:{call_id}",
        "source": "pbx-london-1",
        "occurred_at": minutes_ago(),
        "call_id": call_id,
        "direction": "inbound",
        "started_at": minutes_ago(),
        "ended_at": minutes_ago(4),
        "parties": [
            {"role": "caller", "address": "+447700900123", "subject_id": subject_id},
            {"role": "agent", "address": "+442071234567", "staff_id": "agent-7"},
        ],
        "attributes": attributes,
        "content": {
            "uri": content_server(recording),
            "sha256": hashlib.sha256(recording).hexdigest(),
            "size_bytes": len(recording),
            "content_type": "audio/wav",
        },
    }


def chat_event(subject_id: str, text: bytes) -> dict[str, Any]:
    """A webchat of the subject, its text inline."""
    conversation_id = f"conv-{uuid.uuid4().hex[:10]}"
    return {
        "type": "chat",
        "event_id": f"chat:{conversation_id}",
        "source": "webchat",
        "occurred_at": minutes_ago(),
        "conversation_id": conversation_id,
        "platform": "webchat",
        "parties": [{"address": "visitor-1", "subject_id": subject_id}],
        "content_inline": {
            "data_b64": base64.b64encode(text).decode(),
            "content_type": "text/plain",
        },
    }


def email_event(subject_id: str) -> dict[str, Any]:
    """A metadata-only e-mail from the subject."""
    message_id = f"<{uuid.uuid4().hex}@example.com>"
    return {
        "type": "email",
        "event_id": f"mail:{message_id}",
        "source": "mail-gw",
        "occurred_at": minutes_ago(),
        "message_id": message_id,
        "direction": "inbound",
        "parties": [{"address": "someone@example.com", "subject_id": subject_id}],
    }


def publish(service: KeeplineService, event: dict[str, Any]) -> None:
    """Publish an artefact event to its topic."""
    kind = {"call_recording": "calls", "chat": "chats", "email": "emails"}[event["type"]]
    key = event.get("call_id") or event.get("conversation_id") or event["message_id"]
    service.publish(kind, event, key=key.encode())


def items_of(http: httpx.Client, subject_id: str, expect: int) -> dict[str, dict[str, Any]]:
    """Wait until a legal or privacy caller lists expect items of the subject; by event id."""

    def listed() -> dict[str, dict[str, Any]] | None:
        body = http.get("/v1/items", params={"subject_id": subject_id}).json()
        found = {item["event_id"]: item for item in body["items"]}
        return found if len(found) >= expect else None

    return wait_for(listed, what=f"{expect} items of {subject_id}")


def purposes(http: httpx.Client, item_id: str) -> set[str]:
    """The names of an item's purposes."""
    response = http.get(f"/v1/items/{item_id}")
    assert response.status_code == 200, response.text
    return {p["name"] for p in response.json()["purposes"]}


def exported(http: httpx.Client, subject_id: str) -> zipfile.ZipFile:
    """The subject's export zip."""
    response = http.get(f"/v1/subjects/{subject_id}/export")
    assert response.status_code == 200, response.text
    return zipfile.ZipFile(io.BytesIO(response.content))


def exported_ids(http: httpx.Client, subject_id: str) -> set[str]:
    """The item ids in the subject's export."""
    document = json.loads(exported(http, subject_id).read("items.json"))
    return {item["item_id"] for item in document["items"]}


def audit_entries(service: KeeplineService, action: str, **params: str) -> list[dict[str, Any]]:
    """Audit entries of one action (and the other filters given), oldest first."""
    with service.client("auditor") as http:
        response = http.get("/v1/audit", params={"action": action, "limit": 1000, **params})
    assert response.status_code == 200, response.text
    entries: list[dict[str, Any]] = response.json()["entries"]
    return entries


def notices_with_times(service: KeeplineService, expect: int, subject_id: str) -> list[Any]:
    """The subject's notices on the notices topic with each record's broker timestamp (s)."""
    import asyncio  # noqa: PLC0415  # only this helper needs a Kafka client

    from aiokafka import AIOKafkaConsumer  # noqa: PLC0415

    async def read() -> list[Any]:
        consumer = AIOKafkaConsumer(
            service.topics["notices"],
            bootstrap_servers=service.bootstrap,
            auto_offset_reset="earliest",
            enable_auto_commit=False,
            group_id=None,
        )
        await consumer.start()
        found: list[Any] = []
        try:
            deadline = time.monotonic() + 30
            while len(found) < expect and time.monotonic() < deadline:
                batch = await consumer.getmany(timeout_ms=500)
                for records in batch.values():
                    for record in records:
                        value = json.loads(record.value or b"{}")
                        if value.get("subject_id") == subject_id:
                            found.append((record.timestamp / 1000, value))
        finally:
            await consumer.stop()
        return found

    return asyncio.run(read())
