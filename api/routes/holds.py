"""Legal holds by matter: place, preview, list with counts, read, release (role legal)."""

from __future__ import annotations

import json
from typing import Annotated, Any

from fastapi import APIRouter, Path, Query
from pydantic import BaseModel, ConfigDict, Field
from pydantic.config import JsonDict

from api.errors import BadRequestError, ConflictError, NotFoundError, error_responses
from api.presenters import hold_json
from api.routes.items import PLAIN
from api.services import ApiServices, Caller, Services
from policies.errors import InvalidHoldCriteria
from policies.holds import criteria_from_json
from policies.models import HoldCriteria
from service.holds.service import HoldsService
from storage.errors import HoldAlreadyReleasedError, HoldNotFoundError
from storage.sql.schema import MAX_RELEASE_REASON_CHARS

router = APIRouter(prefix="/v1/holds", tags=["holds"])

HoldId = Annotated[str, Path(min_length=1, max_length=36, pattern=PLAIN)]
#: Values per criteria list, and per attribute: a hold names people, desks and queues, not
#: a directory; the catalog query and every sweep grow with these lists.
MAX_CRITERIA_VALUES = 1000
#: Attribute names in one hold's criteria.
MAX_CRITERIA_ATTRIBUTES = 100
#: Characters of one value of each list criterion: the catalog columns these are matched
#: against (`storage.sql.schema.item_parties`) hold no longer values.
MAX_CRITERIA_VALUE_CHARS = {"subject_ids": 200, "addresses": 320, "staff_ids": 200}
#: Characters of an attribute name and of an attribute value (`item_attributes`).
MAX_ATTRIBUTE_NAME_CHARS = 100
MAX_ATTRIBUTE_VALUE_CHARS = 500


class _Body(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


def _values(max_chars: int) -> JsonDict:
    return {"minItems": 1, "items": {"type": "string", "minLength": 1, "maxLength": max_chars}}


class CriteriaBody(_Body):
    """Which items a hold covers: every criterion given must match; within a list, any value.

    At least one criterion; ``null`` is the same as leaving a criterion out, an empty list
    is refused (it would silently widen the hold).
    """

    model_config = ConfigDict(
        extra="forbid",
        frozen=True,
        json_schema_extra={
            "minProperties": 1,
            "examples": [
                {
                    "subject_ids": ["cust-42"],
                    "types": ["call_recording", "email"],
                    "since": "2026-01-01T00:00:00Z",
                    "attributes": {"desk": ["fx", "rates"]},
                }
            ],
        },
    )

    subject_ids: list[str] | None = Field(
        default=None,
        max_length=MAX_CRITERIA_VALUES,
        description="Items where any of these data subjects is a party.",
        json_schema_extra=_values(MAX_CRITERIA_VALUE_CHARS["subject_ids"]),
    )
    addresses: list[str] | None = Field(
        default=None,
        max_length=MAX_CRITERIA_VALUES,
        description="Items where any of these addresses is a party (case-insensitive).",
        json_schema_extra=_values(MAX_CRITERIA_VALUE_CHARS["addresses"]),
    )
    staff_ids: list[str] | None = Field(
        default=None,
        max_length=MAX_CRITERIA_VALUES,
        description="Items where any of these staff members is a party.",
        json_schema_extra=_values(MAX_CRITERIA_VALUE_CHARS["staff_ids"]),
    )
    types: list[str] | None = Field(
        default=None,
        max_length=MAX_CRITERIA_VALUES,
        description="Items of any of these types.",
        json_schema_extra={
            "minItems": 1,
            "items": {"type": "string", "enum": ["call_recording", "email", "chat"]},
        },
    )
    since: str | None = Field(
        default=None,
        max_length=40,
        description="Items that occurred at or after this RFC 3339 time.",
        json_schema_extra={"format": "date-time", "examples": ["2026-01-01T00:00:00Z"]},
    )
    until: str | None = Field(
        default=None,
        max_length=40,
        description="Items that occurred before this RFC 3339 time (exclusive).",
        json_schema_extra={"format": "date-time", "examples": ["2026-07-01T00:00:00Z"]},
    )
    attributes: dict[str, str | list[str]] | None = Field(
        default=None,
        description="For each attribute name, a value or a list of values the item's "
        "attribute must be one of.",
        json_schema_extra={
            "minProperties": 1,
            "maxProperties": MAX_CRITERIA_ATTRIBUTES,
            "propertyNames": {"maxLength": MAX_ATTRIBUTE_NAME_CHARS},
        },
    )

    def given(self) -> dict[str, Any]:
        """The criteria given, in their JSON form."""
        return self.model_dump(exclude_none=True)


class HoldBody(_Body):
    """``{"matter", "description", "criteria"}``."""

    model_config = ConfigDict(
        extra="forbid",
        frozen=True,
        json_schema_extra={
            "examples": [
                {
                    "matter": "FCA enquiry 2026-117",
                    "description": "Calls and e-mails of one customer since January",
                    "criteria": {"subject_ids": ["cust-42"], "since": "2026-01-01T00:00:00Z"},
                }
            ]
        },
    )

    matter: str = Field(
        min_length=1,
        max_length=200,
        pattern=r"^[^\x00-\x1f\x7f]+$",
        description="The legal matter (no control characters).",
    )
    description: str = Field(
        default="", max_length=10_000, pattern=r"^[^\x00]*$", description="Free text."
    )
    criteria: CriteriaBody = Field(description="Which items the hold covers.")


class PreviewBody(_Body):
    """``{"criteria"}``."""

    model_config = ConfigDict(
        extra="forbid",
        frozen=True,
        json_schema_extra={"examples": [{"criteria": {"staff_ids": ["agent-7"]}}]},
    )

    criteria: CriteriaBody = Field(description="As for placing a hold.")


class ReleaseBody(_Body):
    """``{"reason"?}``: why the hold is released, kept with the hold and in the audit trail."""

    model_config = ConfigDict(
        extra="forbid",
        frozen=True,
        json_schema_extra={"examples": [{"reason": "Matter settled; court order of 2026-11-30"}]},
    )

    reason: str | None = Field(
        default=None,
        max_length=MAX_RELEASE_REASON_CHARS,
        pattern=r"^[^\x00]*$",
        description="Why the hold is released (free text, optional).",
        examples=["Matter settled; court order of 2026-11-30"],
    )


def _check_sizes(data: dict[str, Any]) -> None:
    """422 naming the first list or value over its bound (shapes are checked later)."""
    too_many = f"at most {MAX_CRITERIA_VALUES} values"
    for name, value in data.items():
        if isinstance(value, list) and len(value) > MAX_CRITERIA_VALUES:
            raise BadRequestError(f"criteria.{name}", too_many)
        limit = MAX_CRITERIA_VALUE_CHARS.get(name)
        if limit is not None and isinstance(value, list):
            _check_lengths(f"criteria.{name}", value, limit)
    attributes = data.get("attributes")
    if not isinstance(attributes, dict):
        return
    if len(attributes) > MAX_CRITERIA_ATTRIBUTES:
        raise BadRequestError(
            "criteria.attributes", f"at most {MAX_CRITERIA_ATTRIBUTES} attribute names"
        )
    for key, values in attributes.items():
        if len(key) > MAX_ATTRIBUTE_NAME_CHARS:
            # The name itself is not echoed: it is over the bound.
            raise BadRequestError(
                "criteria.attributes",
                f"attribute names must have at most {MAX_ATTRIBUTE_NAME_CHARS} characters",
            )
        if isinstance(values, list) and len(values) > MAX_CRITERIA_VALUES:
            raise BadRequestError(f"criteria.attributes.{key}", too_many)
        if isinstance(values, str) and len(values) > MAX_ATTRIBUTE_VALUE_CHARS:
            raise BadRequestError(
                f"criteria.attributes.{key}",
                f"must have at most {MAX_ATTRIBUTE_VALUE_CHARS} characters",
            )
        if isinstance(values, list):
            _check_lengths(f"criteria.attributes.{key}", values, MAX_ATTRIBUTE_VALUE_CHARS)


def _check_lengths(field: str, values: list[Any], limit: int) -> None:
    for index, value in enumerate(values):
        if isinstance(value, str) and len(value) > limit:
            raise BadRequestError(f"{field}[{index}]", f"must have at most {limit} characters")


def _criteria(data: dict[str, Any]) -> HoldCriteria:
    _check_sizes(data)
    # NUL is refused by PostgreSQL text columns and has no place in an identifier.
    if "\\u0000" in json.dumps(data):
        raise BadRequestError("criteria", "must not contain NUL characters")
    try:
        return criteria_from_json(data)
    except InvalidHoldCriteria as err:
        field = f"criteria.{err.field}" if err.field else "criteria"
        raise BadRequestError(field, err.message) from err


def _service(services: ApiServices) -> HoldsService:
    return services.holds


@router.post("", status_code=201, summary="Place a legal hold", responses=error_responses(422))
async def place_hold(body: HoldBody, services: Services, caller: Caller) -> dict[str, Any]:
    """201 with the hold, its ``hold_id`` and ``matched``: the items it covers now."""
    record = await _service(services).place(
        matter=body.matter,
        description=body.description,
        criteria=_criteria(body.criteria.given()),
        by=caller.name,
        at=services.clock(),
    )
    return hold_json(record)


@router.get("", summary="Every hold, newest first, with its count")
async def list_holds(
    services: Services,
    caller: Caller,
    active: Annotated[bool | None, Query(description="only active (true) or released")] = None,
) -> dict[str, Any]:
    """``{"holds": [..]}``; each with ``matched``, the items it covers now."""
    del caller  # the role check is the dependency
    found = await _service(services).holds.list_all()
    if active is not None:
        found = [h for h in found if h.active is active]
    return {"holds": [hold_json(h) for h in found]}


@router.post(
    "/preview", summary="How many items a hold would cover", responses=error_responses(422)
)
async def preview_hold(body: PreviewBody, services: Services, caller: Caller) -> dict[str, int]:
    """``{"matched": n}``, without placing anything."""
    del caller
    return {"matched": await _service(services).holds.preview(_criteria(body.criteria.given()))}


@router.get("/{hold_id}", summary="One hold with its count", responses=error_responses(404, 422))
async def get_hold(hold_id: HoldId, services: Services, caller: Caller) -> dict[str, Any]:
    """The hold; 404 if there is none."""
    del caller
    record = await _service(services).holds.get(hold_id)
    if record is None:
        raise NotFoundError("no such hold")
    return hold_json(record)


@router.post(
    "/{hold_id}/release", summary="Release a hold", responses=error_responses(404, 409, 422)
)
async def release_hold(
    hold_id: HoldId, services: Services, caller: Caller, body: ReleaseBody | None = None
) -> dict[str, Any]:
    """The released hold, with ``release_reason``; covered items resume normal retention.

    The body is optional. 409 if the hold was released before.
    """
    reason = (body.reason or "").strip() if body is not None else ""
    try:
        record = await _service(services).release(
            hold_id, by=caller.name, at=services.clock(), reason=reason or None
        )
    except HoldNotFoundError as err:
        raise NotFoundError("no such hold") from err
    except HoldAlreadyReleasedError as err:
        raise ConflictError(str(err)) from err
    return hold_json(record)
