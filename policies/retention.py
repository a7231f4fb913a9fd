"""Retention decisions: which purposes an item gets, and what the sweeper does with it."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from datetime import datetime

from policies.holds import active_holds_covering
from policies.models import (
    ArtefactType,
    Hold,
    ItemFacts,
    LawfulBasis,
    Policy,
    Purpose,
    PurposeState,
)
from policies.outcomes import Decision, DecisionReason, ExpiryMove, PolicyChange, SweepAction
from policies.review import review_purposes

__all__ = [
    "Consents",
    "Objections",
    "decide",
    "plan_policy_change",
    "purposes_at_ingest",
    "worm_retain_until",
]

Consents = Mapping[str, frozenset[str]]
"""Subject id to the names of the purposes that subject has a standing consent grant for."""

Objections = Mapping[str, frozenset[str] | None]
"""Subject id to the legitimate-interests purposes that subject objects to (None: all)."""

_NO_OBJECTIONS: Objections = {}


def purposes_at_ingest(
    *,
    item_type: ArtefactType,
    attributes: Mapping[str, str],
    occurred_at: datetime,
    subject_ids: frozenset[str],
    policy: Policy,
    consents: Consents,
    objections: Objections = _NO_OBJECTIONS,
) -> tuple[PurposeState, ...]:
    """The purposes a new item gets under a policy.

    The first rule that matches wins; no matching rule means no purposes, and the sweeper
    destroys such an item on its next pass.

    A consent-based purpose attaches only if the item has at least one data-subject party
    and every one of them has a standing grant for it: one party's consent cannot cover
    another party's data, and a recording without an identified subject has nobody whose
    consent could be on file.

    A legitimate-interests purpose does not attach when any subject party has objected to
    it, so a standing objection also holds for items that arrive later.

    Args:
        item_type: The item's artefact type.
        attributes: The item's attributes.
        occurred_at: When the communication happened (aware).
        subject_ids: Data-subject ids of the item's parties.
        policy: The active policy.
        consents: Standing consent grants by subject id.
        objections: Standing objections by subject id; ``None`` as a value objects to every
            legitimate-interests purpose.

    Returns:
        The purposes with their expiry, in the rule's order.

    Raises:
        NaiveDatetimeError: ``occurred_at`` has no timezone.
        DurationOverflowError: An expiry is beyond the last representable date.
    """
    rule = next((rule for rule in policy.rules if rule.matches(item_type, attributes)), None)
    if rule is None:
        return ()
    purposes = (policy.purposes[name] for name in rule.purposes)
    return tuple(
        _state(purpose, occurred_at)
        for purpose in purposes
        if _permitted(purpose, subject_ids, consents, objections)
    )


def decide(
    item: ItemFacts,
    policy: Policy,
    holds: Sequence[Hold],
    now: datetime,
    *,
    disposal_approved: bool = False,
) -> Decision:
    """What the sweeper does with one item at ``now``.

    A purpose has expired when ``expires_at <= now``. With no purpose left and no active
    hold covering it, the item is destroyed: reason ``retention_expired`` if it had purposes
    that ran out, ``no_purpose`` if none were left to expire (none attached, or all removed
    by subject requests). Otherwise expired purposes are dropped, held items included: a
    hold keeps the item, not its purposes, so QA loses access on time while legal still
    sees the held item.

    Disposition review (SPEC section 5): when the item would be destroyed and one of its
    last purposes is marked ``review: true`` in the policy, the action is ``review``
    instead, until a reviewer approves the disposal (``disposal_approved``); then it is
    destroyed with reason ``review_destroy``. A covering hold wins over both, and keeps
    the expired purposes that ask for the review, so it still comes once the hold goes.

    Args:
        item: The item's facts, with its current purposes.
        policy: The active policy: which purposes ask for a disposition review. Purposes
            are not derived from it again: the item's stored purposes are authoritative.
        holds: Legal holds to consider; only active ones covering the item count.
        now: The sweep instant (aware).
        disposal_approved: A reviewer decided ``destroy`` for this item.

    Returns:
        The decision.
    """
    covering = tuple(hold.hold_id for hold in active_holds_covering(holds, item))
    expired = tuple(state.name for state in item.purposes if state.is_expired(now))
    remaining = item.unexpired_purposes(now)
    if not remaining and not covering:
        if disposal_approved:
            reason = DecisionReason.REVIEW_DESTROY
        elif review_purposes(item, policy):
            return Decision(
                action=SweepAction.REVIEW,
                expired_purposes=(),
                remaining=(),
                holds=(),
                reason=DecisionReason.AWAITING_REVIEW,
            )
        else:
            reason = DecisionReason.RETENTION_EXPIRED if expired else DecisionReason.NO_PURPOSE
        return Decision(
            action=SweepAction.DESTROY,
            expired_purposes=expired,
            remaining=(),
            holds=(),
            reason=reason,
        )
    reason = DecisionReason.PURPOSES_REMAIN if remaining else DecisionReason.LEGAL_HOLD
    # A held item keeps the expired purposes that ask for a review, so the review still
    # comes when the hold is released (dropping them would make it a no-purpose item).
    keeps_review = not remaining and not disposal_approved and review_purposes(item, policy)
    if expired and not keeps_review:
        return Decision(
            action=SweepAction.DROP_PURPOSES,
            expired_purposes=expired,
            remaining=remaining,
            holds=covering,
            reason=DecisionReason.RETENTION_EXPIRED,
        )
    return Decision(
        action=SweepAction.KEEP,
        expired_purposes=(),
        remaining=remaining,
        holds=covering,
        reason=reason,
    )


def worm_retain_until(item: ItemFacts, now: datetime) -> datetime | None:
    """The Object Lock retention date the stored object should carry.

    Args:
        item: The item.
        now: The current instant (aware).

    Returns:
        The latest expiry among the item's unexpired worm purposes, or ``None`` when no
        worm purpose is in force.
    """
    dates = [state.expires_at for state in item.unexpired_purposes(now) if state.worm]
    return max(dates, default=None)


def plan_policy_change(
    items: Iterable[ItemFacts],
    old: Policy,
    new: Policy,
    consents_for: Callable[[ItemFacts], Consents] | Consents,
    now: datetime,
    *,
    objections_for: Callable[[ItemFacts], Objections] | Objections = _NO_OBJECTIONS,
) -> Iterator[PolicyChange]:
    """How activating a new policy changes each stored item's purposes.

    Purposes are computed again under the new policy, as at ingest, from the item's
    ``occurred_at``. Purposes already expired at ``now`` are left to the sweeper and never
    brought back, and nothing expired at ``now`` is added: lengthening a retention period
    does not revive data that was due to go. Purposes a subject had removed (withdrawal,
    objection, erasure) are never attached again. Legal holds are not considered here: the
    sweeper checks them at destruction time.

    Args:
        items: The stored items.
        old: The policy being replaced (for symmetry and future rules; the items' stored
            purposes are authoritative).
        new: The policy being activated.
        consents_for: Standing consent grants: a mapping by subject id, or a function of
            the item returning one.
        now: The activation instant (aware).
        objections_for: Standing objections, in the same two forms.

    Yields:
        One change per item whose purposes change; unchanged items yield nothing.
    """
    del old  # Part of the signature; see Args.
    for item in items:
        consents = consents_for(item) if callable(consents_for) else consents_for
        objections = objections_for(item) if callable(objections_for) else objections_for
        change = _change_for(item, new, consents, objections, now)
        if change is not None:
            yield change


def _change_for(
    item: ItemFacts, new: Policy, consents: Consents, objections: Objections, now: datetime
) -> PolicyChange | None:
    current = {state.name: state for state in item.unexpired_purposes(now)}
    held_before = {state.name for state in item.purposes}
    computed = {
        state.name: state
        for state in purposes_at_ingest(
            item_type=item.type,
            attributes=item.attributes,
            occurred_at=item.occurred_at,
            subject_ids=item.subject_ids,
            policy=new,
            consents=consents,
            objections=objections,
        )
        if state.name in current or state.name not in item.removed_purposes
    }
    # A purpose the item still lists as expired is on its way out: never revive it.
    added = tuple(
        state
        for name, state in computed.items()
        if name not in held_before and not state.is_expired(now)
    )
    removed = tuple(state for name, state in current.items() if name not in computed)
    moved = tuple(
        ExpiryMove(name, state.expires_at, computed[name].expires_at)
        for name, state in current.items()
        if name in computed and computed[name].expires_at != state.expires_at
    )
    restated = tuple(
        name
        for name, state in current.items()
        if name in computed
        and (computed[name].basis, computed[name].worm) != (state.basis, state.worm)
    )
    if not (added or removed or moved or restated):
        return None
    # Expired purposes stay as they are until the sweeper drops them.
    kept_expired = tuple(state for state in item.purposes if state.is_expired(now))
    carried = tuple(computed[name] for name in current if name in computed)
    return PolicyChange(
        item_id=item.item_id,
        added=added,
        removed=removed,
        moved=moved,
        restated=restated,
        purposes=kept_expired + carried + added,
    )


def _state(purpose: Purpose, occurred_at: datetime) -> PurposeState:
    return PurposeState(
        name=purpose.name,
        basis=purpose.basis,
        expires_at=purpose.retention.after(occurred_at),
        worm=purpose.worm,
    )


def _permitted(
    purpose: Purpose, subject_ids: frozenset[str], consents: Consents, objections: Objections
) -> bool:
    if purpose.basis == LawfulBasis.CONSENT:
        return bool(subject_ids) and all(
            purpose.name in consents.get(subject, frozenset()) for subject in subject_ids
        )
    if purpose.basis == LawfulBasis.LEGITIMATE_INTERESTS:
        for subject in subject_ids:
            if subject in objections:
                objected = objections[subject]
                if objected is None or purpose.name in objected:
                    return False
    return True
