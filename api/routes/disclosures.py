"""The register of disclosures to third parties (POST: legal; GET: legal, privacy, auditor)."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query
from pydantic import BaseModel, ConfigDict, Field

from api.errors import BadRequestError, error_responses
from api.routes.items import PLAIN, RFC3339, time_query, utc
from api.services import ApiServices, Caller, Services
from service.disclosures.models import MAX_DISCLOSED_ITEMS, RecordDisclosure, disclosure_json
from service.disclosures.service import DisclosureService
from service.errors import InvalidRequestError

router = APIRouter(prefix="/v1/disclosures", tags=["disclosures"])

#: A line of text: no control characters, at least one visible character.
_LINE = r"^[^\x00-\x1f\x7f]*[^\s\x00-\x1f\x7f][^\x00-\x1f\x7f]*$"
ItemIdValue = Annotated[str, Field(min_length=1, max_length=36, pattern=PLAIN)]


class DisclosureBody(BaseModel):
    """``{recipient, legal_basis, reference, item_ids or hold_id, disclosed_at}``."""

    model_config = ConfigDict(
        extra="forbid",
        frozen=True,
        json_schema_extra={
            "examples": [
                {
                    "recipient": "Metropolitan Police",
                    "legal_basis": "crime prevention (DPA 2018 Sch. 2 para. 2)",
                    "reference": "MPS-2026-4411",
                    "item_ids": ["0b6f2d0e-1c1a-4e8e-9a57-5d2f0c9a1b11"],
                    "disclosed_at": "2026-11-30T10:00:00Z",
                }
            ]
        },
    )

    recipient: str = Field(min_length=1, max_length=200, pattern=_LINE, description="Who.")
    legal_basis: str = Field(
        min_length=1, max_length=200, pattern=_LINE, description="Why it was lawful."
    )
    reference: str = Field(
        min_length=1, max_length=200, pattern=_LINE, description="The request's reference."
    )
    item_ids: list[ItemIdValue] | None = Field(
        default=None,
        min_length=1,
        max_length=MAX_DISCLOSED_ITEMS,
        description="The items handed over; or give hold_id.",
    )
    hold_id: str | None = Field(
        default=None,
        min_length=1,
        max_length=36,
        pattern=PLAIN,
        description="A hold whose covered items were handed over; or give item_ids.",
    )
    disclosed_at: str = Field(
        max_length=40,
        pattern=RFC3339,
        description="When the items were handed over (RFC 3339).",
        json_schema_extra={"format": "date-time"},
    )


def _service(services: ApiServices) -> DisclosureService:
    return services.disclosures


@router.post(
    "",
    status_code=201,
    summary="Enter a disclosure to a third party in the register",
    responses=error_responses(422),
)
async def record_disclosure(
    body: DisclosureBody, services: Services, caller: Caller
) -> dict[str, Any]:
    """201 with the entry: its id and the items it holds (a hold's: those it covers now)."""
    disclosed_at = utc("disclosed_at", body.disclosed_at)
    assert disclosed_at is not None  # a required field
    request = RecordDisclosure(
        recipient=body.recipient,
        legal_basis=body.legal_basis,
        reference=body.reference,
        disclosed_at=disclosed_at,
        item_ids=tuple(body.item_ids or ()),
        hold_id=body.hold_id,
    )
    try:
        entry = await _service(services).record(request, actor=caller.name)
    except InvalidRequestError as err:
        raise BadRequestError(err.field, err.message) from err
    return disclosure_json(entry)


@router.get(
    "",
    summary="The register of disclosures, newest first",
    responses=error_responses(422),
)
async def list_disclosures(
    *,
    services: Services,
    caller: Caller,
    subject_id: Annotated[
        str | None,
        Query(
            min_length=1,
            max_length=200,
            pattern=r"^[^\x00]+$",
            description="Only disclosures of this subject's items (listing only those items).",
        ),
    ] = None,
    since: Annotated[str | None, time_query("Disclosed at or after (RFC 3339).")] = None,
    limit: Annotated[int, Query(ge=1, le=1000, description="At most this many.")] = 1000,
) -> dict[str, Any]:
    """``{"disclosures": [..]}``; reading the register is audited."""
    entries = await _service(services).listed(
        subject_id=subject_id, since=utc("since", since), limit=limit
    )
    await services.record_audit(
        caller,
        "register.read",
        details={
            "subject_id": subject_id,
            "since": since,
            "disclosures": [e.disclosure_id for e in entries],
        },
    )
    return {"disclosures": [disclosure_json(e) for e in entries]}
