"""Items: list, read metadata, stream decrypted content (with Range)."""

from __future__ import annotations

import asyncio
import base64
import binascii
import contextlib
import logging
import string
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from pathlib import PurePosixPath
from typing import Annotated, Any

from fastapi import APIRouter, Path, Query, Request, Response
from fastapi.responses import JSONResponse, StreamingResponse

from api.auth import Principal
from api.errors import BadRequestError, ForbiddenError, NotFoundError, error_responses
from api.presenters import ItemOut, ItemPageOut, item_json
from api.ranges import parse_range, range_applies
from api.services import ApiServices, Caller, Services
from policies.access import visible_to
from service.facts import purpose_states
from service.ingest.media_type import is_media_type
from service.subjects.export import content_file_name
from storage.models import ItemQuery, ItemRecord, StoredContent

log = logging.getLogger(__name__)

router = APIRouter(prefix="/v1/items", tags=["items"])

_SEES_ALL = frozenset({"legal", "privacy"})
#: Free text in queries: no control characters (PostgreSQL refuses NUL in text).
PLAIN = r"^[^\x00-\x1f\x7f]*$"
_ATTR_PREFIX = "attr."
_MAX_ITEM_ID_CHARS = 100

ItemId = Annotated[
    str, Path(max_length=_MAX_ITEM_ID_CHARS, pattern=PLAIN, description="The item's id.")
]
PurposeParam = Annotated[
    str | None,
    Query(
        max_length=100,
        pattern=PLAIN,
        description="The purpose of the retrieval; required for qa (one of its own).",
    ),
]


#: RFC 3339 date-time with an offset (fractions up to microseconds).
RFC3339 = r"^\d{4}-\d{2}-\d{2}[Tt]\d{2}:\d{2}:\d{2}(\.\d{1,6})?([Zz]|[+-]\d{2}:\d{2})$"


def time_query(description: str) -> Any:
    """A query parameter holding an RFC 3339 time (numbers are not times here)."""
    return Query(
        pattern=RFC3339,
        max_length=40,
        description=description,
        json_schema_extra={"format": "date-time"},
    )


def utc(name: str, value: str | None) -> datetime | None:
    """An RFC 3339 query time as an aware UTC datetime; 422 naming the field otherwise."""
    if value is None:
        return None
    try:
        parsed = datetime.fromisoformat(value.upper())
    except ValueError as err:
        raise BadRequestError(name, "not an RFC 3339 time") from err
    if parsed.tzinfo is None or parsed.utcoffset() is None:
        raise BadRequestError(name, "needs a UTC offset (RFC 3339)")
    try:
        return parsed.astimezone(UTC)
    except OverflowError as err:
        raise BadRequestError(name, "out of range") from err


def _encode_cursor(cursor: tuple[datetime, str] | None) -> str | None:
    if cursor is None:
        return None
    at, item_id = cursor
    return base64.urlsafe_b64encode(f"{at.isoformat()}|{item_id}".encode()).decode()


_CURSOR_ALPHABET = frozenset(string.ascii_letters + string.digits + "-_=")
_NOT_A_CURSOR = "not a cursor this API returned"


def _decode_cursor(value: str) -> tuple[datetime, str]:
    """The (occurred_at, item_id) a cursor carries; 422 naming `cursor` for anything else.

    A cursor is client input like any other: only the base64url alphabet, a time that
    converts to UTC, and an item id without control characters get through to the catalog.
    """
    if not _CURSOR_ALPHABET.issuperset(value):
        raise BadRequestError("cursor", _NOT_A_CURSOR)
    try:
        at_text, item_id = base64.urlsafe_b64decode(value.encode()).decode().split("|", 1)
        at = datetime.fromisoformat(at_text)
    except (ValueError, binascii.Error) as err:
        raise BadRequestError("cursor", _NOT_A_CURSOR) from err
    if at.tzinfo is None or at.utcoffset() is None:
        raise BadRequestError("cursor", _NOT_A_CURSOR)
    try:
        at = at.astimezone(UTC)
    except OverflowError as err:  # a time near year 1 or 9999 that UTC cannot hold
        raise BadRequestError("cursor", _NOT_A_CURSOR) from err
    if not item_id or len(item_id) > _MAX_ITEM_ID_CHARS or not item_id.isprintable():
        raise BadRequestError("cursor", _NOT_A_CURSOR)
    return at, item_id


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
        item_purposes=purpose_states(record),
        restricted=record.restricted,
        purpose=purpose,
        policy=policy,
        now=services.clock(),
    ):
        raise NotFoundError("no such item")
    return record


async def check_purpose(services: ApiServices, caller: Principal, purpose: str | None) -> None:
    """A purpose-bound role must retrieve for a purpose of its own (legal, privacy: any)."""
    if caller.role in _SEES_ALL:
        return
    if purpose is None:
        raise BadRequestError("purpose", f"role {caller.role} must name a purpose")
    declared = (await services.storage.policies.active()).purposes.get(purpose)
    if declared is None:
        raise BadRequestError("purpose", "no such purpose in the active policy")
    if caller.role not in declared.roles:
        raise ForbiddenError(f"role {caller.role} may not retrieve items for {purpose!r}")


def _attributes(request: Request) -> dict[str, str]:
    found: dict[str, str] = {}
    for key, value in request.query_params.multi_items():
        if not key.startswith(_ATTR_PREFIX):
            continue
        name = key.removeprefix(_ATTR_PREFIX)
        if not name or len(name) > 100 or len(value) > 500:  # noqa: PLR2004 - catalog widths
            raise BadRequestError(key, "attribute names are 1..100 chars, values up to 500")
        if any(ord(c) < 0x20 or ord(c) == 0x7F for c in name + value):  # noqa: PLR2004
            raise BadRequestError(key, "must not contain control characters")
        if name in found and found[name] != value:
            raise BadRequestError(key, "given twice with different values")
        found[name] = value
    return found


@router.get(
    "",
    summary="List items, newest first",
    response_model=ItemPageOut,
    responses=error_responses(403, 422),
)
async def list_items(
    *,
    request: Request,
    services: Services,
    caller: Caller,
    purpose: PurposeParam = None,
    type: Annotated[str | None, Query(pattern="^(call_recording|email|chat)$")] = None,
    subject_id: Annotated[str | None, Query(max_length=200, pattern=PLAIN)] = None,
    staff_id: Annotated[str | None, Query(max_length=200, pattern=PLAIN)] = None,
    since: Annotated[str | None, time_query("occurred_at >= since (RFC 3339)")] = None,
    until: Annotated[str | None, time_query("occurred_at < until (RFC 3339)")] = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 50,
    cursor: Annotated[str | None, Query(max_length=500)] = None,
) -> JSONResponse:
    """Items matching every filter; `attr.<key>=<value>` filters on attributes.

    Pages are keyset-paginated on (occurred_at, item_id), so items arriving between pages
    neither repeat nor push others out of the next page.
    """
    since_at, until_at = utc("since", since), utc("until", until)
    attributes = _attributes(request)
    await check_purpose(services, caller, purpose)
    query = ItemQuery(
        purpose=purpose,
        type=type,
        subject_id=subject_id,
        staff_id=staff_id,
        since=since_at,
        until=until_at,
        attributes=attributes,
        unexpired_at=services.clock() if purpose else None,
        exclude_restricted=caller.role not in _SEES_ALL,
        limit=min(limit, services.settings.max_page_size),
        cursor=_decode_cursor(cursor) if cursor else None,
    )
    page = await services.storage.catalog.list(query)
    statuses = await review_statuses(services, [r.item_id for r in page.items])
    items = [item_json(r, status=statuses.get(r.item_id)) for r in page.items]
    return JSONResponse({"items": items, "next_cursor": _encode_cursor(page.next_cursor)})


@router.get(
    "/{item_id}",
    summary="One item's metadata",
    response_model=ItemOut,
    responses=error_responses(404, 422),
)
async def get_item(
    *, item_id: ItemId, services: Services, caller: Caller, purpose: PurposeParam = None
) -> JSONResponse:
    """The item, if the caller may see it (``status`` awaiting_review while in review)."""
    record = await visible_item(services, caller.role, item_id, purpose)
    statuses = await review_statuses(services, [item_id])
    return JSONResponse(item_json(record, status=statuses.get(item_id)))


async def review_statuses(services: ApiServices, item_ids: list[str]) -> dict[str, str]:
    """``awaiting_review`` for each of these items with an open disposition review."""
    if services.reviews is None or not item_ids:
        return {}
    return dict.fromkeys(await services.reviews.open_states(item_ids), "awaiting_review")


_CONTENT_RESPONSES: dict[int | str, dict[str, Any]] = {
    200: {
        "description": "The whole content, in its own content type",
        "content": {"*/*": {"schema": {"type": "string", "format": "binary"}}},
    },
    206: {
        "description": "The byte range asked for (Content-Range says which)",
        "content": {"*/*": {"schema": {"type": "string", "format": "binary"}}},
    },
    **error_responses(404, 416, 422, 500),
}


_FALLBACK_MEDIA_TYPE = "application/octet-stream"
_FILE_NAME_CHARS = frozenset(string.ascii_letters + string.digits + "._-")


def _served_as(record: ItemRecord, stored: StoredContent) -> tuple[str, str]:
    """The Content-Type and download file name of the content: header-safe, always.

    Items stored before content types were checked may carry any text; they are served as
    application/octet-stream rather than echoing it.
    """
    media_type = stored.content.content_type
    if not is_media_type(media_type):
        return _FALLBACK_MEDIA_TYPE, f"{record.item_id}.bin"
    name = PurePosixPath(content_file_name(record) or f"{record.item_id}.bin").name
    return media_type, "".join(c if c in _FILE_NAME_CHARS else "_" for c in name)


def _content_headers(
    record: ItemRecord, stored: StoredContent, span: tuple[int, int] | None
) -> dict[str, str]:
    size = stored.content.size_bytes
    start, end = span if span is not None else (0, size - 1)
    media_type, file_name = _served_as(record, stored)
    headers = {
        "Content-Type": media_type,
        "Content-Length": str(end - start + 1 if size else 0),
        "Accept-Ranges": "bytes",
        "ETag": f'"{stored.content.sha256}"',
        "Cache-Control": "private, no-store",
        # Stored content is never a page of this site, whatever its type says: a browser
        # saves it rather than rendering it (media elements still play it), never guesses
        # another type, and would run nothing in it if it did render.
        "Content-Disposition": f'attachment; filename="{file_name}"',
        "X-Content-Type-Options": "nosniff",
        "Content-Security-Policy": "sandbox; default-src 'none'",
    }
    if span is not None:
        headers["Content-Range"] = f"bytes {start}-{end}/{size}"
    return headers


async def _readable(
    services: ApiServices, caller: Principal, request: Request, item_id: str, purpose: str | None
) -> tuple[ItemRecord, StoredContent, tuple[int, int] | None]:
    await check_purpose(services, caller, purpose)
    record = await visible_item(services, caller.role, item_id, purpose)
    if record.stored is None:
        raise NotFoundError("this item has no content")
    stored = record.stored
    span = None
    if range_applies(request.headers.get("if-range"), f'"{stored.content.sha256}"'):
        span = parse_range(request.headers.get("range"), stored.content.size_bytes)
    return record, stored, span


async def _close(body: AsyncIterator[bytes]) -> None:
    aclose = getattr(body, "aclose", None)
    if aclose is not None:
        await aclose()


async def _rest(first: bytes, body: AsyncIterator[bytes]) -> AsyncIterator[bytes]:
    try:
        if first:
            yield first
        async for chunk in body:
            yield chunk
    finally:
        await _close(body)


@router.get(
    "/{item_id}/content",
    summary="The decrypted content, streamed; honours Range",
    response_class=StreamingResponse,
    responses=_CONTENT_RESPONSES,
)
async def get_content(
    *,
    item_id: ItemId,
    request: Request,
    services: Services,
    caller: Caller,
    purpose: PurposeParam = None,
) -> StreamingResponse:
    """Stream the item's plaintext; every read is audited.

    Always sent as an attachment (`<item_id>.<ext>`) with `X-Content-Type-Options: nosniff`
    and a sandboxing Content-Security-Policy, so a chat or e-mail never runs in a browser;
    `<audio>` elements ignore the disposition and play it. A content type that is not a
    valid media type (stored before they were checked) is sent as application/octet-stream.

    The first chunk is decrypted before the response starts, so content that fails its
    integrity check is a clean 500 rather than a truncated 200. The read is audited before
    the response starts too, while that chunk is fetched (an attempt whose first chunk fails
    is audited as well).
    """
    return await stream_content(services, caller, request, item_id, purpose)


async def stream_content(
    services: ApiServices,
    caller: Principal,
    request: Request,
    item_id: str,
    purpose: str | None,
    *,
    via: str | None = None,
) -> StreamingResponse:
    """The content response of `GET /content` (also behind a signed content URL).

    Args:
        services: The API's services.
        caller: Who reads, in the role the read is decided for.
        request: The request (its Range and If-Range headers).
        item_id: The item.
        purpose: The purpose of the retrieval.
        via: How the read came in, for the audit entry (e.g. ``content-url``).
    """
    record, stored, span = await _readable(services, caller, request, item_id, purpose)
    size = stored.content.size_bytes
    start, end = span if span is not None else (0, max(size - 1, 0))
    body = services.storage.vault.open(item_id=item_id, stored=stored, start=start, end=end)
    # The read is audited while its first segment is fetched and checked: both are done
    # before a byte is sent, in about the time of the slower of the two.
    reading = asyncio.ensure_future(anext(body, b""))
    try:
        await services.record_audit(
            caller,
            "content.read",
            item_id=item_id,
            details={
                "purpose": purpose,
                "range": [start, end] if span else None,
                **({"via": via} if via else {}),
            },
        )
        first = await reading
    except BaseException:
        reading.cancel()
        with contextlib.suppress(BaseException):
            await reading
        await _close(body)
        raise
    return StreamingResponse(
        _rest(first, body),
        status_code=206 if span is not None else 200,
        headers=_content_headers(record, stored, span),
    )


@router.head("/{item_id}/content", include_in_schema=False)
async def head_content(
    *,
    item_id: ItemId,
    request: Request,
    services: Services,
    caller: Caller,
    purpose: PurposeParam = None,
) -> Response:
    """The headers a GET would send, without the content (nothing is read, nothing audited)."""
    record, stored, span = await _readable(services, caller, request, item_id, purpose)
    status = 206 if span is not None else 200
    return Response(status_code=status, headers=_content_headers(record, stored, span))
