"""One error shape: what is wrong with a field, and an example of a valid value."""

from __future__ import annotations

import logging
import re
from pathlib import Path

import pytest

from api.routes.audit import AUDIT_ACTIONS
from service.subjects.service import SubjectRightsService
from storage.errors import ObjectStoreUnavailableError
from tests.contract_examples import example
from tests.unit.api.conftest import Harness

ROOT = Path(__file__).resolve().parents[3]


@pytest.mark.parametrize(
    ("role", "path", "field", "answer"),
    [
        (
            "auditor",
            "/v1/audit?since=yesterday",
            "since",
            "must be an RFC 3339 timestamp with a UTC offset, e.g. 2026-01-31T09:00:00Z",
        ),
        (
            "legal",
            "/v1/items?until=2026",
            "until",
            "must be an RFC 3339 timestamp with a UTC offset, e.g. 2026-01-31T09:00:00Z",
        ),
        ("auditor", "/v1/audit?limit=many", "limit", "must be a whole number, e.g. 100"),
        ("auditor", "/v1/audit?limit=0", "limit", "must be at least 1, e.g. 100"),
        ("legal", "/v1/holds?active=maybe", "active", "must be true or false"),
    ],
)
async def test_framework_errors_say_what_is_wrong_with_an_example(
    harness: Harness, role: str, path: str, field: str, answer: str
) -> None:
    async with harness.client(role) as http:
        response = await http.get(path)
    body = response.json()
    assert response.status_code == 422
    assert body["field"] == field
    assert body["detail"] == f"{field}: {answer}"
    assert body["errors"] == [{"field": field, "location": "query", "message": answer}]
    assert "\\d" not in response.text  # never a regular expression


async def test_body_errors_name_the_field_and_the_allowed_ones(harness: Harness) -> None:
    async with harness.client("legal") as http:
        unknown = await http.post("/v1/holds", json={"matter": "m", "criteria": {"colour": ["x"]}})
        missing = await http.post("/v1/holds", json={"criteria": {"types": ["chat"]}})
    assert unknown.status_code == 422
    assert unknown.json()["field"] == "criteria.colour"
    assert "the fields are subject_ids, addresses, staff_ids, types" in unknown.json()["detail"]
    assert (missing.status_code, missing.json()["detail"]) == (422, "matter: is required")


async def test_a_mistyped_audit_action_is_422_listing_the_actions(harness: Harness) -> None:
    async with harness.client("auditor") as http:
        typo = await http.get("/v1/audit", params={"action": "content.reed"})
        known = await http.get("/v1/audit", params={"action": "content.read"})
    assert typo.status_code == 422
    assert typo.json()["field"] == "action"
    assert "'content.reed' is not an audit action" in typo.json()["detail"]
    assert "content.read, erasure.completed" in typo.json()["detail"]
    assert known.status_code == 200


def test_every_action_the_code_audits_is_a_known_action() -> None:
    written = set()
    for package in ("api", "service", "storage", "streams", "keepline"):
        for path in (ROOT / package).rglob("*.py"):
            written |= set(re.findall(r'\baction="([a-z_]+(?:\.[a-z_]+)*)"', path.read_text()))
    written -= {"store_true", "store_false", "append", "count"}
    assert written
    assert written <= AUDIT_ACTIONS, written - AUDIT_ACTIONS


async def test_an_event_missing_several_fields_names_them_all_with_examples(
    harness: Harness,
) -> None:
    event = example("call_recording")
    for name in ("direction", "call_id", "started_at"):
        del event[name]
    async with harness.client("ingest") as http:
        response = await http.post("/v1/events", json=event)
    body = response.json()
    assert response.status_code == 422
    assert body["field"] == "call_id"
    assert body["errors"] == [
        {"field": "call_id", "location": "body", "message": 'is required, e.g. "c-8f2a61"'},
        {"field": "direction", "location": "body", "message": 'is required, e.g. "inbound"'},
        {
            "field": "started_at",
            "location": "body",
            "message": 'is required, e.g. "2026-11-21T10:00:00+00:00"',
        },
    ]
    assert body["detail"] == "; ".join(f"{e['field']}: {e['message']}" for e in body["errors"])


async def test_error_logs_name_the_route_never_the_path_with_its_subject_id(
    harness: Harness, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    async def unavailable(*_args: object, **_kwargs: object) -> None:
        raise ObjectStoreUnavailableError("down")

    monkeypatch.setattr(SubjectRightsService, "restriction", unavailable)
    with caplog.at_level(logging.WARNING, logger="api.errors"):
        async with harness.client("privacy") as http:
            response = await http.post(
                "/v1/subjects/cust-4711-secret/restriction", json={"restricted": True}
            )
    assert response.status_code == 503
    assert "/v1/subjects/{subject_id}/restriction" in caplog.text
    assert "cust-4711-secret" not in caplog.text
