"""A CRM `unrestrict` event lifts only what the CRM set, never the privacy team's restriction.

A real `keepline serve` on Kafka and MinIO: the privacy team restricts a subject through the
API, the CRM sends `unrestrict` on privacy.consent, and the items stay hidden from qa.
"""

from __future__ import annotations

import base64
import uuid
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from tests.integration.keepline_service import KeeplineService, wait_for

POLICY = """
purposes:
  quality: {basis: legitimate_interests, retention: P90D, roles: [qa, legal]}
rules:
  - match: {type: chat}
    purposes: [quality]
"""


def _consent(subject_id: str, action: str) -> dict[str, Any]:
    return {
        "event_id": f"crm:consent:{uuid.uuid4().hex[:8]}",
        "source": "crm",
        "occurred_at": datetime.now(UTC).isoformat(),
        "subject_id": subject_id,
        "action": action,
    }


def _chat(subject_id: str) -> dict[str, Any]:
    conversation_id = f"conv-{uuid.uuid4().hex[:10]}"
    return {
        "type": "chat",
        "event_id": f"chat:{conversation_id}",
        "source": "webchat",
        "occurred_at": datetime.now(UTC).isoformat(),
        "conversation_id": conversation_id,
        "platform": "webchat",
        "parties": [{"address": "visitor-1", "subject_id": subject_id}],
        "content_inline": {
            "data_b64": base64.b64encode(b"hi").decode(),
            "content_type": "text/plain",
        },
    }


def _restrictions(service: KeeplineService, subject_id: str) -> list[dict[str, Any]]:
    with service.client("auditor") as http:
        response = http.get("/v1/audit", params={"action": "restriction.changed", "limit": 1000})
    assert response.status_code == 200, response.text
    entries = response.json()["entries"]
    return [e for e in entries if e["details"]["subject_id"] == subject_id]


def test_a_crm_unrestrict_never_lifts_the_privacy_teams_restriction(
    keepline_factory: Callable[..., KeeplineService],
) -> None:
    service = keepline_factory(policy_text=POLICY)
    subject = f"cust-{uuid.uuid4().hex[:8]}"
    service.publish("chats", _chat(subject), key=b"c1")

    def listed() -> str | None:
        with service.client("legal") as http:
            found = http.get("/v1/items", params={"subject_id": subject}).json()["items"]
        return found[0]["item_id"] if found else None

    item_id = wait_for(listed, timeout_s=60, what="the chat stored")

    def qa_status() -> int:
        with service.client("qa") as qa:
            return qa.get(f"/v1/items/{item_id}", params={"purpose": "quality"}).status_code

    assert qa_status() == 200
    with service.client("privacy") as privacy:
        answer = privacy.post(f"/v1/subjects/{subject}/restriction", json={"restricted": True})
    assert answer.status_code == 200, answer.text
    assert qa_status() == 404

    service.publish("consent", _consent(subject, "unrestrict"), key=subject.encode())
    kept = wait_for(
        lambda: [e for e in _restrictions(service, subject) if e["actor"] == "event:crm"],
        timeout_s=60,
        what="the CRM's unrestrict applied",
    )
    assert kept[0]["details"]["changed"] is False
    assert "privacy team" in kept[0]["details"]["kept"]
    assert qa_status() == 404

    # The privacy team lifts it; what the CRM then sets, the CRM lifts.
    with service.client("privacy") as privacy:
        lifted = privacy.post(f"/v1/subjects/{subject}/restriction", json={"restricted": False})
    assert lifted.json()["changed"] is True
    assert qa_status() == 200
    service.publish("consent", _consent(subject, "restrict"), key=subject.encode())
    wait_for(lambda: qa_status() == 404, timeout_s=60, what="the CRM's restriction")
    service.publish("consent", _consent(subject, "unrestrict"), key=subject.encode())
    wait_for(lambda: qa_status() == 200, timeout_s=60, what="the CRM lifting its own")
