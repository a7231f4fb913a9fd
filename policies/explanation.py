"""Why an item is kept, and until when (SPEC section 5): an explanation built on `decide`.

The explanation promises what the sweeper then does: with the holds and the review state
as they are, `decide` destroys the item at every instant from ``destroy_after`` on and at
no instant before it (a property test checks this). ``destroy_after`` is ``None`` while
something other than the clock must change first: a covering hold must be released, or a
reviewer must decide.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum

from policies.holds import active_holds_covering
from policies.models import Hold, ItemFacts, LawfulBasis, Policy
from policies.outcomes import Decision, SweepAction
from policies.retention import decide
from policies.review import ReviewState, review_purposes

__all__ = [
    "Explanation",
    "PurposeExplanation",
    "PurposeStatus",
    "Removal",
    "ReviewStanding",
    "explain",
]


class PurposeStatus(StrEnum):
    """Where one of an item's purposes stands."""

    ACTIVE = "active"
    EXPIRED = "expired"
    WITHDRAWN = "withdrawn"
    OBJECTED = "objected"
    ERASED = "erased"


#: The reason a subject request recorded for a removed purpose, and the state it shows.
_REMOVED_STATES = {
    "withdrawal": PurposeStatus.WITHDRAWN,
    "objection": PurposeStatus.OBJECTED,
    "erasure": PurposeStatus.ERASED,
}


@dataclass(frozen=True, slots=True, kw_only=True)
class Removal:
    """A purpose a subject's request took off an item.

    Attributes:
        name: The purpose.
        reason: ``withdrawal``, ``objection`` or ``erasure``.
        removed_at: When.
    """

    name: str
    reason: str
    removed_at: datetime


@dataclass(frozen=True, slots=True, kw_only=True)
class PurposeExplanation:
    """One purpose: its basis, expiry and state (and when it was removed, if it was).

    Attributes:
        name: The purpose.
        basis: Its lawful basis (for a removed purpose, the active policy's, if declared).
        expires_at: When it expires (``None`` for a removed purpose).
        state: Active, expired, or removed by withdrawal, objection or erasure.
        removed_at: When a subject's request removed it.
    """

    name: str
    basis: LawfulBasis | None
    expires_at: datetime | None
    state: PurposeStatus
    removed_at: datetime | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class ReviewStanding:
    """An item's disposition review, as far as it bears on the item's fate.

    Attributes:
        purposes: The item's last purposes that ask for a review.
        state: ``required`` (once they expire), or the recorded review's state.
    """

    purposes: tuple[str, ...]
    state: str


@dataclass(frozen=True, slots=True, kw_only=True)
class Explanation:
    """Why an item is kept at ``at``, and the earliest instant it may be destroyed.

    Attributes:
        item_id: The item.
        at: The instant the explanation holds for.
        decision: What the sweeper would do at ``at``.
        purposes: Its purposes (current, then removed ones).
        holds: The active holds covering it.
        erasure_pending: An erasure request waits for its holds to be released.
        review: Its disposition review, if one is or will be needed.
        destroy_after: The earliest instant it may be destroyed; ``None`` while a hold or
            a review keeps it whatever the clock says.
        worm_until: The Object Lock retention date its object carries (or should).
    """

    item_id: str
    at: datetime
    decision: Decision
    purposes: tuple[PurposeExplanation, ...]
    holds: tuple[Hold, ...]
    erasure_pending: bool
    review: ReviewStanding | None
    destroy_after: datetime | None
    worm_until: datetime | None


def explain(
    item: ItemFacts,
    policy: Policy,
    holds: Sequence[Hold],
    now: datetime,
    *,
    removals: Sequence[Removal] = (),
    erasure_pending: bool = False,
    review_state: ReviewState | None = None,
    worm_until: datetime | None = None,
    locked_until: datetime | None = None,
) -> Explanation:
    """Explain an item at ``now``, from the same facts `decide` judges it on.

    Args:
        item: The item's facts.
        policy: The active policy.
        holds: Legal holds to consider; only active ones covering the item count.
        now: The instant (aware).
        removals: Purposes subject requests took off the item.
        erasure_pending: Whether a queued erasure names the item.
        review_state: The item's open disposition review, if one was recorded.
        worm_until: The Object Lock date its object carries, if known.
        locked_until: A retention the store enforces against every identity (COMPLIANCE):
            the item cannot be destroyed before it.

    Returns:
        The explanation.
    """
    approved = review_state is ReviewState.DESTROY
    decision = decide(item, policy, holds, now, disposal_approved=approved)
    covering = active_holds_covering(holds, item)
    asks = review_purposes(item, policy)
    review = None
    if review_state is not None and review_state is not ReviewState.EXTENDED:
        review = ReviewStanding(purposes=asks, state=review_state.value)
    elif asks:
        review = ReviewStanding(purposes=asks, state="required")
    destroy_after = _destroy_after(
        item, decision, covering=covering, asks=asks, approved=approved, now=now
    )
    if destroy_after is not None and locked_until is not None:
        destroy_after = max(destroy_after, locked_until)
    return Explanation(
        item_id=item.item_id,
        at=now,
        decision=decision,
        purposes=_purposes(item, policy, removals, now),
        holds=covering,
        erasure_pending=erasure_pending,
        review=review,
        destroy_after=destroy_after,
        worm_until=worm_until,
    )


def _destroy_after(
    item: ItemFacts,
    decision: Decision,
    *,
    covering: tuple[Hold, ...],
    asks: tuple[str, ...],
    approved: bool,
    now: datetime,
) -> datetime | None:
    if decision.action is SweepAction.DESTROY:
        return max((state.expires_at for state in item.purposes), default=now)
    if covering or (asks and not approved):
        return None
    # Unexpired purposes keep it: it goes once the last of them expires (the sweeper drops
    # the earlier ones on the way, which never changes the last).
    return max(state.expires_at for state in item.purposes)


def _purposes(
    item: ItemFacts, policy: Policy, removals: Sequence[Removal], now: datetime
) -> tuple[PurposeExplanation, ...]:
    current = tuple(
        PurposeExplanation(
            name=state.name,
            basis=state.basis,
            expires_at=state.expires_at,
            state=PurposeStatus.EXPIRED if state.is_expired(now) else PurposeStatus.ACTIVE,
        )
        for state in item.purposes
    )
    listed = {state.name for state in item.purposes}
    removed = tuple(
        PurposeExplanation(
            name=removal.name,
            basis=policy.purposes[removal.name].basis if removal.name in policy.purposes else None,
            expires_at=None,
            state=_REMOVED_STATES.get(removal.reason, PurposeStatus.ERASED),
            removed_at=removal.removed_at,
        )
        for removal in sorted(removals, key=lambda removal: (removal.removed_at, removal.name))
        if removal.name not in listed
    )
    return current + removed
