"""POST /v1/subjects/{subject_id}/rectification: relinking items, and what follows the link."""

from __future__ import annotations

from datetime import timedelta

import pytest

from storage.sql.subjects import SqlSubjectStore
from tests.unit.api.conftest import NOW, Harness

SALES = (
    ("quality", "legitimate_interests", timedelta(days=90)),
    ("training", "legitimate_interests", timedelta(days=365)),
    ("legal", "legal_obligation", timedelta(days=5 * 365)),
)


async def test_a_wrongly_linked_call_follows_the_right_subject(harness: Harness) -> None:
    item = await harness.add_item(
        item_type="call_recording",
        subject_id="cust-wrong",
        attributes={"queue": "sales"},
        purposes=SALES,
    )
    untouched = await harness.add_item(subject_id="cust-wrong")
    async with (
        harness.client("privacy") as privacy,
        harness.client("legal") as legal,
        harness.client("auditor") as auditor,
    ):
        granted = await privacy.post(
            "/v1/subjects/cust-right/consent", json={"purpose": "marketing", "granted": True}
        )
        assert granted.status_code == 200, granted.text
        objected = await privacy.post(
            "/v1/subjects/cust-right/objection", json={"purposes": ["training"]}
        )
        assert objected.status_code == 200, objected.text
        hold = await legal.post(
            "/v1/holds",
            json={"matter": "M-9", "description": "", "criteria": {"subject_ids": ["cust-right"]}},
        )
        disclosed = await legal.post(
            "/v1/disclosures",
            json={
                "recipient": "Court",
                "legal_basis": "court order",
                "reference": "CO-7",
                "item_ids": [item],
                "disclosed_at": (NOW - timedelta(days=1)).isoformat(),
            },
        )
        assert disclosed.status_code == 201, disclosed.text

        answer = await privacy.post(
            "/v1/subjects/cust-wrong/rectification",
            json={
                "item_id": item,
                "set": {"subject_id": "cust-right", "display_name": "R. Right"},
                "reason": "the CRM matched the wrong number",
            },
        )
        assert answer.status_code == 200, answer.text
        body = answer.json()
        assert [i["item_id"] for i in body["items"]] == [item]
        changed = body["items"][0]
        assert changed["before"][0]["subject_id"] == "cust-wrong"
        assert changed["after"][0]["subject_id"] == "cust-right"
        assert changed["purposes_added"] == ["marketing"]
        assert changed["purposes_removed"] == ["training"]
        assert changed["holds_added"] == [hold.json()["hold_id"]]
        assert [r["recipient"] for r in body["recipients_to_inform"]] == ["Court"]

        shown = (await legal.get(f"/v1/items/{item}")).json()
        assert shown["parties"][0]["subject_id"] == "cust-right"
        assert shown["parties"][0]["display_name"] == "R. Right"
        assert {p["name"] for p in shown["purposes"]} == {"quality", "legal", "marketing"}
        assert shown["holds"] == [hold.json()["hold_id"]]
        right = (await legal.get("/v1/items", params={"subject_id": "cust-right"})).json()
        wrong = (await legal.get("/v1/items", params={"subject_id": "cust-wrong"})).json()
        assert [i["item_id"] for i in right["items"]] == [item]
        assert [i["item_id"] for i in wrong["items"]] == [untouched]
        register = await privacy.get("/v1/disclosures", params={"subject_id": "cust-right"})
        assert [e["item_ids"] for e in register.json()["disclosures"]] == [[item]]

        trail = await auditor.get("/v1/audit", params={"action": "rectification"})
        entry = trail.json()["entries"][0]
        assert entry["item_id"] == item
        assert entry["actor"] == "privacy-user"
        assert entry["details"]["before"][0]["subject_id"] == "cust-wrong"
        assert entry["details"]["reason"] == "the CRM matched the wrong number"


async def test_an_address_rectifies_every_item_of_the_subject_with_it(harness: Harness) -> None:
    first = await harness.add_item(subject_id="cust-a")
    second = await harness.add_item(subject_id="cust-a")
    async with harness.client("privacy") as privacy:
        answer = await privacy.post(
            "/v1/subjects/cust-a/rectification",
            json={"address": "VISITOR-1", "set": {"display_name": "Ann"}, "reason": "typo"},
        )
        assert answer.status_code == 200, answer.text
        assert {i["item_id"] for i in answer.json()["items"]} == {first, second}
        shown = (await privacy.get(f"/v1/items/{first}")).json()
    assert shown["parties"][0]["display_name"] == "Ann"
    assert shown["parties"][0]["subject_id"] == "cust-a"


_FIX = {"set": {"subject_id": "cust-y"}, "reason": "r"}


@pytest.mark.parametrize(
    ("subject", "body", "status", "field"),
    [
        ("cust-b", {"item_id": "x", "set": {}, "reason": "r"}, 422, "set"),
        ("cust-b", {"set": {"subject_id": "cust-y"}, "reason": "r"}, 422, "item_id"),
        (
            "cust-b",
            {"address": "visitor-1", "set": {"subject_id": "cust-b"}, "reason": "r"},
            422,
            "set.subject_id",
        ),
        ("cust-b", {"address": "visitor-1", "set": {"subject_id": "cust-y"}}, 422, "reason"),
        ("cust-b", {**_FIX, "address": "visitor-1", "x": 1}, 422, "x"),
        ("cust-nobody", {**_FIX, "address": "visitor-1"}, 404, "no item"),
        ("cust-b", {**_FIX, "address": "nowhere"}, 404, "no item"),
        ("cust-b", {**_FIX, "item_id": "no-such-item"}, 404, "no item"),
    ],
)
async def test_bad_rectifications_are_refused(
    harness: Harness, subject: str, body: dict[str, object], status: int, field: str
) -> None:
    await harness.add_item(subject_id="cust-b")
    async with harness.client("privacy") as privacy:
        refused = await privacy.post(f"/v1/subjects/{subject}/rectification", json=body)
    assert refused.status_code == status, refused.text
    assert field in refused.text


@pytest.mark.parametrize("role", ["ingest", "qa", "legal", "auditor", "admin"])
async def test_only_privacy_rectifies(harness: Harness, role: str) -> None:
    async with harness.client(role) as http:
        refused = await http.post(
            "/v1/subjects/cust-b/rectification",
            json={"address": "a", "set": {"display_name": "b"}, "reason": "r"},
        )
    assert refused.status_code == 403


async def test_the_wrong_subjects_queued_erasure_no_longer_reaches_the_item(
    harness: Harness,
) -> None:
    item = await harness.add_item(
        subject_id="cust-q",
        staff_id="agent-h",
        purposes=(("quality", "legitimate_interests", timedelta(days=90)),),
    )
    async with harness.client("privacy") as privacy, harness.client("legal") as legal:
        hold = await legal.post(
            "/v1/holds",
            json={"matter": "Q-1", "description": "", "criteria": {"staff_ids": ["agent-h"]}},
        )
        erased = await privacy.post("/v1/subjects/cust-q/erasure")
        assert erased.json()["deferred"] == [item]
        answer = await privacy.post(
            "/v1/subjects/cust-q/rectification",
            json={"item_id": item, "set": {"subject_id": "cust-q2"}, "reason": "wrong match"},
        )
        assert answer.status_code == 200, answer.text
        assert hold.status_code == 201, hold.text
    # Off the queue: releasing the hold will not erase the right subject's item.
    assert await SqlSubjectStore(harness.storage.db).pending_deferred() == []
