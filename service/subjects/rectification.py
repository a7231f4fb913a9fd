"""RectificationService: correcting how items are linked to data subjects (GDPR Art. 16).

A rectification changes a party's ``subject_id`` or ``display_name`` on one item, or on every
item of the subject where the party has a given address; it never touches the recorded
content (the object, its digest and its Object Lock stay as they are). What follows from the
link is then decided again for the subject the item now belongs to:

- purposes, as at ingest, with the new subjects' consents and objections (purposes a request
  removed earlier are never attached again; expired ones are left to the sweeper);
- restriction, which follows the subjects linked (the catalog joins them);
- legal holds: every active hold whose criteria the item now matches covers it; the holds
  that covered it before keep covering it until legal releases them;
- the disclosure register: earlier disclosures of the item also name the new subject, and
  their recipients are listed as the people to tell (Art. 19).

Each item's previous parties are kept in its audit entry.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from policies.holds import hold_covers
from policies.models import HoldCriteria
from policies.retention import plan_policy_change
from service.disclosures.models import Recipient
from service.disclosures.service import DisclosureService
from service.errors import InvalidRequestError, ServiceError
from service.facts import item_facts
from service.notices.service import NoticeService
from service.retention.locks import ObjectLockSync
from service.retention.service import purpose_rows, purpose_tags
from storage.models import DeferredErasure, ItemQuery, ItemRecord, PartyRow
from storage.ports import AuditLog, Catalog, ObjectStore, PolicyStore, SubjectStore

log = logging.getLogger(__name__)

#: The reason recorded beside purposes a rectification took off an item.
REMOVED_REASON = "rectification"
_PAGE = 500


class NothingToRectifyError(ServiceError):
    """No item of the subject matches what the rectification names."""


@dataclass(frozen=True, slots=True, kw_only=True)
class Rectify:
    """A correction of the links between items and a data subject.

    Attributes:
        subject_id: The subject the parties are linked to now.
        item_id: Only this item.
        address: Only parties with this address (compared case-insensitively).
        new_subject_id: The subject the parties are to be linked to instead.
        new_display_name: The display name the parties are to carry.
        reason: Why (kept in the audit trail).
    """

    subject_id: str
    item_id: str | None = None
    address: str | None = None
    new_subject_id: str | None = None
    new_display_name: str | None = None
    reason: str


@dataclass(frozen=True, slots=True)
class RectifiedItem:
    """What a rectification changed on one item."""

    item_id: str
    before: tuple[dict[str, Any], ...]
    after: tuple[dict[str, Any], ...]
    purposes_added: tuple[str, ...] = ()
    purposes_removed: tuple[str, ...] = ()
    holds_added: tuple[str, ...] = ()

    def as_record(self) -> dict[str, Any]:
        """The item's change, as the audit entry records it."""
        return {
            "item_id": self.item_id,
            "before": list(self.before),
            "after": list(self.after),
            "purposes_added": list(self.purposes_added),
            "purposes_removed": list(self.purposes_removed),
            "holds_added": list(self.holds_added),
        }


@dataclass(frozen=True, slots=True)
class RectificationResult:
    """The answer to a rectification: each item changed, and whom to tell."""

    subject_id: str
    new_subject_id: str | None
    items: tuple[RectifiedItem, ...]
    recipients: tuple[Recipient, ...] = field(default=())

    def as_record(self) -> dict[str, Any]:
        """``{"subject_id", "new_subject_id", "items", "recipients_to_inform"}``, as audited."""
        return {
            "subject_id": self.subject_id,
            "new_subject_id": self.new_subject_id,
            "items": [i.as_record() for i in self.items],
            "recipients_to_inform": [r.to_json() for r in self.recipients],
        }


def _party_json(party: dict[str, Any]) -> dict[str, Any]:
    return {k: party.get(k) for k in ("address", "role", "subject_id", "display_name")}


class RectificationService:
    """Corrects party links and decides again what follows from them."""

    def __init__(
        self,
        *,
        catalog: Catalog,
        subjects: SubjectStore,
        policies: PolicyStore,
        audit: AuditLog,
        lock_sync: ObjectLockSync,
        store: ObjectStore,
        disclosures: DisclosureService,
        clock: Callable[[], datetime],
        notices: NoticeService | None = None,
    ) -> None:
        self._notices = notices
        self._catalog = catalog
        self._subjects = subjects
        self._policies = policies
        self._audit = audit
        self._lock_sync = lock_sync
        self._store = store
        self._disclosures = disclosures
        self._clock = clock

    async def rectify(self, request: Rectify, *, actor: str) -> RectificationResult:
        """Relink the parties the request names and decide again what follows.

        Raises:
            InvalidRequestError: Nothing to set, no item or address named, or the new
                subject is the current one.
            NothingToRectifyError: No item of the subject matches.
        """
        if request.new_subject_id is None and request.new_display_name is None:
            raise InvalidRequestError("set", "give subject_id or display_name")
        if request.item_id is None and request.address is None:
            raise InvalidRequestError("item_id", "give item_id or address (or both)")
        if request.new_subject_id == request.subject_id:
            raise InvalidRequestError("set.subject_id", "is the subject's own id")
        now = self._clock()
        targets = await self._targets(request)
        if not targets:
            raise NothingToRectifyError("no item of the subject matches")
        recipients = await self._disclosures.recipients(item_ids=[r.item_id for r in targets])
        done = [
            await self._rectify_one(record, request, actor=actor, now=now) for record in targets
        ]
        if request.new_subject_id is not None:
            await self._disclosures.link_subject(
                [r.item_id for r in targets], request.new_subject_id
            )
        if self._notices is not None:
            await self._notices.recipients_to_inform(
                request.new_subject_id or request.subject_id, "rectification", recipients
            )
        log.info("rectification: %d items relinked", len(done))
        return RectificationResult(
            request.subject_id, request.new_subject_id, tuple(done), recipients
        )

    async def _targets(self, request: Rectify) -> list[ItemRecord]:
        if request.item_id is not None:
            record = await self._catalog.get(request.item_id)
            candidates = [] if record is None else [record]
        else:
            candidates = await self._items_of(request.subject_id)
        return [r for r in candidates if _matching(r, request)]

    async def _items_of(self, subject_id: str) -> list[ItemRecord]:
        found: list[ItemRecord] = []
        cursor: tuple[datetime, str] | None = None
        while True:
            page = await self._catalog.list(
                ItemQuery(subject_id=subject_id, limit=_PAGE, cursor=cursor)
            )
            found.extend(page.items)
            if page.next_cursor is None:
                return found
            cursor = page.next_cursor

    async def _rectify_one(
        self, record: ItemRecord, request: Rectify, *, actor: str, now: datetime
    ) -> RectifiedItem:
        parties = [dict(p) for p in record.event.get("parties", [])]
        before = tuple(_party_json(p) for p in parties)
        for party in parties:
            if _party_matches(party, request):
                if request.new_subject_id is not None:
                    party["subject_id"] = request.new_subject_id
                if request.new_display_name is not None:
                    party["display_name"] = request.new_display_name
        event = {**record.event, "parties": parties}
        rows = [PartyRow(p.get("address"), p.get("subject_id"), p.get("staff_id")) for p in parties]
        await self._catalog.relink_parties(record.item_id, event=event, parties=rows)
        if not any(p.get("subject_id") == request.subject_id for p in parties):
            await self._drop_queued_erasures(record.item_id, request.subject_id, now)
        relinked = await self._catalog.get(record.item_id)
        added: tuple[str, ...] = ()
        removed: tuple[str, ...] = ()
        holds_added: tuple[str, ...] = ()
        if relinked is not None:
            added, removed = await self._redecide_purposes(relinked, now)
            holds_added = await self._cover(relinked)
            fresh = await self._catalog.get(record.item_id)
            if fresh is not None:
                await self._lock_sync.sync(fresh, now)
                await self._retag(fresh)
        result = RectifiedItem(
            record.item_id,
            before,
            tuple(_party_json(p) for p in parties),
            added,
            removed,
            holds_added,
        )
        await self._audit.append(
            actor=actor,
            action="rectification",
            at=now,
            item_id=record.item_id,
            details={
                "subject_id": request.subject_id,
                "reason": request.reason,
                **result.as_record(),
            },
        )
        return result

    async def _drop_queued_erasures(self, item_id: str, subject_id: str, now: datetime) -> None:
        """The item is no longer the subject's: their queued erasure must not reach it."""
        after: DeferredErasure | None = None
        while pending := await self._subjects.pending_deferred(after=after, limit=_PAGE):
            after = pending[-1]
            for entry in pending:
                if entry.item_id != item_id:
                    continue
                asked = await self._subjects.erasure_request(entry.request_id)
                if asked is not None and asked["subject_id"] == subject_id:
                    await self._subjects.finish_deferred(entry.request_id, item_id, at=now)

    async def _redecide_purposes(
        self, record: ItemRecord, now: datetime
    ) -> tuple[tuple[str, ...], tuple[str, ...]]:
        policy = await self._policies.active()
        people = record.subject_ids
        removed = await self._subjects.removed_purposes([record.item_id])
        consents = await self._catalog.standing_consents(people)
        objections = await self._subjects.objections(people)
        facts = item_facts(record, removed.get(record.item_id, frozenset()))
        change = next(
            iter(
                plan_policy_change(
                    [facts], policy, policy, consents, now, objections_for=objections
                )
            ),
            None,
        )
        if change is None:
            return (), ()
        await self._catalog.set_purposes(
            record.item_id, purpose_rows(change.purposes), policy_version=policy.version
        )
        taken = tuple(sorted(s.name for s in change.removed))
        if taken:
            await self._subjects.record_removed(
                record.item_id, taken, reason=REMOVED_REASON, at=now
            )
        return tuple(sorted(s.name for s in change.added)), taken

    async def _cover(self, record: ItemRecord) -> tuple[str, ...]:
        facts = item_facts(record)
        new = sorted(
            hold_id
            for hold_id, _matter, criteria in await self._catalog.active_hold_criteria()
            if hold_id not in record.hold_ids
            and hold_covers(HoldCriteria.from_json(criteria), facts)
        )
        if new:
            await self._catalog.cover(record.item_id, new, has_object=record.stored is not None)
        return tuple(new)

    async def _retag(self, record: ItemRecord) -> None:
        if record.stored is None:
            return
        tags = purpose_tags(record.type, [p.name for p in record.purposes])
        await asyncio.to_thread(
            self._store.set_tags, record.stored.object_key, record.stored.version_id, tags
        )


def _party_matches(party: dict[str, Any], request: Rectify) -> bool:
    if party.get("subject_id") != request.subject_id:
        return False
    if request.address is None:
        return True
    address = party.get("address")
    return isinstance(address, str) and address.casefold() == request.address.casefold()


def _matching(record: ItemRecord, request: Rectify) -> bool:
    return any(_party_matches(p, request) for p in record.event.get("parties", []))
