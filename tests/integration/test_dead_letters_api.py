"""A dead letter is readable over HTTP and logged with its event id and source."""

from __future__ import annotations

import json
from collections.abc import Callable

from tests.integration.ingest_support import example
from tests.integration.keepline_service import KeeplineService, wait_for


def test_a_dead_letter_is_listed_by_the_api_and_logged_with_its_ids(
    keepline_factory: Callable[..., KeeplineService],
) -> None:
    service = keepline_factory()
    event = example("chat")
    event["type"] = "fax"
    event["event_id"] = "dl-api-1"
    service.publish("chats", json.dumps(event).encode(), key=b"conv-991")
    service.publish("chats", b"{not json", key=b"conv-992")
    with service.client("auditor") as http:
        letters = wait_for(
            lambda: (
                (found := http.get("/v1/dead-letters").json()["dead_letters"])
                and len(found) == 2
                and found
            ),
            what="both dead letters in the catalog",
        )
        unknown = http.get("/v1/dead-letters", params={"reason": "unknown_type"}).json()
    assert {letter["reason"] for letter in letters} == {"unknown_type", "invalid_json"}
    (letter,) = unknown["dead_letters"]
    assert (letter["event_id"], letter["source"]) == ("dl-api-1", event["source"])
    assert letter["topic"] == service.topics["chats"]
    log = service.log_tail(400)
    assert f"event 'dl-api-1' from source {event['source']!r}" in log
    assert "event (none) from source (none)" in log
