"""The OpenAPI document explains every request, and its docs are served without a CDN."""

from __future__ import annotations

import re
from typing import Any

import pytest

from api.schemas import EVENT_EXAMPLES, public_description
from tests.contract_examples import example
from tests.unit.api.conftest import Harness

_BODY_ROUTES = (
    ("post", "/v1/events"),
    ("post", "/v1/holds"),
    ("post", "/v1/holds/preview"),
    ("put", "/v1/policy"),
    ("post", "/v1/subjects/{subject_id}/restriction"),
    ("post", "/v1/subjects/{subject_id}/objection"),
    ("post", "/v1/subjects/{subject_id}/consent"),
)


async def _document(harness: Harness) -> dict[str, Any]:
    async with harness.client() as http:
        response = await http.get("/openapi.json")
    assert response.status_code == 200
    document: dict[str, Any] = response.json()
    return document


def _schema(doc: dict[str, Any], ref_or_schema: dict[str, Any]) -> dict[str, Any]:
    # An optional body is anyOf [the body, null].
    options = [s for s in ref_or_schema.get("anyOf", []) if s.get("type") != "null"]
    if len(options) == 1:
        ref_or_schema = options[0]
    ref = ref_or_schema.get("$ref")
    if ref is None:
        return ref_or_schema
    found: dict[str, Any] = doc["components"]["schemas"][ref.rsplit("/", 1)[1]]
    return found


async def test_events_are_a_discriminated_union_of_the_three_artefacts(harness: Harness) -> None:
    doc = await _document(harness)
    body = doc["paths"]["/v1/events"]["post"]["requestBody"]["content"]["application/json"]
    union = body["schema"]
    assert union["discriminator"]["propertyName"] == "type"
    assert set(union["discriminator"]["mapping"]) == {"call_recording", "email", "chat"}
    call = _schema(doc, {"$ref": union["discriminator"]["mapping"]["call_recording"]})
    assert call["properties"]["direction"]["enum"] == ["inbound", "outbound", "internal"]
    assert {"call_id", "started_at", "ended_at", "parties", "content"} <= set(call["properties"])
    assert {"type", "call_id", "direction", "started_at", "ended_at"} <= set(call["required"])
    party = doc["components"]["schemas"]["Party"]
    assert "caller" in party["properties"]["role"]["description"]
    content = doc["components"]["schemas"]["ContentRef"]
    assert set(content["required"]) == {"uri", "sha256", "size_bytes", "content_type"}
    assert "s3://" in content["properties"]["uri"]["description"]


async def test_the_event_examples_are_the_contracts(harness: Harness) -> None:
    doc = await _document(harness)
    body = doc["paths"]["/v1/events"]["post"]["requestBody"]["content"]["application/json"]
    assert {name: e["value"] for name, e in body["examples"].items()} == {
        name: example(name) for name in ("call_recording", "email", "chat")
    }
    assert example("call_recording") == EVENT_EXAMPLES["call_recording"]


@pytest.mark.parametrize(("method", "path"), _BODY_ROUTES)
async def test_every_body_has_a_typed_schema_and_an_example(
    harness: Harness, method: str, path: str
) -> None:
    doc = await _document(harness)
    content = doc["paths"][path][method]["requestBody"]["content"]
    for media in content.values():
        schema = _schema(doc, media["schema"])
        assert schema.get("type") != "object" or schema.get("properties"), (path, schema)
        examples = media.get("example") or media.get("examples") or schema.get("examples")
        assert examples, (path, media)


async def test_hold_criteria_are_typed(harness: Harness) -> None:
    doc = await _document(harness)
    hold = doc["components"]["schemas"]["HoldBody"]
    criteria = _schema(doc, hold["properties"]["criteria"])
    assert set(criteria["properties"]) == {
        "subject_ids",
        "addresses",
        "staff_ids",
        "types",
        "since",
        "until",
        "attributes",
    }
    assert criteria["properties"]["types"]["items"]["enum"] == ["call_recording", "email", "chat"]
    assert criteria["properties"]["since"]["format"] == "date-time"
    assert criteria["additionalProperties"] is False


async def test_descriptions_show_no_docstring_internals(harness: Harness) -> None:
    doc = await _document(harness)
    internal = re.compile(r"Raises:|Args:|Returns:|``|\b(api|streams|service|storage)\.\w+\.")
    for path, operations in doc["paths"].items():
        for method, operation in operations.items():
            assert not internal.search(operation.get("description", "")), (method, path)


def test_public_description_drops_sections_and_module_paths() -> None:
    text = (
        "Validate it (``service.ingest.models.validate_artefact``), then publish.\n\n"
        "Raises:\n    BadRequestError: 422.\n        More.\n\nAfter the section."
    )
    assert public_description(text) == "Validate it, then publish.\n\nAfter the section."


async def test_docs_are_served_from_local_assets(harness: Harness) -> None:
    async with harness.client() as http:
        page = await http.get("/docs")
        assert page.status_code == 200
        sources = re.findall(r'(?:src|href)="([^"]+)"', page.text)
        assert sources
        assert all(s.startswith("/docs/assets/") for s in sources), sources
        for source in sources:
            asset = await http.get(source)
            assert asset.status_code == 200, source
            assert len(asset.content) > 100
        assert (await http.get("/redoc")).status_code == 404


async def test_events_must_have_the_documented_json_types(harness: Harness) -> None:
    event = example("call_recording")
    event["occurred_at"] = 0  # a worker would read this as 1970; the API refuses it
    async with harness.client("ingest") as http:
        refused = await http.post("/v1/events", json=event)
        accepted = await http.post("/v1/events", json=example("call_recording"))
        garbled = await http.post(
            "/v1/events", content=b"{nope", headers={"content-type": "application/json"}
        )
    assert refused.status_code == 422
    assert refused.json()["field"] == "occurred_at"
    assert accepted.status_code == 202, accepted.text
    assert garbled.status_code == 422
    assert garbled.json()["field"] == "(body)"
    assert "not valid JSON" in garbled.json()["detail"]


@pytest.mark.parametrize("kind", [{"a": 1}, ["chat"], 7])
async def test_a_type_that_is_not_a_string_is_422_not_500(harness: Harness, kind: object) -> None:
    event = example("chat")
    event["type"] = kind
    async with harness.client("ingest") as http:
        response = await http.post("/v1/events", json=event)
    assert response.status_code == 422
    assert response.json()["field"] == "type"
    assert "call_recording, chat, email" in response.json()["detail"]
