"""The access report end to end: every purpose, basis, retention, source and recipient.

A real `keepline serve` on real Kafka and MinIO, on each catalog. A subject with calls,
e-mails and chats gets a report (JSON, and a readable document in the export) that lists
what applies to their items and nothing of another subject's.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable
from datetime import UTC, datetime, timedelta

import pytest

from tests.integration.catalog_support import on_both_catalogs
from tests.integration.fixtures_keepline import ContentServer as ContentServerFixture
from tests.integration.fixtures_keepline import KeeplineFactory
from tests.integration.keepline_service import KeeplineService
from tests.integration.subject_support import (
    audit_entries,
    call_event,
    chat_event,
    email_event,
    exported,
    items_of,
    publish,
)

POLICY = """
reader_roles: [marketing]
purposes:
  quality:   {basis: legitimate_interests, retention: P90D, roles: [qa, legal]}
  training:  {basis: legitimate_interests, retention: P1Y,  roles: [qa]}
  legal:     {basis: legal_obligation,     retention: P5Y,  roles: [legal]}
  marketing: {basis: consent,              retention: P2Y,  roles: [marketing]}
  contract:  {basis: contract,             retention: P6Y,  roles: [legal]}
rules:
  - match: {type: call_recording, attributes: {queue: sales}}
    purposes: [quality, training, legal, marketing]
  - match: {type: call_recording}
    purposes: [quality, training]
  - match: {type: email}
    purposes: [legal, contract]
  - match: {type: chat}
    purposes: [quality]
"""

pytestmark = on_both_catalogs


@pytest.fixture(scope="module")
def service(
    shared_keepline_factory: KeeplineFactory, content_server: ContentServerFixture
) -> KeeplineService:
    """The module's service, allowed to fetch from the content server."""
    return shared_keepline_factory(policy_text=POLICY, content_sources=[content_server.base_url])


def test_the_access_report_lists_what_applies_to_the_subject_only(
    service: KeeplineService, content_server: Callable[[bytes], str]
) -> None:
    me, other = "ar-me", "ar-other"
    events = {
        "sales": call_event(me, os.urandom(4000), content_server, queue="sales"),
        "support": call_event(me, os.urandom(4000), content_server, queue="support"),
        "mail": email_event(me),
        "chat": chat_event(me, b"where is my parcel"),
    }
    theirs = email_event(other)
    theirs["source"] = "other-mail-gw"
    with service.client("privacy") as privacy, service.client("legal") as legal:
        assert privacy.post(
            f"/v1/subjects/{me}/consent", json={"purpose": "marketing", "granted": True}
        ).is_success
        for event in [*events.values(), theirs]:
            publish(service, event)
        mine = items_of(legal, me, expect=4)
        ids = {name: mine[e["event_id"]]["item_id"] for name, e in events.items()}
        their_id = items_of(legal, other, expect=1)[theirs["event_id"]]["item_id"]
        assert privacy.post(
            f"/v1/subjects/{me}/objection", json={"purposes": ["training"]}
        ).is_success
        assert privacy.post(f"/v1/subjects/{me}/restriction", json={"restricted": True}).is_success
        disclosed_at = (datetime.now(UTC) - timedelta(hours=2)).isoformat()
        court = legal.post(
            "/v1/disclosures",
            json={
                "recipient": "County Court",
                "legal_basis": "court order",
                "reference": "CC-12",
                "item_ids": [ids["mail"], their_id],
                "disclosed_at": disclosed_at,
            },
        )
        assert court.status_code == 201, court.text
        police = legal.post(
            "/v1/disclosures",
            json={
                "recipient": "Elsewhere Police",
                "legal_basis": "crime prevention",
                "reference": "EP-1",
                "item_ids": [their_id],
                "disclosed_at": disclosed_at,
            },
        )
        assert police.status_code == 201, police.text

        response = privacy.get(f"/v1/subjects/{me}/access-report")
        assert response.status_code == 200, response.text
        report = response.json()
        archive = exported(privacy, me)
        with service.client("legal") as other_role:
            assert other_role.get(f"/v1/subjects/{me}/access-report").status_code == 403

    sections = {s["type"]: s for s in report["items_by_type"]}
    assert set(sections) == {"call_recording", "email", "chat"}
    calls = sections["call_recording"]
    assert set(calls["item_ids"]) == {ids["sales"], ids["support"]}
    assert calls["sources"] == ["pbx-london-1"]
    assert {(p["name"], p["basis"], p["retention"], p["items"]) for p in calls["purposes"]} == {
        ("quality", "legitimate_interests", "P90D", 2),
        ("legal", "legal_obligation", "P5Y", 1),
        ("marketing", "consent", "P2Y", 1),
    }
    mail = sections["email"]
    assert mail["item_ids"] == [ids["mail"]]
    assert mail["sources"] == ["mail-gw"]
    assert {(p["name"], p["basis"], p["retention"]) for p in mail["purposes"]} == {
        ("legal", "legal_obligation", "P5Y"),
        ("contract", "contract", "P6Y"),
    }
    chat = sections["chat"]
    assert (chat["item_ids"], chat["sources"]) == ([ids["chat"]], ["webchat"])
    assert [(p["name"], p["basis"], p["retention"]) for p in chat["purposes"]] == [
        ("quality", "legitimate_interests", "P90D")
    ]
    assert [(r["recipient"], r["item_ids"]) for r in report["recipients"]] == [
        ("County Court", [ids["mail"]])
    ]
    assert report["restricted"] is True
    assert report["objections"] == ["training"]
    assert report["consents"] == {"marketing": True}
    text = json.dumps(report)
    for foreign in (other, their_id, "other-mail-gw", "Elsewhere Police", "+442071234567"):
        assert foreign not in text

    readable = archive.read("access-report.txt").decode("utf-8")
    for expected in (
        "Call recordings: 2",
        "E-mails: 1",
        "Chats: 1",
        "pbx-london-1",
        "quality (lawful basis: our legitimate interests) for P90D",
        "contract (lawful basis: our contract with you) for P6Y",
        "County Court",
        "CC-12",
        "Processing is restricted",
        "Objections: training",
        "Consent given for: marketing",
    ):
        assert expected in readable, (expected, readable)
    for foreign in (other, their_id, "other-mail-gw", "Elsewhere Police"):
        assert foreign not in readable
    assert json.loads(archive.read("access-report.json"))["subject_id"] == me
    entry = audit_entries(service, "access_report")[-1]
    assert entry["details"]["subject_id"] == me
    assert entry["actor"] == "privacy-user"
