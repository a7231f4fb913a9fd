"""Legal productions of a hold's items: request, follow, download (role legal)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Annotated, Any

from fastapi import APIRouter, Path
from fastapi.responses import StreamingResponse

from api.errors import ConflictError, NotFoundError, UnavailableError, error_responses
from api.presenters import production_json
from api.routes.holds import HoldId
from api.routes.items import PLAIN
from api.services import ApiServices, Caller, Services
from service.productions.models import (
    ProductionNotFoundError,
    ProductionNotReadyError,
    ProductionRequest,
)
from service.productions.service import ProductionService
from storage.errors import HoldAlreadyReleasedError, HoldNotFoundError, StorageError

router = APIRouter(tags=["productions"])

ProductionId = Annotated[
    str, Path(min_length=1, max_length=36, pattern=PLAIN, description="The production's id.")
]


def _service(services: ApiServices) -> ProductionService:
    if services.productions is None:
        raise UnavailableError("productions are not built by this process")
    return services.productions


@router.post(
    "/v1/holds/{hold_id}/productions",
    status_code=202,
    summary="Produce every item a hold covers (built in the background)",
    responses=error_responses(404, 409, 422),
)
async def request_production(hold_id: HoldId, services: Services, caller: Caller) -> dict[str, Any]:
    """202 ``{"production_id"}``; follow it at ``GET /v1/productions/{production_id}``.

    404 for an unknown hold, 409 for a released one (it covers nothing any more).
    """
    try:
        record = await _service(services).request(
            ProductionRequest(hold_id=hold_id, requested_by=caller.name)
        )
    except HoldNotFoundError as err:
        raise NotFoundError("no such hold") from err
    except HoldAlreadyReleasedError as err:
        raise ConflictError(str(err)) from err
    return {"production_id": record.production_id, "status": record.status.value}


@router.get(
    "/v1/productions/{production_id}",
    summary="A production's status and progress",
    responses=error_responses(404, 422),
)
async def get_production(
    production_id: ProductionId, services: Services, caller: Caller
) -> dict[str, Any]:
    """``status`` (queued, running, ready, failed) and ``progress`` (items and bytes done)."""
    del caller  # the role check is the dependency
    try:
        record = await _service(services).get(production_id)
    except ProductionNotFoundError as err:
        raise NotFoundError("no such production") from err
    return production_json(record)


@router.get(
    "/v1/productions/{production_id}/download",
    summary="The production's zip (natives, loadfile.csv, signed manifest)",
    response_class=StreamingResponse,
    responses={
        200: {"content": {"application/zip": {}}},
        **error_responses(404, 409, 422, 503),
    },
)
async def download_production(
    production_id: ProductionId, services: Services, caller: Caller
) -> StreamingResponse:
    """The zip, streamed; 409 while it is being built or when it failed. Audited."""
    try:
        record, chunks = await _service(services).download(production_id, actor=caller.name)
    except ProductionNotFoundError as err:
        raise NotFoundError("no such production") from err
    except ProductionNotReadyError as err:
        raise ConflictError(str(err)) from err
    assert record.stored is not None  # ready
    first = await _first(chunks)
    return StreamingResponse(
        _rest(first, chunks),
        media_type="application/zip",
        headers={
            "Content-Length": str(record.stored.content.size_bytes),
            "Content-Disposition": f'attachment; filename="production-{production_id}.zip"',
            "Cache-Control": "no-store",
        },
    )


async def _first(chunks: AsyncIterator[bytes]) -> bytes:
    """The first piece, read before the response starts: a store fault is still a 503."""
    try:
        return await anext(chunks, b"")
    except StorageError as err:
        aclose = getattr(chunks, "aclose", None)
        if aclose is not None:
            await aclose()
        raise UnavailableError("the production could not be read now; try again") from err


async def _rest(first: bytes, chunks: AsyncIterator[bytes]) -> AsyncIterator[bytes]:
    try:
        if first:
            yield first
        async for chunk in chunks:
            yield chunk
    finally:
        aclose = getattr(chunks, "aclose", None)
        if aclose is not None:
            await aclose()
