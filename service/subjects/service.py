"""SubjectRightsService: consent, objection, restriction, erasure and export for a subject.

The decisions are the pure functions of `policies.subject_rights`; this applies them to the
catalog, the object store and the audit trail. Every request is audited with who asked and
what it changed; an erasure is also kept in ``erasure_requests`` with its per-item answer.
"""

from __future__ import annotations

import asyncio
import logging
import uuid
from collections.abc import Callable, Sequence
from datetime import datetime
from typing import Any

from policies.models import Hold, HoldCriteria, ItemFacts, LawfulBasis, PurposeState
from policies.outcomes import ErasureOutcome
from policies.subject_rights import (
    apply_consent_withdrawal,
    apply_objection,
    erasure_outcome,
    ignored_objections,
)
from service.disclosures.models import Recipient
from service.disclosures.service import DisclosureService
from service.errors import InvalidRequestError
from service.facts import item_facts
from service.notices.service import NoticeService
from service.retention.destruction import ItemDestroyer, ItemGuardedError
from service.retention.locks import ObjectLockSync
from service.subjects.models import (
    ConsentResult,
    ErasureResult,
    ObjectionResult,
    RestrictionResult,
    RetainedItem,
)
from storage.errors import ItemHeldError, StorageError
from storage.models import ALL_PURPOSES, Change, DeferredErasure, ItemQuery, ItemRecord, PurposeRow
from storage.ports import AuditLog, Catalog, ObjectStore, PolicyStore, RequestGuards, SubjectStore

log = logging.getLogger(__name__)

#: The tombstone reason of an item erased at its subject's request.
ERASURE_REASON = "erasure"
#: The actor of erasures carried out from the queue once the last hold is gone.
DEFERRED_ACTOR = "keepline:deferred-erasure"
#: The reason given for an item an erasure leaves until another request in progress (an
#: export, a legal production) that names it finishes; it is erased from the queue then.
REQUEST_IN_PROGRESS = "request_in_progress"
#: How long a request's guard holds without being renewed (a process that died mid-request).
GUARD_TTL_S = 900.0
#: The actor of restrictions lifted at their announced time.
LIFTING_ACTOR = "keepline:restriction-lifting"
#: The actor of erasures of items that arrived after their subject's erasure request.
ARRIVAL_ACTOR = "keepline:erasure-on-arrival"
_PAGE = 500


class SubjectRightsService:
    """Carries out a data subject's rights on every item where the subject is a party."""

    def __init__(
        self,
        *,
        catalog: Catalog,
        subjects: SubjectStore,
        policies: PolicyStore,
        audit: AuditLog,
        destroyer: ItemDestroyer,
        lock_sync: ObjectLockSync,
        store: ObjectStore,
        clock: Callable[[], datetime],
        deferred_page_size: int = 500,
        guards: RequestGuards | None = None,
        notices: NoticeService | None = None,
        disclosures: DisclosureService | None = None,
    ) -> None:
        self._notices = notices
        self._disclosures = disclosures
        self._catalog = catalog
        self._store = store
        self._subjects = subjects
        self._policies = policies
        self._audit = audit
        self._destroyer = destroyer
        self._lock_sync = lock_sync
        self._clock = clock
        self._deferred_page_size = deferred_page_size
        self._guards = guards

    @property
    def subjects(self) -> SubjectStore:
        """The subject store."""
        return self._subjects

    @property
    def guards(self) -> RequestGuards | None:
        """Where requests in progress guard the items they name (None: not guarded)."""
        return self._guards

    async def consent(
        self, subject_id: str, purpose: str, *, granted: bool, actor: str, source: str = "api"
    ) -> ConsentResult:
        """Record a grant or withdrawal; a withdrawal takes the purpose off the subject's items.

        A grant applies to items ingested from now on and must name a consent-based purpose
        of the active policy. A withdrawal may name a purpose the policy no longer defines,
        but not one that rests on another basis (object to those instead). Holds do not
        stop a withdrawal: they keep the item, not its purposes.

        Raises:
            InvalidRequestError: The purpose is not one consent can be given or withdrawn for.
        """
        policy = await self._policies.active()
        declared = policy.purposes.get(purpose)
        undefined_withdrawal = declared is None and not granted
        if not undefined_withdrawal and (declared is None or declared.basis != LawfulBasis.CONSENT):
            consent_based = sorted(
                name for name, p in policy.purposes.items() if p.basis == LawfulBasis.CONSENT
            )
            raise InvalidRequestError(
                "purpose",
                f"{purpose!r} is not a consent-based purpose of the active policy "
                f"(consent-based: {', '.join(consent_based) or 'none'})",
            )
        now = self._clock()
        async with self._audit.transaction():
            change = await self._subjects.set_consent(
                subject_id, purpose, granted=granted, at=now, source=source
            )
            changed: tuple[str, ...] = ()
            if not granted:
                changed = await self._reduce_items(
                    subject_id,
                    lambda facts: apply_consent_withdrawal(facts, purpose),
                    reason="withdrawal",
                    now=now,
                )
            await self._audit.append(
                actor=actor,
                action="consent.changed",
                at=now,
                details={
                    "subject_id": subject_id,
                    "purpose": purpose,
                    "granted": granted,
                    "source": source,
                    "changed": change is Change.CHANGED,
                    "items_changed": list(changed),
                },
            )
        await self._sync_objects(changed, now)
        return ConsentResult(subject_id, purpose, granted, change, changed)

    async def objection(
        self, subject_id: str, purposes: Sequence[str] | None, *, actor: str, source: str = "api"
    ) -> ObjectionResult:
        """Record an objection and take the legitimate-interests purposes it names off.

        The objection stands: items ingested later do not get those purposes either.
        Purposes not based on legitimate interests cannot be objected to (they are listed
        as ignored).

        Raises:
            InvalidRequestError: A named purpose is not one of the active policy.
        """
        policy = await self._policies.active()
        for index, name in enumerate(purposes or ()):
            if name not in policy.purposes:
                raise InvalidRequestError(
                    f"purposes[{index}]", f"{name!r} is not a purpose of the active policy"
                )
        now = self._clock()
        named = None if purposes is None else tuple(sorted(set(purposes)))
        ignored = ignored_objections(policy, named)
        async with self._audit.transaction():
            for name in named or (ALL_PURPOSES,):
                await self._subjects.add_objection(subject_id, name, at=now)
            changed = await self._reduce_items(
                subject_id,
                lambda facts: apply_objection(facts, named),
                reason="objection",
                now=now,
            )
            await self._audit.append(
                actor=actor,
                action="objection.recorded",
                at=now,
                details={
                    "subject_id": subject_id,
                    "purposes": None if named is None else list(named),
                    "ignored": list(ignored),
                    "source": source,
                    "items_changed": list(changed),
                },
            )
        await self._sync_objects(changed, now)
        return ObjectionResult(subject_id, named, ignored, changed)

    async def restriction(
        self,
        subject_id: str,
        *,
        restricted: bool,
        actor: str,
        source: str = "api",
        effective_at: datetime | None = None,
    ) -> RestrictionResult:
        """Restrict the subject's items (hidden from all but legal and privacy) or lift it.

        A lifting is announced on the notices topic first; with an ``effective_at`` still
        to come the restriction stays in force until then (`run_due_liftings` lifts it once
        its notice is on the topic). A new restriction cancels a lifting still to come.
        Recipients of earlier disclosures of the subject's items are listed, to be told.
        An event (``source`` other than ``api``) lifts only a restriction its own source
        set, never the privacy team's: that is kept, and the audit entry says so.

        Raises:
            InvalidRequestError: An ``effective_at`` given with ``restricted`` true.
        """
        if restricted and effective_at is not None:
            raise InvalidRequestError("effective_at", "only a lifting takes effect later")
        now = self._clock()
        lifting_at: datetime | None = None
        if self._notices is not None:
            await self._notices.outbox.cancel_lifting(subject_id)
            if not restricted:
                when = max(effective_at or now, now)
                notice_id = await self._notices.restriction_lifting(subject_id, when)
                if when > now:
                    await self._notices.outbox.schedule_lifting(
                        subject_id, effective_at=when, notice_id=notice_id, by=actor, at=now
                    )
                    lifting_at = when
        recipients = await self._recipients(subject_id)
        async with self._audit.transaction():  # the change commits with its entry
            if lifting_at is None:
                change = await self._subjects.set_restricted(
                    subject_id, restricted=restricted, at=now, by=source
                )
            else:
                change = Change.UNCHANGED
            if self._notices is not None:
                await self._notices.recipients_to_inform(subject_id, "restriction", recipients)
            details: dict[str, Any] = {
                "subject_id": subject_id,
                "restricted": restricted,
                "source": source,
                "changed": change is Change.CHANGED,
                "effective_at": None if lifting_at is None else lifting_at.isoformat(),
            }
            if change is Change.KEPT:
                details["kept"] = "set through the API: only the privacy team lifts it"
                log.info("a %s event asked to lift a restriction set through the API: kept", source)
            await self._audit.append(
                actor=actor, action="restriction.changed", at=now, details=details
            )
        in_force = restricted or lifting_at is not None or change is Change.KEPT
        return RestrictionResult(subject_id, in_force, change, lifting_at, recipients)

    async def run_due_liftings(self, now: datetime) -> int:
        """Lift the restrictions whose time has come and whose notice is on the topic."""
        if self._notices is None:
            return 0
        lifted = 0
        for subject_id in await self._notices.outbox.due_liftings(now):
            change = await self._subjects.set_restricted(subject_id, restricted=False, at=now)
            await self._notices.outbox.cancel_lifting(subject_id)
            await self._audit.append(
                actor=LIFTING_ACTOR,
                action="restriction.changed",
                at=now,
                details={
                    "subject_id": subject_id,
                    "restricted": False,
                    "source": "scheduled",
                    "changed": change is Change.CHANGED,
                },
            )
            lifted += 1
        return lifted

    async def _recipients(self, subject_id: str) -> tuple[Recipient, ...]:
        if self._disclosures is None:
            return ()
        return await self._disclosures.recipients(subject_id=subject_id)

    async def erasure(self, subject_id: str, *, actor: str) -> ErasureResult:
        """Erase every item where the subject is a party, or say why it is retained.

        Items kept only by legal holds are queued and erased once the last covering hold
        is released (`run_deferred_erasures`). Retained items lose every purpose their
        reason does not need.

        Raises:
            ObjectStoreError: The store refused to delete an item; the request stays on file
                as in progress and can be repeated.
        """
        now = self._clock()
        request_id = str(uuid.uuid4())
        await self._subjects.open_erasure(
            request_id, subject_id=subject_id, requested_by=actor, at=now
        )
        recipients = await self._recipients(subject_id)
        records = await self.items_of(subject_id)
        # Nothing else destroys the subject's items while the request runs (a sweep would
        # give them another reason); an item another request in progress names is queued.
        guard = await self._open_guard("erasure", records, now)
        try:
            holds = await self._active_holds()
            erased: list[str] = []
            retained: list[RetainedItem] = []
            for record in records:
                outcome = _guard_held(
                    erasure_outcome(item_facts(record), holds, now), record, holds
                )
                if outcome.erase:
                    try:
                        await self._destroyer.destroy(
                            record, reason=ERASURE_REASON, actor=actor, at=now, on_behalf_of=guard
                        )
                    except ItemGuardedError:
                        retained.append(RetainedItem(record.item_id, REQUEST_IN_PROGRESS, True))
                        continue
                    except ItemHeldError as held:
                        # Placed after the decision: kept, and erased once it is released.
                        reason = f"legal_hold:{held.matter}"
                        retained.append(RetainedItem(record.item_id, reason, deferred=True))
                        continue
                    erased.append(record.item_id)
                    continue
                dropped = await self._set_purposes(
                    record, outcome.keep_purposes, reason="erasure", now=now
                )
                retained.append(
                    RetainedItem(
                        record.item_id,
                        outcome.reason or "",
                        outcome.deferred,
                        dropped_purposes=tuple(dropped),
                        kept_purposes=tuple(sorted(p.name for p in outcome.keep_purposes)),
                    )
                )
            result = ErasureResult(
                request_id, subject_id, tuple(erased), tuple(retained), recipients
            )
            async with self._audit.transaction():  # the answer commits with its entry
                if self._notices is not None:
                    await self._notices.recipients_to_inform(subject_id, "erasure", recipients)
                await self._subjects.close_erasure(
                    request_id,
                    outcome=result.as_record(),
                    deferred_item_ids=result.deferred,
                    at=now,
                )
                await self._audit.append(
                    actor=actor, action="erasure.requested", at=now, details=result.as_record()
                )
        finally:
            await self.close_guard(guard)
        log.info(
            "erasure %s: %d erased, %d retained (%d deferred)",
            request_id,
            len(erased),
            len(retained),
            len(result.deferred),
        )
        return result

    async def erase_on_arrival(self, arrivals: Sequence[tuple[str, frozenset[str], bool]]) -> int:
        """Erase newly stored items whose subject asked for erasure before; the number erased.

        An erasure stands: an event queued (or sent) after it is stored and then answered
        as the request was, exemptions included. Items only holds keep are queued on the
        subject's latest request. Called after each commit, so no item escapes an erasure
        running at the same time (that erasure lists it, or this finds the request).

        Args:
            arrivals: (item_id, the item's subject ids, new) of each stored item; new is
                False for a redelivered event, answered again but audited only if that
                changes anything.
        """
        standing = await self._subjects.standing_erasures(
            s for _, ids, _new in arrivals for s in ids
        )
        erased = 0
        for item_id, subject_ids, new in arrivals:
            requests = sorted(standing[s] for s in subject_ids if s in standing)
            if requests:
                erased += await self._erase_arrived(item_id, requests[0], new=new)
        return erased

    async def _erase_arrived(self, item_id: str, request_id: str, *, new: bool) -> int:
        record = await self._catalog.get(item_id)
        if record is None:
            return 0
        now = self._clock()
        holds = await self._active_holds()
        outcome = _guard_held(erasure_outcome(item_facts(record), holds, now), record, holds)
        destroyed = changed = False
        if outcome.erase:
            try:
                destroyed = await self._destroyer.destroy(
                    record, reason=ERASURE_REASON, actor=ARRIVAL_ACTOR, at=now
                )
            except (ItemGuardedError, ItemHeldError):
                # A hold placed, or a request opened, since the decision: queued until then.
                await self._subjects.defer_erasure(request_id, item_id, at=now)
                return 0
        else:
            changed = bool(
                await self._set_purposes(record, outcome.keep_purposes, reason="erasure", now=now)
            )
            if outcome.deferred:
                await self._subjects.defer_erasure(request_id, item_id, at=now)
        if not (new or destroyed or changed):
            return 0  # answered before (a redelivered event): nothing new to record
        await self._audit.append(
            actor=ARRIVAL_ACTOR,
            action="erasure.completed",
            at=now,
            item_id=item_id,
            details={
                "request_id": request_id,
                "erased": outcome.erase,
                "reason": outcome.reason,
                "deferred": outcome.deferred,
                "on_arrival": True,
            },
        )
        log.info("item %s arrived after an erasure: erased=%s", item_id, outcome.erase)
        return int(destroyed)

    async def run_deferred_erasures(self, now: datetime) -> int:
        """Erase queued items that no active hold covers any more; the number erased.

        Safe to call from several places at once (hold release, the sweeper, a timer): an
        item already destroyed is simply taken off the queue.
        """
        holds: list[Hold] | None = None
        erased = 0
        after: DeferredErasure | None = None
        while pending := await self._subjects.pending_deferred(
            after=after, limit=self._deferred_page_size
        ):
            after = pending[-1]
            holds = holds if holds is not None else await self._active_holds()
            for entry in pending:
                try:
                    erased += await self._run_deferred(entry, holds, now)
                except StorageError as err:
                    # Left queued: the next call (next sweep, next release) tries again.
                    log.warning(
                        "deferred erasure of item %s failed (%s)", entry.item_id, type(err).__name__
                    )
        return erased

    async def _run_deferred(
        self, entry: DeferredErasure, holds: Sequence[Hold], now: datetime
    ) -> int:
        record = await self._catalog.get(entry.item_id)
        if record is None:
            await self._subjects.finish_deferred(entry.request_id, entry.item_id, at=now)
            return 0
        outcome = _guard_held(erasure_outcome(item_facts(record), holds, now), record, holds)
        if outcome.deferred:
            return 0  # another hold still covers it
        destroyed = False
        if outcome.erase:
            try:
                destroyed = await self._destroyer.destroy(
                    record, reason=ERASURE_REASON, actor=DEFERRED_ACTOR, at=now
                )
            except (ItemGuardedError, ItemHeldError):
                return 0  # queued until the request in progress or the new hold is done
        else:
            await self._set_purposes(record, outcome.keep_purposes, reason="erasure", now=now)
        async with self._audit.transaction():
            await self._subjects.finish_deferred(entry.request_id, entry.item_id, at=now)
            await self._audit.append(
                actor=DEFERRED_ACTOR,
                action="erasure.completed",
                at=now,
                item_id=entry.item_id,
                details={
                    "request_id": entry.request_id,
                    "erased": outcome.erase,
                    "reason": outcome.reason,
                },
            )
        return int(destroyed)

    async def open_guard(self, kind: str, records: Sequence[ItemRecord]) -> str | None:
        """Guard the items of a request in progress (an export) until close_guard."""
        return await self._open_guard(kind, records, self._clock())

    async def renew_guard(self, guard_id: str | None) -> None:
        """Keep a long request's guard from expiring."""
        if self._guards is not None and guard_id is not None:
            await self._guards.renew(guard_id, at=self._clock(), ttl_s=GUARD_TTL_S)

    async def close_guard(self, guard_id: str | None) -> None:
        """The request finished: its items resume normal retention."""
        if self._guards is not None and guard_id is not None:
            await self._guards.close(guard_id)

    async def _open_guard(
        self, kind: str, records: Sequence[ItemRecord], now: datetime
    ) -> str | None:
        if self._guards is None:
            return None
        ids = [record.item_id for record in records]
        return await self._guards.open(kind, ids, at=now, ttl_s=GUARD_TTL_S)

    async def items_of(self, subject_id: str) -> list[ItemRecord]:
        """Every stored item where the subject is a party, newest first."""
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

    async def _active_holds(self) -> list[Hold]:
        rows: Sequence[tuple[str, str, dict[str, Any]]] = await self._catalog.active_hold_criteria()
        return [
            Hold(hold_id=hold_id, matter=matter, criteria=HoldCriteria.from_json(criteria))
            for hold_id, matter, criteria in rows
        ]

    async def _reduce_items(
        self,
        subject_id: str,
        keep: Callable[[ItemFacts], tuple[PurposeState, ...]],
        *,
        reason: str,
        now: datetime,
    ) -> tuple[str, ...]:
        """Catalog changes only (they run inside the caller's unit of work): see _sync_objects."""
        changed: list[str] = []
        for record in await self.items_of(subject_id):
            facts = item_facts(record)
            if await self._take_purposes(record, keep(facts), reason=reason, now=now):
                changed.append(record.item_id)
        return tuple(changed)

    async def _set_purposes(
        self, record: ItemRecord, keep: Sequence[PurposeState], *, reason: str, now: datetime
    ) -> list[str]:
        """Give an item exactly the purposes in keep; the names removed (none: unchanged)."""
        removed = await self._take_purposes(record, keep, reason=reason, now=now)
        if removed:
            await self._sync_objects((record.item_id,), now)
        return removed

    async def _take_purposes(
        self, record: ItemRecord, keep: Sequence[PurposeState], *, reason: str, now: datetime
    ) -> list[str]:
        """The catalog side of _set_purposes, in one transaction (or the caller's)."""
        kept = {state.name for state in keep}
        removed = sorted(p.name for p in record.purposes if p.name not in kept)
        if not removed:
            return []
        async with self._audit.transaction():
            await self._catalog.set_purposes(
                record.item_id,
                [PurposeRow(s.name, s.basis.value, s.expires_at, s.worm) for s in keep],
            )
            await self._subjects.record_removed(record.item_id, removed, reason=reason, at=now)
        return removed

    async def _sync_objects(self, item_ids: Sequence[str], now: datetime) -> None:
        """Bring the objects' lock state and tags in line with the committed catalog."""
        for item_id in item_ids:
            fresh = await self._catalog.get(item_id)
            if fresh is not None:
                await self._lock_sync.sync(fresh, now)
                await self._retag(fresh)

    async def _retag(self, record: ItemRecord) -> None:
        stored = record.stored
        if stored is None:
            return
        # The same tags as at ingest: type and purpose names, nothing personal.
        names = "+".join(sorted(p.name for p in record.purposes)) or "none"
        tags = {"kl-type": record.type, "kl-purposes": names}
        await asyncio.to_thread(self._store.set_tags, stored.object_key, stored.version_id, tags)


def _guard_held(
    outcome: ErasureOutcome, record: ItemRecord, holds: Sequence[Hold]
) -> ErasureOutcome:
    """Never erase an item the catalog lists under an active hold, whatever its criteria say."""
    if not outcome.erase or not record.hold_ids:
        return outcome
    by_id = {hold.hold_id: hold for hold in holds}
    listed = sorted(h for h in record.hold_ids if h in by_id)
    if not listed:
        return outcome
    return ErasureOutcome(
        item_id=record.item_id,
        erase=False,
        reason=f"legal_hold:{by_id[listed[0]].matter}",
        keep_purposes=(),
        deferred=True,
    )
