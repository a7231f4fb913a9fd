"""Subject rights end to end: consent, objection, restriction, erasure and export.

A real `keepline serve` on real Kafka and MinIO, on each catalog; changes come through the
API and through privacy.consent events. The tests share the service and keep to their own
subjects.
"""

from __future__ import annotations

import base64
import hashlib
import io
import json
import os
import time
import uuid
import zipfile
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
from minio import Minio
from sqlalchemy import select

from storage.models import object_key_for
from storage.sql.schema import tombstones
from tests.integration.catalog_support import catalog_select, on_both_catalogs
from tests.integration.fixtures_keepline import ContentServer as ContentServerFixture
from tests.integration.fixtures_keepline import KeeplineFactory
from tests.integration.keepline_service import KeeplineService, wait_for

POLICY = """
reader_roles: [marketing]
purposes:
  quality:   {basis: legitimate_interests, retention: P90D, roles: [qa, legal]}
  training:  {basis: legitimate_interests, retention: P1Y,  roles: [qa]}
  legal:     {basis: legal_obligation,     retention: P5Y,  roles: [legal], worm: true}
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

ContentServer = Callable[[bytes], str]

pytestmark = on_both_catalogs


@pytest.fixture(scope="module")
def service(
    shared_keepline_factory: KeeplineFactory, content_server: ContentServerFixture
) -> KeeplineService:
    """The module's service, allowed to fetch from the content server."""
    return shared_keepline_factory(policy_text=POLICY, content_sources=[content_server.base_url])


def _at(minutes_ago: int = 5) -> str:
    return (datetime.now(UTC) - timedelta(minutes=minutes_ago)).isoformat()


def call_event(
    subject_id: str, recording: bytes, content_server: ContentServer, **attributes: str
) -> dict[str, Any]:
    call_id = f"c-{uuid.uuid4().hex[:10]}"
    return {
        "type": "call_recording",
        "event_id": f"pbx:{call_id}",
        "source": "pbx-london-1",
        "occurred_at": _at(),
        "call_id": call_id,
        "direction": "inbound",
        "started_at": _at(),
        "ended_at": _at(4),
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
    conversation_id = f"conv-{uuid.uuid4().hex[:10]}"
    return {
        "type": "chat",
        "event_id": f"chat:{conversation_id}",
        "source": "webchat",
        "occurred_at": _at(),
        "conversation_id": conversation_id,
        "platform": "webchat",
        "parties": [{"address": "visitor-1", "subject_id": subject_id}],
        "content_inline": {
            "data_b64": base64.b64encode(text).decode(),
            "content_type": "text/plain",
        },
    }


def email_event(subject_id: str) -> dict[str, Any]:
    message_id = f"<{uuid.uuid4().hex}@example.com>"
    return {
        "type": "email",
        "event_id": f"mail:{message_id}",
        "source": "mail-gw",
        "occurred_at": _at(),
        "message_id": message_id,
        "direction": "inbound",
        "parties": [{"address": "someone@example.com", "subject_id": subject_id}],
    }


def consent_event(subject_id: str, action: str, purpose: str | None = None) -> dict[str, Any]:
    event: dict[str, Any] = {
        "event_id": f"crm:consent:{uuid.uuid4().hex[:8]}",
        "source": "crm",
        "occurred_at": datetime.now(UTC).isoformat(),
        "subject_id": subject_id,
        "action": action,
    }
    if purpose is not None:
        event["purpose"] = purpose
    return event


def publish(service: KeeplineService, event: dict[str, Any]) -> None:
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
    response = http.get(f"/v1/items/{item_id}")
    assert response.status_code == 200, response.text
    return {p["name"] for p in response.json()["purposes"]}


def object_versions(minio_client: Minio, bucket: str, item_id: str) -> list[Any]:
    key = object_key_for(item_id)
    return [
        o
        for o in minio_client.list_objects(bucket, prefix=key, include_version=True)
        if o.object_name == key
    ]


def audit_entries(
    service: KeeplineService, action: str, subject_id: str | None = None
) -> list[dict[str, Any]]:
    """Audit entries of one action, of one subject if given (by its details)."""
    with service.client("auditor") as http:
        response = http.get("/v1/audit", params={"action": action, "limit": 1000})
    assert response.status_code == 200, response.text
    entries: list[dict[str, Any]] = response.json()["entries"]
    if subject_id is None:
        return entries
    return [e for e in entries if e["details"].get("subject_id") == subject_id]


def _refusals(service: KeeplineService) -> None:
    """Roles, and bodies that name the bad field."""
    with service.client("privacy") as privacy, service.client("qa") as qa:
        assert qa.post("/v1/subjects/cust-1/erasure").status_code == 403
        with service.client() as anonymous:
            assert anonymous.post("/v1/subjects/cust-1/erasure").status_code == 401
        with service.client("legal") as legal:
            assert legal.get("/v1/subjects/cust-1/export").status_code == 403
        for path, body, field in [
            ("consent", {"purpose": "quality", "granted": True}, "purpose"),
            ("consent", {"purpose": "marketing"}, "granted"),
            ("restriction", {"restricted": "yes"}, "restricted"),
            ("objection", {"purposes": ["nope"]}, "purposes[0]"),
            ("objection", {"purposes": []}, "purposes"),
        ]:
            refused = privacy.post(f"/v1/subjects/cust-1/{path}", json=body)
            assert refused.status_code == 422, (path, body, refused.text)
            assert field in refused.text, refused.text


def _export(service: KeeplineService, ids: dict[str, str], contents: dict[str, bytes]) -> None:
    """items.json and every decrypted artefact; one audit entry naming the items."""
    with service.client("privacy") as privacy:
        exported = privacy.get("/v1/subjects/cust-1/export")
    assert exported.status_code == 200, exported.text
    assert exported.headers["content-type"] == "application/zip"
    archive = zipfile.ZipFile(io.BytesIO(exported.content))
    document = json.loads(archive.read("items.json"))
    files = {item["item_id"]: item["content_file"] for item in document["items"]}
    assert set(files) == set(ids.values())
    for name, content in contents.items():
        assert archive.read(files[ids[name]]) == content
    assert files[ids["mail"]] is None
    assert files[ids["sales"]].endswith(".wav")
    entry = audit_entries(service, "export")[-1]
    assert entry["actor"] == "privacy-user"
    assert set(entry["details"]["item_ids"]) == set(ids.values())


def _withdraw_and_object(
    service: KeeplineService,
    ids: dict[str, str],
    content_server: ContentServer,
    minio_client: Minio,
) -> None:
    """Withdrawal and objection take purposes off at once; objections stand for later items."""
    with service.client("privacy") as privacy, service.client("legal") as legal:
        withdrawn = privacy.post(
            "/v1/subjects/cust-1/consent", json={"purpose": "marketing", "granted": False}
        )
        assert withdrawn.status_code == 200, withdrawn.text
        assert withdrawn.json()["items_changed"] == [ids["sales"]]
        assert purposes(legal, ids["sales"]) == {"quality", "training", "legal"}
        key = object_key_for(ids["sales"])
        tags: dict[str, str] = minio_client.get_object_tags(service.bucket, key) or {}
        assert tags["kl-purposes"] == "legal+quality+training"

        objected = privacy.post("/v1/subjects/cust-1/objection", json={"purposes": ["training"]})
        assert objected.status_code == 200, objected.text
        assert set(objected.json()["items_changed"]) == {ids["sales"], ids["plain"], ids["chat"]}
        assert purposes(legal, ids["sales"]) == {"quality", "legal"}
        assert purposes(legal, ids["plain"]) == {"quality"}
        later = call_event("cust-1", os.urandom(5000), content_server, queue="support")
        publish(service, later)
        ids["later"] = items_of(legal, "cust-1", expect=5)[later["event_id"]]["item_id"]
        assert purposes(legal, ids["later"]) == {"quality"}
        assert purposes(legal, ids["other"]) == {"quality", "training", "legal"}


def _restrict(service: KeeplineService, ids: dict[str, str]) -> None:
    """Restriction hides the subject's items from qa, not from legal or privacy."""
    privacy, legal, qa = service.client("privacy"), service.client("legal"), service.client("qa")

    def qa_sees() -> set[str]:
        body = qa.get("/v1/items", params={"purpose": "quality", "subject_id": "cust-1"}).json()
        return {item["item_id"] for item in body["items"]}

    with privacy, legal, qa:
        assert ids["plain"] in qa_sees()
        restricted = privacy.post("/v1/subjects/cust-1/restriction", json={"restricted": True})
        assert restricted.status_code == 200, restricted.text
        assert qa_sees() == set()
        assert qa.get(f"/v1/items/{ids['plain']}", params={"purpose": "quality"}).status_code == 404
        for caller in (legal, privacy):
            seen = caller.get(f"/v1/items/{ids['plain']}")
            assert seen.status_code == 200
            assert seen.json()["restricted"] is True
        assert qa.get(f"/v1/items/{ids['other']}", params={"purpose": "quality"}).status_code == 200
        lifted = privacy.post("/v1/subjects/cust-1/restriction", json={"restricted": False})
        assert lifted.status_code == 200, lifted.text
        assert qa_sees() == {ids["sales"], ids["plain"], ids["chat"], ids["later"]}


def _erase(
    service: KeeplineService, ids: dict[str, str], sales_audio: bytes, minio_client: Minio
) -> None:
    """Per item: erased, or retained with its reason and only the purpose that reason needs."""
    with service.client("privacy") as privacy, service.client("legal") as legal:
        answer = privacy.post("/v1/subjects/cust-1/erasure")
        assert answer.status_code == 200, answer.text
        body = answer.json()
        assert set(body["erased"]) == {ids["plain"], ids["chat"], ids["later"]}
        assert sorted(body["retained"], key=lambda r: r["item_id"]) == sorted(
            [
                {
                    "item_id": ids["sales"],
                    "reason": "legal_obligation:legal",
                    "dropped_purposes": ["quality"],
                    "kept_purposes": ["legal"],
                },
                {
                    "item_id": ids["mail"],
                    "reason": "legal_obligation:legal",
                    "dropped_purposes": [],
                    "kept_purposes": ["legal"],
                },
            ],
            key=lambda r: r["item_id"],
        )
        for erased in (ids["plain"], ids["chat"], ids["later"]):
            assert legal.get(f"/v1/items/{erased}").status_code == 404
            assert object_versions(minio_client, service.bucket, erased) == []
        assert purposes(legal, ids["sales"]) == {"legal"}
        assert legal.get(f"/v1/items/{ids['sales']}/content").content == sales_audio
        assert purposes(legal, ids["other"]) == {"quality", "training", "legal"}
    entry = audit_entries(service, "erasure.requested", "cust-1")[-1]
    assert entry["actor"] == "privacy-user"
    assert set(entry["details"]["erased"]) == set(body["erased"])


def test_subject_rights_through_the_api(
    service: KeeplineService,
    content_server: ContentServer,
    minio_client: Minio,
) -> None:
    _refusals(service)
    with service.client("privacy") as privacy:
        granted = privacy.post(
            "/v1/subjects/cust-1/consent", json={"purpose": "marketing", "granted": True}
        )
    assert granted.status_code == 200, granted.text
    assert granted.json()["changed"] is True

    contents = {
        "sales": os.urandom(300_000),
        "plain": os.urandom(200_000),
        "chat": b"hello, I would like to close my account",
    }
    events = {
        "sales": call_event("cust-1", contents["sales"], content_server, queue="sales"),
        "plain": call_event("cust-1", contents["plain"], content_server, queue="support"),
        "chat": chat_event("cust-1", contents["chat"]),
        "mail": email_event("cust-1"),
        "other": call_event("cust-2", os.urandom(1000), content_server, queue="sales"),
    }
    for event in events.values():
        publish(service, event)
    with service.client("legal") as legal:
        mine = items_of(legal, "cust-1", expect=4)
        ids = {n: mine[e["event_id"]]["item_id"] for n, e in events.items() if n != "other"}
        ids["other"] = items_of(legal, "cust-2", expect=1)[events["other"]["event_id"]]["item_id"]
        assert purposes(legal, ids["sales"]) == {"quality", "training", "legal", "marketing"}
        # cust-2 has no grant on file.
        assert purposes(legal, ids["other"]) == {"quality", "training", "legal"}

    _export(service, {k: v for k, v in ids.items() if k != "other"}, contents)
    _withdraw_and_object(service, ids, content_server, minio_client)
    _restrict(service, ids)
    _erase(service, ids, contents["sales"], minio_client)


def test_consent_events_take_effect_within_seconds(
    service: KeeplineService,
    content_server: ContentServer,
) -> None:
    legal, qa = service.client("legal"), service.client("qa")

    service.publish("consent", consent_event("cust-5", "grant", "marketing"), key=b"cust-5")
    wait_for(lambda: audit_entries(service, "consent.changed", "cust-5"), what="the grant applied")
    sales = call_event("cust-5", os.urandom(20_000), content_server, queue="sales")
    publish(service, sales)
    item_id = items_of(legal, "cust-5", expect=1)[sales["event_id"]]["item_id"]
    assert purposes(legal, item_id) == {"quality", "training", "legal", "marketing"}

    def qa_status() -> int:
        return qa.get(f"/v1/items/{item_id}", params={"purpose": "quality"}).status_code

    assert qa_status() == 200
    service.publish("consent", consent_event("cust-5", "restrict"), key=b"cust-5")
    wait_for(lambda: qa_status() == 404, timeout_s=10, what="restriction")
    assert legal.get(f"/v1/items/{item_id}").json()["restricted"] is True
    service.publish("consent", consent_event("cust-5", "unrestrict"), key=b"cust-5")
    wait_for(lambda: qa_status() == 200, timeout_s=10, what="lifting")

    started = time.monotonic()
    service.publish("consent", consent_event("cust-5", "withdraw", "marketing"), key=b"cust-5")
    wait_for(lambda: "marketing" not in purposes(legal, item_id), timeout_s=10, what="withdrawal")
    withdrawal_s = time.monotonic() - started
    service.publish("consent", consent_event("cust-5", "object"), key=b"cust-5")
    wait_for(lambda: purposes(legal, item_id) == {"legal"}, timeout_s=10, what="objection")
    print(f"withdrawal effective after {withdrawal_s:.2f}s")

    # The objection stands for items that arrive later; the withdrawal too.
    later = call_event("cust-5", os.urandom(20_000), content_server, queue="sales")
    publish(service, later)
    later_id = items_of(legal, "cust-5", expect=2)[later["event_id"]]["item_id"]
    assert purposes(legal, later_id) == {"legal"}

    # A grant without its purpose is a bad input: dead-lettered with the field named.
    bad = consent_event("cust-5", "grant")
    service.publish("consent", bad, key=b"cust-5")
    letters = service.read_topic(
        "dlq", expect=1, where=lambda letter: letter["topic"] == service.topics["consent"]
    )
    assert letters[0]["reason"] == "schema_violation"
    assert "purpose" in letters[0]["error"]
    assert letters[0]["topic"] == service.topics["consent"]
    actors = {e["actor"] for e in audit_entries(service, "objection.recorded", "cust-5")}
    assert actors == {"event:crm"}
    legal.close()
    qa.close()


def test_a_held_item_survives_erasure_and_goes_when_the_hold_is_released(
    service: KeeplineService,
    content_server: ContentServer,
    minio_client: Minio,
) -> None:
    privacy, legal = service.client("privacy"), service.client("legal")
    placed = legal.post(
        "/v1/holds",
        json={
            "matter": "acme-v-keepline",
            "description": "litigation hold",
            "criteria": {"subject_ids": ["cust-7"], "types": ["chat"]},
        },
    )
    assert placed.status_code == 201, placed.text
    hold_id = placed.json()["hold_id"]
    chat = chat_event("cust-7", b"please keep this")
    call = call_event("cust-7", os.urandom(10_000), content_server, queue="support")
    publish(service, chat)
    publish(service, call)
    found = items_of(legal, "cust-7", expect=2)
    chat_id, call_id = found[chat["event_id"]]["item_id"], found[call["event_id"]]["item_id"]
    assert found[chat["event_id"]]["holds"] == [hold_id]

    answer = privacy.post("/v1/subjects/cust-7/erasure")
    assert answer.status_code == 200, answer.text
    body = answer.json()
    assert body["erased"] == [call_id]
    assert body["retained"] == [
        {
            "item_id": chat_id,
            "reason": "legal_hold:acme-v-keepline",
            "dropped_purposes": ["quality", "training"],
            "kept_purposes": [],
        }
    ]
    assert body["deferred"] == [chat_id]
    held = legal.get(f"/v1/items/{chat_id}")
    assert held.status_code == 200
    assert held.json()["purposes"] == []
    assert legal.get(f"/v1/items/{chat_id}/content").content == b"please keep this"
    versions = object_versions(minio_client, service.bucket, chat_id)
    assert versions
    assert minio_client.is_object_legal_hold_enabled(
        service.bucket, object_key_for(chat_id), version_id=versions[0].version_id
    )
    assert object_versions(minio_client, service.bucket, call_id) == []

    released = legal.post(f"/v1/holds/{hold_id}/release")
    assert released.status_code == 200, released.text
    wait_for(
        lambda: legal.get(f"/v1/items/{chat_id}").status_code == 404,
        timeout_s=10,
        what="the deferred erasure",
    )
    assert object_versions(minio_client, service.bucket, chat_id) == []
    mine = select(tombstones).where(tombstones.c.item_id.in_([call_id, chat_id]))
    reasons = {row["item_id"]: row["reason"] for row in catalog_select(service, mine)}
    assert reasons == {call_id: "erasure", chat_id: "erasure"}
    privacy.close()
    legal.close()
