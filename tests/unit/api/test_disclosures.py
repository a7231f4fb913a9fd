"""POST and GET /v1/disclosures: the register of disclosures to third parties."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest

from tests.unit.api.conftest import NOW, Harness


def body(**changes: Any) -> dict[str, Any]:
    """A court-order disclosure, an hour before NOW, of the items given in changes."""
    values: dict[str, Any] = {
        "recipient": "Metropolitan Police",
        "legal_basis": "crime prevention",
        "reference": "MPS-2026-4411",
        "disclosed_at": (NOW - timedelta(hours=1)).isoformat(),
    }
    values.update(changes)
    return values


async def test_legal_enters_a_disclosure_and_the_register_lists_it_by_subject(
    harness: Harness,
) -> None:
    ann = await harness.add_item(subject_id="ann")
    bob = await harness.add_item(subject_id="bob")
    async with harness.client("legal") as legal:
        made = await legal.post("/v1/disclosures", json=body(item_ids=[ann, bob]))
        assert made.status_code == 201, made.text
        entry = made.json()
        assert entry["recipient"] == "Metropolitan Police"
        assert entry["recorded_by"] == "legal-user"
        assert sorted(entry["item_ids"]) == sorted([ann, bob])
        assert entry["hold_id"] is None
        later = await legal.post(
            "/v1/disclosures", json=body(item_ids=[bob], disclosed_at=NOW.isoformat())
        )
        assert later.status_code == 201, later.text
    for role in ("legal", "privacy", "auditor"):
        async with harness.client(role) as http:
            listed = await http.get("/v1/disclosures", params={"subject_id": "ann"})
            assert listed.status_code == 200, listed.text
            assert [(e["disclosure_id"], e["item_ids"]) for e in listed.json()["disclosures"]] == [
                (entry["disclosure_id"], [ann])
            ]
    async with harness.client("privacy") as privacy:
        recent = await privacy.get("/v1/disclosures", params={"since": NOW.isoformat()})
        assert [e["disclosure_id"] for e in recent.json()["disclosures"]] == [
            later.json()["disclosure_id"]
        ]
    async with harness.client("auditor") as auditor:
        trail = (await auditor.get("/v1/audit", params={"action": "register.recorded"})).json()
    recorded = trail["entries"][0]
    assert recorded["actor"] == "legal-user"
    assert recorded["details"]["disclosure_id"] == entry["disclosure_id"]
    assert recorded["details"]["reference"] == "MPS-2026-4411"
    assert recorded["details"]["items"] == 2


async def test_a_hold_disclosure_holds_the_items_the_hold_covers(harness: Harness) -> None:
    held = await harness.add_item(subject_id="ann", staff_id="agent-9")
    await harness.add_item(subject_id="ann", staff_id="agent-1")
    async with harness.client("legal") as legal:
        hold = await legal.post(
            "/v1/holds",
            json={"matter": "M-1", "description": "", "criteria": {"staff_ids": ["agent-9"]}},
        )
        assert hold.status_code == 201, hold.text
        made = await legal.post("/v1/disclosures", json=body(hold_id=hold.json()["hold_id"]))
    assert made.status_code == 201, made.text
    assert made.json()["item_ids"] == [held]
    assert made.json()["hold_id"] == hold.json()["hold_id"]


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({}, "item_ids"),
        ({"item_ids": ["x"], "hold_id": "h"}, "item_ids"),
        ({"item_ids": ["no-such-item"]}, "item_ids[0]"),
        ({"hold_id": "no-such-hold"}, "hold_id"),
        ({"item_ids": []}, "item_ids"),
        ({"recipient": " "}, "recipient"),
        ({"recipient": "a\nb"}, "recipient"),
        ({"disclosed_at": "2026-11-25T10:00:00"}, "disclosed_at"),
        ({"disclosed_at": (NOW + timedelta(days=1)).isoformat()}, "disclosed_at"),
    ],
)
async def test_bad_entries_are_refused_naming_the_field(
    harness: Harness, changes: dict[str, Any], field: str
) -> None:
    if "item_ids" not in changes and "hold_id" not in changes and changes:
        changes = {**changes, "item_ids": [await harness.add_item()]}
    async with harness.client("legal") as legal:
        refused = await legal.post("/v1/disclosures", json=body(**changes))
    assert refused.status_code == 422, refused.text
    assert field in refused.text


@pytest.mark.parametrize("role", ["ingest", "qa", "privacy", "auditor", "admin"])
async def test_only_legal_enters_disclosures(harness: Harness, role: str) -> None:
    async with harness.client(role) as http:
        assert (await http.post("/v1/disclosures", json=body())).status_code == 403


@pytest.mark.parametrize("role", ["ingest", "qa", "admin"])
async def test_the_register_is_not_for_other_roles(harness: Harness, role: str) -> None:
    async with harness.client(role) as http:
        assert (await http.get("/v1/disclosures")).status_code == 403
    async with harness.client() as anonymous:
        assert (await anonymous.get("/v1/disclosures")).status_code == 401
