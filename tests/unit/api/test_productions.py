"""Legal productions over HTTP: request (202), status and progress, download (legal only)."""

from __future__ import annotations

from pathlib import Path

import pytest

from keepline.commands.verify import verify_file
from service.productions.service import ProductionService
from tests.unit.api.conftest import TOKENS, Harness


def productions(harness: Harness) -> ProductionService:
    service: ProductionService | None = harness.app.state.services.productions
    assert service is not None
    return service


async def place_hold(harness: Harness) -> str:
    async with harness.client("legal") as http:
        response = await http.post(
            "/v1/holds",
            json={"matter": "M-1", "description": "", "criteria": {"types": ["chat"]}},
        )
    assert response.status_code == 201, response.text
    hold_id: str = response.json()["hold_id"]
    return hold_id


async def test_a_production_is_requested_followed_and_downloaded(
    harness: Harness, tmp_path: Path
) -> None:
    item_id = await harness.add_content(b"agent: hello\n")
    hold_id = await place_hold(harness)
    async with harness.client("legal") as http:
        requested = await http.post(f"/v1/holds/{hold_id}/productions")
        assert requested.status_code == 202, requested.text
        production_id = requested.json()["production_id"]
        queued = (await http.get(f"/v1/productions/{production_id}")).json()
        assert queued["status"] == "queued"
        assert queued["progress"]["items_total"] == 1
        early = await http.get(f"/v1/productions/{production_id}/download")
        assert early.status_code == 409

        assert await productions(harness).run_pending("unit-builder") == 1

        ready = (await http.get(f"/v1/productions/{production_id}")).json()
        assert ready["status"] == "ready"
        assert ready["progress"] == {
            "items_total": 1,
            "items_done": 1,
            "bytes_done": 13,
            "percent": 100.0,
        }
        download = await http.get(f"/v1/productions/{production_id}/download")
        assert download.status_code == 200
        assert download.headers["content-type"] == "application/zip"
        assert int(download.headers["content-length"]) == ready["size_bytes"]
        keys = (await http.get("/v1/signing-keys")).json()
    path = tmp_path / "production.zip"
    path.write_bytes(download.content)
    verdict = verify_file(path, keys)
    assert verdict.ok, verdict.problems
    entries = await harness.storage.audit.query(action="production.downloaded")
    assert [(e.actor, e.details["production_id"]) for e in entries] == [
        ("legal-user", production_id)
    ]
    ready_entries = await harness.storage.audit.query(action="production.ready")
    assert ready_entries[0].details["item_ids"] == [item_id]


async def test_unknown_and_released_holds_and_unknown_productions(harness: Harness) -> None:
    hold_id = await place_hold(harness)
    async with harness.client("legal") as http:
        assert (await http.post(f"/v1/holds/{hold_id}/release")).status_code == 200
        assert (await http.post(f"/v1/holds/{hold_id}/productions")).status_code == 409
        assert (await http.post("/v1/holds/no-such-hold/productions")).status_code == 404
        assert (await http.get("/v1/productions/no-such")).status_code == 404
        assert (await http.get("/v1/productions/no-such/download")).status_code == 404


@pytest.mark.parametrize("role", sorted(set(TOKENS) - {"legal"}))
async def test_only_legal_may_produce(harness: Harness, role: str) -> None:
    hold_id = await place_hold(harness)
    async with harness.client("legal") as http:
        production_id = (await http.post(f"/v1/holds/{hold_id}/productions")).json()[
            "production_id"
        ]
    async with harness.client(role) as http:
        assert (await http.post(f"/v1/holds/{hold_id}/productions")).status_code == 403
        assert (await http.get(f"/v1/productions/{production_id}")).status_code == 403
        assert (await http.get(f"/v1/productions/{production_id}/download")).status_code == 403
    async with harness.client() as http:
        assert (await http.get(f"/v1/productions/{production_id}")).status_code == 401
