"""Rectification end to end: a call linked to the wrong customer is linked to the right one.

A real `keepline serve` on real Kafka and MinIO, on each catalog. After the correction the
call is the right subject's everywhere: in their export and erasure, under their consent and
objection, under a hold naming them (with the S3 legal-hold flag), and no longer the wrong
subject's; the audit trail keeps the old link.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from datetime import UTC, datetime, timedelta

import pytest
from minio import Minio

from storage.models import object_key_for
from tests.integration.catalog_support import on_both_catalogs
from tests.integration.fixtures_keepline import ContentServer as ContentServerFixture
from tests.integration.fixtures_keepline import KeeplineFactory
from tests.integration.keepline_service import KeeplineService, wait_for
from tests.integration.subject_support import (
    audit_entries,
    call_event,
    exported,
    exported_ids,
    items_of,
    publish,
    purposes,
)

POLICY = """
reader_roles: [marketing]
purposes:
  quality:   {basis: legitimate_interests, retention: P90D, roles: [qa, legal]}
  training:  {basis: legitimate_interests, retention: P1Y,  roles: [qa]}
  legal:     {basis: legal_obligation,     retention: P5Y,  roles: [legal]}
  marketing: {basis: consent,              retention: P2Y,  roles: [marketing]}
rules:
  - match: {type: call_recording, attributes: {queue: sales}}
    purposes: [quality, training, legal, marketing]
  - match: {type: call_recording}
    purposes: [quality, training]
  - match: {type: email}
    purposes: [legal]
  - match: {type: chat}
    purposes: [quality, training]
"""

pytestmark = on_both_catalogs


@pytest.fixture(scope="module")
def service(
    shared_keepline_factory: KeeplineFactory, content_server: ContentServerFixture
) -> KeeplineService:
    """The module's service, allowed to fetch from the content server."""
    return shared_keepline_factory(policy_text=POLICY, content_sources=[content_server.base_url])


def test_a_call_linked_to_the_wrong_subject_is_rectified(
    service: KeeplineService,
    content_server: Callable[[bytes], str],
    minio_client: Minio,
) -> None:
    wrong, right = "rx-wrong", "rx-right"
    audio = os.urandom(50_000)
    misfiled = call_event(wrong, audio, content_server, queue="sales")
    own = call_event(wrong, os.urandom(3000), content_server, queue="support")
    with service.client("privacy") as privacy, service.client("legal") as legal:
        # The right subject granted marketing and objected to training; the wrong one neither.
        assert privacy.post(
            f"/v1/subjects/{right}/consent", json={"purpose": "marketing", "granted": True}
        ).is_success
        assert privacy.post(
            f"/v1/subjects/{right}/objection", json={"purposes": ["training"]}
        ).is_success
        hold = legal.post(
            "/v1/holds",
            json={"matter": "RX-1", "description": "", "criteria": {"subject_ids": [right]}},
        ).json()
        publish(service, misfiled)
        publish(service, own)
        found = items_of(legal, wrong, expect=2)
        item_id = found[misfiled["event_id"]]["item_id"]
        own_id = found[own["event_id"]]["item_id"]
        assert purposes(legal, item_id) == {"quality", "training", "legal"}
        assert legal.get(f"/v1/items/{item_id}").json()["holds"] == []
        disclosed = legal.post(
            "/v1/disclosures",
            json={
                "recipient": "Metropolitan Police",
                "legal_basis": "crime prevention",
                "reference": "MPS-77",
                "item_ids": [item_id],
                "disclosed_at": (datetime.now(UTC) - timedelta(minutes=1)).isoformat(),
            },
        )
        assert disclosed.status_code == 201, disclosed.text

        answer = privacy.post(
            f"/v1/subjects/{wrong}/rectification",
            json={
                "item_id": item_id,
                "set": {"subject_id": right},
                "reason": "the CRM matched the wrong customer to the number",
            },
        )
        assert answer.status_code == 200, answer.text
        body = answer.json()
        assert [r["recipient"] for r in body["recipients_to_inform"]] == ["Metropolitan Police"]

        # Its purposes follow the right subject's consent and objection.
        assert purposes(legal, item_id) == {"quality", "legal", "marketing"}
        key = object_key_for(item_id)
        tags = minio_client.get_object_tags(service.bucket, key) or {}
        assert tags["kl-purposes"] == "legal+marketing+quality"
        # The hold naming the right subject covers it, flag included.
        shown = legal.get(f"/v1/items/{item_id}").json()
        assert shown["holds"] == [hold["hold_id"]]
        assert shown["parties"][0]["subject_id"] == right
        wait_for(
            lambda: minio_client.is_object_legal_hold_enabled(service.bucket, key),
            what="the S3 legal-hold flag",
        )
        # The recorded content is untouched.
        assert legal.get(f"/v1/items/{item_id}/content").content == audio

        # It is in the right subject's export and not in the wrong one's.
        assert exported_ids(privacy, right) == {item_id}
        assert exported(privacy, right).read(f"content/{item_id}.wav") == audio
        assert exported_ids(privacy, wrong) == {own_id}
        register = privacy.get("/v1/disclosures", params={"subject_id": right}).json()
        assert [e["item_ids"] for e in register["disclosures"]] == [[item_id]]

        # The wrong subject's erasure leaves it alone; the right one's reaches it.
        erased = privacy.post(f"/v1/subjects/{wrong}/erasure").json()
        assert erased["erased"] == [own_id]
        assert erased["retained"] == []
        assert legal.get(f"/v1/items/{item_id}").status_code == 200
        retained = privacy.post(f"/v1/subjects/{right}/erasure").json()
        assert retained["erased"] == []
        assert [(r["item_id"], r["reason"]) for r in retained["retained"]] == [
            (item_id, "legal_hold:RX-1")
        ]

    # The audit trail keeps the old link.
    entries = audit_entries(service, "rectification", item_id=item_id)
    assert len(entries) == 1
    assert entries[0]["actor"] == "privacy-user"
    caller = entries[0]["details"]["before"][0]
    assert (caller["address"], caller["subject_id"]) == ("+447700900123", wrong)
    assert entries[0]["details"]["after"][0]["subject_id"] == right
