"""The role matrix enforced on every route, the error model, OpenAPI and metrics."""

from __future__ import annotations

import re
from pathlib import Path

import httpx
import pytest

from api.roles import ROUTE_ROLES, match_template
from api.services import Caller
from storage.errors import (
    CatalogConflictError,
    CatalogError,
    CatalogUnavailableError,
    IntegrityError,
    ObjectStoreUnavailableError,
)
from tests.unit.api.conftest import ROLES, Harness, build_harness

MATRIX = sorted(ROUTE_ROLES.items())


def _concrete(path: str) -> str:
    return re.sub(r"\{[^}]+\}", "x-1", path)


@pytest.mark.parametrize(("route", "allowed"), MATRIX, ids=[f"{m} {p}" for (m, p), _ in MATRIX])
async def test_every_route_refuses_anonymous_unknown_and_disallowed_callers(
    harness: Harness, route: tuple[str, str], allowed: frozenset[str]
) -> None:
    method, template = route
    url = _concrete(template)
    async with harness.client() as anonymous, harness.client(token="no-such-token") as unknown:
        for client in (anonymous, unknown):
            # A broken body must not matter: the caller is checked before anything else.
            response = await client.request(method, url, content=b"{broken")
            assert response.status_code == 401, (method, url)
            assert response.headers["www-authenticate"] == "Bearer"
            assert response.json()["error"] == "UnauthenticatedError"
    for role in sorted(set(ROLES) - allowed):
        async with harness.client(role) as client:
            response = await client.request(method, url, content=b"{broken")
        assert response.status_code == 403, (method, url, role)
        assert response.json()["error"] == "ForbiddenError"


async def test_malformed_authorization_headers_are_401(harness: Harness) -> None:
    async with harness.client() as http:
        for header in ("unit-legal", "Basic unit-legal", "Bearer", "Bearer  "):
            response = await http.get("/v1/items", headers={"Authorization": header})
            assert response.status_code == 401, header


def test_literal_segments_win_over_parameters() -> None:
    assert match_template("POST", "/v1/holds/preview") == (
        "/v1/holds/preview",
        ROUTE_ROLES[("POST", "/v1/holds/preview")],
    )
    found = match_template("HEAD", "/v1/items/abc/content")
    assert found is not None
    assert found[0] == "/v1/items/{item_id}/content"
    assert match_template("DELETE", "/v1/items/abc") is None
    assert match_template("GET", "/v1/items/a/b/c") is None


async def test_routes_missing_from_the_matrix_are_refused_to_everyone(harness: Harness) -> None:
    async def unlisted(caller: Caller) -> dict[str, str]:
        return {"caller": caller.name}

    async def unguarded() -> dict[str, str]:
        return {"public": "oops"}

    harness.app.add_api_route("/v1/unlisted", unlisted, methods=["GET"])
    harness.app.add_api_route("/v1/unguarded", unguarded, methods=["GET"])
    for path in ("/v1/unlisted", "/v1/unguarded"):
        async with harness.client() as anonymous:
            assert (await anonymous.get(path)).status_code == 401
        for role in ROLES:
            async with harness.client(role) as http:
                assert (await http.get(path)).status_code == 403, (path, role)
    async with harness.client("legal") as http:
        assert (await http.get("/v1/nothing-here")).status_code == 404


async def test_public_routes_need_no_token(harness: Harness) -> None:
    async with harness.client() as http:
        assert (await http.get("/healthz")).json() == {"status": "ok"}
        assert (await http.get("/openapi.json")).status_code == 200
        assert (await http.get("/metrics")).status_code == 200


async def test_openapi_declares_every_route_with_its_errors(harness: Harness) -> None:
    async with harness.client() as http:
        doc = (await http.get("/openapi.json")).json()
    operations = {
        (method.upper(), path): op
        for path, ops in doc["paths"].items()
        for method, op in ops.items()
    }
    protected = {key for key in operations if key[1].startswith("/v1/")}
    assert protected == set(ROUTE_ROLES), "routes and the role matrix differ"
    error_ref = {"$ref": "#/components/schemas/ErrorBody"}
    for key in protected:
        responses = operations[key]["responses"]
        for status in ("401", "403", "422", "500", "503"):
            assert responses[status]["content"]["application/json"]["schema"] == error_ref, (
                key,
                status,
            )
        assert operations[key]["security"] == [{"bearer": []}]
        if "{" in key[1]:
            assert "404" in responses, key
    assert "HTTPValidationError" not in doc["components"]["schemas"]
    assert doc["components"]["securitySchemes"]["bearer"]["scheme"] == "bearer"


async def test_validation_errors_name_the_field_and_location(harness: Harness) -> None:
    async with harness.client("legal") as http:
        response = await http.get("/v1/items", params={"limit": "many"})
    body = response.json()
    assert response.status_code == 422
    assert body["field"] == "limit"
    assert body["errors"][0]["location"] == "query"
    assert "limit" in body["detail"]


@pytest.mark.parametrize("body", [b"{broken", b"\xff\xfe\x00", b"[1, 2"])
async def test_unparsable_bodies_are_422_naming_the_body(harness: Harness, body: bytes) -> None:
    async with harness.client("legal") as http:
        response = await http.post(
            "/v1/holds", content=body, headers={"Content-Type": "application/json"}
        )
    assert response.status_code == 422
    assert response.json()["field"] == "(body)"
    assert response.json()["error"] == "ValidationError"


@pytest.mark.parametrize(
    ("error", "status", "name"),
    [
        (IntegrityError("segment 3 failed", item_id="i-1", segment=3), 500, "IntegrityError"),
        (ObjectStoreUnavailableError("SlowDown"), 503, "UnavailableError"),
        (CatalogUnavailableError("catalog unavailable", code="SQLITE_BUSY"), 503, None),
        (CatalogConflictError("catalog refused a conflicting write"), 409, "ConflictError"),
        (CatalogError("catalog ProgrammingError", code="42P01"), 500, "InternalError"),
        (RuntimeError("boom at /secret/path"), 500, "InternalError"),
    ],
)
async def test_failures_are_clean_json_without_traces(
    tmp_path: Path, error: Exception, status: int, name: str | None
) -> None:
    harness = await build_harness(tmp_path)

    async def failing() -> None:
        raise error

    harness.app.add_api_route("/boom", failing, methods=["GET"])
    transport = httpx.ASGITransport(app=harness.app, raise_app_exceptions=False)
    try:
        async with httpx.AsyncClient(transport=transport, base_url="http://api") as http:
            response = await http.get("/boom")
    finally:
        await harness.close()
    assert response.status_code == status
    body = response.json()
    assert set(body) <= {"error", "detail", "field", "errors"}
    if name:
        assert body["error"] == name
    for leak in ("Traceback", "cust-42", "/secret/path", "segment 3", 'File "'):
        assert leak not in response.text


async def test_metrics_count_requests_by_route_template(harness: Harness) -> None:
    item_id = await harness.add_item()
    async with harness.client("legal") as http:
        await http.get(f"/v1/items/{item_id}")
        await http.get("/v1/items/another")
    async with harness.client() as anonymous:
        await anonymous.get("/v1/items")
        text = (await anonymous.get("/metrics")).text
    assert (
        'keepline_api_requests_total{method="GET",route="/v1/items/{item_id}",status="200"} 1.0'
        in text
    )
    assert (
        'keepline_api_requests_total{method="GET",route="/v1/items/{item_id}",status="404"} 1.0'
        in text
    )
    assert 'keepline_api_requests_total{method="GET",route="/v1/items",status="401"} 1.0' in text
    assert item_id not in text
