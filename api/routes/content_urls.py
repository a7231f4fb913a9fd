"""Signed content URLs: ask for one with a bearer token, then use it without one.

`POST /v1/items/{item_id}/content-url` is decided like `GET /content` (same roles, purpose
rules and visibility); the URL it returns is served by `GET /signed/content/{token}`, which
checks the signature and expiry, decides visibility again for the role that asked, honours
`Range`, and audits the read as `content.read` by that principal (`via: content-url`).
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Path, Request
from fastapi.responses import StreamingResponse

from api.auth import Principal
from api.content_urls import MAX_TOKEN_CHARS, SIGNED_PREFIX, ContentUrlSigner
from api.errors import NotFoundError, error_responses
from api.routes.items import ItemId, PurposeParam, check_purpose, stream_content, visible_item
from api.services import Caller, Services

router = APIRouter(tags=["items"])


def get_signer(request: Request, services: Services) -> ContentUrlSigner:
    """The app's content URL signer, made on first use from the API settings."""
    state = request.app.state
    signer: ContentUrlSigner | None = getattr(state, "content_urls", None)
    if signer is None:
        key = services.settings.content_url_key
        signer = state.content_urls = ContentUrlSigner(
            key.get_secret_value().encode("utf-8") if key else None,
            ttl_s=services.settings.content_url_ttl_s,
        )
    return signer


Signer = Annotated[ContentUrlSigner, Depends(get_signer)]


@router.post(
    "/v1/items/{item_id}/content-url",
    summary="A short-lived URL for one item's content (no bearer needed to use it)",
    responses=error_responses(404, 422),
)
async def create_content_url(
    *,
    item_id: ItemId,
    request: Request,
    services: Services,
    caller: Caller,
    signer: Signer,
    purpose: PurposeParam = None,
) -> dict[str, Any]:
    """``{"url", "expires_at"}``; the URL serves what `GET /content` would, with Range."""
    await check_purpose(services, caller, purpose)
    record = await visible_item(services, caller.role, item_id, purpose)
    if record.stored is None:
        raise NotFoundError("this item has no content")
    path, expires_at = signer.sign(
        item_id=item_id,
        purpose=purpose,
        principal=caller.name,
        role=caller.role,
        now=services.clock(),
    )
    return {"url": str(request.base_url).rstrip("/") + path, "expires_at": expires_at.isoformat()}


_SIGNED_RESPONSES: dict[int | str, dict[str, Any]] = {
    200: {
        "description": "The whole content",
        "content": {"*/*": {"schema": {"type": "string", "format": "binary"}}},
    },
    206: {
        "description": "The byte range asked for",
        "content": {"*/*": {"schema": {"type": "string", "format": "binary"}}},
    },
    **error_responses(403, 404, 416),
}


@router.get(
    SIGNED_PREFIX + "/{token}",
    summary="Content behind a signed URL (the URL is the credential)",
    response_class=StreamingResponse,
    responses=_SIGNED_RESPONSES,
)
async def signed_content(
    *,
    token: Annotated[str, Path(max_length=MAX_TOKEN_CHARS, pattern=r"^[A-Za-z0-9_.\-]+$")],
    request: Request,
    services: Services,
    signer: Signer,
) -> StreamingResponse:
    """The item's content, if the URL is genuine and unexpired and the item still visible."""
    grant = signer.verify(token, now=services.clock())
    reader = Principal(name=grant.principal, role=grant.role)
    return await stream_content(
        services, reader, request, grant.item_id, grant.purpose, via="content-url"
    )
