"""ConsentService: applies consent, objection and restriction events to the catalog."""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import datetime

from storage.sql_subjects import SqlSubjectStore
from streams.events import ConsentEvent

log = logging.getLogger(__name__)


class ConsentService:
    """Records each event's effect on the data subject (idempotent: the latest state wins)."""

    def __init__(self, subjects: SqlSubjectStore, clock: Callable[[], datetime]) -> None:
        self._subjects = subjects
        self._clock = clock

    async def apply(self, event: ConsentEvent) -> None:
        """Apply one event from privacy.consent."""
        at = self._clock()
        if event.action in {"grant", "withdraw"}:
            assert event.purpose is not None  # the event model requires it
            await self._subjects.set_consent(
                event.subject_id,
                event.purpose,
                granted=event.action == "grant",
                at=at,
                source=event.source,
            )
        elif event.action in {"restrict", "unrestrict"}:
            await self._subjects.set_restricted(
                event.subject_id, restricted=event.action == "restrict", at=at
            )
        else:
            await self._subjects.add_objection(event.subject_id, event.purpose or "*", at=at)
        log.info("consent event %s applied", event.action)
