"""PUT /v1/policy and POST /v1/policy/dry-run on a real catalog."""

from __future__ import annotations

from api.schemas import example_policy_text
from tests.unit.api.conftest import Harness

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
