"""PUT /v1/policy and POST /v1/policy/dry-run on a real catalog."""

from __future__ import annotations

from datetime import timedelta

import pytest

from api.schemas import example_policy_text
from tests.unit.api.conftest import NOW, Harness

UNKNOWN_ROLE = example_policy_text().replace("roles: [qa]}", "roles: [qa-trainers]}")


async def test_a_policy_naming_an_unknown_role_is_refused_with_line_and_field(
    harness: Harness,
) -> None:
    async with harness.client("admin") as http:
        before = (await http.get("/v1/policy")).json()["version"]
        response = await http.put(
            "/v1/policy", content=UNKNOWN_ROLE, headers={"content-type": "application/yaml"}
        )
        after = (await http.get("/v1/policy")).json()["version"]
    assert response.status_code == 422
    body = response.json()
    assert body["field"] == "purposes.training.roles[0]"
    assert body["detail"].startswith(
        "purposes.training.roles[0]: line 4: 'qa-trainers' is not a role"
    )
    assert "reader_roles" in body["detail"]
    assert after == before


SHORTER = """\
purposes:
  quality: {basis: legitimate_interests, retention: P7D, roles: [qa, legal]}
  legal:   {basis: legal_obligation,     retention: P5Y, roles: [legal]}
rules:
  - match: {type: chat}
    purposes: [quality]
  - match: {type: email}
    purposes: [legal]
"""


async def test_a_dry_run_says_what_would_change_and_activates_nothing(harness: Harness) -> None:
    ten_days_ago = NOW - timedelta(days=10)
    doomed = await harness.add_item(occurred_at=ten_days_ago, subject_id="cust-1")
    held = await harness.add_item(occurred_at=ten_days_ago, subject_id="cust-held")
    async with harness.client("legal") as http:
        hold = await http.post(
            "/v1/holds", json={"matter": "m-1", "criteria": {"subject_ids": ["cust-held"]}}
        )
        assert hold.status_code == 201, hold.text
    async with harness.client("admin") as http:
        before = (await http.get("/v1/policy")).json()["version"]
        response = await http.post(
            "/v1/policy/dry-run", content=SHORTER, headers={"content-type": "application/yaml"}
        )
        after = (await http.get("/v1/policy")).json()["version"]
    assert response.status_code == 200, response.text
    plan = response.json()
    assert after == before  # nothing was activated
    assert (plan["dry_run"], plan["activated"], plan["previous_version"]) == (True, False, before)
    assert (plan["items_examined"], plan["items_changed"]) == (2, 2)
    assert plan["changes"] == {
        "added": {},
        "removed": {"legal": 2},
        "moved": {"quality": 2},
        "restated": {},
    }
    assert plan["would_become_destroyable"] == {"count": 1, "item_ids": [doomed]}
    assert held not in plan["would_become_destroyable"]["item_ids"]
    async with harness.client("auditor") as http:
        entries = (await http.get("/v1/audit", params={"action": "policy.changed"})).json()
    assert entries["entries"] == []


@pytest.mark.parametrize("role", ["ingest", "qa", "legal", "privacy", "auditor"])
async def test_only_admin_may_dry_run(harness: Harness, role: str) -> None:
    async with harness.client(role) as http:
        response = await http.post("/v1/policy/dry-run", content=SHORTER)
    assert response.status_code == 403


async def test_a_dry_run_of_an_invalid_policy_names_line_and_field(harness: Harness) -> None:
    async with harness.client("admin") as http:
        response = await http.post("/v1/policy/dry-run", json={"policy": UNKNOWN_ROLE})
    assert response.status_code == 422
    assert response.json()["field"] == "purposes.training.roles[0]"
