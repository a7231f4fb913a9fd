"""Items: list, read metadata, stream decrypted content (with Range)."""

from __future__ import annotations

import base64
from collections.abc import AsyncIterator
from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Query, Request
from fastapi.responses import StreamingResponse

from api.errors import BadRequestError, NotFoundError
from api.presenters import item_json
from api.ranges import parse_range
from api.services import ApiServices, Caller, Services
from policies.access import visible_to
from policies.models import LawfulBasis, PurposeState
from storage.models import ItemQuery, ItemRecord

router = APIRouter(prefix="/v1/items", tags=["items"])

_SEES_ALL = frozenset({"legal", "privacy"})


def _encode_cursor(cursor: tuple[datetime, str] | None) -> str | None:
    if cursor is None:
        return None
    at, item_id = cursor
    return base64.urlsafe_b64encode(f"{at.isoformat()}|{item_id}".encode()).decode()


def _decode_cursor(value: str) -> tuple[datetime, str]:
    try:
        at, item_id = base64.urlsafe_b64decode(value.encode()).decode().split("|", 1)
        return datetime.fromisoformat(at), item_id
    except ValueError as err:
        raise BadRequestError("cursor", "not a cursor this API returned") from err


def _states(record: ItemRecord) -> list[PurposeState]:
    return [
        PurposeState(name=p.name, basis=LawfulBasis(p.basis), expires_at=p.expires_at, worm=p.worm)
        for p in record.purposes
    ]


async def visible_item(
    services: ApiServices, caller_role: str, item_id: str, purpose: str | None
) -> ItemRecord:
    """The item if the caller may see it; 404 otherwise, as if it did not exist."""
    record = await services.storage.catalog.get(item_id)
    if record is None:
        raise NotFoundError("no such item")
    policy = await services.storage.policies.active()
    if not visible_to(
        role=caller_role,
        item_purposes=_states(record),
        restricted=record.restricted,
        purpose=purpose,
        policy=policy,
        now=services.clock(),
    ):
        raise NotFoundError("no such item")
    return record


@router.get("", summary="List items, newest first")
async def list_items(
    request: Request,
    services: Services,
    caller: Caller,
    purpose: Annotated[str | None, Query(max_length=100)] = None,
    type: Annotated[str | None, Query(pattern="^(call_recording|email|chat)$")] = None,  # noqa: A002
    subject_id: Annotated[str | None, Query(max_length=200)] = None,
    staff_id: Annotated[str | None, Query(max_length=200)] = None,
    since: datetime | None = None,
    until: datetime | None = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 50,
    cursor: Annotated[str | None, Query(max_length=500)] = None,
) -> dict[str, Any]:
    """Items matching every filter; `attr.<key>=<value>` filters on attributes."""
    for name, value in (("since", since), ("until", until)):
        if value is not None and value.tzinfo is None:
            raise BadRequestError(name, "needs a UTC offset")
    attributes = {
        k.removeprefix("attr."): v for k, v in request.query_params.items() if k.startswith("attr.")
    }
    now = services.clock()
    restricted_hidden = caller.role not in _SEES_ALL
    if restricted_hidden:
        policy = await services.storage.policies.active()
        declared = policy.purposes.get(purpose) if purpose else None
        if purpose is None:
            raise BadRequestError("purpose", f"role {caller.role} must name a purpose")
        if declared is None or caller.role not in declared.roles:
            raise BadRequestError(
                "purpose", f"{purpose!r} is not a purpose role {caller.role} may use"
            )
    query = ItemQuery(
        purpose=purpose,
        type=type,
        subject_id=subject_id,
        staff_id=staff_id,
        since=since,
        until=until,
        attributes=attributes,
        unexpired_at=now if purpose else None,
        exclude_restricted=restricted_hidden,
        limit=limit,
        cursor=_decode_cursor(cursor) if cursor else None,
    )
    page = await services.storage.catalog.list(query)
    return {
        "items": [item_json(r) for r in page.items],
        "next_cursor": _encode_cursor(page.next_cursor),
    }


@router.get("/{item_id}", summary="One item's metadata")
async def get_item(
    item_id: str,
    services: Services,
    caller: Caller,
    purpose: Annotated[str | None, Query(max_length=100)] = None,
) -> dict[str, Any]:
    """The item, if the caller may see it."""
    return item_json(await visible_item(services, caller.role, item_id, purpose))


@router.get(
    "/{item_id}/content",
    summary="The decrypted content, streamed; honours Range",
    response_class=StreamingResponse,
    responses={206: {"description": "Partial content"}, 416: {"description": "Bad range"}},
)
async def get_content(
    item_id: str,
    request: Request,
    services: Services,
    caller: Caller,
    purpose: Annotated[str | None, Query(max_length=100)] = None,
) -> StreamingResponse:
    """Stream the item's plaintext (every read is audited)."""
    record = await visible_item(services, caller.role, item_id, purpose)
    stored = record.stored
    if stored is None:
        raise NotFoundError("this item has no content")
    size = stored.content.size_bytes
    wanted = parse_range(request.headers.get("range"), size)
    start, end = wanted if wanted is not None else (0, max(size - 1, 0))
    await services.storage.audit.append(
        actor=caller.name,
        action="content.read",
        at=services.clock(),
        item_id=item_id,
        details={"role": caller.role, "purpose": purpose, "range": [start, end] if wanted else None},
    )
    body: AsyncIterator[bytes] = services.storage.vault.open(
        item_id=item_id, stored=stored, start=start, end=end
    )
    headers = {
        "Accept-Ranges": "bytes",
        "Content-Length": str(end - start + 1 if size else 0),
        "Cache-Control": "no-store",
    }
    if wanted is not None:
        headers["Content-Range"] = f"bytes {start}-{end}/{size}"
    return StreamingResponse(
        body,
        status_code=206 if wanted is not None else 200,
        media_type=stored.content.content_type,
        headers=headers,
    )
