"""The API's composition root: create_app(settings) -> FastAPI."""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from datetime import UTC, datetime

from fastapi import FastAPI
from prometheus_client import CollectorRegistry

from api.auth import Role, TokenAuthenticator
from api.errors import install_error_handlers
from api.routes import events, health, items
from api.services import ApiServices
from api.settings import ApiSettings
from policies.policy_file import load_default_policy, load_policy
from policies.settings import PolicySettings
from storage.runtime import build_storage, prepare_storage
from storage.settings import StorageSettings
from streams.kafka_publisher import AiokafkaEventPublisher
from streams.settings import StreamSettings


def _now() -> datetime:
    return datetime.now(UTC)


def create_app(
    settings: ApiSettings | None = None,
    *,
    storage_settings: StorageSettings | None = None,
    stream_settings: StreamSettings | None = None,
    policy_settings: PolicySettings | None = None,
    registry: CollectorRegistry | None = None,
    extra_readiness: tuple[Callable[[], Awaitable[None]], ...] = (),
    clock: Callable[[], datetime] = _now,
) -> FastAPI:
    """Build the HTTP API; its services start with the app's lifespan."""
    api_settings = settings or ApiSettings()
    storage_cfg = storage_settings or StorageSettings()
    stream_cfg = stream_settings or StreamSettings()
    policy_cfg = policy_settings or PolicySettings()
    authenticator = TokenAuthenticator.from_setting(
        api_settings.api_tokens.get_secret_value(), known_roles=[r.value for r in Role]
    )
    metrics_registry = registry or CollectorRegistry()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        storage = build_storage(storage_cfg)
        publisher = AiokafkaEventPublisher(stream_cfg.kafka_bootstrap, client_id="keepline-api")
        await prepare_storage(storage)
        policy = (
            load_policy(policy_cfg.policy_file)
            if policy_cfg.policy_file
            else load_default_policy()
        )
        await storage.policies.bootstrap(policy, at=clock())
        app.state.services = ApiServices(
            settings=api_settings,
            storage=storage,
            publisher=publisher,
            authenticator=authenticator,
            registry=metrics_registry,
            clock=clock,
            topics={
                "calls": stream_cfg.topic_calls,
                "emails": stream_cfg.topic_emails,
                "chats": stream_cfg.topic_chats,
            },
            extra_readiness=extra_readiness,
        )
        try:
            yield
        finally:
            await publisher.stop()
            await storage.close()

    app = FastAPI(
        title="keepline",
        version="1",
        description="Communications retention: items, holds, subject rights, audit.",
        lifespan=lifespan,
    )
    install_error_handlers(app)
    for module in (health, events, items):
        app.include_router(module.router)
    return app
