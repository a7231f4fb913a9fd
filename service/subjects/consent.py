"""ConsentService: applies privacy.consent events through the subject-rights service.

grant and withdraw record the subject's consent for one purpose (a withdrawal also takes that
consent-based purpose off the subject's items); object records an objection (no purpose:
every legitimate-interests purpose) and takes the purposes off; restrict and unrestrict hide
the subject's items from every role but legal and privacy, or show them again. Applying an
event twice leaves the same state: the stores keep states, not counters.
"""

from __future__ import annotations

import logging

from service.errors import InvalidRequestError
from service.ingest.errors import BadEventError, DeadLetterReason
from service.ingest.models import ConsentEvent
from service.subjects.service import SubjectRightsService

log = logging.getLogger(__name__)


def event_actor(event: ConsentEvent) -> str:
    """Who the audit trail names for an event: the publishing system."""
    return f"event:{event.source}"


class ConsentService:
    """Applies consent, objection and restriction events (idempotent)."""

    def __init__(self, rights: SubjectRightsService) -> None:
        self._rights = rights

    async def apply(self, event: ConsentEvent) -> None:
        """Apply one event from privacy.consent.

        Raises:
            BadEventError: The event asks what the API would refuse (a dead letter).
            SQLAlchemyError, StorageError: transient faults; the processor retries the event.
        """
        try:
            await self._apply(event)
        except InvalidRequestError as err:
            # Refused as the API refuses it: the CRM learns why from the dead letter.
            raise BadEventError(
                DeadLetterReason.SCHEMA_VIOLATION, str(err), field=err.field
            ) from err
        log.info("consent event %s applied", event.action)

    async def _apply(self, event: ConsentEvent) -> None:
        actor = event_actor(event)
        if event.action in {"grant", "withdraw"}:
            assert event.purpose is not None  # the event model requires it
            await self._rights.consent(
                event.subject_id,
                event.purpose,
                granted=event.action == "grant",
                actor=actor,
                source=event.source,
            )
        elif event.action in {"restrict", "unrestrict"}:
            await self._rights.restriction(
                event.subject_id,
                restricted=event.action == "restrict",
                actor=actor,
                source=event.source,
            )
        else:
            purposes = None if event.purpose is None else [event.purpose]
            await self._rights.objection(
                event.subject_id, purposes, actor=actor, source=event.source
            )
