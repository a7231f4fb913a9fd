"""The retention policy: read the active version (every role), activate a new one (admin)."""

from __future__ import annotations

import json
from typing import Any

from fastapi import APIRouter, Request

from api.errors import BadRequestError, error_responses
from api.schemas import policy_request_body
from api.services import Caller, Services
from policies.errors import PolicyValidationError
from policies.models import Policy
from policies.policy_file import parse_policy

router = APIRouter(prefix="/v1/policy", tags=["policy"])

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
    text = await _policy_text(request)
    try:
        policy = parse_policy(text, source="PUT /v1/policy")
    except PolicyValidationError as err:
        raise BadRequestError(err.field or "policy", f"line {err.line}: {err.message}") from err
    store = services.storage.policies
    previous = await store.active(refresh=True)
    at = services.clock()
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
