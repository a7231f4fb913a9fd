"""An erasure stands: the subject's items that arrive after it are erased on arrival.

Events already queued (or sent later) for a subject whose erasure has run are stored, then
answered as the request was: erased, or kept with only what an exemption needs.
"""

from __future__ import annotations

import base64
import uuid
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

from minio import Minio

from storage.models import object_key_for
from tests.integration.catalog_support import on_both_catalogs
from tests.integration.keepline_service import KeeplineService, wait_for

POLICY = """
purposes:
  quality:   {basis: legitimate_interests, retention: P90D, roles: [qa, legal]}
  legal:     {basis: legal_obligation,     retention: P5Y,  roles: [legal]}
rules:
  - match: {type: email}
    purposes: [legal]
  - match: {type: chat}
    purposes: [quality]
"""

pytestmark = on_both_catalogs


def _chat(subject_id: str, text: bytes) -> dict[str, Any]:
    conversation_id = f"conv-{uuid.uuid4().hex[:10]}"
    return {
        "type": "chat",
        "event_id": f"chat:{conversation_id}",
        "source": "webchat",
        "occurred_at": (datetime.now(UTC) - timedelta(minutes=5)).isoformat(),
        "conversation_id": conversation_id,
        "platform": "webchat",
        "parties": [{"address": "visitor-1", "subject_id": subject_id}],
        "content_inline": {
            "data_b64": base64.b64encode(text).decode(),
            "content_type": "text/plain",
        },
    }


def _email(subject_id: str) -> dict[str, Any]:
    message_id = f"<{uuid.uuid4().hex}@example.com>"
    return {
        "type": "email",
        "event_id": f"mail:{message_id}",
        "source": "mail-gw",
        "occurred_at": (datetime.now(UTC) - timedelta(minutes=5)).isoformat(),
        "message_id": message_id,
        "direction": "inbound",
        "parties": [{"address": "someone@example.com", "subject_id": subject_id}],
    }


def _items(service: KeeplineService, subject_id: str) -> list[dict[str, Any]]:
    with service.client("legal") as http:
        body = http.get("/v1/items", params={"subject_id": subject_id, "limit": 100}).json()
    return list(body["items"])


def _on_arrival(service: KeeplineService) -> dict[str, dict[str, Any]]:
    with service.client("auditor") as http:
        response = http.get(
            "/v1/audit",
            params={"action": "erasure.completed", "actor": "keepline:erasure-on-arrival"},
        )
    assert response.status_code == 200, response.text
    return {e["item_id"]: e["details"] for e in response.json()["entries"]}


def test_items_arriving_after_an_erasure_are_erased_on_arrival(
    keepline_factory: Callable[..., KeeplineService], minio_client: Minio
) -> None:
    service = keepline_factory(policy_text=POLICY)
    subject, bystander = f"cust-{uuid.uuid4().hex[:8]}", f"cust-{uuid.uuid4().hex[:8]}"
    service.publish("chats", _chat(subject, b"before"), key=b"k1")
    wait_for(lambda: _items(service, subject) or None, timeout_s=60, what="the first chat")
    with service.client("privacy") as privacy:
        answer = privacy.post(f"/v1/subjects/{subject}/erasure")
    assert answer.status_code == 200, answer.text
    assert len(answer.json()["erased"]) == 1
    request_id = answer.json()["request_id"]

    service.publish("chats", _chat(subject, b"queued behind the erasure"), key=b"k2")
    service.publish("emails", _email(subject), key=b"k3")
    service.publish("chats", _chat(bystander, b"someone else"), key=b"k4")

    def both_answered() -> dict[str, dict[str, Any]] | None:
        found = _on_arrival(service)
        return found if len(found) == 2 else None

    answered = wait_for(both_answered, timeout_s=90, what="both late items answered")
    assert {d["request_id"] for d in answered.values()} == {request_id}
    (erased,) = [item_id for item_id, d in answered.items() if d["erased"]]
    (kept,) = [item_id for item_id, d in answered.items() if not d["erased"]]
    assert answered[kept]["reason"] == "legal_obligation:legal"
    with service.client("legal") as legal:
        assert legal.get(f"/v1/items/{erased}").status_code == 404
        kept_item = legal.get(f"/v1/items/{kept}").json()
    assert {p["name"] for p in kept_item["purposes"]} == {"legal"}
    key = object_key_for(erased)
    assert list(minio_client.list_objects(service.bucket, prefix=key, include_version=True)) == []
    assert [i["item_id"] for i in _items(service, subject)] == [kept]
    (other,) = wait_for(
        lambda: _items(service, bystander) or None, timeout_s=60, what="the bystander's chat"
    )
    assert other["item_id"] not in answered
