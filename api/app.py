"""The API's composition root: create_app(settings) -> FastAPI."""

from __future__ import annotations

import time
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from fastapi import FastAPI
from fastapi.openapi.utils import get_openapi
from prometheus_client import CollectorRegistry, Counter, Histogram
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from api.body_limit import DEFAULT_BODY_BYTES, BodyLimit
from api.console.routes import router as console_router
from api.docs import install_docs
from api.errors import ERROR_DESCRIPTIONS, ErrorBody, install_error_handlers
from api.hold_metrics import HoldFlagMetrics
from api.roles import allowed_roles
from api.routes import (
    audit,
    content_urls,
    dead_letters,
    disclosures,
    disposals,
    events,
    fixity,
    health,
    holds,
    items,
    policy,
    session,
    signing_keys,
    subjects,
)
from api.routes import productions as productions_routes
from api.routes import retention as retention_routes
from api.routes import reviews as review_routes
from api.schemas import complete_document
from api.services import TEMPLATE_KEY, ApiServices, RoleGate


def _now() -> datetime:
    return datetime.now(UTC)


#: Methods counted under their own name (RFC 9110 and PATCH); any other string a client
#: sends is counted as `other`, so no request can add a label value.
KNOWN_METHODS = frozenset(
    {"GET", "HEAD", "POST", "PUT", "DELETE", "CONNECT", "OPTIONS", "TRACE", "PATCH"}
)
#: Routes whose bodies may be larger or must be smaller than DEFAULT_BODY_BYTES.
BODY_LIMITS = {
    ("POST", "/v1/events"): events.MAX_EVENT_BODY_BYTES,
    ("PUT", "/v1/policy"): policy.MAX_POLICY_BYTES,
    ("POST", "/v1/policy/dry-run"): policy.MAX_POLICY_BYTES,
}
_BODY_METHODS = frozenset({"post", "put", "patch"})


def method_label(method: str) -> str:
    """The metrics label of an HTTP method: itself if known, else `other`."""
    return method if method in KNOWN_METHODS else "other"


class RequestMetrics:
    """ASGI middleware counting requests by method, route template and status."""

    def __init__(self, app: ASGIApp, *, registry: CollectorRegistry) -> None:
        self._app = app
        self._requests = Counter(
            "keepline_api_requests",
            "HTTP requests answered",
            ["method", "route", "status"],
            registry=registry,
        )
        self._latency = Histogram(
            "keepline_api_request_seconds",
            "Time to the response's first byte",
            ["route"],
            buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10),
            registry=registry,
        )

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Pass the request on; count it when its response starts."""
        if scope["type"] != "http":
            await self._app(scope, receive, send)
            return
        started = time.perf_counter()

        async def counting_send(message: Message) -> None:
            if message["type"] == "http.response.start":
                # Templates, never raw paths, keep the label set small.
                route = scope.get(TEMPLATE_KEY) or getattr(
                    scope.get("route"), "path", "(unmatched)"
                )
                self._requests.labels(
                    method_label(scope["method"]), route, str(message["status"])
                ).inc()
                self._latency.labels(route).observe(time.perf_counter() - started)
            await send(message)

        await self._app(scope, receive, counting_send)


def _document_errors(app: FastAPI) -> Callable[[], dict[str, Any]]:
    """An OpenAPI generator that declares every error each route can answer with."""

    def openapi() -> dict[str, Any]:
        if app.openapi_schema:
            return app.openapi_schema
        doc = get_openapi(
            title=app.title, version=app.version, description=app.description, routes=app.routes
        )
        components = doc.setdefault("components", {})
        schemas = components.setdefault("schemas", {})
        body_schema = ErrorBody.model_json_schema(ref_template="#/components/schemas/{model}")
        schemas.update(body_schema.pop("$defs", {}))
        schemas["ErrorBody"] = body_schema
        for name in ("HTTPValidationError", "ValidationError"):
            schemas.pop(name, None)
        components["securitySchemes"] = {"bearer": {"type": "http", "scheme": "bearer"}}

        def declared(status: int) -> dict[str, Any]:
            return {
                "description": ERROR_DESCRIPTIONS.get(status, "Error"),
                "content": {
                    "application/json": {"schema": {"$ref": "#/components/schemas/ErrorBody"}}
                },
            }

        for path, operations in doc.get("paths", {}).items():
            for method, operation in operations.items():
                responses = operation.setdefault("responses", {})
                statuses = [422, 500, 503]
                if method in _BODY_METHODS:
                    statuses.append(413)
                if allowed_roles(method.upper(), path) is not None:
                    operation["security"] = [{"bearer": []}]
                    statuses += [401, 403]
                if "{" in path:
                    statuses.append(404)
                for status in statuses:
                    if status == 422 or str(status) not in responses:  # noqa: PLR2004
                        responses[str(status)] = declared(status)
                for status, response in responses.items():
                    # Errors a router declared with a description only get the body too.
                    if status[:1] in {"4", "5"} and "content" not in response:
                        response["content"] = declared(int(status))["content"]
        complete_document(doc)
        app.openapi_schema = doc
        return doc

    return openapi


def create_app(services: ApiServices) -> FastAPI:
    """Build the HTTP API over services built by the composition root (`keepline.root`).

    The caller owns the services: the app neither starts nor closes them.
    """
    metrics_registry = services.registry

    app = FastAPI(
        title="keepline",
        version="1",
        description="Communications retention: items, holds, subject rights, audit. "
        "Every route under /v1/ takes `Authorization: Bearer <token>`.",
        # Swagger UI from local assets (install_docs); ReDoc would load from a CDN.
        docs_url=None,
        redoc_url=None,
    )
    app.state.services = services
    install_error_handlers(app, on_denied=services.record_route_denial)
    # Innermost first: the gate refuses unknown callers before any body is read.
    app.add_middleware(BodyLimit, default_bytes=DEFAULT_BODY_BYTES, per_route=BODY_LIMITS)
    app.add_middleware(RoleGate)
    app.add_middleware(RequestMetrics, registry=metrics_registry)
    metrics_registry.register(HoldFlagMetrics(services.holds))
    for module in (
        health,
        events,
        items,
        content_urls,
        audit,
        dead_letters,
        holds,
        policy,
        subjects,
        session,
        signing_keys,
        retention_routes,
        review_routes,
        productions_routes,
        disposals,
        fixity,
        disclosures,
    ):
        app.include_router(module.router)
    app.include_router(console_router)  # `/` and /console/: public, see api.roles.PUBLIC_ROUTES
    install_docs(app)
    app.openapi = _document_errors(app)  # type: ignore[method-assign]  # FastAPI's hook
    return app
