"""The audit trail: entries with filters, and verification of the hash chain."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query
from fastapi.responses import JSONResponse

from api.errors import BadRequestError, error_responses
from api.presenters import (
    AuditCheckpointPageOut,
    AuditPageOut,
    ChainVerdictOut,
    audit_json,
    checkpoint_json,
    verdict_json,
)
from api.routes.items import PLAIN, time_query, utc
from api.services import Caller, Services

router = APIRouter(prefix="/v1/audit", tags=["audit"])

_MAX_SEQ = 2**63 - 1
#: Every action keepline writes to the audit trail (a unit test finds each one the code
#: writes here); a filter naming another is a typo, answered 422 rather than an empty page.
AUDIT_ACTIONS = frozenset(
    {
        "access.denied",
        "consent.changed",
        "content.read",
        "erasure.completed",
        "erasure.requested",
        "export",
        "hold.placed",
        "hold.released",
        "item.destroyed",
        "object.orphans_removed",
        "objection.recorded",
        "policy.applied",
        "policy.changed",
        "purposes.expired",
        "restriction.changed",
        "review.decided",
        "review.opened",
        "production.requested",
        "production.ready",
        "production.failed",
        "production.downloaded",
        "certificate.issued",
        "fixity.completed",
        "register.recorded",
        "register.read",
        "rectification",
        "access_report",
        "key.retired",
        "key.rotated",
        "key.rewrapped",
        "reconcile.refused",
    }
)


@router.get(
    "",
    summary="Audit entries, oldest first",
    response_model=AuditPageOut,
    responses=error_responses(422),
)
async def list_audit(
    *,
    services: Services,
    _caller: Caller,
    item_id: Annotated[str | None, Query(max_length=100, pattern=PLAIN)] = None,
    actor: Annotated[str | None, Query(max_length=200, pattern=PLAIN)] = None,
    action: Annotated[
        str | None,
        Query(
            max_length=60,
            pattern=PLAIN,
            description=f"One of {', '.join(sorted(AUDIT_ACTIONS))}.",
            examples=["content.read"],
            json_schema_extra={"enum": sorted(AUDIT_ACTIONS)},
        ),
    ] = None,
    since: Annotated[str | None, time_query("Entries at or after (RFC 3339).")] = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
    after: Annotated[
        int, Query(ge=0, le=_MAX_SEQ, description="Only entries with a larger seq (paging).")
    ] = 0,
) -> JSONResponse:
    """Entries matching every given filter, in chain order; page on with `after`."""
    if action is not None and action not in AUDIT_ACTIONS:
        raise BadRequestError(
            "action",
            f"{action!r} is not an audit action; one of {', '.join(sorted(AUDIT_ACTIONS))}",
        )
    entries = await services.storage.audit.query(
        item_id=item_id,
        actor=actor,
        action=action,
        since=utc("since", since),
        after_seq=after,
        limit=limit,
    )
    next_after = entries[-1].seq if len(entries) == limit else None
    return JSONResponse({"entries": [audit_json(e) for e in entries], "next_after": next_after})


@router.get(
    "/verify",
    summary="Recompute the audit hash chain",
    response_model=ChainVerdictOut,
)
async def verify_audit(services: Services, _caller: Caller) -> JSONResponse:
    """`ok` is false when any entry was edited, removed or reordered; the first is named.

    The chain is also checked against its signed checkpoints: a chain rewritten with every
    hash recomputed verifies link by link, but no longer has the hashes that were signed.
    """
    verdict = await services.storage.audit.verify()
    signed = await services.storage.checkpoints.verify()
    body = verdict_json(verdict)
    body.update(
        ok=verdict.ok and signed.ok,
        checkpoints=signed.checked,
        checkpoint_broken_seq=signed.first_broken_seq,
    )
    return JSONResponse(body)


@router.get(
    "/checkpoints",
    summary="Signed checkpoints of the audit chain head, oldest first",
    response_model=AuditCheckpointPageOut,
    responses=error_responses(422),
)
async def list_checkpoints(
    services: Services,
    _caller: Caller,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
    after: Annotated[
        int, Query(ge=0, le=_MAX_SEQ, description="Only checkpoints with a larger seq (paging).")
    ] = 0,
) -> JSONResponse:
    """Each checkpoint: `seq`, `hash`, `at`, `kid`, `signature` (verify with /v1/signing-keys)."""
    found = await services.storage.checkpoints.list(after_seq=after, limit=limit)
    next_after = found[-1].seq if len(found) == limit else None
    return JSONResponse(
        {"checkpoints": [checkpoint_json(c) for c in found], "next_after": next_after}
    )
