"""Subject rights: erasure, export, restriction, objection and consent (role privacy)."""

from __future__ import annotations

import asyncio
import tempfile
from collections.abc import AsyncIterator
from typing import IO, Annotated, Any

from fastapi import APIRouter, Path
from fastapi.responses import StreamingResponse
from pydantic import BaseModel, ConfigDict, Field, StrictBool

from api.errors import BadRequestError, NotFoundError, UnavailableError, error_responses
from api.presenters import (
    access_report_json,
    consent_json,
    erasure_json,
    item_json,
    objection_json,
    rectification_json,
    restriction_json,
)
from api.routes.items import PLAIN, RFC3339, utc
from api.services import ApiServices, Caller, Services
from service.errors import InvalidRequestError
from service.subjects.export import SubjectExporter
from service.subjects.rectification import NothingToRectifyError, Rectify
from service.subjects.service import SubjectRightsService
from storage.errors import StorageError

router = APIRouter(prefix="/v1/subjects", tags=["subjects"])

# Only NUL is refused: PostgreSQL cannot store it, while a subject id from an event may hold
# other control characters and its subject must still be able to exercise their rights.
SubjectId = Annotated[str, Path(min_length=1, max_length=200, pattern=r"^[^\x00]+$")]
#: Purposes in one objection: a policy defines a few dozen at most.
MAX_OBJECTION_PURPOSES = 100
PurposeName = Annotated[str, Field(min_length=1, max_length=100, pattern=PLAIN)]
_CHUNK_BYTES = 1 << 20


class _Body(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class RestrictionBody(_Body):
    """``{"restricted": bool}``."""

    model_config = ConfigDict(
        extra="forbid", frozen=True, json_schema_extra={"examples": [{"restricted": True}]}
    )

    restricted: StrictBool = Field(description="true restricts the subject's items; false lifts")
    effective_at: str | None = Field(
        default=None,
        max_length=40,
        pattern=RFC3339,
        description="A lifting only: when it takes effect (RFC 3339); announced first on the "
        "notices topic, the restriction stays in force until then. Absent: at once.",
        json_schema_extra={"format": "date-time"},
    )


class ObjectionBody(_Body):
    """``{"purposes": [..]}``; absent or null: every legitimate-interests purpose."""

    model_config = ConfigDict(
        extra="forbid",
        frozen=True,
        json_schema_extra={"examples": [{"purposes": ["training"]}, {}]},
    )

    purposes: list[PurposeName] | None = Field(
        default=None,
        min_length=1,
        max_length=MAX_OBJECTION_PURPOSES,
        description="Purposes objected to; omit for all.",
    )


class ConsentBody(_Body):
    """``{"purpose": str, "granted": bool}``."""

    model_config = ConfigDict(
        extra="forbid",
        frozen=True,
        json_schema_extra={"examples": [{"purpose": "marketing", "granted": False}]},
    )

    purpose: PurposeName = Field(description="A consent-based purpose.")
    granted: StrictBool = Field(description="true grants consent; false withdraws it")


def _rights(services: ApiServices) -> SubjectRightsService:
    return services.rights


@router.post("/{subject_id}/erasure", summary="Erase the subject's items, or say why not")
async def erasure(subject_id: SubjectId, services: Services, caller: Caller) -> dict[str, Any]:
    """``{"erased": [item_id..], "retained": [{"item_id", "reason"}..]}``.

    A reason is ``legal_hold:<matter>`` or ``legal_obligation:<purpose>``; items kept only
    by holds (also listed under ``deferred``) are erased when the last hold is released.
    Each retained item also lists ``dropped_purposes``, the purposes this request took off
    it (its reason does not need them), and ``kept_purposes``, those it keeps.
    """
    try:
        result = await _rights(services).erasure(subject_id, actor=caller.name)
    except StorageError as err:
        raise UnavailableError(
            "the object store refused or is unreachable; the request is on file, repeat it"
        ) from err
    return erasure_json(result)


@router.get(
    "/{subject_id}/export",
    summary="The subject's items: items.json and each decrypted artefact, as a zip",
    response_class=StreamingResponse,
    responses={200: {"content": {"application/zip": {}}}},
)
async def export(subject_id: SubjectId, services: Services, caller: Caller) -> StreamingResponse:
    """A zip with ``items.json`` and ``content/<item_id><ext>`` (every read is audited)."""
    exporter = SubjectExporter(
        rights=_rights(services),
        vault=services.storage.vault,
        audit=services.storage.audit,
        clock=services.clock,
        reporter=services.access_report,
    )
    handle: IO[bytes] = await asyncio.to_thread(tempfile.TemporaryFile)
    try:
        await exporter.export(subject_id, actor=caller.name, out=handle, present=item_json)
        size = await asyncio.to_thread(handle.seek, 0, 2)
        await asyncio.to_thread(handle.seek, 0)
    except StorageError as err:
        handle.close()
        raise UnavailableError("content could not be read now; try again") from err
    except BaseException:
        handle.close()
        raise
    return StreamingResponse(
        _stream(handle),
        media_type="application/zip",
        headers={
            "Content-Length": str(size),
            "Content-Disposition": 'attachment; filename="subject-export.zip"',
            "Cache-Control": "no-store",
        },
    )


async def _stream(handle: IO[bytes]) -> AsyncIterator[bytes]:
    try:
        while chunk := await asyncio.to_thread(handle.read, _CHUNK_BYTES):
            yield chunk
    finally:
        await asyncio.to_thread(handle.close)


@router.post("/{subject_id}/restriction", summary="Restrict the subject's items, or lift it")
async def restriction(
    subject_id: SubjectId, body: RestrictionBody, services: Services, caller: Caller
) -> dict[str, Any]:
    """Restricted items are hidden from every role but legal and privacy, at once.

    A lifting is announced on the notices topic before it takes effect; with
    ``effective_at`` the restriction stays in force until then (``lifting_at``).
    """
    try:
        result = await _rights(services).restriction(
            subject_id,
            restricted=body.restricted,
            actor=caller.name,
            effective_at=utc("effective_at", body.effective_at),
        )
    except InvalidRequestError as err:
        raise BadRequestError(err.field, err.message) from err
    return restriction_json(result)


@router.post("/{subject_id}/objection", summary="Record an objection (GDPR Art. 21)")
async def objection(
    subject_id: SubjectId, services: Services, caller: Caller, body: ObjectionBody | None = None
) -> dict[str, Any]:
    """Legitimate-interests purposes named (default: all) leave the subject's items for good.

    Purposes that are not based on legitimate interests cannot be objected to; they are
    listed under ``ignored``. A purpose the active policy does not define is a 422.
    """
    purposes = body.purposes if body is not None else None
    try:
        result = await _rights(services).objection(subject_id, purposes, actor=caller.name)
    except InvalidRequestError as err:
        raise BadRequestError(err.field, err.message) from err
    return objection_json(result)


@router.post("/{subject_id}/consent", summary="Grant or withdraw consent for a purpose")
async def consent(
    subject_id: SubjectId, body: ConsentBody, services: Services, caller: Caller
) -> dict[str, Any]:
    """Record the decision; a withdrawal also takes the purpose off the subject's items.

    A grant applies to items ingested from now on and must name a consent-based purpose of
    the active policy. A withdrawal may name a purpose the policy no longer defines, but
    not one that rests on another basis (object to those instead).
    """
    try:
        result = await _rights(services).consent(
            subject_id, body.purpose, granted=body.granted, actor=caller.name
        )
    except InvalidRequestError as err:
        raise BadRequestError(err.field, err.message) from err
    return consent_json(result)


class RectificationSet(_Body):
    """What the matching parties are to carry instead."""

    subject_id: str | None = Field(
        default=None,
        min_length=1,
        max_length=200,
        pattern=r"^[^\x00]+$",
        description="The data subject the parties belong to.",
    )
    display_name: str | None = Field(
        default=None,
        min_length=1,
        max_length=200,
        pattern=PLAIN,
        description="The parties' display name.",
    )


class RectificationBody(_Body):
    """``{"item_id"?, "address"?, "set": {"subject_id"?, "display_name"?}, "reason"}``."""

    model_config = ConfigDict(
        extra="forbid",
        frozen=True,
        json_schema_extra={
            "examples": [
                {
                    "item_id": "0b6f2d0e-1c1a-4e8e-9a57-5d2f0c9a1b11",
                    "set": {"subject_id": "cust-43"},
                    "reason": "the CRM matched the wrong customer to this number",
                }
            ]
        },
    )

    item_id: str | None = Field(
        default=None, min_length=1, max_length=100, pattern=PLAIN, description="Only this item."
    )
    address: str | None = Field(
        default=None,
        min_length=1,
        max_length=320,
        pattern=PLAIN,
        description="Only parties with this address, on every item of the subject.",
    )
    set: RectificationSet = Field(description="The corrected values.")
    reason: str = Field(
        min_length=1, max_length=2000, pattern=r"^[^\x00]+$", description="Why (audited)."
    )


@router.post(
    "/{subject_id}/rectification",
    summary="Correct how items are linked to the subject (never their content)",
    responses=error_responses(404, 422),
)
async def rectification(
    subject_id: SubjectId, body: RectificationBody, services: Services, caller: Caller
) -> dict[str, Any]:
    """Relink the subject's parties on one item, or on every item with an address.

    Purposes, restriction and holds follow the subject the items now belong to; each item's
    previous parties stay in its audit entry; ``recipients_to_inform`` lists the recipients
    of earlier disclosures of the items, who must be told. 404 if no item of the subject
    matches.
    """
    request = Rectify(
        subject_id=subject_id,
        item_id=body.item_id,
        address=body.address,
        new_subject_id=body.set.subject_id,
        new_display_name=body.set.display_name,
        reason=body.reason,
    )
    try:
        result = await services.rectification.rectify(request, actor=caller.name)
    except InvalidRequestError as err:
        raise BadRequestError(err.field, err.message) from err
    except NothingToRectifyError as err:
        raise NotFoundError("no item of the subject matches") from err
    return rectification_json(result)


@router.get(
    "/{subject_id}/access-report",
    summary="What an answer to a subject access request must say (GDPR Art. 15)",
)
async def access_report(
    subject_id: SubjectId, services: Services, caller: Caller
) -> dict[str, Any]:
    """The subject's items by type, purposes with basis and retention, sources, recipients.

    Also the restriction and objections in force; every report is audited. The export
    holds the same report as a readable document (``access-report.txt``).
    """
    report = await services.access_report.report(subject_id, actor=caller.name)
    return access_report_json(report)
