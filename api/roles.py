"""The role matrix, written once: which roles may call which route."""

from __future__ import annotations

import re
from types import MappingProxyType

from starlette.routing import compile_path

from policies.models import Role

_READERS = frozenset({Role.QA, Role.LEGAL, Role.PRIVACY})
_ALL = frozenset(Role)

#: (method, path template) -> roles allowed. Every route under /v1/ must be listed: one that
#: is not is refused to everyone (deny by default). Routes elsewhere are public (health,
#: metrics, the OpenAPI document, and PUBLIC_ROUTES below). HEAD is allowed wherever GET is.
ROUTE_ROLES: MappingProxyType[tuple[str, str], frozenset[str]] = MappingProxyType(
    {
        ("POST", "/v1/events"): frozenset({Role.INGEST}),
        ("GET", "/v1/items"): _READERS,
        ("GET", "/v1/items/{item_id}"): _READERS,
        ("GET", "/v1/items/{item_id}/content"): _READERS,
        ("POST", "/v1/items/{item_id}/content-url"): _READERS,
        ("POST", "/v1/holds"): frozenset({Role.LEGAL}),
        ("GET", "/v1/holds"): frozenset({Role.LEGAL}),
        ("GET", "/v1/holds/{hold_id}"): frozenset({Role.LEGAL}),
        ("POST", "/v1/holds/{hold_id}/release"): frozenset({Role.LEGAL}),
        ("POST", "/v1/holds/preview"): frozenset({Role.LEGAL}),
        ("POST", "/v1/subjects/{subject_id}/erasure"): frozenset({Role.PRIVACY}),
        ("GET", "/v1/subjects/{subject_id}/export"): frozenset({Role.PRIVACY}),
        ("POST", "/v1/subjects/{subject_id}/restriction"): frozenset({Role.PRIVACY}),
        ("POST", "/v1/subjects/{subject_id}/objection"): frozenset({Role.PRIVACY}),
        ("POST", "/v1/subjects/{subject_id}/consent"): frozenset({Role.PRIVACY}),
        ("GET", "/v1/policy"): _ALL,
        ("PUT", "/v1/policy"): frozenset({Role.ADMIN}),
        ("POST", "/v1/policy/dry-run"): frozenset({Role.ADMIN}),
        ("GET", "/v1/audit"): frozenset({Role.AUDITOR}),
        ("GET", "/v1/audit/verify"): frozenset({Role.AUDITOR}),
        ("GET", "/v1/dead-letters"): frozenset({Role.ADMIN, Role.AUDITOR}),
        ("GET", "/v1/me"): _ALL,
        ("GET", "/v1/signing-keys"): _ALL,
        ("GET", "/v1/items/{item_id}/retention"): frozenset(
            {Role.LEGAL, Role.PRIVACY, Role.AUDITOR}
        ),
        ("GET", "/v1/reviews"): frozenset({Role.LEGAL}),
        ("POST", "/v1/reviews/{item_id}"): frozenset({Role.LEGAL}),
        ("POST", "/v1/holds/{hold_id}/productions"): frozenset({Role.LEGAL}),
        ("GET", "/v1/productions/{production_id}"): frozenset({Role.LEGAL}),
        ("GET", "/v1/productions/{production_id}/download"): frozenset({Role.LEGAL}),
        ("GET", "/v1/disposals"): frozenset({Role.AUDITOR, Role.LEGAL}),
        ("GET", "/v1/disposals/certificate"): frozenset({Role.AUDITOR, Role.LEGAL}),
        ("GET", "/v1/fixity/latest"): frozenset({Role.AUDITOR}),
        ("POST", "/v1/disclosures"): frozenset({Role.LEGAL}),
        ("GET", "/v1/disclosures"): frozenset({Role.LEGAL, Role.PRIVACY, Role.AUDITOR}),
        ("POST", "/v1/subjects/{subject_id}/rectification"): frozenset({Role.PRIVACY}),
        ("GET", "/v1/subjects/{subject_id}/access-report"): frozenset({Role.PRIVACY}),
        ("GET", "/v1/audit/checkpoints"): frozenset({Role.AUDITOR}),
    }
)

#: Routes that take no bearer token, by design rather than by omission: the console's page,
#: assets and configuration (it signs its users in and then calls /v1/ with their tokens,
#: holding no privilege of its own), and content behind a signed URL (the URL is the
#: credential, checked by `api.content_urls`). They must stay outside PROTECTED_PREFIX.
PUBLIC_ROUTES: frozenset[tuple[str, str]] = frozenset(
    {
        ("GET", "/"),
        ("GET", "/console/config.json"),
        ("GET", "/console/{asset:path}"),
        ("GET", "/signed/content/{token}"),
    }
)

#: Path prefix under which every route needs a caller.
PROTECTED_PREFIX = "/v1/"


def roles_for(method: str, path: str) -> frozenset[str]:
    """Roles allowed on a route; KeyError for a route missing from the matrix."""
    return ROUTE_ROLES[("GET" if method == "HEAD" else method, path)]


def allowed_roles(method: str, path: str) -> frozenset[str] | None:
    """Roles allowed on a route template: None when it is public, empty when unlisted."""
    if ("GET" if method == "HEAD" else method, path) in PUBLIC_ROUTES:
        return None
    try:
        return roles_for(method, path)
    except KeyError:
        return frozenset() if path.startswith(PROTECTED_PREFIX) else None


def _compiled() -> list[tuple[re.Pattern[str], str, int]]:
    templates = sorted({path for _, path in ROUTE_ROLES})
    return [(compile_path(t)[0], t, t.count("{")) for t in templates]


_TEMPLATES = _compiled()


def match_template(method: str, path: str) -> tuple[str, frozenset[str]] | None:
    """The matrix entry a request falls under: (path template, roles allowed).

    Literal segments win over parameters (``/v1/holds/preview`` over ``/v1/holds/{hold_id}``),
    as the router decides. None when no template of the matrix lists this method for the
    path: the router answers (404, 405), or the route's Caller refuses it as unlisted.
    """
    verb = "GET" if method == "HEAD" else method
    found = [
        (params, template)
        for pattern, template, params in _TEMPLATES
        if (verb, template) in ROUTE_ROLES and pattern.match(path)
    ]
    if not found:
        return None
    _, template = min(found)
    return template, ROUTE_ROLES[(verb, template)]
