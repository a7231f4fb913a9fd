"""Notices on the real notices topic: a restriction lifted later, and recipients to inform.

A real `keepline serve` on real Kafka and MinIO, on each catalog. A restriction lifted with an
``effective_at`` stays in force until then, and its notice is on the topic before the lifting
takes effect; a restriction and an erasure each name the recipients of earlier disclosures.
"""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta

import pytest

from tests.integration.catalog_support import on_both_catalogs
from tests.integration.fixtures_keepline import KeeplineFactory
from tests.integration.keepline_service import KeeplineService, wait_for
from tests.integration.subject_support import (
    audit_entries,
    chat_event,
    items_of,
    notices_with_times,
    publish,
)

pytestmark = on_both_catalogs
#: How far ahead the lifting is announced: room for a loaded machine to read the topic.
LEAD_S = 20


@pytest.fixture(scope="module")
def service(shared_keepline_factory: KeeplineFactory) -> KeeplineService:
    """The module's service, with the example policy (chats: quality and legal)."""
    return shared_keepline_factory()


def test_a_lifting_is_announced_first_and_takes_effect_at_its_time(
    service: KeeplineService,
) -> None:
    subject = "nt-lift"
    event = chat_event(subject, b"please stop using my data")
    with (
        service.client("privacy") as privacy,
        service.client("legal") as legal,
        service.client("qa") as qa,
    ):
        publish(service, event)
        item_id = items_of(legal, subject, expect=1)[event["event_id"]]["item_id"]
        disclosed = legal.post(
            "/v1/disclosures",
            json={
                "recipient": "Regulator",
                "legal_basis": "legal obligation",
                "reference": "REG-5",
                "item_ids": [item_id],
                "disclosed_at": (datetime.now(UTC) - timedelta(minutes=1)).isoformat(),
            },
        )
        assert disclosed.status_code == 201, disclosed.text

        restricted = privacy.post(f"/v1/subjects/{subject}/restriction", json={"restricted": True})
        assert restricted.status_code == 200, restricted.text
        assert [r["recipient"] for r in restricted.json()["recipients_to_inform"]] == ["Regulator"]

        def qa_status() -> int:
            return qa.get(f"/v1/items/{item_id}", params={"purpose": "quality"}).status_code

        assert qa_status() == 404
        effective_at = datetime.now(UTC).replace(microsecond=0) + timedelta(seconds=LEAD_S)
        lifting = privacy.post(
            f"/v1/subjects/{subject}/restriction",
            json={"restricted": False, "effective_at": effective_at.isoformat()},
        )
        assert lifting.status_code == 200, lifting.text
        assert lifting.json()["restricted"] is True
        assert lifting.json()["lifting_at"] == effective_at.isoformat()

        # The notice is on the topic while the restriction is still in force.
        found = notices_with_times(service, expect=2, subject_id=subject)
        by_action = {value["action"]: (at, value) for at, value in found}
        announced_at, notice = by_action["restriction_lifting"]
        assert notice["effective_at"] == effective_at.isoformat()
        assert announced_at < effective_at.timestamp()
        informed = by_action["recipients_to_inform"][1]
        assert informed["cause"] == "restriction"
        assert [r["recipient"] for r in informed["recipients"]] == ["Regulator"]
        if datetime.now(UTC) < effective_at - timedelta(seconds=1):
            assert qa_status() == 404
            assert legal.get(f"/v1/items/{item_id}").json()["restricted"] is True

        # Lifted at its time, not before.
        wait_for(lambda: qa_status() == 200, timeout_s=LEAD_S + 30, what="the lifting")
        assert datetime.now(UTC) >= effective_at
    lifted = [
        e
        for e in audit_entries(service, "restriction.changed")
        if e["details"]["subject_id"] == subject and e["actor"] == "keepline:restriction-lifting"
    ]
    assert len(lifted) == 1
    assert datetime.fromisoformat(lifted[0]["at"]) >= effective_at
    assert announced_at < datetime.fromisoformat(lifted[0]["at"]).timestamp()


def test_an_erasure_names_the_recipients_to_inform_on_the_topic(
    service: KeeplineService,
) -> None:
    subject = "nt-erase"
    event = chat_event(subject, b"delete everything")
    with service.client("privacy") as privacy, service.client("legal") as legal:
        publish(service, event)
        item_id = items_of(legal, subject, expect=1)[event["event_id"]]["item_id"]
        assert legal.post(
            "/v1/disclosures",
            json={
                "recipient": "Police",
                "legal_basis": "crime prevention",
                "reference": "P-9",
                "item_ids": [item_id],
                "disclosed_at": (datetime.now(UTC) - timedelta(minutes=1)).isoformat(),
            },
        ).is_success
        answer = privacy.post(f"/v1/subjects/{subject}/erasure")
        assert answer.status_code == 200, answer.text
        # Kept for the legal purpose of the example policy: the recipients are told anyway.
        assert [(r["item_id"], r["reason"]) for r in answer.json()["retained"]] == [
            (item_id, "legal_obligation:legal")
        ]
        assert [r["recipient"] for r in answer.json()["recipients_to_inform"]] == ["Police"]
        started = time.monotonic()
        found = notices_with_times(service, expect=1, subject_id=subject)
    assert found, f"no notice after {time.monotonic() - started:.1f}s"
    notice = found[0][1]
    assert (notice["action"], notice["cause"]) == ("recipients_to_inform", "erasure")
    assert notice["recipients"][0]["item_ids"] == [item_id]
    assert notice["recipients"][0]["reference"] == "P-9"
