"""The API's composition root: create_app(settings) -> FastAPI."""

from __future__ import annotations

import time
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from datetime import UTC, datetime
from typing import Any

from fastapi import FastAPI
from fastapi.openapi.utils import get_openapi
from prometheus_client import CollectorRegistry, Counter, Histogram
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from api.auth import Authenticator, build_authenticator
from api.body_limit import DEFAULT_BODY_BYTES, BodyLimit
from api.docs import install_docs
from api.errors import ERROR_DESCRIPTIONS, ErrorBody, install_error_handlers
from api.roles import allowed_roles
from api.routes import audit, events, health, holds, items, policy, subjects
from api.schemas import complete_document
from api.services import TEMPLATE_KEY, ApiServices, RoleGate
from api.settings import ApiSettings
from policies.policy_file import load_default_policy, load_policy
from policies.settings import PolicySettings
from storage.runtime import StorageRuntime, build_storage, prepare_storage
from storage.settings import StorageSettings
from streams.kafka_publisher import AiokafkaEventPublisher
from streams.settings import StreamSettings


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


def build_api_services(
    settings: ApiSettings,
    *,
    storage: StorageRuntime,
    stream_settings: StreamSettings,
    registry: CollectorRegistry,
    clock: Callable[[], datetime] = _now,
    extra_readiness: tuple[Callable[[], Awaitable[str | None]], ...] = (),
    authenticator: Authenticator | None = None,
) -> ApiServices:
    """The API's collaborators over an existing storage runtime (no I/O yet).

    The caller owns the result: it stops `publisher` and closes `storage` when done.

    Raises:
        ConfigurationError: Tokens or OIDC settings that cannot be used.
    """
    return ApiServices(
        settings=settings,
        storage=storage,
        publisher=AiokafkaEventPublisher(stream_settings.kafka_bootstrap, client_id="keepline-api"),
        authenticator=authenticator or build_authenticator(settings),
        registry=registry,
        clock=clock,
        topics={
            "calls": stream_settings.topic_calls,
            "emails": stream_settings.topic_emails,
            "chats": stream_settings.topic_chats,
        },
        extra_readiness=extra_readiness,
    )


def create_app(
    settings: ApiSettings | None = None,
    *,
    storage_settings: StorageSettings | None = None,
    stream_settings: StreamSettings | None = None,
    policy_settings: PolicySettings | None = None,
    registry: CollectorRegistry | None = None,
    extra_readiness: tuple[Callable[[], Awaitable[str | None]], ...] = (),
    clock: Callable[[], datetime] = _now,
    services: ApiServices | None = None,
) -> FastAPI:
    """Build the HTTP API; its services start with the app's lifespan.

    Args:
        settings: The API's settings (default: from the environment).
        storage_settings: Where the catalog, object store and key ring are.
        stream_settings: Kafka and the topic names.
        policy_settings: The policy file loaded at start-up.
        registry: Prometheus registry shared with the workers (default: a new one).
        extra_readiness: Further checks /readyz runs (e.g. the stream worker): each returns
            None when ready, else why not.
        clock: The time source.
        services: Ready-made services (tests): used as given, neither started nor closed.

    Raises:
        ConfigurationError: Tokens or OIDC settings that cannot be used.
    """
    api_settings = settings or ApiSettings()
    storage_cfg = storage_settings or StorageSettings()
    stream_cfg = stream_settings or StreamSettings()
    policy_cfg = policy_settings or PolicySettings()
    authenticator = build_authenticator(api_settings)
    metrics_registry = services.registry if services else registry or CollectorRegistry()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        if services is not None:
            yield
            return
        storage = build_storage(storage_cfg)
        await prepare_storage(storage)
        policy = (
            load_policy(policy_cfg.policy_file) if policy_cfg.policy_file else load_default_policy()
        )
        await storage.policies.bootstrap(policy, at=clock())
        built = app.state.services = build_api_services(
            api_settings,
            storage=storage,
            stream_settings=stream_cfg,
            registry=metrics_registry,
            clock=clock,
            extra_readiness=extra_readiness,
            authenticator=authenticator,
        )
        try:
            yield
        finally:
            await built.publisher.stop()
            await storage.close()

    app = FastAPI(
        title="keepline",
        version="1",
        description="Communications retention: items, holds, subject rights, audit. "
        "Every route under /v1/ takes `Authorization: Bearer <token>`.",
        # Swagger UI from local assets (install_docs); ReDoc would load from a CDN.
        docs_url=None,
        redoc_url=None,
        lifespan=lifespan,
    )
    if services is not None:
        app.state.services = services
    install_error_handlers(app)
    # Innermost first: the gate refuses unknown callers before any body is read.
    app.add_middleware(BodyLimit, default_bytes=DEFAULT_BODY_BYTES, per_route=BODY_LIMITS)
    app.add_middleware(RoleGate)
    app.add_middleware(RequestMetrics, registry=metrics_registry)
    for module in (health, events, items, audit, holds, policy, subjects):
        app.include_router(module.router)
    install_docs(app)
    app.openapi = _document_errors(app)  # type: ignore[method-assign]  # FastAPI's hook
    return app
