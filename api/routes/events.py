"""HTTP ingest: validate one artefact event and publish it to its topic."""

from __future__ import annotations

import json
from typing import Any

from fastapi import APIRouter, Body
from fastapi.responses import JSONResponse

from api.errors import BadRequestError, UnavailableError
from api.services import Caller, Services
from streams.errors import BadEventError
from streams.events import TOPIC_OF_TYPE, validate_artefact

router = APIRouter(prefix="/v1/events", tags=["events"])

#: The largest event body (`api.body_limit.BodyLimit` answers 413 above it). It stays under
#: the 1 MiB a Kafka producer sends by default, with room for the key and the record's
#: framing, and holds the base64 of the largest inline content with 300 kB left for fields.
MAX_EVENT_BODY_BYTES = 1_000_000


@router.post(
    "",
    status_code=202,
    summary="Accept one artefact event (SPEC section 3)",
    responses={
        202: {"description": "Kafka has the event; a worker will store it"},
        413: {"description": f"The body is larger than {MAX_EVENT_BODY_BYTES} bytes"},
        422: {"description": "The event is invalid; `field` names the first bad field"},
        503: {"description": "Kafka did not acknowledge the event; retry"},
    },
)
async def post_event(
    services: Services,
    caller: Caller,
    body: Any = Body(  # noqa: B008 - FastAPI's declaration style
        ..., description="A call_recording, email or chat event"
    ),
) -> JSONResponse:
    """Validate the event as the workers will, then publish it to its topic.

    The same validation runs here and in the worker (``streams.events.validate_artefact``),
    so an event answered 202 is never dead-lettered for its schema. Content is fetched by the
    worker, so a missing object or a wrong checksum still goes to the dead-letter topic.

    Raises:
        BadRequestError: 422 naming the first bad field (``parties``, ``content.sha256`` …).
        UnavailableError: 503 when Kafka did not acknowledge the event.
    """
    del caller  # the role check is the dependency itself
    try:
        event = validate_artefact(body)
    except BadEventError as err:
        field = err.field or "(body)"
        raise BadRequestError(field, err.error.removeprefix(f"{field}: ")) from err
    topic = services.topics[TOPIC_OF_TYPE[event.type]]
    value = json.dumps(body, separators=(",", ":"), ensure_ascii=False).encode("utf-8")
    try:
        await services.publisher.publish(topic, event.key().encode("utf-8"), value)
    except Exception as err:  # any producer failure means "not accepted"
        raise UnavailableError("Kafka did not accept the event; retry later") from err
    return JSONResponse(
        {"accepted": True, "topic": topic, "event_id": event.event_id, "source": event.source},
        status_code=202,
    )
