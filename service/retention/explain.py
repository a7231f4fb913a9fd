"""Why an item is kept, and until when: `policies.explain` over the catalog's facts.

The explanation is taken from the same facts the sweeper judges (the item's stored
purposes, the active holds, the active policy, the item's open review), so what it promises
is what the sweeper does; removals and queued erasures are what subject requests left.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import datetime

from policies.explanation import Explanation, explain
from policies.models import Hold, Policy
from policies.retention import worm_retain_until
from service.facts import item_facts
from service.retention.models import ExplainRequest
from storage.models import ItemRecord
from storage.ports import Catalog, HoldStore, PolicyStore, RetentionRecords, ReviewStore


class RetentionExplainer:
    """Explains one item at the clock's instant (or at the instant a sweep judges it)."""

    def __init__(
        self,
        *,
        catalog: Catalog,
        holds: HoldStore,
        policies: PolicyStore,
        records: RetentionRecords,
        reviews: ReviewStore,
        clock: Callable[[], datetime],
        compliance_lock: bool = False,
    ) -> None:
        self._catalog = catalog
        self._holds = holds
        self._policies = policies
        self._records = records
        self._reviews = reviews
        self._clock = clock
        self._compliance = compliance_lock

    async def explain(self, request: ExplainRequest) -> Explanation | None:
        """The explanation of a stored item now; None if there is no such stored item."""
        record = await self._catalog.get(request.item_id)
        if record is None:
            return None
        policy = await self._policies.active()
        return await self.explain_record(record, policy, await self._holds.active(), self._clock())

    async def explain_record(
        self, record: ItemRecord, policy: Policy, holds: Sequence[Hold], now: datetime
    ) -> Explanation:
        """The explanation of a catalogued item at ``now``, with these holds and policy."""
        facts = item_facts(record)
        review = await self._reviews.current(record.item_id)
        wanted = worm_retain_until(facts, now)
        applied = record.s3_retain_until
        # The later of what the purposes want and what the object carries, while in force.
        worm_until = max((d for d in (wanted, applied) if d is not None and d > now), default=None)
        locked = applied if self._compliance and applied is not None and applied > now else None
        return explain(
            facts,
            policy,
            holds,
            now,
            removals=await self._records.removals(record.item_id),
            erasure_pending=await self._records.erasure_pending(record.item_id),
            review_state=None if review is None else review.state,
            worm_until=worm_until,
            locked_until=locked,
        )
