"""What the routes need, built once per app and reached through dependencies."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Annotated, Protocol

from fastapi import Depends, Request
from prometheus_client import CollectorRegistry

from api.auth import Principal, TokenAuthenticator
from api.errors import ForbiddenError, UnauthenticatedError
from api.roles import roles_for
from api.settings import ApiSettings
from storage.runtime import StorageRuntime


class EventPublisher(Protocol):
    """Publishes accepted events to their Kafka topic."""

    async def publish(self, topic: str, key: bytes, value: bytes) -> None:
        """Send and wait for the broker's acknowledgement."""
        ...

    async def ping(self) -> None:
        """Raise if Kafka cannot be reached."""
        ...


@dataclass(frozen=True, slots=True)
class ApiServices:
    """The API's collaborators."""

    settings: ApiSettings
    storage: StorageRuntime
    publisher: EventPublisher
    authenticator: TokenAuthenticator
    registry: CollectorRegistry
    clock: Callable[[], datetime]
    topics: dict[str, str]
    extra_readiness: tuple[Callable[[], Awaitable[None]], ...] = ()


def get_services(request: Request) -> ApiServices:
    """The app's services."""
    services: ApiServices = request.app.state.services
    return services


Services = Annotated[ApiServices, Depends(get_services)]


def _bearer(request: Request) -> str | None:
    header = request.headers.get("authorization", "")
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        return None
    return token.strip()


def current_principal(request: Request, services: Services) -> Principal:
    """The authenticated caller, allowed on this route by the role matrix."""
    token = _bearer(request)
    principal = services.authenticator.authenticate(token) if token else None
    if principal is None:
        raise UnauthenticatedError("missing or unknown bearer token")
    route = request.scope.get("route")
    path = getattr(route, "path", request.url.path)
    if principal.role not in roles_for(request.method, path):
        raise ForbiddenError(f"role {principal.role} may not use {request.method} {path}")
    return principal


Caller = Annotated[Principal, Depends(current_principal)]
