"""Integrity passes: the result of the last one (auditor)."""

from __future__ import annotations

from fastapi import APIRouter
from fastapi.responses import JSONResponse

from api.errors import NotFoundError, UnavailableError, error_responses
from api.presenters import FixityOut, fixity_json
from api.services import Caller, Services

router = APIRouter(prefix="/v1/fixity", tags=["fixity"])


@router.get(
    "/latest",
    summary="The last integrity pass",
    description="Every stored object read back and authenticated segment by segment against "
    "the catalog (size, sha256, key): how many were checked, mismatched and missing, how "
    "many object versions no catalog row owns (orphaned), and whether the bucket's "
    "versioning and Object Lock are as keepline and the policy need. 404 until a pass has "
    "finished (`keepline fixity`, or the background pass every KEEPLINE_FIXITY_INTERVAL_S).",
    response_model=FixityOut,
    responses=error_responses(404),
)
async def latest_fixity(services: Services, _caller: Caller) -> JSONResponse:
    """The newest finished pass."""
    if services.fixity is None:
        raise UnavailableError("integrity passes are not configured in this process")
    latest = await services.fixity.latest()
    if latest is None:
        raise NotFoundError("no integrity pass has finished yet")
    return JSONResponse(fixity_json(latest))
