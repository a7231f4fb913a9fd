"""DisclosureService: legal enters each disclosure to a third party; the register is read back.

An entry names the recipient, the legal basis, the request's reference, when the items were
handed over, and the items: named one by one, or every item a hold covers at the time of
entry. Each item's subjects are kept as the catalog links them then, so the recipients of a
subject's data can be listed (the access report, the notices owed after an erasure,
rectification or restriction) even once the items are gone. Every entry is audited.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Callable, Iterable
from datetime import datetime, timedelta

from service.disclosures.models import (
    MAX_DISCLOSED_ITEMS,
    Recipient,
    RecordDisclosure,
    recipients_of,
)
from service.errors import InvalidRequestError
from storage.models import DisclosureRecord, ItemStatus
from storage.ports import AuditLog, Catalog, DisclosureRegister, HoldStore

log = logging.getLogger(__name__)

#: How far ahead of keepline's clock a disclosure time may be (clocks of other systems drift).
CLOCK_SKEW = timedelta(minutes=5)


class DisclosureService:
    """Enters disclosures (audited) and lists them by subject, by item or by date."""

    def __init__(
        self,
        *,
        register: DisclosureRegister,
        catalog: Catalog,
        holds: HoldStore,
        audit: AuditLog,
        clock: Callable[[], datetime],
    ) -> None:
        self._register = register
        self._catalog = catalog
        self._holds = holds
        self._audit = audit
        self._clock = clock

    async def record(self, request: RecordDisclosure, *, actor: str) -> DisclosureRecord:
        """Enter one disclosure and audit it.

        Raises:
            InvalidRequestError: Neither or both of items and hold, an item that is not
                stored, a hold that does not exist, or a time in the future.
        """
        now = self._clock()
        if bool(request.item_ids) == (request.hold_id is not None):
            raise InvalidRequestError("item_ids", "give either item_ids or hold_id, not both")
        if len(request.item_ids) > MAX_DISCLOSED_ITEMS:
            raise InvalidRequestError("item_ids", f"at most {MAX_DISCLOSED_ITEMS} items")
        if request.disclosed_at > now + CLOCK_SKEW:
            raise InvalidRequestError("disclosed_at", "is in the future")
        for index, item_id in enumerate(request.item_ids):
            record = await self._catalog.get(item_id)
            if record is None or record.status is not ItemStatus.STORED:
                raise InvalidRequestError(f"item_ids[{index}]", "no such stored item")
        if request.hold_id is not None and await self._holds.get(request.hold_id) is None:
            raise InvalidRequestError("hold_id", "no such hold")
        entry = await self._register.record(
            DisclosureRecord(
                disclosure_id=str(uuid.uuid4()),
                recipient=request.recipient,
                legal_basis=request.legal_basis,
                reference=request.reference,
                hold_id=request.hold_id,
                disclosed_at=request.disclosed_at,
                recorded_by=actor,
                recorded_at=now,
            ),
            item_ids=request.item_ids,
        )
        await self._audit.append(
            actor=actor,
            action="register.recorded",
            at=now,
            details={
                "disclosure_id": entry.disclosure_id,
                "recipient": entry.recipient,
                "legal_basis": entry.legal_basis,
                "reference": entry.reference,
                "hold_id": entry.hold_id,
                "disclosed_at": entry.disclosed_at.isoformat(),
                "items": len(entry.item_ids),
                "item_ids": list(entry.item_ids[:100]),
            },
        )
        log.info("disclosure %s recorded, %d items", entry.disclosure_id, len(entry.item_ids))
        return entry

    async def listed(
        self,
        *,
        subject_id: str | None = None,
        since: datetime | None = None,
        limit: int = 1000,
    ) -> list[DisclosureRecord]:
        """Entries disclosed at or after since, newest first; of one subject's items if given."""
        return await self._register.list(subject_id=subject_id, since=since, limit=limit)

    async def recipients(
        self, *, subject_id: str | None = None, item_ids: Iterable[str] | None = None
    ) -> tuple[Recipient, ...]:
        """Who received the subject's items, or these items, earlier: the people to tell."""
        if subject_id is None and item_ids is None:
            return ()
        entries = await self._register.list(subject_id=subject_id, item_ids=item_ids)
        return recipients_of(entries)

    async def link_subject(self, item_ids: Iterable[str], subject_id: str) -> int:
        """Add subject_id to the earlier disclosures of these items (after a rectification)."""
        return await self._register.link_subject(item_ids, subject_id)
