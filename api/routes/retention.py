"""Why an item is kept, and until when: `GET /v1/items/{item_id}/retention`."""

from __future__ import annotations

from fastapi import APIRouter
from fastapi.responses import JSONResponse

from api.errors import ApiError, NotFoundError, error_responses
from api.presenters import RetentionOut, retention_json
from api.routes.items import ItemId, review_statuses
from api.services import ApiServices, Caller, Services
from service.retention.explain import RetentionExplainer
from service.retention.models import ExplainRequest

router = APIRouter(prefix="/v1/items", tags=["retention"])


def explainer(services: ApiServices) -> RetentionExplainer:
    """The explanation use case (the composition root always wires it)."""
    if services.retention is None:
        raise ApiError("the retention explanation is not configured")
    return services.retention


@router.get(
    "/{item_id}/retention",
    summary="Why the item is kept, and until when",
    response_model=RetentionOut,
    responses=error_responses(404, 422),
)
async def get_retention(item_id: ItemId, services: Services, caller: Caller) -> JSONResponse:
    """Why the item is kept: purposes, holds, erasure, review, Object Lock, destroy_after.

    Each purpose with its basis, expiry and state; the covering holds by matter; a pending
    erasure; the disposition review; and ``destroy_after``, the earliest instant it may go.
    """
    del caller  # the role check is the dependency; legal, privacy and auditor see all
    explanation = await explainer(services).explain(ExplainRequest(item_id=item_id))
    if explanation is None:
        raise NotFoundError("no such item")
    status = (await review_statuses(services, [item_id])).get(item_id, "stored")
    return JSONResponse(retention_json(explanation, status=status))
