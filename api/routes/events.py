"""HTTP ingest: validate one artefact event and publish it to its topic."""

from __future__ import annotations

import json
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse
from pydantic import ValidationError

from api.errors import BadRequestError, ForbiddenError, UnavailableError, field_message
from api.schemas import EVENT_EXAMPLES, EVENT_REQUEST_BODY
from api.services import Caller, Services
from service.ingest.errors import BadEventError
from service.ingest.models import (
    ARTEFACT_TYPES,
    SUBMITTED_BY_HEADER,
    TOPIC_OF_TYPE,
    FieldValueError,
    artefact_adapter,
    error_field,
    validate_artefact,
)

router = APIRouter(prefix="/v1/events", tags=["events"])

#: The largest event body (`api.body_limit.BodyLimit` answers 413 above it). It stays under
#: the 1 MiB a Kafka producer sends by default, with room for the key and the record's
#: framing, and holds the base64 of the largest inline content with 300 kB left for fields.
MAX_EVENT_BODY_BYTES = 1_000_000
_JSON_TYPES = frozenset({"", "application/json"})


async def _event_body(request: Request) -> Any:
    media = request.headers.get("content-type", "").split(";", 1)[0].strip().lower()
    if media not in _JSON_TYPES and not media.endswith("+json"):
        raise BadRequestError("content-type", "send the event as application/json")
    raw = await request.body()
    try:
        return json.loads(raw)
    except UnicodeDecodeError as err:
        raise BadRequestError("(body)", "the body is not UTF-8 JSON") from err
    except json.JSONDecodeError as err:
        raise BadRequestError(
            "(body)", f"not valid JSON: {err.msg} at line {err.lineno}, column {err.colno}"
        ) from err
    except RecursionError as err:
        raise BadRequestError("(body)", "the JSON is nested too deeply") from err


def _example_value(kind: str, loc: list[str]) -> Any:
    """The contract example's value at loc, for a field of this event type, if it has one."""
    value: Any = EVENT_EXAMPLES.get(kind)
    for part in loc:
        if isinstance(value, dict):
            value = value.get(part)
        elif isinstance(value, list) and part.isdigit() and int(part) < len(value):
            value = value[int(part)]
        else:
            return None
    return value if isinstance(value, str | int) else None


def _every_error(body: Any) -> list[dict[str, str]]:
    """Every invalid field of an event of a known type, each with what is wrong."""
    kind = body.get("type") if isinstance(body, dict) else None
    if not isinstance(kind, str) or kind not in ARTEFACT_TYPES:
        return []
    try:
        artefact_adapter.validate_python(body)
    except ValidationError as err:
        found = []
        for error in err.errors():
            loc = [str(part) for part in error["loc"]][1:]  # after the union's tag
            cause = (error.get("ctx") or {}).get("error")
            if isinstance(cause, FieldValueError):
                loc.append(cause.field)
            message = str(cause) if isinstance(cause, ValueError) else field_message(error)
            example = _example_value(str(kind), loc)
            if error["type"] == "missing" and example is not None:
                message = f"{message}, e.g. {json.dumps(example)}"
            found.append(
                {"field": ".".join(loc) or "(body)", "location": "body", "message": message}
            )
        return found
    return []


def _validated(body: Any) -> Any:
    """The event, validated as the workers do, then against the document's JSON types."""
    try:
        event = validate_artefact(body)
    except BadEventError as err:
        field = err.field or "(body)"
        every = _every_error(body)
        if len(every) > 1:  # all at once: no round trip per missing field
            detail = "; ".join(f"{e['field']}: {e['message']}" for e in every)
            raise BadRequestError(field, detail.removeprefix(f"{field}: "), errors=every) from err
        raise BadRequestError(field, err.error.removeprefix(f"{field}: ")) from err
    # The workers read producers' JSON leniently ("5" for 5, 0 for a time); over HTTP the
    # event has exactly the JSON types /openapi.json gives, so a client learns them at once.
    try:
        artefact_adapter.validate_json(json.dumps(body), strict=True)
    except ValidationError as err:
        field, message = error_field(err, tags=ARTEFACT_TYPES)
        raise BadRequestError(field, f"{message} (JSON types as in /openapi.json)") from err
    return event


@router.post(
    "",
    status_code=202,
    summary="Accept one artefact event (SPEC section 3)",
    description="Validates the event exactly as the stream workers do, then publishes it "
    "to its topic (comms.calls, comms.emails or comms.chats). Ingest is asynchronous: 202 "
    "means Kafka has the event; the item appears in `GET /v1/items` once a worker has "
    "fetched, encrypted and stored it, usually within seconds. Content is fetched by the "
    "worker, so a missing object or a wrong checksum is a dead letter "
    "(`GET /v1/dead-letters`), not a 422 here.",
    openapi_extra=EVENT_REQUEST_BODY,
    responses={
        202: {"description": "Kafka has the event; a worker will store it"},
        413: {"description": f"The body is larger than {MAX_EVENT_BODY_BYTES} bytes"},
        422: {"description": "The event is invalid; `field` names the first bad field"},
        503: {"description": "Kafka did not acknowledge the event; retry"},
    },
)
async def post_event(request: Request, services: Services, caller: Caller) -> JSONResponse:
    """Validate the event as the workers will, then publish it to its topic."""
    body = await _event_body(request)
    event = _validated(body)
    allowed = services.settings.sources_of(caller.name)
    if allowed is not None and event.source not in allowed:
        # Another system's (source, event_id) must not be claimable by this principal.
        raise ForbiddenError(
            f"source: {caller.name!r} may not submit events for source {event.source!r} "
            f"(KEEPLINE_INGEST_SOURCES allows: {', '.join(sorted(allowed)) or 'none'})"
        )
    topic = services.topics[TOPIC_OF_TYPE[event.type]]
    value = json.dumps(body, separators=(",", ":"), ensure_ascii=False).encode("utf-8")
    try:
        await services.publisher.publish(
            topic,
            event.key().encode("utf-8"),
            value,
            headers=[(SUBMITTED_BY_HEADER, caller.name.encode("utf-8"))],
        )
    except Exception as err:  # any producer failure means "not accepted"
        raise UnavailableError("Kafka did not accept the event; retry later") from err
    return JSONResponse(
        {"accepted": True, "topic": topic, "event_id": event.event_id, "source": event.source},
        status_code=202,
    )
