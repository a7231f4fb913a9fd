"""What the routes need, built once per app, and the gate that enforces the role matrix.

`RoleGate` checks every request against `api.roles.ROUTE_ROLES` before the route runs (and
before its body is parsed), so a route cannot forget its roles: 401 without a valid token,
403 for a role not allowed, and 403 for any route under /v1/ missing from the matrix. The
`Caller` dependency hands the authenticated principal to the route.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Annotated, Any, Protocol

from fastapi import Depends, Request
from prometheus_client import CollectorRegistry
from starlette.routing import Match
from starlette.types import ASGIApp, Receive, Scope, Send

from api.auth import Authenticator, Principal
from api.denials import UNAUTHENTICATED_ACTOR, Denial, DenialCoalescer
from api.errors import ApiError, ForbiddenError, UnauthenticatedError, error_response
from api.roles import PROTECTED_PREFIX, allowed_roles, match_template
from api.settings import ApiSettings
from service.disclosures.service import DisclosureService
from service.disposals.service import DisposalService
from service.fixity.service import FixityService
from service.holds.service import HoldsService
from service.policy.service import PolicyService
from service.productions.service import ProductionService
from service.retention.explain import RetentionExplainer
from service.retention.reviews import ReviewService
from service.subjects.access_report import AccessReporter
from service.subjects.rectification import RectificationService
from service.subjects.service import SubjectRightsService
from storage.errors import StorageError
from storage.models import AuditEntry
from storage.runtime import StorageRuntime

log = logging.getLogger(__name__)

_PRINCIPAL = "keepline.principal"
#: Scope key with the matrix template a request matched (for metrics).
TEMPLATE_KEY = "keepline.route"


class EventPublisher(Protocol):
    """Publishes accepted events to their Kafka topic."""

    async def publish(
        self, topic: str, key: bytes, value: bytes, *, headers: Sequence[tuple[str, bytes]] = ()
    ) -> None:
        """Send and wait for the broker's acknowledgement."""
        ...

    async def ping(self) -> None:
        """Raise if Kafka cannot be reached."""
        ...

    async def stop(self) -> None:
        """Flush and disconnect."""
        ...


@dataclass(frozen=True, slots=True)
class ApiServices:
    """The API's collaborators."""

    settings: ApiSettings
    storage: StorageRuntime
    holds: HoldsService
    rights: SubjectRightsService
    policy: PolicyService
    publisher: EventPublisher
    authenticator: Authenticator
    registry: CollectorRegistry
    clock: Callable[[], datetime]
    topics: dict[str, str]
    extra_readiness: tuple[Callable[[], Awaitable[str | None]], ...] = ()
    retention: RetentionExplainer | None = None
    reviews: ReviewService | None = None
    productions: ProductionService | None = None
    disposals: DisposalService | None = None
    fixity: FixityService | None = None
    disclosures: DisclosureService = field(kw_only=True)
    rectification: RectificationService = field(kw_only=True)
    access_report: AccessReporter = field(kw_only=True)
    denials: DenialCoalescer = field(default_factory=DenialCoalescer)

    async def record_audit(
        self,
        caller: Principal,
        action: str,
        *,
        item_id: str | None = None,
        details: Mapping[str, Any] | None = None,
    ) -> AuditEntry:
        """Append an audit entry for something the caller did (its role goes in details)."""
        return await self.storage.audit.append(
            actor=caller.name,
            action=action,
            at=self.clock(),
            item_id=item_id,
            details={"role": caller.role, **(details or {})},
        )

    async def record_denial(self, denial: Denial) -> None:
        """Audit a refused request as `access.denied`, coalesced per actor/route/reason/minute.

        A catalog that cannot take the entry does not turn the 401 or 403 into a 5xx.
        """
        for entry in self.denials.admit(denial, self.clock()):
            try:
                await self.storage.audit.append(
                    actor=entry.actor,
                    action="access.denied",
                    at=self.clock(),
                    details=entry.details,
                )
            except (StorageError, RuntimeError) as err:  # catalog errors are StorageErrors
                log.warning("access.denied not audited (%s)", type(err).__name__)

    async def record_route_denial(self, request: Request, err: ApiError) -> None:
        """The errors handler's hook: a 401 or 403 a route raised after the gate let it in."""
        principal: Principal | None = request.scope.get("state", {}).get(_PRINCIPAL)
        route = request.scope.get("route")
        await self.record_denial(
            Denial(
                actor=principal.name if principal else UNAUTHENTICATED_ACTOR,
                role=principal.role if principal else None,
                method=request.method,
                route=str(getattr(route, "path", None) or request.scope.get(TEMPLATE_KEY, "")),
                status=err.status_code,
                reason="unauthenticated" if err.status_code == 401 else "forbidden",  # noqa: PLR2004
            )
        )


def get_services(request: Request) -> ApiServices:
    """The app's services."""
    services: ApiServices = request.app.state.services
    return services


Services = Annotated[ApiServices, Depends(get_services)]


def bearer_token(authorization: str | None) -> str | None:
    """The token of an `Authorization: Bearer <token>` header, or None."""
    scheme, _, token = (authorization or "").partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        return None
    return token.strip()


def authorize(
    authenticator: Authenticator, authorization: str | None, method: str, template: str
) -> Principal | None:
    """The caller of a route, acting in a role the matrix allows there; None if public.

    Raises:
        UnauthenticatedError: No bearer token, or one no authenticator accepts.
        ForbiddenError: None of the caller's roles may use the route.
    """
    allowed = allowed_roles(method, template)
    if allowed is None:
        return None
    token = bearer_token(authorization)
    principal = authenticator.authenticate(token) if token else None
    if principal is None:
        raise UnauthenticatedError("missing or unknown bearer token")
    if not allowed:
        log.error("route %s %s is missing from the role matrix: refused", method, template)
    acting = principal.acting_in(allowed)
    if acting is None:
        role = principal.role or "(none)"
        raise ForbiddenError(f"role {role} may not use {method} {template}")
    return acting


def _served(scope: Scope) -> bool:
    """Whether some route of the app would serve this method and path."""
    return any(route.matches(scope)[0] == Match.FULL for route in scope["app"].router.routes)


class RoleGate:
    """ASGI middleware enforcing the role matrix on every request, before the route runs.

    It matches the request against the matrix's own templates; a request under /v1/ that
    no template covers but some route would serve is refused to everyone. `Caller` checks
    again with the template of the route that actually serves the request.
    """

    def __init__(self, app: ASGIApp) -> None:
        self._app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Answer 401/403 itself, or pass the request on with its principal."""
        if scope["type"] != "http":
            await self._app(scope, receive, send)
            return
        method, path = scope["method"], scope["path"]
        entry = match_template(method, path)
        if entry is None and path.startswith(PROTECTED_PREFIX) and _served(scope):
            # A route the matrix does not list: refused to everyone (deny by default).
            scope[TEMPLATE_KEY] = "(unlisted)"
            entry = (path, frozenset())
        if entry is not None:
            scope.setdefault(TEMPLATE_KEY, entry[0])
            services: ApiServices = scope["app"].state.services
            authorization = next(
                (v.decode("latin-1") for k, v in scope["headers"] if k == b"authorization"), None
            )
            try:
                principal = authorize(services.authenticator, authorization, method, entry[0])
            except ApiError as err:
                denial = _gate_denial(
                    services,
                    authorization=authorization,
                    method=method,
                    template=scope[TEMPLATE_KEY],
                    listed=bool(entry[1]),
                    err=err,
                )
                await services.record_denial(denial)
                await error_response(err)(scope, receive, send)
                return
            scope.setdefault("state", {})[_PRINCIPAL] = principal
        await self._app(scope, receive, send)


def _gate_denial(
    services: ApiServices,
    *,
    authorization: str | None,
    method: str,
    template: str,
    listed: bool,
    err: ApiError,
) -> Denial:
    """What the gate refused, for the audit trail (the caller is named when known)."""
    token = bearer_token(authorization)
    principal = services.authenticator.authenticate(token) if token else None
    if isinstance(err, UnauthenticatedError) or principal is None:
        reason = "unauthenticated"
    else:
        reason = "role_not_allowed" if listed else "unlisted_route"
    return Denial(
        actor=principal.name if principal else UNAUTHENTICATED_ACTOR,
        role=principal.role if principal else None,
        method=method,
        route=template,
        status=err.status_code,
        reason=reason,
    )


def current_principal(request: Request, services: Services) -> Principal:
    """The authenticated caller, allowed on this route by the role matrix."""
    route = request.scope.get("route")
    template = getattr(route, "path", request.url.path)
    principal: Principal | None = request.scope.get("state", {}).get(_PRINCIPAL)
    if principal is not None and request.scope.get(TEMPLATE_KEY) == template:
        return principal
    # The gate saw another template (a route missing from the matrix) or did not run:
    # decide here with the same rule, which refuses unlisted routes under /v1/.
    principal = authorize(
        services.authenticator, request.headers.get("authorization"), request.method, template
    )
    if principal is None:
        raise ForbiddenError(f"{request.method} {template} is public; it has no caller")
    return principal


Caller = Annotated[Principal, Depends(current_principal)]
