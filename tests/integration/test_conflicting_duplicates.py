"""A republished event with other content is dead-lettered, not silently dropped.

On real Kafka and MinIO, on both catalogs: the same (source, event_id) published again
unchanged is a plain duplicate; published with other content it is listed at
GET /v1/dead-letters as `conflicting_duplicate`, counted in /metrics, and the stored item
stays as it was.
"""

from __future__ import annotations

from typing import Any

import pytest

from tests.integration.catalog_support import on_both_catalogs
from tests.integration.fixtures_keepline import KeeplineFactory
from tests.integration.ingest_support import all_items, chat_event, email_event, metric
from tests.integration.keepline_service import KeeplineService, wait_for

pytestmark = on_both_catalogs


@pytest.fixture(scope="module")
def service(shared_keepline_factory: KeeplineFactory) -> KeeplineService:
    """A service with the example policy (chats and e-mails are kept for legal)."""
    return shared_keepline_factory()


def _stored(service: KeeplineService, event_id: str) -> dict[str, Any]:
    with service.client("legal") as http:
        return wait_for(
            lambda: next((i for i in all_items(http) if i["event_id"] == event_id), None),
            timeout_s=60,
            what=f"{event_id} stored",
        )


def _letters(service: KeeplineService, event_id: str) -> list[dict[str, Any]]:
    with service.client("auditor") as http:
        found = http.get("/v1/dead-letters", params={"limit": "500"}).json()["dead_letters"]
    return [letter for letter in found if letter["event_id"] == event_id]


@pytest.mark.parametrize(
    ("kind", "make"),
    [
        ("chats", lambda event_id: chat_event(event_id, b"the first words")),
        ("emails", email_event),  # metadata only: the batch path
    ],
    ids=["inline-chat", "metadata-email"],
)
def test_a_republished_event_with_other_content_is_a_conflicting_duplicate(
    service: KeeplineService, kind: str, make: Any, catalog: str
) -> None:
    event_id = f"conflict-{kind}-{catalog}"
    event = make(event_id)
    key = event_id.encode()
    service.publish(kind, event, key=key)
    item = _stored(service, event_id)
    with service.client() as anonymous:
        before = metric(
            anonymous.get("/metrics").text,
            "keepline_dead_letters_total",
            reason="conflicting_duplicate",
        )

    service.publish(kind, event, key=key)  # unchanged: a plain duplicate, no letter
    changed = dict(event, attributes={**event.get("attributes", {}), "desk": "changed-desk"})
    service.publish(kind, changed, key=key)  # same partition, so after the copy above

    wait_for(lambda: _letters(service, event_id), timeout_s=60, what="the conflicting dead letter")
    (letter,) = _letters(service, event_id)  # the unchanged copy left none
    assert letter["reason"] == "conflicting_duplicate"
    assert letter["source"] == event["source"]
    assert letter["topic"] == service.topics[kind]
    assert item["item_id"] in letter["error"]
    assert "changed-desk" not in letter["error"]
    with service.client("auditor") as http:
        filtered = http.get(
            "/v1/dead-letters", params={"reason": "conflicting_duplicate", "limit": "500"}
        ).json()["dead_letters"]
    assert event_id in {f["event_id"] for f in filtered}
    with service.client() as anonymous:
        after = metric(
            anonymous.get("/metrics").text,
            "keepline_dead_letters_total",
            reason="conflicting_duplicate",
        )
    assert after == before + 1
    with service.client("legal") as http:
        same = [i for i in all_items(http) if i["event_id"] == event_id]
    assert [i["item_id"] for i in same] == [item["item_id"]]
    assert same[0]["attributes"] == item["attributes"]
