"""NoticeService: the notices owed to data subjects and recipients, through the outbox.

Two kinds reach the notices topic (SPEC sections 2 and 5):

- ``restriction_lifting``: ``{"subject_id", "action", "effective_at"}``, written before a
  restriction is lifted; a lifting at a later time takes effect only once this notice is on
  the topic (`SubjectRightsService.run_due_liftings`).
- ``recipients_to_inform``: ``{"subject_id", "action", "cause", "recipients"}`` after an
  erasure, rectification or restriction, naming the recipients of earlier disclosures of
  the subject's items, who must be told (GDPR Art. 19).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import datetime

from service.disclosures.models import Recipient
from storage.ports import NoticeOutbox

#: The actions of the notices topic.
RESTRICTION_LIFTING = "restriction_lifting"
RECIPIENTS_TO_INFORM = "recipients_to_inform"


class NoticeService:
    """Writes notices to the outbox the notice publisher empties onto the topic."""

    def __init__(self, *, outbox: NoticeOutbox, clock: Callable[[], datetime]) -> None:
        self._outbox = outbox
        self._clock = clock

    @property
    def outbox(self) -> NoticeOutbox:
        """The outbox (for scheduling liftings)."""
        return self._outbox

    async def restriction_lifting(self, subject_id: str, effective_at: datetime) -> int:
        """Announce that the subject's restriction is lifted at effective_at; the notice id."""
        return await self._outbox.add(
            subject_id=subject_id,
            action=RESTRICTION_LIFTING,
            body={
                "subject_id": subject_id,
                "action": RESTRICTION_LIFTING,
                "effective_at": effective_at.isoformat(),
            },
            at=self._clock(),
        )

    async def recipients_to_inform(
        self, subject_id: str, cause: str, recipients: Sequence[Recipient]
    ) -> int | None:
        """Ask for the recipients to be told of an erasure, rectification or restriction.

        Returns:
            The notice id; None when nobody received the subject's items (no notice).
        """
        if not recipients:
            return None
        return await self._outbox.add(
            subject_id=subject_id,
            action=RECIPIENTS_TO_INFORM,
            body={
                "subject_id": subject_id,
                "action": RECIPIENTS_TO_INFORM,
                "cause": cause,
                "recipients": [r.to_json() for r in recipients],
            },
            at=self._clock(),
        )
