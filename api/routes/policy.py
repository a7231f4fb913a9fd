"""The retention policy: read the active version (every role), activate a new one (admin)."""

from __future__ import annotations

import json
from collections import Counter
from dataclasses import replace
from datetime import datetime
from typing import Any

from fastapi import APIRouter, Request

from api.errors import BadRequestError, error_responses
from api.schemas import policy_request_body
from api.services import ApiServices, Caller, Services
from policies.errors import PolicyValidationError
from policies.models import Policy
from policies.outcomes import PolicyChange, SweepAction
from policies.policy_file import parse_policy
from policies.retention import decide
from service.facts import item_facts
from service.policy.service import PolicyService
from storage.sql.holds import SqlHoldStore

router = APIRouter(prefix="/v1/policy", tags=["policy"])

#: Items that would become destroyable listed by id in a dry run; beyond it, only counted.
MAX_LISTED_ITEMS = 100

#: A policy is a few dozen lines; anything this large is a mistake, not a policy. The body
#: limit of PUT (`api.body_limit.BodyLimit` answers 413 above it, before the route runs).
MAX_POLICY_BYTES = 256 * 1024
_YAML_TYPES = frozenset(
    {"application/yaml", "application/x-yaml", "text/yaml", "text/x-yaml", "text/plain"}
)
_PUT_BODY = policy_request_body()


def policy_json(policy: Policy) -> dict[str, Any]:
    """The policy as the API shows it: version, reader roles, purposes, rules, the YAML."""
    body = policy.to_json()
    return {
        "version": policy.version,
        "reader_roles": sorted(policy.reader_roles),
        "purposes": body["purposes"],
        "rules": body["rules"],
        "text": policy.source_text,
    }


async def _policy_text(request: Request) -> str:
    raw = await request.body()
    if not raw.strip():
        raise BadRequestError("policy", "the body is empty; send the policy YAML")
    media = request.headers.get("content-type", "").split(";", 1)[0].strip().lower()
    if media == "application/json":
        try:
            data = json.loads(raw)
        except ValueError as err:
            raise BadRequestError("(body)", "not valid JSON") from err
        text = data.get("policy") if isinstance(data, dict) else None
        if not isinstance(text, str):
            raise BadRequestError("policy", 'JSON bodies are {"policy": "<the policy YAML>"}')
        return text
    if media and media not in _YAML_TYPES:
        raise BadRequestError(
            "content-type", "send application/yaml, text/plain or application/json"
        )
    try:
        return raw.decode("utf-8-sig")
    except UnicodeDecodeError as err:
        raise BadRequestError("policy", "the policy is not UTF-8 text") from err


async def _posted_policy(request: Request, source: str) -> Policy:
    text = await _policy_text(request)
    try:
        return parse_policy(text, source=source)
    except PolicyValidationError as err:
        raise BadRequestError(err.field or "policy", f"line {err.line}: {err.message}") from err


def _planner(services: ApiServices) -> PolicyService:
    return services.policy


async def _destroyable(
    services: ApiServices, changes: list[PolicyChange], new: Policy, now: datetime
) -> list[str]:
    """Changed items the sweeper would destroy under the new purposes (holds considered)."""
    bare = [c for c in changes if not any(not p.is_expired(now) for p in c.purposes)]
    if not bare:
        return []
    holds = await SqlHoldStore(services.storage.db).active()
    found = []
    for change in bare:
        record = await services.storage.catalog.get(change.item_id)
        if record is None:
            continue
        facts = replace(item_facts(record), purposes=change.purposes)
        if decide(facts, new, holds, now).action == SweepAction.DESTROY:
            found.append(change.item_id)
    return found


def _counts(changes: list[PolicyChange]) -> dict[str, dict[str, int]]:
    """Per purpose, how many items would gain it, lose it, or have its expiry moved."""
    counts: dict[str, Counter[str]] = {
        "added": Counter(),
        "removed": Counter(),
        "moved": Counter(),
        "restated": Counter(),
    }
    for change in changes:
        counts["added"].update(s.name for s in change.added)
        counts["removed"].update(s.name for s in change.removed)
        counts["moved"].update(m.name for m in change.moved)
        counts["restated"].update(change.restated)
    return {kind: dict(sorted(found.items())) for kind, found in counts.items()}


@router.get("", summary="The active policy")
async def get_policy(services: Services, caller: Caller) -> dict[str, Any]:
    """``{"version", "purposes", "rules", "text"}`` of the active version."""
    del caller  # every role may read it; the gate still requires a caller
    return policy_json(await services.storage.policies.active(refresh=True))


@router.put(
    "",
    summary="Validate and activate a new policy version",
    openapi_extra=_PUT_BODY,
    responses=error_responses(413, 422),
)
async def put_policy(request: Request, services: Services, caller: Caller) -> dict[str, Any]:
    """The body is the policy YAML; 422 names the line and field of an invalid one.

    A body over 256 KiB is refused with 413 before it is read.

    Items ingested from now on get their purposes under the new version; stored items keep
    theirs until `keepline policy apply` re-decides them.
    """
    policy = await _posted_policy(request, "PUT /v1/policy")
    store = services.storage.policies
    previous = await store.active(refresh=True)
    at = services.clock()
    async with services.storage.audit.transaction():
        activated = await store.activate(policy, by=caller.name, at=at)
        if activated:
            await services.storage.audit.append(
                actor=caller.name,
                action="policy.changed",
                at=at,
                details={
                    "role": caller.role,
                    "version": policy.version,
                    "previous_version": previous.version,
                    "via": "api",
                },
            )
    return {**policy_json(policy), "previous_version": previous.version, "activated": activated}


@router.post(
    "/dry-run",
    summary="What activating a policy would change for stored items, without activating it",
    description="The body is the policy YAML, as for `PUT /v1/policy`. Plans the change over "
    "every stored item as `keepline policy apply --dry-run` does, and activates nothing: "
    "the counts by change (items gaining, losing or moving a purpose, per purpose) and the "
    "items that would become destroyable (no unexpired purpose left and no legal hold), "
    "which the sweeper would destroy once the policy is activated and applied.",
    openapi_extra=_PUT_BODY,
    responses=error_responses(413, 422),
)
async def dry_run_policy(request: Request, services: Services, caller: Caller) -> dict[str, Any]:
    """The plan of a policy version over the stored items."""
    policy = await _posted_policy(request, "POST /v1/policy/dry-run")
    report = await _planner(services).apply(policy, dry_run=True, actor=caller.name, via="api")
    destroyable = await _destroyable(services, report.changes, policy, services.clock())
    return {
        **report.summary(),
        "changes": _counts(report.changes),
        "would_become_destroyable": {
            "count": len(destroyable),
            "item_ids": destroyable[:MAX_LISTED_ITEMS],
        },
    }
