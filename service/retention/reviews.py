"""Disposition reviews: the queue legal reviewers work through, and their decisions.

``destroy`` is recorded and carried out by the next sweep, which still gives way to any
hold that covers the item then. ``extend`` gives the purposes that asked for the review a
new expiry, ``extend_by`` after the decision; the item is then kept as any other until it
expires again (and is reviewed again). Every decision is audited with its justification.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, replace
from datetime import datetime

from policies.review import ReviewDecision, ReviewState, extended_expiry
from service.errors import InvalidRequestError, ItemNotFoundError
from service.facts import purpose_states
from service.retention.locks import ObjectLockSync
from service.retention.models import ReviewDecisionRequest, ReviewQueueRequest
from service.retention.service import purpose_rows
from storage.models import ItemRecord, ReviewRecord
from storage.ports import AuditLog, Catalog, ReviewStore


@dataclass(frozen=True, slots=True)
class QueuedReview:
    """A review of the queue with the item it is about."""

    review: ReviewRecord
    item: ItemRecord


class ReviewService:
    """Lists reviews and records reviewers' decisions."""

    def __init__(
        self,
        *,
        reviews: ReviewStore,
        catalog: Catalog,
        lock_sync: ObjectLockSync,
        audit: AuditLog,
        clock: Callable[[], datetime],
    ) -> None:
        self._reviews = reviews
        self._catalog = catalog
        self._lock_sync = lock_sync
        self._audit = audit
        self._clock = clock

    async def queue(self, request: ReviewQueueRequest) -> list[QueuedReview]:
        """Reviews in the state asked for, oldest first, each with its (stored) item."""
        found = await self._reviews.list(
            state=request.state, after=request.after, limit=request.limit
        )
        queued = []
        for review in found:
            item = await self._catalog.get(review.item_id)
            if item is not None:
                queued.append(QueuedReview(review, item))
        return queued

    async def open_states(self, item_ids: Iterable[str]) -> dict[str, ReviewState]:
        """For each of these items with an open review (pending or destroy), its state."""
        return await self._reviews.open_states(item_ids)

    async def decide(self, request: ReviewDecisionRequest) -> ReviewRecord:
        """Record a decision on the item's pending review; audited.

        The decision, an extension's new expiries and the audit entry commit together, so
        a sweep running meanwhile sees either the open review or its whole outcome.

        Raises:
            ItemNotFoundError: No stored item has this id.
            InvalidRequestError: ``extend`` without a positive ``extend_by``.
            ReviewNotPendingError: The item awaits no review decision.
        """
        extending = request.decision is ReviewDecision.EXTEND
        if extending and (request.extend_by is None or request.extend_by.is_zero):
            raise InvalidRequestError("extend_by", "an extend decision needs a positive duration")
        at = self._clock()
        async with self._audit.transaction():
            record = await self._catalog.get(request.item_id)
            if record is None:
                raise ItemNotFoundError(request.item_id)
            if extending:
                review = await self._extend(record, request, at)
            else:
                review = await self._reviews.decide(
                    request.item_id,
                    state=ReviewState.DESTROY,
                    by=request.by,
                    at=at,
                    justification=request.justification,
                )
            details: dict[str, object] = {
                "role": request.role,
                "review_id": review.review_id,
                "decision": request.decision.value,
                "justification": request.justification,
                "purposes": list(review.purposes),
            }
            if review.expires_at is not None:
                details.update(extend_by=review.extend_by, expires_at=review.expires_at.isoformat())
            await self._audit.append(
                actor=request.by,
                action="review.decided",
                at=at,
                item_id=request.item_id,
                details=details,
            )
        if extending:
            updated = await self._catalog.get(request.item_id)
            if updated is not None:
                # A worm purpose extended locks the object until its new expiry (an object
                # store call, so after the commit; the lock sync retries what fails here).
                await self._lock_sync.sync(updated, at)
        return review

    async def _extend(
        self, record: ItemRecord, request: ReviewDecisionRequest, at: datetime
    ) -> ReviewRecord:
        assert request.extend_by is not None  # checked by decide
        expires_at = extended_expiry(at, request.extend_by)
        # The decision first: if another reviewer decided meanwhile, nothing else changes.
        review = await self._reviews.decide(
            record.item_id,
            state=ReviewState.EXTENDED,
            by=request.by,
            at=at,
            justification=request.justification,
            extend_by=str(request.extend_by),
            expires_at=expires_at,
        )
        asked = set(review.purposes)
        states = tuple(
            replace(state, expires_at=expires_at) if state.name in asked else state
            for state in purpose_states(record)
        )
        await self._catalog.set_purposes(record.item_id, purpose_rows(states))
        return review
