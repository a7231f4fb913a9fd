"""Releasing a hold with a reason, and the bounds of what a hold's request may carry."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from api.routes.holds import (
    MAX_ATTRIBUTE_NAME_CHARS,
    MAX_ATTRIBUTE_VALUE_CHARS,
    MAX_CRITERIA_VALUE_CHARS,
)
from storage.sql.schema import MAX_RELEASE_REASON_CHARS
from tests.unit.api.conftest import Harness


async def _place(http: httpx.AsyncClient, subject: str) -> str:
    placed = await http.post(
        "/v1/holds", json={"matter": "m-1", "criteria": {"subject_ids": [subject]}}
    )
    assert placed.status_code == 201, placed.text
    hold_id: str = placed.json()["hold_id"]
    return hold_id


async def _released_audit(harness: Harness) -> list[dict[str, Any]]:
    async with harness.client("auditor") as http:
        response = await http.get("/v1/audit", params={"action": "hold.released"})
    assert response.status_code == 200, response.text
    entries: list[dict[str, Any]] = response.json()["entries"]
    return entries


async def test_a_release_reason_is_kept_shown_and_audited(harness: Harness) -> None:
    reason = "Matter settled; court order of 2026-11-30"
    async with harness.client("legal") as http:
        hold_id = await _place(http, "cust-1")
        released = await http.post(f"/v1/holds/{hold_id}/release", json={"reason": reason})
        shown = await http.get(f"/v1/holds/{hold_id}")
        listed = await http.get("/v1/holds")
    assert released.status_code == 200, released.text
    assert released.json()["release_reason"] == reason
    assert shown.json()["release_reason"] == reason
    assert shown.json()["released_by"] == "legal-user"
    assert [h["release_reason"] for h in listed.json()["holds"]] == [reason]
    [entry] = await _released_audit(harness)
    assert entry["details"]["reason"] == reason
    assert entry["details"]["hold_id"] == hold_id


@pytest.mark.parametrize("body", [None, {}, {"reason": None}, {"reason": "   "}])
async def test_a_release_without_a_reason_still_releases(
    harness: Harness, body: dict[str, Any] | None
) -> None:
    async with harness.client("legal") as http:
        hold_id = await _place(http, "cust-2")
        released = await http.post(f"/v1/holds/{hold_id}/release", json=body)
        shown = await http.get(f"/v1/holds/{hold_id}")
    assert released.status_code == 200, released.text
    assert shown.json()["released_at"] is not None
    assert shown.json()["release_reason"] is None
    [entry] = await _released_audit(harness)
    assert "reason" not in entry["details"]


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"reason": "r" * (MAX_RELEASE_REASON_CHARS + 1)}, "reason"),
        ({"reason": "a\x00b"}, "reason"),
        ({"reason": 7}, "reason"),
        ({"why": "settled"}, "why"),
    ],
)
async def test_a_bad_release_body_is_422_naming_the_field_and_releases_nothing(
    harness: Harness, body: dict[str, Any], field: str
) -> None:
    async with harness.client("legal") as http:
        hold_id = await _place(http, "cust-3")
        refused = await http.post(f"/v1/holds/{hold_id}/release", json=body)
        shown = await http.get(f"/v1/holds/{hold_id}")
    assert refused.status_code == 422, refused.text
    assert refused.json()["field"] == field
    assert field in refused.json()["detail"]
    assert shown.json()["active"] is True


async def test_a_reason_at_its_bound_is_accepted(harness: Harness) -> None:
    reason = "r" * MAX_RELEASE_REASON_CHARS
    async with harness.client("legal") as http:
        hold_id = await _place(http, "cust-4")
        released = await http.post(f"/v1/holds/{hold_id}/release", json={"reason": reason})
    assert released.status_code == 200, released.text
    assert released.json()["release_reason"] == reason


def _long(name: str) -> str:
    return "v" * (MAX_CRITERIA_VALUE_CHARS[name] + 1)


@pytest.mark.parametrize(
    ("criteria", "field"),
    [
        ({"subject_ids": ["ok", _long("subject_ids")]}, "criteria.subject_ids[1]"),
        ({"addresses": [_long("addresses")]}, "criteria.addresses[0]"),
        ({"staff_ids": [_long("staff_ids")]}, "criteria.staff_ids[0]"),
        (
            {"attributes": {"desk": "v" * (MAX_ATTRIBUTE_VALUE_CHARS + 1)}},
            "criteria.attributes.desk",
        ),
        (
            {"attributes": {"desk": ["fx", "v" * (MAX_ATTRIBUTE_VALUE_CHARS + 1)]}},
            "criteria.attributes.desk[1]",
        ),
        ({"attributes": {"k" * (MAX_ATTRIBUTE_NAME_CHARS + 1): "v"}}, "criteria.attributes"),
    ],
)
async def test_overlong_criteria_values_are_422_naming_the_field(
    harness: Harness, criteria: dict[str, Any], field: str
) -> None:
    async with harness.client("legal") as http:
        placed = await http.post("/v1/holds", json={"matter": "m", "criteria": criteria})
        previewed = await http.post("/v1/holds/preview", json={"criteria": criteria})
        listed = await http.get("/v1/holds")
    for response in (placed, previewed):
        assert response.status_code == 422, response.text
        assert response.json()["field"] == field
        assert "characters" in response.json()["detail"]
    assert listed.json()["holds"] == []


async def test_criteria_values_at_their_bounds_are_accepted(harness: Harness) -> None:
    criteria = {
        "subject_ids": ["s" * MAX_CRITERIA_VALUE_CHARS["subject_ids"]],
        "addresses": ["a" * MAX_CRITERIA_VALUE_CHARS["addresses"]],
        "staff_ids": ["t" * MAX_CRITERIA_VALUE_CHARS["staff_ids"]],
        "attributes": {"k" * MAX_ATTRIBUTE_NAME_CHARS: ["v" * MAX_ATTRIBUTE_VALUE_CHARS]},
    }
    async with harness.client("legal") as http:
        placed = await http.post("/v1/holds", json={"matter": "m", "criteria": criteria})
    assert placed.status_code == 201, placed.text
    assert placed.json()["matched"] == 0


async def test_the_openapi_document_states_the_bounds(harness: Harness) -> None:
    async with harness.client() as http:
        doc = (await http.get("/openapi.json")).json()
    schemas = doc["components"]["schemas"]
    assert schemas["ReleaseBody"]["properties"]["reason"]["anyOf"][0]["maxLength"] == (
        MAX_RELEASE_REASON_CHARS
    )
    criteria = schemas["CriteriaBody"]["properties"]
    assert criteria["addresses"]["items"]["maxLength"] == MAX_CRITERIA_VALUE_CHARS["addresses"]
    assert criteria["attributes"]["propertyNames"]["maxLength"] == MAX_ATTRIBUTE_NAME_CHARS
