"""Proof of disposal: the tombstones by date, and a signed certificate of one day's destructions."""

from __future__ import annotations

import tempfile
from collections.abc import Iterator
from datetime import date
from typing import IO, Annotated

from fastapi import APIRouter, Query
from fastapi.responses import JSONResponse, StreamingResponse

from api.errors import BadRequestError, UnavailableError, error_responses
from api.presenters import DisposalPageOut, tombstone_json
from api.routes.items import _decode_cursor, _encode_cursor, time_query, utc
from api.services import ApiServices, Caller, Services
from service.disposals.models import CertificateRequest, ListDisposals
from service.disposals.service import DisposalService
from service.errors import InvalidRequestError

router = APIRouter(prefix="/v1/disposals", tags=["disposals"])

#: A certificate larger than this is spooled to a temporary file, not held in memory.
_SPOOL_BYTES = 8 << 20
_PIECE_BYTES = 1 << 20
_DATE = r"^\d{4}-\d{2}-\d{2}$"


def _disposals(services: ApiServices) -> DisposalService:
    if services.disposals is None:
        raise UnavailableError("proof of disposal is not configured in this process")
    return services.disposals


@router.get(
    "",
    summary="Tombstones of destroyed items, oldest first",
    description="Every item destroyed in [since, until) (the sweeper, an erasure, a review "
    "decision), as its tombstone: item id, type, when, why and the policy version. No "
    "personal data is kept of a destroyed item.",
    response_model=DisposalPageOut,
    responses=error_responses(422),
)
async def list_disposals(
    *,
    services: Services,
    _caller: Caller,
    since: Annotated[str | None, time_query("Destroyed at or after (RFC 3339).")] = None,
    until: Annotated[str | None, time_query("Destroyed before (RFC 3339).")] = None,
    limit: Annotated[int, Query(ge=1, le=1000, description="At most this many.")] = 100,
    cursor: Annotated[
        str | None, Query(max_length=200, description="`next_cursor` of the previous page.")
    ] = None,
) -> JSONResponse:
    """One page of tombstones; page on with `cursor`."""
    request = ListDisposals(
        since=utc("since", since),
        until=utc("until", until),
        after=_decode_cursor(cursor) if cursor else None,
        limit=limit,
    )
    try:
        page = await _disposals(services).tombstones(request)
    except InvalidRequestError as err:
        raise BadRequestError(err.field, err.message) from err
    return JSONResponse(
        {
            "disposals": [tombstone_json(t) for t in page.tombstones],
            "next_cursor": _encode_cursor(page.next_after),
        }
    )


def _pieces(spool: IO[bytes]) -> Iterator[bytes]:
    try:
        spool.seek(0)
        while piece := spool.read(_PIECE_BYTES):
            yield piece
    finally:
        spool.close()


@router.get(
    "/certificate",
    summary="A signed certificate of one day's destructions",
    description="A zip in the signed-bundle format `keepline-bundle/1`: `destructions.json` "
    "and `destructions.csv` (item id, type, destroyed_at, reason, policy version and the seq "
    "of its `item.destroyed` audit entry for every item destroyed that UTC day), "
    "`manifest.json` (each file's sha256 and size; details: counts, policy versions, the "
    "audit sequence range, and `complete`: whether the day was over) and `manifest.sig` "
    "(Ed25519). `keepline verify CERT.zip --keys signing-keys.json` checks it offline. "
    "Issuing one is audited.",
    response_class=StreamingResponse,
    responses={
        200: {"content": {"application/zip": {}}, "description": "The certificate."},
        **error_responses(422),
    },
)
async def disposal_certificate(
    *,
    services: Services,
    caller: Caller,
    day: Annotated[
        str,
        Query(
            alias="date",
            pattern=_DATE,
            max_length=10,
            description="The UTC day, YYYY-MM-DD.",
            examples=["2026-12-02"],
        ),
    ],
) -> StreamingResponse:
    """The certificate of that day's destructions."""
    try:
        parsed = date.fromisoformat(day)
    except ValueError as err:
        raise BadRequestError("date", "not a calendar date (YYYY-MM-DD)") from err
    spool = tempfile.SpooledTemporaryFile(max_size=_SPOOL_BYTES)  # noqa: SIM115 - closed by _pieces
    try:
        await _disposals(services).certificate(
            CertificateRequest(day=parsed, actor=caller.name, role=caller.role), spool
        )
    except InvalidRequestError as err:
        spool.close()
        raise BadRequestError(err.field, err.message) from err
    except BaseException:
        spool.close()
        raise
    name = f"disposal-certificate-{parsed.isoformat()}.zip"
    return StreamingResponse(
        _pieces(spool),
        media_type="application/zip",
        headers={"Content-Disposition": f'attachment; filename="{name}"'},
    )
