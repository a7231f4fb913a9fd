"""Every item records who submitted it: the API principal, or kafka:<topic> (SPEC section 3)."""

from __future__ import annotations

from collections.abc import Callable

from tests.integration.ingest_support import all_items, chat_event
from tests.integration.keepline_service import KeeplineService, wait_for


def test_items_name_their_submitter_over_http_and_over_kafka(
    keepline_factory: Callable[..., KeeplineService],
) -> None:
    service = keepline_factory(env={"KEEPLINE_INGEST_SOURCES": "ingest-user=api-chat"})
    with service.client("ingest") as http:
        accepted = http.post("/v1/events", json=chat_event("by-http", b"one", source="api-chat"))
        refused = http.post("/v1/events", json=chat_event("by-http-2", b"x", source="pbx-9"))
    assert accepted.status_code == 202, accepted.text
    assert refused.status_code == 403
    service.publish("chats", chat_event("by-kafka", b"two", source="pbx-9"))

    def submitters() -> dict[str, str] | None:
        with service.client("legal") as http:
            found = {i["event_id"]: i["submitted_by"] for i in all_items(http)}
        return found if len(found) == 2 else None

    found = wait_for(submitters, timeout_s=60, what="both items stored")
    assert found == {"by-http": "ingest-user", "by-kafka": f"kafka:{service.topics['chats']}"}
