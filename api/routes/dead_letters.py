"""Dead letters: the input messages keepline could not accept, newest first (admin, auditor)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field

from api.errors import error_responses
from api.presenters import dead_letter_json
from api.routes.items import PLAIN, time_query, utc
from api.services import Caller, Services
from service.ingest.errors import DeadLetterReason
from storage.sql.dead_letters import SqlDeadLetters

router = APIRouter(prefix="/v1/dead-letters", tags=["dead letters"])


class DeadLetterOut(BaseModel):
    """One message that could not be accepted; it is also in the dead-letter topic, whole."""

    reason: DeadLetterReason = Field(description="Why it was not accepted (SPEC section 3).")
    error: str = Field(description="What was wrong, without what was fetched.")
    topic: str = Field(description="The topic the message was on, e.g. comms.calls.")
    partition: int
    offset: int
    event_id: str | None = Field(description="The event's id, when the message named one.")
    source: str | None = Field(description="The event's source, when the message named one.")
    failed_at: str = Field(description="When it was dead-lettered (RFC 3339).")


class DeadLetterPageOut(BaseModel):
    """The most recent dead letters matching the filters."""

    dead_letters: list[DeadLetterOut]


@router.get(
    "",
    summary="The most recent dead letters",
    description="Messages from the input topics (and events posted to `/v1/events`) that "
    "could not be accepted, newest first, with the reason, the error, where the message was "
    "and its event id and source when it named them. Each is also in the `keepline.dlq` "
    "topic with the message itself.",
    response_model=DeadLetterPageOut,
    responses=error_responses(422),
)
async def list_dead_letters(
    *,
    services: Services,
    _caller: Caller,
    reason: Annotated[
        DeadLetterReason | None, Query(description="Only letters with this reason.")
    ] = None,
    source: Annotated[
        str | None,
        Query(
            min_length=1,
            max_length=100,
            pattern=PLAIN,
            description="Only letters whose event named this source.",
            examples=["pbx-london-1"],
        ),
    ] = None,
    since: Annotated[
        str | None, time_query("Letters dead-lettered at or after (RFC 3339).")
    ] = None,
    limit: Annotated[int, Query(ge=1, le=1000, description="At most this many.")] = 100,
) -> JSONResponse:
    """The newest letters matching every filter given."""
    found = await SqlDeadLetters(services.storage.db).recent(
        reason=reason.value if reason else None,
        source=source,
        since=utc("since", since),
        limit=limit,
    )
    return JSONResponse({"dead_letters": [dead_letter_json(letter) for letter in found]})
