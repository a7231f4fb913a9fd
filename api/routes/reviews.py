"""Disposition reviews (role legal): the queue, and a reviewer's destroy or extend."""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import APIRouter, Query
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict, Field

from api.errors import ApiError, BadRequestError, ConflictError, NotFoundError, error_responses
from api.presenters import ReviewListOut, ReviewOut, review_json
from api.routes.items import ItemId
from api.services import ApiServices, Caller, Services
from policies.durations import IsoDuration, parse_duration
from policies.errors import DurationOverflowError, InvalidDurationError
from policies.review import ReviewDecision, ReviewState
from service.errors import InvalidRequestError, ItemNotFoundError
from service.retention.models import ReviewDecisionRequest, ReviewQueueRequest
from service.retention.reviews import ReviewService
from storage.errors import ReviewNotPendingError

router = APIRouter(prefix="/v1/reviews", tags=["reviews"])

#: A duration is short text; anything longer is not one.
MAX_DURATION_CHARS = 40


class DecisionBody(BaseModel):
    """``{"decision": "destroy" | "extend", "extend_by"?, "justification"}``."""

    model_config = ConfigDict(
        extra="forbid",
        frozen=True,
        json_schema_extra={
            "examples": [
                {
                    "decision": "extend",
                    "extend_by": "P1Y",
                    "justification": "Complaint still open with the ombudsman",
                }
            ]
        },
    )

    decision: Literal["destroy", "extend"] = Field(
        description="destroy: on the next sweep (a covering hold still wins); extend: keep "
        "the item again for extend_by."
    )
    extend_by: str | None = Field(
        default=None,
        min_length=2,
        max_length=MAX_DURATION_CHARS,
        pattern=r"^P[0-9A-Za-z.,]*$",
        description="For extend: an ISO 8601 duration from now, e.g. P1Y.",
        examples=["P1Y"],
    )
    justification: str = Field(
        min_length=1,
        max_length=2000,
        pattern=r"^[^\x00]+$",
        description="Why, in the reviewer's words (audited).",
    )


def _service(services: ApiServices) -> ReviewService:
    if services.reviews is None:
        raise ApiError("disposition reviews are not configured")
    return services.reviews


def _duration(body: DecisionBody) -> IsoDuration | None:
    if body.decision == ReviewDecision.DESTROY.value:
        if body.extend_by is not None:
            raise BadRequestError("extend_by", "only an extend decision takes extend_by")
        return None
    if body.extend_by is None:
        raise BadRequestError("extend_by", "is required for an extend decision, e.g. P1Y")
    try:
        return parse_duration(body.extend_by)
    except InvalidDurationError as err:
        raise BadRequestError("extend_by", err.message) from err


@router.get(
    "",
    summary="Items in disposition review, oldest first",
    response_model=ReviewListOut,
    responses=error_responses(422),
)
async def list_reviews(
    services: Services,
    caller: Caller,
    state: Annotated[
        Literal["pending", "destroy", "extended"],
        Query(description="pending: awaiting a decision; destroy, extended: decided."),
    ] = "pending",
    limit: Annotated[int, Query(ge=1, le=500)] = 100,
) -> JSONResponse:
    """``{"reviews": [..]}``: each review with its item's type, occurrence and purposes."""
    del caller  # the role check is the dependency
    queued = await _service(services).queue(
        ReviewQueueRequest(state=ReviewState(state), limit=limit)
    )
    return JSONResponse({"reviews": [review_json(q.review, q.item) for q in queued]})


@router.post(
    "/{item_id}",
    summary="Decide an item's disposition review",
    response_model=ReviewOut,
    responses=error_responses(404, 409, 422),
)
async def decide_review(
    item_id: ItemId, body: DecisionBody, services: Services, caller: Caller
) -> JSONResponse:
    """Record destroy (done by the next sweep) or extend (a new expiry); audited.

    409 when the item awaits no decision (none is open, or another reviewer decided).
    """
    request = ReviewDecisionRequest(
        item_id=item_id,
        decision=ReviewDecision(body.decision),
        extend_by=_duration(body),
        justification=body.justification,
        by=caller.name,
        role=caller.role,
    )
    try:
        review = await _service(services).decide(request)
    except ItemNotFoundError as err:
        raise NotFoundError("no such item") from err
    except ReviewNotPendingError as err:
        raise ConflictError(str(err)) from err
    except InvalidRequestError as err:
        raise BadRequestError(err.field, err.message) from err
    except DurationOverflowError as err:
        raise BadRequestError("extend_by", "gives an expiry beyond the last date") from err
    return JSONResponse(review_json(review))
