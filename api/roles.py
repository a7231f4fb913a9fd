"""The role matrix, written once: which roles may call which route."""

from __future__ import annotations

from types import MappingProxyType

from api.auth import Role

_READERS = frozenset({Role.QA, Role.LEGAL, Role.PRIVACY})
_ALL = frozenset(Role)

#: (method, path template) -> roles allowed. Routes not listed are public (health, metrics).
ROUTE_ROLES: MappingProxyType[tuple[str, str], frozenset[str]] = MappingProxyType(
    {
        ("POST", "/v1/events"): frozenset({Role.INGEST}),
        ("GET", "/v1/items"): _READERS,
        ("GET", "/v1/items/{item_id}"): _READERS,
        ("GET", "/v1/items/{item_id}/content"): _READERS,
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
        ("GET", "/v1/audit"): frozenset({Role.AUDITOR}),
        ("GET", "/v1/audit/verify"): frozenset({Role.AUDITOR}),
    }
)


def roles_for(method: str, path: str) -> frozenset[str]:
    """Roles allowed on a route; KeyError for a route missing from the matrix."""
    return ROUTE_ROLES[(method, path)]
