"""HTTP ingest: validate one artefact event and publish it to its topic."""

from __future__ import annotations

import json
from typing import Any

from fastapi import APIRouter, Body
from fastapi.responses import JSONResponse
from pydantic import ValidationError

from api.errors import BadRequestError, UnavailableError
from api.services import Caller, Services
from streams.events import TOPIC_OF_TYPE, artefact_adapter

router = APIRouter(prefix="/v1/events", tags=["events"])


@router.post(
    "",
    status_code=202,
    summary="Accept one artefact event (SPEC section 3)",
    responses={202: {"description": "Published to its topic"}},
)
async def post_event(
    services: Services,
    caller: Caller,
    body: dict[str, Any] = Body(  # noqa: B008 - FastAPI's declaration style
        ..., description="A call_recording, email or chat event"
    ),
) -> JSONResponse:
    """422 naming the bad field, or 202 once Kafka has the event."""
    kind = body.get("type")
    if kind not in TOPIC_OF_TYPE:
        raise BadRequestError("type", "must be one of call_recording, email, chat")
    try:
        event = artefact_adapter.validate_python(body)
    except ValidationError as err:
        first = err.errors()[0]
        field = ".".join(str(p) for p in first["loc"]) or "(body)"
        raise BadRequestError(field, first["msg"]) from err
    topic = services.topics[TOPIC_OF_TYPE[event.type]]
    value = json.dumps(body, separators=(",", ":"), ensure_ascii=False).encode("utf-8")
    try:
        await services.publisher.publish(topic, event.key().encode("utf-8"), value)
    except Exception as err:
        raise UnavailableError("Kafka did not accept the event; retry later") from err
    return JSONResponse(
        {"accepted": True, "topic": topic, "event_id": event.event_id, "source": event.source},
        status_code=202,
    )
